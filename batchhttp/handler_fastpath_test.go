package batchhttp

import (
	"bufio"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batchcodec/batch"
)

// The tests of the handler's fast paths: each checks a shortcut against
// what the general path (or net/http) does, from pass 1's recording and
// from a batch decoded again (SpoolMemory(1) puts it in a file).

var bothPasses = []struct {
	name string
	opts []HandlerOption
}{{"recorded", nil}, {"decoded", []HandlerOption{SpoolMemory(1)}}}

// TestHandlerDiscardBody checks io.Copy(io.Discard, r.Body), which skips
// the body without copying it: the body's length, once; an error after
// Close, and after next has returned.
func TestHandlerDiscardBody(t *testing.T) {
	for _, pass := range bothPasses {
		t.Run(pass.name, func(t *testing.T) {
			type result struct {
				n, again int64
				err      error
			}
			var mu sync.Mutex
			var got []result
			var late []error
			var wg sync.WaitGroup
			// The late read waits for the operation after /late to start:
			// by then the batch has marked /late's body dead, which it
			// does only after next has returned.
			lateGo := make(chan struct{})
			nextStarted := sync.OnceFunc(func() { close(lateGo) })
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/empty" {
					nextStarted()
				}
				var res result
				res.n, res.err = io.Copy(io.Discard, r.Body)
				res.again, _ = io.Copy(io.Discard, r.Body)
				mu.Lock()
				got = append(got, res)
				mu.Unlock()
				switch r.URL.Path {
				case "/close":
					r.Body.Close()
					_, err := io.Copy(io.Discard, r.Body)
					mu.Lock()
					late = append(late, err)
					mu.Unlock()
				case "/late":
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-lateGo
						_, err := io.Copy(io.Discard, r.Body)
						mu.Lock()
						late = append(late, err)
						mu.Unlock()
					}()
				}
			})
			body := op("b", "", "POST /a HTTP/1.1\n\nhello\n") +
				op("b", "", "POST /close HTTP/1.1\n\n"+strings.Repeat("x", 70<<10)+"\n") +
				op("b", "", "POST /late HTTP/1.1\n\nlate body\n") +
				op("b", "", "GET /empty HTTP/1.1\n\n") + "--b--\r\n"
			rec := serveBatch(t, next, body, nil, pass.opts...)
			wg.Wait()
			require.Equal(t, http.StatusOK, rec.Code)
			require.Equal(t, []result{{n: 5}, {n: 70 << 10}, {n: 9}, {}}, got)
			require.Len(t, late, 2)
			assert.ErrorIs(t, late[0], http.ErrBodyReadAfterClose)
			assert.ErrorIs(t, late[1], errHandlerDone)
		})
	}
}

// TestHandlerRepeatedHeaders checks the header next gets for a request
// that repeats names, in any case, against http.ReadRequest's.
func TestHandlerRepeatedHeaders(t *testing.T) {
	for _, request := range []string{
		"GET /a HTTP/1.1\nX-A: 1\nAccept: x\nx-a: 2\nX-A: 3\naccept: y\nX-B: 4\n\n",
		"GET /a HTTP/1.1\nAccept: 1\nAccept: 2\nHost: example.com\nX-C: 3\nx-c: 4\nACCEPT: 5\n\n",
		"POST /a HTTP/1.1\nContent-Length: 3\nContent-Type: text/plain\nX-Y: 1\nContent-Length: 3\nx-y: 2\n\nabc\n",
		"GET /a HTTP/1.1\nX-Sp ace: 1\nX-Sp ace: 2\nx-sp ace: 3\n\n",
	} {
		want, err := http.ReadRequest(bufio.NewReader(strings.NewReader(strings.ReplaceAll(request, "\n", "\r\n"))))
		require.NoError(t, err)
		delete(want.Header, "Host")
		for _, pass := range bothPasses {
			var got http.Header
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Clone() })
			rec := serveBatch(t, next, op("b", "", request)+"--b--\r\n", nil, pass.opts...)
			require.Equal(t, http.StatusOK, rec.Code)
			require.Equal(t, want.Header, got, "%s: %q", pass.name, request)
		}
	}
}

