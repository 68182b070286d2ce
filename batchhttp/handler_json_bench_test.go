package batchhttp

import (
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"
)

// BenchmarkHandlerJSONConcurrency runs a JSON batch of 20 independent
// requests whose handler waits 10 ms, as a slow backend would, with
// Concurrency(1) and Concurrency(20): about 200 ms and about 10 ms a
// batch.
//
//	go test -run='^$' -bench=HandlerJSONConcurrency -benchtime=20x ./batchhttp
func BenchmarkHandlerJSONConcurrency(b *testing.B) {
	const n, wait = 20, 10 * time.Millisecond
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(wait)
		io.WriteString(w, `{"ok":true}`)
	})
	data := []byte(independentGETs(n, "/me/events/"))
	for _, conc := range []int{1, n} {
		b.Run(fmt.Sprintf("requests=%d/wait=10ms/concurrency=%d", n, conc), func(b *testing.B) {
			h := Handler(next, Concurrency(conc))
			body := &rereader{}
			req, err := http.NewRequest(http.MethodPost, "http://graph.example/v1.0/$batch", body)
			if err != nil {
				b.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			w := &discardWriter{h: make(http.Header)}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				serveOnce(h, req, body, data, w)
				if w.code != http.StatusOK {
					b.Fatalf("status %d", w.code)
				}
			}
		})
	}
}
