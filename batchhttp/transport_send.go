package batchhttp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/batchcodec/batch"
)

// This file is one batch of a [Transport] in flight: the outer request
// written with the codec, and the answer read with it and handed out.

// trBatch is one batch, from the moment its queue is taken to its last
// answer.
type trBatch struct {
	t      *Transport
	calls  []*trCall
	key    string // the shared Authorization
	reason FlushReason
	sent   time.Time
	ctx    context.Context
	cancel context.CancelFunc
	size   atomic.Int32 // callers in the batch request: at sending, less those sent alone since
	gone   atomic.Int32 // of them, those whose context ended after sending
}

// leave counts a caller gone after sending; when every caller has gone,
// the batch request is cancelled.
func (b *trBatch) leave() {
	if b.gone.Add(1) == b.size.Load() {
		b.cancel()
	}
}

// detach takes c out of the batch request, to be sent alone: it no longer
// counts among the callers whose leaving cancels the batch request, so that
// the request is cancelled once the callers left in it have all gone. A
// caller that has gone already stays counted, as its leave is.
func (b *trBatch) detach(c *trCall) {
	c.mu.Lock()
	inBatch := c.state == trSent && c.batch == b
	if inBatch {
		c.batch = nil
	}
	c.mu.Unlock()
	if inBatch && b.size.Add(-1) == b.gone.Load() {
		b.cancel()
	}
}

// trMaxErrorBody bounds what is kept of an outer answer that is not a batch.
const trMaxErrorBody = 64 << 10

// run sends the batch and hands out its answers; every caller left
// unanswered gets the error that ended it.
func (b *trBatch) run() {
	t := b.t
	defer t.wg.Done()
	defer t.stats.inflight.Add(-1)
	defer b.cancel()
	st := BatchStats{Size: len(b.calls), Reason: b.reason}
	for _, c := range b.calls {
		w := b.sent.Sub(c.queued)
		st.MaxWait = max(st.MaxWait, w)
		t.stats.wait.Add(int64(w))
	}
	err := b.exchange(&st)
	if err == nil {
		err = &ResponseError{Err: ErrMismatch, Requests: len(b.calls), Responses: st.Answered + st.Dropped}
	}
	unanswered := 0
	for _, c := range b.calls {
		e := err
		if re, ok := err.(*ResponseError); ok && errors.Is(err, ErrMismatch) && re.Detail == "" {
			r := *re
			r.Detail = "no answer with Content-ID " + strconv.Quote(c.id)
			e = &r
		}
		if c.deliver(nil, e) {
			unanswered++
		}
	}
	if unanswered > 0 {
		st.Err = err
	}
	st.Duration = time.Since(b.sent)
	if t.cfg.onBatch != nil && st.Size > 0 {
		t.cfg.onBatch(st)
	}
}

// alone sends c's request by itself through Base, for a request the
// encoder refused.
func (b *trBatch) alone(c *trCall) {
	defer b.t.wg.Done()
	resp, err := b.t.alone(c)
	if !c.deliver(resp, err) && resp != nil {
		resp.Body.Close()
	}
}

// deliver hands c its result unless it has one or has gone.
func (c *trCall) deliver(resp *http.Response, err error) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != trSent {
		return false
	}
	c.state = trAnswered
	c.delivered = resp
	c.result <- trResult{resp, err}
	return true
}

// waiting reports whether c still waits for its answer.
func (c *trCall) waiting() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state == trSent
}

// exchange sends the batch and reads its answer. It returns the error for
// every caller still unanswered, or nil when the answer was read to its end:
// then a caller still unanswered had no answer of its own (ErrMismatch).
func (b *trBatch) exchange(st *BatchStats) error {
	t := b.t
	var body []byte
	var ctype string
	var err error
	if t.cfg.dialect == DialectGraph {
		body, err = b.encodeGraph()
		ctype = "application/json"
	} else {
		body, ctype, err = b.encode()
	}
	if err != nil {
		return err
	}
	st.Size = len(b.calls)
	if len(b.calls) == 0 {
		return nil
	}
	t.stats.batches.Add(1)
	t.stats.batched.Add(int64(len(b.calls)))
	outer, err := http.NewRequestWithContext(b.ctx, http.MethodPost, t.url.String(), bytes.NewReader(body))
	if err != nil {
		return err
	}
	for k, vs := range t.cfg.header {
		outer.Header[k] = append([]string(nil), vs...)
	}
	outer.Header.Set("Content-Type", ctype)
	if b.key != "" {
		outer.Header.Set("Authorization", b.key)
	}
	if t.cfg.dialect == DialectGraph {
		outer.Header.Set("Accept", "application/json")
	} else {
		outer.Header.Set("Accept", "multipart/mixed")
		if outer.Header.Get("Prefer") == "" {
			outer.Header.Set("Prefer", "odata.continue-on-error")
		}
	}
	resp, err := t.cfg.base.RoundTrip(outer)
	if err != nil {
		return fmt.Errorf("batch: sending a batch of %d requests: %w", len(b.calls), err)
	}
	defer resp.Body.Close()
	st.Status = resp.StatusCode
	ct := resp.Header.Get("Content-Type")
	if t.cfg.dialect == DialectGraph {
		if resp.StatusCode/100 != 2 || !isJSONType(ct) {
			return b.outerFailure(resp, st)
		}
		return b.readGraph(resp, st)
	}
	if mt, _, err := batch.ParseContentType(ct); err != nil || !strings.HasPrefix(mt, "multipart/") {
		return b.outerFailure(resp, st)
	}
	return b.readAnswers(resp, st)
}

