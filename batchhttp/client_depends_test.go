package batchhttp

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestClientDependsOnRefused: a dependency that no batch can say is
// NewRequest's ErrDependency, in either format, before anything is sent.
func TestClientDependsOnRefused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func(t *testing.T, a, b, c *http.Request) *RequestBatch
		want  string
	}{
		{"forward reference", func(t *testing.T, a, b, c *http.Request) *RequestBatch {
			var rb RequestBatch
			rb.Add(a, b, c)
			rb.DependsOn(a, c)
			return &rb
		}, "request 0 depends on request 2, which does not come before it"},
		{"itself", func(t *testing.T, a, b, c *http.Request) *RequestBatch {
			var rb RequestBatch
			rb.Add(a, b)
			rb.DependsOn(b, b)
			return &rb
		}, "request 1 depends on request 1, which does not come before it"},
		{"a request not in the batch", func(t *testing.T, a, b, c *http.Request) *RequestBatch {
			var rb RequestBatch
			rb.Add(a, b)
			rb.DependsOn(b, c)
			return &rb
		}, `request 1 depends on a request (GET "/c") that is not in the batch`},
		{"a dependent not in the batch", func(t *testing.T, a, b, c *http.Request) *RequestBatch {
			var rb RequestBatch
			rb.Add(a, b)
			rb.DependsOn(c, a)
			return &rb
		}, `a request given to DependsOn (GET "/c") is not in the batch`},
		{"a request added twice", func(t *testing.T, a, b, c *http.Request) *RequestBatch {
			var rb RequestBatch
			rb.Add(a, b, a)
			rb.DependsOn(b, a)
			return &rb
		}, "request 1 depends on request 0, which was added more than once"},
	} {
		for _, f := range []BatchFormat{FormatMultipart, FormatJSON} {
			t.Run(tc.name+"/"+f.String(), func(t *testing.T) {
				b := tc.build(t, newReq(t, "GET", "/a", ""), newReq(t, "GET", "/b", ""), newReq(t, "GET", "/c", ""))
				req, err := b.NewRequest(context.Background(), "https://host/odata/$batch", Format(f))
				require.Nil(t, req)
				require.ErrorIs(t, err, ErrDependency)
				require.ErrorContains(t, err, tc.want)
			})
		}
	}
}

// TestClientDependsOnMultipart: a multipart batch keeps dependencies by its
// order and the server's stop at the first failure, so it takes them
// without writing anything for them; with ContinueOnError it could not keep
// them, and refuses.
func TestClientDependsOnMultipart(t *testing.T) {
	build := func() *RequestBatch {
		var b RequestBatch
		a, c := newReq(t, "POST", "/a", "{}"), newReq(t, "GET", "/c", "")
		b.Add(a, c)
		b.DependsOn(c, a)
		return &b
	}
	req, err := build().NewRequest(context.Background(), "https://host/odata/$batch")
	require.NoError(t, err)
	body, err := io.ReadAll(req.Body)
	require.NoError(t, err)
	require.NotContains(t, strings.ToLower(string(body)), "depends")

	req, err = build().NewRequest(context.Background(), "https://host/odata/$batch", ContinueOnError(true))
	require.Nil(t, req)
	require.ErrorIs(t, err, ErrDependency)
	require.ErrorContains(t, err, "ContinueOnError")

	// A JSON batch says it, and continue-on-error is its default anyway.
	req, err = build().NewRequest(context.Background(), "https://host/odata/$batch", ContinueOnError(true), Format(FormatJSON))
	require.NoError(t, err)
	body, err = io.ReadAll(req.Body)
	require.NoError(t, err)
	require.Contains(t, string(body), `{"id":"2","dependsOn":["1"],"method":"GET","url":"https://host/c"}`)
	require.Equal(t, "odata.continue-on-error", req.Header.Get("Prefer"))
}

// TestClientDependsOnSplit: Split hands each piece the dependencies of its
// requests, and refuses to cut one.
func TestClientDependsOnSplit(t *testing.T) {
	var b RequestBatch
	var reqs []*http.Request
	for _, p := range []string{"/a", "/b", "/c", "/d"} {
		reqs = append(reqs, newReq(t, "GET", p, ""))
	}
	b.Add(reqs...)
	b.DependsOn(reqs[1], reqs[0])
	b.DependsOn(reqs[3], reqs[2])
	pieces, err := b.Split(2)
	require.NoError(t, err)
	require.Len(t, pieces, 2)
	for _, p := range pieces {
		req, err := p.NewRequest(context.Background(), "https://host/odata/$batch", Format(FormatJSON))
		require.NoError(t, err)
		body, err := io.ReadAll(req.Body)
		require.NoError(t, err)
		require.Contains(t, string(body), `"dependsOn":["1"]`)
	}

	_, err = b.Split(3)
	require.ErrorIs(t, err, ErrDependency)
	require.ErrorContains(t, err, `Split puts GET "/d" in batch 1 and a request it depends on (GET "/c") in batch 0`)
}

// TestRetryAfter: seconds and HTTP-dates; a date in the past is 0; what
// does not parse is not a wait.
func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"7", 7 * time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"0", 0, true},
		{"Tue, 01 Dec 2026 12:00:30 GMT", 30 * time.Second, true},
		{"Tuesday, 01-Dec-26 12:01:00 GMT", time.Minute, true},
		{"Tue Dec  1 12:00:05 2026", 5 * time.Second, true},
		{"Tue, 01 Dec 2026 11:00:00 GMT", 0, true},
		{"99999999999999999999", 1<<63 - 1, true},
		{"", 0, false},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
	} {
		got, ok := retryAfter(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("retryAfter(%q) = %v, %v, want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	if d, ok := RetryAfter(nil); d != 0 || ok {
		t.Errorf("RetryAfter(nil) = %v, %v, want 0, false", d, ok)
	}
	if d, ok := RetryAfter(&http.Response{Header: http.Header{"Retry-After": {"3"}}}); d != 3*time.Second || !ok {
		t.Errorf("RetryAfter(Retry-After: 3) = %v, %v, want 3s, true", d, ok)
	}
}
