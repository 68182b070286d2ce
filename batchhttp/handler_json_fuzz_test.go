package batchhttp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/batchcodec/batch/jsonbatch"
)

// countingHook counts its calls; safe for concurrent use.
type countingHook struct{ begin, commit, rollback atomic.Int32 }

func (h *countingHook) Begin(ctx context.Context) (context.Context, error) {
	h.begin.Add(1)
	return ctx, nil
}

func (h *countingHook) Commit(context.Context) error {
	h.commit.Add(1)
	return nil
}

func (h *countingHook) Rollback(context.Context) error {
	h.rollback.Add(1)
	return nil
}

// FuzzHandlerJSON runs arbitrary documents as JSON batches, with 1 to 4
// requests at a time, through a handler that fails some requests. Whatever
// the input, the handler does not panic and either refuses the batch with
// an OData error, having run nothing, or answers every request exactly
// once, in a well-formed JSON batch, with each atomicity group committed
// or rolled back.
func FuzzHandlerJSON(f *testing.F) {
	seeds, _ := filepath.Glob("../jsonbatch/testdata/vectors/*requests*.json")
	for _, name := range seeds {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, uint8(0))
	}
	f.Add([]byte(`{"requests":[{"id":"1","method":"POST","url":"/fail"},{"id":"2","dependsOn":["1"],"method":"get","url":"x"},`+
		`{"id":"3","atomicityGroup":"g","method":"PATCH","url":"/a","body":{"a":1}},{"id":"4","atomicityGroup":"g","method":"GET","url":"/fail"},`+
		`{"id":"5","dependsOn":["g"],"method":"GET","url":"$3/b"}]}`), uint8(3))
	f.Fuzz(func(t *testing.T, doc []byte, conc uint8) {
		var ran atomic.Int32
		next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ran.Add(1)
			io.Copy(io.Discard, r.Body)
			if r.URL.Path == "/fail" {
				http.Error(w, "failed", http.StatusConflict)
				return
			}
			w.Header().Set("Location", "http://example.com/e")
			io.WriteString(w, r.Method+" "+r.URL.Path)
		})
		hook := new(countingHook)
		req := httptest.NewRequest(http.MethodPost, "http://example.com/$batch", bytes.NewReader(doc))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		Handler(next, Concurrency(1+int(conc%4)), Changesets(hook)).ServeHTTP(rec, req)

		if rec.Code != http.StatusOK {
			if ran.Load() != 0 {
				t.Fatalf("status %d after running %d requests", rec.Code, ran.Load())
			}
			if !bytes.HasPrefix(rec.Body.Bytes(), []byte(`{"error":{"code":"`)) {
				t.Fatalf("status %d with body %q", rec.Code, rec.Body.Bytes())
			}
			return
		}
		// Every request is answered exactly once.
		want := map[string]int{}
		d := jsonbatch.NewDecoder(bytes.NewReader(doc))
		for {
			it, err := d.Next()
			if err != nil {
				if !errors.Is(err, io.EOF) {
					t.Fatalf("the handler ran a batch the decoder refuses: %v", err)
				}
				break
			}
			want[string(it.ID())]++
		}
		d = jsonbatch.NewDecoder(rec.Body)
		for {
			it, err := d.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("the answer is not a JSON batch: %v", err)
			}
			if want[string(it.ID())]--; want[string(it.ID())] < 0 {
				t.Fatalf("id %q answered but not asked, or twice", it.ID())
			}
		}
		for id, n := range want {
			if n != 0 {
				t.Fatalf("id %q not answered", id)
			}
		}
		if b, c, r := hook.begin.Load(), hook.commit.Load(), hook.rollback.Load(); b != c+r {
			t.Fatalf("hook: %d begun, %d committed, %d rolled back", b, c, r)
		}
	})
}
