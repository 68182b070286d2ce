package batchhttp

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"

	"github.com/batchcodec/batch"
	"github.com/batchcodec/batch/jsonbatch"
)

// This file reads an answer that is a JSON batch, whatever format the
// request had. Its answers may come in any order (Graph: "responses might
// not be in the same order"), and each names the request it answers by
// "id", so pairing needs no solver: an answer is paired the moment it is
// decoded. An id no request has, or one already answered, is ErrMismatch at
// once; requests left without an answer at the end are ErrMismatch too,
// unless the server stopped after a failure.
//
// Two exceptions. The answers to a multipart request given in JSON come in
// the request's order, and their ids may be the server's own (SAP CAP
// numbers them "r1", "r2", …), so they are paired by order, an id that
// names another request being ErrMismatch. And the members of an atomicity
// group succeed or fail together, while a server answers each (CAP answers
// 201 for a create it rolled back because a later member failed): a
// member's answer is held until every member has answered, and if one
// failed, one failure answers the whole group, as a failed changeset's one
// answer does in multipart.

// jsonAnswers is a ResponseReader's state for a JSON answer.
type jsonAnswers struct {
	dec      *jsonbatch.Decoder
	groupIDs map[string]int // atomicity group id → group index
	seen     []bool         // per request: its own answer (or its group's) was read
	answered []bool         // per request: answered, by its own answer or its group's failure
	failed   []bool         // per request: answered with a status of 400 or more
	held     map[int][]*Answer
	body     jsonBody
	closed   bool
	byOrder  bool // the request was multipart: answers come in its order
	next     int  // byOrder: the request the next answer is for
}

