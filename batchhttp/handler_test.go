package batchhttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/batchcodec/batch"
)

// testApp is a small in-memory REST service for the handler's tests:
//
//	GET /items                 the names, in id order
//	POST /items                creates an item named by the body: 201, Location http://host/items(n)
//	GET|PATCH|DELETE /items(n) 200 | 204 | 204, 404 if there is no item n
//	POST /items(n)/children    adds a child named by the body: 201
//	GET /items(n)/children     the children's names
//	/panic                     panics; /flushpanic panics after flushing a part of its answer
//	/slow                      waits for the test to close release
//	/echo                      answers what it saw: headers, host, URI, length
//
// Its state is transactional: the changeset hook (txHook) gives the
// operations of a changeset a copy, kept on commit and dropped on rollback.
type testApp struct {
	mu      sync.Mutex
	st      *appState
	served  []string // "METHOD /path" of every request served, in order
	release chan struct{}
	onServe func(r *http.Request) // called first for every request
}

type appState struct {
	next     int
	items    map[int]string
	children map[int][]string
}

func (s *appState) clone() *appState {
	c := &appState{next: s.next, items: make(map[int]string), children: make(map[int][]string)}
	for k, v := range s.items {
		c.items[k] = v
	}
	for k, v := range s.children {
		c.children[k] = append([]string(nil), v...)
	}
	return c
}

func newTestApp() *testApp {
	return &testApp{st: (&appState{}).clone(), release: make(chan struct{})}
}

type txKey struct{}

// txHook is the ChangesetHook of testApp: a copy of the state per changeset.
type txHook struct {
	app        *testApp
	failBegin  bool
	failCommit bool
	calls      []string
}

func (h *txHook) Begin(ctx context.Context) (context.Context, error) {
	h.calls = append(h.calls, "begin")
	if h.failBegin {
		return nil, errors.New("no transaction today")
	}
	h.app.mu.Lock()
	defer h.app.mu.Unlock()
	return context.WithValue(ctx, txKey{}, h.app.st.clone()), nil
}

func (h *txHook) Commit(ctx context.Context) error {
	h.calls = append(h.calls, "commit")
	if h.failCommit {
		return errors.New("disk full")
	}
	h.app.mu.Lock()
	defer h.app.mu.Unlock()
	h.app.st = ctx.Value(txKey{}).(*appState)
	return nil
}

func (h *txHook) Rollback(ctx context.Context) error {
	h.calls = append(h.calls, "rollback")
	return nil
}

var itemPath = regexp.MustCompile(`^/items\((\d+)\)(/children)?$`)

func (a *testApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if a.onServe != nil {
		a.onServe(r)
	}
	a.mu.Lock()
	a.served = append(a.served, r.Method+" "+r.URL.Path)
	st := a.st
	if tx, ok := r.Context().Value(txKey{}).(*appState); ok {
		st = tx
	}
	a.mu.Unlock()
	body, _ := io.ReadAll(r.Body)

	switch path := r.URL.Path; {
	case path == "/panic":
		panic("boom")
	case path == "/flushpanic":
		io.WriteString(w, strings.Repeat("x", 100))
		w.(http.Flusher).Flush()
		panic("late boom")
	case path == "/slow":
		select {
		case <-a.release:
			io.WriteString(w, "slow done")
		case <-time.After(5 * time.Second):
			http.Error(w, "not released", http.StatusGatewayTimeout)
		}
	case path == "/echo":
		fmt.Fprintf(w, "host=%s uri=%s len=%d clen=%s auth=%s lang=%s accept=%s prefer=%s remote=%t",
			r.Host, r.RequestURI, r.ContentLength, r.Header.Get("Content-Length"), r.Header.Get("Authorization"),
			r.Header.Get("Accept-Language"), r.Header.Get("Accept"), r.Header.Get("Prefer"), r.RemoteAddr != "")
	case path == "/items" && r.Method == http.MethodGet:
		a.mu.Lock()
		ids := make([]int, 0, len(st.items))
		for id := range st.items {
			ids = append(ids, id)
		}
		sort.Ints(ids)
		var names []string
		for _, id := range ids {
			names = append(names, st.items[id])
		}
		a.mu.Unlock()
		io.WriteString(w, strings.Join(names, ","))
	case path == "/items" && r.Method == http.MethodPost:
		if len(body) == 0 {
			http.Error(w, "no name", http.StatusBadRequest)
			return
		}
		a.mu.Lock()
		st.next++
		id := st.next
		st.items[id] = string(body)
		a.mu.Unlock()
		w.Header().Set("Location", "http://"+r.Host+"/items("+strconv.Itoa(id)+")")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, "created %d", id)
	default:
		m := itemPath.FindStringSubmatch(path)
		if m == nil {
			http.NotFound(w, r)
			return
		}
		id, _ := strconv.Atoi(m[1])
		a.mu.Lock()
		defer a.mu.Unlock()
		name, ok := st.items[id]
		if !ok {
			http.Error(w, "no item "+m[1], http.StatusNotFound)
			return
		}
		switch {
		case m[2] != "" && r.Method == http.MethodPost:
			st.children[id] = append(st.children[id], string(body))
			w.WriteHeader(http.StatusCreated)
		case m[2] != "":
			io.WriteString(w, strings.Join(st.children[id], ","))
		case r.Method == http.MethodGet:
			io.WriteString(w, name)
		case r.Method == http.MethodPatch:
			st.items[id] = string(body)
			w.WriteHeader(http.StatusNoContent)
		case r.Method == http.MethodDelete:
			delete(st.items, id)
			w.WriteHeader(http.StatusNoContent)
		default:
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		}
	}
}

