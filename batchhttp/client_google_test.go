package batchhttp

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestClientGoogleAngleIDs: Google answers requests sent with
// "Content-ID: <item-N>" with "Content-ID: <response-item-N>", in any
// order; each answer goes to its own request.
func TestClientGoogleAngleIDs(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "multipart/mixed; boundary=b")
		for _, n := range []string{"2", "1"} {
			fmt.Fprintf(w, "--b\r\nContent-Type: application/http\r\nContent-ID: <response-item-%s>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nanswer %s\r\n", n, n)
		}
		fmt.Fprint(w, "--b--\r\n")
	}))
	defer srv.Close()
	var b RequestBatch
	for _, n := range []string{"1", "2"} {
		r, err := http.NewRequest(http.MethodGet, srv.URL+"/tasks/v1/lists/"+n, nil)
		require.NoError(t, err)
		r.Header.Set("Content-ID", "<item-"+n+">")
		b.Add(r)
	}
	req, err := b.NewRequest(context.Background(), srv.URL+"/batch/tasks/v1")
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resps, err := b.ReadResponse(resp)
	require.NoError(t, err)
	for i, r := range resps {
		body, err := io.ReadAll(r.Body)
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprintf("answer %d", i+1), string(body))
	}
}
