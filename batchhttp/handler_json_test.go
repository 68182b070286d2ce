package batchhttp

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/batchcodec/batch"
	"github.com/batchcodec/batch/jsonbatch"
)

// jsonAns is one answer of a JSON batch response, for comparing.
type jsonAns struct {
	ID, Group string
	Status    int
	Body      string
}

// serveJSONBatch posts doc as a JSON batch to h and returns the recorder.
func serveJSONBatch(t *testing.T, h http.Handler, doc string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "http://example.com/$batch", strings.NewReader(doc))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// readJSONAnswers decodes a JSON batch response, in the order written.
func readJSONAnswers(t *testing.T, rec *httptest.ResponseRecorder) []jsonAns {
	t.Helper()
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	d := jsonbatch.NewDecoder(rec.Body)
	var out []jsonAns
	for {
		it, err := d.Next()
		if err == io.EOF {
			return out
		}
		require.NoError(t, err)
		require.Equal(t, batch.Response, it.Message())
		out = append(out, jsonAns{ID: string(it.ID()), Group: string(it.AtomicityGroup()), Status: it.Status(), Body: string(it.Body())})
	}
}

// byID returns the answers keyed by id, failing on a repeated id.
func byID(t *testing.T, as []jsonAns) map[string]jsonAns {
	t.Helper()
	m := make(map[string]jsonAns)
	for _, a := range as {
		_, dup := m[a.ID]
		require.False(t, dup, "id %q answered twice", a.ID)
		m[a.ID] = a
	}
	return m
}

// errorCode returns "error" and the code of an OData JSON error body.
func errorCode(body string) string {
	_, rest, ok := strings.Cut(body, `"code":"`)
	if !ok {
		return body
	}
	code, _, _ := strings.Cut(rest, `"`)
	return "error " + code
}

func TestHandlerJSONDependsOn(t *testing.T) {
	app := newTestApp()
	rec := serveJSONBatch(t, Handler(app), `{"requests":[
		{"id":"1","method":"POST","url":"/items","headers":{"Content-Type":"text/plain"},"body":"alpha"},
		{"id":"2","dependsOn":["1"],"method":"GET","url":"$1"},
		{"url":"/items(99)","method":"get","id":"3"},
		{"id":"4","dependsOn":["3"],"method":"DELETE","url":"/items(1)"},
		{"id":"5","dependsOn":["2","4"],"method":"GET","url":"/items"},
		{"id":"6","dependsOn":["2"],"method":"GET","url":"/items"}
	]}`)
	got := readJSONAnswers(t, rec)
	for i := range got {
		if got[i].Status >= 400 {
			got[i].Body = errorCode(got[i].Body)
		}
	}
	want := []jsonAns{
		{ID: "1", Status: 201, Body: "created 1"},
		{ID: "2", Status: 200, Body: "alpha"},
		{ID: "3", Status: 404, Body: "no item 99\n"},
		{ID: "4", Status: 424, Body: "error 424"},
		{ID: "5", Status: 424, Body: "error 424"},
		{ID: "6", Status: 200, Body: "alpha"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("answers (-want +got):\n%s", diff)
	}
	// A request whose dependency failed does not run.
	require.Equal(t, []string{"POST /items", "GET /items(1)", "GET /items(99)", "GET /items"}, app.servedList())
}

func TestHandlerJSONRefused(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		status    int
		msg       string
	}{
		{"duplicate id", `{"requests":[{"id":"1","method":"GET","url":"/items"},{"id":"1","method":"GET","url":"/items"}]}`,
			400, `two requests have the id \"1\"`},
		{"empty id", `{"requests":[{"id":"","method":"GET","url":"/items"}]}`, 400, `empty id`},
		{"unknown dependency", `{"requests":[{"id":"1","method":"GET","url":"/items","dependsOn":["7"]}]}`,
			400, `depends on \"7\", which no request or atomicity group of the batch has`},
		{"forward reference", `{"requests":[{"id":"1","method":"GET","url":"/items","dependsOn":["2"]},{"id":"2","method":"GET","url":"/items"}]}`,
			400, `depends on \"2\", which comes later`},
		{"cycle through a later request", `{"requests":[{"id":"1","dependsOn":["2"],"method":"GET","url":"/items"},{"id":"2","dependsOn":["1"],"method":"GET","url":"/items"}]}`,
			400, `which comes later`},
		{"itself", `{"requests":[{"id":"1","method":"GET","url":"/items","dependsOn":["1"]}]}`,
			400, `depends on itself`},
		{"own group", `{"requests":[{"id":"1","atomicityGroup":"g","method":"GET","url":"/items","dependsOn":["g"]}]}`,
			400, `depends on itself`},
		{"group not adjacent", `{"requests":[{"id":"1","atomicityGroup":"g","method":"GET","url":"/items"},{"id":"2","method":"GET","url":"/items"},{"id":"3","atomicityGroup":"g","method":"GET","url":"/items"}]}`,
			400, `atomicity group \"g\" are not adjacent`},
		{"id is a group", `{"requests":[{"id":"1","atomicityGroup":"g","method":"GET","url":"/items"},{"id":"g","method":"GET","url":"/items"}]}`,
			400, `also an atomicity group`},
		{"responses", `{"responses":[{"id":"1","status":200}]}`, 400, `holds responses`},
		{"malformed", `{"requests":[{"id":"1","method":"GET","url":"/items"}`, 400, `truncated`},
		{"too many", `{"requests":[{"id":"1","method":"GET","url":"/items"},{"id":"2","method":"GET","url":"/items"},{"id":"3","method":"GET","url":"/items"},{"id":"4","method":"GET","url":"/items"}]}`,
			413, `more than 3 operations`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := newTestApp()
			rec := serveJSONBatch(t, Handler(app, MaxOperations(3)), tc.doc)
			require.Equal(t, tc.status, rec.Code, rec.Body.String())
			require.Contains(t, rec.Body.String(), tc.msg)
			require.Contains(t, rec.Body.String(), "nothing ran")
			require.Empty(t, app.servedList())
		})
	}
}

