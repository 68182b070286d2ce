package batchhttp

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/batchcodec/batch"
)

// toCRLF turns the bare LFs of a hand-written batch into CRLF.
func toCRLF(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

// outerError reads a refused batch's OData JSON error.
func outerError(t *testing.T, resp *http.Response, wantStatus int) string {
	t.Helper()
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, wantStatus, resp.StatusCode, "outer status, body %s", body)
	require.Equal(t, "application/json; charset=utf-8", resp.Header.Get("Content-Type"))
	return string(body)
}

// TestHandlerLimits checks that each limit refuses a batch before anything
// runs, with the status its doc gives.
func TestHandlerLimits(t *testing.T) {
	three := func() *RequestBatch {
		var b RequestBatch
		b.Add(newReq(t, "POST", "/items", "a"), newReq(t, "POST", "/items", "b"), newReq(t, "POST", "/items", "c"))
		return &b
	}
	big := func() *RequestBatch {
		var b RequestBatch
		b.Add(newReq(t, "POST", "/items", strings.Repeat("x", 1000)))
		return &b
	}
	nested := toCRLF(`--b
Content-Type: multipart/mixed; boundary=cs1

--cs1
Content-Type: multipart/mixed; boundary=cs2

--cs2
Content-Type: application/http

POST /items HTTP/1.1

x
--cs2--
--cs1--
--b--
`)
	raw := func(body string) func(*httptest.Server) *http.Response {
		return func(srv *httptest.Server) *http.Response {
			return postRaw(t, srv, "multipart/mixed; boundary=b", body)
		}
	}
	for _, tc := range []struct {
		name   string
		opts   []HandlerOption
		send   func(srv *httptest.Server) *http.Response
		status int
		want   string // in the error body
	}{
		{"too many operations", []HandlerOption{MaxOperations(2)},
			func(srv *httptest.Server) *http.Response { return post(t, srv, three()) },
			http.StatusRequestEntityTooLarge, "more than 2 operations"},
		{"too many operations, UCWA", []HandlerOption{MaxOperations(2)},
			func(srv *httptest.Server) *http.Response {
				return post(t, srv, three(), Encoding(batch.WithDialect(batch.UCWA)))
			},
			http.StatusTooManyRequests, "more than 2 operations"},
		{"too many parts", []HandlerOption{Decoding(batch.MaxParts(2))},
			func(srv *httptest.Server) *http.Response { return post(t, srv, three()) },
			http.StatusRequestEntityTooLarge, ""},
		{"body too large, declared", []HandlerOption{MaxBatchBytes(200)},
			func(srv *httptest.Server) *http.Response {
				b := big()
				req, err := b.NewRequest(context.Background(), srv.URL+"/$batch")
				require.NoError(t, err)
				body, err := io.ReadAll(req.Body)
				require.NoError(t, err)
				return postRaw(t, srv, req.Header.Get("Content-Type"), string(body))
			},
			http.StatusRequestEntityTooLarge, "larger than 200 bytes"},
		{"body too large, streamed", []HandlerOption{MaxBatchBytes(200)},
			func(srv *httptest.Server) *http.Response {
				// A body of unknown length: the batch goes out chunked,
				// with no Content-Length to refuse it by.
				r := newReq(t, "POST", "/items", "")
				r.Body, r.ContentLength, r.GetBody = io.NopCloser(strings.NewReader(strings.Repeat("x", 1000))), 0, nil
				var b RequestBatch
				b.Add(r)
				return post(t, srv, &b)
			},
			http.StatusRequestEntityTooLarge, ""},
		{"changeset in a changeset", nil, raw(nested),
			http.StatusBadRequest, "a changeset inside a changeset (part 1"},
		{"MaxDepth(1): no changeset at all", []HandlerOption{Decoding(batch.MaxDepth(1))}, raw(nested),
			http.StatusBadRequest, "nested too deep"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := newTestApp()
			srv := newBatchServer(t, app, tc.opts...)
			body := outerError(t, tc.send(srv), tc.status)
			require.Contains(t, body, tc.want)
			require.Empty(t, app.servedList(), "nothing may run")
		})
	}
}

