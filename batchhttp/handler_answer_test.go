package batchhttp

import (
	"context"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batchcodec/batch"
)

var update = flag.Bool("update", false, "rewrite the handler's answer vectors in testdata/handler")

// serveBatch runs a hand-written batch through Handler(next, opts...) with
// httptest, so that hosts and boundaries are fixed, and returns the
// recorded response.
func serveBatch(t *testing.T, next http.Handler, body string, header http.Header, opts ...HandlerOption) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "http://example.com/$batch", strings.NewReader(body))
	req.Header.Set("Content-Type", "multipart/mixed; boundary=b")
	for k, vs := range header {
		req.Header[k] = vs
	}
	rec := httptest.NewRecorder()
	Handler(next, opts...).ServeHTTP(rec, req)
	return rec
}

// op writes one operation part of a hand-written batch with boundary "b"
// (or the changeset boundary cs).
func op(boundary, contentID, requestLines string) string {
	s := "--" + boundary + "\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
	if contentID != "" {
		s += "Content-ID: " + contentID + "\r\n"
	}
	return s + "\r\n" + toCRLF(requestLines)
}

// changesetBatch is a batch of two changesets, the second one failing at
// its second operation, and a GET: the vector of both answer shapes.
var changesetBatch = "--b\r\nContent-Type: multipart/mixed; boundary=cs1\r\n\r\n" +
	op("cs1", "1", "POST /items HTTP/1.1\n\na\n") +
	op("cs1", "2", "POST /items HTTP/1.1\n\nb\n") +
	"--cs1--\r\n" +
	"--b\r\nContent-Type: multipart/mixed; boundary=cs2\r\n\r\n" +
	op("cs2", "3", "POST /items HTTP/1.1\n\nc\n") +
	op("cs2", "4", "PATCH /items(9) HTTP/1.1\n\nnine\n") +
	op("cs2", "5", "POST /items HTTP/1.1\n\nd\n") +
	"--cs2--\r\n" +
	op("b", "6", "GET /items HTTP/1.1\n\n\n") +
	"--b--\r\n"

var randomCS = regexp.MustCompile(`changesetresponse_[0-9a-f]{32}`)

// golden compares got with testdata/handler/name, or rewrites it with
// -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "handler", name)
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	diff(t, path, string(want), got)
}

