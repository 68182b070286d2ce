package batchhttp

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/batchcodec/batch"
	"github.com/batchcodec/batch/jsonbatch"
)

// wireBatch is the batch of TestClientJSONWire: a GET by absolute URL, a
// POST with a JSON body by service-relative path, a PUT of binary bytes by
// host-relative path that depends on both, and in OData a changeset whose
// second request refers to the first by "$4", and a request that depends
// on a member of that changeset, which is written as the group's id.
func wireBatch(t *testing.T, f BatchFormat) *RequestBatch {
	var b RequestBatch
	get := newReq(t, "GET", "https://graph.microsoft.com/v1.0/me/events?$top=2", "")
	get.Header.Set("Accept", "application/json")
	post := newReq(t, "POST", "me/events", `{"subject": "Review"}`)
	post.Header.Set("Content-Type", "application/json")
	post.Header.Set("If-Match", `W/"1"`)
	bin := newReq(t, "PUT", "/v1.0/me/photo/$value", "\xff\xfe\xfd")
	bin.Header.Set("Content-Type", "image/png")
	b.Add(get, post, bin)
	b.DependsOn(bin, post, get, post)
	if f == FormatJSON {
		b.AddChangeset(newReq(t, "POST", "Books", "{}"), newReq(t, "POST", "$4/Orders", "{}"))
		after := newReq(t, "GET", "Orders", "")
		b.Add(after)
		b.DependsOn(after, b.Requests()[4], get)
	}
	return &b
}