func TestHandlerMalformed(t *testing.T) {
	for _, tc := range []struct {
		name, ct, body, want string
		status               int
	}{
		{"truncated", "multipart/mixed; boundary=b", toCRLF(`--b
Content-Type: application/http

POST /items HTTP/1.1

a
--b
Content-Type: application/http

POST /items HTTP/1.1

b`), "batch: truncated input at offset 130 in part 1 (0-based, every MIME part counted): input ended inside a body", http.StatusBadRequest},
		{"header without colon", "multipart/mixed; boundary=b", toCRLF(`--b
Content-Type: application/http

POST /items HTTP/1.1

a
--b
Content-Type application/http

GET /items HTTP/1.1

--b--
`), "batch: malformed header line at offset 71 in part 1", http.StatusBadRequest},
		{"response instead of request", "multipart/mixed; boundary=b", toCRLF(`--b
Content-Type: application/http

HTTP/1.1 200 OK

--b--
`), "an operation holds a response, not a request (part 0 at offset 0)", http.StatusBadRequest},
		{"not an operation", "multipart/mixed; boundary=b", toCRLF(`--b
Content-Type: text/plain

hello
--b--
`), `a part with Content-Type \"text/plain\" is neither an operation`, http.StatusBadRequest},
		{"no boundary", "multipart/mixed", "", "no boundary parameter", http.StatusBadRequest},
		{"not a batch", "text/plain", "{}", "is not a batch", http.StatusUnsupportedMediaType},
		{"JSON that is not a batch", "application/json", "{}", `no \"requests\" or \"responses\" member`, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := newTestApp()
			srv := newBatchServer(t, app)
			body := outerError(t, postRaw(t, srv, tc.ct, tc.body), tc.status)
			require.Contains(t, body, tc.want)
			require.Empty(t, app.servedList(), "nothing may run")
		})
	}
	t.Run("GET", func(t *testing.T) {
		srv := newBatchServer(t, newTestApp())
		resp, err := srv.Client().Get(srv.URL + "/$batch")
		require.NoError(t, err)
		outerError(t, resp, http.StatusMethodNotAllowed)
		require.Equal(t, "POST", resp.Header.Get("Allow"))
	})
}

func TestHandlerSafety(t *testing.T) {
	app := newTestApp()
	srv := newBatchServer(t, app, AllowHosts("public.example"))
	body := toCRLF(`--b
Content-Type: application/http

POST http://evil.example/items HTTP/1.1

evil
--b
Content-Type: application/http

POST http://public.example:80/items HTTP/1.1

ok
--b
Content-Type: application/http

POST /$batch HTTP/1.1
Content-Type: multipart/mixed; boundary=inner

--inner--
--b
Content-Type: application/http

POST /items HTTP/1.1
Content-Type: multipart/mixed; boundary=inner

--inner--
--b
Content-Type: application/http

GET /panic HTTP/1.1

--b
Content-Type: application/http

GET /items HTTP/1.1

--b--
`)
	resp := postRaw(t, srv, "multipart/mixed; boundary=b", body, "Prefer", "odata.continue-on-error")
	got := readRaw(t, resp)
	require.Len(t, got, 6)
	require.Contains(t, got[0], `403  "{\"error\":{\"code\":\"403\",\"message\":\"batch: request target \\\"http://evil.example/items\\\" in part 0 is on host`)
	require.Contains(t, got[1], `201  "created 1"`)
	require.Contains(t, got[2], `400  "{\"error\":{\"code\":\"400\",\"message\":\"batch: request target \\\"/$batch\\\" in part 2 is a batch`)
	require.Contains(t, got[3], `a batch cannot contain another batch`)
	require.Equal(t, `500  "{\"error\":{\"code\":\"500\",\"message\":\"batch: the operation's handler panicked\"}}" @0`, got[4])
	require.Equal(t, `200  "ok" @0`, got[5])
	diff(t, "served", []string{"POST /items", "GET /panic", "GET /items"}, app.servedList())
}

func TestHandlerPanicAfterFlush(t *testing.T) {
	// Part of the answer is out: the batch ends without its close
	// delimiter, and the client's decoder says so.
	srv := newBatchServer(t, newTestApp())
	var b RequestBatch
	b.Add(newReq(t, "GET", "/items", ""), newReq(t, "GET", "/flushpanic", ""), newReq(t, "GET", "/items", ""))
	resp := post(t, srv, &b, ContinueOnError(true))
	defer resp.Body.Close()
	d, err := batch.NewDecoder(resp.Body, resp.Header.Get("Content-Type"))
	require.NoError(t, err)
	n := 0
	for {
		_, err = d.Next()
		if err != nil {
			break
		}
		n++
	}
	require.ErrorIs(t, err, batch.ErrTruncated)
	require.Equal(t, 2, n)
}

