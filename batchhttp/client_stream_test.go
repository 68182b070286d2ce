package batchhttp

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/batchcodec/batch"
)

// bigAnswer is an outer response whose first answer has a body of size
// bytes, generated as it is read: the test holds no copy of it.
func bigAnswer(size int64) *http.Response {
	head := "--b\r\nContent-Type: application/http\r\nContent-ID: 1\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n"
	tail := "\r\n--b\r\nContent-Type: application/http\r\nContent-ID: 2\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n\r\n--b--\r\n"
	body := io.MultiReader(strings.NewReader(head), io.LimitReader(pattern{}, size), strings.NewReader(tail))
	return &http.Response{StatusCode: 200, Status: "200 OK", Header: http.Header{"Content-Type": {"multipart/mixed; boundary=b"}},
		Body: io.NopCloser(body)}
}

// pattern reads as an endless run of lines of 'x'.
type pattern struct{}

var patternBlock = bytes.Repeat([]byte(strings.Repeat("x", 1023)+"\n"), 64)

func (pattern) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		n += copy(p[n:], patternBlock)
	}
	return n, nil
}

// TestClientStreamGiB decodes a 1 GiB answer through the streaming API and
// checks that the heap stays flat: what is allocated in the whole decode is
// a few buffers, not the body. ReadResponse refuses the same answer past
// its buffer limit.
func TestClientStreamGiB(t *testing.T) {
	const size = 1 << 30
	b := gets(t, 2)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var got []int64
	for a, err := range b.Responses(bigAnswer(size)) {
		require.NoError(t, err)
		n, err := io.Copy(io.Discard, a.Response.Body)
		require.NoError(t, err)
		got = append(got, int64(a.Response.StatusCode), int64(a.Index), n)
	}
	runtime.ReadMemStats(&after)
	require.Equal(t, []int64{200, 0, size, 204, 1, 0}, got)
	allocated := after.TotalAlloc - before.TotalAlloc
	require.Less(t, allocated, uint64(4<<20), "bytes allocated while streaming 1 GiB")

	runtime.GC()
	runtime.ReadMemStats(&before)
	resps, err := b.ReadResponse(bigAnswer(size), MaxBufferBytes(1<<20))
	runtime.ReadMemStats(&after)
	require.Nil(t, resps)
	require.ErrorIs(t, err, ErrBufferLimit)
	require.Contains(t, err.Error(), "more than 1048576 bytes")
	require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(8<<20), "ReadResponse stops at its limit")
}

// TestClientReadResponseLimit: the default limit is finite and counts all
// the bodies together; an option raises it.
func TestClientReadResponseLimit(t *testing.T) {
	answers := []rawAns{ans("1", 200, strings.Repeat("a", 600)), ans("2", 200, strings.Repeat("b", 600))}
	_, err := gets(t, 2).ReadResponse(answerResponse(t, answers), MaxBufferBytes(1000))
	require.ErrorIs(t, err, ErrBufferLimit)
	var re *ResponseError
	require.ErrorAs(t, err, &re)
	require.Equal(t, 1, re.Answer)

	resps, err := gets(t, 2).ReadResponse(answerResponse(t, answers), MaxBufferBytes(1200))
	require.NoError(t, err)
	require.Len(t, resps, 2)
	require.Equal(t, int64(600), resps[1].ContentLength)
	c, err := newClientConfig(nil, sideResponse)
	require.NoError(t, err)
	require.Equal(t, int64(DefaultMaxBufferBytes), c.maxBuffer)
}

// TestResponseReader drives the Next loop: answers streamed in order, the
// bodies valid until the next call, io.EOF at the end and after it, and
// ErrStopped after the last answer of a server that stopped.
func TestResponseReader(t *testing.T) {
	b := gets(t, 3)
	rr, err := b.NewResponseReader(answerResponse(t, []rawAns{ans("1", 200, "a"), ans("2", 404, "b")}))
	require.NoError(t, err)
	defer rr.Close()
	var got []string
	for {
		a, err := rr.Next()
		if err != nil {
			require.ErrorIs(t, err, ErrStopped)
			_, again := rr.Next()
			require.Equal(t, err, again, "errors are sticky")
			break
		}
		body, err := io.ReadAll(a.Response.Body)
		require.NoError(t, err)
		require.Same(t, rr.Requests()[a.Index], a.Response.Request)
		got = append(got, string(body))
	}
	require.Equal(t, []string{"a", "b"}, got)

	rr, err = b.NewResponseReader(answerResponse(t, []rawAns{ans("1", 200, "a"), ans("2", 200, "b"), ans("3", 200, "c")}))
	require.NoError(t, err)
	n := 0
	for {
		_, err := rr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		n++
	}
	require.Equal(t, 3, n)
	_, err = rr.Next()
	require.Equal(t, io.EOF, err)
	require.NoError(t, rr.Close())

	// A body kept past Close cannot be read: its decoder may serve another
	// reader by then.
	rr, err = b.NewResponseReader(answerResponse(t, []rawAns{ans("1", 200, "abc"), ans("2", 200, "b"), ans("3", 200, "c")}))
	require.NoError(t, err)
	a, err := rr.Next()
	require.NoError(t, err)
	kept := a.Response.Body
	require.NoError(t, rr.Close())
	_, err = io.ReadAll(kept)
	require.ErrorIs(t, err, errReaderClosed)
	_, err = rr.Next()
	require.ErrorIs(t, err, errReaderClosed)
}