func TestHandlerChangesetAnswerShape(t *testing.T) {
	for _, tc := range []struct {
		name, vector string
		opts         []HandlerOption
		// depth and Content-Type of each decoded part, with the
		// Content-ID and status of each answer
		want []string
	}{
		{"odata", "changesets-odata.txt", nil, []string{
			"0 multipart/mixed; boundary=changesetresponse_X",
			"1 application/http 1 201", "1 application/http 2 201",
			"0 changeset end",
			"0 application/http 4 404", // the failed changeset: one part, not framed
			"0 application/http 6 200",
		}},
		{"sharepoint", "changesets-sharepoint.txt", []HandlerOption{Encoding(batch.WithDialect(batch.SharePoint))}, []string{
			"0 application/http 1 201", "0 application/http 2 201",
			"0 application/http 4 404",
			"0 application/http 6 200",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := newTestApp()
			hook := &txHook{app: app}
			opts := append([]HandlerOption{Changesets(hook), Encoding(batch.WithBoundary("batchresponse_1"))}, tc.opts...)
			rec := serveBatch(t, app, changesetBatch, http.Header{"Prefer": {"odata.continue-on-error"}}, opts...)
			require.Equal(t, http.StatusOK, rec.Code)
			body := randomCS.ReplaceAllString(rec.Body.String(), "changesetresponse_X")
			golden(t, tc.vector, body)

			// The bytes' shape, as the codec decodes them.
			d, err := batch.NewDecoder(strings.NewReader(body), rec.Header().Get("Content-Type"), batch.Strict(true))
			require.NoError(t, err)
			var got []string
			for {
				p, err := d.Next()
				if err == io.EOF {
					break
				}
				require.NoError(t, err)
				ct := string(p.PartHeader().Get("Content-Type"))
				switch p.Kind() {
				case batch.KindChangesetEnd:
					got = append(got, "0 changeset end")
				case batch.KindOperation:
					id, _ := p.ContentID()
					got = append(got, strings.Join([]string{itoa(p.Depth()), ct, string(id), itoa(p.StatusCode())}, " "))
				default:
					got = append(got, itoa(p.Depth())+" "+ct)
				}
			}
			diff(t, "parts", tc.want, got)
			diff(t, "hook calls", []string{"begin", "commit", "begin", "rollback"}, hook.calls)
			require.Equal(t, "a,b", app.names())

			// The package's client maps the one failure to each request
			// of its changeset.
			var b RequestBatch
			b.AddChangeset(newReq(t, "POST", "/items", "a"), newReq(t, "POST", "/items", "b"))
			b.AddChangeset(newReq(t, "POST", "/items", "c"), newReq(t, "PATCH", "/items(9)", "nine"), newReq(t, "POST", "/items", "d"))
			b.Add(newReq(t, "GET", "/items", ""))
			resps, err := b.ReadResponse(rec.Result())
			require.NoError(t, err)
			var statuses []int
			for _, r := range resps {
				statuses = append(statuses, r.StatusCode)
			}
			diff(t, "statuses", []int{201, 201, 404, 404, 404, 200}, statuses)
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestHandlerOuterStatus(t *testing.T) {
	one := op("b", "", "GET /items HTTP/1.1\n\n\n") + "--b--\r\n"
	for _, tc := range []struct {
		name   string
		header http.Header
		opts   []HandlerOption
		ct     string
		want   int
	}{
		{"no version", nil, nil, "", http.StatusOK},
		{"OData V4", http.Header{"Odata-Version": {"4.0"}, "Odata-Maxversion": {"4.0"}}, nil, "", http.StatusOK},
		{"OData V2", http.Header{"Dataserviceversion": {"2.0"}, "Maxdataserviceversion": {"2.0"}}, nil, "", http.StatusAccepted},
		{"OData V1, WCF spelling", http.Header{"Dataserviceversion": {"1.0;NetFx"}}, nil, "", http.StatusAccepted},
		{"max version only", http.Header{"Maxdataserviceversion": {"2.0"}}, nil, "", http.StatusAccepted},
		{"OData V3", http.Header{"Dataserviceversion": {"3.0"}, "Maxdataserviceversion": {"3.0"}}, nil, "", http.StatusOK},
		{"V4 header wins", http.Header{"Odata-Version": {"4.0"}, "Dataserviceversion": {"2.0"}}, nil, "", http.StatusOK},
		{"configured V2 (pyodata)", nil, []HandlerOption{ODataV2(true)}, "", http.StatusAccepted},
		// odata-batch (npm) sends "Accept: application/json", meaning the
		// operations' format, and no version header: still a V2 answer.
		{"configured V2, Accept JSON (odata-batch)", http.Header{"Accept": {"application/json"}}, []HandlerOption{ODataV2(true)}, "", http.StatusAccepted},
		{"UCWA", nil, []HandlerOption{ODataV2(true)}, "multipart/batching; boundary=b", http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.header.Clone()
			if h == nil {
				h = http.Header{}
			}
			if tc.ct != "" {
				h.Set("Content-Type", tc.ct)
			}
			rec := serveBatch(t, newTestApp(), one, h, tc.opts...)
			require.Equal(t, tc.want, rec.Code)
			d, err := batch.NewDecoder(rec.Body, rec.Header().Get("Content-Type"))
			require.NoError(t, err)
			p, err := d.Next()
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, p.StatusCode(), "the operation's own answer")
		})
	}
}

// bothWays serves one request through plain net/http and through the
// batch endpoint, and returns both answers.
func bothWays(t *testing.T, next http.Handler, method, target, body string, opts ...HandlerOption) (plain, batched *http.Response) {
	t.Helper()
	plainSrv := httptest.NewServer(next)
	t.Cleanup(plainSrv.Close)
	req, err := http.NewRequest(method, plainSrv.URL+target, strings.NewReader(body))
	require.NoError(t, err)
	plain, err = plainSrv.Client().Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { plain.Body.Close() })

	srv := newBatchServer(t, next, opts...)
	var b RequestBatch
	b.Add(newReq(t, method, target, body))
	resps, err := b.ReadResponse(post(t, srv, &b))
	require.NoError(t, err)
	return plain, resps[0]
}

func readBody(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	require.NoError(t, err)
	return string(b)
}

func TestHandlerCleansHeadersAsNetHTTP(t *testing.T) {
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Display-Name", "Alice \r\nSmith ")
		w.Header()["Bad Name"] = []string{"dropped"}
		w.Header()["X-Tabbed"] = []string{"\tv\t"}
		w.WriteHeader(http.StatusCreated)
		w.Header().Set("X-After", "too late") // no effect after WriteHeader
		io.WriteString(w, "made")
	})
	plain, batched := bothWays(t, next, "POST", "/people", "x")
	require.Equal(t, http.StatusCreated, plain.StatusCode)
	require.Equal(t, plain.StatusCode, batched.StatusCode)
	for _, k := range []string{"X-Display-Name", "Bad Name", "X-Tabbed", "X-After", "Content-Type", "Content-Length"} {
		assert.Equal(t, plain.Header.Values(k), batched.Header.Values(k), "header %s", k)
	}
	require.Equal(t, "Alice   Smith", batched.Header.Get("X-Display-Name"))
	require.Equal(t, readBody(t, plain), readBody(t, batched))
}

