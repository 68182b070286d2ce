package batchhttp

import (
	"bufio"
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strconv"
	"testing"

	"github.com/batchcodec/batch"
)

// The handler benchmarks come in pairs over the same batch bytes and the
// same http.ServeMux route: impl=batch is Handler; impl=stdlib is the batch
// handler a Go user composes by hand from mime/multipart, http.ReadRequest,
// httptest.ResponseRecorder, multipart.Writer and (*http.Response).Write.
// Compare them with
//
//	go test -run='^$' -bench=Handler -count=5 ./batchhttp | benchstat -col /impl

// benchLoad is one workload: a batch body and its boundary.
type benchLoad struct {
	name string
	body []byte
	ops  int
}

// benchLoads returns the workloads: 20 and 1000 small GETs, and 100 POSTs
// of 2 KiB in changesets of 10, each operation with a Content-ID and an
// Accept header as clients write them.
func benchLoads(tb testing.TB) []benchLoad {
	build := func(name string, ops, perChangeset, size int) benchLoad {
		var buf bytes.Buffer
		enc, err := batch.NewEncoder(&buf, batch.WithBoundary("batch_bench"))
		if err != nil {
			tb.Fatal(err)
		}
		payload := bytes.Repeat([]byte(`{"name":"x"}`), size/12+1)[:size]
		for i := 0; i < ops; i++ {
			if perChangeset > 0 && i%perChangeset == 0 {
				if i > 0 {
					must(tb, enc.EndChangeset())
				}
				must(tb, enc.BeginChangesetWith("changeset_"+strconv.Itoa(i), nil))
			}
			op := batch.Operation{Message: batch.Request, Method: "GET", Target: "/items/" + strconv.Itoa(i),
				ContentID: strconv.Itoa(i + 1), Header: []batch.Field{{Name: "Accept", Value: "application/json"}}}
			var body io.Reader
			if size > 0 {
				op.Method, op.Target = "POST", "/items"
				op.Header = append(op.Header, batch.Field{Name: "Content-Type", Value: "application/json"})
				body = bytes.NewReader(payload)
			}
			must(tb, enc.WriteOperation(&op, body))
		}
		if perChangeset > 0 {
			must(tb, enc.EndChangeset())
		}
		must(tb, enc.Close())
		return benchLoad{name: name, body: buf.Bytes(), ops: ops}
	}
	return []benchLoad{
		build("20GET", 20, 0, 0),
		build("1000GET", 1000, 0, 0),
		build("100POST2KiB", 100, 10, 2048),
	}
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// benchApp is the trivial route both sides serve: a small GET answer and a
// 201 for a POST that reads its body.
func benchApp() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":1}`)
	})
	mux.HandleFunc("POST /items", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Location", "/items/1")
		w.WriteHeader(http.StatusCreated)
	})
	return mux
}

// stdlibBatch is the batch handler a Go user writes with the standard
// library: one multipart reader per level, http.ReadRequest per operation,
// a ResponseRecorder for its answer, and multipart.Writer to answer.
func stdlibBatch(next http.Handler) http.Handler {
	serveOne := func(part *multipart.Part, mw *multipart.Writer) error {
		req, err := http.ReadRequest(bufio.NewReader(part))
		if err != nil {
			return err
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, req)
		hdr := textproto.MIMEHeader{"Content-Type": {"application/http"}, "Content-Transfer-Encoding": {"binary"}}
		if id := part.Header.Get("Content-Id"); id != "" {
			hdr.Set("Content-Id", id)
		}
		pw, err := mw.CreatePart(hdr)
		if err != nil {
			return err
		}
		return rec.Result().Write(pw)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mr := multipart.NewReader(r.Body, params["boundary"])
		mw := multipart.NewWriter(w)
		w.Header().Set("Content-Type", "multipart/mixed; boundary="+mw.Boundary())
		w.WriteHeader(http.StatusOK)
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				return
			}
			mt, ps, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
			if mt != "multipart/mixed" {
				if serveOne(part, mw) != nil {
					return
				}
				continue
			}
			var held bytes.Buffer
			cw := multipart.NewWriter(&held)
			cr := multipart.NewReader(part, ps["boundary"])
			for {
				p, err := cr.NextPart()
				if err == io.EOF {
					break
				}
				if err != nil || serveOne(p, cw) != nil {
					return
				}
			}
			cw.Close()
			pw, err := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"multipart/mixed; boundary=" + cw.Boundary()}})
			if err != nil {
				return
			}
			pw.Write(held.Bytes())
		}
		mw.Close()
	})
}

