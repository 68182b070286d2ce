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
	"sync"
	"sync/atomic"
	"time"
)

// This file is the batching http.RoundTripper: the queue and its rules.
// transport_send.go writes a batch and hands its answers out;
// transport_options.go holds its options.

// Transport is an http.RoundTripper that gathers concurrent requests into
// batches: give it to any Go API client (a generated Google client through
// option.WithHTTPClient, an OpenAPI client, a plain http.Client) and the
// calls that goroutines make at about the same time go to the server as one
// batch request, each caller getting its own *http.Response as if it had
// made the call alone.
//
//	t, _ := batchhttp.NewTransport("https://tasks.googleapis.com/batch/tasks/v1")
//	defer t.Close()
//	client := &http.Client{Transport: t}
//
// # Queueing
//
// Each batchable request is queued; a batch is sent when it holds
// [MaxBatch] requests, or its bodies 8 MiB, or when the oldest queued
// request has waited [Window], whichever comes first. Requests with
// different Authorization headers are queued apart, and a batch's shared
// Authorization is also set on the outer request (Google's outer
// authorization applies to all its calls). While nothing is queued or in
// flight the Transport runs no goroutine; each batch in flight runs one.
//
// A request is sent alone through [Base], unchanged, when it cannot go in a
// batch: another scheme or host than the batch URL's, a path outside the
// dialect's (see [TransportDialect]), the batch URL itself, a method other
// than GET, POST, PUT, PATCH and DELETE, a body larger than
// [MaxRequestBody], an Upgrade, trailers, a request [Batchable] refuses,
// or one the codec cannot write into a batch (a header value with
// surrounding whitespace, say).
//
// # Per-request semantics
//
// A caller whose context ends while its request is queued is taken out of
// the batch and gets its context's error. One whose context ends after its
// batch was sent gets its context's error at once; its answer is skipped
// and the others are unaffected (the batch request itself is cancelled only
// when every caller in it has gone). An operation's own 429, Retry-After
// or 5xx answer is that caller's response. An outer answer that is not a
// batch answers every caller in it: 401, 403, 429 and 5xx, which the same
// call alone would have met, as each caller's response (a copy, with
// Retry-After and the body's first 64 KiB); any other status (a 400 or 404
// for the batch itself) as a [*ResponseError] wrapping [ErrNotBatch]. A
// batch answered by one part without Content-ID is a [*ResponseError]
// wrapping [ErrBatchFailed] for every caller; an error sending the batch or
// reading its answer is every unanswered caller's error.
//
// # Matching answers
//
// Answers are matched by Content-ID (by "id" in [DialectGraph]), in any
// order, in the forms "<item-3>", "<response-item-3>", "response-<item-3>"
// and "item-3". An answer whose
// Content-ID is unknown or answered already is dropped, never given to
// another caller. Answers without a Content-ID (some OData servers) are
// matched by position, and only when no answer in the batch carried one
// and their number is the number of requests, or the server stopped after
// a failure ([ErrStopped] for the requests after it); they are held until
// the batch answer ends, at most 8 MiB of them. A caller left without an
// answer gets a [*ResponseError] wrapping [ErrMismatch].
//
// # Answers
//
// The batch answer is read in order, once, and each answer is handed to its
// caller as soon as it is read, without holding the whole batch answer (a
// Graph JSON answer is decoded one response at a time, each whole): an
// answer body of at most [AnswerBuffer] bytes is read into memory and
// handed over whole; a larger one is handed over as a stream read straight
// from the batch answer, and the later answers of the batch wait until its
// caller has read it to the end or closed it. A caller whose context ends,
// or who reads nothing of it for [StallTimeout], loses that body (its reads
// fail with its context's error or [ErrStalled]) and the batch moves on. So
// a slow reader delays the callers after it by at most StallTimeout per
// stall, and a caller that never reads a large body holds the others up
// for StallTimeout once. If that caller's Read is waiting on the network
// when it loses the body, the batch request is cancelled to end that Read:
// the answers after it in the batch then fail with the cancellation rather
// than wait for a server that has stopped sending. Read or close every
// body, as net/http asks.
//
// # Closing
//
// [Transport.Close] sends what is queued, waits for the batches in flight
// to be answered, and makes later requests go through Base unbatched.
type Transport struct {
	cfg   transportConfig
	url   *url.URL
	scope string // path prefix of batchable requests

	mu     sync.Mutex
	queues map[string]*trQueue // by Authorization
	closed bool
	wg     sync.WaitGroup // batches in flight

	stats trCounters
}

