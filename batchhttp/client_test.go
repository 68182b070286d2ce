package batchhttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/batchcodec/batch"
)

// testServer is a batch endpoint built from this package's decoder and
// encoder, answering in one of the dialects: OData v4 keeps changeset
// framing, SharePoint flattens it, UCWA has none. An operation whose target
// contains "fail" fails; in a changeset, that fails the whole changeset with
// one response (framed as the dialect frames). Each answer echoes the method
// and target it answers, and a POST answers 201 with a Location.
type testServer struct {
	dialect  batch.Dialect
	noIDs    bool // do not echo Content-IDs
	reversed bool // answer top-level operations in reverse order (by Content-ID only)
	prefix   string
}

type testOp struct {
	op   batch.Operation
	body string
}

func (s *testServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d, err := batch.NewDecoder(r.Body, r.Header.Get("Content-Type"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	// Read the whole batch first: groups of operations, changesets marked.
	type group struct {
		ops       []testOp
		changeset bool
	}
	var groups []group
	for {
		p, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		switch p.Kind() {
		case batch.KindChangesetStart:
			groups = append(groups, group{changeset: true})
		case batch.KindOperation:
			body, err := io.ReadAll(p)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			op := testOp{op: p.Operation(), body: string(body)}
			if p.Depth() > 0 {
				groups[len(groups)-1].ops = append(groups[len(groups)-1].ops, op)
			} else {
				groups = append(groups, group{ops: []testOp{op}})
			}
		}
	}
	if s.reversed {
		for i, j := 0, len(groups)-1; i < j; i, j = i+1, j-1 {
			groups[i], groups[j] = groups[j], groups[i]
		}
	}
	enc, err := batch.NewEncoder(w, batch.WithDialect(s.dialect))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", enc.ContentType())
	answer := func(o testOp) error {
		resp := batch.Operation{Message: batch.Response, StatusCode: 200}
		if !s.noIDs && o.op.ContentID != "" {
			resp.ContentID = s.prefix + o.op.ContentID
		}
		switch {
		case strings.Contains(o.op.Target, "fail"):
			resp.StatusCode = 400
		case o.op.Method == http.MethodPost:
			resp.StatusCode = 201
			resp.Header = []batch.Field{{Name: "Location", Value: "/items(" + o.op.ContentID + ")"}}
		}
		body := o.op.Method + " " + o.op.Target + " " + o.body
		w, err := enc.CreateOperation(&resp)
		if err != nil {
			return err
		}
		_, err = io.WriteString(w, body)
		return err
	}
	for _, g := range groups {
		failed := -1
		for i, o := range g.ops {
			if strings.Contains(o.op.Target, "fail") {
				failed = i
				break
			}
		}
		framed := g.changeset && s.dialect == batch.ODataV4
		if framed {
			if err := enc.BeginChangeset(); err != nil {
				panic(err)
			}
		}
		if g.changeset && failed >= 0 {
			err = answer(g.ops[failed])
		} else {
			for _, o := range g.ops {
				if err = answer(o); err != nil {
					break
				}
			}
		}
		if err != nil {
			panic(err)
		}
		if framed {
			if err := enc.EndChangeset(); err != nil {
				panic(err)
			}
		}
	}
	if err := enc.Close(); err != nil {
		panic(err)
	}
}

func newReq(t *testing.T, method, target, body string) *http.Request {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, target, r)
	require.NoError(t, err)
	return req
}

// roundTrip sends b to a test server and returns the answers' bodies and
// status codes, in request order.
func roundTrip(t *testing.T, s *testServer, b *RequestBatch, opts ...ClientOption) ([]string, error) {
	srv := httptest.NewServer(s)
	defer srv.Close()
	req, err := b.NewRequest(context.Background(), srv.URL+"/api/v2.0/$batch", append([]ClientOption{Encoding(batch.WithDialect(s.dialect))}, opts...)...)
	require.NoError(t, err)
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	resps, err := b.ReadResponse(resp)
	if err != nil {
		return nil, err
	}
	require.Len(t, resps, b.Len())
	var out []string
	for i, r := range resps {
		body, err := io.ReadAll(r.Body)
		require.NoError(t, err)
		require.Same(t, b.Requests()[i], r.Request)
		out = append(out, strconv.Itoa(r.StatusCode)+" "+string(body))
	}
	return out, nil
}

func TestClientDialects(t *testing.T) {
	build := func(t *testing.T, withChangesets bool) *RequestBatch {
		var b RequestBatch
		b.Add(newReq(t, "GET", "https://outlook.office.com/api/v2.0/me/events?$top=2", ""))
		if withChangesets {
			b.AddChangeset(newReq(t, "POST", "https://outlook.office.com/api/v2.0/me/messages", `{"Subject":"a"}`),
				newReq(t, "PATCH", "/api/v2.0/me/messages/1", `{"Subject":"b"}`))
			b.AddChangeset(newReq(t, "POST", "messages", `{"x":1}`), newReq(t, "DELETE", "fail/2", ""), newReq(t, "POST", "$1/Attachments", "att"))
		}
		b.Add(newReq(t, "GET", "messages?$select=subject", ""))
		return &b
	}
	full := []string{
		"200 GET /api/v2.0/me/events?$top=2 ",
		`201 POST /api/v2.0/me/messages {"Subject":"a"}`,
		`200 PATCH /api/v2.0/me/messages/1 {"Subject":"b"}`,
		"400 DELETE fail/2 ", "400 DELETE fail/2 ", "400 DELETE fail/2 ",
		"200 GET messages?$select=subject ",
	}
	for _, tc := range []struct {
		name string
		s    testServer
		cs   bool
		want []string
	}{
		{"outlook v4 framed", testServer{dialect: batch.ODataV4}, true, full},
		{"sharepoint flattened", testServer{dialect: batch.SharePoint}, true, full},
		{"flattened without content-ids", testServer{dialect: batch.SharePoint, noIDs: true}, true, full},
		{"framed without content-ids", testServer{dialect: batch.ODataV4, noIDs: true}, true, full},
		{"google response- ids out of order", testServer{dialect: batch.ODataV4, reversed: true, prefix: "response-"}, true, full},
		{"ucwa", testServer{dialect: batch.UCWA}, false, []string{full[0], full[6]}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := roundTrip(t, &tc.s, build(t, tc.cs), Targets(TargetHostRelative))
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

// TestClientOuterErrors checks that a non-batch answer, a batch-level
// failure and irreconcilable counts are reported as such.
func TestClientOuterErrors(t *testing.T) {
	var b RequestBatch
	b.Add(newReq(t, "GET", "/a", ""), newReq(t, "GET", "/b", ""))
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		want    error
		msg     string
	}{
		{"429", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "30")
			http.Error(w, "slow down", http.StatusTooManyRequests)
		}, ErrNotBatch, "Retry-After 30"},
		{"whole batch failed", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "multipart/mixed; boundary=b")
			io.WriteString(w, "--b\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 400 Bad batch.Request\r\n\r\ntoo many\r\n--b--\r\n")
		}, ErrBatchFailed, "400 Bad batch.Request for 2 requests"},
		{"too few", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "multipart/mixed; boundary=b")
			io.WriteString(w, "--b\r\nContent-Type: application/http\r\nContent-ID: 9\r\n\r\nHTTP/1.1 200 OK\r\n\r\n\r\n--b--\r\n")
		}, ErrMismatch, "2 requests, 1 responses"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			req, err := b.NewRequest(context.Background(), srv.URL)
			require.NoError(t, err)
			resp, err := srv.Client().Do(req)
			require.NoError(t, err)
			_, err = b.ReadResponse(resp)
			require.ErrorIs(t, err, tc.want)
			var re *ResponseError
			require.ErrorAs(t, err, &re)
			require.Contains(t, err.Error(), tc.msg)
		})
	}
}