func (a *testApp) servedList() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.served...)
}

func (a *testApp) names() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	ids := make([]int, 0, len(a.st.items))
	for id := range a.st.items {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	var names []string
	for _, id := range ids {
		names = append(names, a.st.items[id])
	}
	return strings.Join(names, ",")
}

// newBatchServer serves Handler(app, opts...) with panics logged nowhere.
func newBatchServer(t *testing.T, app http.Handler, opts ...HandlerOption) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(Handler(app, opts...))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// rawAnswer is one answer part of a batch response, as decoded.
type rawAnswer struct {
	Depth  int
	Status int
	ID     string
	Body   string
}

func (a rawAnswer) String() string {
	return fmt.Sprintf("%d %s %q @%d", a.Status, a.ID, a.Body, a.Depth)
}

// readRaw decodes a batch response with the package's decoder.
func readRaw(t *testing.T, resp *http.Response) []string {
	t.Helper()
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "outer status")
	d, err := batch.NewDecoder(resp.Body, resp.Header.Get("Content-Type"))
	require.NoError(t, err)
	var out []string
	for {
		p, err := d.Next()
		if err == io.EOF {
			return out
		}
		require.NoError(t, err)
		if p.Kind() != batch.KindOperation {
			continue
		}
		body, err := io.ReadAll(p)
		require.NoError(t, err)
		id, _ := p.ContentID()
		out = append(out, rawAnswer{p.Depth(), p.StatusCode(), string(id), string(body)}.String())
	}
}

// post sends a batch built by the client and returns the raw response.
func post(t *testing.T, srv *httptest.Server, b *RequestBatch, opts ...ClientOption) *http.Response {
	t.Helper()
	req, err := b.NewRequest(context.Background(), srv.URL+"/$batch", opts...)
	require.NoError(t, err)
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	return resp
}

// postRaw sends a hand-written batch body.
func postRaw(t *testing.T, srv *httptest.Server, contentType, body string, header ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/$batch", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", contentType)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	return resp
}

func diff(t *testing.T, what string, want, got any) {
	t.Helper()
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, d)
	}
}

func TestHandlerOrder(t *testing.T) {
	app := newTestApp()
	srv := newBatchServer(t, app)
	var b RequestBatch
	b.Add(newReq(t, "POST", "/items", "a"), newReq(t, "POST", "items", "b"), newReq(t, "GET", "/items", ""),
		newReq(t, "PATCH", "/items(1)", "A"), newReq(t, "GET", "items(1)", ""), newReq(t, "DELETE", "/items(2)", ""),
		newReq(t, "GET", "/items", ""))
	resps, err := b.ReadResponse(post(t, srv, &b))
	require.NoError(t, err)
	var got []string
	for _, r := range resps {
		body, _ := io.ReadAll(r.Body)
		got = append(got, strconv.Itoa(r.StatusCode)+" "+string(body))
	}
	diff(t, "answers", []string{"201 created 1", "201 created 2", "200 a,b", "204 ", "200 A", "204 ", "200 A"}, got)
	diff(t, "served", []string{"POST /items", "POST /items", "GET /items", "PATCH /items(1)", "GET /items(1)",
		"DELETE /items(2)", "GET /items"}, app.servedList())
}

