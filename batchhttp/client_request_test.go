package batchhttp

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/batchcodec/batch"
)

// wireRecord is what a server saw of the outer request.
type wireRecord struct {
	contentLength int64
	chunked       bool
	header        http.Header
	body          []byte
}

// recordServer answers 204 and records each outer request.
func recordServer(t *testing.T, rec *[]wireRecord) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		require.NoError(t, err)
		*rec = append(*rec, wireRecord{r.ContentLength, len(r.TransferEncoding) > 0 && r.TransferEncoding[0] == "chunked", r.Header.Clone(), body})
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestClientContentLength checks at the wire that a batch whose bodies have
// known lengths goes out with an exact Content-Length and no chunking, that
// an unknown length is streamed chunked unless BufferRequest, and that
// GetBody replays the same bytes.
func TestClientContentLength(t *testing.T) {
	var rec []wireRecord
	srv := recordServer(t, &rec)
	send := func(b *RequestBatch, opts ...ClientOption) (*http.Request, wireRecord) {
		t.Helper()
		req, err := b.NewRequest(context.Background(), srv.URL+"/odata/v4/catalog/$batch", opts...)
		require.NoError(t, err)
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return req, rec[len(rec)-1]
	}

	known := func() *RequestBatch {
		var b RequestBatch
		b.Add(newReq(t, "GET", srv.URL+"/odata/v4/catalog/Books(1)", ""))
		b.AddChangeset(newReq(t, "POST", srv.URL+"/odata/v4/catalog/Books", `{"title":"a"}`),
			newReq(t, "PATCH", "Books(2)", strings.Repeat("é", 5000)))
		b.Add(newReq(t, "DELETE", "/odata/v4/catalog/Books(3)", ""))
		return &b
	}
	req, got := send(known())
	require.False(t, got.chunked, "a batch of known length is not chunked")
	require.Equal(t, int64(len(got.body)), got.contentLength)
	require.Equal(t, got.contentLength, req.ContentLength)
	require.Equal(t, "multipart/mixed", got.header.Get("Accept"))
	require.NotNil(t, req.GetBody)
	replay, err := req.GetBody()
	require.NoError(t, err)
	again, err := io.ReadAll(replay)
	require.NoError(t, err)
	require.Equal(t, string(got.body), string(again), "GetBody replays the same bytes")

	// A changeset part with a Content-Length of its own (SharePoint) still
	// makes an exact outer Content-Length.
	_, got = send(known(), Encoding(batch.WithDialect(batch.SharePoint), batch.ChangesetContentLength(1<<20)))
	require.False(t, got.chunked)
	require.Equal(t, int64(len(got.body)), got.contentLength)

	// The answer decodes to the operations sent, their targets relative to
	// the service root.
	d, err := batch.NewDecoder(bytes.NewReader(got.body), got.header.Get("Content-Type"), batch.Strict(true))
	require.NoError(t, err)
	var targets []string
	for {
		p, err := d.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		if p.Kind() == batch.KindOperation {
			targets = append(targets, string(p.Method())+" "+string(p.Target()))
		}
	}
	require.Equal(t, []string{"GET Books(1)", "POST Books", "PATCH Books(2)", "DELETE Books(3)"}, targets)

	// A body whose length is unknown: chunked, no GetBody; with GetBody it
	// is counted; with BufferRequest it is buffered.
	unknown := func(getBody bool) *RequestBatch {
		var b RequestBatch
		r := newReq(t, "POST", "/odata/v4/catalog/Books", "")
		r.Body = io.NopCloser(strings.NewReader("stream of unknown length"))
		if getBody {
			r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("stream of unknown length")), nil }
		}
		b.Add(r)
		return &b
	}
	req, got = send(unknown(false))
	require.True(t, got.chunked)
	require.Equal(t, int64(-1), got.contentLength)
	require.Nil(t, req.GetBody)
	require.Contains(t, string(got.body), "stream of unknown length")

	_, got = send(unknown(true))
	require.False(t, got.chunked)
	require.Equal(t, int64(len(got.body)), got.contentLength)

	req, got = send(unknown(false), BufferRequest(true))
	require.False(t, got.chunked)
	require.Equal(t, int64(len(got.body)), got.contentLength)
	require.NotNil(t, req.GetBody)
}

