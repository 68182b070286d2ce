package batch

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"
)

// decoded is one part as the tests compare it: everything a Part exposes,
// copied out.
type decoded struct {
	Kind       string
	Depth      int
	Boundary   string
	Message    string
	ContentID  *string
	Method     string
	Target     string
	Proto      string
	Status     int
	Reason     string
	PartHeader [][2]string
	Header     [][2]string
	Body       []byte
}

func fieldsOf(h Header) [][2]string {
	var out [][2]string
	for _, f := range h {
		out = append(out, [2]string{string(f.Name), string(f.Value)})
	}
	return out
}

// collect decodes every part with d, maps each through fn, and stops at
// io.EOF or the first error.
func collect[T any](d *Decoder, fn func(p *Part) (T, error)) ([]T, error) {
	var out []T
	for {
		p, err := d.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		v, err := fn(p)
		if err != nil {
			return out, err
		}
		out = append(out, v)
	}
}

// decodeAll decodes a whole batch into its parts, bodies read whole.
func decodeAll(in io.Reader, contentType string, opts ...DecodeOption) ([]decoded, error) {
	d, err := NewDecoder(in, contentType, opts...)
	if err != nil {
		return nil, err
	}
	return collect(d, decodedOf)
}

// decodedOf copies a part out, its body read whole.
func decodedOf(p *Part) (decoded, error) {
	g := decoded{
		Kind:       p.Kind().String(),
		Depth:      p.Depth(),
		Boundary:   string(p.Boundary()),
		Message:    p.Message().String(),
		Method:     string(p.Method()),
		Target:     string(p.Target()),
		Proto:      string(p.Proto()),
		Status:     p.StatusCode(),
		Reason:     string(p.Reason()),
		PartHeader: fieldsOf(p.PartHeader()),
		Header:     fieldsOf(p.Header()),
	}
	if id, ok := p.ContentID(); ok {
		s := string(id)
		g.ContentID = &s
	}
	if p.Kind() == KindOperation || p.Kind() == KindOther {
		body, err := io.ReadAll(p)
		if err != nil {
			return g, err
		}
		g.Body = body
	}
	return g, nil
}

// vector is a test vector under testdata/vectors: a .batch payload and the
// expected decoding in a .json file beside it, written by hand.
type vector struct {
	Name        string
	Data        []byte
	ContentType string         `json:"content_type"`
	Source      string         `json:"source"`
	Quirks      []int          `json:"quirks"`
	Strict      string         `json:"strict"`
	Parts       []expectedPart `json:"parts"`
}

type expectedPart struct {
	Kind       string      `json:"kind"`
	Depth      int         `json:"depth"`
	Boundary   string      `json:"boundary"`
	Message    string      `json:"message"`
	ContentID  *string     `json:"content_id"`
	Method     string      `json:"method"`
	Target     string      `json:"target"`
	Proto      string      `json:"proto"`
	Status     int         `json:"status"`
	Reason     string      `json:"reason"`
	PartHeader [][2]string `json:"part_header"`
	Header     [][2]string `json:"header"`
	Body       *string     `json:"body"`
	BodyBase64 *string     `json:"body_base64"`
}

func (e expectedPart) decoded(t *testing.T) decoded {
	g := decoded{
		Kind: e.Kind, Depth: e.Depth, Boundary: e.Boundary, Message: e.Message,
		ContentID: e.ContentID, Method: e.Method, Target: e.Target, Proto: e.Proto,
		Status: e.Status, Reason: e.Reason, PartHeader: e.PartHeader, Header: e.Header,
	}
	switch {
	case e.Body != nil:
		g.Body = []byte(*e.Body)
	case e.BodyBase64 != nil:
		b, err := base64.StdEncoding.DecodeString(*e.BodyBase64)
		require.NoError(t, err, "body_base64")
		g.Body = b
	case e.Kind == "operation" || e.Kind == "other":
		g.Body = []byte{}
	}
	return g
}