var _ http.RoundTripper = (*Transport)(nil)

// ErrStalled is what a streaming answer body returns once it has been
// abandoned because its caller read nothing of it for [StallTimeout] while
// later answers waited.
var ErrStalled = errors.New("batch: answer body abandoned: its caller did not read it for the stall timeout")

// NewTransport returns a Transport that sends batches to batchURL, such as
// "https://tasks.googleapis.com/batch/tasks/v1" ([DialectGoogle]),
// "https://host/odata/v4/catalog/$batch" ([DialectOData]) or
// "https://graph.microsoft.com/v1.0/$batch" ([DialectGraph]). It fails if
// batchURL is not an absolute http or https URL.
func NewTransport(batchURL string, opts ...TransportOption) (*Transport, error) {
	u, err := url.Parse(batchURL)
	if err != nil {
		return nil, fmt.Errorf("batch: NewTransport: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("batch: NewTransport: %q is not an absolute http or https URL", batchURL)
	}
	t := &Transport{cfg: newTransportConfig(u, opts), url: u, queues: make(map[string]*trQueue)}
	switch t.cfg.dialect {
	case DialectGoogle:
		// /batch/<api>/<version> serves /<api>/<version>/...
		rest := strings.Trim(strings.TrimPrefix(u.Path, "/batch/"), "/")
		if rest == "" || rest == strings.Trim(u.Path, "/") {
			return nil, fmt.Errorf("batch: NewTransport: %q is not a Google batch URL, /batch/<api>/<version>", batchURL)
		}
		t.scope = "/" + rest + "/"
	case DialectOData, DialectGraph:
		t.scope = u.Path[:strings.LastIndex(u.Path, "/")+1]
	default:
		return nil, fmt.Errorf("batch: NewTransport: unknown dialect %d", t.cfg.dialect)
	}
	if t.cfg.dialect == DialectGraph && (len(t.cfg.enc) > 0 || len(t.cfg.dec) > 0) {
		// Graph batches are JSON: the multipart codec's options would be
		// ignored, which an option must never be.
		return nil, errors.New("batch: NewTransport: TransportCodec configures the multipart codec, and DialectGraph batches are JSON")
	}
	return t, nil
}

// trCall is one caller's request, from RoundTrip to its answer.
type trCall struct {
	req    *http.Request
	ctx    context.Context
	key    string // its queue's: the Authorization header
	body   []byte
	queued time.Time
	id     string // Content-ID in its batch, set when sent
	batch  *trBatch

	mu        sync.Mutex
	state     trState
	result    chan trResult // buffered 1
	delivered *http.Response
}

type trState uint8

const (
	trQueued trState = iota
	trSent
	trAnswered
	trGone // the caller's context ended
)

type trResult struct {
	resp *http.Response
	err  error
}

// trQueue is the requests waiting for one batch.
type trQueue struct {
	key   string
	calls []*trCall
	bytes int64
	timer *time.Timer
}

// RoundTrip queues req for the next batch and waits for its answer, or
// sends it alone through Base when it cannot be batched (see [Transport]).
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !t.batchable(req) {
		t.stats.unbatched.Add(1)
		return t.cfg.base.RoundTrip(req)
	}
	body, rest, err := readRequestBody(req, t.cfg.maxBody)
	if err != nil {
		return nil, err
	}
	if rest != nil {
		t.stats.unbatched.Add(1)
		r := req.Clone(req.Context())
		r.Body = rest
		return t.cfg.base.RoundTrip(r)
	}
	c := &trCall{req: req, ctx: req.Context(), key: req.Header.Get("Authorization"), body: body, result: make(chan trResult, 1)}
	if !t.enqueue(c) {
		return t.alone(c)
	}
	select {
	case r := <-c.result:
		return r.resp, r.err
	case <-c.ctx.Done():
		t.abandon(c)
		return nil, c.ctx.Err()
	}
}

