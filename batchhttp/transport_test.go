package batchhttp_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batchcodec/batch/batchhttp"
)

// trApp is an OData-style service behind batchhttp.Handler at
// /odata/$batch, counting the HTTP requests it receives and recording the
// operations it serves.
type trApp struct {
	srv     *httptest.Server
	hits    atomic.Int64 // HTTP requests received
	batches atomic.Int64 // of them, batch requests
	mu      sync.Mutex
	served  []string // "GET /odata/items/3", in the order served
	arrived chan string
	release chan struct{}
}

func newTrApp(t *testing.T) *trApp {
	a := &trApp{arrived: make(chan string, 100), release: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /odata/items/{id}", func(w http.ResponseWriter, r *http.Request) {
		a.record(r)
		if s := r.URL.Query().Get("status"); s != "" {
			code, _ := strconv.Atoi(s)
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(code)
		}
		fmt.Fprintf(w, `{"id":%q}`, r.PathValue("id"))
	})
	mux.HandleFunc("POST /odata/items", func(w http.ResponseWriter, r *http.Request) {
		a.record(r)
		body, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, "created %s", body)
	})
	mux.HandleFunc("GET /odata/slow/{id}", func(w http.ResponseWriter, r *http.Request) {
		a.record(r)
		a.arrived <- r.PathValue("id")
		select {
		case <-a.release:
		case <-r.Context().Done():
		}
		fmt.Fprintf(w, "slow %s", r.PathValue("id"))
	})
	mux.HandleFunc("GET /odata/big/{n}", func(w http.ResponseWriter, r *http.Request) {
		a.record(r)
		n, _ := strconv.Atoi(r.PathValue("n"))
		_, _ = w.Write(bytes.Repeat([]byte("x"), n))
	})
	mux.Handle("POST /odata/$batch", batchhttp.Handler(mux))
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.hits.Add(1)
		if strings.HasSuffix(r.URL.Path, "$batch") {
			a.batches.Add(1)
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *trApp) record(r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.served = append(a.served, r.Method+" "+r.URL.RequestURI())
}

func (a *trApp) servedSorted() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := append([]string(nil), a.served...)
	sort.Strings(out)
	return out
}

// newTrTransport returns a Transport on app's batch endpoint, closed and
// checked for leftover goroutines when the test ends.
func newTrTransport(t *testing.T, url string, opts ...batchhttp.TransportOption) *batchhttp.Transport {
	t.Helper()
	tr, err := batchhttp.NewTransport(url, opts...)
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, tr.Close())
		trNoGoroutines(t)
	})
	return tr
}