// TestHandlerLocationsPerBatch checks that the Locations a batch records
// for "$n" references, kept for the next batch as scratch space, name
// nothing in it: each batch resolves only its own Content-IDs.
func TestHandlerLocationsPerBatch(t *testing.T) {
	var paths []string
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.Path)
		if r.Method == http.MethodPost {
			w.Header().Set("Location", "/items/"+strings.TrimPrefix(r.URL.Path, "/"))
			w.WriteHeader(http.StatusCreated)
		}
	})
	h := Handler(next)
	serve := func(body string) {
		req := httptest.NewRequest(http.MethodPost, "http://example.com/$batch", strings.NewReader(body))
		req.Header.Set("Content-Type", "multipart/mixed; boundary=b")
		req.Header.Set("Prefer", "odata.continue-on-error")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		require.Equal(t, http.StatusOK, rec.Code)
	}
	for range 3 {
		serve(op("b", "1", "POST /one HTTP/1.1\n\n") + op("b", "", "GET $1/x HTTP/1.1\n\n") + "--b--\r\n")
		serve(op("b", "", "GET $1/x HTTP/1.1\n\n") + op("b", "1", "POST /two HTTP/1.1\n\n") + op("b", "", "GET $1/y HTTP/1.1\n\n") + "--b--\r\n")
	}
	want := []string{"/one", "/items/one/x", "/$1/x", "/two", "/items/two/y"}
	require.Equal(t, append(append(append([]string{}, want...), want...), want...), paths)
}

// TestSnapshotCommonKeys checks that an answer's header is taken in the
// order of its names whether it is looked up by commonKeys or iterated.
func TestSnapshotCommonKeys(t *testing.T) {
	for _, h := range []http.Header{
		{"Content-Type": {"a/b"}},
		{"Location": {"/x"}},
		{"Etag": {`"1"`}, "Cache-Control": {"no-store"}},
		{"Location": {"/x"}, "Content-Type": {"a/b"}},
		{"X-Content-Type-Options": {"nosniff"}, "Content-Type": {"text/plain"}},
		{"Content-Type": {"a/b"}, "X-Custom": {"1"}},
		{"Content-Type": {"a/b"}, "Location": {"/x"}, "Etag": {"e"}},
		{"content-type": {"lower"}},
		{"Content-Type": nil, "Location": {"/a", "/b"}},
		{"Etag": {" spaced "}, "Content-Length": {"3"}},
	} {
		aw := &answerWriter{r: &batchRun{}, header: h}
		aw.snapshot()
		var want []batch.Field
		for _, k := range slices.Sorted(maps.Keys(h)) {
			if k == "Content-Length" {
				continue
			}
			for _, v := range h[k] {
				want = append(want, batch.Field{Name: k, Value: strings.TrimSpace(v)})
			}
		}
		require.Equal(t, want, aw.fields, "%v", h)
		hasType := slices.ContainsFunc(slices.Collect(maps.Keys(h)), func(k string) bool { return strings.EqualFold(k, "Content-Type") })
		require.Equal(t, hasType, aw.hasType, "%v", h)
	}
}

type flushErrorWriter struct {
	http.ResponseWriter
	n int
}

func (w *flushErrorWriter) FlushError() error { w.n++; return nil }

type unwrapWriter struct{ http.ResponseWriter }

