package batchhttp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/batchcodec/batch"
)

// rawAns is one answer a fake server sends: its Content-ID (none when
// noID), status, body, and the changeset frame it sits in (-1 for none;
// consecutive answers with the same frame share one frame).
type rawAns struct {
	id     string
	noID   bool
	status int
	body   string
	frame  int
}

// answerResponse encodes answers as the outer response of a batch.
func answerResponse(t testing.TB, answers []rawAns) *http.Response {
	t.Helper()
	var buf bytes.Buffer
	enc, err := batch.NewEncoder(&buf)
	require.NoError(t, err)
	frame := -1
	for _, a := range answers {
		if a.frame != frame {
			if frame >= 0 {
				require.NoError(t, enc.EndChangeset())
			}
			if a.frame >= 0 {
				require.NoError(t, enc.BeginChangeset())
			}
			frame = a.frame
		}
		op := batch.Operation{Message: batch.Response, StatusCode: a.status}
		if !a.noID {
			op.ContentID = a.id
		}
		require.NoError(t, enc.WriteOperation(&op, strings.NewReader(a.body)))
	}
	if frame >= 0 {
		require.NoError(t, enc.EndChangeset())
	}
	require.NoError(t, enc.Close())
	return &http.Response{StatusCode: 200, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {enc.ContentType()}}, Body: io.NopCloser(&buf)}
}

// ans is an answer with a Content-ID at top level.
func ans(id string, status int, body string) rawAns {
	return rawAns{id: id, noID: id == "", status: status, body: body, frame: -1}
}

// gets returns a batch of n top-level GETs, with default Content-IDs 1..n.
func gets(t *testing.T, n int) *RequestBatch {
	var b RequestBatch
	for i := range n {
		b.Add(newReq(t, "GET", "/r"+strconv.Itoa(i), ""))
	}
	return &b
}

// bodies reads the answers' bodies, "-" for a request without one.
func bodies(t *testing.T, resps []*http.Response) []string {
	var out []string
	for _, r := range resps {
		if r == nil {
			out = append(out, "-")
			continue
		}
		b, err := io.ReadAll(r.Body)
		require.NoError(t, err)
		out = append(out, strconv.Itoa(r.StatusCode)+" "+string(b))
	}
	return out
}

