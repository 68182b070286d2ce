package batchhttp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/batchcodec/batch"
)

// RequestBatch is the client side of a batch: requests to send together,
// top-level ones and changesets, turned into one outer *http.Request, and the
// outer response turned back into one *http.Response per request.
//
//	var b batch.RequestBatch
//	b.Add(get1, get2)
//	b.AddChangeset(post, patch)
//	req, _ := b.NewRequest(ctx, "https://outlook.office.com/api/v2.0/$batch")
//	resp, _ := http.DefaultClient.Do(req)
//	resps, err := b.ReadResponse(resp) // resps[i] answers the i-th request added
type RequestBatch struct {
	groups []requestGroup
	n      int
}

type requestGroup struct {
	reqs      []*http.Request
	changeset bool
}

// Add adds each request as a top-level operation.
func (b *RequestBatch) Add(reqs ...*http.Request) {
	for _, r := range reqs {
		b.groups = append(b.groups, requestGroup{reqs: []*http.Request{r}})
		b.n++
	}
}

// AddChangeset adds the requests as one changeset: an atomic group of
// writes in OData. The [batch.UCWA] dialect has no changesets.
func (b *RequestBatch) AddChangeset(reqs ...*http.Request) {
	if len(reqs) == 0 {
		return
	}
	b.groups = append(b.groups, requestGroup{reqs: append([]*http.Request(nil), reqs...), changeset: true})
	b.n += len(reqs)
}

// Len returns the number of requests, those inside changesets included.
func (b *RequestBatch) Len() int { return b.n }

// Requests returns the requests in the order they were added, which is the
// order of ReadResponse's result.
func (b *RequestBatch) Requests() []*http.Request {
	out := make([]*http.Request, 0, b.n)
	for _, g := range b.groups {
		out = append(out, g.reqs...)
	}
	return out
}

// contentIDs returns each request's Content-ID: its own "Content-ID"
// header when it has one, else its 1-based position in the batch, or the
// next number no request uses, so that no two operations share one.
func (b *RequestBatch) contentIDs() []string {
	reqs := b.Requests()
	used := make(map[string]bool, len(reqs))
	for _, r := range reqs {
		if id := r.Header.Get("Content-ID"); id != "" {
			used[id] = true
		}
	}
	ids := make([]string, 0, len(reqs))
	next := 1
	for i, r := range reqs {
		id := r.Header.Get("Content-ID")
		if id == "" {
			next = max(next, i+1)
			for used[strconv.Itoa(next)] {
				next++
			}
			id = strconv.Itoa(next)
			used[id] = true
		}
		ids = append(ids, id)
	}
	return ids
}

// ErrTooLarge: a changeset holds more requests than [RequestBatch.Split]
// may put in one batch.
var ErrTooLarge = errors.New("batch: changeset larger than the batch limit")

// Split divides b into batches of at most max requests each, in order,
// never splitting a changeset: 20 for Outlook, 100 for batch.UCWA. A changeset of
// more than max requests is an error wrapping [ErrTooLarge].
func (b *RequestBatch) Split(max int) ([]*RequestBatch, error) {
	if max < 1 {
		return nil, fmt.Errorf("batch: Split(%d): the limit must be at least 1", max)
	}
	var out []*RequestBatch
	cur := &RequestBatch{}
	for i, g := range b.groups {
		if len(g.reqs) > max {
			return nil, fmt.Errorf("%w: changeset %d has %d requests, the limit is %d", ErrTooLarge, i, len(g.reqs), max)
		}
		if cur.n+len(g.reqs) > max {
			out = append(out, cur)
			cur = &RequestBatch{}
		}
		cur.groups = append(cur.groups, g)
		cur.n += len(g.reqs)
	}
	if cur.n > 0 {
		out = append(out, cur)
	}
	return out, nil
}

