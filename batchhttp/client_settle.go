package batchhttp

import (
	"fmt"
	"io"
	"net/http"

	"github.com/batchcodec/batch"
)

// This file is the reader's side of pairing: what it does with an answer
// order does not settle at once. It buffers the answer and reads one more
// (peek), or all the rest (settle), and hands them to the solver in
// client_match.go.

// peekedAnswer is an answer read to settle the one before it, to be paired
// on the next call to Next; its body is still unread.
type peekedAnswer struct {
	m    answerMeta
	resp *http.Response
}

// operation pairs an answer just read: at once when order settles it, by
// reading one answer more when that settles a failure at the start of a
// changeset, else by reading and pairing the rest (settle). It returns nil,
// nil when settle has queued what to return.
func (rr *ResponseReader) operation(m answerMeta, resp *http.Response) (*Answer, error) {
	if i, ok := rr.st.fast(rr.plan, m); ok {
		resp.Request = rr.plan.reqs[i]
		rr.ans = Answer{Response: resp, Index: i, Count: 1}
		return &rr.ans, nil
	}
	held, err := rr.hold(m, resp)
	if err != nil {
		return nil, err
	}
	if rr.st.ambiguous(rr.plan, m) && (m.hasID || m.frame >= 0) {
		return rr.peek(held)
	}
	return nil, rr.settle(held)
}

// peek settles a failure at the start of a changeset (held: the whole
// changeset's answer, or its first request's?) by the event that follows
// it: the end of its frame, or an answer whose Content-ID says which. When
// that does not settle it, the rest is read and paired by settle.
func (rr *ResponseReader) peek(held *Answer) (*Answer, error) {
	st, plan := &rr.st, rr.plan
	grp := plan.groups[st.g]
	m := held.meta
	p, err := rr.dec.Next()
	switch {
	case err == io.EOF:
		return nil, rr.settle(held)
	case err != nil:
		return nil, err
	case p.Kind() == batch.KindChangesetStart:
		rr.frame = rr.frames
		rr.frames++
		return nil, rr.settle(held)
	case p.Kind() == batch.KindChangesetEnd:
		rr.frame = -1
		if m.frame >= 0 && plan.inGroup(m, st.g) {
			// A frame that holds one failure: the changeset failed.
			st.acceptWhole(plan, m)
			return rr.settled(held, grp.first, grp.k), nil
		}
		return nil, rr.settle(held)
	}
	m2, resp2, err := rr.answer(p)
	if err != nil {
		return nil, err
	}
	next := -1 // the first request after the changeset
	if st.g+1 < len(plan.groups) {
		next = plan.groups[st.g+1].first
	}
	one := (!m.hasID || m.id == plan.ids[grp.first]) && m2.frame == m.frame &&
		(m.frame >= 0 || m2.hasID && m2.id == plan.ids[grp.first+1])
	whole := m.frame < 0 && plan.inGroup(m, st.g) && m2.frame < 0 && next >= 0 && m2.hasID && m2.id == plan.ids[next]
	switch {
	case one && !whole:
		st.accept(plan, m)
		st.framed, st.empty, st.j = m.frame >= 0, false, 1
		rr.peeked = &peekedAnswer{m2, resp2}
		return rr.settled(held, grp.first, 1), nil
	case whole && !one:
		st.acceptWhole(plan, m)
		rr.peeked = &peekedAnswer{m2, resp2}
		return rr.settled(held, grp.first, grp.k), nil
	}
	held2, err := rr.hold(m2, resp2)
	if err != nil {
		return nil, err
	}
	return nil, rr.settle(held, held2)
}

// settled returns a held answer paired with requests [i, i+n).
func (rr *ResponseReader) settled(a *Answer, i, n int) *Answer {
	a.Index, a.Count = i, n
	a.Response.Request = rr.plan.reqs[i]
	return a
}

// hold buffers an answer whose pairing is not yet settled.
func (rr *ResponseReader) hold(m answerMeta, resp *http.Response) (*Answer, error) {
	rr.build().detach()
	body, err := rr.buffer(resp.Body)
	if err != nil {
		return nil, err
	}
	resp.Body = rr.build().newBody(body)
	resp.ContentLength = int64(len(body))
	return &Answer{Response: resp, Index: -1, mem: body, meta: m}, nil
}

// buffer reads a body into memory, within the buffer limit.
func (rr *ResponseReader) buffer(body io.Reader) ([]byte, error) {
	b, err := rr.build().readBody(body, rr.max-rr.held)
	rr.held += int64(len(b))
	if err == errBodyLimit {
		return nil, &ResponseError{Err: ErrBufferLimit, Requests: rr.plan.n(), Responses: rr.read, Answer: rr.read - 1, Request: -1,
			Detail: fmt.Sprintf("more than %d bytes of answers to hold in memory; raise MaxBufferBytes or stream with Responses", rr.max)}
	}
	return b, err
}

// settle reads and buffers the rest of the response, after the answers
// already held (first), pairs all of it at once and queues the answers. It returns
// the error to report now, if any.
func (rr *ResponseReader) settle(first ...*Answer) error {
	rest := first
	for {
		p, err := rr.dec.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		switch p.Kind() {
		case batch.KindChangesetStart:
			rr.frame = rr.frames
			rr.frames++
			continue
		case batch.KindChangesetEnd:
			rr.frame = -1
			continue
		}
		m, resp, err := rr.answer(p)
		if err != nil {
			return err
		}
		if m.n >= rr.plan.n() {
			// Every answer answers at least one request: no pairing can
			// take this one, and nothing more needs reading.
			return rr.mismatch(m.n, -1, fmt.Sprintf("answer %d%s is more than the %d requests have", m.n, m.note(), rr.plan.n()))
		}
		a, err := rr.hold(m, resp)
		if err != nil {
			return err
		}
		rest = append(rest, a)
	}
	rr.drain = true
	final, err := rr.plan.solve(&rr.st, rest, rr.read)
	if err != nil {
		if re, ok := err.(*ResponseError); ok && re.Err == ErrBatchFailed {
			re.Response = rest[0].Response
		}
		return err
	}
	for _, a := range rest {
		a.Response.Request = rr.plan.reqs[a.Index]
	}
	rr.queue, rr.final = rest, final
	if len(rr.queue) == 0 && final != nil {
		return final
	}
	return nil
}

func (rr *ResponseReader) mismatch(answer, request int, detail string) error {
	return &ResponseError{Err: ErrMismatch, Requests: rr.plan.n(), Responses: rr.read, Answer: answer, Request: request, Detail: detail}
}