// TestClientRedirect: GetBody lets net/http follow a 307 with the batch.
func TestClientRedirect(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /svc/items", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "items") })
	mux.Handle("POST /svc/$batch", Handler(mux))
	mux.HandleFunc("POST /old/$batch", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/svc/$batch", http.StatusTemporaryRedirect)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	var b RequestBatch
	b.Add(newReq(t, "GET", srv.URL+"/svc/items", ""))
	req, err := b.NewRequest(context.Background(), srv.URL+"/old/$batch", Targets(TargetHostRelative))
	require.NoError(t, err)
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	resps, err := b.ReadResponse(resp)
	require.NoError(t, err)
	require.Equal(t, []string{"200 items"}, bodies(t, resps))
}

func TestRequestTarget(t *testing.T) {
	base, err := url.Parse("https://host/odata/v4/catalog/$batch")
	require.NoError(t, err)
	type want struct{ target, host string }
	for _, tc := range []struct {
		url  string
		form TargetForm
		want want
	}{
		{"https://host/odata/v4/catalog/Books(1)", TargetServiceRelative, want{"Books(1)", ""}},
		{"https://HOST/odata/v4/catalog/Books?$top=2#frag", TargetServiceRelative, want{"Books?$top=2", ""}},
		{"/odata/v4/catalog/Books(1)/author", TargetServiceRelative, want{"Books(1)/author", ""}},
		{"Books(1)", TargetServiceRelative, want{"Books(1)", ""}},
		// A first segment with a colon would read as a URI scheme.
		{"https://host/odata/v4/catalog/a:b/c", TargetServiceRelative, want{"./a:b/c", ""}},
		{"https://host/odata/v4/catalog/Authors('a:b')", TargetServiceRelative, want{"Authors('a:b')", ""}},
		{"$1/Orders", TargetServiceRelative, want{"$1/Orders", ""}},
		{"https://host/odata/v4/admin/Authors", TargetServiceRelative, want{"https://host/odata/v4/admin/Authors", ""}},
		{"https://other/odata/v4/catalog/Books", TargetServiceRelative, want{"https://other/odata/v4/catalog/Books", ""}},
		{"http://host/odata/v4/catalog/Books", TargetServiceRelative, want{"http://host/odata/v4/catalog/Books", ""}},
		{"https://host/odata/v4/catalog/", TargetServiceRelative, want{"https://host/odata/v4/catalog/", ""}},
		{"https://host/odata/v4/catalog/Books(1)", TargetHostRelative, want{"/odata/v4/catalog/Books(1)", "host"}},
		{"/odata/v4/catalog/Books(1)", TargetHostRelative, want{"/odata/v4/catalog/Books(1)", "host"}},
		{"Books(1)", TargetHostRelative, want{"Books(1)", ""}},
		{"https://host/odata/v4/catalog/Books(1)", TargetAbsolute, want{"https://host/odata/v4/catalog/Books(1)", ""}},
		{"/odata/v4/catalog/Books(1)", TargetAbsolute, want{"https://host/odata/v4/catalog/Books(1)", ""}},
	} {
		r := newReq(t, "GET", tc.url, "")
		target, host := requestTarget(base, r, tc.form)
		require.Equal(t, tc.want, want{target, host}, "%s in form %d", tc.url, tc.form)
	}
}

// TestClientTargetDefaults: by default a target under the service root is
// relative to it; UCWA keeps host-relative targets with a Host header.
func TestClientTargetDefaults(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []ClientOption
		want []string
	}{
		{"default", nil, []string{"Books(1)", ""}},
		{"ucwa", []ClientOption{Encoding(batch.WithDialect(batch.UCWA))}, []string{"/odata/v4/catalog/Books(1)", "host"}},
		{"absolute", []ClientOption{Targets(TargetAbsolute)}, []string{"https://host/odata/v4/catalog/Books(1)", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b RequestBatch
			b.Add(newReq(t, "GET", "https://host/odata/v4/catalog/Books(1)", ""))
			req, err := b.NewRequest(context.Background(), "https://host/odata/v4/catalog/$batch", tc.opts...)
			require.NoError(t, err)
			d, err := batch.NewDecoder(req.Body, req.Header.Get("Content-Type"))
			require.NoError(t, err)
			p, err := d.Next()
			require.NoError(t, err)
			require.Equal(t, tc.want, []string{string(p.Target()), string(p.Header().Get("Host"))})
		})
	}
}

// TestClientInvalidOperation: NewRequest refuses what the encoder would
// refuse, before anything is sent.
func TestClientInvalidOperation(t *testing.T) {
	var b RequestBatch
	r := newReq(t, "GET", "/a", "")
	r.Header.Set("X-Bad", "a\r\nInjected: 1")
	b.Add(r)
	_, err := b.NewRequest(context.Background(), "https://host/$batch")
	require.ErrorIs(t, err, batch.ErrUnsafe)
}

