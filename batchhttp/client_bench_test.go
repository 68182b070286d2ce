package batchhttp

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/batchcodec/batch"
)

// The client's benchmarks come in pairs, impl=batch and impl=stdlib, over
// the same answer bytes, so that benchstat puts them side by side:
//
//	go test -run='^$' -bench=Client -count=5 ./batchhttp | tee /tmp/client.txt
//	benchstat -col /impl /tmp/client.txt
//
// The workload is the answer to a batch of n operations, each a 200 OK
// with three headers, its Content-ID echoed, and a 200-byte JSON body. The
// stdlib side is what a Go user writes by hand: mime.ParseMediaType on the
// outer Content-Type, multipart.NewReader, and per part http.ReadResponse
// over a bufio.Reader and io.ReadAll of the body, pairing by order. The
// batch side is RequestBatch.Responses reading each body to its end
// (api=stream), or RequestBatch.ReadResponse (api=ReadResponse), both with
// the client's pairing checks. allocs/answer is the allocations of one
// iteration divided by n.

// clientWorkload is the answer to n operations of 200 B, and a batch of n
// requests it answers.
type clientWorkload struct {
	n           int
	data        []byte
	contentType string
	batch       *RequestBatch
}

func newClientWorkload(tb testing.TB, n int) *clientWorkload {
	var buf bytes.Buffer
	enc, err := batch.NewEncoder(&buf)
	if err != nil {
		tb.Fatal(err)
	}
	body := []byte(`{"@odata.context":"$metadata#Books/$entity","ID":` + strings.Repeat(" ", 0))
	body = append(body, `1,"title":"Wuthering Heights","author":"Emily Brontë","stock":12,"price":11.11,"currency":"GBP","descr":"`...)
	for len(body) < 198 {
		body = append(body, 'x')
	}
	body = append(body, `"}`...)
	w := &clientWorkload{n: n, batch: &RequestBatch{}}
	for i := range n {
		op := &batch.Operation{Message: batch.Response, StatusCode: 200, Reason: "OK", ContentID: strconv.Itoa(i + 1),
			Header: []batch.Field{
				{Name: "Content-Type", Value: "application/json; odata.metadata=minimal"},
				{Name: "OData-Version", Value: "4.0"},
				{Name: "Content-Length", Value: strconv.Itoa(len(body))},
			}}
		if err := enc.WriteOperation(op, bytes.NewReader(body)); err != nil {
			tb.Fatal(err)
		}
		r, err := http.NewRequest("GET", "https://host/odata/v4/catalog/Books("+strconv.Itoa(i)+")", nil)
		if err != nil {
			tb.Fatal(err)
		}
		w.batch.Add(r)
	}
	if err := enc.Close(); err != nil {
		tb.Fatal(err)
	}
	w.data, w.contentType = buf.Bytes(), enc.ContentType()
	return w
}

func (w *clientWorkload) response() *http.Response {
	return &http.Response{StatusCode: 200, Status: "200 OK", Header: http.Header{"Content-Type": {w.contentType}},
		Body: io.NopCloser(bytes.NewReader(w.data))}
}

// readStdlib reads the answers the way a Go user writes it with the
// standard library.
func (w *clientWorkload) readStdlib() ([]*http.Response, error) {
	resp := w.response()
	defer resp.Body.Close()
	_, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil {
		return nil, err
	}
	mr := multipart.NewReader(resp.Body, params["boundary"])
	reqs := w.batch.Requests()
	var out []*http.Response
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		r, err := http.ReadResponse(bufio.NewReader(p), nil)
		if err != nil {
			return nil, err
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(body))
		if len(out) < len(reqs) {
			r.Request = reqs[len(out)]
		}
		out = append(out, r)
	}
	if len(out) != len(reqs) {
		return nil, fmt.Errorf("%d answers for %d requests", len(out), len(reqs))
	}
	return out, nil
}

// readStream reads the answers through the streaming API, each body to its
// end.
func (w *clientWorkload) readStream() (int, error) {
	n := 0
	for a, err := range w.batch.Responses(w.response()) {
		if err != nil {
			return n, err
		}
		if _, err := io.Copy(io.Discard, a.Response.Body); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func BenchmarkClientRead(b *testing.B) {
	for _, n := range []int{20, 1000} {
		w := newClientWorkload(b, n)
		run := func(b *testing.B, f func() error) {
			b.SetBytes(int64(len(w.data)))
			b.ReportAllocs()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for b.Loop() {
				if err := f(); err != nil {
					b.Fatal(err)
				}
			}
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N*n), "allocs/answer")
		}
		stdlib := func() error { _, err := w.readStdlib(); return err }
		b.Run(fmt.Sprintf("api=stream/ops=%d/impl=batch", n), func(b *testing.B) {
			run(b, func() error {
				got, err := w.readStream()
				if err == nil && got != n {
					err = fmt.Errorf("%d answers, want %d", got, n)
				}
				return err
			})
		})
		b.Run(fmt.Sprintf("api=stream/ops=%d/impl=stdlib", n), func(b *testing.B) { run(b, stdlib) })
		b.Run(fmt.Sprintf("api=ReadResponse/ops=%d/impl=batch", n), func(b *testing.B) {
			run(b, func() error { _, err := w.batch.ReadResponse(w.response()); return err })
		})
		b.Run(fmt.Sprintf("api=ReadResponse/ops=%d/impl=stdlib", n), func(b *testing.B) { run(b, stdlib) })
	}
}

// TestClientWorkload checks that both sides of the benchmark read the
// same answers.
func TestClientWorkload(t *testing.T) {
	w := newClientWorkload(t, 20)
	std, err := w.readStdlib()
	if err != nil {
		t.Fatal(err)
	}
	got, err := w.batch.ReadResponse(w.response())
	if err != nil {
		t.Fatal(err)
	}
	if diff := fmt.Sprint(bodies(t, std)); diff != fmt.Sprint(bodies(t, got)) {
		t.Errorf("stdlib and batch read different answers:\n%s\n%s", diff, fmt.Sprint(bodies(t, got)))
	}
	if n, err := w.readStream(); err != nil || n != 20 {
		t.Errorf("readStream = %d, %v; want 20, nil", n, err)
	}
}