// loadVectors reads every vector under testdata/vectors.
func loadVectors(t testing.TB) []vector {
	t.Helper()
	files, err := filepath.Glob("testdata/vectors/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files, "no vectors under testdata/vectors")
	var vs []vector
	for _, f := range files {
		js, err := os.ReadFile(f)
		require.NoError(t, err)
		var v vector
		require.NoError(t, json.Unmarshal(js, &v), f)
		v.Name = strings.TrimSuffix(filepath.Base(f), ".json")
		v.Data, err = os.ReadFile(strings.TrimSuffix(f, ".json") + ".batch")
		require.NoError(t, err, "payload of %s", f)
		vs = append(vs, v)
	}
	return vs
}

// normalize makes empty and nil slices compare equal.
var normalize = cmpopts.EquateEmpty()

// TestVectors decodes every vector and compares every part with the
// hand-written expectation: kinds, start lines, headers and exact body bytes.
func TestVectors(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			got, err := decodeAll(bytes.NewReader(v.Data), v.ContentType)
			require.NoError(t, err, "decoding %s", v.Name)
			var want []decoded
			for _, e := range v.Parts {
				want = append(want, e.decoded(t))
			}
			if diff := cmp.Diff(want, got, normalize); diff != "" {
				t.Errorf("decode(%s) mismatch (-want +got):\n%s", v.Name, diff)
			}
		})
	}
}

// TestVectorsStrict checks that strict mode rejects exactly the vectors whose
// expectation says they deviate, with ErrNonconforming.
func TestVectorsStrict(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			_, err := decodeAll(bytes.NewReader(v.Data), v.ContentType, Strict(true))
			switch v.Strict {
			case "ok":
				require.NoError(t, err)
			case "error":
				require.ErrorIs(t, err, ErrNonconforming)
			default:
				t.Fatalf("vector %s: strict is %q, want ok or error", v.Name, v.Strict)
			}
		})
	}
}

// readers returns ways of chunking the same input.
func readers(data []byte) map[string]io.Reader {
	return map[string]io.Reader{
		"whole":   bytes.NewReader(data),
		"onebyte": iotest.OneByteReader(bytes.NewReader(data)),
		"half":    iotest.HalfReader(bytes.NewReader(data)),
		"dataerr": iotest.DataErrReader(bytes.NewReader(data)),
		"random":  &randomReader{data: data, rng: rand.New(rand.NewPCG(1, uint64(len(data))))},
	}
}

// randomReader returns short reads of random sizes, sometimes zero.
type randomReader struct {
	data []byte
	rng  *rand.Rand
}

func (r *randomReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := r.rng.IntN(min(len(p), 97) + 1)
	n = copy(p[:n], r.data)
	r.data = r.data[n:]
	return n, nil
}

// TestChunking checks that the result does not depend on how the input
// arrives, for every vector and with the smallest buffer.
func TestChunking(t *testing.T) {
	for _, v := range loadVectors(t) {
		want, wantErr := decodeAll(bytes.NewReader(v.Data), v.ContentType)
		for name, r := range readers(v.Data) {
			got, err := decodeAll(r, v.ContentType, BufferSize(1))
			if !sameError(err, wantErr) {
				t.Errorf("%s/%s: error %v, whole read gave %v", v.Name, name, err, wantErr)
			}
			if diff := cmp.Diff(want, got, normalize); diff != "" {
				t.Errorf("%s/%s: chunked decode differs (-whole +chunked):\n%s", v.Name, name, diff)
			}
		}
	}
}

func sameError(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Error() == b.Error()
}