// TestClientUnsafeBody: a body line that would read as a delimiter fails
// the send, so no ambiguous batch reaches the server.
func TestClientUnsafeBody(t *testing.T) {
	var b RequestBatch
	b.Add(newReq(t, "POST", "/a", "x\r\n--batch_fixed--\r\n"))
	req, err := b.NewRequest(context.Background(), "https://host/$batch", Encoding(batch.WithBoundary("batch_fixed")))
	require.NoError(t, err)
	_, err = io.ReadAll(req.Body)
	require.ErrorIs(t, err, batch.ErrUnsafe)
}

// settledGoroutines waits until the number of goroutines is at most n and
// returns it, or the last count after a while.
func settledGoroutines(n int) int {
	got := runtime.NumGoroutine()
	for i := 0; i < 100 && got > n; i++ {
		time.Sleep(10 * time.Millisecond)
		got = runtime.NumGoroutine()
	}
	return got
}

// TestClientNoGoroutine: building requests that are never sent, or sent
// with a cancelled context, leaves no goroutine behind, and closing the
// outer body closes the requests' bodies.
func TestClientNoGoroutine(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) }))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{}}
	before := runtime.NumGoroutine()
	closed := 0
	for range 50 {
		var b RequestBatch
		r := newReq(t, "POST", "/a", "")
		r.Body = closeCounter{strings.NewReader("body"), &closed}
		b.Add(r, newReq(t, "GET", "/b", ""))
		req, err := b.NewRequest(context.Background(), srv.URL+"/$batch")
		require.NoError(t, err)
		require.NotNil(t, req)
	}
	require.LessOrEqual(t, settledGoroutines(before), before, "goroutines left by NewRequest")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 10 {
		var b RequestBatch
		r := newReq(t, "POST", "/a", "")
		r.Body = closeCounter{strings.NewReader("body"), &closed}
		b.Add(r)
		req, err := b.NewRequest(ctx, srv.URL+"/$batch")
		require.NoError(t, err)
		_, err = client.Do(req)
		require.ErrorIs(t, err, context.Canceled)
	}
	client.CloseIdleConnections()
	require.LessOrEqual(t, settledGoroutines(before), before, "goroutines left by cancelled requests")
	require.Equal(t, 10, closed, "closing the outer body closes the bodies not yet read")
}

type closeCounter struct {
	io.Reader
	n *int
}

func (c closeCounter) Close() error { *c.n++; return nil }

// TestClientOuterStatus: the outer status comes first, whatever the
// Content-Type; an answer that is neither multipart nor JSON is refused
// clearly.
func TestClientOuterStatus(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		ct     string
		body   string
		header []string
		want   []string
	}{
		{"503 with a multipart body", 503, "multipart/mixed; boundary=b", "--b\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 200 OK\r\n\r\n\r\n--b--\r\n",
			[]string{"Retry-After", "120"}, []string{"503 Service Unavailable", "Retry-After 120", `body "--b`}},
		{"401", 401, "text/plain", "token expired", nil, []string{"401 Unauthorized", `body "token expired"`}},
		{"HTML from a proxy", 200, "text/html; charset=utf-8", `<html>login</html>`, nil,
			[]string{"200 OK", "neither multipart nor a JSON batch", `body "<html>login</html>"`}},
		{"long body excerpted", 500, "text/html", strings.Repeat("x", 20000), nil, []string{"500 Internal Server Error", `x"...`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{"Content-Type": {tc.ct}}
			for i := 0; i+1 < len(tc.header); i += 2 {
				h.Set(tc.header[i], tc.header[i+1])
			}
			resp := &http.Response{StatusCode: tc.status, Status: strconv.Itoa(tc.status) + " " + http.StatusText(tc.status), Header: h,
				Body: io.NopCloser(strings.NewReader(tc.body))}
			resps, err := gets(t, 1).ReadResponse(resp)
			require.Nil(t, resps)
			require.ErrorIs(t, err, ErrNotBatch)
			var re *ResponseError
			require.ErrorAs(t, err, &re)
			require.Equal(t, tc.status, re.Response.StatusCode)
			require.LessOrEqual(t, len(re.Body), maxErrorBody)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

// TestClientBodyLength: a body longer or shorter than its ContentLength
// fails the send with an error that names the request, rather than a batch
// whose Content-Length lies.
func TestClientBodyLength(t *testing.T) {
	for _, body := range []string{"longer than said", "short"} {
		var b RequestBatch
		r := newReq(t, "POST", "/a", "")
		r.Body = io.NopCloser(strings.NewReader(body))
		r.ContentLength = 10
		b.Add(newReq(t, "GET", "/first", ""), r)
		req, err := b.NewRequest(context.Background(), "https://host/$batch")
		require.NoError(t, err)
		require.Positive(t, req.ContentLength)
		_, err = io.ReadAll(req.Body)
		require.ErrorContains(t, err, "the body of request 1 has")
	}
}