// encode writes the batch. A request the encoder refuses (a header value
// with surrounding whitespace, say) is left out and sent alone.
func (b *trBatch) encode() (body []byte, contentType string, err error) {
	var buf bytes.Buffer
	for {
		buf.Reset()
		enc, err := batch.NewEncoder(&buf, b.t.cfg.enc...)
		if err != nil {
			return nil, "", err
		}
		bad := -1
		for i, c := range b.calls {
			c.id = b.t.contentID(i)
			if err = trWriteRequest(enc, b.t.target(c.req), c); err != nil {
				bad = i
				break
			}
		}
		if err == nil {
			err = enc.Close()
		}
		var ee *batch.EncodeError
		if err == nil {
			return buf.Bytes(), enc.ContentType(), nil
		}
		if bad < 0 || !errors.As(err, &ee) {
			return nil, "", err
		}
		b.detach(b.calls[bad])
		b.t.wg.Add(1)
		go b.alone(b.calls[bad])
		b.calls = append(b.calls[:bad:bad], b.calls[bad+1:]...)
	}
}

// trWriteRequest writes c's request with target u through WriteRequest.
func trWriteRequest(enc *batch.Encoder, u *url.URL, c *trCall) error {
	r := new(http.Request)
	*r = *c.req
	r.URL = u
	r.Host = ""
	r.Body, r.ContentLength = http.NoBody, int64(len(c.body))
	if len(c.body) > 0 {
		r.Body = io.NopCloser(bytes.NewReader(c.body))
	}
	return WriteRequest(enc, r, c.id)
}

// contentID is the Content-ID of the i-th request of a batch.
func (t *Transport) contentID(i int) string {
	if t.cfg.dialect == DialectGoogle {
		return "<item-" + strconv.Itoa(i+1) + ">"
	}
	return strconv.Itoa(i + 1)
}

// target returns the request target the dialect writes for req, as a URL
// whose String is that target: path-absolute for Google, relative to the
// service root for OData.
func (t *Transport) target(req *http.Request) *url.URL {
	p := req.URL.EscapedPath()
	if t.cfg.dialect == DialectOData {
		p = strings.TrimPrefix(p, t.scope)
	}
	return &url.URL{Opaque: p, RawQuery: req.URL.RawQuery}
}

// normID reduces the Content-ID forms of an answer to the request's: the
// angle brackets and a "response-" prefix go, in either order.
func normID(id string) string {
	id = strings.TrimSpace(id)
	id = strings.TrimSuffix(strings.TrimPrefix(id, "<"), ">")
	if len(id) >= 9 && strings.EqualFold(id[:9], "response-") {
		id = strings.TrimSpace(id[9:])
	}
	return strings.TrimSuffix(strings.TrimPrefix(id, "<"), ">")
}

// outerFailure answers every caller with an outer response that is not a
// batch: as each one's own response for statuses the call alone would have
// met, else as an ErrNotBatch error.
func (b *trBatch) outerFailure(resp *http.Response, st *BatchStats) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, trMaxErrorBody))
	own := resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden ||
		resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500
	for _, c := range b.calls {
		r := copyOuter(resp, body, c.req)
		if own {
			if c.deliver(r, nil) {
				st.Answered++
			}
			continue
		}
		c.deliver(nil, &ResponseError{Err: ErrNotBatch, Requests: len(b.calls), Response: r,
			Detail: "Content-Type " + strconv.Quote(resp.Header.Get("Content-Type"))})
	}
	return nil
}

// copyOuter copies resp with body for req.
func copyOuter(resp *http.Response, body []byte, req *http.Request) *http.Response {
	r := new(http.Response)
	*r = *resp
	r.Header = resp.Header.Clone()
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.Request = req
	r.TLS = nil
	r.Header.Del("Content-Length")
	r.Header.Del("Content-Encoding")
	r.Uncompressed = false
	return r
}

