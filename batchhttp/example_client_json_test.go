package batchhttp_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"

	"github.com/batchcodec/batch"
	"github.com/batchcodec/batch/batchhttp"
	"github.com/batchcodec/batch/jsonbatch"
)

// jsonBatchServer stands for an OData 4.01 service that answers JSON
// batches, as such services may, in any order (here the reverse): a request
// whose dependency failed is answered 424, a request for a missing entity
// 404, and a throttled one 429 with a Retry-After of its own.
func jsonBatchServer() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := jsonbatch.NewDecoder(r.Body)
		failed := map[string]bool{}
		var answers []jsonbatch.Operation
		for {
			it, err := d.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			a := jsonbatch.Operation{ID: string(it.ID()), Status: http.StatusOK, Body: []byte(`{"url":"` + string(it.URL()) + `"}`)}
			for _, dep := range it.DependsOn() {
				if failed[string(dep)] {
					a.Status, a.Body = http.StatusFailedDependency, nil
				}
			}
			switch url := string(it.URL()); {
			case a.Status != http.StatusOK:
			case strings.Contains(url, "404"):
				a.Status, a.Body = http.StatusNotFound, nil
			case strings.Contains(url, "busy"):
				a.Status, a.Body = http.StatusTooManyRequests, nil
				a.Header = []batch.Field{{Name: "Retry-After", Value: "10"}}
			}
			failed[a.ID] = a.Status >= 400
			answers = append(answers, a)
		}
		slices.Reverse(answers)
		w.Header().Set("Content-Type", "application/json")
		enc, _ := jsonbatch.NewEncoder(w, batch.Response)
		for i := range answers {
			enc.WriteOperation(&answers[i])
		}
		enc.Close()
	}))
}

// Send a JSON batch (OData 4.01 JSON Format §19) with a dependency between
// two requests; the server answers in its own order and the client pairs
// each answer with its request by id. A throttled request says, in its own
// answer, how long to wait.
func ExampleRequestBatch_json() {
	srv := jsonBatchServer()
	defer srv.Close()

	get := func(path string) *http.Request {
		r, _ := http.NewRequest("GET", srv.URL+"/odata/"+path, nil)
		return r
	}
	book, orders := get("Books(404)"), get("Books(404)/Orders")
	var b batchhttp.RequestBatch
	b.Add(get("Books(1)"), book, orders, get("busy"))
	b.DependsOn(orders, book) // not run if book fails

	req, err := b.NewRequest(context.Background(), srv.URL+"/odata/$batch", batchhttp.Format(batchhttp.FormatJSON))
	if err != nil {
		panic(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	resps, err := b.ReadResponse(resp)
	if err != nil {
		panic(err)
	}
	for _, r := range resps {
		body, _ := io.ReadAll(r.Body)
		fmt.Println(strings.TrimSpace(fmt.Sprint(r.Request.URL.Path, " ", r.StatusCode, " ", string(body))))
		if wait, ok := batchhttp.RetryAfter(r); ok {
			fmt.Println("  retry after", wait)
		}
	}
	// Output:
	// /odata/Books(1) 200 {"url":"Books(1)"}
	// /odata/Books(404) 404
	// /odata/Books(404)/Orders 424
	// /odata/busy 429
	//   retry after 10s
}

// Microsoft Graph takes at most 20 requests per batch, with urls relative
// to the version root: FormatGraph writes its form, and Split cuts a longer
// list.
func ExampleFormat_graph() {
	var b batchhttp.RequestBatch
	for i := range 30 {
		r, _ := http.NewRequest("GET", fmt.Sprintf("https://graph.microsoft.com/v1.0/me/messages/m%d", i), nil)
		b.Add(r)
	}
	_, err := b.NewRequest(context.Background(), "https://graph.microsoft.com/v1.0/$batch", batchhttp.Format(batchhttp.FormatGraph))
	fmt.Println(err)

	pieces, _ := b.Split(batchhttp.GraphMaxRequests)
	req, _ := pieces[1].NewRequest(context.Background(), "https://graph.microsoft.com/v1.0/$batch", batchhttp.Format(batchhttp.FormatGraph))
	body, _ := io.ReadAll(req.Body)
	fmt.Println(len(pieces), pieces[1].Len(), string(body[:63]))
	// Output:
	// batchhttp: 30 requests, and Microsoft Graph accepts at most 20 in one batch; cut it with RequestBatch.Split(GraphMaxRequests)
	// 2 10 {"requests":[{"id":"1","method":"GET","url":"/me/messages/m20"}
}
