package batchhttp_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batchcodec/batch"
	"github.com/batchcodec/batch/batchhttp"
)

// trScript is a batch endpoint whose answers a test writes: it decodes the
// batch and answers with what answer returns for the operations read.
type trScript struct {
	mu     sync.Mutex
	ops    []batch.Operation
	outer  []http.Header
	length []int64 // the outer requests' ContentLength
	answer func(ops []batch.Operation) []trAnswer
	fail   func(w http.ResponseWriter) bool // answers the batch as a whole
}

// trAnswer is one scripted answer: its Content-ID ("" for none), status and
// body.
type trAnswer struct {
	id     string
	status int
	body   string
}

func (s *trScript) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.outer = append(s.outer, r.Header.Clone())
	s.length = append(s.length, r.ContentLength)
	s.mu.Unlock()
	if s.fail != nil && s.fail(w) {
		return
	}
	d, err := batch.NewDecoder(r.Body, r.Header.Get("Content-Type"), batch.Strict(true))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var ops []batch.Operation
	for {
		p, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ops = append(ops, p.Operation())
	}
	s.mu.Lock()
	s.ops = append(s.ops, ops...)
	s.mu.Unlock()
	var buf bytes.Buffer
	enc, _ := batch.NewEncoder(&buf)
	for _, a := range s.answer(ops) {
		if err := enc.WriteOperation(&batch.Operation{Message: batch.Response, StatusCode: a.status, ContentID: a.id}, strings.NewReader(a.body)); err != nil {
			panic(err)
		}
	}
	_ = enc.Close()
	w.Header().Set("Content-Type", enc.ContentType())
	_, _ = w.Write(buf.Bytes())
}

// trCallAll does a GET of each path through tr at once, in a batch of
// len(paths), and returns "status body" or "error: …" for each.
func trCallAll(t *testing.T, srvURL string, tr http.RoundTripper, paths ...string) []string {
	t.Helper()
	client := &http.Client{Transport: tr}
	got := make([]string, len(paths))
	var wg sync.WaitGroup
	for i, p := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g, err := trGet(context.Background(), client, srvURL+p)
			if err != nil {
				g = "error: " + err.Error()
			}
			got[i] = g
		}()
	}
	wg.Wait()
	return got
}

// Google's forms: Content-ID <item-N>, path-absolute targets, answers in
// any order as <response-item-N> (or response-<item-N>), outer
// Authorization shared by the batch.
func TestTransportGoogleDialect(t *testing.T) {
	s := &trScript{answer: func(ops []batch.Operation) []trAnswer {
		var out []trAnswer
		for i := len(ops) - 1; i >= 0; i-- { // reversed
			id := "<response-" + strings.Trim(ops[i].ContentID, "<>") + ">"
			if i == 0 {
				id = "response-" + ops[i].ContentID
			}
			out = append(out, trAnswer{id, 200, ops[i].Method + " " + ops[i].Target})
		}
		return out
	}}
	srv := httptest.NewServer(s)
	defer srv.Close()
	tr := newTrTransport(t, srv.URL+"/batch/tasks/v1", batchhttp.MaxBatch(3), batchhttp.Window(time.Hour))
	client := &http.Client{Transport: tr}
	paths := []string{"/tasks/v1/users/@me/lists/a", "/tasks/v1/lists/b/tasks?showCompleted=true", "/tasks/v1/lists/c%2Fd/tasks"}
	got := make([]string, len(paths))
	var wg sync.WaitGroup
	for i, p := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodGet, srv.URL+p, nil)
			req.Header.Set("Authorization", "Bearer tok")
			resp, err := client.Do(req)
			if assert.NoError(t, err) {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				got[i] = string(body)
			}
		}()
	}
	wg.Wait()
	for i, p := range paths {
		assert.Equal(t, "GET "+p, got[i])
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for _, op := range s.ops {
		ids = append(ids, op.ContentID)
	}
	sort.Strings(ids)
	assert.Equal(t, []string{"<item-1>", "<item-2>", "<item-3>"}, ids)
	require.Len(t, s.outer, 1)
	assert.Equal(t, "Bearer tok", s.outer[0].Get("Authorization"))
}