// trNoGoroutines fails unless no goroutine of the Transport is left: the
// batches' goroutines exit once their answers are handed out.
func trNoGoroutines(t *testing.T) {
	t.Helper()
	var stacks string
	for range 500 {
		buf := make([]byte, 1<<20)
		stacks = string(buf[:runtime.Stack(buf, true)])
		if !strings.Contains(stacks, "batchhttp.(*trBatch)") && !strings.Contains(stacks, "batchhttp.(*Transport)") {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("Transport goroutines left over:\n%s", stacks)
}

// trGet does a GET through c and returns "status body", or the error.
func trGet(ctx context.Context, c *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	return strconv.Itoa(resp.StatusCode) + " " + string(body), nil
}

// trWaitQueued waits until n requests are queued in tr.
func trWaitQueued(t *testing.T, tr *batchhttp.Transport, n int) {
	t.Helper()
	for range 1000 {
		if tr.Stats().Queued == n {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("Stats().Queued = %d, want %d", tr.Stats().Queued, n)
}

// Fifty goroutines, one Transport: the server gets one batch request, and
// each goroutine its own answer.
func TestTransportCoalesces(t *testing.T) {
	app := newTrApp(t)
	var stats []batchhttp.BatchStats
	var mu sync.Mutex
	tr := newTrTransport(t, app.srv.URL+"/odata/$batch", batchhttp.MaxBatch(50), batchhttp.Window(time.Hour),
		batchhttp.OnBatch(func(s batchhttp.BatchStats) { mu.Lock(); stats = append(stats, s); mu.Unlock() }))
	client := &http.Client{Transport: tr}

	got := make([]string, 50)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if i%10 == 0 {
				var resp *http.Response
				resp, err = client.Post(app.srv.URL+"/odata/items", "text/plain", strings.NewReader("p"+strconv.Itoa(i)))
				if err == nil {
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					got[i] = strconv.Itoa(resp.StatusCode) + " " + string(body)
				}
			} else {
				got[i], err = trGet(context.Background(), client, fmt.Sprintf("%s/odata/items/%d?x=%d", app.srv.URL, i, i))
			}
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	for i, g := range got {
		want := fmt.Sprintf(`200 {"id":"%d"}`, i)
		if i%10 == 0 {
			want = fmt.Sprintf("201 created p%d", i)
		}
		assert.Equal(t, want, g, "caller %d", i)
	}
	assert.EqualValues(t, 1, app.hits.Load(), "HTTP requests received")
	st := tr.Stats()
	assert.EqualValues(t, 1, st.Batches)
	assert.EqualValues(t, 50, st.Batched)
	require.NoError(t, tr.Close()) // waits for the batch's goroutine, which calls OnBatch last
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, stats, 1)
	assert.Equal(t, 50, stats[0].Size)
	assert.Equal(t, batchhttp.FlushFull, stats[0].Reason)
	assert.Equal(t, 50, stats[0].Answered)
	assert.Equal(t, 200, stats[0].Status)
}

// A lone request is sent when its window has passed; once it is answered
// the Transport runs no goroutine, without being closed.
func TestTransportWindow(t *testing.T) {
	app := newTrApp(t)
	tr := newTrTransport(t, app.srv.URL+"/odata/$batch", batchhttp.Window(time.Millisecond))
	got, err := trGet(context.Background(), &http.Client{Transport: tr}, app.srv.URL+"/odata/items/7")
	require.NoError(t, err)
	assert.Equal(t, `200 {"id":"7"}`, got)
	assert.EqualValues(t, 1, app.batches.Load())
	// Idle without Close: the batch's goroutine has exited.
	trNoGoroutines(t)
	assert.Equal(t, 0, tr.Stats().InFlight)
}

// A caller cancelled while queued leaves the batch: the server never sees
// its operation.
func TestTransportCancelBeforeSend(t *testing.T) {
	app := newTrApp(t)
	tr := newTrTransport(t, app.srv.URL+"/odata/$batch", batchhttp.MaxBatch(2), batchhttp.Window(time.Hour))
	client := &http.Client{Transport: tr}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := trGet(ctx, client, app.srv.URL+"/odata/items/gone")
		done <- err
	}()
	trWaitQueued(t, tr, 1)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	assert.Equal(t, 0, tr.Stats().Queued)
	assert.EqualValues(t, 1, tr.Stats().Cancelled)

	var wg sync.WaitGroup
	for _, id := range []string{"a", "b"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := trGet(context.Background(), client, app.srv.URL+"/odata/items/"+id)
			assert.NoError(t, err)
			assert.Equal(t, `200 {"id":"`+id+`"}`, got)
		}()
	}
	wg.Wait()
	if d := cmp.Diff([]string{"GET /odata/items/a", "GET /odata/items/b"}, app.servedSorted()); d != "" {
		t.Errorf("operations served (-want +got):\n%s", d)
	}
	assert.EqualValues(t, 1, app.hits.Load())
}

// A caller cancelled after its batch was sent gets its context's error at
// once; the others in the batch get their answers.
func TestTransportCancelAfterSend(t *testing.T) {
	app := newTrApp(t)
	tr := newTrTransport(t, app.srv.URL+"/odata/$batch", batchhttp.MaxBatch(2), batchhttp.Window(time.Hour))
	client := &http.Client{Transport: tr}

	ctx, cancel := context.WithCancel(context.Background())
	slow := make(chan error, 1)
	go func() {
		_, err := trGet(ctx, client, app.srv.URL+"/odata/slow/1")
		slow <- err
	}()
	trWaitQueued(t, tr, 1)
	other := make(chan string, 1)
	go func() {
		got, err := trGet(context.Background(), client, app.srv.URL+"/odata/items/2")
		assert.NoError(t, err)
		other <- got
	}()
	assert.Equal(t, "1", <-app.arrived, "the batch reached the server")
	cancel()
	require.ErrorIs(t, <-slow, context.Canceled, "before the server answers")
	close(app.release)
	assert.Equal(t, `200 {"id":"2"}`, <-other)
	assert.EqualValues(t, 1, app.batches.Load())
}

// Every caller of a batch cancelled: the batch request is cancelled too.
func TestTransportCancelAll(t *testing.T) {
	app := newTrApp(t)
	tr := newTrTransport(t, app.srv.URL+"/odata/$batch", batchhttp.MaxBatch(1))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := trGet(ctx, &http.Client{Transport: tr}, app.srv.URL+"/odata/slow/1")
		done <- err
	}()
	<-app.arrived
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	require.NoError(t, tr.Close()) // returns: the batch request was cancelled while the server blocks
	close(app.release)
}

