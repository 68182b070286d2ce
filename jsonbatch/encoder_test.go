package jsonbatch

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/batchcodec/batch"
	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEncoderOutput(t *testing.T) {
	ops := []Operation{
		{ID: "1", Method: "GET", URL: "/me"},
		{ID: "2", AtomicityGroup: "g", DependsOn: []string{"1"}, Method: "POST", URL: "$1/events", If: "$1",
			Header: hdr("Content-Type", "application/json", "X-Q", `a"b`),
			Body:   []byte(" {\"a\": [1, 2]}\n")},
		{ID: "3", Method: "PUT", URL: "/notes", Header: hdr("Content-Type", "text/plain"), Body: []byte("é\n\x01")},
		{ID: "4", Method: "PUT", URL: "/bin", Header: hdr("Content-Type", "image/png"), Body: []byte{0xfb, 0xff}},
		{ID: "5", Method: "POST", URL: "/empty", Header: hdr("Content-Type", "text/plain"), Body: []byte{}},
	}
	for _, tt := range []struct {
		name  string
		opts  []EncodeOption
		graph bool
		want  string
	}{
		{"odata", nil, false, `{"requests":[{"id":"1","method":"GET","url":"/me"},` +
			`{"id":"2","atomicityGroup":"g","dependsOn":["1"],"method":"POST","url":"$1/events","if":"$1","headers":{"content-type":"application/json","x-q":"a\"b"},"body":{"a": [1, 2]}},` +
			`{"id":"3","method":"PUT","url":"/notes","headers":{"content-type":"text/plain"},"body":"é\n\u0001"},` +
			`{"id":"4","method":"PUT","url":"/bin","headers":{"content-type":"image/png"},"body":"-_8="},` +
			`{"id":"5","method":"POST","url":"/empty","headers":{"content-type":"text/plain"},"body":""}]}`},
		{"graph", []EncodeOption{WithDialect(Graph)}, true, `{"requests":[{"id":"1","method":"GET","url":"/me"},` +
			`{"id":"2","atomicityGroup":"g","dependsOn":["1"],"method":"POST","url":"$1/events","if":"$1","headers":{"Content-Type":"application/json","X-Q":"a\"b"},"body":{"a": [1, 2]}},` +
			`{"id":"3","method":"PUT","url":"/notes","headers":{"Content-Type":"text/plain"},"body":"é\n\u0001"},` +
			`{"id":"4","method":"PUT","url":"/bin","headers":{"Content-Type":"image/png"},"body":"+/8="},` +
			`{"id":"5","method":"POST","url":"/empty","headers":{"Content-Type":"text/plain"},"body":""}]}`},
		{"raw base64url", []EncodeOption{WithBase64(base64.RawURLEncoding)}, false, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, err := encodeAll(batch.Request, ops, tt.opts...)
			require.NoError(t, err)
			if tt.want != "" {
				assert.Equal(t, tt.want, string(out))
			} else {
				assert.Contains(t, string(out), `"body":"-_8"`)
			}
			// What the encoder writes, the decoder reads back.
			got, err := decodeAll(bytes.NewReader(out))
			require.NoError(t, err)
			want := cloneOps(ops)
			for i := range want {
				want[i].Message = batch.Request
				if !tt.graph {
					lowerNames(want[i].Header)
				}
			}
			want[1].Body = []byte(`{"a": [1, 2]}`)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("decode(encode(ops)) mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func cloneOps(ops []Operation) []Operation {
	if ops == nil {
		return nil
	}
	out := make([]Operation, len(ops))
	for i, op := range ops {
		op.Header = append([]batch.Field(nil), op.Header...)
		out[i] = op
	}
	return out
}

// lowerNames lower-cases ASCII letters in header names, as the OData
// dialect writes them.
func lowerNames(h []batch.Field) {
	for i := range h {
		h[i].Name = strings.Map(func(r rune) rune {
			if 'A' <= r && r <= 'Z' {
				return r + 'a' - 'A'
			}
			return r
		}, h[i].Name)
	}
}

func TestEncoderEmptyBatch(t *testing.T) {
	for m, want := range map[batch.MessageKind]string{batch.Request: `{"requests":[]}`, batch.Response: `{"responses":[]}`} {
		out, err := encodeAll(m, nil)
		require.NoError(t, err)
		assert.Equal(t, want, string(out))
	}
}

func TestEncoderRefuses(t *testing.T) {
	for _, tt := range []struct {
		name  string
		m     batch.MessageKind
		op    Operation
		err   error
		field string
	}{
		{"empty id", req, Operation{Method: "GET", URL: "/"}, batch.ErrInvalidOperation, "ID"},
		{"method not a token", req, Operation{ID: "1", Method: "GET /x", URL: "/"}, batch.ErrInvalidOperation, "Method"},
		{"empty method", req, Operation{ID: "1", URL: "/"}, batch.ErrInvalidOperation, "Method"},
		{"empty url", req, Operation{ID: "1", Method: "GET"}, batch.ErrInvalidOperation, "URL"},
		{"status", res, Operation{ID: "1", Status: 1000}, batch.ErrInvalidOperation, "Status"},
		{"response in a request batch", req, Operation{Message: res, ID: "1", Status: 200}, batch.ErrEncoderState, "Message"},
		{"id not UTF-8", req, Operation{ID: "\xff", Method: "GET", URL: "/"}, batch.ErrInvalidOperation, "ID"},
		{"header value not UTF-8", req, Operation{ID: "1", Method: "GET", URL: "/", Header: hdr("a", "\xff")}, batch.ErrInvalidOperation, "Header[0]"},
		{"empty header name", req, Operation{ID: "1", Method: "GET", URL: "/", Header: hdr("", "x")}, batch.ErrInvalidOperation, "Header[0].Name"},
		{"body not JSON", req, Operation{ID: "1", Method: "POST", URL: "/", Body: []byte("hello")}, batch.ErrInvalidOperation, "Body"},
		{"two JSON values", req, Operation{ID: "1", Method: "POST", URL: "/", Body: []byte("1 2")}, batch.ErrInvalidOperation, "Body"},
		{"empty JSON body", req, Operation{ID: "1", Method: "POST", URL: "/", Body: []byte{}}, batch.ErrInvalidOperation, "Body"},
		{"null JSON body", req, Operation{ID: "1", Method: "POST", URL: "/", Body: []byte("null")}, batch.ErrInvalidOperation, "Body"},
		{"text not UTF-8", req, Operation{ID: "1", Method: "POST", URL: "/", Header: hdr("Content-Type", "text/plain"), Body: []byte{0xff}}, batch.ErrInvalidOperation, "Body"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			e, err := NewEncoder(&buf, tt.m)
			require.NoError(t, err)
			err = e.WriteOperation(&tt.op)
			require.ErrorIs(t, err, tt.err)
			var ee *batch.EncodeError
			require.True(t, errors.As(err, &ee))
			assert.Equal(t, tt.field, ee.Field)
			assert.Equal(t, 0, buf.Len(), "nothing written")
			// A refused operation is not sticky: the batch goes on.
			ok := Operation{ID: "2", Method: "GET", URL: "/", Status: 200}
			require.NoError(t, e.WriteOperation(&ok))
			require.NoError(t, e.Close())
			_, err = decodeAll(&buf)
			assert.NoError(t, err)
		})
	}
}

func TestEncoderState(t *testing.T) {
	_, err := NewEncoder(io.Discard, 3)
	assert.ErrorIs(t, err, batch.ErrInvalidOperation)

	// Without a kind, the first operation decides, and must say.
	var undecided bytes.Buffer
	e0, err := NewEncoder(&undecided, 0)
	require.NoError(t, err)
	assert.ErrorIs(t, e0.WriteOperation(&Operation{ID: "1", Method: "GET", URL: "x"}), batch.ErrInvalidOperation)
	assert.Zero(t, undecided.Len(), "a refused first operation writes nothing")
	require.NoError(t, e0.WriteOperation(&Operation{Message: batch.Response, ID: "1", Status: 204}))
	assert.ErrorIs(t, e0.WriteOperation(&Operation{Message: batch.Request, ID: "2", Method: "GET", URL: "x"}), batch.ErrEncoderState)
	require.NoError(t, e0.Close())
	assert.True(t, strings.HasPrefix(undecided.String(), `{"responses":[`), undecided.String())
	// A refused first operation leaves the kind undecided.
	again := new(bytes.Buffer)
	e2, err := NewEncoder(again, 0)
	require.NoError(t, err)
	assert.ErrorIs(t, e2.WriteOperation(&Operation{Message: batch.Response, ID: "1", Status: 42}), batch.ErrInvalidOperation)
	require.NoError(t, e2.WriteOperation(&Operation{Message: batch.Request, ID: "1", Method: "GET", URL: "x"}))
	require.NoError(t, e2.Close())
	assert.True(t, strings.HasPrefix(again.String(), `{"requests":[`), again.String())

	empty := new(bytes.Buffer)
	e1, err := NewEncoder(empty, 0)
	require.NoError(t, err)
	require.NoError(t, e1.Close())
	assert.Equal(t, `{"requests":[]}`, empty.String())

	e, err := NewEncoder(io.Discard, batch.Response)
	require.NoError(t, err)
	require.NoError(t, e.Close())
	require.NoError(t, e.Close(), "Close twice")
	err = e.WriteOperation(&Operation{ID: "1", Status: 200})
	assert.ErrorIs(t, err, batch.ErrEncoderState)
	assert.Equal(t, err, e.Err(), "sticky")
}

type shortWriter struct{}

func (shortWriter) Write(p []byte) (int, error) { return len(p) / 2, nil }

func TestEncoderShortWrite(t *testing.T) {
	e, err := NewEncoder(shortWriter{}, batch.Request)
	require.NoError(t, err)
	err = e.WriteOperation(&Operation{ID: "1", Method: "GET", URL: "/"})
	assert.Equal(t, io.ErrShortWrite, err)
	assert.Equal(t, io.ErrShortWrite, e.Close(), "sticky")
}

// TestRoundTripVectors: decode → encode → decode gives the same operations,
// in both dialects.
func TestRoundTripVectors(t *testing.T) {
	for _, name := range vectorNames(t) {
		in := readVector(t, name)
		ops, err := decodeAll(bytes.NewReader(in))
		require.NoError(t, err)
		for _, dialect := range []Dialect{OData, Graph} {
			assert.True(t, checkRoundTrip(t, ops, dialect), "%s: the encoder refused a vector", name)
		}
	}
}

// checkRoundTrip encodes ops and decodes them again; it reports false when
// the encoder refuses them.
func checkRoundTrip(t *testing.T, ops []Operation, dialect Dialect) bool {
	t.Helper()
	m := batch.Request
	if len(ops) > 0 {
		m = ops[0].Message
	}
	out, err := encodeAll(m, ops, WithDialect(dialect))
	if errors.Is(err, batch.ErrInvalidOperation) {
		return false
	}
	require.NoError(t, err)
	got, err := decodeAll(bytes.NewReader(out))
	require.NoError(t, err, "decoding %s", out)
	want := ops
	if dialect == OData {
		want = cloneOps(ops)
		for i := range want {
			lowerNames(want[i].Header)
		}
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(bytes.Equal)); diff != "" {
		t.Fatalf("%v: decode(encode(ops)) mismatch (-want +got):\n%s\nencoded: %s", dialect, diff, out)
	}
	return true
}
