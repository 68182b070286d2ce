package batchhttp

import (
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// trickle is a request body that sends a few bytes and then waits: it
// closes waiting when asked for more, and fails once wait is closed.
type trickle struct {
	first   string
	sent    bool
	waiting chan struct{}
	wait    chan struct{}
}

func (t *trickle) Read(p []byte) (int, error) {
	if !t.sent {
		t.sent = true
		return copy(p, t.first), nil
	}
	close(t.waiting)
	<-t.wait
	return 0, io.ErrUnexpectedEOF
}

func (t *trickle) Close() error { return nil }

func TestHandlerMemoryFollowsBytesReceived(t *testing.T) {
	// The review's reproduction: a declared Content-Length of 1 MiB and 3
	// bytes sent must not reserve 1 MiB.
	const declared = 1 << 20
	h := Handler(newTestApp())
	body := &trickle{first: "--b", waiting: make(chan struct{}), wait: make(chan struct{})}
	req := httptest.NewRequest(http.MethodPost, "http://example.com/$batch", nil)
	req.Body, req.ContentLength = body, declared
	req.Header.Set("Content-Type", "multipart/mixed; boundary=b")

	runtime.GC()
	var before, during runtime.MemStats
	runtime.ReadMemStats(&before)
	done := make(chan *httptest.ResponseRecorder)
	go func() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		done <- rec
	}()
	<-body.waiting // the handler has the 3 bytes and waits for more
	runtime.ReadMemStats(&during)
	close(body.wait)
	rec := <-done
	require.Equal(t, http.StatusBadRequest, rec.Code)
	allocated := during.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %d bytes while waiting for a body declared %d bytes long", allocated, declared)
	require.Less(t, allocated, uint64(declared/4), "memory must follow the bytes received, not the bytes declared")
}

func TestSpoolGrowsAsBytesArrive(t *testing.T) {
	var sp spool
	defer sp.close()
	require.NoError(t, sp.fill(io.LimitReader(strings.NewReader(strings.Repeat("x", 3)), 3), 1<<20))
	require.LessOrEqual(t, cap(sp.mem), spoolFirst, "3 bytes held in at most %d bytes", spoolFirst)

	var big spool
	defer big.close()
	data := strings.Repeat("0123456789", 10000)
	require.NoError(t, big.fill(strings.NewReader(data), 1<<20))
	require.Nil(t, big.f)
	// Grown by doubling, or a buffer an earlier batch gave back to the
	// pool, which keeps none larger than spoolPooled.
	require.LessOrEqual(t, cap(big.mem), max(4*len(data), spoolPooled))
	got, err := io.ReadAll(big.reader())
	require.NoError(t, err)
	require.Equal(t, data, string(got))

	var file spool
	defer file.close()
	require.NoError(t, file.fill(strings.NewReader(data), 1000))
	require.NotNil(t, file.f, "beyond memMax the body goes to a file")
	got, err = io.ReadAll(file.reader())
	require.NoError(t, err)
	require.Equal(t, data, string(got))
}