func TestClientOuterHeaders(t *testing.T) {
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		io.Copy(io.Discard, r.Body)
		http.Error(w, "no", http.StatusBadRequest)
	}))
	defer srv.Close()
	var b RequestBatch
	b.Add(newReq(t, "GET", "/a", ""))
	req, err := b.NewRequest(context.Background(), srv.URL, ContinueOnError(true), ODataVersion("4.0"), OuterHeader("Authorization", "Bearer x"), Encoding(batch.WithBoundary("batch_fixed")))
	require.NoError(t, err)
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, "odata.continue-on-error", got.Get("Prefer"))
	require.Equal(t, "4.0", got.Get("OData-Version"))
	require.Equal(t, "Bearer x", got.Get("Authorization"))
	require.Equal(t, "multipart/mixed; boundary=batch_fixed", got.Get("Content-Type"))
}

func TestSplit(t *testing.T) {
	var b RequestBatch
	for i := 0; i < 7; i++ {
		b.Add(newReq(t, "GET", fmt.Sprintf("/%d", i), ""))
	}
	b.AddChangeset(newReq(t, "POST", "/a", "x"), newReq(t, "POST", "/b", "y"), newReq(t, "POST", "/c", "z"))
	b.Add(newReq(t, "GET", "/last", ""))
	parts, err := b.Split(4)
	require.NoError(t, err)
	var sizes []int
	var all []*http.Request
	for _, p := range parts {
		sizes = append(sizes, p.Len())
		all = append(all, p.Requests()...)
	}
	require.Equal(t, []int{4, 3, 4}, sizes, "the changeset of 3 moves whole to the third batch")
	require.Equal(t, b.Requests(), all)
	_, err = b.Split(2)
	require.ErrorIs(t, err, ErrSplitLimit)
}