// One operation's 429 with Retry-After is that caller's answer; the others
// are untouched.
func TestTransportPerOperation429(t *testing.T) {
	app := newTrApp(t)
	tr := newTrTransport(t, app.srv.URL+"/odata/$batch", batchhttp.MaxBatch(3), batchhttp.Window(time.Hour))
	client := &http.Client{Transport: tr}
	urls := []string{"/odata/items/1", "/odata/items/2?status=429", "/odata/items/3?status=503"}
	type result struct {
		status     int
		retryAfter string
		body       string
	}
	got := make([]result, len(urls))
	var wg sync.WaitGroup
	for i, u := range urls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get(app.srv.URL + u)
			if !assert.NoError(t, err) {
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			got[i] = result{resp.StatusCode, resp.Header.Get("Retry-After"), string(body)}
			assert.Equal(t, u, resp.Request.URL.RequestURI(), "the response's Request is the caller's")
		}()
	}
	wg.Wait()
	want := []result{{200, "", `{"id":"1"}`}, {429, "7", `{"id":"2"}`}, {503, "7", `{"id":"3"}`}}
	if d := cmp.Diff(want, got, cmp.AllowUnexported(result{})); d != "" {
		t.Errorf("answers (-want +got):\n%s", d)
	}
	assert.EqualValues(t, 1, app.hits.Load())
}

// Requests that cannot be batched go to Base unchanged: another host, a
// path outside the service, a body too large, the batch URL itself.
func TestTransportPassThrough(t *testing.T) {
	app := newTrApp(t)
	other := newTrApp(t)
	tr := newTrTransport(t, app.srv.URL+"/odata/$batch", batchhttp.MaxRequestBody(8), batchhttp.Window(time.Millisecond))
	client := &http.Client{Transport: tr}

	got, err := trGet(context.Background(), client, other.srv.URL+"/odata/items/x")
	require.NoError(t, err)
	assert.Equal(t, `200 {"id":"x"}`, got)
	assert.EqualValues(t, 1, other.hits.Load())
	assert.EqualValues(t, 0, other.batches.Load())

	got, err = trGet(context.Background(), client, app.srv.URL+"/elsewhere")
	require.NoError(t, err)
	assert.Equal(t, "404 404 page not found\n", got)

	for _, body := range []io.Reader{strings.NewReader("123456789"), io.MultiReader(strings.NewReader("12345"), strings.NewReader("6789"))} {
		resp, err := client.Post(app.srv.URL+"/odata/items", "text/plain", body)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, "created 123456789", string(b))
	}
	req, _ := http.NewRequest(http.MethodOptions, app.srv.URL+"/odata/items/1", nil)
	resp, err := client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	assert.EqualValues(t, 0, app.batches.Load(), "nothing was batched")
	assert.EqualValues(t, 5, tr.Stats().Unbatched)

	resp, err = client.Post(app.srv.URL+"/odata/items", "text/plain", strings.NewReader("small"))
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "created small", string(b))
	assert.EqualValues(t, 1, app.batches.Load(), "a small body is batched")
}