func TestHandlerJSONAtomicityGroup(t *testing.T) {
	for _, tc := range []struct {
		name      string
		patch     string // the group's second request
		hook      []string
		want      []jsonAns
		items     string
		failAfter bool
	}{
		{"commits", "/items(1)", []string{"begin", "commit"}, []jsonAns{
			{ID: "a", Group: "g", Status: 201, Body: "created 1"},
			{ID: "b", Group: "g", Status: 204},
			{ID: "c", Status: 200, Body: "y"},
		}, "y", false},
		{"rolls back", "/items(7)", []string{"begin", "rollback"}, []jsonAns{
			{ID: "a", Group: "g", Status: 424, Body: "error 424"},
			{ID: "b", Group: "g", Status: 404, Body: "no item 7\n"},
			{ID: "c", Status: 424, Body: "error 424"},
		}, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := newTestApp()
			hook := &txHook{app: app}
			rec := serveJSONBatch(t, Handler(app, Changesets(hook)), `{"requests":[
				{"id":"a","atomicityGroup":"g","method":"POST","url":"/items","headers":{"content-type":"text/plain"},"body":"x"},
				{"id":"b","atomicityGroup":"g","method":"PATCH","url":"`+tc.patch+`","headers":{"content-type":"text/plain"},"body":"y"},
				{"id":"c","dependsOn":["g"],"method":"GET","url":"/items"}]}`)
			got := readJSONAnswers(t, rec)
			for i := range got {
				if got[i].Status == http.StatusFailedDependency {
					got[i].Body = errorCode(got[i].Body)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("answers (-want +got):\n%s", diff)
			}
			require.Equal(t, tc.hook, hook.calls)
			// What the group did is kept only when it committed.
			after := httptest.NewRecorder()
			app.ServeHTTP(after, httptest.NewRequest(http.MethodGet, "/items", nil))
			require.Equal(t, tc.items, after.Body.String())
		})
	}
}