func TestHandlerStreaming(t *testing.T) {
	app := newTestApp()
	srv := newBatchServer(t, app)
	var b RequestBatch
	b.Add(newReq(t, "POST", "/items", "first"), newReq(t, "GET", "/slow", ""))
	resp := post(t, srv, &b)
	defer resp.Body.Close()
	d, err := batch.NewDecoder(resp.Body, resp.Header.Get("Content-Type"))
	require.NoError(t, err)
	p, err := d.Next()
	require.NoError(t, err)
	require.Equal(t, 201, p.StatusCode(), "the first answer arrives while the last operation waits")
	close(app.release) // only now may the last operation finish
	p, err = d.Next()
	require.NoError(t, err)
	body, err := io.ReadAll(p)
	require.NoError(t, err)
	require.Equal(t, 200, p.StatusCode())
	require.Equal(t, "slow done", string(body))
	_, err = d.Next()
	require.Equal(t, io.EOF, err)
}

func TestHandlerOperationRequest(t *testing.T) {
	app := newTestApp()
	srv := newBatchServer(t, app)
	var b RequestBatch
	own := newReq(t, "GET", "/echo?x=1", "")
	own.Header.Set("Authorization", "Bearer op")
	b.Add(newReq(t, "GET", "echo", ""), own)
	resp := post(t, srv, &b, OuterHeader("Authorization", "Bearer outer"), OuterHeader("Accept-Language", "fr"),
		OuterHeader("Accept", "multipart/mixed"), ContinueOnError(true))
	host := strings.TrimPrefix(srv.URL, "http://")
	diff(t, "answers", []string{
		`200 1 "host=` + host + ` uri=/echo len=0 clen= auth=Bearer outer lang=fr accept= prefer= remote=true" @0`,
		`200 2 "host=` + host + ` uri=/echo?x=1 len=0 clen= auth=Bearer op lang=fr accept= prefer= remote=true" @0`,
	}, readRaw(t, resp))

	// The embedded Host is dropped and the body's real length wins over
	// a wrong Content-Length (bare LF, as in hand-written batches).
	raw := "--b\nContent-Type: application/http; msgtype=request\n\nPOST /echo HTTP/1.1\nHost: lyncweb.contoso.com\nContent-Length: 99\n\nhello\n--b--\n"
	resp = postRaw(t, srv, "multipart/batching; boundary=b", raw)
	diff(t, "answers", []string{`200  "host=` + host + ` uri=/echo len=5 clen=5 auth= lang= accept= prefer= remote=true" @0`}, readRaw(t, resp))
}

func TestHandlerDialects(t *testing.T) {
	build := func(changeset bool) *RequestBatch {
		var b RequestBatch
		if changeset {
			b.AddChangeset(newReq(t, "POST", "/items", "a"), newReq(t, "POST", "/items", "b"))
		}
		b.Add(newReq(t, "GET", "/items", ""))
		return &b
	}
	partTypes := func(t *testing.T, resp *http.Response) (types []string, depths []int) {
		defer resp.Body.Close()
		d, err := batch.NewDecoder(resp.Body, resp.Header.Get("Content-Type"))
		require.NoError(t, err)
		for {
			p, err := d.Next()
			if err == io.EOF {
				return types, depths
			}
			require.NoError(t, err)
			types = append(types, string(p.PartHeader().Get("Content-Type")))
			depths = append(depths, p.Depth())
		}
	}
	t.Run("OData v4", func(t *testing.T) {
		srv := newBatchServer(t, newTestApp())
		resp := post(t, srv, build(true), ODataVersion("4.0"))
		require.Equal(t, "4.0", resp.Header.Get("OData-Version"))
		require.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "multipart/mixed; boundary=batchresponse_"))
		types, depths := partTypes(t, resp)
		require.True(t, strings.HasPrefix(types[0], "multipart/mixed; boundary=changesetresponse_"), types[0])
		diff(t, "depths", []int{0, 1, 1, 0, 0}, depths) // start, two answers, end, GET
	})
	t.Run("SharePoint", func(t *testing.T) {
		srv := newBatchServer(t, newTestApp(), Encoding(batch.WithDialect(batch.SharePoint)))
		b := build(true)
		resp := post(t, srv, b, OuterHeader("DataServiceVersion", "3.0"))
		require.Equal(t, "1.0", resp.Header.Get("DataServiceVersion"))
		_, depths := partTypes(t, resp)
		diff(t, "depths", []int{0, 0, 0}, depths)

		resps, err := b.ReadResponse(post(t, srv, build(true)))
		require.NoError(t, err)
		require.Len(t, resps, 3)
		body, _ := io.ReadAll(resps[2].Body)
		require.Equal(t, "a,b,a,b", string(body))
	})
	t.Run("UCWA", func(t *testing.T) {
		srv := newBatchServer(t, newTestApp())
		resp := post(t, srv, build(false), Encoding(batch.WithDialect(batch.UCWA)))
		require.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "multipart/batching; boundary="))
		types, _ := partTypes(t, resp)
		diff(t, "part types", []string{"application/http; msgtype=response"}, types)
	})
}