// A request the encoder refuses to write into a batch (a header value with
// surrounding whitespace) is sent alone; the rest of its batch is batched.
func TestTransportEncoderRefusal(t *testing.T) {
	app := newTrApp(t)
	tr := newTrTransport(t, app.srv.URL+"/odata/$batch", batchhttp.MaxBatch(2), batchhttp.Window(time.Hour))
	client := &http.Client{Transport: tr}
	got := make([]string, 2)
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/odata/items/%d", app.srv.URL, i), nil)
			if i == 0 {
				req.Header["X-Pad"] = []string{" padded "}
			}
			resp, err := client.Do(req)
			if assert.NoError(t, err) {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				got[i] = string(b)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, []string{`{"id":"0"}`, `{"id":"1"}`}, got)
	assert.EqualValues(t, 2, app.hits.Load())
	assert.EqualValues(t, 1, app.batches.Load())
	st := tr.Stats()
	assert.EqualValues(t, 1, st.Batched)
	assert.EqualValues(t, 1, st.Unbatched)
}

// An answer larger than AnswerBuffer streams to its caller; the answers
// after it wait until it is read, and a caller that does not read it loses
// it after StallTimeout while the others get theirs.
func TestTransportStreamingAnswers(t *testing.T) {
	type res struct {
		resp *http.Response
		err  error
	}
	// send GETs paths, queued in order, as one batch of a new Transport
	// with the given stall timeout.
	send := func(stall time.Duration, paths ...string) []chan res {
		app := newTrApp(t)
		tr := newTrTransport(t, app.srv.URL+"/odata/$batch", batchhttp.MaxBatch(len(paths)), batchhttp.Window(time.Hour),
			batchhttp.AnswerBuffer(1000), batchhttp.StallTimeout(stall))
		client := &http.Client{Transport: tr}
		results := make([]chan res, len(paths))
		for i, p := range paths {
			results[i] = make(chan res, 1)
			go func() {
				resp, err := client.Get(app.srv.URL + p)
				results[i] <- res{resp, err}
			}()
			if i < len(paths)-1 {
				trWaitQueued(t, tr, i+1)
			}
		}
		return results
	}

	// The first caller reads its 300,000 bytes, streamed, and the next
	// gets its answer after. No stall timeout here: a reader slowed by a
	// loaded machine keeps its body.
	results := send(time.Hour, "/odata/big/300000", "/odata/items/3")
	r0 := <-results[0]
	require.NoError(t, r0.err)
	assert.EqualValues(t, -1, r0.resp.ContentLength)
	n, err := io.Copy(io.Discard, r0.resp.Body)
	require.NoError(t, err)
	assert.EqualValues(t, 300000, n)
	require.NoError(t, r0.resp.Body.Close())
	r1 := <-results[1]
	require.NoError(t, r1.err)
	b, _ := io.ReadAll(r1.resp.Body)
	assert.Equal(t, `{"id":"3"}`, string(b))
	r1.resp.Body.Close()

	// This first caller never reads: after the stall timeout the next
	// gets its answer anyway, and the first's body fails.
	results = send(50*time.Millisecond, "/odata/big/200000", "/odata/items/3")
	r0 = <-results[0]
	require.NoError(t, r0.err)
	r1 = <-results[1]
	require.NoError(t, r1.err)
	b, _ = io.ReadAll(r1.resp.Body)
	assert.Equal(t, `{"id":"3"}`, string(b))
	assert.EqualValues(t, len(b), r1.resp.ContentLength)
	r1.resp.Body.Close()
	_, err = io.ReadAll(r0.resp.Body)
	assert.ErrorIs(t, err, batchhttp.ErrStalled)
	r0.resp.Body.Close()
}

// A caller whose context ends while its streamed answer is unread loses
// it; the batch moves on at once to the next caller's answer.
func TestTransportCancelWhileStreaming(t *testing.T) {
	app := newTrApp(t)
	tr := newTrTransport(t, app.srv.URL+"/odata/$batch", batchhttp.MaxBatch(2), batchhttp.Window(time.Hour),
		batchhttp.AnswerBuffer(100), batchhttp.StallTimeout(time.Hour))
	client := &http.Client{Transport: tr}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := make(chan *http.Response, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, app.srv.URL+"/odata/big/100000", nil)
		resp, err := client.Do(req)
		assert.NoError(t, err)
		first <- resp
	}()
	trWaitQueued(t, tr, 1)
	second := make(chan string, 1)
	go func() {
		got, err := trGet(context.Background(), client, app.srv.URL+"/odata/items/2")
		assert.NoError(t, err)
		second <- got
	}()
	resp := <-first
	require.NotNil(t, resp)
	cancel()
	assert.Equal(t, `200 {"id":"2"}`, <-second, "not held up by the unread body (StallTimeout is an hour)")
	_, err := io.ReadAll(resp.Body)
	assert.ErrorIs(t, err, context.Canceled)
	resp.Body.Close()
}