// TestClientMismatch has the review's cases and their kin: whenever the
// answers contradict the pairing, the result is ErrMismatch and no pairing.
func TestClientMismatch(t *testing.T) {
	cs := func(t *testing.T) *RequestBatch {
		var b RequestBatch
		b.AddChangeset(newReq(t, "POST", "/a", "x"), newReq(t, "POST", "/b", "y"))
		b.Add(newReq(t, "GET", "/c", ""))
		return &b
	}
	for _, tc := range []struct {
		name    string
		batch   func(*testing.T) *RequestBatch
		answers []rawAns
		answer  int // the answer the error names, -1 for none
		request int
		detail  string
	}{
		{"review: IDs 3, 1, 99 for a, b, c", func(t *testing.T) *RequestBatch { return gets(t, 3) },
			[]rawAns{ans("3", 200, "a"), ans("1", 200, "b"), ans("99", 200, "c")}, 2, -1, `Content-ID "99", which no request has`},
		{"review: IDs 2, 2, 3 for a, b, c", func(t *testing.T) *RequestBatch { return gets(t, 3) },
			[]rawAns{ans("2", 200, "a"), ans("2", 200, "b"), ans("3", 200, "c")}, 1, 1, `repeats Content-ID "2"`},
		{"review: stopped after a changeset answered one by one", cs,
			[]rawAns{ans("", 400, "a failed"), ans("", 424, "b not run")}, 0, 0, "may answer request 0 alone or its whole changeset"},
		{"unknown ID after answers without one", func(t *testing.T) *RequestBatch { return gets(t, 2) },
			[]rawAns{ans("", 200, "a"), ans("7", 200, "b")}, 1, 1, `Content-ID "7", but by order it answers request 1`},
		{"an ID that order gives to another request", func(t *testing.T) *RequestBatch { return gets(t, 3) },
			[]rawAns{ans("", 200, "a"), ans("3", 200, "c"), ans("2", 200, "b")}, 1, 1, `by order it answers request 1, whose Content-ID is "2"`},
		{"more answers than requests", func(t *testing.T) *RequestBatch { return gets(t, 2) },
			[]rawAns{ans("", 200, "a"), ans("", 200, "b"), ans("", 200, "c")}, 2, -1, "more than the 2 requests have"},
		{"more answers than requests, with IDs", func(t *testing.T) *RequestBatch { return gets(t, 2) },
			[]rawAns{ans("1", 200, "a"), ans("2", 200, "b"), ans("2", 200, "b again")}, 2, 1, `repeats Content-ID "2"`},
		{"too few answers, nothing failed", func(t *testing.T) *RequestBatch { return gets(t, 3) },
			[]rawAns{ans("", 200, "a"), ans("", 200, "b")}, -1, 2, "request 2 (Content-ID \"3\") has no answer, and the answer before it did not fail"},
		{"a hole in the middle, with IDs", func(t *testing.T) *RequestBatch { return gets(t, 3) },
			[]rawAns{ans("1", 200, "a"), ans("3", 200, "c")}, -1, 1, "request 1 (Content-ID \"2\") has no answer, and requests after it do"},
		{"an answer for a request that cannot have run", cs,
			[]rawAns{{id: "2", status: 400, body: "b failed", frame: 0}, ans("1", 200, "a")}, 1, 0, `repeats Content-ID "1": request 0 is answered already`},
		{"a changeset frame short of answers", cs,
			[]rawAns{{id: "1", status: 200, frame: 0}, ans("3", 200, "c")}, -1, 1, `request 1 (Content-ID "2") in a changeset has no answer, though others in it do`},
		{"a changeset begun in a frame and ended outside it", cs,
			[]rawAns{{id: "1", status: 200, body: "a", frame: 0}, ans("2", 400, "b")}, 1, 1, "framed differently from the other answers"},
		{"a frame where no changeset is", func(t *testing.T) *RequestBatch { return gets(t, 2) },
			[]rawAns{{noID: true, status: 200, frame: 0}, {noID: true, status: 200, frame: 0}}, 0, 0, "inside a changeset, but by order it answers request 0, which is not in one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.batch(t)
			resps, err := b.ReadResponse(answerResponse(t, tc.answers))
			require.ErrorIs(t, err, ErrMismatch)
			require.Nil(t, resps, "no pairing with a mismatch")
			var re *ResponseError
			require.ErrorAs(t, err, &re)
			require.Contains(t, err.Error(), tc.detail)
			if diff := cmp.Diff([2]int{tc.answer, tc.request}, [2]int{re.Answer, re.Request}); diff != "" {
				t.Errorf("ResponseError (Answer, Request) mismatch (-want +got):\n%s", diff)
			}

			// The stream pairs nothing it cannot settle: it ends with the
			// same error, and what it returned before agreed with order.
			n := 0
			var serr error
			for a, err := range b.Responses(answerResponse(t, tc.answers)) {
				if err != nil {
					serr = err
					break
				}
				require.Equal(t, n, a.Index)
				n++
			}
			require.ErrorIs(t, serr, ErrMismatch)
		})
	}
}