// TestClientStreamHeaders: a streaming reader reuses one Response; each
// answer still shows exactly its own headers.
func TestClientStreamHeaders(t *testing.T) {
	blocks := [][]batch.Field{
		{{Name: "Etag", Value: "1"}, {Name: "Content-Type", Value: "text/plain"}},
		{{Name: "Etag", Value: "2"}, {Name: "Content-Type", Value: "text/html"}},
		{{Name: "Content-Type", Value: "text/html"}, {Name: "Etag", Value: "3"}},
		{{Name: "Etag", Value: "4"}},
		{{Name: "X-A", Value: "5"}, {Name: "X-A", Value: "6"}},
		{{Name: "X-A", Value: "7"}, {Name: "X-B", Value: "8"}},
	}
	var buf bytes.Buffer
	enc, err := batch.NewEncoder(&buf)
	require.NoError(t, err)
	var want []http.Header
	for i, h := range blocks {
		require.NoError(t, enc.WriteOperation(&batch.Operation{Message: batch.Response, StatusCode: 200, ContentID: strconv.Itoa(i + 1), Header: h}, nil))
		hh := http.Header{}
		for _, f := range h {
			hh.Add(f.Name, f.Value)
		}
		want = append(want, hh)
	}
	require.NoError(t, enc.Close())
	resp := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {enc.ContentType()}}, Body: io.NopCloser(&buf)}
	var got []http.Header
	for a, err := range gets(t, len(blocks)).Responses(resp) {
		require.NoError(t, err)
		got = append(got, a.Response.Header.Clone())
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("headers mismatch (-want +got):\n%s", diff)
	}
}

// TestClientConcurrentReads: one batch's answers may be read by several
// goroutines at once (a batch sent twice), each with its own reader.
func TestClientConcurrentReads(t *testing.T) {
	b := gets(t, 3)
	answers := []rawAns{ans("1", 200, "a"), ans("2", 200, "b"), ans("3", 200, "c")}
	resps := make([]*http.Response, 8)
	for i := range resps {
		resps[i] = answerResponse(t, answers)
	}
	errs := make(chan error, len(resps))
	for _, resp := range resps {
		go func() {
			got, err := b.ReadResponse(resp)
			if err == nil && len(got) != 3 {
				err = errors.New("wrong count")
			}
			errs <- err
		}()
	}
	for range resps {
		require.NoError(t, <-errs)
	}
}

// TestClientStreamAfterFailure: a changeset that failed as a whole does not
// make the reader buffer what follows when one more answer says how to pair
// it (CAP's failing request's Content-ID, or the end of the frame): a large
// answer after it still streams within a small buffer limit.
func TestClientStreamAfterFailure(t *testing.T) {
	const size = 8 << 20
	fail := "Content-Type: application/http\r\nContent-ID: 2\r\n\r\nHTTP/1.1 400 Bad Request\r\n\r\nno\r\n"
	for _, tc := range []struct{ name, head string }{
		{"flattened, with the failing request's ID", "--b\r\n" + fail},
		{"framed", "--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\n" + fail + "--c--\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b RequestBatch
			b.AddChangeset(newReq(t, "POST", "/a", "x"), newReq(t, "POST", "/b", "y"))
			b.Add(newReq(t, "GET", "/big", ""))
			head := tc.head + "--b\r\nContent-Type: application/http\r\nContent-ID: 3\r\n\r\nHTTP/1.1 200 OK\r\n\r\n"
			body := io.MultiReader(strings.NewReader(head), io.LimitReader(pattern{}, size), strings.NewReader("\r\n--b--\r\n"))
			resp := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"multipart/mixed; boundary=b"}}, Body: io.NopCloser(body)}
			var got [][3]int64
			for a, err := range b.Responses(resp, MaxBufferBytes(64<<10)) {
				require.NoError(t, err)
				n, err := io.Copy(io.Discard, a.Response.Body)
				require.NoError(t, err)
				got = append(got, [3]int64{int64(a.Index), int64(a.Count), n})
			}
			require.Equal(t, [][3]int64{{0, 2, 2}, {2, 1, size}}, got)
		})
	}
}
