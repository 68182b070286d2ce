package batchhttp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/batchcodec/batch"
)

// Errors of the client's reading side, wrapped in a [*ResponseError].
var (
	// ErrNotBatch: the outer response is not a batch: a status other
	// than 2xx, such as 429 Too Many Requests (nothing in the batch ran),
	// 401, 503 or 400 for a malformed batch, whatever its body; or a 2xx
	// answer that is neither multipart nor JSON (application/json or a
	// +json type), such as an HTML page from a proxy.
	ErrNotBatch = errors.New("batch: response is not a batch")
	// ErrBatchFailed: the batch failed as a whole, answered by a single
	// part without Content-ID (Azure Blob beyond 256 sub-requests).
	ErrBatchFailed = errors.New("batch: the batch failed as a whole")
	// ErrMismatch: the answers cannot be paired with the requests without
	// guessing: an unknown or repeated Content-ID, a Content-ID on an
	// answer that order gives to another request, more answers than
	// requests, a request without an answer although nothing failed
	// before it, an answer where a changeset holds a different number, or
	// answers that fit more than one pairing. No pairing is returned.
	ErrMismatch = errors.New("batch: responses do not match requests")
	// ErrStopped: the server stopped after a failed operation, as OData
	// servers do without continue-on-error ([ContinueOnError]): the
	// requests after it have no answer and did not run.
	ErrStopped = errors.New("batch: the server stopped after a failed operation")
	// ErrBufferLimit: the client would have to hold more answer bytes in
	// memory than [MaxBufferBytes] allows.
	ErrBufferLimit = errors.New("batch: answers exceed the client's buffer limit")
)

// ResponseError is the error of [RequestBatch.ReadResponse] and of a
// [ResponseReader] for an outer response that does not answer each request
// with one answer: what happened (Err), where, and the response that says
// why.
type ResponseError struct {
	// Err is one of [ErrNotBatch], [ErrBatchFailed], [ErrMismatch],
	// [ErrStopped] and [ErrBufferLimit].
	Err error
	// Requests is the number of requests in the batch; Responses the
	// number of answers read when the error was found.
	Requests  int
	Responses int
	// Answer and Request are the 0-based indices of the answer (in the
	// order the server sent them) and of the request (in the order of
	// [RequestBatch.Requests]) the error is about, -1 when it is about
	// none.
	Answer, Request int
	// Response is the outer response for ErrNotBatch, its body replaced by
	// the excerpt in Body; the one answering part for ErrBatchFailed.
	Response *http.Response
	// Body holds, for ErrNotBatch, the first bytes of the outer body, at
	// most 8 KiB.
	Body []byte
	// Detail says what was found, for people; it is not meant to be parsed.
	Detail string
}

// Error returns the sentinel's message, the status and Retry-After of the
// outer response or the counts, and the detail.
func (e *ResponseError) Error() string {
	msg := e.Err.Error()
	switch {
	case errors.Is(e.Err, ErrNotBatch) && e.Response != nil:
		msg += ": " + e.Response.Status
		if ra := e.Response.Header.Get("Retry-After"); ra != "" {
			msg += ", Retry-After " + ra
		}
	case errors.Is(e.Err, ErrBatchFailed) && e.Response != nil:
		msg += ": " + e.Response.Status + " for " + strconv.Itoa(e.Requests) + " requests"
	default:
		msg += fmt.Sprintf(": %d requests, %d responses", e.Requests, e.Responses)
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if len(e.Body) > 0 {
		msg += ": body " + quote(string(e.Body))
	}
	return msg
}

// Unwrap returns Err.
func (e *ResponseError) Unwrap() error { return e.Err }

var responsePrefix = []byte("response-")

// maxErrorBody bounds what the client keeps of a body that is not a batch.
const maxErrorBody = 8 << 10

// checkOuter looks at the outer response before any answer: a non-2xx
// status or a media type other than multipart or JSON is an ErrNotBatch error,
// with an excerpt of the body; it closes the body then.
func checkOuter(resp *http.Response, requests int) error {
	ct := resp.Header.Get("Content-Type")
	mt, _, perr := batch.ParseContentType(ct)
	detail := ""
	switch {
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		detail = "the batch request failed as a whole, nothing in it is answered"
	case isJSONType(ct):
		return nil // a JSON batch (client_json_response.go)
	case perr != nil || !strings.HasPrefix(mt, "multipart/"):
		detail = "Content-Type " + quote(ct) + ", neither multipart nor a JSON batch"
	default:
		return nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
	r := *resp
	r.Body = io.NopCloser(bytes.NewReader(body))
	return &ResponseError{Err: ErrNotBatch, Requests: requests, Answer: -1, Request: -1, Response: &r, Body: body, Detail: detail}
}
