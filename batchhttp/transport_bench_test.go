package batchhttp_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/batchcodec/batch/batchhttp"
)

// BenchmarkTransport1000GETs sends 1000 concurrent small GETs to a server
// that adds 1 ms of latency to every HTTP request it receives (a batch
// counts once), through a clone of http.DefaultTransport and through the
// batching Transport on top of the same. It reports the wall time per 1000
// GETs (ns/op) and the HTTP requests the server received (http-reqs/op).
// Keep runs short: -benchtime=3x.
func BenchmarkTransport1000GETs(b *testing.B) {
	const calls = 1000
	var hits atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/items/{id}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"id":%q}`, r.PathValue("id"))
	})
	mux.Handle("POST /batch/api/v1", batchhttp.Handler(mux))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		time.Sleep(time.Millisecond) // network latency
		mux.ServeHTTP(w, r)
	}))
	defer srv.Close()

	run := func(b *testing.B, rt func() (http.RoundTripper, func())) {
		hits.Store(0)
		for b.Loop() {
			t, done := rt()
			client := &http.Client{Transport: t}
			var wg sync.WaitGroup
			var failed atomic.Int64
			for i := range calls {
				wg.Add(1)
				go func() {
					defer wg.Done()
					resp, err := client.Get(fmt.Sprintf("%s/api/v1/items/%d", srv.URL, i))
					if err != nil {
						failed.Add(1)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						failed.Add(1)
					}
				}()
			}
			wg.Wait()
			done()
			if n := failed.Load(); n > 0 {
				b.Fatalf("%d of %d GETs failed", n, calls)
			}
		}
		b.ReportMetric(float64(hits.Load())/float64(b.N), "http-reqs/op")
	}
	base := func() *http.Transport { return http.DefaultTransport.(*http.Transport).Clone() }
	b.Run("transport=default", func(b *testing.B) {
		run(b, func() (http.RoundTripper, func()) {
			t := base()
			return t, t.CloseIdleConnections
		})
	})
	for _, max := range []int{0, 1000} {
		b.Run(fmt.Sprintf("transport=batching/max=%d", max), func(b *testing.B) {
			run(b, func() (http.RoundTripper, func()) {
				bt := base()
				t, err := batchhttp.NewTransport(srv.URL+"/batch/api/v1", batchhttp.Base(bt), batchhttp.MaxBatch(max))
				if err != nil {
					b.Fatal(err)
				}
				return t, func() { _ = t.Close(); bt.CloseIdleConnections() }
			})
		})
	}
}