func (w unwrapWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// TestFlusher checks that flusher finds what http.ResponseController
// would flush.
func TestFlusher(t *testing.T) {
	rec := httptest.NewRecorder()
	require.NoError(t, flusher(unwrapWriter{rec}).flush())
	require.True(t, rec.Flushed)
	fe := &flushErrorWriter{ResponseWriter: rec}
	require.NoError(t, flusher(unwrapWriter{fe}).flush())
	require.Equal(t, 1, fe.n)
	type plain struct{ http.ResponseWriter }
	require.ErrorIs(t, flusher(plain{rec}).flush(), http.ErrNotSupported)
	require.ErrorIs(t, http.NewResponseController(plain{rec}).Flush(), http.ErrNotSupported)
}

// TestHandlerWritersDistinct checks that the writers allocated a few at a
// time go to one operation each: every operation of a batch, top level
// or in a changeset, gets a writer and a request of its own.
func TestHandlerWritersDistinct(t *testing.T) {
	writers := map[http.ResponseWriter]bool{}
	requests := map[*http.Request]bool{}
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writers[w], requests[r] = true, true
		io.WriteString(w, r.URL.Path)
	})
	var body strings.Builder
	for i := range 40 {
		if i%10 == 5 {
			body.WriteString("--b\r\nContent-Type: multipart/mixed; boundary=cs\r\n\r\n")
			for j := range 3 {
				body.WriteString(op("cs", "", "POST /cs/"+itoa(i)+"/"+itoa(j)+" HTTP/1.1\n\nx\n"))
			}
			body.WriteString("--cs--\r\n")
			continue
		}
		body.WriteString(op("b", "", "GET /top/"+itoa(i)+" HTTP/1.1\n\n"))
	}
	body.WriteString("--b--\r\n")
	for _, pass := range bothPasses {
		clear(writers)
		clear(requests)
		rec := serveBatch(t, next, body.String(), nil, pass.opts...)
		require.Equal(t, http.StatusOK, rec.Code)
		require.Len(t, writers, 36+12, pass.name)
		require.Len(t, requests, 36+12, pass.name)
		require.Equal(t, 36, strings.Count(rec.Body.String(), "\r\n/top/"), pass.name)
		require.Equal(t, 12, strings.Count(rec.Body.String(), "\r\n/cs/"), pass.name)
	}
}

// TestBodyCheckKeepsRecording checks that pass 1 records the batches
// whose bodies lie in the spool, with CRLF or bare LF line ends, empty
// bodies and bodies that end with a line break, and stops recording
// when a body is not what the spool holds where it says.
func TestBodyCheckKeepsRecording(t *testing.T) {
	batches := []string{
		changesetBatch,
		op("b", "", "POST /a HTTP/1.1\n\n\n") + op("b", "", "POST /a HTTP/1.1\n\nline\n\n") + op("b", "", "GET /a HTTP/1.1\n\n") + "--b--\r\n",
		"--b\nContent-Type: application/http\n\nPOST /a HTTP/1.1\n\nbare\n--b\nContent-Type: application/http\n\nGET /a HTTP/1.1\n\n--b--\n",
	}
	for _, load := range benchLoads(t) {
		batches = append(batches, strings.ReplaceAll(string(load.body), "batch_bench", "b"))
	}
	h := Handler(echoApp()).(*handler)
	for i, body := range batches {
		var pl recording
		pl.start([]byte(body))
		d, err := batch.NewDecoderBoundary(strings.NewReader(body), "b")
		require.NoError(t, err)
		_, status, msg := h.check(d, batch.ODataV4, nil, &pl)
		require.Zero(t, status, msg)
		require.True(t, pl.on, "batch %d", i)
		checkRecordingAsDecoder(t, body)
	}

	require.True(t, delimiterAt([]byte("\r\n--b"), false))
	require.True(t, delimiterAt([]byte("\n--b"), false))
	require.True(t, delimiterAt([]byte("--b"), true))
	require.False(t, delimiterAt([]byte("--b"), false))
	require.False(t, delimiterAt([]byte("x\r\n--b"), false))
	require.False(t, delimiterAt([]byte("\r\n-"), false))

	// A body the spool does not hold where the recording says.
	var pl recording
	mem := []byte("0123456789\r\n--b")
	pl.start(mem)
	pl.parts = append(pl.parts, recordedPart{body: 2})
	c := bodyCheck{&pl, 2}
	c.Write([]byte("2345"))
	require.True(t, pl.on)
	c.Write([]byte("x789"))
	require.False(t, pl.on)
	pl.on = true
	pl.ended(6)
	require.False(t, pl.on, "not followed by a delimiter")
	pl.on = true
	pl.ended(8)
	require.True(t, pl.on)
}

