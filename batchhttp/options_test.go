package batchhttp

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/batchcodec/batch"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestClientOptionSides checks that a client option passed to the side it
// does not configure is a returned error naming it, not silently ignored.
func TestClientOptionSides(t *testing.T) {
	var b RequestBatch
	r, err := http.NewRequest(http.MethodGet, "https://host/svc/Items", nil)
	require.NoError(t, err)
	b.Add(r)
	answer := func() *http.Response {
		return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"multipart/mixed; boundary=b"}},
			Body: io.NopCloser(strings.NewReader("--b--\r\n"))}
	}
	for _, tc := range []struct {
		name string
		opt  ClientOption
	}{
		{"MaxBufferBytes", MaxBufferBytes(1)},
		{"Decoding", Decoding(batch.Strict(true))},
	} {
		_, err := b.NewRequest(context.Background(), "https://host/svc/$batch", tc.opt)
		if assert.Error(t, err, "NewRequest with %s", tc.name) {
			assert.Contains(t, err.Error(), tc.name)
		}
	}
	for _, tc := range []struct {
		name string
		opt  ClientOption
	}{
		{"ContinueOnError", ContinueOnError(true)},
		{"ODataVersion", ODataVersion("4.0")},
		{"OuterHeader", OuterHeader("A", "b")},
		{"Targets", Targets(TargetAbsolute)},
		{"BufferRequest", BufferRequest(true)},
		{"Encoding", Encoding(batch.WithDialect(batch.SharePoint))},
	} {
		_, err := b.ReadResponse(answer(), tc.opt)
		if assert.Error(t, err, "ReadResponse with %s", tc.name) {
			assert.Contains(t, err.Error(), tc.name)
		}
		_, err = b.NewResponseReader(answer(), tc.opt)
		assert.Error(t, err, "NewResponseReader with %s", tc.name)
	}
	// Where they belong, they are taken.
	_, err = b.NewRequest(context.Background(), "https://host/svc/$batch", ContinueOnError(true), Encoding(batch.WithDialect(batch.SharePoint)))
	require.NoError(t, err)
	_, err = b.NewResponseReader(answer(), MaxBufferBytes(1<<20), Decoding(batch.MaxParts(10)))
	require.NoError(t, err)
}