// TestTruncation cuts every vector at every offset before the end of its
// close delimiter: each cut must fail with ErrTruncated, never succeed
// (archive/tar's TestReadTruncation).
func TestTruncation(t *testing.T) {
	for _, v := range loadVectors(t) {
		end := closeOffset(v.Data, v.ContentType)
		require.GreaterOrEqual(t, end, 0, "%s does not decode", v.Name)
		for n := 0; n < end; n++ {
			_, err := decodeAll(bytes.NewReader(v.Data[:n]), v.ContentType)
			if err == nil && endsInCloseLine(v.Data[:n], v.ContentType) {
				// The cut falls just after a body line that starts
				// with the close delimiter ("--b--more"): the prefix
				// is a complete batch in its own right, which no
				// reader can tell from the real end.
				continue
			}
			if !errors.Is(err, ErrTruncated) {
				t.Errorf("%s cut at %d of %d: error %v, want ErrTruncated", v.Name, n, end, err)
				break
			}
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("%s cut at %d: %v does not match io.ErrUnexpectedEOF", v.Name, n, err)
				break
			}
		}
		if _, err := decodeAll(bytes.NewReader(v.Data[:end]), v.ContentType); err != nil {
			t.Errorf("%s cut just after its close delimiter (%d): %v", v.Name, end, err)
		}
	}
}

// genBatch builds a batch of operations with the given bodies, every line
// break nl, for tests that need sizes or shapes no vector has.
func genBatch(boundary, nl string, bodies [][]byte) []byte {
	var b bytes.Buffer
	for i, body := range bodies {
		b.WriteString("--" + boundary + nl)
		b.WriteString("Content-Type: application/http" + nl + "Content-ID: " + string(rune('a'+i%26)) + nl + nl)
		b.WriteString("POST /items HTTP/1.1" + nl + "Content-Type: application/octet-stream" + nl + nl)
		b.Write(body)
		b.WriteString(nl)
	}
	b.WriteString("--" + boundary + "--" + nl)
	return b.Bytes()
}

// TestBodySizes streams bodies of every size around the buffer size, with
// contents that end in, or are made of, pieces of a delimiter, through every
// chunking, and checks that each body comes back byte for byte.
func TestBodySizes(t *testing.T) {
	const boundary = "batch_4c1"
	tails := []string{"", "\r", "\n", "\r\n", "-", "--", "\r\n--batch_4c", "\n--batch_4c1x", "--batch_4c1", "\r\n--batch_4c1-"}
	sizes := []int{0, 1, 2, 100, minBufferSize - 200}
	for s := minBufferSize - 100; s <= minBufferSize+300; s += 37 {
		sizes = append(sizes, s)
	}
	sizes = append(sizes, 3*minBufferSize+5)
	for _, nl := range []string{"\r\n", "\n"} {
		var bodies [][]byte
		for i, size := range sizes {
			tail := tails[i%len(tails)]
			body := bytes.Repeat([]byte("x"), size)
			for j := 50; j < size; j += 61 {
				body[j] = '\n'
			}
			body = append(body, tail...)
			if nl == "\n" && bytes.HasSuffix(body, []byte("\r")) {
				// Before a bare LF delimiter a final CR reads as the
				// delimiter's CRLF: line breaks are decided per line.
				body = append(body, 'z')
			}
			bodies = append(bodies, body)
		}
		data := genBatch(boundary, nl, bodies)
		for name, r := range readers(data) {
			got, err := decodeAll(r, "multipart/mixed; boundary="+boundary, BufferSize(1))
			require.NoError(t, err, "%q/%s", nl, name)
			require.Len(t, got, len(bodies), "%q/%s", nl, name)
			for i := range bodies {
				if !bytes.Equal(got[i].Body, bodies[i]) {
					t.Errorf("%q/%s: body %d (%d bytes) came back as %d bytes", nl, name, i, len(bodies[i]), len(got[i].Body))
				}
			}
		}
	}
}