// TestRequestHelpers checks the table-driven helpers of request against
// what they stand for.
func TestRequestHelpers(t *testing.T) {
	names := []string{"Accept", "accept", "ACCEPT", "Content-Type", "content-type", "X-A-b", "x--y", "-", "--a", "A-", "a b", "X(A)",
		"Odata-Version", "OData-Version", "If-Match", "é", "A\x00", "Etag", "ETag", "X_Y", "x_y", "1a", "A1b", "Z~z"}
	for _, name := range names {
		key, ok := fieldKey(name)
		valid := name != "" && !strings.ContainsFunc(name, func(r rune) bool { return r > 0x7f || !tokenByte[byte(r)] && r != ' ' })
		require.Equal(t, valid, ok, name)
		if ok {
			require.Equal(t, textproto.CanonicalMIMEHeaderKey(name), key, name)
		}
	}

	refPlain := func(t string) (path, query string, hasQuery, ok bool) {
		if t == "" || t[0] != '/' || strings.HasPrefix(t, "//") {
			return "", "", false, false
		}
		path, query, hasQuery = strings.Cut(t, "?")
		for i := 0; i < len(path); i++ {
			if !pathByte[path[i]] {
				return "", "", false, false
			}
		}
		for i := 0; i < len(query); i++ {
			if c := query[i]; c <= ' ' || c == 0x7f || c == '#' || c >= 0x80 {
				return "", "", false, false
			}
		}
		return path, query, hasQuery, true
	}
	for _, target := range []string{"/", "/items", "/items/1", "/items?x=1", "/items?", "/?", "//x", "/a//b", "/a b", "/a%20b", "/a?b c", "/a?b#c",
		"/a#b", "/a?b?c", "items", "", "/caf\xc3\xa9", "/a?caf\xc3\xa9", "/$batch", "/a?x=/y", "/a\x7f", "/a?\x7f"} {
		p, q, h, ok := plainPath(target)
		rp, rq, rh, rok := refPlain(target)
		require.Equal(t, []any{rp, rq, rh, rok}, []any{p, q, h, ok}, target)
	}

	for _, m := range []string{"GET", "PUT", "POST", "HEAD", "PATCH", "MERGE", "DELETE", "OPTIONS", "get", "GOT", "POSTS", "X", "", "CONNECT", "TRACE", "PATCHY"} {
		got, known := methodOf([]byte(m))
		require.Equal(t, m, got)
		require.Equal(t, slices.Contains([]string{"GET", "PUT", "POST", "HEAD", "PATCH", "MERGE", "DELETE", "OPTIONS"}, m), known, m)
	}

	refMultipart := func(ct string) bool {
		ct = strings.TrimSpace(ct)
		return len(ct) >= len("multipart/") && strings.EqualFold(ct[:len("multipart/")], "multipart/")
	}
	for _, ct := range []string{"multipart/mixed; boundary=x", "Multipart/Mixed", " multipart/x", "\tmultipart/x", "\u00a0multipart/x",
		"\u0085Multipart/x", "application/json", "", "m", "multipart", "multipart/", "MULTIPART/", "\x00multipart/", "text/plain"} {
		require.Equal(t, refMultipart(ct), isMultipart(ct), "%q", ct)
	}

	for path, want := range map[string]bool{"/$batch": true, "/odata/$BATCH": true, "/$batch/": false, "/x$batch": false, "$batch": true,
		"/batch": false, "/$batcH": true, "/h": false, "/$batcx": false} {
		require.Equal(t, want, isBatchPath(path), path)
	}
}