// NewRequest returns the outer POST request to the batch endpoint, its
// Content-Type set and its body the batch, encoded while the transport sends
// it (the body is streamed through an io.Pipe by a goroutine that ends when
// the body is read to its end or closed; http.Client.Do always closes it).
// Options select the dialect and boundary ([batch.WithDialect], [batch.WithBoundary]) and
// the outer headers ([ContinueOnError], [ODataVersion], [OuterHeader]).
//
// Each request becomes an operation written with [batch.Encoder.WriteRequest],
// with a Content-ID: the request's own Content-ID header, else its 1-based
// position. ReadResponse matches answers by those IDs where the server
// echoes them. batch.Request bodies are read and closed while the batch is sent.
func (b *RequestBatch) NewRequest(ctx context.Context, endpoint string, opts ...ClientOption) (*http.Request, error) {
	o := newClientConfig(opts)
	pr, pw := io.Pipe()
	enc, err := batch.NewEncoder(pw, o.enc...)
	if err != nil {
		return nil, err
	}
	if enc.Dialect() == batch.UCWA {
		for _, g := range b.groups {
			if g.changeset {
				return nil, &batch.EncodeError{Part: -1, Field: "changeset", Err: batch.ErrDialect, Detail: "batch.UCWA has no changesets"}
			}
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, pr)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", enc.ContentType())
	if o.continueOnError {
		req.Header.Set("Prefer", "odata.continue-on-error")
	}
	if o.odataVersion != "" {
		req.Header.Set("OData-Version", o.odataVersion)
	}
	for k, vs := range o.header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	ids := b.contentIDs()
	go func() {
		pw.CloseWithError(b.encode(enc, ids, o.absoluteTargets))
	}()
	return req, nil
}

// encode writes every request of b with enc.
func (b *RequestBatch) encode(enc *batch.Encoder, ids []string, absolute bool) error {
	i := 0
	for _, g := range b.groups {
		if g.changeset {
			if err := enc.BeginChangeset(); err != nil {
				return err
			}
		}
		for _, r := range g.reqs {
			if err := writeRequest(enc, r, ids[i], absolute); err != nil {
				return err
			}
			i++
		}
		if g.changeset {
			if err := enc.EndChangeset(); err != nil {
				return err
			}
		}
	}
	return enc.Close()
}

// Errors of ReadResponse, wrapped in a [*ResponseError].
var (
	// ErrNotBatch: the outer response is not a multipart batch, such as
	// 429 Too Many Requests (nothing in the batch ran) or 400 for a
	// malformed batch.
	ErrNotBatch = errors.New("batch: response is not a batch")
	// ErrBatchFailed: the batch failed as a whole, answered by a single
	// part without Content-ID (Azure Blob beyond 256 sub-requests).
	ErrBatchFailed = errors.New("batch: the batch failed as a whole")
	// ErrMismatch: the answers cannot be matched to the requests.
	ErrMismatch = errors.New("batch: responses do not match requests")
	// ErrStopped: the server stopped after a failed operation, as OData
	// servers do without continue-on-error ([ContinueOnError]): the
	// requests after it have no answer and did not run.
	ErrStopped = errors.New("batch: the server stopped after a failed operation")
)

// ResponseError is the error of [RequestBatch.ReadResponse] for an outer
// response that does not answer each request: what happened (Err), the
// counts, and the response that says why.
type ResponseError struct {
	Err       error
	Requests  int
	Responses int
	// batch.Response is the outer response for ErrNotBatch, its body replaced by
	// the first 64 KiB read; the one answering part for ErrBatchFailed.
	Response *http.Response
	Detail   string
}

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
	return msg
}

func (e *ResponseError) Unwrap() error { return e.Err }

// maxErrorBody bounds what ReadResponse keeps of a non-batch body.
const maxErrorBody = 64 << 10

// answer is one decoded response part with its framing.
type answer struct {
	resp  *http.Response
	id    string
	hasID bool
	frame int // index of the changeset frame it arrived in, -1 at top level
}

// ReadResponse reads the outer response to the request NewRequest built and
// returns one *http.Response per request, in the order they were added. It
// reads and closes resp.Body; each returned body is held in memory (use a
// [batch.Decoder] on resp.Body directly to stream large answers).
//
// Answers are matched to requests by Content-ID where the server echoes
// them, also as Google's "response-<id>" and in any order; else by order,
// counting the operations inside changesets whether or not the server keeps
// changeset framing (batch.SharePoint does not). One failure response standing for
// a whole changeset (OData v4 §11.7.7.5), framed or not, answers every
// request of that changeset. A non-batch outer response (429 with
// Retry-After, 400) is an [ErrNotBatch] error, a batch answered by one part
// without Content-ID is [ErrBatchFailed], and counts that cannot be
// reconciled are [ErrMismatch], each as a [*ResponseError]. When the server
// stopped after a failed operation, the answers it gave are returned with
// nil for the requests that did not run, and an [ErrStopped] error.
func (b *RequestBatch) ReadResponse(resp *http.Response, opts ...ClientOption) ([]*http.Response, error) {
	defer resp.Body.Close()
	ct := resp.Header.Get("Content-Type")
	mt, _, err := batch.ParseContentType(ct)
	if err != nil || !strings.HasPrefix(mt, "multipart/") {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		r := *resp
		r.Body = io.NopCloser(bytes.NewReader(body))
		return nil, &ResponseError{Err: ErrNotBatch, Requests: b.n, Response: &r, Detail: "Content-Type " + quote(ct)}
	}
	reqs := b.Requests()
	answers, err := readAnswers(resp, newClientConfig(opts).dec)
	if err != nil {
		return nil, err
	}
	// One failure without Content-ID for many requests is the batch
	// failing as a whole, unless it answers a batch of one changeset
	// (framed, or the only group): that is the changeset failing.
	if len(answers) == 1 && !answers[0].hasID && b.n > 1 && answers[0].resp.StatusCode >= 400 &&
		answers[0].frame < 0 && !(len(b.groups) == 1 && b.groups[0].changeset) {
		return nil, &ResponseError{Err: ErrBatchFailed, Requests: b.n, Responses: 1, Response: answers[0].resp}
	}
	out, err := b.matchByID(answers)
	if out == nil && err == nil {
		out, err = b.matchByOrder(answers)
	}
	if out == nil {
		return nil, err
	}
	for i, r := range out {
		if r != nil {
			r.Request = reqs[i]
		}
	}
	return out, err
}

