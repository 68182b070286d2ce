//go:build !race

package batch

import (
	"bytes"
	"io"
	"testing"
)

// Allocation counts are deterministic, so they are guarded by tests rather
// than read off benchmarks. No test here asserts a time.

// TestDecodeAllocs checks that a reused Decoder decodes whole batches
// without allocating: 1000 operations, changesets, LF-only framing and a
// UCWA response, bodies read through WriteTo and through Read.
func TestDecodeAllocs(t *testing.T) {
	small := make([]byte, 512)
	for _, w := range newWorkloads(false) {
		t.Run(w.name, func(t *testing.T) {
			r := bytes.NewReader(w.data)
			d, err := NewDecoderBoundary(r, w.boundary)
			if err != nil {
				t.Fatal(err)
			}
			var failed error
			decodeCopy := func() {
				r.Reset(w.data)
				if err := d.Reset(r, w.boundary); err != nil {
					failed = err
				}
				if ops, _, err := decodeBatch(d); err != nil || ops != w.ops {
					failed = err
				}
			}
			decodeRead := func() {
				r.Reset(w.data)
				if err := d.Reset(r, w.boundary); err != nil {
					failed = err
				}
				for {
					p, err := d.Next()
					if err == io.EOF {
						return
					}
					if err != nil {
						failed = err
						return
					}
					for {
						if _, err := p.Read(small); err == io.EOF {
							break
						} else if err != nil {
							failed = err
							return
						}
					}
				}
			}
			decodeCopy() // grow the buffers
			if n := testing.AllocsPerRun(20, decodeCopy); n != 0 {
				t.Errorf("decoding %d operations with io.Copy: %v allocs per batch, want 0", w.ops, n)
			}
			if n := testing.AllocsPerRun(20, decodeRead); n != 0 {
				t.Errorf("decoding %d operations with Read: %v allocs per batch, want 0", w.ops, n)
			}
			if failed != nil {
				t.Fatal(failed)
			}
		})
	}
}

// TestNewDecoderAllocs checks that a fresh Decoder allocates a small
// constant, the same for 1 operation as for 1000: nothing per operation.
func TestNewDecoderAllocs(t *testing.T) {
	const boundary = "batch_a1"
	allocs := func(ops int) float64 {
		bodies := make([][]byte, ops)
		for i := range bodies {
			bodies[i] = jsonBody(200, "\r\n", i)
		}
		data := genBatch(boundary, "\r\n", bodies)
		r := bytes.NewReader(data)
		return testing.AllocsPerRun(10, func() {
			r.Reset(data)
			d, err := NewDecoder(r, "multipart/mixed; boundary="+boundary)
			if err != nil {
				t.Fatal(err)
			}
			if n, _, err := decodeBatch(d); err != nil || n != ops {
				t.Fatalf("decoded %d of %d operations: %v", n, ops, err)
			}
		})
	}
	one, many := allocs(1), allocs(1000)
	if many != one {
		t.Errorf("a new decoder allocates %v times for 1 operation and %v for 1000: %v per operation, want 0",
			one, many, (many-one)/999)
	}
	if one > 16 {
		t.Errorf("a new decoder allocates %v times for one batch, want at most 16", one)
	}
}

// TestEncodeAllocsPerBatch checks that encoding a whole batch with a new
// Encoder (it has no Reset) allocates a small constant, the same for 1
// operation as for 1000, in a changeset or not: nothing per operation.
func TestEncodeAllocsPerBatch(t *testing.T) {
	var w1000, wcs *workload
	for _, w := range newWorkloads(false) {
		switch w.name {
		case "1000x200B":
			w1000 = w
		case "changesets=100x10":
			wcs = w
		}
	}
	for _, tc := range []struct {
		name string
		w    *workload
		k    int // items in the one-operation batch
	}{
		{"1000x200B", w1000, 1},
		{"changesets=100x10", wcs, 3},
	} {
		one := *tc.w
		one.items = tc.w.items[:tc.k]
		if tc.k == 3 {
			one.items = append(one.items[:2:2], benchItem{end: true})
		}
		a1 := testing.AllocsPerRun(20, func() {
			if err := encodeBatch(&one, io.Discard); err != nil {
				t.Fatal(err)
			}
		})
		an := testing.AllocsPerRun(20, func() {
			if err := encodeBatch(tc.w, io.Discard); err != nil {
				t.Fatal(err)
			}
		})
		perOp := (an - a1) / float64(tc.w.ops-1)
		t.Logf("%s: %v allocs for one operation, %v for %d", tc.name, a1, an, tc.w.ops)
		if tc.k == 1 && an != a1 {
			t.Errorf("%s: %v allocs for one operation, %v for %d: %v per operation, want 0", tc.name, a1, an, tc.w.ops, perOp)
		}
		if tc.k == 3 && perOp != 0 && an-a1 > float64(4*(tc.w.ops/10)) {
			// Each changeset costs its boundary string ("--" + b).
			t.Errorf("%s: %v allocs for one changeset, %v for %d operations: more than 4 per changeset", tc.name, a1, an, tc.w.ops)
		}
		if a1 > 10 {
			t.Errorf("%s: a batch of one operation allocates %v times, want at most 10", tc.name, a1)
		}
	}
}