// TestNewBoundary checks the answers' boundaries: the prefix and 32 hex
// digits, valid, and new each time.
func TestNewBoundary(t *testing.T) {
	var rn batchRun
	seen := map[string]bool{}
	for range 100 {
		b := rn.newBoundary("batchresponse_")
		require.Regexp(t, `^batchresponse_[0-9a-f]{32}$`, b)
		require.True(t, batch.ValidBoundary(b))
		require.False(t, seen[b])
		seen[b] = true
	}
	var other batchRun
	require.NotEqual(t, rn.newBoundary("changesetresponse_"), other.newBoundary("changesetresponse_"))
}

// TestHandlerLocationsSettled checks "$n" references against the Locations
// recorded so far, which go into their map only when one is looked up: a
// later answer with the same Content-ID wins, and a failed changeset's
// Content-IDs name nothing, not even what an earlier operation with the
// same Content-ID answered.
func TestHandlerLocationsSettled(t *testing.T) {
	var paths []string
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.Path)
		switch {
		case strings.HasPrefix(r.URL.Path, "/fail"):
			w.WriteHeader(http.StatusConflict)
		case r.Method == http.MethodPost:
			w.Header().Set("Location", "/items/"+strings.TrimPrefix(r.URL.Path, "/"))
			w.WriteHeader(http.StatusCreated)
		}
	})
	body := op("b", "1", "POST /a HTTP/1.1\n\n") +
		op("b", "2", "POST /b HTTP/1.1\n\n") +
		op("b", "1", "POST /c HTTP/1.1\n\n") +
		op("b", "", "GET $1/x HTTP/1.1\n\n") +
		"--b\r\nContent-Type: multipart/mixed; boundary=cs\r\n\r\n" +
		op("cs", "2", "POST /d HTTP/1.1\n\n") +
		op("cs", "3", "POST /e HTTP/1.1\n\n") +
		op("cs", "4", "POST /fail HTTP/1.1\n\n") +
		"--cs--\r\n" +
		op("b", "", "GET $2/y HTTP/1.1\n\n") +
		op("b", "", "GET $3/z HTTP/1.1\n\n") +
		op("b", "", "GET $1/w HTTP/1.1\n\n") + "--b--\r\n"
	for _, pass := range bothPasses {
		paths = nil
		rec := serveBatch(t, next, body, http.Header{"Prefer": {"odata.continue-on-error"}}, pass.opts...)
		require.Equal(t, http.StatusOK, rec.Code)
		require.Equal(t, []string{"/a", "/b", "/c", "/items/c/x", "/d", "/e", "/fail", "/$2/y", "/$3/z", "/items/c/w"}, paths, pass.name)
	}
}

// TestScanOuter checks the one pass over the batch request's header
// against the lookups it stands for.
func TestScanOuter(t *testing.T) {
	for _, h := range []http.Header{
		{"Content-Type": {"multipart/mixed; boundary=b"}},
		{"Odata-Version": {" 4.01 "}, "Odata-Maxversion": {"4.0"}, "Prefer": {"return=minimal", "odata.continue-on-error"}, "Authorization": {"Bearer x"}},
		{"Dataserviceversion": {"2.0;NetFx"}, "Maxdataserviceversion": {"3.0"}, "X-Forwarded-For": {"a", "b"}, "Accept-Language": {"fr"}},
		{"Connection": {"X-Hop, keep-alive", "x-other"}, "X-Hop": {"1"}, "X-Other": {"2"}, "X-Kept": {"3"}, "Keep-Alive": {"5"}, "If-Match": {"*"}, "Proxy-Authorization": {"p"}},
		{"Odata-Version": {}, "Prefer": {}, "Content-Length": {"3"}, "Accept": {"application/json"}},
		{"odata-version": {"4.01"}, "OData-Version": {"4.0"}},
	} {
		o := scanOuter(h)
		require.Equal(t, versionsOf(h), o.v, "%v", h)
		require.Equal(t, h.Values("Prefer"), o.prefer, "%v", h)
		require.Equal(t, inheritable(h), o.inherit, "%v", h)
	}
}

