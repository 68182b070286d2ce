//go:build !race

package jsonbatch

import (
	"bytes"
	"io"
	"testing"

	"github.com/batchcodec/batch"
)

// TestDecodeAllocatesNothing: a reused decoder reads a batch, escaped
// strings and binary bodies included, without allocating.
func TestDecodeAllocatesNothing(t *testing.T) {
	ops := benchOps(20)
	ops = append(ops,
		Operation{ID: "b", Method: "PUT", URL: "/bin", Header: hdr("Content-Type", "image/png"), Body: []byte{1, 2, 3, 0xff}},
		Operation{ID: "t\"x", Method: "PUT", URL: "/text", Header: hdr("Content-Type", "text/plain"), Body: []byte("a\nb")})
	data, err := encodeAll(batch.Request, ops)
	if err != nil {
		t.Fatal(err)
	}
	var r bytes.Reader
	d := NewDecoder(&r)
	run := func() {
		r.Reset(data)
		d.Reset(&r)
		for {
			it, err := d.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			sink += len(it.Body()) + len(it.Header().Get("content-type"))
		}
	}
	run()
	if n := testing.AllocsPerRun(50, run); n != 0 {
		t.Errorf("decoding %d items: %v allocations per batch, want 0", len(ops), n)
	}
}