// TestBodyWriteTo checks that io.Copy through Part.WriteTo gives the same
// bytes as Read, and that a body left unread is skipped by Next.
func TestBodyWriteTo(t *testing.T) {
	bodies := [][]byte{bytes.Repeat([]byte("ab\r\n"), 5000), []byte("skipped"), []byte("last")}
	data := genBatch("b", "\r\n", bodies)
	d, err := NewDecoderBoundary(iotest.HalfReader(bytes.NewReader(data)), "b", BufferSize(1))
	require.NoError(t, err)
	p, err := d.Next()
	require.NoError(t, err)
	var w bytes.Buffer
	n, err := io.Copy(&w, p)
	require.NoError(t, err)
	require.Equal(t, int64(len(bodies[0])), n)
	require.True(t, bytes.Equal(bodies[0], w.Bytes()), "WriteTo body differs")
	_, err = d.Next() // left unread
	require.NoError(t, err)
	p, err = d.Next()
	require.NoError(t, err)
	last, err := io.ReadAll(p)
	require.NoError(t, err)
	require.Equal(t, "last", string(last))
	_, err = d.Next()
	require.Equal(t, io.EOF, err)
	_, err = d.Next()
	require.Equal(t, io.EOF, err, "EOF is sticky")
}

// TestBodyWriteToShort checks WriteTo with writers that take part of a body
// in the buffer, or fail: a short writer is called again for the rest, a
// failing one's error is returned with the bytes it took, and Next skips
// what is left.
func TestBodyWriteToShort(t *testing.T) {
	bodies := [][]byte{[]byte("0123456789"), []byte("next"), []byte("")}
	top := genBatch("b", "\r\n", bodies)
	// The same operations inside a changeset, where the body is found by
	// scanLevels (writeNestedBody).
	nested := append([]byte("--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n"),
		bytes.TrimSuffix(genBatch("c", "\r\n", bodies), []byte("\r\n"))...)
	nested = append(nested, "\r\n--b--\r\n"...)
	for _, data := range [][]byte{top, nested} {
		testBodyWriteToShort(t, data, bodies)
	}
}

func testBodyWriteToShort(t *testing.T, data []byte, bodies [][]byte) {
	t.Helper()
	d, err := NewDecoderBoundary(bytes.NewReader(data), "b")
	require.NoError(t, err)
	skip := 0 // a changeset's start part before the operations
	if p, err := d.Next(); err == nil && p.Kind() == KindChangesetStart {
		skip = 1
	}
	for _, tc := range []struct {
		name    string
		w       io.Writer
		n       int64
		wantErr error
	}{
		{"short", &chunkWriter{max: 3}, 10, nil},
		{"failing", &chunkWriter{max: 4, fail: 1}, 4, errWriteFailed},
		{"zero", &chunkWriter{max: 0}, 0, io.ErrShortWrite},
		{"overlong", overWriter{}, 0, errBadWrite},
	} {
		d, err := NewDecoderBoundary(bytes.NewReader(data), "b")
		require.NoError(t, err)
		for range skip {
			_, err = d.Next()
			require.NoError(t, err)
		}
		p, err := d.Next()
		require.NoError(t, err)
		require.Equal(t, KindOperation, p.Kind())
		n, err := p.WriteTo(tc.w)
		require.Equal(t, tc.n, n, tc.name)
		require.Equal(t, tc.wantErr, err, tc.name)
		if cw, ok := tc.w.(*chunkWriter); ok {
			require.Equal(t, string(bodies[0][:n]), cw.buf.String(), tc.name)
		}
		p, err = d.Next()
		require.NoError(t, err, tc.name)
		var w bytes.Buffer
		_, err = p.WriteTo(&w)
		require.NoError(t, err, tc.name)
		require.Equal(t, "next", w.String(), tc.name)
		p, err = d.Next()
		require.NoError(t, err, tc.name)
		n, err = p.WriteTo(&w)
		require.NoError(t, err, tc.name)
		require.Zero(t, n, tc.name)
		for range skip {
			p, err = d.Next()
			require.NoError(t, err, tc.name)
			require.Equal(t, KindChangesetEnd, p.Kind(), tc.name)
		}
		_, err = d.Next()
		require.Equal(t, io.EOF, err, tc.name)
	}
}

