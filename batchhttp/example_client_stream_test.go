package batchhttp_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/batchcodec/batch/batchhttp"
)

// Stream the answers of a batch: each body is read straight from the
// response as it is decoded, so an answer of any size takes no more memory
// than the decoder's buffer.
func ExampleRequestBatch_Responses() {
	srv := messagesServer()
	defer srv.Close()

	var b batchhttp.RequestBatch
	for _, id := range []string{"m1", "m2", "m3"} {
		r, _ := http.NewRequest("GET", srv.URL+"/api/v2.0/me/messages/"+id, nil)
		b.Add(r)
	}
	req, _ := b.NewRequest(context.Background(), srv.URL+"/api/v2.0/$batch")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	for a, err := range b.Responses(resp) {
		if err != nil {
			panic(err) // a *batchhttp.ResponseError, a *batch.SyntaxError or an I/O error
		}
		n, _ := io.Copy(io.Discard, a.Response.Body) // valid until the next answer
		fmt.Println(a.Index, a.Response.StatusCode, a.Response.Request.URL.Path, n, "bytes")
	}
	// Output:
	// 0 200 /api/v2.0/me/messages/m1 11 bytes
	// 1 200 /api/v2.0/me/messages/m2 11 bytes
	// 2 200 /api/v2.0/me/messages/m3 11 bytes
}

// The same loop with a ResponseReader, the codec's Next loop. Without
// continue-on-error the server stops at the first failure: the reader
// returns the answers it gave, then ErrStopped.
func ExampleRequestBatch_NewResponseReader() {
	srv := messagesServer()
	defer srv.Close()

	var b batchhttp.RequestBatch
	for _, path := range []string{"/api/v2.0/me/messages/m1", "/api/v2.0/me/missing", "/api/v2.0/me/messages/m3"} {
		r, _ := http.NewRequest("GET", srv.URL+path, nil)
		b.Add(r)
	}
	req, _ := b.NewRequest(context.Background(), srv.URL+"/api/v2.0/$batch")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	rr, err := b.NewResponseReader(resp)
	if err != nil {
		panic(err) // the outer response: a non-2xx status, or not multipart
	}
	defer rr.Close()
	for {
		a, err := rr.Next()
		if err == io.EOF {
			break
		}
		if errors.Is(err, batchhttp.ErrStopped) {
			fmt.Println("stopped:", err)
			break
		}
		if err != nil {
			panic(err)
		}
		fmt.Println(a.Index, a.Response.StatusCode)
	}
	// Output:
	// 0 200
	// 1 404
	// stopped: batch: the server stopped after a failed operation: 3 requests, 2 responses: requests 2 to 2 did not run
}
