package batchhttp_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/batchcodec/batch/batchhttp"
)

// messagesServer stands for a REST service with a $batch endpoint.
func messagesServer() *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v2.0/me/messages/{id}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"Id":%q}`, r.PathValue("id"))
	})
	mux.Handle("POST /api/v2.0/$batch", batchhttp.Handler(mux))
	return httptest.NewServer(mux)
}

// Batch 20 requests and read 20 responses: RequestBatch builds the outer
// request and matches each answer to its request.
func ExampleRequestBatch() {
	srv := messagesServer()
	defer srv.Close()

	var b batchhttp.RequestBatch
	for i := range 20 {
		r, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/v2.0/me/messages/m%d", srv.URL, i), nil)
		b.Add(r)
	}
	req, _ := b.NewRequest(context.Background(), srv.URL+"/api/v2.0/$batch")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	resps, err := b.ReadResponse(resp)
	if err != nil {
		panic(err)
	}
	for _, r := range resps[:3] {
		body, _ := io.ReadAll(r.Body)
		fmt.Println(r.StatusCode, r.Request.URL.Path, string(body))
	}
	fmt.Println(len(resps), "responses")
	// Output:
	// 200 /api/v2.0/me/messages/m0 {"Id":"m0"}
	// 200 /api/v2.0/me/messages/m1 {"Id":"m1"}
	// 200 /api/v2.0/me/messages/m2 {"Id":"m2"}
	// 20 responses
}

// Split cuts a long list into batches a server accepts, 20 requests each for
// Outlook, without splitting a changeset.
func ExampleRequestBatch_Split() {
	var b batchhttp.RequestBatch
	for i := range 45 {
		r, _ := http.NewRequest("GET", fmt.Sprintf("/api/v2.0/me/messages/m%d", i), nil)
		b.Add(r)
	}
	batches, err := b.Split(20)
	if err != nil {
		panic(err)
	}
	for _, part := range batches {
		fmt.Print(part.Len(), " ")
	}
	fmt.Println()
	// Output:
	// 20 20 5
}