// A queue whose bodies would pass 8 MiB is sent first; Close sends the
// rest. Both answers, larger than AnswerBuffer, stream to their callers.
func TestTransportFlushReasons(t *testing.T) {
	app := newTrApp(t)
	var mu sync.Mutex
	var reasons []string
	tr, err := batchhttp.NewTransport(app.srv.URL+"/odata/$batch", batchhttp.Window(time.Hour),
		batchhttp.MaxRequestBody(6<<20),
		batchhttp.OnBatch(func(s batchhttp.BatchStats) {
			mu.Lock()
			reasons = append(reasons, fmt.Sprint(s.Reason, " ", s.Size))
			mu.Unlock()
		}))
	require.NoError(t, err)
	client := &http.Client{Transport: tr}
	big := strings.Repeat("x", 5<<20)
	done := make(chan int64, 2)
	for i := range 2 {
		go func() {
			resp, err := client.Post(app.srv.URL+"/odata/items", "text/plain", strings.NewReader(big))
			if !assert.NoError(t, err) {
				done <- 0
				return
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			done <- n
		}()
		if i == 0 {
			trWaitQueued(t, tr, 1)
		}
	}
	assert.EqualValues(t, len("created ")+len(big), <-done, "the first, sent when the second came")
	trWaitQueued(t, tr, 1)
	require.NoError(t, tr.Close())
	assert.EqualValues(t, len("created ")+len(big), <-done, "the second, sent by Close")
	// The two batches' OnBatch calls run on their own goroutines, in
	// either order.
	assert.ElementsMatch(t, []string{"bytes 1", "close 1"}, reasons)
	trNoGoroutines(t)
}

// Close sends what is queued, and later requests go to Base unbatched; no
// goroutine is left (checked by every test's cleanup, here explicitly).
func TestTransportClose(t *testing.T) {
	app := newTrApp(t)
	tr, err := batchhttp.NewTransport(app.srv.URL+"/odata/$batch", batchhttp.Window(time.Hour))
	require.NoError(t, err)
	client := &http.Client{Transport: tr}
	done := make(chan string, 1)
	go func() {
		got, err := trGet(context.Background(), client, app.srv.URL+"/odata/items/q")
		assert.NoError(t, err)
		done <- got
	}()
	trWaitQueued(t, tr, 1)
	require.NoError(t, tr.Close())
	assert.Equal(t, `200 {"id":"q"}`, <-done)
	assert.Equal(t, batchhttp.TransportStats{Batches: 1, Batched: 1, QueueWait: tr.Stats().QueueWait}, tr.Stats())

	got, err := trGet(context.Background(), client, app.srv.URL+"/odata/items/after")
	require.NoError(t, err)
	assert.Equal(t, `200 {"id":"after"}`, got)
	assert.EqualValues(t, 1, app.batches.Load())
	assert.EqualValues(t, 2, app.hits.Load())
	trNoGoroutines(t)
}

func TestNewTransportErrors(t *testing.T) {
	for _, u := range []string{"/relative/$batch", "ftp://host/$batch", "https://host/batch/", "%zz"} {
		_, err := batchhttp.NewTransport(u)
		assert.Error(t, err, u)
	}
	tr, err := batchhttp.NewTransport("https://tasks.googleapis.com/batch/tasks/v1")
	require.NoError(t, err)
	require.NoError(t, tr.Close())
	assert.Equal(t, "Google", batchhttp.DialectGoogle.String())
	assert.True(t, errors.Is(&batchhttp.ResponseError{Err: batchhttp.ErrMismatch}, batchhttp.ErrMismatch))
}