// independentGETs returns a JSON batch of n GETs of prefix and their
// index, with ids "0" to "n-1" and no dependsOn.
func independentGETs(n int, prefix string) string {
	var doc strings.Builder
	doc.WriteString(`{"requests":[`)
	for i := range n {
		if i > 0 {
			doc.WriteByte(',')
		}
		fmt.Fprintf(&doc, `{"id":"%d","method":"GET","url":"%s%d"}`, i, prefix, i)
	}
	doc.WriteString(`]}`)
	return doc.String()
}

// TestHandlerJSONConcurrent runs 20 independent requests whose handler
// returns only once all 20 have arrived: with Concurrency(20) they all do.
func TestHandlerJSONConcurrent(t *testing.T) {
	const n = 20
	var arrived sync.WaitGroup
	arrived.Add(n)
	all := make(chan struct{})
	go func() { arrived.Wait(); close(all) }()
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Done()
		select {
		case <-all:
			io.WriteString(w, r.URL.Path)
		case <-time.After(10 * time.Second):
			http.Error(w, "the others never came", http.StatusGatewayTimeout)
		}
	})
	got := byID(t, readJSONAnswers(t, serveJSONBatch(t, Handler(next, Concurrency(n)), independentGETs(n, "/r/"))))
	require.Len(t, got, n)
	for i := range n {
		a := got[strconv.Itoa(i)]
		require.Equal(t, 200, a.Status, a.Body)
		require.Equal(t, "/r/"+strconv.Itoa(i), a.Body)
	}
}

// TestHandlerJSONDependencyOrder runs random dependency graphs
// concurrently and checks, from what the handler saw, that no request
// started before every request it depends on had finished, and that at
// most Concurrency ran at once.
func TestHandlerJSONDependencyOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 20 {
		const n, conc = 30, 6
		var (
			mu             sync.Mutex
			clock          int
			started, ended = make(map[string]int), make(map[string]int)
			inFlight, peak int
		)
		next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := strings.TrimPrefix(r.URL.Path, "/r/")
			mu.Lock()
			clock++
			started[id] = clock
			inFlight++
			peak = max(peak, inFlight)
			mu.Unlock()
			time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond) // the package's source is safe for concurrent use
			mu.Lock()
			clock++
			ended[id] = clock
			inFlight--
			mu.Unlock()
		})
		deps := make([][]int, n)
		var doc strings.Builder
		doc.WriteString(`{"requests":[`)
		for i := range n {
			if i > 0 {
				doc.WriteByte(',')
				for range rng.IntN(3) {
					deps[i] = append(deps[i], rng.IntN(i))
				}
			}
			var ds []string
			for _, d := range deps[i] {
				ds = append(ds, `"`+strconv.Itoa(d)+`"`)
			}
			fmt.Fprintf(&doc, `{"id":"%d","method":"GET","url":"/r/%d","dependsOn":[%s]}`, i, i, strings.Join(ds, ","))
		}
		doc.WriteString(`]}`)
		got := byID(t, readJSONAnswers(t, serveJSONBatch(t, Handler(next, Concurrency(conc)), doc.String())))
		require.Len(t, got, n)
		for i := range n {
			id := strconv.Itoa(i)
			require.Equal(t, 200, got[id].Status)
			for _, d := range deps[i] {
				require.Greater(t, started[id], ended[strconv.Itoa(d)], "round %d: request %d started before %d, which it depends on, ended", round, i, d)
			}
		}
		require.LessOrEqual(t, peak, conc)
	}
}

func TestHandlerJSONAcceptMultipart(t *testing.T) {
	app := newTestApp()
	rec := serveJSONBatch(t, Handler(app, Changesets(&txHook{app: app})), `{"requests":[
		{"id":"1","method":"POST","url":"/items","headers":{"content-type":"text/plain"},"body":"one"},
		{"id":"a","atomicityGroup":"g1","method":"POST","url":"/items","headers":{"content-type":"text/plain"},"body":"two"},
		{"id":"b","atomicityGroup":"g1","method":"GET","url":"$a"},
		{"id":"c","atomicityGroup":"g2","method":"PATCH","url":"/items(9)","body":{}},
		{"id":"d","atomicityGroup":"g2","method":"GET","url":"/items"}]}`, "Accept", "multipart/mixed")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	d, err := batch.NewDecoder(rec.Body, rec.Header().Get("Content-Type"))
	require.NoError(t, err)
	var got []string
	for {
		p, err := d.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		switch p.Kind() {
		case batch.KindChangesetStart:
			got = append(got, "changeset")
		case batch.KindChangesetEnd:
			got = append(got, "end")
		case batch.KindOperation:
			id, _ := p.ContentID()
			got = append(got, fmt.Sprintf("%s %d", id, p.StatusCode()))
		}
	}
	// A successful group is a changeset; a failed one is answered by its
	// failure alone, unframed.
	require.Equal(t, []string{"1 201", "changeset", "a 201", "b 200", "end", "c 404"}, got)
}