// newJSONReader returns the reader of a JSON answer.
func (b *RequestBatch) newJSONReader(resp *http.Response, o *clientConfig) *ResponseReader {
	plan := b.matchPlan()
	js := &jsonAnswers{
		dec:      jsonbatch.NewDecoder(resp.Body),
		seen:     make([]bool, plan.n()),
		answered: make([]bool, plan.n()),
		failed:   make([]bool, plan.n()),
	}
	if req := resp.Request; req != nil {
		mt, _, _ := batch.ParseContentType(req.Header.Get("Content-Type"))
		js.byOrder = strings.HasPrefix(mt, "multipart/")
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

// nextJSON returns the next answer of a JSON batch, paired by its id (or
// by order, see above).
func (rr *ResponseReader) nextJSON() (*Answer, error) {
	js, plan := rr.js, rr.plan
	for {
		if len(rr.queue) > 0 {
			a := rr.queue[0]
			rr.queue = rr.queue[1:]
			if !rr.keep {
				rr.held -= int64(len(a.mem)) // the caller's now, until the next call
			}
			return a, nil
		}
		it, err := js.dec.Next()
		if err == io.EOF {
			if rr.releaseHeld() {
				continue // a group the server stopped in: what it answered
			}
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
		first, count, err := rr.pairJSON(n, string(it.ID()))
		if err != nil {
			return nil, err
		}
		for i := first; i < first+count; i++ {
			if js.seen[i] {
				return nil, rr.mismatch(n, i, fmt.Sprintf("answer %d repeats id %s: request %d is answered already", n, quote(string(it.ID())), i))
			}
			js.seen[i] = true
		}
		status := it.Status()
		if g := plan.groupOf[first]; count == 1 && plan.groups[g].changeset && plan.groups[g].k > 1 {
			// A member of an atomicity group: decided with the group.
			if err := rr.holdMember(g, it, first); err != nil {
				return nil, err
			}
			continue
		}
		for i := first; i < first+count; i++ {
			js.answered[i], js.failed[i] = true, status >= 400
		}
		rr.ans = Answer{Response: js.response(it, plan.reqs[first]), Index: first, Count: count}
		return &rr.ans, nil
	}
}

// pairJSON returns the requests that answer n, with the given id, answers:
// the request (or the atomicity group) with that id or, byOrder, the next
// request in order.
func (rr *ResponseReader) pairJSON(n int, id string) (first, count int, err error) {
	js, plan := rr.js, rr.plan
	i, isRequest := plan.idIndex[id]
	if js.byOrder {
		for js.next < plan.n() && js.seen[js.next] {
			js.next++
		}
		switch {
		case js.next == plan.n():
			return 0, 0, rr.mismatch(n, -1, fmt.Sprintf("answer %d is one more than the %d requests", n, plan.n()))
		case isRequest && i != js.next:
			return 0, 0, rr.mismatch(n, i, fmt.Sprintf("answer %d has id %s, request %d's, but the answers to a multipart batch come in its order: request %d is next",
				n, quote(id), i, js.next))
		}
		return js.next, 1, nil
	}
	if isRequest {
		return i, 1, nil
	}
	if g, ok := js.groupIDs[id]; ok {
		// Not the specification's way (each request of a failed group is
		// answered, the others MAY be 424), but the changeset's: one
		// answer for the whole group.
		return plan.groups[g].first, plan.groups[g].k, nil
	}
	return 0, 0, rr.mismatch(n, -1, fmt.Sprintf("answer %d has id %s, which no request has", n, quote(id)))
}

// holdMember keeps the answer it, to request i of group g, until every
// member of g has answered; then it queues the group's answers (see
// queueHeld). Held bodies count against MaxBufferBytes.
func (rr *ResponseReader) holdMember(g int, it *jsonbatch.Item, i int) error {
	js, plan := rr.js, rr.plan
	rr.build().detach()
	body, err := rr.buffer(bytes.NewReader(it.Body()))
	if err != nil {
		return err
	}
	resp := js.response(it, plan.reqs[i])
	resp.Body = rr.build().newBody(body)
	if js.held == nil {
		js.held = make(map[int][]*Answer)
	}
	js.held[g] = append(js.held[g], &Answer{Response: resp, Index: i, Count: 1, mem: body})
	if len(js.held[g]) == plan.groups[g].k {
		rr.queueHeld(g)
	}
	return nil
}

// queueHeld queues the held answers of group g: each in request order
// when all succeeded; else one failure for the whole group, as a failed
// changeset is answered in multipart, the first in request order that is
// not a 424 (which says only that another failed), else the first.
func (rr *ResponseReader) queueHeld(g int) {
	js, pg := rr.js, rr.plan.groups[g]
	held := js.held[g]
	delete(js.held, g)
	slices.SortFunc(held, func(a, b *Answer) int { return a.Index - b.Index })
	var fail *Answer
	for _, a := range held {
		if s := a.Response.StatusCode; s >= 400 && (fail == nil || fail.Response.StatusCode == http.StatusFailedDependency && s != http.StatusFailedDependency) {
			fail = a
		}
	}
	if fail == nil {
		for _, a := range held {
			js.answered[a.Index] = true
		}
		rr.queue = append(rr.queue, held...)
		return
	}
	for i := pg.first; i < pg.first+pg.k; i++ {
		js.answered[i], js.failed[i] = true, true
	}
	for _, a := range held {
		if a != fail {
			rr.held -= int64(len(a.mem)) // dropped: the failure stands for it
		}
	}
	fail.Index, fail.Count = pg.first, pg.k
	fail.Response.Request = rr.plan.reqs[pg.first]
	rr.queue = append(rr.queue, fail)
}

// releaseHeld queues what is held of groups the answers ended in, and
// reports whether there was any: a server that stops in a group (it
// should not: a group succeeds or fails whole) is taken at its word.
func (rr *ResponseReader) releaseHeld() bool {
	if len(rr.js.held) == 0 {
		return false
	}
	for _, g := range slices.Sorted(maps.Keys(rr.js.held)) {
		rr.queueHeld(g)
	}
	return true
}

// endJSON checks, at the end of the answers, that every request has one.
// Requests left unanswered must be the last ones, after a failure: the
// server stopped there (ErrStopped), which OData allows with
// "continue-on-error=false" and does after a multipart request. The
// failure need not be the last answered: requests that ran beside it (a
// server runs independent requests concurrently) complete after it. Any
// other gap is ErrMismatch.
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
	case !slices.Contains(js.failed[:stop], true):
		return rr.mismatch(-1, stop, fmt.Sprintf("request %d%s has no answer, and no answer before it failed", stop, plan.idNote(stop)))
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
