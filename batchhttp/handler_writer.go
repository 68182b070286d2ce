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

// commitAt is how much of a top-level answer's body is held before its
// header block is written: net/http holds a few KiB the same way, which
// lets it add Content-Length and sniff Content-Type for small answers.
const commitAt = 4 << 10

// errAnswerTooLarge is what an operation inside a changeset gets from Write
// once the changeset holds MaxBatchBytes of answers.
var errAnswerTooLarge = errors.New("batch: the changeset's answers exceed the bytes the handler holds (MaxBatchBytes)")

// answerWriter is the http.ResponseWriter that next sees for one operation.
// A top-level answer streams (stream): its part header is written to the
// encoder once the operation returns, flushes, or has written commitAt
// bytes, and the rest of its body goes straight to the encoder. An answer
// inside a changeset is held in memory, up to limit bytes, until the
// changeset commits.
type answerWriter struct {
	r         *batchRun
	header    http.Header
	status    int // 0 until WriteHeader or the first Write
	head      bool
	contentID string
	buf       bytes.Buffer

	stream    bool
	committed bool      // the part header has been written
	body      io.Writer // the part's body writer, once committed
	err       error     // sticky: the encoder or the client failed

	limit    int64 // held answers: bytes allowed
	tooLarge bool
	panicked bool
	discard  bool // the answer was replaced while its operation ran
}

var (
	_ http.ResponseWriter = (*answerWriter)(nil)
	_ http.Flusher        = (*answerWriter)(nil)
)

func newAnswerWriter(r *batchRun, contentID string, stream bool, limit int64) *answerWriter {
	return &answerWriter{r: r, header: make(http.Header), contentID: contentID, stream: stream, limit: limit}
}

// Header returns the answer's header map. Changes after the answer's header
// block has been written (see Handler) have no effect.
func (aw *answerWriter) Header() http.Header { return aw.header }

// WriteHeader sets the answer's status. Informational codes other than 101
// are ignored, as they cannot be sent inside a batch; an invalid code panics
// as net/http's does (the panic becomes a 500 answer).
func (aw *answerWriter) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if aw.status != 0 || (code < 200 && code != http.StatusSwitchingProtocols) {
		return
	}
	aw.status = code
}

func (aw *answerWriter) bodyAllowed() bool {
	s := aw.status
	return s >= 200 && s != http.StatusNoContent && s != http.StatusNotModified
}

// Write writes to the answer's body, with an implicit WriteHeader(200).
func (aw *answerWriter) Write(p []byte) (int, error) {
	if aw.status == 0 {
		aw.WriteHeader(http.StatusOK)
	}
	if !aw.bodyAllowed() {
		return 0, http.ErrBodyNotAllowed
	}
	if aw.head || aw.discard {
		return len(p), nil
	}
	if aw.err != nil {
		return 0, aw.err
	}
	if aw.committed {
		n, err := aw.body.Write(p)
		if err != nil {
			aw.err = err
		}
		return n, err
	}
	if aw.stream {
		if aw.buf.Len()+len(p) > commitAt {
			aw.commit(false)
			if aw.err != nil {
				return 0, aw.err
			}
			return aw.Write(p)
		}
	} else if int64(aw.buf.Len()+len(p)) > aw.limit {
		aw.tooLarge = true
		return 0, errAnswerTooLarge
	}
	return aw.buf.Write(p)
}

// Flush writes what the answer holds so far and flushes the batch response,
// for a top-level operation; inside a changeset it does nothing, as the
// answer waits for the changeset to commit.
func (aw *answerWriter) Flush() {
	if !aw.stream || aw.err != nil {
		return
	}
	if aw.status == 0 {
		aw.WriteHeader(http.StatusOK)
	}
	aw.commit(false)
	aw.r.flush()
}

// finalStatus is the answer's status once its operation has returned.
func (aw *answerWriter) finalStatus() int {
	if aw.status == 0 {
		return http.StatusOK
	}
	return aw.status
}

// replace makes the answer a handler-made failure with an OData JSON error
// body. Only for answers whose header block is not written yet.
func (aw *answerWriter) replace(status int, msg string) {
	body := errorBody(status, msg)
	aw.header = http.Header{
		"Content-Type":   {"application/json; charset=utf-8"},
		"Content-Length": {strconv.Itoa(len(body))},
	}
	aw.status = status
	aw.buf.Reset()
	aw.buf.Write(body)
	aw.tooLarge = false
}

// commit writes the answer's part header and what it holds of the body.
// final says the operation has returned, so the held body is all of it.
func (aw *answerWriter) commit(final bool) {
	if aw.committed || aw.err != nil {
		return
	}
	if aw.status == 0 {
		aw.status = http.StatusOK
	}
	op := aw.operation(final)
	if verr := op.Validate(); verr != nil {
		aw.replace(http.StatusInternalServerError, "batch: the operation's answer cannot be written: "+verr.Error())
		aw.discard = !final
		op = aw.operation(true)
	}
	aw.committed = true
	w, err := aw.r.enc.CreateOperation(&op)
	if err != nil {
		aw.err = err
		return
	}
	aw.body = w
	if aw.buf.Len() > 0 {
		if _, err := w.Write(aw.buf.Bytes()); err != nil {
			aw.err = err
		}
	}
	aw.buf = bytes.Buffer{}
}

// operation builds the answer's embedded response: its status, the
// Content-ID, and the headers sorted, without trailers. Like net/http, it
// sniffs a missing Content-Type from the held body and, when final, sets
// Content-Length to the held body's length.
func (aw *answerWriter) operation(final bool) batch.Operation {
	h := aw.header
	if _, ok := h["Content-Type"]; !ok && aw.bodyAllowed() && aw.buf.Len() > 0 && h.Get("Content-Encoding") == "" {
		h.Set("Content-Type", http.DetectContentType(aw.buf.Bytes()))
	}
	if final && aw.bodyAllowed() && !aw.head && h.Get("Content-Length") == "" && h.Get("Transfer-Encoding") == "" {
		h.Set("Content-Length", strconv.Itoa(aw.buf.Len()))
	}
	if !aw.bodyAllowed() {
		h.Del("Content-Length")
	}
	var clean http.Header
	for k := range h {
		if k == "Trailer" || strings.HasPrefix(k, http.TrailerPrefix) {
			if clean == nil {
				clean = h.Clone()
			}
			delete(clean, k)
		}
	}
	if clean == nil {
		clean = h
	}
	return batch.Operation{
		Message:    batch.Response,
		StatusCode: aw.status,
		ContentID:  aw.contentID,
		Header:     sortedFields(clean, nil),
	}
}
