package batchhttp_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"

	"github.com/batchcodec/batch/batchhttp"
)

// ExampleHandler mounts the batch handler at /$batch in front of an
// existing REST service and sends it a batch with the package's client: a
// changeset that creates two notes, then a read that refers to the first
// one by its Content-ID, then the whole list.
func ExampleHandler() {
	var (
		mu    sync.Mutex
		notes []string
	)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /notes", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprint(w, strings.Join(notes, "; "))
	})
	mux.HandleFunc("POST /notes", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		notes = append(notes, string(body))
		id := len(notes)
		mu.Unlock()
		w.Header().Set("Location", "/notes/"+strconv.Itoa(id))
		w.WriteHeader(http.StatusCreated)
	})
	mux.HandleFunc("GET /notes/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.Atoi(r.PathValue("id"))
		mu.Lock()
		defer mu.Unlock()
		if id < 1 || id > len(notes) {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, notes[id-1])
	})
	// The batch endpoint runs each operation through mux itself.
	mux.Handle("POST /$batch", batchhttp.Handler(mux))

	srv := httptest.NewServer(mux)
	defer srv.Close()

	newReq := func(method, target, body string) *http.Request {
		r, _ := http.NewRequest(method, target, strings.NewReader(body))
		return r
	}
	var b batchhttp.RequestBatch
	b.AddChangeset(newReq("POST", "/notes", "buy milk"), newReq("POST", "notes", "call Ada"))
	b.Add(newReq("GET", "$1", ""), newReq("GET", "/notes", ""))

	req, err := b.NewRequest(context.Background(), srv.URL+"/$batch", batchhttp.ODataVersion("4.0"))
	if err != nil {
		fmt.Println(err)
		return
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	resps, err := b.ReadResponse(resp)
	if err != nil {
		fmt.Println(err)
		return
	}
	for i, r := range resps {
		body, _ := io.ReadAll(r.Body)
		fmt.Printf("%d %s %s: %s %q\n", i+1, r.Request.Method, r.Request.URL, r.Status, body)
	}
	// Output:
	// 1 POST /notes: 201 Created ""
	// 2 POST notes: 201 Created ""
	// 3 GET $1: 200 OK "buy milk"
	// 4 GET /notes: 200 OK "buy milk; call Ada"
}
