package jsonbatch

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"testing/iotest"
	"unicode/utf8"

	"github.com/batchcodec/batch"
	"github.com/google/go-cmp/cmp"
)

// FuzzDecode checks properties on any input, seeded from the vectors, the
// error table and testdata/fuzz/FuzzDecode:
//
//   - no panic, and every failure is a *batch.SyntaxError with an offset
//     inside the input;
//   - the result does not depend on how the input is chunked;
//   - success implies valid JSON (encoding/json agrees), and ErrSyntax
//     implies invalid JSON or invalid UTF-8;
//   - decode → encode → decode gives the same items, in both dialects,
//     whenever the encoder accepts the items.
func FuzzDecode(f *testing.F) {
	for _, name := range vectorNames(f) {
		f.Add(readVector(f, name))
	}
	for _, tt := range errCases {
		f.Add([]byte(tt.in))
	}
	opts := []DecodeOption{MaxItems(64), MaxItemBytes(64 << 10), MaxDepth(32), BufferSize(512)}
	f.Fuzz(func(t *testing.T, in []byte) {
		ops, err := decodeAll(bytes.NewReader(in), opts...)
		ops1, err1 := decodeAll(iotest.OneByteReader(bytes.NewReader(in)), opts...)
		if diff := cmp.Diff(ops, ops1); diff != "" {
			t.Fatalf("chunking changed the items (-whole +one byte):\n%s", diff)
		}
		if (err == nil) != (err1 == nil) || err != nil && err.Error() != err1.Error() {
			t.Fatalf("chunking changed the error: %v, then %v", err, err1)
		}
		doc := bytes.TrimPrefix(in, bom)
		if err != nil {
			var se *batch.SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %v (%T) is not a *batch.SyntaxError", err, err)
			}
			if se.Offset < 0 || se.Offset > int64(len(in)) {
				t.Fatalf("offset %d outside the input of %d bytes: %v", se.Offset, len(in), err)
			}
			if errors.Is(err, ErrSyntax) && json.Valid(doc) && utf8.Valid(doc) {
				t.Fatalf("ErrSyntax for valid JSON: %v", err)
			}
			return
		}
		if !json.Valid(doc) {
			t.Fatalf("accepted invalid JSON")
		}
		for _, dialect := range []Dialect{OData, Graph} {
			checkRoundTrip(t, ops, dialect)
		}
	})
}

// FuzzConvert checks the conversion both ways on any JSON batch the
// decoder accepts: JSON → multipart → JSON gives the same operations, but
// for what multipart cannot say (see throughMultipart), or the conversion
// refuses the batch with ErrNotConvertible or the encoder's
// ErrInvalidOperation; it never writes what it cannot read back.
func FuzzConvert(f *testing.F) {
	for _, name := range vectorNames(f) {
		f.Add(readVector(f, name))
	}
	opts := []DecodeOption{MaxItems(64), MaxItemBytes(64 << 10), MaxDepth(32)}
	f.Fuzz(func(t *testing.T, in []byte) {
		if _, err := decodeAll(bytes.NewReader(in), opts...); err != nil {
			return
		}
		_ = throughMultipart(t, in)
	})
}