// trHeld is an answer without Content-ID, held to be matched by position.
type trHeld struct {
	resp *http.Response
	body []byte
}

// readAnswers decodes the batch answer and hands each answer to its caller
// as it is read.
func (b *trBatch) readAnswers(resp *http.Response, st *BatchStats) error {
	t := b.t
	d, err := batch.NewDecoder(resp.Body, resp.Header.Get("Content-Type"), t.cfg.dec...)
	if err != nil {
		return fmt.Errorf("batch: reading the batch answer: %w", err)
	}
	byID := make(map[string]*trCall, len(b.calls))
	for _, c := range b.calls {
		byID[normID(c.id)] = c
	}
	var held []trHeld
	heldBytes := 0
	sawID := false
	for {
		p, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("batch: reading the batch answer: %w", err)
		}
		if p.Kind() != batch.KindOperation {
			continue
		}
		r, err := Response(p, nil)
		if err != nil {
			st.Dropped++
			continue
		}
		if id, ok := p.ContentID(); ok && len(id) > 0 {
			sawID = true
			c := byID[normID(string(id))]
			delete(byID, normID(string(id)))
			if c == nil || !c.waiting() {
				st.Dropped++
				continue
			}
			if err := b.hand(c, r, p, st); err != nil {
				return err
			}
			continue
		}
		body, err := io.ReadAll(io.LimitReader(p, int64(transportMaxHeld-heldBytes+1)))
		if err != nil {
			return fmt.Errorf("batch: reading the batch answer: %w", err)
		}
		if heldBytes += len(body); heldBytes > transportMaxHeld {
			return &ResponseError{Err: ErrMismatch, Requests: len(b.calls), Responses: len(held) + 1,
				Detail: "answers without Content-ID hold more than 8 MiB"}
		}
		held = append(held, trHeld{r, body})
	}
	if len(held) > 0 {
		return b.byPosition(held, sawID, st)
	}
	return nil
}

// byPosition matches answers without Content-ID to the callers by order,
// where that is safe (see [Transport], "Matching answers").
func (b *trBatch) byPosition(held []trHeld, sawID bool, st *BatchStats) error {
	n := len(b.calls)
	give := func(c *trCall, h trHeld) {
		r := copyOuter(h.resp, h.body, c.req)
		if c.deliver(r, nil) {
			st.Answered++
		} else {
			st.Dropped++
		}
	}
	last := held[len(held)-1].resp.StatusCode
	switch {
	case sawID:
		st.Dropped += len(held)
		return nil
	case len(held) == n:
		for i, c := range b.calls {
			give(c, held[i])
		}
		return nil
	case len(held) == 1 && held[0].resp.StatusCode >= 400:
		for _, c := range b.calls {
			c.deliver(nil, &ResponseError{Err: ErrBatchFailed, Requests: n, Responses: 1,
				Response: copyOuter(held[0].resp, held[0].body, c.req)})
		}
		return nil
	case len(held) < n && last >= 400:
		for i, h := range held {
			give(b.calls[i], h)
		}
		return &ResponseError{Err: ErrStopped, Requests: n, Responses: len(held),
			Detail: fmt.Sprintf("requests %d to %d did not run", len(held), n-1)}
	}
	return &ResponseError{Err: ErrMismatch, Requests: n, Responses: len(held),
		Detail: "answers without Content-ID do not match the requests by number"}
}

// hand gives answer r, whose body is p's, to c: whole when it fits in
// AnswerBuffer, else as a stream that must be read or closed before the
// batch reads on. It returns an error only when reading the batch failed.
func (b *trBatch) hand(c *trCall, r *http.Response, p *batch.Part, st *BatchStats) error {
	r.Request = c.req
	var buf bytes.Buffer
	if n := p.ContentLength(); n > 0 {
		buf.Grow(int(min(n, b.t.cfg.answerBuf+1)))
	}
	n, err := io.CopyN(&buf, p, b.t.cfg.answerBuf+1)
	switch {
	case err == io.EOF:
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(buf.Bytes())), n
		if c.deliver(r, nil) {
			st.Answered++
		} else {
			st.Dropped++
		}
		return nil
	case err != nil:
		return fmt.Errorf("batch: reading the batch answer: %w", err)
	}
	body := &trBody{prefix: buf.Bytes(), part: p, ctx: c.ctx, done: make(chan struct{}), progress: make(chan struct{}, 1),
		readEnd: make(chan struct{}, 1)}
	r.Body = body
	if !c.deliver(r, nil) {
		st.Dropped++
		return nil
	}
	st.Answered++
	b.wait(body)
	return body.readErr
}