var errWriteFailed = errors.New("write failed")

// chunkWriter takes at most max bytes a call; after fail calls (when fail
// is set) it fails.
type chunkWriter struct {
	buf       bytes.Buffer
	max, fail int
	calls     int
}

func (w *chunkWriter) Write(p []byte) (int, error) {
	n := min(len(p), w.max)
	w.buf.Write(p[:n])
	w.calls++
	if w.fail > 0 && w.calls >= w.fail {
		return n, errWriteFailed
	}
	return n, nil
}

// overWriter claims more bytes than it was given.
type overWriter struct{}

func (overWriter) Write(p []byte) (int, error) { return len(p) + 1, nil }

func TestContentTypeErrors(t *testing.T) {
	for _, tc := range []struct {
		ct   string
		want error
	}{
		{"application/json", ErrContentType},
		{"multipart/mixed", ErrContentType},
		{"multipart/; boundary=x", ErrContentType},
		{`multipart/mixed; boundary="unterminated`, ErrContentType},
		{"multipart/mixed; boundary=", ErrBoundary},
		{"multipart/mixed; boundary=" + strings.Repeat("a", 201), ErrBoundary},
		{"multipart/mixed; boundary=a\x01b", ErrBoundary},
		{"multipart/mixed; boundary=caf\xc3\xa9", ErrBoundary},
		{`multipart/mixed; boundary="ends in space "`, ErrBoundary},
	} {
		_, err := NewDecoder(strings.NewReader(""), tc.ct)
		if !errors.Is(err, tc.want) {
			t.Errorf("NewDecoder(%q) = %v, want %v", tc.ct, err, tc.want)
		}
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("NewDecoder(%q) = %T, want *SyntaxError", tc.ct, err)
		}
	}
	for _, ct := range []string{
		"multipart/mixed; boundary=batch_1",
		"Multipart/Batching;Boundary=\"01cf4e5a-4b88 48cd\"",
		"multipart/mixed; charset=utf-8; boundary=\"batch_1.2+34:2j)0?\"",
		"multipart/mixed; boundary=" + strings.Repeat("a", 70),
	} {
		_, err := NewDecoder(strings.NewReader(""), ct)
		require.NoError(t, err, ct)
	}
	_, err := NewDecoderBoundary(strings.NewReader(""), "")
	require.ErrorIs(t, err, ErrBoundary)

	// Read tolerantly: the Outlook documentation's placeholder boundary,
	// and one past RFC 2046's 70 characters, are read as deviations.
	for _, b := range []string{"batch_{batchId}", strings.Repeat("b", 71)} {
		in := "--" + b + "\r\nContent-Type: application/http\r\n\r\nGET / HTTP/1.1\r\n\r\n\r\n--" + b + "--"
		d, err := NewDecoder(strings.NewReader(in), "multipart/mixed; boundary="+b)
		require.NoError(t, err, b)
		p, err := d.Next()
		require.NoError(t, err, b)
		require.Equal(t, DevBoundary, p.Deviations(), b)
		_, err = NewDecoder(strings.NewReader(in), "multipart/mixed; boundary="+b, Strict(true))
		require.ErrorIs(t, err, ErrNonconforming, b)
	}
}