// alone sends c's request through Base by itself.
func (t *Transport) alone(c *trCall) (*http.Response, error) {
	t.stats.unbatched.Add(1)
	r := c.req.Clone(c.ctx)
	r.Body, r.ContentLength = nil, int64(len(c.body))
	if c.body != nil {
		r.Body = io.NopCloser(bytes.NewReader(c.body))
	}
	return t.cfg.base.RoundTrip(r)
}

// batchable reports whether req may go in a batch.
func (t *Transport) batchable(req *http.Request) bool {
	u := req.URL
	if u == nil || !strings.EqualFold(u.Scheme, t.url.Scheme) || !strings.EqualFold(u.Host, t.url.Host) {
		return false
	}
	if req.Host != "" && !strings.EqualFold(req.Host, t.url.Host) {
		return false
	}
	if u.Path == t.url.Path || !strings.HasPrefix(u.Path, t.scope) || u.Path == t.scope {
		return false
	}
	switch req.Method {
	case "", http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		return false
	}
	if req.Header.Get("Upgrade") != "" || len(req.Trailer) > 0 {
		return false
	}
	if t.cfg.dialect == DialectGoogle && u.Query().Get("alt") == "media" {
		return false
	}
	if t.cfg.batchable != nil && !t.cfg.batchable(req) {
		return false
	}
	return true
}

// readRequestBody reads req's body, up to max bytes, and closes it. When the body
// is larger, rest is a body for Base that reads what was read and the
// rest, and closes req.Body.
func readRequestBody(req *http.Request, max int64) (body []byte, rest io.ReadCloser, err error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil, nil
	}
	if req.ContentLength > max {
		return nil, req.Body, nil
	}
	body, err = io.ReadAll(io.LimitReader(req.Body, max+1))
	if err != nil {
		req.Body.Close()
		return nil, nil, err
	}
	if int64(len(body)) > max {
		return nil, struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(body), req.Body), req.Body}, nil
	}
	req.Body.Close()
	return body, nil, nil
}

// enqueue adds c to its queue, starting the queue's window or sending it
// when full. It reports false once the Transport is closed.
func (t *Transport) enqueue(c *trCall) bool {
	key := c.key
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	q := t.queues[key]
	if q != nil && q.bytes+int64(len(c.body)) > transportMaxQueued {
		t.sendLocked(q, FlushBytes)
		q = nil
	}
	if q == nil {
		q = &trQueue{key: key}
		t.queues[key] = q
	}
	c.queued = time.Now()
	q.calls = append(q.calls, c)
	q.bytes += int64(len(c.body))
	switch {
	case len(q.calls) >= t.cfg.maxBatch:
		t.sendLocked(q, FlushFull)
	case len(q.calls) == 1:
		q.timer = time.AfterFunc(t.cfg.window, func() { t.flush(q) })
	}
	return true
}

// flush sends q when its window has passed.
func (t *Transport) flush(q *trQueue) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.queues[q.key] == q && len(q.calls) > 0 {
		t.sendLocked(q, FlushWindow)
	}
}

// sendLocked takes the calls out of q and starts their batch. t.mu is held.
func (t *Transport) sendLocked(q *trQueue, why FlushReason) {
	if q.timer != nil {
		q.timer.Stop()
		q.timer = nil
	}
	calls := q.calls
	q.calls, q.bytes = nil, 0
	delete(t.queues, q.key)
	b := &trBatch{t: t, calls: calls, key: q.key, reason: why, sent: time.Now()}
	b.size.Store(int32(len(calls)))
	b.ctx, b.cancel = context.WithCancel(context.Background())
	for _, c := range calls {
		c.mu.Lock()
		c.state, c.batch = trSent, b
		c.mu.Unlock()
	}
	t.wg.Add(1)
	t.stats.inflight.Add(1)
	go b.run()
}