func TestHandlerDecidesBeforeCommit(t *testing.T) {
	// Behind the batch endpoint, in a changeset, the same 201 as behind
	// net/http; and an answer that cannot be written rolls back.
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Display-Name", "Alice \n")
		w.WriteHeader(http.StatusCreated)
		if r.URL.Path == "/unwritable" {
			io.WriteString(w, "line one\r\n--Resp\r\n") // a delimiter of the answer
		}
	})
	cs := func(target string) string {
		return "--b\r\nContent-Type: multipart/mixed; boundary=cs\r\n\r\n" +
			op("cs", "1", "POST /people HTTP/1.1\n\na\n") +
			op("cs", "2", "POST "+target+" HTTP/1.1\n\nb\n") + "--cs--\r\n--b--\r\n"
	}
	opts := func(h *recordingHook) []HandlerOption {
		return []HandlerOption{Changesets(h), Encoding(batch.WithBoundary("Resp"))}
	}
	t.Run("cleaned", func(t *testing.T) {
		plain := httptest.NewServer(next)
		defer plain.Close()
		resp, err := plain.Client().Post(plain.URL+"/people", "text/plain", strings.NewReader("a"))
		require.NoError(t, err)
		resp.Body.Close()
		want := itoa(resp.StatusCode) + " X-Display-Name=" + resp.Header.Get("X-Display-Name")
		require.Equal(t, "201 X-Display-Name=Alice", want, "behind net/http")

		h := &recordingHook{}
		rec := serveBatch(t, next, cs("/people"), nil, opts(h)...)
		got := decodeAnswers(t, rec)
		diff(t, "answers", []string{"201 1 @1 X-Display-Name=Alice", "201 2 @1 X-Display-Name=Alice"}, got)
		diff(t, "hook", []string{"begin", "commit"}, h.calls)
	})
	t.Run("unwritable", func(t *testing.T) {
		h := &recordingHook{}
		rec := serveBatch(t, next, cs("/unwritable"), nil, opts(h)...)
		got := decodeAnswers(t, rec)
		diff(t, "answers", []string{"500 2 @0 X-Display-Name="}, got)
		diff(t, "hook", []string{"begin", "rollback"}, h.calls)
	})
}

// recordingHook records its calls and does nothing else.
type recordingHook struct{ calls []string }

func (h *recordingHook) Begin(ctx context.Context) (context.Context, error) {
	h.calls = append(h.calls, "begin")
	return ctx, nil
}

func (h *recordingHook) Commit(context.Context) error {
	h.calls = append(h.calls, "commit")
	return nil
}

func (h *recordingHook) Rollback(context.Context) error {
	h.calls = append(h.calls, "rollback")
	return nil
}

// decodeAnswers lists the answers of a recorded batch response: status,
// Content-ID, depth and X-Display-Name.
func decodeAnswers(t *testing.T, rec *httptest.ResponseRecorder) []string {
	t.Helper()
	d, err := batch.NewDecoder(rec.Body, rec.Header().Get("Content-Type"))
	require.NoError(t, err)
	var out []string
	for {
		p, err := d.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(t, err)
		if p.Kind() != batch.KindOperation {
			continue
		}
		id, _ := p.ContentID()
		out = append(out, itoa(p.StatusCode())+" "+string(id)+" @"+itoa(p.Depth())+" X-Display-Name="+string(p.Header().Get("X-Display-Name")))
	}
}