func TestHandlerMultipartAcceptJSON(t *testing.T) {
	app := newTestApp()
	body := "--b\r\nContent-Type: application/http\r\nContent-ID: 1\r\n\r\n" +
		"POST /items HTTP/1.1\r\nContent-Type: text/plain\r\n\r\nfirst\r\n" +
		"--b\r\nContent-Type: multipart/mixed; boundary=cs\r\n\r\n" +
		"--cs\r\nContent-Type: application/http\r\nContent-ID: 2\r\n\r\n" +
		"PATCH $1 HTTP/1.1\r\nContent-Type: text/plain\r\n\r\nrenamed\r\n" +
		"--cs--\r\n" +
		"--b\r\nContent-Type: application/http\r\n\r\nGET /items HTTP/1.1\r\n\r\n\r\n" +
		"--b--\r\n"
	serve := func(version string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "http://example.com/$batch", strings.NewReader(body))
		req.Header.Set("Content-Type", "multipart/mixed; boundary=b")
		req.Header.Set("Accept", "application/json")
		req.Header.Set("OData-Version", version)
		rec := httptest.NewRecorder()
		Handler(app).ServeHTTP(rec, req)
		return rec
	}
	// A 4.0 client (@odata/client sends Accept: application/json) reads
	// only multipart; JSON batches are 4.01's.
	rec := serve("4.0")
	require.Equal(t, http.StatusOK, rec.Code)
	require.True(t, strings.HasPrefix(rec.Header().Get("Content-Type"), "multipart/mixed;"), rec.Header().Get("Content-Type"))
	app = newTestApp()
	got := readJSONAnswers(t, serve("4.01"))
	want := []jsonAns{
		{ID: "1", Status: 201, Body: "created 1"},
		{ID: "2", Group: "cs", Status: 204},
		{ID: "op3", Status: 200, Body: "renamed"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("answers (-want +got):\n%s", diff)
	}
}