// TestClientPairings: answers that can be paired one way are, whatever
// the server's layout.
func TestClientPairings(t *testing.T) {
	cs := func(t *testing.T) *RequestBatch {
		var b RequestBatch
		b.Add(newReq(t, "GET", "/a", ""))
		b.AddChangeset(newReq(t, "POST", "/b", "x"), newReq(t, "POST", "/c", "y"), newReq(t, "POST", "/d", "z"))
		b.Add(newReq(t, "GET", "/e", ""))
		return &b
	}
	for _, tc := range []struct {
		name    string
		answers []rawAns
		want    []string
		stopped bool
	}{
		{"CAP: one failure with the failing request's ID, flattened", []rawAns{ans("1", 200, "a"), ans("3", 400, "c failed"), ans("5", 200, "e")},
			[]string{"200 a", "400 c failed", "400 c failed", "400 c failed", "200 e"}, false},
		{"one failure without ID, then stopped", []rawAns{ans("", 200, "a"), ans("", 400, "cs failed")},
			[]string{"200 a", "400 cs failed", "400 cs failed", "400 cs failed", "-"}, true},
		{"one failure framed, no IDs", []rawAns{ans("", 200, "a"), {noID: true, status: 400, body: "cs", frame: 0}, ans("", 200, "e")},
			[]string{"200 a", "400 cs", "400 cs", "400 cs", "200 e"}, false},
		{"individual answers framed, a failure first", []rawAns{ans("", 200, "a"), {noID: true, status: 400, body: "b", frame: 0},
			{noID: true, status: 424, body: "c", frame: 0}, {noID: true, status: 424, body: "d", frame: 0}, ans("", 200, "e")},
			[]string{"200 a", "400 b", "424 c", "424 d", "200 e"}, false},
		{"individual answers flattened with IDs, then stopped", []rawAns{ans("1", 200, "a"), ans("2", 400, "b"), ans("3", 424, "c"), ans("4", 424, "d")},
			[]string{"200 a", "400 b", "424 c", "424 d", "-"}, true},
		{"Google: response- IDs in any order", []rawAns{ans("response-5", 200, "e"), ans("response-3", 201, "c"), ans("response-1", 200, "a"),
			ans("response-2", 201, "b"), ans("response-4", 201, "d")},
			[]string{"200 a", "201 b", "201 c", "201 d", "200 e"}, false},
		{"out of order with a changeset failing as a whole", []rawAns{ans("5", 200, "e"), ans("4", 409, "d"), ans("1", 200, "a")},
			[]string{"200 a", "409 d", "409 d", "409 d", "200 e"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := cs(t)
			resps, err := b.ReadResponse(answerResponse(t, tc.answers))
			if tc.stopped {
				require.ErrorIs(t, err, ErrStopped)
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, tc.want, bodies(t, resps))
			for i, r := range resps {
				if r != nil {
					require.Same(t, b.Requests()[i], r.Request)
				}
			}
		})
	}
}

// TestClientBatchFailed: one failure without Content-ID for a batch of
// several requests is the batch failing as a whole.
func TestClientBatchFailed(t *testing.T) {
	b := gets(t, 3)
	_, err := b.ReadResponse(answerResponse(t, []rawAns{ans("", 413, "too many")}))
	require.ErrorIs(t, err, ErrBatchFailed)
	var re *ResponseError
	require.ErrorAs(t, err, &re)
	require.Equal(t, 413, re.Response.StatusCode)
}