// OData targets are written relative to the service root.
func TestTransportODataTargets(t *testing.T) {
	s := &trScript{answer: func(ops []batch.Operation) []trAnswer {
		var out []trAnswer
		for _, op := range ops {
			out = append(out, trAnswer{op.ContentID, 200, op.Target})
		}
		return out
	}}
	srv := httptest.NewServer(s)
	defer srv.Close()
	tr := newTrTransport(t, srv.URL+"/odata/v4/catalog/$batch", batchhttp.MaxBatch(2), batchhttp.Window(time.Hour),
		batchhttp.TransportHeader("OData-Version", "4.0"),
		batchhttp.TransportCodec([]batch.EncodeOption{batch.WithBoundary("batch_fixed")}, []batch.DecodeOption{batch.Strict(true)}))
	got := trCallAll(t, srv.URL, tr, "/odata/v4/catalog/Books(1)?$select=title", "/odata/v4/catalog/Authors('a:b')")
	assert.Equal(t, []string{"200 Books(1)?$select=title", "200 Authors('a:b')"}, got)
	outer := s.outer[0]
	assert.Equal(t, "odata.continue-on-error", outer.Get("Prefer"))
	assert.Equal(t, "4.0", outer.Get("OData-Version"))
	assert.Equal(t, "multipart/mixed; boundary=batch_fixed", outer.Get("Content-Type"))
	assert.Equal(t, "multipart/mixed", outer.Get("Accept"))
	assert.Empty(t, outer.Get("Authorization"), "none was given")
	assert.Positive(t, s.length[0], "sent with a Content-Length")
}

// The mismatch rule: an answer with an unknown or repeated Content-ID is
// dropped, and a caller left without an answer gets ErrMismatch, never
// another caller's answer.
func TestTransportMismatch(t *testing.T) {
	s := &trScript{answer: func(ops []batch.Operation) []trAnswer {
		byTarget := map[string]string{}
		for _, op := range ops {
			byTarget[op.Target] = op.ContentID
		}
		return []trAnswer{
			{byTarget["a"], 200, "for a"},
			{"99", 200, "for nobody"},
			{byTarget["c"], 200, "for c"},
			{byTarget["c"], 200, "for c again"},
		}
	}}
	srv := httptest.NewServer(s)
	defer srv.Close()
	var st batchhttp.BatchStats
	tr := newTrTransport(t, srv.URL+"/svc/$batch", batchhttp.MaxBatch(3), batchhttp.Window(time.Hour),
		batchhttp.OnBatch(func(s batchhttp.BatchStats) { st = s }))
	got := trCallAll(t, srv.URL, tr, "/svc/a", "/svc/b", "/svc/c")
	assert.Equal(t, "200 for a", got[0])
	assert.Contains(t, got[1], "error: ")
	assert.Contains(t, got[1], batchhttp.ErrMismatch.Error())
	assert.Equal(t, "200 for c", got[2])
	require.NoError(t, tr.Close())
	assert.Equal(t, 2, st.Answered)
	assert.Equal(t, 2, st.Dropped)
	assert.ErrorIs(t, st.Err, batchhttp.ErrMismatch)
}

// Answers without Content-ID: by position when their number matches, an
// ErrMismatch for all when it does not, ErrStopped after a failure that
// stopped the server, and ErrBatchFailed for one failure standing for all.
func TestTransportAnswersWithoutIDs(t *testing.T) {
	mk := func(answers ...trAnswer) func([]batch.Operation) []trAnswer {
		return func([]batch.Operation) []trAnswer { return answers }
	}
	tests := []struct {
		name    string
		answers func([]batch.Operation) []trAnswer
		want    []string
		wantErr []error
	}{
		{"by position", mk(trAnswer{"", 200, "1"}, trAnswer{"", 200, "2"}, trAnswer{"", 404, "3"}),
			[]string{"200 1", "200 2", "404 3"}, nil},
		{"too few", mk(trAnswer{"", 200, "1"}, trAnswer{"", 200, "2"}),
			nil, []error{batchhttp.ErrMismatch, batchhttp.ErrMismatch, batchhttp.ErrMismatch}},
		{"stopped", mk(trAnswer{"", 200, "1"}, trAnswer{"", 400, "2"}),
			[]string{"200 1", "400 2", ""}, []error{nil, nil, batchhttp.ErrStopped}},
		{"batch failed", mk(trAnswer{"", 413, "too many"}),
			nil, []error{batchhttp.ErrBatchFailed, batchhttp.ErrBatchFailed, batchhttp.ErrBatchFailed}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(&trScript{answer: tt.answers})
			defer srv.Close()
			tr := newTrTransport(t, srv.URL+"/svc/$batch", batchhttp.MaxBatch(3), batchhttp.Window(time.Hour),
				batchhttp.Batchable(func(r *http.Request) bool { return true }))
			// Sent in order, so that positions are known: one at a time
			// into the queue.
			client := &http.Client{Transport: tr}
			got := make([]string, 3)
			errs := make([]error, 3)
			var wg sync.WaitGroup
			for i := range 3 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					got[i], errs[i] = trGet(context.Background(), client, srv.URL+"/svc/"+strconv.Itoa(i))
				}()
				if i < 2 {
					trWaitQueued(t, tr, i+1)
				}
			}
			wg.Wait()
			for i := range 3 {
				var want error
				if tt.wantErr != nil {
					want = tt.wantErr[i]
				}
				if want != nil {
					assert.ErrorIs(t, errs[i], want, "caller %d", i)
					var re *batchhttp.ResponseError
					assert.ErrorAs(t, errs[i], &re)
					continue
				}
				assert.NoError(t, errs[i], "caller %d", i)
				assert.Equal(t, tt.want[i], got[i], "caller %d", i)
			}
		})
	}
}

