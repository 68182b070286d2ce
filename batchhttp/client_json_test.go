package batchhttp

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/batchcodec/batch"
	"github.com/batchcodec/batch/jsonbatch"
)

// jsonServer is an OData 4.01 JSON batch endpoint built on jsonbatch: it
// decodes the requests, runs them by their dependencies, and answers them in
// a shuffled order (seeded, so a failure repeats). A request whose url
// contains "fail" fails with 500, and the other members of its atomicity
// group with 424; one whose url contains "throttle" is answered 429 with
// Retry-After: 7; one that depends on a failed request or group is answered
// 424 Failed Dependency. Any other request is answered 200 with its own
// body and Content-Type, or, without a body, with a JSON body naming its
// method and url. It records the requests it decoded.
type jsonServer struct {
	seed uint64
	got  []jsonbatch.Operation
}

func (s *jsonServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !isJSONType(r.Header.Get("Content-Type")) {
		http.Error(w, "not JSON", http.StatusUnsupportedMediaType)
		return
	}
	d := jsonbatch.NewDecoder(r.Body)
	s.got = nil
	for {
		it, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.got = append(s.got, it.Operation())
	}
	failed := map[string]bool{} // ids and group ids
	var answers []jsonbatch.Operation
	for _, op := range s.got {
		a := jsonbatch.Operation{Message: batch.Response, ID: op.ID, AtomicityGroup: op.AtomicityGroup, Status: 200}
		dependencyFailed := failed[op.AtomicityGroup]
		for _, d := range op.DependsOn {
			dependencyFailed = dependencyFailed || failed[d]
		}
		switch {
		case dependencyFailed:
			a.Status = http.StatusFailedDependency
		case strings.Contains(op.URL, "fail"):
			a.Status = http.StatusInternalServerError
		case strings.Contains(op.URL, "throttle"):
			a.Status = http.StatusTooManyRequests
			a.Header = []batch.Field{{Name: "Retry-After", Value: "7"}}
		case op.Body != nil:
			a.Body = op.Body
			if ct := op.ContentType(); ct != "" {
				a.Header = []batch.Field{{Name: "Content-Type", Value: ct}}
			}
		default:
			a.Body = []byte(`{"method":` + strconv.Quote(op.Method) + `,"url":` + strconv.Quote(op.URL) + `}`)
		}
		if a.Status >= 400 {
			failed[op.ID] = true
			if op.AtomicityGroup != "" {
				failed[op.AtomicityGroup] = true
			}
		}
		answers = append(answers, a)
	}
	rand.New(rand.NewPCG(s.seed, 1)).Shuffle(len(answers), func(i, j int) { answers[i], answers[j] = answers[j], answers[i] })
	w.Header().Set("Content-Type", "application/json")
	enc, err := jsonbatch.NewEncoder(w, batch.Response)
	if err != nil {
		panic(err)
	}
	for i := range answers {
		if err := enc.WriteOperation(&answers[i]); err != nil {
			panic(err)
		}
	}
	if err := enc.Close(); err != nil {
		panic(err)
	}
}

// wantAnswer is what a test expects of one answer.
type wantAnswer struct {
	Status     int
	Type       string // Content-Type
	Body       string
	RetryAfter time.Duration
}