// TestClientPairingProperty sends random batches to a simulated server that
// answers them in one of the layouts real servers use and, when it echoes
// Content-IDs, misbehaves at random: drops, duplicates, reorders and
// renumbers answers. Every answer's body names the requests it truly
// answers (all of a changeset for a failure in one, as a failure fails the
// changeset). No pairing may be wrong unless an error says so.
//
// A server may also echo Content-IDs inside changesets only. Without
// Content-IDs an answer dropped in the middle or two answers
// swapped cannot be seen by any client, so that server only varies its
// layout; a well-behaved server that echoes IDs must be read without any
// error but ErrStopped.
func TestClientPairingProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var errs, oks int
	for iter := range 2000 {
		var b RequestBatch
		var groups [][]int
		n := 0
		for range 1 + rng.IntN(6) {
			k := 1
			changeset := rng.IntN(3) == 0
			if changeset {
				k = 1 + rng.IntN(4)
			}
			var idx []int
			var reqs []*http.Request
			for range k {
				idx = append(idx, n)
				reqs = append(reqs, newReq(t, "POST", "/r"+strconv.Itoa(n), "x"))
				n++
			}
			if changeset {
				b.AddChangeset(reqs...)
			} else {
				b.Add(reqs...)
			}
			groups = append(groups, append([]int{map[bool]int{true: 1, false: 0}[changeset]}, idx...))
		}
		ids := b.contentIDs()
		echo := rng.IntN(4)           // 0 none, 1 all, 2 all as response-<id>, 3 in changesets only
		framed := rng.IntN(2) == 0    // changesets keep their framing
		stop := rng.IntN(2) == 0      // stop after the first failure
		wholeFail := rng.IntN(4) != 0 // a failed changeset gets one answer
		misbehave := (echo == 1 || echo == 2) && rng.IntN(2) == 0

		var answers []rawAns
		truth := map[string]string{} // body → the requests it answers
		for gi, g := range groups {
			changeset, idx := g[0] == 1, g[1:]
			fails := make([]bool, len(idx))
			anyFail := false
			for j := range idx {
				fails[j] = rng.IntN(5) == 0
				anyFail = anyFail || fails[j]
			}
			frame := -1
			if changeset && framed {
				frame = gi
			}
			mk := func(i, status int, covers []int) rawAns {
				body := fmt.Sprintf("answer to %d (%d)", i, len(answers))
				var c []string
				for _, x := range covers {
					c = append(c, strconv.Itoa(x))
				}
				truth[body] = "," + strings.Join(c, ",") + ","
				a := rawAns{id: ids[i], noID: echo == 0 || echo == 3 && !changeset, status: status, body: body, frame: frame}
				if echo == 2 {
					a.id = "response-" + a.id
				}
				return a
			}
			switch {
			case changeset && anyFail && wholeFail:
				j := 0
				for !fails[j] {
					j++
				}
				answers = append(answers, mk(idx[j], 400, idx))
			default:
				for j, i := range idx {
					status, covers := 200, []int{i}
					if fails[j] {
						status = 400
					}
					if changeset && anyFail {
						covers = idx
						if !fails[j] {
							status = 424
						}
					}
					answers = append(answers, mk(i, status, covers))
				}
			}
			if anyFail && stop {
				break
			}
		}
		if misbehave {
			// Renumbering comes last: an answer given the ID of an answer
			// dropped after it would be an undetectable lie, not a mistake.
			ops := []int{rng.IntN(4), rng.IntN(4)}[:1+rng.IntN(2)]
			slices.Sort(ops)
			for _, op := range ops {
				if len(answers) == 0 {
					break
				}
				k := rng.IntN(len(answers))
				switch op {
				case 0: // drop
					answers = append(answers[:k], answers[k+1:]...)
				case 1: // duplicate
					answers = append(answers[:k+1], answers[k:]...)
				case 2: // swap with another
					l := rng.IntN(len(answers))
					answers[k], answers[l] = answers[l], answers[k]
				case 3: // renumber: an unknown ID, or one another answer has
					if l := rng.IntN(len(answers)); l != k && rng.IntN(2) == 0 {
						answers[k].id = answers[l].id
					} else {
						answers[k].id = "x" + answers[k].id
					}
				}
			}
		}

		where := fmt.Sprintf("iteration %d: groups %v, echo %d, framed %v, stop %v, whole %v, misbehave %v, answers %+v",
			iter, groups, echo, framed, stop, wholeFail, misbehave, answers)
		resps, err := b.ReadResponse(answerResponse(t, answers))
		if err != nil && !errors.Is(err, ErrStopped) {
			errs++
			require.True(t, misbehave || echo == 0 || echo == 3, "%s: a well-behaved server that echoes IDs gave %v", where, err)
			require.Nil(t, resps, where)
			continue
		}
		oks++
		for i, r := range resps {
			if r == nil {
				continue
			}
			body, _ := io.ReadAll(r.Body)
			require.Contains(t, truth[string(body)], ","+strconv.Itoa(i)+",", "%s: request %d got %q with err %v", where, i, body, err)
		}

		// The stream agrees: when it ends without error, every answer it
		// returned was paired right.
		var pairs [][2]string
		var serr error
		for a, err := range b.Responses(answerResponse(t, answers)) {
			if err != nil {
				serr = err
				break
			}
			body, _ := io.ReadAll(a.Response.Body)
			for k := range a.Count {
				pairs = append(pairs, [2]string{string(body), strconv.Itoa(a.Index + k)})
			}
		}
		if serr == nil || errors.Is(serr, ErrStopped) {
			for _, p := range pairs {
				require.Contains(t, truth[p[0]], ","+p[1]+",", "%s: stream paired %q with request %s", where, p[0], p[1])
			}
		}
		require.Equal(t, errors.Is(err, ErrStopped), errors.Is(serr, ErrStopped), where)
	}
	require.Positive(t, errs)
	require.Positive(t, oks)
}
