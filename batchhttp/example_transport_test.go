package batchhttp_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"

	"github.com/batchcodec/batch/batchhttp"
)

// Batch the calls of any Go API client: give it an *http.Client whose
// Transport is a batchhttp.Transport, and the calls its goroutines make at
// about the same time reach the server as one batch. Here twenty goroutines
// call a Google-style API; the server (a fake, with batchhttp.Handler at
// Google's batch path /batch/<api>/<version>) receives one HTTP request.
func ExampleTransport() {
	var hits atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("GET /tasks/v1/lists/{list}/tasks/{task}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"id":%q}`, r.PathValue("task"))
	})
	mux.Handle("POST /batch/tasks/v1", batchhttp.Handler(mux))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		mux.ServeHTTP(w, r)
	}))
	defer srv.Close()

	// The one line of setup. A real program keeps the default Window (a
	// few milliseconds); the long one here makes the batch leave only when
	// it is full, so that the output does not depend on timing.
	tr, err := batchhttp.NewTransport(srv.URL+"/batch/tasks/v1", batchhttp.MaxBatch(20), batchhttp.Window(time.Minute))
	if err != nil {
		panic(err)
	}
	defer tr.Close()
	client := &http.Client{Transport: tr} // or option.WithHTTPClient(client) for google.golang.org/api

	bodies := make([]string, 20)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get(fmt.Sprintf("%s/tasks/v1/lists/L/tasks/t%d", srv.URL, i))
			if err != nil {
				panic(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			bodies[i] = string(b)
		}()
	}
	wg.Wait()
	fmt.Println(bodies[0], bodies[1], bodies[19])
	fmt.Println(len(bodies), "calls,", hits.Load(), "HTTP request")
	// Output:
	// {"id":"t0"} {"id":"t1"} {"id":"t19"}
	// 20 calls, 1 HTTP request
}