func TestResolve(t *testing.T) {
	base, _ := url.Parse("https://host/service.svc/$batch")
	for target, want := range map[string]string{
		"https://other/x":        "https://other/x",
		"/api/v2.0/me/messages":  "https://host/api/v2.0/me/messages",
		"Customers('ALFKI')":     "https://host/service.svc/Customers('ALFKI')",
		"messages?$select=a,b":   "https://host/service.svc/messages?$select=a,b",
		"Orders(1)/Items?$top=2": "https://host/service.svc/Orders(1)/Items?$top=2",
	} {
		u, err := ResolveTarget(base, target)
		require.NoError(t, err)
		require.Equal(t, want, u.String(), target)
	}
	locs := map[string]string{"1": "https://host/service.svc/Customers('X')", "n2": "/items(2)/"}
	lookup := func(id string) (string, bool) { l, ok := locs[id]; return l, ok }
	for target, want := range map[string]string{
		"$1/Orders":   "https://host/service.svc/Customers('X')/Orders",
		"$1":          "https://host/service.svc/Customers('X')",
		"$n2?$top=1":  "/items(2)?$top=1",
		"$3/Orders":   "$3/Orders",
		"Orders/$1":   "Orders/$1",
		"$/x":         "$/x",
		"$1x/Orders":  "$1x/Orders",
		"$10/Orders":  "$10/Orders",
		"$n2/$1/Item": "/items(2)/$1/Item",
	} {
		got, _ := ResolveContentID(target, lookup)
		require.Equal(t, want, got, target)
	}
}