// discardWriter is the ResponseWriter both sides write to: a header map
// and a byte count.
type discardWriter struct {
	h    http.Header
	code int
	n    int64
}

func (d *discardWriter) Header() http.Header { return d.h }
func (d *discardWriter) WriteHeader(code int) {
	if d.code == 0 {
		d.code = code
	}
}
func (d *discardWriter) Write(p []byte) (int, error) { d.n += int64(len(p)); return len(p), nil }
func (d *discardWriter) Flush()                      {}

// rereader is a request body read again for every iteration.
type rereader struct{ bytes.Reader }

func (*rereader) Close() error { return nil }

// serveOnce runs one batch request through h and returns the recorded
// answer's status and size.
func serveOnce(h http.Handler, req *http.Request, body *rereader, data []byte, w *discardWriter) {
	body.Reset(data)
	clear(w.h)
	w.code, w.n = 0, 0
	h.ServeHTTP(w, req)
}

func BenchmarkHandler(b *testing.B) {
	for _, load := range benchLoads(b) {
		for _, impl := range []struct {
			name string
			h    http.Handler
		}{{"batch", Handler(benchApp())}, {"stdlib", stdlibBatch(benchApp())}} {
			b.Run("load="+load.name+"/impl="+impl.name, func(b *testing.B) {
				body := &rereader{}
				req := httptest.NewRequest(http.MethodPost, "http://example.com/$batch", nil)
				req.Body = body
				req.ContentLength = int64(len(load.body))
				req.Header.Set("Content-Type", "multipart/mixed; boundary=batch_bench")
				w := &discardWriter{h: make(http.Header)}
				serveOnce(impl.h, req, body, load.body, w)
				if w.code != http.StatusOK || w.n < int64(load.ops*50) {
					b.Fatalf("status %d, %d bytes answered", w.code, w.n)
				}
				b.SetBytes(int64(len(load.body)))
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					serveOnce(impl.h, req, body, load.body, w)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(load.ops), "ns/operation")
			})
		}
	}
}

// TestHandlerAllocsPerOperation guards the handler's own allocations: with
// a next that allocates nothing, at most 8 per operation.
func TestHandlerAllocsPerOperation(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("allocation counts need a normal build")
	}
	nop := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	for _, load := range benchLoads(t) {
		h := Handler(nop)
		body := &rereader{}
		req := httptest.NewRequest(http.MethodPost, "http://example.com/$batch", nil)
		req.Body = body
		req.Header.Set("Content-Type", "multipart/mixed; boundary=batch_bench")
		w := &discardWriter{h: make(http.Header)}
		allocs := testing.AllocsPerRun(20, func() { serveOnce(h, req, body, load.body, w) })
		perOp := allocs / float64(load.ops)
		t.Logf("%s: %.0f allocations per batch, %.2f per operation", load.name, allocs, perOp)
		if w.code != http.StatusOK {
			t.Fatalf("%s: status %d", load.name, w.code)
		}
		if perOp > 8 {
			t.Errorf("%s: %.2f allocations per operation, want at most 8", load.name, perOp)
		}
	}
}

// TestBenchSidesAgree checks that both sides of BenchmarkHandler do the
// same work: the same answers, in the same order, to each workload.
func TestBenchSidesAgree(t *testing.T) {
	answers := func(h http.Handler, body []byte) []string {
		req := httptest.NewRequest(http.MethodPost, "http://example.com/$batch", bytes.NewReader(body))
		req.Header.Set("Content-Type", "multipart/mixed; boundary=batch_bench")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		d, err := batch.NewDecoder(rec.Body, rec.Header().Get("Content-Type"))
		must(t, err)
		var out []string
		for {
			p, err := d.Next()
			if err == io.EOF {
				return out
			}
			must(t, err)
			if p.Kind() != batch.KindOperation {
				continue
			}
			b, err := io.ReadAll(p)
			must(t, err)
			id, _ := p.ContentID()
			out = append(out, string(id)+" "+strconv.Itoa(p.StatusCode())+" "+string(b))
		}
	}
	for _, load := range benchLoads(t) {
		ours := answers(Handler(benchApp()), load.body)
		if len(ours) != load.ops {
			t.Fatalf("%s: %d answers for %d operations", load.name, len(ours), load.ops)
		}
		diff(t, load.name, ours, answers(stdlibBatch(benchApp()), load.body))
	}
}