// TestHandlerJSONHeaderNames checks the case of answers' header names:
// lower-case for a client that says OData-Version, as next wrote them for
// Graph's clients, which send no version (and whose JavaScript client
// looks for "Content-Type" exactly).
func TestHandlerJSONHeaderNames(t *testing.T) {
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"path":"`+r.URL.Path+`"}`)
	})
	for _, tc := range []struct{ version, reqName, want string }{
		{"4.01", "content-type", "content-type"}, // an OData client
		{"", "content-type", "Content-Type"},     // Graph's JavaScript client, whose names fetch lower-cases
		{"", "Content-Type", "Content-Type"},
	} {
		rec := serveJSONBatch(t, Handler(next), `{"requests":[{"id":"1","method":"POST","url":"/me/events","headers":{"`+tc.reqName+`":"application/json"},"body":{"a":1}}]}`,
			"OData-Version", tc.version)
		d := jsonbatch.NewDecoder(rec.Body)
		it, err := d.Next()
		require.NoError(t, err)
		require.Equal(t, tc.want, string(it.Header()[0].Name))
		require.Equal(t, jsonbatch.JSONBody, it.BodyKind())
		require.JSONEq(t, `{"path":"/me/events"}`, string(it.Body()))
	}
}

// TestHandlerJSONServiceRoot checks how urls are resolved: relative to the
// service root, a leading "/" too unless the path starts with the root.
func TestHandlerJSONServiceRoot(t *testing.T) {
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.URL.RequestURI()) })
	req := httptest.NewRequest(http.MethodPost, "http://graph.example/v1.0/$batch", strings.NewReader(`{"requests":[
		{"id":"1","method":"GET","url":"/me/events?$top=2"},
		{"id":"2","method":"GET","url":"me/messages"},
		{"id":"3","method":"GET","url":"/v1.0/users"},
		{"id":"4","method":"GET","url":"http://graph.example/v1.0/groups"}]}`))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	rec := httptest.NewRecorder()
	Handler(next).ServeHTTP(rec, req)
	var got []string
	for _, a := range readJSONAnswers(t, rec) {
		got = append(got, a.Body)
	}
	require.Equal(t, []string{"/v1.0/me/events?$top=2", "/v1.0/me/messages", "/v1.0/users", "/v1.0/groups"}, got)
}

// TestHandlerJSONStopOnError: a JSON batch runs everything by default;
// "continue-on-error=false" stops it after the first failure.
func TestHandlerJSONStopOnError(t *testing.T) {
	doc := `{"requests":[{"id":"1","method":"GET","url":"/items(5)"},{"id":"2","method":"GET","url":"/items"}]}`
	for _, tc := range []struct {
		prefer string
		want   []string
	}{
		{"", []string{"1 404", "2 200"}},
		{"odata.continue-on-error=false", []string{"1 404"}},
		{"continue-on-error", []string{"1 404", "2 200"}},
	} {
		rec := serveJSONBatch(t, Handler(newTestApp()), doc, "Prefer", tc.prefer)
		var got []string
		for _, a := range readJSONAnswers(t, rec) {
			got = append(got, a.ID+" "+strconv.Itoa(a.Status))
		}
		require.Equal(t, tc.want, got, "Prefer: %s", tc.prefer)
	}
}

// TestHandlerJSONUnwritableAnswer: an answer that a JSON batch cannot
// carry (a body that is not JSON under application/json) is a 500 decided
// before its group commits, so the group rolls back.
func TestHandlerJSONUnwritableAnswer(t *testing.T) {
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, "{not json")
	})
	hook := new(countingHook)
	rec := serveJSONBatch(t, Handler(next, Changesets(hook)),
		`{"requests":[{"id":"1","atomicityGroup":"g","method":"POST","url":"/a","body":{}},{"id":"2","atomicityGroup":"g","method":"POST","url":"/b","body":{}}]}`)
	got := readJSONAnswers(t, rec)
	require.Len(t, got, 2)
	require.Equal(t, 500, got[0].Status)
	require.Contains(t, got[0].Body, "cannot be written in a JSON batch")
	require.Equal(t, 424, got[1].Status)
	require.Equal(t, [3]int32{1, 0, 1}, [3]int32{hook.begin.Load(), hook.commit.Load(), hook.rollback.Load()})
}

// TestHandlerJSONMultipartHoldsLittle: a JSON batch answered in multipart
// is written in request order, so answers that complete early wait for a
// slow one before them; the handler does not run ahead of what it may
// hold (Concurrency), whatever the size of the batch.
func TestHandlerJSONMultipartHoldsLittle(t *testing.T) {
	const n, conc = 200, 2
	var served atomic.Int32
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/r/0" {
			for d := time.Now().Add(300 * time.Millisecond); served.Load() < n-1 && time.Now().Before(d); {
				time.Sleep(time.Millisecond)
			}
			fmt.Fprintf(w, "%d", served.Load())
			return
		}
		io.WriteString(w, strings.Repeat("x", 64<<10))
		served.Add(1)
	})
	rec := serveJSONBatch(t, Handler(next, Concurrency(conc)), independentGETs(n, "/r/"), "Accept", "multipart/mixed")
	require.Equal(t, http.StatusOK, rec.Code)
	d, err := batch.NewDecoder(rec.Body, rec.Header().Get("Content-Type"))
	require.NoError(t, err)
	p, err := d.Next()
	require.NoError(t, err)
	body, err := io.ReadAll(p)
	require.NoError(t, err)
	ahead, err := strconv.Atoi(string(body))
	require.NoError(t, err)
	require.LessOrEqual(t, ahead, 2*conc, "answers completed (and held) while the first ran")
}

// TestHandlerJSONStopLeavesNoGap: with continue-on-error=false, requests
// start in document order, so that what a failure leaves unrun is the end
// of the batch (the client reads ErrStopped), never a gap that a client
// would take for a lost answer (ErrMismatch), however the timing falls.
func TestHandlerJSONStopLeavesNoGap(t *testing.T) {
	doc := `{"requests":[{"id":"1","method":"GET","url":"ok"},{"id":"2","method":"GET","url":"slow","dependsOn":["1"]},
	 {"id":"3","method":"GET","url":"ok"},{"id":"4","method":"GET","url":"ok","dependsOn":["2"]},
	 {"id":"5","method":"GET","url":"fail"},{"id":"6","method":"GET","url":"ok"},{"id":"7","method":"GET","url":"ok"}]}`
	for round := range 10 {
		failed := make(chan struct{})
		next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/odata/slow":
				select {
				case <-failed:
				case <-time.After(time.Duration(round) * 5 * time.Millisecond):
				}
				time.Sleep(time.Duration(rand.IntN(3)) * time.Millisecond)
			case "/odata/fail":
				defer close(failed)
				http.Error(w, "no", http.StatusBadRequest)
			}
		})
		req := httptest.NewRequest(http.MethodPost, "http://example.com/odata/$batch", strings.NewReader(doc))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Prefer", "continue-on-error=false")
		rec := httptest.NewRecorder()
		Handler(next, Concurrency(2)).ServeHTTP(rec, req)
		var b RequestBatch
		for _, p := range []string{"ok", "slow", "ok", "ok", "fail", "ok", "ok"} {
			b.Add(newReq(t, "GET", "http://example.com/odata/"+p, ""))
		}
		resps, err := b.ReadResponse(jsonResponse(rec.Body.String()))
		if err != nil {
			require.ErrorIs(t, err, ErrStopped, "round %d: %s", round, rec.Body.String())
		}
		require.Equal(t, http.StatusBadRequest, resps[4].StatusCode)
		for i := 1; i < len(resps); i++ {
			require.False(t, resps[i-1] == nil && resps[i] != nil, "round %d: request %d unanswered before %d", round, i-1, i)
		}
	}
}

// TestHandlerConvertedTooLarge: a multipart batch that asks for a JSON
// answer but whose body JSON cannot hold (8 MiB once in base64) is
// answered in multipart, not refused.
func TestHandlerConvertedTooLarge(t *testing.T) {
	body := strings.Repeat("\x01", 6<<20)
	mp := "--b\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 1\r\n\r\n" +
		"PUT /odata/blob HTTP/1.1\r\nContent-Type: application/octet-stream\r\n\r\n" + body + "\r\n--b--\r\n"
	req := httptest.NewRequest(http.MethodPost, "http://example.com/odata/$batch", strings.NewReader(mp))
	req.Header.Set("Content-Type", "multipart/mixed; boundary=b")
	req.Header.Set("OData-Version", "4.01")
	req.Header.Set("Accept", "application/json")
	rec := httptest.NewRecorder()
	Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })).ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.True(t, strings.HasPrefix(rec.Header().Get("Content-Type"), "multipart/mixed;"))
}

// TestHandlerJSONRepeatedHeaders: a header next sets twice is one member of
// the answer's "headers", its values joined; Set-Cookie stays repeated.
func TestHandlerJSONRepeatedHeaders(t *testing.T) {
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Accept")
		w.Header().Add("Vary", "Prefer")
		w.Header().Add("Set-Cookie", "a=1")
		w.Header().Add("Set-Cookie", "b=2")
		w.WriteHeader(http.StatusNoContent)
	})
	rec := serveJSONBatch(t, Handler(next), `{"requests":[{"id":"1","method":"GET","url":"x"}]}`)
	it, err := jsonbatch.NewDecoder(rec.Body).Next()
	require.NoError(t, err)
	var got []string
	for _, f := range it.Header() {
		got = append(got, string(f.Name)+": "+string(f.Value))
	}
	require.Equal(t, []string{"Set-Cookie: a=1", "Set-Cookie: b=2", "Vary: Accept, Prefer"}, got)
}