// abandon handles a caller whose context ended: out of its queue if it is
// still queued, else its answer is dropped (and its body closed if it was
// delivered meanwhile).
func (t *Transport) abandon(c *trCall) {
	t.mu.Lock()
	c.mu.Lock()
	state := c.state
	c.state = trGone
	if q := t.queues[c.key]; state == trQueued && q != nil {
		t.stats.cancelled.Add(1)
		for i, qc := range q.calls {
			if qc == c {
				q.calls = append(q.calls[:i], q.calls[i+1:]...)
				q.bytes -= int64(len(c.body))
				break
			}
		}
		if len(q.calls) == 0 {
			if q.timer != nil {
				q.timer.Stop()
			}
			delete(t.queues, c.key)
		}
	}
	resp, b := c.delivered, c.batch
	c.delivered = nil
	c.mu.Unlock()
	t.mu.Unlock()
	if resp != nil {
		resp.Body.Close()
	}
	if state == trSent && b != nil {
		b.leave()
	}
}

// CloseIdleConnections closes the idle connections of [Base], if it has
// such a method; http.Client.CloseIdleConnections calls it.
func (t *Transport) CloseIdleConnections() {
	if ci, ok := t.cfg.base.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// Close sends the queued requests at once, waits until every batch in
// flight has been answered (each answer handed to its caller: a caller that
// holds a large answer body unread holds Close up to [StallTimeout]), and
// makes later requests go through [Base] unbatched. It returns nil.
func (t *Transport) Close() error {
	t.mu.Lock()
	t.closed = true
	for _, q := range t.queues {
		t.sendLocked(q, FlushClose)
	}
	t.mu.Unlock()
	t.wg.Wait()
	return nil
}

// FlushReason says why a batch was sent.
type FlushReason uint8

const (
	// FlushWindow: the oldest request had waited [Window].
	FlushWindow FlushReason = iota + 1
	// FlushFull: the batch held [MaxBatch] requests.
	FlushFull
	// FlushBytes: the batch held 8 MiB of request bodies.
	FlushBytes
	// FlushClose: [Transport.Close] sent it.
	FlushClose
)

// String returns the reason's name.
func (r FlushReason) String() string {
	switch r {
	case FlushWindow:
		return "window"
	case FlushFull:
		return "full"
	case FlushBytes:
		return "bytes"
	case FlushClose:
		return "close"
	}
	return "FlushReason(" + strconv.Itoa(int(r)) + ")"
}

// BatchStats describes one batch, for [OnBatch].
type BatchStats struct {
	// Size is the number of requests sent in the batch.
	Size int
	// Reason says why it was sent.
	Reason FlushReason
	// MaxWait is how long its oldest request was queued.
	MaxWait time.Duration
	// Duration is the time from sending the batch to the last answer
	// handed over.
	Duration time.Duration
	// Status is the outer response's status code, 0 if none came.
	Status int
	// Answered is the number of callers that got an answer of their own;
	// Dropped the answers that matched no waiting caller (unknown,
	// repeated, or for a caller that had gone).
	Answered, Dropped int
	// Err is the error every unanswered caller got, if any.
	Err error
}

// TransportStats are a Transport's running totals, from [Transport.Stats].
type TransportStats struct {
	// Batches is the number of batch requests sent.
	Batches int64
	// Batched is the number of requests sent inside batches.
	Batched int64
	// Unbatched is the number of requests sent alone through Base.
	Unbatched int64
	// Cancelled is the number of requests taken out of their queue because
	// their context ended.
	Cancelled int64
	// Queued is the number of requests waiting in queues now, and
	// InFlight the number of batches sent and not yet fully answered.
	Queued, InFlight int
	// QueueWait is the total time batched requests spent queued; divide by
	// Batched for the mean.
	QueueWait time.Duration
}

type trCounters struct {
	batches, batched, unbatched, cancelled, wait, inflight atomic.Int64
}

// Stats returns the running totals. Per-batch figures are given to
// [OnBatch].
func (t *Transport) Stats() TransportStats {
	t.mu.Lock()
	queued := 0
	for _, q := range t.queues {
		queued += len(q.calls)
	}
	t.mu.Unlock()
	return TransportStats{
		Queued:    queued,
		InFlight:  int(t.stats.inflight.Load()),
		Batches:   t.stats.batches.Load(),
		Batched:   t.stats.batched.Load(),
		Unbatched: t.stats.unbatched.Load(),
		Cancelled: t.stats.cancelled.Load(),
		QueueWait: time.Duration(t.stats.wait.Load()),
	}
}
