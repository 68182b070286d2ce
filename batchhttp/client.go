package batchhttp

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
)

// RequestBatch is the client side of a batch: requests to send together,
// top-level ones and changesets, turned into one outer *http.Request, and the
// outer response turned back into one *http.Response per request.
//
//	var b batchhttp.RequestBatch
//	b.Add(get1, get2)
//	b.AddChangeset(post, patch)
//	req, _ := b.NewRequest(ctx, "https://outlook.office.com/api/v2.0/$batch")
//	resp, _ := http.DefaultClient.Do(req)
//	resps, err := b.ReadResponse(resp) // resps[i] answers the i-th request added
//
// To stream the answers instead of holding their bodies in memory, range
// over [RequestBatch.Responses] or use [RequestBatch.NewResponseReader].
//
// Answers are paired with requests by Content-ID and by order; when the
// server's answers contradict each other or fit more than one pairing, the
// client returns [ErrMismatch] and no pairing (see [ResponseReader]).
//
// The batch is multipart unless [Format] asks for a JSON batch (OData 4.01
// or Microsoft Graph), whose answers come in any order and are paired by
// id. [RequestBatch.DependsOn] says which requests must succeed before
// another runs, and [RetryAfter] reads how long a throttled answer (429)
// asks to wait.
//
// Requests must not be changed once added: their Content-ID headers are
// read once, for both the request and the pairing of the answers.
type RequestBatch struct {
	groups []requestGroup
	n      int
	plan   atomic.Pointer[matchPlan]         // built on first use after the last Add
	deps   map[*http.Request][]*http.Request // see DependsOn
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
		b.plan.Store(nil)
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
	b.plan.Store(nil)
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

// ErrSplitLimit is returned by [RequestBatch.Split] for a changeset that
// holds more requests than it may put in one batch.
var ErrSplitLimit = errors.New("batchhttp: changeset larger than the Split limit")

// Split divides b into batches of at most max requests each, in order,
// never splitting a changeset: 20 for Outlook and Microsoft Graph
// ([GraphMaxRequests]), 100 for UCWA. A changeset of more than max requests
// is an error wrapping [ErrSplitLimit]. Dependencies ([RequestBatch.DependsOn])
// go with their requests; one that Split would cut, putting a request and a
// request it depends on in different batches, is an error wrapping
// [ErrDependency].
func (b *RequestBatch) Split(max int) ([]*RequestBatch, error) {
	if max < 1 {
		return nil, fmt.Errorf("batch: Split(%d): the limit must be at least 1", max)
	}
	var out []*RequestBatch
	cur := &RequestBatch{}
	for i, g := range b.groups {
		if len(g.reqs) > max {
			return nil, fmt.Errorf("%w: changeset %d has %d requests, the limit is %d", ErrSplitLimit, i, len(g.reqs), max)
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
	if err := b.splitDeps(out); err != nil {
		return nil, err
	}
	return out, nil
}
