package batchhttp

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/batchcodec/batch"
)

// jsonResponse is an outer response holding the JSON document doc.
func jsonResponse(doc string) *http.Response {
	return &http.Response{StatusCode: 200, Status: "200 OK", Header: http.Header{"Content-Type": {"application/json; odata.metadata=minimal"}},
		Body: io.NopCloser(strings.NewReader(doc))}
}

// TestClientJSONPairing: JSON answers are paired by id, in any order; an
// id no request has, an id answered twice, or a request left unanswered
// (unless the server stopped after a failure) is ErrMismatch, naming the
// answer and the request, and no answers are returned.
func TestClientJSONPairing(t *testing.T) {
	changeset := func(t *testing.T) *RequestBatch {
		var b RequestBatch
		b.Add(newReq(t, "GET", "/a", ""))
		b.AddChangeset(newReq(t, "POST", "/b", "{}"), newReq(t, "POST", "/c", "{}"))
		return &b
	}
	three := func(t *testing.T) *RequestBatch { return gets(t, 3) }
	for _, tc := range []struct {
		name    string
		build   func(t *testing.T) *RequestBatch
		doc     string
		toMP    bool     // the request was a multipart batch
		want    []string // "status body", in request order; a string body without Content-Type is JSON text
		err     error
		answer  int // of a *ResponseError
		request int
		detail  string
	}{
		{name: "in order", build: three,
			doc:  `{"responses":[{"id":"1","status":200,"body":"a"},{"id":"2","status":201,"body":"b"},{"id":"3","status":204}]}`,
			want: []string{`200 "a"`, `201 "b"`, "204 "}},
		{name: "reversed, members in any order", build: three,
			doc:  `{"@odata.context":"x","responses":[{"status":204,"id":"3"},{"body":"b","id":"2","status":201},{"id":"1","status":200,"body":"a"}]}`,
			want: []string{`200 "a"`, `201 "b"`, "204 "}},
		{name: "a group answered by its id", build: changeset,
			doc:  `{"responses":[{"id":"g1","status":500,"body":"rolled back"},{"id":"1","status":200,"body":"a"}]}`,
			want: []string{`200 "a"`, `500 "rolled back"`, `500 "rolled back"`}},
		// A failed group's failure answers every member, as in multipart:
		// the first that is not a 424, whatever the order they came in.
		{name: "a group answered member by member", build: changeset,
			doc:  `{"responses":[{"id":"3","atomicityGroup":"g1","status":424},{"id":"2","atomicityGroup":"g1","status":500,"body":"x"},{"id":"1","status":200}]}`,
			want: []string{"200 ", `500 "x"`, `500 "x"`}},
		// SAP CAP answers the rolled-back members of a failed group with
		// their own 2xx: they did not take effect, and are not reported so.
		{name: "a failed group's rolled-back successes", build: changeset,
			doc:  `{"responses":[{"id":"1","status":200},{"id":"2","atomicityGroup":"g1","status":201},{"id":"3","atomicityGroup":"g1","status":500,"body":"dup"}]}`,
			want: []string{"200 ", `500 "dup"`, `500 "dup"`}},
		{name: "a group that succeeds, its members out of order", build: changeset,
			doc:  `{"responses":[{"id":"3","atomicityGroup":"g1","status":204},{"id":"1","status":200},{"id":"2","atomicityGroup":"g1","status":201,"body":"b"}]}`,
			want: []string{"200 ", `201 "b"`, "204 "}},
		// A multipart batch answered in JSON: answers in its order, ids the
		// server's own, as SAP CAP answers with Accept: application/json.
		{name: "a multipart batch answered in JSON", build: changeset, toMP: true,
			doc:  `{"responses":[{"id":"r1","status":200},{"id":"r2","atomicityGroup":"changeset_x","status":201},{"id":"r3","atomicityGroup":"changeset_x","status":500,"body":"dup"}]}`,
			want: []string{"200 ", `500 "dup"`, `500 "dup"`}},
		{name: "a multipart batch answered in JSON with its Content-IDs", build: three, toMP: true,
			doc:  `{"responses":[{"id":"1","status":200},{"id":"2","status":201},{"id":"3","status":202}]}`,
			want: []string{"200 ", "201 ", "202 "}},
		{name: "a multipart batch answered in JSON out of order", build: three, toMP: true,
			doc: `{"responses":[{"id":"2","status":201},{"id":"1","status":200}]}`,
			err: ErrMismatch, answer: 0, request: 1, detail: `answer 0 has id "2", request 1's, but the answers to a multipart batch come in its order: request 0 is next`},
		{name: "a multipart batch answered in JSON, one answer too many", build: three, toMP: true,
			doc: `{"responses":[{"id":"a","status":200},{"id":"b","status":200},{"id":"c","status":200},{"id":"d","status":200}]}`,
			err: ErrMismatch, answer: 3, request: -1, detail: `answer 3 is one more than the 3 requests`},
		{name: "unknown id", build: three,
			doc: `{"responses":[{"id":"1","status":200},{"id":"7","status":200},{"id":"2","status":200}]}`,
			err: ErrMismatch, answer: 1, request: -1, detail: `answer 1 has id "7", which no request has`},
		{name: "duplicate id", build: three,
			doc: `{"responses":[{"id":"2","status":200},{"id":"1","status":200},{"id":"2","status":200}]}`,
			err: ErrMismatch, answer: 2, request: 1, detail: `answer 2 repeats id "2": request 1 is answered already`},
		{name: "a member, then its group", build: changeset,
			doc: `{"responses":[{"id":"3","status":424},{"id":"g1","status":500}]}`,
			err: ErrMismatch, answer: 1, request: 2, detail: `answer 1 repeats id "g1": request 2 is answered already`},
		{name: "missing id in the middle", build: three,
			doc: `{"responses":[{"id":"3","status":200},{"id":"1","status":500}]}`,
			err: ErrMismatch, answer: -1, request: 1, detail: `request 1 (Content-ID "2") has no answer, and requests after it do`},
		{name: "missing id at the end, nothing failed", build: three,
			doc: `{"responses":[{"id":"2","status":200},{"id":"1","status":200}]}`,
			err: ErrMismatch, answer: -1, request: 2, detail: `request 2 (Content-ID "3") has no answer, and no answer before it failed`},
		{name: "no answers", build: three, doc: `{"responses":[]}`,
			err: ErrMismatch, answer: -1, request: 0, detail: `request 0 (Content-ID "1") has no answer, and no answer before it failed`},
		{name: "requests, not responses", build: three, doc: `{"requests":[{"id":"1","method":"GET","url":"a"}]}`,
			err: ErrMismatch, answer: 0, request: -1, detail: "the JSON batch holds requests, not responses"},
		{name: "stopped after a failure", build: three,
			doc:  `{"responses":[{"id":"2","status":400,"body":"bad"},{"id":"1","status":200,"body":"a"}]}`,
			want: []string{`200 "a"`, `400 "bad"`, "-"}, err: ErrStopped, answer: -1, request: 2, detail: "requests 2 to 2 did not run"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.build(t)
			resp := jsonResponse(tc.doc)
			if tc.toMP {
				resp.Request = &http.Request{Header: http.Header{"Content-Type": {"multipart/mixed; boundary=batch_1"}}}
			}
			resps, err := b.ReadResponse(resp)
			if tc.err == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tc.err)
				var re *ResponseError
				require.ErrorAs(t, err, &re)
				if diff := cmp.Diff([]any{tc.answer, tc.request, tc.detail}, []any{re.Answer, re.Request, re.Detail}); diff != "" {
					t.Errorf("ResponseError mismatch (-want +got):\n%s", diff)
				}
			}
			var got []string
			for i, r := range resps {
				if r == nil {
					got = append(got, "-")
					continue
				}
				require.Same(t, b.Requests()[i], r.Request)
				body, err := io.ReadAll(r.Body)
				require.NoError(t, err)
				got = append(got, r.Status[:3]+" "+string(body))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ReadResponse mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestClientJSONStream: NewResponseReader streams JSON answers in the
// order the server sent them, each with its Index and body, a truncated
// document is a *batch.SyntaxError after the answers before the cut, and
// a body read after Close fails.
func TestClientJSONStream(t *testing.T) {
	b := gets(t, 3)
	rr, err := b.NewResponseReader(jsonResponse(`{"responses":[{"id":"3","status":200,"body":{"n":3}},{"id":"1","status":200,"body":{"n":1}},{"id":"2","stat`))
	require.NoError(t, err)
	var got []string
	for {
		a, err := rr.Next()
		var se *batch.SyntaxError
		if errors.As(err, &se) {
			require.ErrorIs(t, err, batch.ErrTruncated)
			break
		}
		require.NoError(t, err)
		body, err := io.ReadAll(a.Response.Body)
		require.NoError(t, err)
		require.Equal(t, int64(len(body)), a.Response.ContentLength)
		got = append(got, a.Response.Request.URL.Path+" "+string(body))
		if len(got) == 2 {
			// Past this point the reader is done: reading a body after
			// Close fails rather than reading stale bytes.
			defer func(a *Answer) {
				_, err := a.Response.Body.Read(make([]byte, 1))
				require.ErrorIs(t, err, errReaderClosed)
			}(a)
		}
	}
	require.Equal(t, []string{`/r2 {"n":3}`, `/r0 {"n":1}`}, got)
	require.NoError(t, rr.Close())
}

// TestClientJSONMultipartAnswer: the reader goes by the answer's
// Content-Type, not the request's format: a multipart answer to a JSON
// batch is paired as multipart answers are.
func TestClientJSONMultipartAnswer(t *testing.T) {
	b := gets(t, 2)
	var sb strings.Builder
	enc, err := batch.NewEncoder(&sb, batch.WithBoundary("b"))
	require.NoError(t, err)
	for _, id := range []string{"2", "1"} {
		require.NoError(t, enc.WriteOperation(&batch.Operation{Message: batch.Response, ContentID: id, StatusCode: 200, Reason: "OK"}, strings.NewReader("answer "+id)))
	}
	require.NoError(t, enc.Close())
	resp := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {enc.ContentType()}}, Body: io.NopCloser(strings.NewReader(sb.String()))}
	resps, err := b.ReadResponse(resp)
	require.NoError(t, err)
	require.Equal(t, []string{"200 answer 1", "200 answer 2"}, bodies(t, resps))
}

