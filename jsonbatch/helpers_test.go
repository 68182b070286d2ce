package jsonbatch

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/batchcodec/batch"
	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

// decodeAll decodes every item of in, copied out; it stops at the first
// error and returns the items before it.
func decodeAll(r io.Reader, opts ...DecodeOption) ([]Operation, error) {
	d := NewDecoder(r, opts...)
	var ops []Operation
	for {
		it, err := d.Next()
		if err == io.EOF {
			return ops, nil
		}
		if err != nil {
			return ops, err
		}
		ops = append(ops, it.Operation())
	}
}

// encodeAll writes ops as one batch of m.
func encodeAll(m batch.MessageKind, ops []Operation, opts ...EncodeOption) ([]byte, error) {
	var buf bytes.Buffer
	e, err := NewEncoder(&buf, m, opts...)
	if err != nil {
		return nil, err
	}
	for i := range ops {
		if err := e.WriteOperation(&ops[i]); err != nil {
			return nil, err
		}
	}
	if err := e.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func readVector(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "vectors", name))
	require.NoError(t, err)
	return b
}

func vectorNames(t testing.TB) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join("testdata", "vectors", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, names)
	for i, n := range names {
		names[i] = filepath.Base(n)
	}
	return names
}

func b64(enc *base64.Encoding, s string) []byte {
	b, err := enc.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// compactJSON is a cmp option comparing bodies that are JSON modulo
// whitespace, so that tables can write pretty-printed bodies compactly. The
// raw bytes are checked separately (bodies are sacred).
var compactJSON = cmp.Transformer("compactJSON", func(b []byte) string {
	var buf bytes.Buffer
	if b != nil && json.Valid(b) && json.Compact(&buf, b) == nil {
		return "json:" + buf.String()
	}
	if b == nil {
		return "<nil>"
	}
	return "raw:" + string(b)
})

// syntaxError returns err as a *batch.SyntaxError, failing the test if it
// is not one.
func syntaxError(t testing.TB, err error) *batch.SyntaxError {
	t.Helper()
	var se *batch.SyntaxError
	require.True(t, errors.As(err, &se), "error %v (%T) is not a *batch.SyntaxError", err, err)
	return se
}
