package batchhttp_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/batchcodec/batch"
	"github.com/batchcodec/batch/batchhttp"
)

// TestTransportCancelAfterSplit: a request the encoder refuses is sent
// alone; once the callers left in the batch have all gone, the batch
// request is cancelled, so the server stops working for nobody.
func TestTransportCancelAfterSplit(t *testing.T) {
	slowCtxDone := make(chan struct{}, 1)
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /odata/items/{id}", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "item") })
	mux.HandleFunc("GET /odata/slow", func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-r.Context().Done():
			slowCtxDone <- struct{}{}
		case <-release:
		}
	})
	mux.Handle("POST /odata/$batch", batchhttp.Handler(mux))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	tr, err := batchhttp.NewTransport(srv.URL+"/odata/$batch", batchhttp.MaxBatch(2), batchhttp.Window(time.Minute))
	require.NoError(t, err)
	defer tr.Close()
	defer close(release) // first, so that a failing run does not hang in Close
	c := &http.Client{Transport: tr}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	slow := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/odata/slow", nil)
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		slow <- err
	}()
	// A header value with surrounding spaces: the encoder refuses it, so
	// the request goes alone and its caller is answered.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/odata/items/2", nil)
	req.Header.Set("X-Odd", " padded ")
	resp, err := c.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	<-arrived
	require.Equal(t, int64(1), tr.Stats().Unbatched)

	cancel()
	require.ErrorIs(t, <-slow, context.Canceled)
	select {
	case <-slowCtxDone:
	case <-time.After(10 * time.Second):
		t.Fatal("every caller left in the batch has gone, but the batch request still runs")
	}
}

// TestTransportGraphRefusesCodecOptions: the multipart codec's options
// mean nothing to a JSON (Graph) batch, so NewTransport refuses them rather
// than ignore them.
func TestTransportGraphRefusesCodecOptions(t *testing.T) {
	_, err := batchhttp.NewTransport("https://graph.microsoft.com/v1.0/$batch", batchhttp.TransportCodec(nil, []batch.DecodeOption{batch.MaxParts(1)}))
	require.ErrorContains(t, err, "TransportCodec")
	tr, err := batchhttp.NewTransport("https://graph.microsoft.com/v1.0/$batch")
	require.NoError(t, err)
	require.NoError(t, tr.Close())
}

// TestTransportCancelBlockedRead: a caller whose context ends while its
// Read of a streamed answer waits on the network gets its context's error
// at once, and the Transport closes: the batch request is cancelled rather
// than left hanging on the server.
func TestTransportCancelBlockedRead(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "multipart/mixed; boundary=b")
		fmt.Fprint(w, "--b\r\nContent-Type: application/http\r\nContent-ID: 1\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")
		fmt.Fprint(w, strings.Repeat("x", 100)) // more than AnswerBuffer: streamed
		w.(http.Flusher).Flush()
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(hang) // first, so that a failing run ends

	tr, err := batchhttp.NewTransport(srv.URL+"/odata/$batch", batchhttp.AnswerBuffer(10), batchhttp.StallTimeout(time.Minute))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/odata/items/1", nil)
	require.NoError(t, err)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	require.NoError(t, err)
	read := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(resp.Body)
		read <- err
	}()
	trReadBlocked(t) // the read is waiting for bytes the server holds back
	cancel()
	select {
	case err := <-read:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(10 * time.Second):
		t.Fatal("Read still blocked after its caller's context ended")
	}
	closed := make(chan struct{})
	go func() {
		tr.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Transport.Close blocked")
	}
}

// trReadBlocked waits until a Read of a streamed answer body is blocked on
// the network, waiting for bytes the server holds back: a sleep instead
// let a slow machine cancel before the Read had begun, and the Transport
// then had no Read to interrupt.
func trReadBlocked(t *testing.T) {
	t.Helper()
	buf := make([]byte, 1<<20)
	for range 2000 {
		for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
			if strings.Contains(g, "[IO wait") && strings.Contains(g, "batchhttp.(*trBody).Read") {
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("no Read of the answer body blocked on the network")
}