// TestHandlerChangesetHeadersInArena checks the held answers of a
// changeset, whose headers are taken into the run's arena in place or, when
// it has no room or the answer was replaced, moved there: each keeps its
// own header.
func TestHandlerChangesetHeadersInArena(t *testing.T) {
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		for i := range n {
			w.Header().Set("X-H"+strconv.Itoa(i), strconv.Itoa(n))
		}
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, "body "+strconv.Itoa(n))
	})
	var body strings.Builder
	sizes := []int{0, 1, 12, 3, 30, 2, 0, 7}
	for c := range 2 {
		body.WriteString("--b\r\nContent-Type: multipart/mixed; boundary=cs" + itoa(c) + "\r\n\r\n")
		for j, n := range sizes {
			body.WriteString(op("cs"+itoa(c), itoa(100*c+j+1), "POST /"+itoa(n)+" HTTP/1.1\n\n"))
		}
		body.WriteString("--cs" + itoa(c) + "--\r\n")
	}
	body.WriteString("--b--\r\n")
	for _, pass := range bothPasses {
		rec := serveBatch(t, next, body.String(), nil, pass.opts...)
		require.Equal(t, http.StatusOK, rec.Code)
		d, err := batch.NewDecoder(rec.Body, rec.Header().Get("Content-Type"))
		require.NoError(t, err)
		k := 0
		for {
			p, err := d.Next()
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
			if p.Kind() != batch.KindOperation {
				continue
			}
			n := sizes[k%len(sizes)]
			k++
			require.Equal(t, http.StatusCreated, p.StatusCode())
			b, err := io.ReadAll(p)
			require.NoError(t, err)
			require.Equal(t, "body "+strconv.Itoa(n), string(b))
			hdr := p.Header()
			count := 0
			for _, f := range hdr {
				if strings.HasPrefix(string(f.Name), "X-H") {
					count++
					require.Equal(t, strconv.Itoa(n), string(f.Value))
				}
			}
			require.Equal(t, n, count, "answer %d", k)
		}
		require.Equal(t, 2*len(sizes), k, pass.name)
	}
}

// TestHandlerValueMemo checks the values remembered as clean, in requests
// and answers: a value like the last one is taken as it is, any other is
// checked, refused or cleaned.
func TestHandlerValueMemo(t *testing.T) {
	var got []string
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get("X-A"))
		w.Header().Set("Content-Type", r.URL.Query().Get("ct"))
		io.WriteString(w, "x")
	})
	body := op("b", "1", "GET /a?ct=text/plain HTTP/1.1\nX-A: v\n\n") +
		op("b", "2", "GET /a?ct=text/plain HTTP/1.1\nX-A: v\n\n") +
		op("b", "3", "GET /a?ct=text/plain HTTP/1.1\nX-A: v\x01\n\n") +
		op("b", "4", "GET /a?ct=%20text/plain%09 HTTP/1.1\nX-A: v\n\n") +
		op("b", "5", "GET /a?ct=text/plain HTTP/1.1\nX-A: w\n\n") + "--b--\r\n"
	for _, pass := range bothPasses {
		got = nil
		rec := serveBatch(t, next, body, http.Header{"Prefer": {"odata.continue-on-error"}}, pass.opts...)
		require.Equal(t, http.StatusOK, rec.Code)
		require.Equal(t, []string{"v", "v", "v", "w"}, got, pass.name)
		d, err := batch.NewDecoder(rec.Body, rec.Header().Get("Content-Type"))
		require.NoError(t, err)
		var answers []string
		for {
			p, err := d.Next()
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
			answers = append(answers, strconv.Itoa(p.StatusCode())+" "+string(p.Header().Get("Content-Type")))
		}
		require.Equal(t, []string{"200 text/plain", "200 text/plain", "400 application/json; charset=utf-8", "200 text/plain", "200 text/plain"}, answers, pass.name)
	}
}