// TestClientJSONGroupsStreamInBoundedMemory: a group's answers are held
// until the group is complete, and given back once returned, so streaming
// many groups needs room for one group, not for all of them.
func TestClientJSONGroupsStreamInBoundedMemory(t *testing.T) {
	var b RequestBatch
	var doc strings.Builder
	doc.WriteString(`{"responses":[`)
	big := strings.Repeat("x", 100<<10)
	for g := range 20 {
		b.AddChangeset(newReq(t, "POST", "http://example.com/a", "{}"), newReq(t, "POST", "http://example.com/b", "{}"))
		if g > 0 {
			doc.WriteByte(',')
		}
		fmt.Fprintf(&doc, `{"id":"%d","atomicityGroup":"g%d","status":201,"body":%q},{"id":"%d","atomicityGroup":"g%d","status":201,"body":%q}`,
			2*g+1, g+1, big, 2*g+2, g+1, big)
	}
	doc.WriteString(`]}`)
	rr, err := b.NewResponseReader(jsonResponse(doc.String()), MaxBufferBytes(1<<20))
	require.NoError(t, err)
	defer rr.Close()
	n := 0
	for {
		a, err := rr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err, "answer %d", n)
		body, err := io.ReadAll(a.Response.Body)
		require.NoError(t, err)
		require.Len(t, body, len(big)+2) // the JSON string, quotes and all
		n++
	}
	require.Equal(t, 40, n)
}
