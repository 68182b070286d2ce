package batchhttp_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batchcodec/batch/batchhttp"
)

// trGraph is a fake Microsoft Graph $batch endpoint: it records the JSON
// batches it receives and answers each request with what answer says, in
// reverse order, as Graph may.
type trGraph struct {
	mu       sync.Mutex
	requests []map[string]any
	outer    []http.Header
	hits     int
	answer   func(req map[string]any) map[string]any // nil: no answer
}

func (g *trGraph) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.hits++
	if r.URL.Path != "/v1.0/$batch" {
		http.Error(w, "not batched: "+r.URL.Path, http.StatusTeapot)
		return
	}
	g.outer = append(g.outer, r.Header.Clone())
	var in struct {
		Requests []map[string]any `json:"requests"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	g.requests = append(g.requests, in.Requests...)
	var out []map[string]any
	for i := len(in.Requests) - 1; i >= 0; i-- {
		if a := g.answer(in.Requests[i]); a != nil {
			out = append(out, a)
		}
	}
	w.Header().Set("Content-Type", "application/json; odata.metadata=minimal")
	_ = json.NewEncoder(w).Encode(map[string]any{"@odata.context": "x", "responses": out})
}

func TestTransportGraph(t *testing.T) {
	photo := []byte{0x89, 'P', 'N', 'G', 0, 1, 2}
	g := &trGraph{answer: func(req map[string]any) map[string]any {
		id := req["id"].(string)
		switch req["url"] {
		case "/me/messages/1?$select=subject":
			return map[string]any{"id": id, "status": 200, "headers": map[string]string{"Content-Type": "application/json"},
				"body": map[string]any{"subject": "hello"}}
		case "/me/messages":
			return map[string]any{"id": id, "status": 429, "headers": map[string]string{"Retry-After": "9"},
				"body": map[string]any{"error": map[string]any{"code": "TooManyRequests"}}}
		case "/me/photo/$value":
			return map[string]any{"id": id, "status": 200, "headers": map[string]string{"Content-Type": "image/png"},
				"body": base64.StdEncoding.EncodeToString(photo)}
		case "/me/notes":
			return map[string]any{"id": id, "status": 200, "headers": map[string]string{"Content-Type": "text/plain"},
				"body": "abcd"}
		}
		return nil // /me/lost: no answer
	}}
	srv := httptest.NewServer(g)
	defer srv.Close()
	tr := newTrTransport(t, srv.URL+"/v1.0/$batch", batchhttp.UseDialect(batchhttp.DialectGraph),
		batchhttp.MaxBatch(5), batchhttp.Window(time.Hour))
	client := &http.Client{Transport: tr}

	type call struct {
		method, path, ctype, body string
	}
	calls := []call{
		{"GET", "/v1.0/me/messages/1?$select=subject", "", ""},
		{"POST", "/v1.0/me/messages", "application/json", `{"subject":"hi"}`},
		{"PUT", "/v1.0/me/photo/$value", "image/png", string(photo)},
		{"POST", "/v1.0/me/notes", "text/plain", "a note"},
		{"GET", "/v1.0/me/lost", "", ""},
	}
	got := make([]string, len(calls))
	var wg sync.WaitGroup
	for i, c := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var body io.Reader
			if c.body != "" {
				body = strings.NewReader(c.body)
			}
			req, _ := http.NewRequest(c.method, srv.URL+c.path, body)
			req.Header.Set("Authorization", "Bearer t")
			if c.ctype != "" {
				req.Header.Set("Content-Type", c.ctype)
			}
			resp, err := client.Do(req)
			if err != nil {
				got[i] = "error: " + err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			got[i] = resp.Status + " " + resp.Header.Get("Retry-After") + " " + string(b)
		}()
	}
	wg.Wait()
	assert.Equal(t, `200 OK  {"subject":"hello"}`, got[0])
	assert.Equal(t, `429 Too Many Requests 9 {"error":{"code":"TooManyRequests"}}`, got[1])
	assert.Equal(t, "200 OK  "+string(photo), got[2])
	assert.Equal(t, "200 OK  abcd", got[3], "a text/* body is not base64")
	assert.Contains(t, got[4], batchhttp.ErrMismatch.Error())

	g.mu.Lock()
	defer g.mu.Unlock()
	require.Equal(t, 1, g.hits)
	assert.Equal(t, "Bearer t", g.outer[0].Get("Authorization"))
	byURL := map[string]map[string]any{}
	for _, r := range g.requests {
		byURL[r["url"].(string)] = r
	}
	if d := cmp.Diff(map[string]any{"subject": "hi"}, byURL["/me/messages"]["body"]); d != "" {
		t.Errorf("JSON body (-want +got):\n%s", d)
	}
	assert.Equal(t, base64.StdEncoding.EncodeToString(photo), byURL["/me/photo/$value"]["body"])
	assert.Equal(t, "a note", byURL["/me/notes"]["body"])
	assert.Equal(t, map[string]any{"Content-Type": "image/png"}, byURL["/me/photo/$value"]["headers"], "no Authorization inside")
	assert.Nil(t, byURL["/me/messages/1?$select=subject"]["body"])
}

// Graph: an outer 429 is every caller's own response; a body without
// Content-Type cannot be carried and is sent alone.
func TestTransportGraphOuter(t *testing.T) {
	var mu sync.Mutex
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.Method+" "+r.URL.Path)
		mu.Unlock()
		if r.URL.Path == "/v1.0/$batch" {
			w.Header().Set("Retry-After", "4")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		_, _ = io.WriteString(w, "alone")
	}))
	defer srv.Close()
	tr := newTrTransport(t, srv.URL+"/v1.0/$batch", batchhttp.UseDialect(batchhttp.DialectGraph),
		batchhttp.MaxBatch(2), batchhttp.Window(time.Hour))
	client := &http.Client{Transport: tr}
	got := make([]string, 2)
	var wg sync.WaitGroup
	for i, body := range []string{"", "untyped"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1.0/me/x", strings.NewReader(body))
			resp, err := client.Do(req)
			if assert.NoError(t, err) {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				got[i] = resp.Status + " " + resp.Header.Get("Retry-After") + " " + string(b)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, []string{"429 Too Many Requests 4 ", "200 OK  alone"}, got)
	mu.Lock()
	defer mu.Unlock()
	assert.ElementsMatch(t, []string{"POST /v1.0/$batch", "POST /v1.0/me/x"}, paths)
}