// TestInputErrors checks the error, offset and part index for bad input.
func TestInputErrors(t *testing.T) {
	op := "--b\r\nContent-Type: application/http\r\n\r\n"
	for _, tc := range []struct {
		name   string
		in     string
		opts   []DecodeOption
		want   error
		offset int64
		part   int
	}{
		{"empty", "", nil, ErrTruncated, 0, -1},
		{"no close", op + "GET / HTTP/1.1\r\n\r\n", nil, ErrTruncated, 57, 0},
		{"inside headers", op + "GET / HTTP/1.1\r\nHost", nil, ErrTruncated, 59, 0},
		{"header without colon", op + "GET / HTTP/1.1\r\nHost\r\n\r\n--b--", nil, ErrHeader, 55, 0},
		{"part header without colon", "--b\r\nContent-Type\r\n\r\n--b--", nil, ErrHeader, 5, 0},
		{"start line", op + "GET\r\n\r\n--b--", nil, ErrStartLine, 39, 0},
		{"status", op + "HTTP/1.1 2xx OK\r\n\r\n--b--", nil, ErrStartLine, 39, 0},
		{"no message", op + "--b--", nil, ErrStartLine, 39, 0},
		{"too many parts", op + "GET / HTTP/1.1\r\n\r\n\r\n" + op + "GET / HTTP/1.1\r\n\r\n\r\n--b--", []DecodeOption{MaxParts(1)}, ErrTooManyParts, 59, 1},
		{"too deep", "--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n--c--\r\n--b--", []DecodeOption{MaxDepth(1)}, ErrTooDeep, 5, 0},
		{"bad changeset boundary", "--b\r\nContent-Type: multipart/mixed; boundary=\"\"\r\n\r\n--b--", nil, ErrBoundary, 5, 0},
		{"line too long", op + "GET /" + strings.Repeat("a", 1000) + " HTTP/1.1\r\n\r\n--b--", []DecodeOption{MaxLineLength(200)}, ErrLineTooLong, 39, 0},
		{"header too large", op + "GET / HTTP/1.1\r\n" + strings.Repeat("A: b\r\n", 100) + "\r\n--b--", []DecodeOption{MaxHeaderBytes(1000)}, ErrHeaderTooLarge, 139, 0},
		{"padding too long", "--b" + strings.Repeat(" ", 1000) + "\r\n--b--", []DecodeOption{MaxLineLength(200)}, ErrLineTooLong, 0, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeAll(strings.NewReader(tc.in), "multipart/mixed; boundary=b", tc.opts...)
			require.ErrorIs(t, err, tc.want)
			var se *SyntaxError
			require.ErrorAs(t, err, &se)
			if se.Offset != tc.offset || se.Part != tc.part {
				t.Errorf("error %q at offset %d, part %d; want offset %d, part %d", err, se.Offset, se.Part, tc.offset, tc.part)
			}
			require.True(t, strings.HasPrefix(err.Error(), "batch: "), "message %q", err)
		})
	}
}

// errReader fails after its data.
type errReader struct {
	data []byte
	err  error
}