// TestClientJSONWire: what NewRequest writes, byte for byte, and read back
// with jsonbatch's decoder: ids, urls in each format's form, dependsOn,
// atomicity groups, header names lower-case (OData) or as given (Graph),
// binary bodies in base64url (OData) or base64 (Graph).
func TestClientJSONWire(t *testing.T) {
	for _, tc := range []struct {
		format   BatchFormat
		endpoint string
		doc      string
		ops      []jsonbatch.Operation
	}{
		{FormatJSON, "https://graph.microsoft.com/v1.0/$batch",
			`{"requests":[` +
				`{"id":"1","method":"GET","url":"me/events?$top=2","headers":{"accept":"application/json"}},` +
				`{"id":"2","method":"POST","url":"me/events","headers":{"content-type":"application/json","if-match":"W/\"1\""},"body":{"subject": "Review"}},` +
				`{"id":"3","dependsOn":["2","1"],"method":"PUT","url":"me/photo/$value","headers":{"content-type":"image/png"},"body":"__79"},` +
				`{"id":"4","atomicityGroup":"g1","method":"POST","url":"Books","body":{}},` +
				`{"id":"5","atomicityGroup":"g1","dependsOn":["4"],"method":"POST","url":"$4/Orders","body":{}},` +
				`{"id":"6","dependsOn":["g1","1"],"method":"GET","url":"Orders"}]}`,
			[]jsonbatch.Operation{
				{ID: "1", Method: "GET", URL: "me/events?$top=2", Header: []batch.Field{{Name: "accept", Value: "application/json"}}},
				{ID: "2", Method: "POST", URL: "me/events", Header: []batch.Field{{Name: "content-type", Value: "application/json"}, {Name: "if-match", Value: `W/"1"`}},
					Body: []byte(`{"subject": "Review"}`)},
				{ID: "3", Method: "PUT", URL: "me/photo/$value", DependsOn: []string{"2", "1"}, Header: []batch.Field{{Name: "content-type", Value: "image/png"}},
					Body: []byte("\xff\xfe\xfd")},
				{ID: "4", Method: "POST", URL: "Books", AtomicityGroup: "g1", Body: []byte("{}")},
				{ID: "5", Method: "POST", URL: "$4/Orders", AtomicityGroup: "g1", DependsOn: []string{"4"}, Body: []byte("{}")},
				{ID: "6", Method: "GET", URL: "Orders", DependsOn: []string{"g1", "1"}},
			}},
		{FormatGraph, "https://graph.microsoft.com/v1.0/$batch",
			`{"requests":[` +
				`{"id":"1","method":"GET","url":"/me/events?$top=2","headers":{"Accept":"application/json"}},` +
				`{"id":"2","method":"POST","url":"/me/events","headers":{"Content-Type":"application/json","If-Match":"W/\"1\""},"body":{"subject": "Review"}},` +
				`{"id":"3","dependsOn":["2","1"],"method":"PUT","url":"/me/photo/$value","headers":{"Content-Type":"image/png"},"body":"//79"}]}`,
			[]jsonbatch.Operation{
				{ID: "1", Method: "GET", URL: "/me/events?$top=2", Header: []batch.Field{{Name: "Accept", Value: "application/json"}}},
				{ID: "2", Method: "POST", URL: "/me/events", Header: []batch.Field{{Name: "Content-Type", Value: "application/json"}, {Name: "If-Match", Value: `W/"1"`}},
					Body: []byte(`{"subject": "Review"}`)},
				{ID: "3", Method: "PUT", URL: "/me/photo/$value", DependsOn: []string{"2", "1"}, Header: []batch.Field{{Name: "Content-Type", Value: "image/png"}},
					Body: []byte("\xff\xfe\xfd")},
			}},
	} {
		t.Run(tc.format.String(), func(t *testing.T) {
			b := wireBatch(t, tc.format)
			req, err := b.NewRequest(context.Background(), tc.endpoint, Format(tc.format), OuterHeader("Authorization", "Bearer x"))
			require.NoError(t, err)
			require.Equal(t, http.Header{"Content-Type": {"application/json"}, "Accept": {"application/json"}, "Authorization": {"Bearer x"}}, req.Header)
			doc, err := io.ReadAll(req.Body)
			require.NoError(t, err)
			require.Equal(t, tc.doc, string(doc))
			require.Equal(t, int64(len(doc)), req.ContentLength)

			// GetBody replays the same document, for redirects and retries.
			require.NotNil(t, req.GetBody)
			again, err := req.GetBody()
			require.NoError(t, err)
			replay, err := io.ReadAll(again)
			require.NoError(t, err)
			require.Equal(t, string(doc), string(replay))

			d := jsonbatch.NewDecoder(strings.NewReader(string(doc)))
			var got []jsonbatch.Operation
			for {
				it, err := d.Next()
				if err == io.EOF {
					break
				}
				require.NoError(t, err)
				op := it.Operation()
				op.Message = 0
				got = append(got, op)
			}
			if diff := cmp.Diff(tc.ops, got); diff != "" {
				t.Errorf("decoded requests mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestClientJSONRefused: what a JSON batch cannot say, or an option it
// would ignore, is NewRequest's error, and the request bodies are closed.
func TestClientJSONRefused(t *testing.T) {
	gets := func(n int) func(t *testing.T) *RequestBatch {
		return func(t *testing.T) *RequestBatch {
			var b RequestBatch
			for i := range n {
				b.Add(newReq(t, "GET", "https://graph.microsoft.com/v1.0/me/messages/"+strconv.Itoa(i), ""))
			}
			return &b
		}
	}
	for _, tc := range []struct {
		name  string
		build func(t *testing.T) *RequestBatch
		opts  []ClientOption
		want  string
	}{
		{"Graph: 21 requests", gets(GraphMaxRequests + 1), []ClientOption{Format(FormatGraph)},
			"21 requests, and Microsoft Graph accepts at most 20 in one batch; cut it with RequestBatch.Split(GraphMaxRequests)"},
		{"Graph: a changeset", func(t *testing.T) *RequestBatch {
			var b RequestBatch
			b.AddChangeset(newReq(t, "POST", "/v1.0/me/events", "{}"))
			return &b
		}, []ClientOption{Format(FormatGraph)}, "no atomicity groups"},
		{"Graph: another host", func(t *testing.T) *RequestBatch {
			var b RequestBatch
			b.Add(newReq(t, "GET", "https://example.com/v1.0/me", ""))
			return &b
		}, []ClientOption{Format(FormatGraph)}, `request 0: "https://example.com/v1.0/me" is not under the batch URL's version root`},
		{"Graph: Targets", gets(1), []ClientOption{Format(FormatGraph), Targets(TargetAbsolute)}, "Targets does not apply to FormatGraph"},
		{"JSON: TargetHostRelative", gets(1), []ClientOption{Format(FormatJSON), Targets(TargetHostRelative)}, "Targets(TargetHostRelative) has no JSON form"},
		{"JSON: Encoding", gets(1), []ClientOption{Format(FormatJSON), Encoding(batch.WithBoundary("b"))}, "Encoding configures the multipart encoder"},
		{"JSON: a body that is not JSON", func(t *testing.T) *RequestBatch {
			var b RequestBatch
			r := newReq(t, "POST", "/v1.0/me/events", "{not json")
			r.Header.Set("Content-Type", "application/json")
			b.Add(r)
			return &b
		}, []ClientOption{Format(FormatJSON)}, "invalid operation in part 0, Body: not one JSON value"},
		{"unknown format", gets(1), []ClientOption{Format(9)}, "unknown BatchFormat(9)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.build(t)
			closed := 0
			for _, r := range b.Requests() {
				if r.Body != nil {
					r.Body = closeCounter{r.Body, &closed}
				}
			}
			req, err := b.NewRequest(context.Background(), "https://graph.microsoft.com/v1.0/$batch", tc.opts...)
			require.Nil(t, req)
			require.ErrorContains(t, err, tc.want)
			if strings.HasPrefix(tc.name, "JSON: a body") {
				require.Equal(t, 1, closed, "request bodies closed")
			}
		})
	}
}

// TestClientFormatSide: Format configures the request; passed to the
// reading side it is an error, not ignored.
func TestClientFormatSide(t *testing.T) {
	b := gets(t, 1)
	resp := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(`{"responses":[]}`))}
	_, err := b.ReadResponse(resp, Format(FormatJSON))
	require.ErrorContains(t, err, "option Format was passed to reading answers")
}

// TestClientGraphSplit: a batch of more than 20 requests, cut by
// Split(GraphMaxRequests), goes out as Graph batches of 20 at most.
func TestClientGraphSplit(t *testing.T) {
	var b RequestBatch
	for i := range 45 {
		b.Add(newReq(t, "GET", "https://graph.microsoft.com/v1.0/me/messages/"+strconv.Itoa(i), ""))
	}
	pieces, err := b.Split(GraphMaxRequests)
	require.NoError(t, err)
	var sizes []int
	for _, p := range pieces {
		_, err := p.NewRequest(context.Background(), "https://graph.microsoft.com/v1.0/$batch", Format(FormatGraph))
		require.NoError(t, err)
		sizes = append(sizes, p.Len())
	}
	require.Equal(t, []int{20, 20, 5}, sizes)
}

// TestClientJSONGroupIDs: group ids share one namespace with request ids,
// so a generated name steps aside for a Content-ID that took it.
func TestClientJSONGroupIDs(t *testing.T) {
	var b RequestBatch
	taken := newReq(t, "GET", "a", "")
	taken.Header.Set("Content-ID", "g1")
	b.Add(taken)
	b.AddChangeset(newReq(t, "POST", "b", "{}"))
	b.AddChangeset(newReq(t, "POST", "c", "{}"))
	require.Equal(t, []string{"", "g2", "g3"}, jsonGroupIDs(b.matchPlan()))
}

// TestClientJSONBufferLimit: ReadResponse holds JSON answers within
// MaxBufferBytes, as it does multipart ones.
func TestClientJSONBufferLimit(t *testing.T) {
	b := gets(t, 2)
	_, err := b.ReadResponse(jsonResponse(`{"responses":[{"id":"2","status":200,"body":"0123456789"},{"id":"1","status":200,"body":"0123456789"}]}`),
		MaxBufferBytes(20))
	require.ErrorIs(t, err, ErrBufferLimit)
}

// TestClientJSONTargetAbsolute: Targets(TargetAbsolute) writes absolute
// urls in an OData JSON batch, which the specification allows; a relative
// reference stands as it is, as in a multipart batch.
func TestClientJSONTargetAbsolute(t *testing.T) {
	var b RequestBatch
	b.Add(newReq(t, "GET", "/odata/Books(1)", ""), newReq(t, "GET", "Books(2)", ""))
	req, err := b.NewRequest(context.Background(), "https://host/odata/$batch", Format(FormatJSON), Targets(TargetAbsolute))
	require.NoError(t, err)
	doc, err := io.ReadAll(req.Body)
	require.NoError(t, err)
	require.Equal(t, `{"requests":[{"id":"1","method":"GET","url":"https://host/odata/Books(1)"},{"id":"2","method":"GET","url":"Books(2)"}]}`, string(doc))
}