// readAnswers decodes every operation of the outer response, bodies read
// into memory.
func readAnswers(resp *http.Response, opts []batch.DecodeOption) ([]answer, error) {
	d, err := batch.NewDecoder(resp.Body, resp.Header.Get("Content-Type"), opts...)
	if err != nil {
		return nil, err
	}
	var out []answer
	frame, frames := -1, 0
	for {
		p, err := d.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		switch p.Kind() {
		case batch.KindChangesetStart:
			frame = frames
			frames++
		case batch.KindChangesetEnd:
			frame = -1
		case batch.KindOperation:
			r, err := Response(p, nil)
			if err != nil {
				return nil, fmt.Errorf("batch: part %d: %w", p.Index(), err)
			}
			body, err := io.ReadAll(p)
			if err != nil {
				return nil, err
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
			id, ok := p.ContentID()
			out = append(out, answer{resp: r, id: strings.TrimPrefix(string(id), "response-"), hasID: ok && len(id) > 0, frame: frame})
		}
	}
}

// matchByID matches answers to requests by Content-ID. It returns nil, nil
// when the answers do not all carry known IDs, for matching by order.
func (b *RequestBatch) matchByID(answers []answer) ([]*http.Response, error) {
	ids := b.contentIDs()
	index := make(map[string]int, len(ids))
	for i, id := range ids {
		index[id] = i
	}
	out := make([]*http.Response, b.n)
	for _, a := range answers {
		i, ok := index[a.id]
		if !a.hasID || !ok || out[i] != nil {
			return nil, nil
		}
		out[i] = a.resp
	}
	// A changeset answered by one failure: it stands for every request of
	// the changeset.
	i := 0
	for _, g := range b.groups {
		var failed *http.Response
		missing := 0
		for j := range g.reqs {
			if r := out[i+j]; r == nil {
				missing++
			} else if r.StatusCode >= 400 {
				failed = r
			}
		}
		if missing > 0 {
			if !g.changeset || failed == nil || missing != len(g.reqs)-1 {
				return nil, nil
			}
			for j := range g.reqs {
				if out[i+j] == nil {
					out[i+j] = copyResponse(failed)
				}
			}
		}
		i += len(g.reqs)
	}
	return out, nil
}

// matchByOrder walks requests and answers together, one changeset at a time.
func (b *RequestBatch) matchByOrder(answers []answer) ([]*http.Response, error) {
	out := make([]*http.Response, 0, b.n)
	ai, done := 0, 0
	mismatch := func(detail string) error {
		return &ResponseError{Err: ErrMismatch, Requests: b.n, Responses: len(answers), Detail: detail}
	}
	for gi, g := range b.groups {
		k := len(g.reqs)
		if ai >= len(answers) {
			if done > 0 && out[done-1].StatusCode >= 400 {
				for len(out) < b.n {
					out = append(out, nil)
				}
				return out, &ResponseError{Err: ErrStopped, Requests: b.n, Responses: len(answers),
					Detail: fmt.Sprintf("requests %d to %d did not run", done, b.n-1)}
			}
			return nil, mismatch(fmt.Sprintf("no answer for request %d", done))
		}
		a := answers[ai]
		switch {
		case !g.changeset:
			out = append(out, a.resp)
			ai++
		case a.frame >= 0:
			// The server kept changeset framing: count its frame.
			c := 0
			for ai+c < len(answers) && answers[ai+c].frame == a.frame {
				c++
			}
			switch {
			case c == k:
				for j := 0; j < k; j++ {
					out = append(out, answers[ai+j].resp)
				}
			case c == 1 && a.resp.StatusCode >= 400:
				out = appendFailed(out, a.resp, k)
			default:
				return nil, mismatch(fmt.Sprintf("changeset %d has %d requests and %d answers", gi, k, c))
			}
			ai += c
		default:
			// Flattened (batch.SharePoint): k answers in a row, or one
			// failure for the whole changeset when the counts say so.
			left := len(answers) - ai
			need := b.n - done
			if left < need && a.resp.StatusCode >= 400 {
				out = appendFailed(out, a.resp, k)
				ai++
				break
			}
			if left < k {
				return nil, mismatch(fmt.Sprintf("changeset %d has %d requests and %d answers are left", gi, k, left))
			}
			for j := 0; j < k; j++ {
				out = append(out, answers[ai+j].resp)
			}
			ai += k
		}
		done += k
	}
	if ai != len(answers) {
		return nil, mismatch(fmt.Sprintf("%d answers left over", len(answers)-ai))
	}
	return out, nil
}

// appendFailed appends r for the first request of a failed changeset and a
// copy of it for each of the others, so every body can be read.
func appendFailed(out []*http.Response, r *http.Response, k int) []*http.Response {
	out = append(out, r)
	for j := 1; j < k; j++ {
		out = append(out, copyResponse(r))
	}
	return out
}

// copyResponse copies a response whose body is in memory.
func copyResponse(r *http.Response) *http.Response {
	c := *r
	c.Header = r.Header.Clone()
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	c.Body = io.NopCloser(bytes.NewReader(body))
	return &c
}