// A failure of the whole batch goes to every caller: 429 and 5xx as each
// one's own response, with Retry-After; a 404 for the batch endpoint as
// ErrNotBatch; a network error as itself.
func TestTransportBatchFailure(t *testing.T) {
	t.Run("503", func(t *testing.T) {
		s := &trScript{fail: func(w http.ResponseWriter) bool {
			w.Header().Set("Retry-After", "3")
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
			return true
		}}
		srv := httptest.NewServer(s)
		defer srv.Close()
		tr := newTrTransport(t, srv.URL+"/svc/$batch", batchhttp.MaxBatch(2), batchhttp.Window(time.Hour))
		client := &http.Client{Transport: tr}
		var wg sync.WaitGroup
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := client.Get(srv.URL + "/svc/" + strconv.Itoa(i))
				if !assert.NoError(t, err) {
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
				assert.Equal(t, "3", resp.Header.Get("Retry-After"))
				assert.Equal(t, "overloaded\n", string(body))
				assert.Equal(t, "/svc/"+strconv.Itoa(i), resp.Request.URL.Path)
			}()
		}
		wg.Wait()
	})
	t.Run("404", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		defer srv.Close()
		tr := newTrTransport(t, srv.URL+"/svc/$batch", batchhttp.MaxBatch(2), batchhttp.Window(time.Hour))
		for _, g := range trCallAll(t, srv.URL, tr, "/svc/1", "/svc/2") {
			assert.Contains(t, g, batchhttp.ErrNotBatch.Error())
			assert.Contains(t, g, "404")
		}
	})
	t.Run("network", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		srv.Close()
		tr := newTrTransport(t, srv.URL+"/svc/$batch", batchhttp.MaxBatch(2), batchhttp.Window(time.Hour))
		for _, g := range trCallAll(t, srv.URL, tr, "/svc/1", "/svc/2") {
			assert.Contains(t, g, "sending a batch of 2 requests")
		}
	})
}

// In the Google dialect, media downloads (alt=media), uploads (/upload/...)
// and other APIs' paths are not batched, nor what Batchable refuses.
func TestTransportGooglePassThrough(t *testing.T) {
	var mu sync.Mutex
	var paths []string
	script := &trScript{answer: func(ops []batch.Operation) []trAnswer {
		var out []trAnswer
		for _, op := range ops {
			out = append(out, trAnswer{"<response-" + strings.Trim(op.ContentID, "<>") + ">", 200, "batched"})
		}
		return out
	}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.RequestURI())
		mu.Unlock()
		if r.URL.Path == "/batch/drive/v3" {
			script.ServeHTTP(w, r)
			return
		}
		_, _ = io.WriteString(w, "alone")
	}))
	defer srv.Close()
	tr := newTrTransport(t, srv.URL+"/batch/drive/v3", batchhttp.Window(time.Millisecond),
		batchhttp.Batchable(func(r *http.Request) bool { return !strings.Contains(r.URL.Path, "nobatch") }))
	got := trCallAll(t, srv.URL, tr, "/drive/v3/files/1?alt=media", "/upload/drive/v3/files", "/gmail/v1/users/me",
		"/drive/v3/files/nobatch", "/drive/v3/files/2?alt=json")
	assert.Equal(t, []string{"200 alone", "200 alone", "200 alone", "200 alone", "200 batched"}, got)
	mu.Lock()
	defer mu.Unlock()
	assert.ElementsMatch(t, []string{"/drive/v3/files/1?alt=media", "/upload/drive/v3/files", "/gmail/v1/users/me",
		"/drive/v3/files/nobatch", "/batch/drive/v3"}, paths)
}