// memSampler records the largest heap seen while a batch runs.
type memSampler struct {
	mu   sync.Mutex
	n    int
	peak uint64
}

func (s *memSampler) sample() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	if s.n%250 != 0 {
		return
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if ms.HeapAlloc > s.peak {
		s.peak = ms.HeapAlloc
	}
}

func TestHandlerLargeBatchMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 operations, 40 MB through loopback")
	}
	const ops, size = 10000, 2048
	var s memSampler
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.sample()
		io.Copy(w, r.Body)
	})
	srv := newBatchServer(t, echo, MaxOperations(ops))

	// The request is generated while it is sent: the client holds no
	// more than the server should.
	pr, pw := io.Pipe()
	enc, err := batch.NewEncoder(pw)
	require.NoError(t, err)
	go func() {
		payload := bytes.Repeat([]byte("0123456789abcdef"), size/16)
		op := batch.Operation{Message: batch.Request, Method: "POST", Target: "/echo"}
		for i := 0; i < ops; i++ {
			if err := enc.WriteOperation(&op, bytes.NewReader(payload)); err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		pw.CloseWithError(enc.Close())
	}()
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	req, err := http.NewRequest(http.MethodPost, srv.URL+"/$batch", pr)
	require.NoError(t, err)
	req.Header.Set("Content-Type", enc.ContentType())
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	d, err := batch.NewDecoder(resp.Body, resp.Header.Get("Content-Type"))
	require.NoError(t, err)
	n, total := 0, int64(0)
	for {
		p, err := d.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		require.Equal(t, 200, p.StatusCode(), "answer %d", n)
		m, err := io.Copy(io.Discard, p)
		require.NoError(t, err)
		total += m
		n++
	}
	require.Equal(t, ops, n)
	require.Equal(t, int64(ops*size), total)
	growth := int64(s.peak) - int64(before.HeapAlloc)
	t.Logf("heap: %d KiB before, peak %d KiB while running (%d KiB growth) for a %d MiB batch",
		before.HeapAlloc>>10, s.peak>>10, growth>>10, ops*size>>20)
	require.Less(t, growth, int64(16<<20), "heap growth while running a %d-operation batch", ops)
}

func TestHandlerSpoolFile(t *testing.T) {
	// SpoolMemory(1) puts every body in a temporary file; the batch runs
	// the same.
	app := newTestApp()
	srv := newBatchServer(t, app, SpoolMemory(1))
	var b RequestBatch
	b.Add(newReq(t, "POST", "/items", "a"), newReq(t, "GET", "/items", ""))
	resps, err := b.ReadResponse(post(t, srv, &b))
	require.NoError(t, err)
	body, _ := io.ReadAll(resps[1].Body)
	require.Equal(t, "a", string(body))

	var sp spool
	require.NoError(t, sp.fill(strings.NewReader("hello"), 0))
	require.NotNil(t, sp.f)
	got, _ := io.ReadAll(sp.reader())
	require.Equal(t, "hello", string(got))
	sp.close()
	require.Nil(t, sp.f)
}
