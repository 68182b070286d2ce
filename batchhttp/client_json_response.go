package batchhttp

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"strconv"

	"github.com/batchcodec/batch"
	"github.com/batchcodec/batch/jsonbatch"
)

// This file reads an answer that is a JSON batch, whatever format the
// request had. Its answers may come in any order (Graph: "responses might
// not be in the same order"), and each names the request it answers by
// "id", so pairing needs no solver: an answer is paired, and returned with
// its body, the moment it is decoded. An id no request has, or one already
// answered, is ErrMismatch at once; requests left without an answer at the
// end are ErrMismatch too, unless the server stopped after a failure.

// jsonAnswers is a ResponseReader's state for a JSON answer.
type jsonAnswers struct {
	dec      *jsonbatch.Decoder
	groupIDs map[string]int // atomicity group id → group index
	answered []bool         // per request
	failed   []bool         // per request: answered with a status of 400 or more
	body     jsonBody
	closed   bool
}

// newJSONReader returns the reader of a JSON answer.
func (b *RequestBatch) newJSONReader(resp *http.Response, o *clientConfig) *ResponseReader {
	plan := b.matchPlan()
	js := &jsonAnswers{
		dec:      jsonbatch.NewDecoder(resp.Body),
		answered: make([]bool, plan.n()),
		failed:   make([]bool, plan.n()),
	}
	js.body.js = js
	for gi, id := range jsonGroupIDs(plan) {
		if id != "" {
			if js.groupIDs == nil {
				js.groupIDs = make(map[string]int)
			}
			js.groupIDs[id] = gi
		}
	}
	return &ResponseReader{plan: plan, resp: resp, js: js, pooled: new(pooledReader), max: o.maxBuffer, frame: -1}
}

// nextJSON returns the next answer of a JSON batch, paired by its id.
func (rr *ResponseReader) nextJSON() (*Answer, error) {
	js, plan := rr.js, rr.plan
	it, err := js.dec.Next()
	if err == io.EOF {
		return nil, rr.endJSON()
	}
	if err != nil {
		return nil, err
	}
	n := rr.read
	rr.read++
	if it.Message() != batch.Response {
		return nil, rr.mismatch(n, -1, "the JSON batch holds requests, not responses")
	}
	id := it.ID()
	first, count := -1, 1
	if i, ok := plan.idIndex[string(id)]; ok {
		first = i
	} else if g, ok := js.groupIDs[string(id)]; ok {
		// Not the specification's way (each request of a failed group is
		// answered, the others MAY be 424), but the changeset's: one
		// answer for the whole group.
		first, count = plan.groups[g].first, plan.groups[g].k
	}
	if first < 0 {
		return nil, rr.mismatch(n, -1, fmt.Sprintf("answer %d has id %s, which no request has", n, quote(string(id))))
	}
	for i := first; i < first+count; i++ {
		if js.answered[i] {
			return nil, rr.mismatch(n, i, fmt.Sprintf("answer %d repeats id %s: request %d is answered already", n, quote(string(id)), i))
		}
	}
	status := it.Status()
	for i := first; i < first+count; i++ {
		js.answered[i], js.failed[i] = true, status >= 400
	}
	rr.ans = Answer{Response: js.response(it, plan.reqs[first]), Index: first, Count: count}
	return &rr.ans, nil
}

// endJSON checks, at the end of the answers, that every request has one.
// Requests left unanswered must be the last ones, after a failure: the
// server stopped there (ErrStopped), which OData allows with
// "continue-on-error=false" and does after a multipart request. Any other
// gap is ErrMismatch.
func (rr *ResponseReader) endJSON() error {
	js, plan := rr.js, rr.plan
	stop := plan.n()
	for stop > 0 && !js.answered[stop-1] {
		stop--
	}
	for i := range stop {
		if !js.answered[i] {
			return rr.mismatch(-1, i, fmt.Sprintf("request %d%s has no answer, and requests after it do", i, plan.idNote(i)))
		}
	}
	switch {
	case stop == plan.n():
		return io.EOF
	case stop == 0 || !js.failed[stop-1]:
		return rr.mismatch(-1, stop, fmt.Sprintf("request %d%s has no answer, and the answer before it did not fail", stop, plan.idNote(stop)))
	}
	return &ResponseError{Err: ErrStopped, Requests: plan.n(), Responses: rr.read, Answer: -1, Request: stop,
		Detail: fmt.Sprintf("requests %d to %d did not run", stop, plan.n()-1)}
}

// response converts a JSON answer for req. Its header names are
// canonicalised; a JSON body without a Content-Type gets
// "application/json", which OData JSON Format 4.01 §19 says it is. The
// body is the decoded body (JSON text as written, text, or the bytes),
// valid until the next call to Next.
func (js *jsonAnswers) response(it *jsonbatch.Item, req *http.Request) *http.Response {
	ih := it.Header()
	h := make(http.Header, len(ih))
	for _, f := range ih {
		k := textproto.CanonicalMIMEHeaderKey(string(f.Name))
		h[k] = append(h[k], string(f.Value))
	}
	if it.BodyKind() == jsonbatch.JSONBody && len(h["Content-Type"]) == 0 {
		h.Set("Content-Type", "application/json")
	}
	body := it.Body()
	js.body.r.Reset(body)
	code := it.Status()
	status := strconv.Itoa(code)
	if text := http.StatusText(code); text != "" {
		status += " " + text
	}
	return &http.Response{
		Status:     status,
		StatusCode: code,
		Proto:      "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        h,
		Body:          &js.body,
		ContentLength: int64(len(body)),
		Request:       req,
	}
}

// jsonBody is the body of a JSON answer: the decoder's current item,
// until the reader is closed.
type jsonBody struct {
	r  bytes.Reader
	js *jsonAnswers
}

func (b *jsonBody) Read(p []byte) (int, error) {
	if b.js.closed {
		return 0, errReaderClosed
	}
	return b.r.Read(p)
}

// Close does nothing: the next call to Next moves on.
func (*jsonBody) Close() error { return nil }
