package batchhttp

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHandlerRefusesWhatNetHTTPRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, request, want string
	}{
		{"smuggled Transfer-Encoding", "POST /items HTTP/1.1\nTransfer-Encoding: chunked\n\n5\nhello\n0\n\n", "Transfer-Encoding"},
		{"bare CR in a value", "POST /items HTTP/1.1\nX-A: one\rtwo\n\nx\n", "control byte"},
		{"NUL in a value", "POST /items HTTP/1.1\nX-A: one\x00two\n\nx\n", "control byte"},
		{"invalid header name", "POST /items HTTP/1.1\nX(A): one\n\nx\n", "not a token"},
		{"control byte in the method", "PO\x01ST /items HTTP/1.1\n\nx\n", "method"},
		{"malformed HTTP version", "GET /items HTTP/1.x\n\n", "HTTP version"},
		{"HTTP version out of range", "GET /items HTTP/11.1\n\n", "HTTP version"},
		{"two Host headers", "POST /items HTTP/1.1\nHost: a\nHost: b\n\nx\n", "Host"},
		{"Content-Length not a number", "POST /items HTTP/1.1\nContent-Length: 1x\n\nx\n", "Content-Length"},
		{"Content-Lengths disagree", "POST /items HTTP/1.1\nContent-Length: 1\nContent-Length: 2\n\nx\n", "disagree"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := newTestApp()
			body := op("b", "1", tc.request) + op("b", "2", "POST /items HTTP/1.1\n\nok\n") + "--b--\r\n"
			rec := serveBatch(t, app, body, http.Header{"Prefer": {"odata.continue-on-error"}})
			var b RequestBatch
			b.Add(newReq(t, "POST", "/items", "x"), newReq(t, "POST", "/items", "ok"))
			resps, err := b.ReadResponse(rec.Result())
			require.NoError(t, err)
			require.Equal(t, http.StatusBadRequest, resps[0].StatusCode)
			require.Contains(t, readBody(t, resps[0]), tc.want)
			require.Equal(t, http.StatusCreated, resps[1].StatusCode)
			diff(t, "served", []string{"POST /items"}, app.servedList())
			require.Equal(t, "ok", app.names(), "the refused request must not run")
		})
	}
}

func TestHandlerAnswersAsNetHTTP(t *testing.T) {
	big := "<html><body>" + strings.Repeat("x", 10<<10) + "</body></html>"
	var writeErr error
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/long": // declares 5, writes 11: cut at 5, with an error
			w.Header().Set("Content-Length", "5")
			_, writeErr = io.WriteString(w, "hello world")
		case "/short": // declares 10, writes 5
			w.Header().Set("Content-Length", "10")
			io.WriteString(w, "hello")
		case "/te":
			w.Header().Set("Transfer-Encoding", "chunked")
			io.WriteString(w, "plain")
		case "/html":
			io.WriteString(w, "<html><body>hi</body></html>")
		case "/big": // one Write larger than what is held: still sniffed
			io.WriteString(w, big)
		}
	})
	t.Run("too long", func(t *testing.T) {
		plain, batched := bothWays(t, next, "GET", "/long", "")
		require.ErrorIs(t, writeErr, http.ErrContentLength)
		require.Equal(t, "5", batched.Header.Get("Content-Length"))
		require.Equal(t, "hello", readBody(t, batched))
		require.Equal(t, plain.StatusCode, batched.StatusCode)
	})
	t.Run("short", func(t *testing.T) {
		_, batched := bothWays(t, next, "GET", "/short", "")
		require.Equal(t, http.StatusInternalServerError, batched.StatusCode)
		require.Contains(t, readBody(t, batched), "declared Content-Length 10 and wrote 5 bytes")
	})
	t.Run("HEAD", func(t *testing.T) {
		for path, length := range map[string]string{"/html": "28", "/big": ""} {
			plain, batched := bothWays(t, next, "HEAD", path, "")
			require.Equal(t, length, plain.Header.Get("Content-Length"), path)
			require.Equal(t, plain.Header.Get("Content-Length"), batched.Header.Get("Content-Length"), path)
			require.Equal(t, "text/html; charset=utf-8", plain.Header.Get("Content-Type"), path)
			require.Equal(t, plain.Header.Get("Content-Type"), batched.Header.Get("Content-Type"), path)
			require.Empty(t, readBody(t, batched))
		}
	})
	t.Run("Transfer-Encoding from next", func(t *testing.T) {
		_, batched := bothWays(t, next, "GET", "/te", "")
		require.Empty(t, batched.Header.Values("Transfer-Encoding"))
		require.Equal(t, "plain", readBody(t, batched))
	})
	t.Run("sniffed from one big Write", func(t *testing.T) {
		plain, batched := bothWays(t, next, "GET", "/big", "")
		require.Equal(t, "text/html; charset=utf-8", plain.Header.Get("Content-Type"))
		require.Equal(t, plain.Header.Get("Content-Type"), batched.Header.Get("Content-Type"))
		require.Equal(t, big, readBody(t, batched))
	})
}

func TestHandlerLateWriteAndRead(t *testing.T) {
	// A handler that leaves a goroutine writing and reading after it
	// returns: the goroutine gets errors, and no byte reaches or leaves
	// another operation. Run with -race.
	var wg sync.WaitGroup
	type late struct {
		n, m int
		werr error
		rerr error
	}
	var mu sync.Mutex
	var lates []late
	// The goroutine starts once the operation after /leak has started: by
	// then the batch has marked /leak's writer dead, which it does only
	// after next has returned. It then runs beside the later operations.
	lateGo := make(chan struct{})
	nextStarted := sync.OnceFunc(func() { close(lateGo) })
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/leak" {
			nextStarted()
			body, _ := io.ReadAll(r.Body)
			w.Write(bytes.ToUpper(body))
			return
		}
		io.WriteString(w, "own")
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-lateGo
			var l late
			l.n, l.werr = io.WriteString(w, "LEAKED")
			buf := make([]byte, 64)
			l.m, l.rerr = r.Body.Read(buf)
			w.Header().Set("X-Late", "1")
			w.(http.Flusher).Flush()
			mu.Lock()
			lates = append(lates, l)
			mu.Unlock()
		}()
	})
	body := op("b", "1", "POST /leak HTTP/1.1\n\nsecret one\n")
	for i := 0; i < 20; i++ {
		body += op("b", "", "POST /next HTTP/1.1\n\nbody of the next operation\n")
	}
	body += "--b--\r\n"
	rec := serveBatch(t, next, body, nil)
	wg.Wait()
	require.Len(t, lates, 1)
	assert.Equal(t, 0, lates[0].n)
	assert.ErrorIs(t, lates[0].werr, errHandlerDone)
	assert.Equal(t, 0, lates[0].m)
	assert.ErrorIs(t, lates[0].rerr, errHandlerDone)
	out := rec.Body.String()
	require.NotContains(t, out, "LEAKED")
	require.NotContains(t, out, "X-Late")
	require.Equal(t, 20, strings.Count(out, "BODY OF THE NEXT OPERATION"))
	require.Contains(t, out, "\r\nown\r\n--")
}

func TestHandlerBodyAfterClose(t *testing.T) {
	var err error
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body.Close()
		_, err = r.Body.Read(make([]byte, 8))
	})
	serveBatch(t, next, op("b", "", "POST /x HTTP/1.1\n\nbody\n")+"--b--\r\n", nil)
	require.True(t, errors.Is(err, http.ErrBodyReadAfterClose), "got %v", err)
}
