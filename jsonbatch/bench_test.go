package jsonbatch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/batchcodec/batch"
)

// stdBatch is what a Go user writes with encoding/json: the composition the
// benchmarks compare against.
type stdBatch struct {
	Requests []stdRequest `json:"requests"`
}

type stdRequest struct {
	ID             string            `json:"id"`
	Method         string            `json:"method"`
	URL            string            `json:"url"`
	AtomicityGroup string            `json:"atomicityGroup,omitempty"`
	DependsOn      []string          `json:"dependsOn,omitempty"`
	Headers        map[string]string `json:"headers,omitempty"`
	Body           json.RawMessage   `json:"body,omitempty"`
}

// benchOps returns n Graph-style requests with small JSON bodies, or, for
// n == 0, one request whose JSON body is about 1 MiB.
func benchOps(n int) []Operation {
	if n == 0 {
		var b strings.Builder
		b.WriteString(`{"value":[`)
		for i := 0; b.Len() < 1<<20; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"id":"AAMkAGI2TG93AAA%d","subject":"Review \"Q%d\" numbers","isRead":false,"importance":"normal","size":%d}`, i, i%4, 1000+i)
		}
		b.WriteString(`]}`)
		return []Operation{{ID: "1", Method: "POST", URL: "/me/events/import", Header: hdr("Content-Type", "application/json"), Body: []byte(b.String())}}
	}
	ops := make([]Operation, n)
	for i := range ops {
		id := strconv.Itoa(i + 1)
		ops[i] = Operation{ID: id, Method: "POST", URL: "/me/events?$select=subject,start&$top=" + id,
			Header: hdr("Content-Type", "application/json", "Accept", "application/json;odata.metadata=minimal"),
			Body:   []byte(`{"subject":"Meeting ` + id + `","start":{"dateTime":"2026-12-03T10:00:00","timeZone":"UTC"},"attendees":[{"emailAddress":{"address":"ana@contoso.example"},"type":"required"}],"isOnlineMeeting":true}`)}
		if i > 0 {
			ops[i].DependsOn = []string{strconv.Itoa(i)}
		}
	}
	return ops
}

var benchWorkloads = []struct {
	name string
	n    int
}{{"20", 20}, {"1000", 1000}, {"1MiB-body", 0}}

var sink int

func BenchmarkDecode(b *testing.B) {
	for _, w := range benchWorkloads {
		data, err := encodeAll(batch.Request, benchOps(w.n), WithDialect(Graph))
		if err != nil {
			b.Fatal(err)
		}
		b.Run("work="+w.name+"/impl=jsonbatch", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			var r bytes.Reader
			d := NewDecoder(&r)
			for b.Loop() {
				r.Reset(data)
				d.Reset(&r)
				for {
					it, err := d.Next()
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					sink += len(it.ID()) + len(it.Method()) + len(it.URL()) + len(it.Header().Get("Content-Type")) + len(it.Body()) + len(it.DependsOn())
				}
			}
		})
		b.Run("work="+w.name+"/impl=stdlib", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				var v stdBatch
				if err := json.Unmarshal(data, &v); err != nil {
					b.Fatal(err)
				}
				for _, r := range v.Requests {
					sink += len(r.ID) + len(r.Method) + len(r.URL) + len(r.Headers["Content-Type"]) + len(r.Body) + len(r.DependsOn)
				}
			}
		})
		// The tokenizer candidate from the standard library: walking the
		// document's tokens with encoding/json's Decoder.Token, without
		// even building the items.
		b.Run("work="+w.name+"/impl=stdtoken", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				d := json.NewDecoder(bytes.NewReader(data))
				for {
					_, err := d.Token()
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

func BenchmarkEncode(b *testing.B) {
	for _, w := range benchWorkloads {
		ops := benchOps(w.n)
		data, err := encodeAll(batch.Request, ops, WithDialect(Graph))
		if err != nil {
			b.Fatal(err)
		}
		std := stdBatch{Requests: make([]stdRequest, len(ops))}
		for i, op := range ops {
			h := make(map[string]string)
			for _, f := range op.Header {
				h[f.Name] = f.Value
			}
			std.Requests[i] = stdRequest{ID: op.ID, Method: op.Method, URL: op.URL, DependsOn: op.DependsOn, Headers: h, Body: op.Body}
		}
		b.Run("work="+w.name+"/impl=jsonbatch", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				e, err := NewEncoder(io.Discard, batch.Request, WithDialect(Graph))
				if err != nil {
					b.Fatal(err)
				}
				for i := range ops {
					if err := e.WriteOperation(&ops[i]); err != nil {
						b.Fatal(err)
					}
				}
				if err := e.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("work="+w.name+"/impl=stdlib", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				out, err := json.Marshal(&std)
				if err != nil {
					b.Fatal(err)
				}
				sink += len(out)
			}
		})
	}
}
