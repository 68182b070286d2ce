package batchhttp

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

// TestClientHandlerJSON: the client and Handler agree on JSON batches in
// every pairing of request and answer format: a JSON or Graph batch
// answered in JSON, a JSON batch answered in multipart (Accept), and a
// multipart batch answered in JSON; dependents of a failure get 424.
func TestClientHandlerJSON(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /odata/Books/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "404" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":%q}`, r.PathValue("id"))
	})
	mux.HandleFunc("POST /odata/Books", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", r.Header.Get("Content-Type"))
		w.WriteHeader(http.StatusCreated)
		w.Write(body)
	})
	mux.Handle("POST /odata/$batch", Handler(mux, Concurrency(4)))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	all := []string{"200 {\"id\":\"1\"}", "404 ", "200 {\"id\":\"2\"}", "201 {\"title\":\"x\"}", "200 {\"id\":\"3\"}", "200 {\"id\":\"4\"}"}
	dep424 := append([]string(nil), all...)
	dep424[2] = "424"
	for _, tc := range []struct {
		name string
		opts []ClientOption
		deps bool
		want []string
	}{
		{"JSON", []ClientOption{Format(FormatJSON)}, true, dep424},
		{"Graph", []ClientOption{Format(FormatGraph)}, true, dep424[:4]},
		{"JSON answered in multipart", []ClientOption{Format(FormatJSON), OuterHeader("Accept", "multipart/mixed")}, true, dep424},
		{"multipart answered in JSON", []ClientOption{ContinueOnError(true), ODataVersion("4.01"), OuterHeader("Accept", "application/json")}, false, all},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b RequestBatch
			missing := newReq(t, "GET", srv.URL+"/odata/Books/404", "")
			dep := newReq(t, "GET", srv.URL+"/odata/Books/2", "")
			post := newReq(t, "POST", srv.URL+"/odata/Books", `{"title":"x"}`)
			post.Header.Set("Content-Type", "application/json")
			b.Add(newReq(t, "GET", srv.URL+"/odata/Books/1", ""), missing, dep, post)
			if tc.deps {
				b.DependsOn(dep, missing)
			}
			if tc.name != "Graph" {
				b.AddChangeset(newReq(t, "GET", srv.URL+"/odata/Books/3", ""), newReq(t, "GET", srv.URL+"/odata/Books/4", ""))
			}
			req, err := b.NewRequest(context.Background(), srv.URL+"/odata/$batch", tc.opts...)
			require.NoError(t, err)
			resp, err := srv.Client().Do(req)
			require.NoError(t, err)
			wantJSON := tc.name != "JSON answered in multipart"
			require.Equal(t, wantJSON, strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json"), resp.Header.Get("Content-Type"))
			resps, err := b.ReadResponse(resp)
			require.NoError(t, err)
			var got []string
			for i, r := range resps {
				require.Same(t, b.Requests()[i], r.Request)
				body, err := io.ReadAll(r.Body)
				require.NoError(t, err)
				s := fmt.Sprint(r.StatusCode, " ", string(body))
				if r.StatusCode == http.StatusFailedDependency {
					s = "424" // the body is Handler's error message
				}
				got = append(got, s)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("answers mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