func (r *errReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// TestReadErrorPassesThrough checks that an I/O error is returned as it is,
// and stays.
func TestReadErrorPassesThrough(t *testing.T) {
	boom := errors.New("boom")
	d, err := NewDecoderBoundary(&errReader{data: []byte("--b\r\nContent-Type: application/http\r\n\r\nGET / HTTP/1.1\r\n\r\nab"), err: boom}, "b")
	require.NoError(t, err)
	p, err := d.Next()
	require.NoError(t, err)
	_, err = io.ReadAll(p)
	require.Equal(t, boom, err)
	_, err = d.Next()
	require.Equal(t, boom, err)
}

// TestDeviationsRecorded checks that the tolerated deviations are reported
// on the part that shows them.
func TestDeviationsRecorded(t *testing.T) {
	in := "\xEF\xBB\xBF--b\n" +
		"Content-Type: application/http; msgtype=response\n\n" +
		"\r\nGET  /x   HTTP/2.0\r\nContent-Length: 9\r\n\r\nabc\r\n" +
		"--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n" +
		"--c\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 204\r\nX: a\r\n b\r\n--c\r\n" +
		"Content-Type: application/http\r\n\r\nGET /y HTTP/1.1\r\n\r\n\r\n--b--\r\n"
	d, err := NewDecoderBoundary(strings.NewReader(in), "b")
	require.NoError(t, err)
	var got []Deviation
	for {
		p, err := d.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		_, err = io.Copy(io.Discard, p)
		require.NoError(t, err)
		got = append(got, p.Deviations())
	}
	want := []Deviation{
		DevBOM | DevBareLF | DevBlankBeforeStartLine | DevRequestLine | DevProtoVersion | DevMsgType | DevContentLength,
		0,
		DevNoReason | DevObsFold | DevNoBlankLine,
		0,
		DevUnclosedChangeset,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("deviations (-want +got):\n%s", diff)
	}
}

func TestDeviationString(t *testing.T) {
	require.Equal(t, "none", Deviation(0).String())
	require.Equal(t, "bare LF line ending, changeset not closed", (DevBareLF | DevUnclosedChangeset).String())
	require.Contains(t, (Deviation(1) << 30).String(), "deviation(0x40000000)")
	require.True(t, utf8.ValidString(Deviation(^uint32(0)).String()))
}

// TestLongPadding: padding after a dash-boundary past the line limit is
// ErrLineTooLong whatever follows it and however the input is chunked, but
// only when no earlier delimiter ends the region first (here a parent's
// delimiter ends an unclosed changeset before a later line starts with its
// boundary).
func TestLongPadding(t *testing.T) {
	long := strings.Repeat(" ", 1000)
	op := "Content-Type: application/http\r\n\r\nPOST /x HTTP/1.1\r\n\r\n"
	in := "--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\n" + op + "a\r\n" +
		"--b\r\n" + op + "z\r\n--c" + long + "x\r\n--b--"
	for name, r := range readers([]byte(in)) {
		got, err := decodeAll(r, "multipart/mixed; boundary=b", MaxLineLength(500), BufferSize(1))
		require.NoError(t, err, name)
		require.Len(t, got, 4, name)
		require.Equal(t, "z\r\n--c"+long+"x", string(got[3].Body), name)
	}
	in = "--b\r\n" + op + "a\r\n--b" + long + "x\r\nz\r\n--b--"
	for name, r := range readers([]byte(in)) {
		_, err := decodeAll(r, "multipart/mixed; boundary=b", MaxLineLength(500), BufferSize(1))
		require.ErrorIs(t, err, ErrLineTooLong, name)
	}
}

// TestStrictHeaderSyntax: deviations in header lines are recorded, and
// refused in strict mode; a changeset reusing an enclosing boundary is an
// error in every mode.
func TestStrictHeaderSyntax(t *testing.T) {
	op := func(hdr string) string {
		return "--b\r\nContent-Type: application/http\r\n\r\nGET /x HTTP/1.1\r\n" + hdr + "\r\n\r\n\r\n--b--"
	}
	for _, tc := range []struct {
		name string
		in   string
		dev  Deviation
	}{
		{"space before colon", op("Host : evil"), DevHeaderSyntax},
		{"CR inside a value", op("X: a\rb"), DevHeaderSyntax},
		{"disagreeing Content-Length", op("Content-Length: 0\r\nContent-Length: 5"), DevContentLength},
		{"agreeing Content-Length", op("Content-Length: 0\r\nContent-Length: 0"), 0},
	} {
		d, err := NewDecoderBoundary(strings.NewReader(tc.in), "b")
		require.NoError(t, err)
		p, err := d.Next()
		require.NoError(t, err, tc.name)
		_, err = io.Copy(io.Discard, p)
		require.NoError(t, err, tc.name)
		require.Equal(t, tc.dev, p.Deviations(), tc.name)
		_, err = decodeAll(strings.NewReader(tc.in), "multipart/mixed; boundary=b", Strict(true))
		if tc.dev != 0 {
			require.ErrorIs(t, err, ErrNonconforming, tc.name)
		} else {
			require.NoError(t, err, tc.name)
		}
	}
	_, err := decodeAll(strings.NewReader("--b\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b--\r\n--b--"), "multipart/mixed; boundary=b")
	require.ErrorIs(t, err, ErrBoundary)
}
