//go:build !race

package batch

import (
	"io"
	"strings"
	"testing"
)

// TestEncoderAllocs guards the hot path: once the buffers have grown, an
// operation (header block, body written whole and through ReaderFrom, and
// the body check) allocates nothing, inside a changeset or not.
func TestEncoderAllocs(t *testing.T) {
	e, err := NewEncoder(io.Discard, WithBoundary("batch_0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	op := &Operation{Message: Request, Method: "POST", Target: "/api/v2.0/me/sendmail", ContentID: "1",
		Header: []Field{{Name: "content-type", Value: "application/json"}, {Name: "Accept", Value: "application/json"}}}
	resp := &Operation{Message: Response, StatusCode: 201, Header: []Field{{Name: "ETAG", Value: `"1"`}, {Name: "x-ms-request-id", Value: "7"}}}
	body := []byte("{\r\n--batch_012345678\r\n-\r\n\"a\": 1\r\n}\r\n")
	r := strings.NewReader("")
	step := func() {
		w, err := e.CreateOperation(op)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(body); err != nil {
			t.Fatal(err)
		}
		w, err = e.CreateOperation(resp)
		if err != nil {
			t.Fatal(err)
		}
		r.Reset("-- body through ReadFrom\r\n-")
		if _, err := w.(io.ReaderFrom).ReadFrom(r); err != nil {
			t.Fatal(err)
		}
	}
	step() // grow the buffers
	if n := testing.AllocsPerRun(100, step); n != 0 {
		t.Errorf("top-level operations: %v allocs per run, want 0", n)
	}
	if err := e.BeginChangesetWith("changeset_1", nil); err != nil {
		t.Fatal(err)
	}
	step()
	if n := testing.AllocsPerRun(100, step); n != 0 {
		t.Errorf("operations in a changeset: %v allocs per run, want 0", n)
	}
}