// TestClientJSON: a JSON batch sent to an OData 4.01 server that answers in
// any order is paired back by id, bodies of each kind intact, with the
// server's 424 for dependents and 429 with Retry-After.
func TestClientJSON(t *testing.T) {
	binary := make([]byte, 256)
	for i := range binary {
		binary[i] = byte(i)
	}
	type build func(t *testing.T, url string) *RequestBatch
	for _, tc := range []struct {
		name  string
		build build
		opts  []ClientOption
		want  []wantAnswer
	}{
		{"gets, shuffled", func(t *testing.T, url string) *RequestBatch {
			var b RequestBatch
			for i := range 6 {
				b.Add(newReq(t, "GET", url+"/odata/Books("+strconv.Itoa(i)+")", ""))
			}
			return &b
		}, nil, func() []wantAnswer {
			var w []wantAnswer
			for i := range 6 {
				w = append(w, wantAnswer{Status: 200, Type: "application/json", Body: `{"method":"GET","url":"Books(` + strconv.Itoa(i) + `)"}`})
			}
			return w
		}()},
		{"bodies: JSON, text, binary", func(t *testing.T, url string) *RequestBatch {
			var b RequestBatch
			j := newReq(t, "POST", url+"/odata/Books", `{"title": "Dune", "n": [1, 2]}`)
			j.Header.Set("Content-Type", "application/json")
			txt := newReq(t, "PUT", url+"/odata/Books(1)/title/$value", "Dune \"Messiah\"\n\u00e9")
			txt.Header.Set("Content-Type", "text/plain; charset=utf-8")
			bin := newReq(t, "PUT", url+"/odata/Books(1)/cover/$value", string(binary))
			bin.Header.Set("Content-Type", "image/png")
			b.Add(j, txt, bin)
			return &b
		}, nil, []wantAnswer{
			{Status: 200, Type: "application/json", Body: `{"title": "Dune", "n": [1, 2]}`},
			{Status: 200, Type: "text/plain; charset=utf-8", Body: "Dune \"Messiah\"\n\u00e9"},
			{Status: 200, Type: "image/png", Body: string(binary)},
		}},
		{"dependents of a failure get 424", func(t *testing.T, url string) *RequestBatch {
			var b RequestBatch
			a := newReq(t, "POST", url+"/odata/fail", "{}")
			dep := newReq(t, "GET", url+"/odata/after", "")
			free := newReq(t, "GET", url+"/odata/free", "")
			dep2 := newReq(t, "GET", url+"/odata/after2", "")
			b.Add(a, dep, free, dep2)
			b.DependsOn(dep, a)
			b.DependsOn(dep2, dep, free)
			return &b
		}, nil, []wantAnswer{
			{Status: 500},
			{Status: 424},
			{Status: 200, Type: "application/json", Body: `{"method":"GET","url":"free"}`},
			{Status: 424},
		}},
		{"429 with Retry-After, per request", func(t *testing.T, url string) *RequestBatch {
			var b RequestBatch
			b.Add(newReq(t, "GET", url+"/odata/a", ""), newReq(t, "GET", url+"/odata/throttle", ""), newReq(t, "GET", url+"/odata/b", ""))
			return &b
		}, nil, []wantAnswer{
			{Status: 200, Type: "application/json", Body: `{"method":"GET","url":"a"}`},
			{Status: 429, RetryAfter: 7 * time.Second},
			{Status: 200, Type: "application/json", Body: `{"method":"GET","url":"b"}`},
		}},
		{"changesets are atomicity groups", func(t *testing.T, url string) *RequestBatch {
			var b RequestBatch
			ok1 := newReq(t, "GET", url+"/odata/one", "")
			b.AddChangeset(ok1, newReq(t, "GET", url+"/odata/two", ""))
			b.AddChangeset(newReq(t, "GET", url+"/odata/fail", ""), newReq(t, "GET", url+"/odata/four", ""))
			after := newReq(t, "GET", url+"/odata/five", "")
			b.Add(after)
			b.DependsOn(after, b.Requests()[3])
			return &b
		}, nil, []wantAnswer{
			{Status: 200, Type: "application/json", Body: `{"method":"GET","url":"one"}`},
			{Status: 200, Type: "application/json", Body: `{"method":"GET","url":"two"}`},
			{Status: 500}, // the group failed: its failure answers both members
			{Status: 500},
			{Status: 424},
		}},
		{"Graph", func(t *testing.T, url string) *RequestBatch {
			var b RequestBatch
			ev := newReq(t, "POST", url+"/v1.0/me/events", `{"subject":"Review"}`)
			ev.Header.Set("Content-Type", "application/json")
			b.Add(newReq(t, "GET", url+"/v1.0/me/messages?$top=2", ""), ev)
			return &b
		}, []ClientOption{Format(FormatGraph)}, []wantAnswer{
			{Status: 200, Type: "application/json", Body: `{"method":"GET","url":"/me/messages?$top=2"}`},
			{Status: 200, Type: "application/json", Body: `{"subject":"Review"}`},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for seed := range uint64(4) {
				srv := httptest.NewServer(&jsonServer{seed: seed})
				b := tc.build(t, srv.URL)
				endpoint := srv.URL + "/odata/$batch"
				if strings.Contains(tc.name, "Graph") {
					endpoint = srv.URL + "/v1.0/$batch"
				}
				opts := tc.opts
				if opts == nil {
					opts = []ClientOption{Format(FormatJSON)}
				}
				req, err := b.NewRequest(context.Background(), endpoint, opts...)
				require.NoError(t, err)
				require.Equal(t, "application/json", req.Header.Get("Content-Type"))
				resp, err := srv.Client().Do(req)
				require.NoError(t, err)
				resps, err := b.ReadResponse(resp)
				require.NoError(t, err)
				var got []wantAnswer
				for i, r := range resps {
					require.Same(t, b.Requests()[i], r.Request)
					body, err := io.ReadAll(r.Body)
					require.NoError(t, err)
					ra, _ := RetryAfter(r)
					got = append(got, wantAnswer{r.StatusCode, r.Header.Get("Content-Type"), string(body), ra})
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("seed %d: ReadResponse mismatch (-want +got):\n%s", seed, diff)
				}
				srv.Close()
			}
		})
	}
}