// TestPartHTTP converts decoded operations to net/http values.
func TestPartHTTP(t *testing.T) {
	in := "--b\r\nContent-Type: application/http\r\n\r\nPOST  Customers   HTTP/1.1\r\nhost: h.example\r\ncontent-type: application/json\r\nContent-Length: 0\r\n\r\n{}\r\n" +
		"--b\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 204\r\nETag: W/\"1\"\r\n\r\n\r\n--b--"
	d, err := batch.NewDecoderBoundary(strings.NewReader(in), "b")
	require.NoError(t, err)
	base, _ := url.Parse("https://svc.example/odata/$batch")
	p, err := d.Next()
	require.NoError(t, err)
	_, err = Response(p, nil)
	require.ErrorIs(t, err, ErrNotResponse)
	req, err := Request(p, base)
	require.NoError(t, err)
	require.Equal(t, "POST", req.Method)
	require.Equal(t, "https://svc.example/odata/Customers", req.URL.String())
	require.Equal(t, "svc.example", req.Host)
	require.Equal(t, "application/json", req.Header.Get("Content-Type"))
	require.Equal(t, int64(-1), req.ContentLength, "the declared length is a hint; the body runs to the delimiter")
	require.Equal(t, int64(0), p.ContentLength())
	require.Equal(t, 1, req.ProtoMajor)
	body, err := io.ReadAll(req.Body)
	require.NoError(t, err)
	require.Equal(t, "{}", string(body))
	p, err = d.Next()
	require.NoError(t, err)
	_, err = Request(p, base)
	require.ErrorIs(t, err, ErrNotRequest)
	resp, err := Response(p, req)
	require.NoError(t, err)
	require.Equal(t, 204, resp.StatusCode)
	require.Equal(t, "204", resp.Status)
	require.Equal(t, `W/"1"`, resp.Header.Get("Etag"))
	require.Same(t, req, resp.Request)
	_, err = d.Next()
	require.True(t, errors.Is(err, io.EOF))
}

// TestClientStopped: without continue-on-error an OData server stops after
// the first failed operation; the client returns the answers there are.
func TestClientStopped(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ok", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "fine") })
	srv := httptest.NewServer(Handler(mux))
	defer srv.Close()
	var b RequestBatch
	b.Add(newReq(t, "GET", "/ok", ""), newReq(t, "GET", "/missing", ""), newReq(t, "GET", "/ok", ""))
	for _, cont := range []bool{false, true} {
		req, err := b.NewRequest(context.Background(), srv.URL+"/$batch", ContinueOnError(cont))
		require.NoError(t, err)
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		resps, err := b.ReadResponse(resp)
		require.Len(t, resps, 3)
		require.Equal(t, 200, resps[0].StatusCode)
		require.Equal(t, 404, resps[1].StatusCode)
		if cont {
			require.NoError(t, err)
			require.Equal(t, 200, resps[2].StatusCode)
		} else {
			require.ErrorIs(t, err, ErrStopped)
			require.Contains(t, err.Error(), "requests 2 to 2 did not run")
			require.Nil(t, resps[2])
		}
	}
}

// TestClientChangesetOnlyFailure: a batch of one changeset answered by one
// failure without Content-ID is that changeset failing, framed or not, and
// default Content-IDs never repeat one a request set.
func TestClientChangesetOnlyFailure(t *testing.T) {
	for _, framed := range []bool{true, false} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "multipart/mixed; boundary=b")
			op := "Content-Type: application/http\r\n\r\nHTTP/1.1 400 Bad batch.Request\r\n\r\nno\r\n"
			if framed {
				io.WriteString(w, "--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\n"+op+"--c--\r\n--b--\r\n")
			} else {
				io.WriteString(w, "--b\r\n"+op+"--b--\r\n")
			}
		}))
		var b RequestBatch
		b.AddChangeset(newReq(t, "POST", "/a", "x"), newReq(t, "POST", "/b", "y"))
		req, err := b.NewRequest(context.Background(), srv.URL)
		require.NoError(t, err)
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		resps, err := b.ReadResponse(resp)
		require.NoError(t, err, "framed=%v", framed)
		require.Len(t, resps, 2)
		for _, r := range resps {
			require.Equal(t, 400, r.StatusCode)
			body, _ := io.ReadAll(r.Body)
			require.Equal(t, "no", string(body))
		}
		srv.Close()
	}

	var b RequestBatch
	r2 := newReq(t, "GET", "/b", "")
	r2.Header.Set("Content-ID", "1")
	b.Add(newReq(t, "GET", "/a", ""), r2, newReq(t, "GET", "/c", ""))
	require.Equal(t, []string{"2", "1", "3"}, b.contentIDs())
}