func TestHandlerContinueOnError(t *testing.T) {
	build := func() *RequestBatch {
		var b RequestBatch
		b.Add(newReq(t, "POST", "/items", "a"), newReq(t, "GET", "/items(99)", ""), newReq(t, "POST", "/items", "b"))
		return &b
	}
	t.Run("off", func(t *testing.T) {
		app := newTestApp()
		srv := newBatchServer(t, app)
		resp := post(t, srv, build())
		require.Empty(t, resp.Header.Get("Preference-Applied"))
		diff(t, "answers", []string{`201 1 "created 1" @0`, `404 2 "no item 99\n" @0`}, readRaw(t, resp))
		require.Equal(t, "a", app.names(), "the operation after the failure must not run")
	})
	t.Run("on", func(t *testing.T) {
		app := newTestApp()
		srv := newBatchServer(t, app)
		resp := post(t, srv, build(), ContinueOnError(true))
		require.Equal(t, "odata.continue-on-error", resp.Header.Get("Preference-Applied"))
		diff(t, "answers", []string{`201 1 "created 1" @0`, `404 2 "no item 99\n" @0`, `201 3 "created 2" @0`}, readRaw(t, resp))
		require.Equal(t, "a,b", app.names())
	})
	t.Run("OData 4.01 name", func(t *testing.T) {
		on, name := continueOnError(http.Header{"Prefer": {`return=minimal, continue-on-error`}})
		require.True(t, on)
		require.Equal(t, "continue-on-error", name)
		on, _ = continueOnError(http.Header{"Prefer": {`odata.continue-on-error=false`}})
		require.False(t, on)
	})
}

func TestHandlerContentIDChain(t *testing.T) {
	app := newTestApp()
	srv := newBatchServer(t, app, Changesets(&txHook{app: app}))
	var b RequestBatch
	b.AddChangeset(newReq(t, "POST", "/items", "parent"), newReq(t, "POST", "$1/children", "kid"))
	b.Add(newReq(t, "GET", "$1/children", ""))
	resps, err := b.ReadResponse(post(t, srv, &b, ODataVersion("4.0")))
	require.NoError(t, err)
	var got []int
	for _, r := range resps {
		got = append(got, r.StatusCode)
	}
	diff(t, "statuses", []int{201, 201, 200}, got)
	body, _ := io.ReadAll(resps[2].Body)
	require.Equal(t, "kid", string(body))
	diff(t, "served", []string{"POST /items", "POST /items(1)/children", "GET /items(1)/children"}, app.servedList())
}

func TestHandlerChangesetRollback(t *testing.T) {
	for _, tc := range []struct {
		name       string
		hook       txHook
		reqs       []string // method target body, in one changeset
		want       []string
		wantCalls  []string
		wantServed int
	}{
		{"operation fails", txHook{}, []string{"POST /items a", "POST /items b", "PATCH /items(9) c"},
			[]string{`404 3 "no item 9\n" @0`, `200 4 "" @0`}, []string{"begin", "rollback"}, 4},
		{"commit fails", txHook{failCommit: true}, []string{"POST /items a", "POST /items b"},
			[]string{`500 1 "{\"error\":{\"code\":\"500\",\"message\":\"batch: committing the changeset: disk full\"}}" @0`, `200 3 "" @0`},
			[]string{"begin", "commit"}, 3},
		{"begin fails", txHook{failBegin: true}, []string{"POST /items a", "POST /items b"},
			[]string{`500 1 "{\"error\":{\"code\":\"500\",\"message\":\"batch: beginning the changeset: no transaction today\"}}" @0`, `200 3 "" @0`},
			[]string{"begin"}, 1},
		{"success", txHook{}, []string{"POST /items a", "POST /items b"},
			[]string{`201 1 "created 1" @1`, `201 2 "created 2" @1`, `200 3 "a,b" @0`}, []string{"begin", "commit"}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := newTestApp()
			hook := tc.hook
			hook.app = app
			srv := newBatchServer(t, app, Changesets(&hook))
			var cs []*http.Request
			for _, s := range tc.reqs {
				f := strings.SplitN(s, " ", 3)
				cs = append(cs, newReq(t, f[0], f[1], f[2]))
			}
			var b RequestBatch
			b.AddChangeset(cs...)
			b.Add(newReq(t, "GET", "/items", ""))
			resp := post(t, srv, &b, ContinueOnError(true))
			diff(t, "answers", tc.want, readRaw(t, resp))
			diff(t, "hook calls", tc.wantCalls, hook.calls)
			require.Len(t, app.servedList(), tc.wantServed)
			if tc.name != "success" {
				require.Empty(t, app.names(), "a failed changeset must leave nothing behind")
			}
		})
	}
}

func TestHandlerChangesetClient(t *testing.T) {
	// The package's client maps the one failure to every request of the
	// changeset.
	app := newTestApp()
	srv := newBatchServer(t, app, Changesets(&txHook{app: app}))
	var b RequestBatch
	b.AddChangeset(newReq(t, "POST", "/items", "a"), newReq(t, "POST", "/items", ""))
	b.Add(newReq(t, "GET", "/items", ""))
	resps, err := b.ReadResponse(post(t, srv, &b, ContinueOnError(true)))
	require.NoError(t, err)
	var got []int
	for _, r := range resps {
		got = append(got, r.StatusCode)
	}
	diff(t, "statuses", []int{400, 400, 200}, got)
	require.Empty(t, app.names())
}
