package batch

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

// TestEncoderGolden encodes each seed's sample batch and compares the bytes
// with the seed normalised to strict form (testdata/golden/normalize.sh,
// which builds the files from the seeds, not from the encoder). Where the
// seeds depart from what the writer must do, the expectation is the strict
// form, as that script's header lists: CRLF line ends; no preamble and one
// CRLF after the close delimiter (Outlook beta's trailing " " line dropped);
// the blank line that ends a bodiless request's header block (every seed
// omits it); "Odata-Version" in canonical case; SharePoint's changeset
// boundary unquoted, its Content-Length computed, and the stray blank line
// before its second POST's Content-Type dropped.
func TestEncoderGolden(t *testing.T) {
	for _, v := range goldenVectors() {
		t.Run(v.name, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join("testdata", "golden", v.file))
			require.NoError(t, err)
			var buf bytes.Buffer
			e, err := NewEncoder(&buf, v.opts...)
			require.NoError(t, err)
			if got := e.ContentType(); got != v.contentType {
				t.Errorf("ContentType() = %q, want %q", got, v.contentType)
			}
			require.NoError(t, run(e, v.steps))
			if diff := cmp.Diff(strings.SplitAfter(string(want), "\n"), strings.SplitAfter(buf.String(), "\n")); diff != "" {
				t.Errorf("encoded %s mismatch (-want +got):\n%s", v.file, diff)
			}
		})
	}
}

// TestEncoderLayout pins the bytes of the layouts the golden files do not
// cover.
func TestEncoderLayout(t *testing.T) {
	get := &Operation{Message: Request, Method: "GET", Target: "/a"}
	tests := []struct {
		name  string
		opts  []EncodeOption
		steps []step
		want  string
	}{{
		name: "empty batch",
		want: "--b--\r\n",
	}, {
		name:  "no final line break",
		opts:  []EncodeOption{FinalLineBreak(false)},
		steps: []step{{op: get}},
		want:  "--b\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nGET /a HTTP/1.1\r\n\r\n\r\n--b--",
	}, {
		name: "content-id, part headers, canonical names, default reason",
		steps: []step{{op: &Operation{Message: Response, StatusCode: 404, ContentID: "7", Proto: "HTTP/2.0",
			PartHeader: []Field{{Name: "content-type", Value: "x/y"}, {Name: "x-part", Value: "1"}, {Name: "CONTENT-ID", Value: "9"}},
			Header:     []Field{{Name: "odata-version", Value: "4.0"}, {Name: "ETAG", Value: `"1"`}, {Name: "x-a-b", Value: ""}},
		}, body: "nope"}},
		want: "--b\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 7\r\nX-Part: 1\r\n\r\n" +
			"HTTP/1.1 404 Not Found\r\nOdata-Version: 4.0\r\nEtag: \"1\"\r\nX-A-B: \r\n\r\nnope\r\n--b--\r\n",
	}, {
		name:  "unknown status has an empty reason",
		steps: []step{{op: &Operation{Message: Response, StatusCode: 599}}},
		want:  "--b\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nHTTP/1.1 599 \r\n\r\n\r\n--b--\r\n",
	}, {
		name:  "odata v4 changeset",
		steps: []step{{op: get, body: "x"}, {begin: true, csBoundary: "c"}, {op: get}, {op: get, body: "y\r\n"}, {end: true}, {op: get}},
		want: "--b\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nGET /a HTTP/1.1\r\n\r\nx" +
			"\r\n--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n" +
			"--c\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nGET /a HTTP/1.1\r\n\r\n" +
			"\r\n--c\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nGET /a HTTP/1.1\r\n\r\ny\r\n" +
			"\r\n--c--" +
			"\r\n--b\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nGET /a HTTP/1.1\r\n\r\n" +
			"\r\n--b--\r\n",
	}, {
		name:  "empty changeset, sharepoint, quoted boundary",
		opts:  []EncodeOption{WithDialect(SharePoint)},
		steps: []step{{begin: true, csBoundary: "c:1", csHeader: []Field{{Name: "host", Value: "h"}, {Name: "Content-Length", Value: "1"}}}, {end: true}},
		want:  "--b\r\nContent-Type: multipart/mixed; boundary=\"c:1\"\r\nHost: h\r\nContent-Transfer-Encoding: binary\r\n\r\n--c:1--\r\n--b--\r\n",
	}, {
		name:  "content-length of an empty changeset",
		opts:  []EncodeOption{ChangesetContentLength(100)},
		steps: []step{{begin: true, csBoundary: "c"}, {end: true}},
		want:  "--b\r\nContent-Type: multipart/mixed; boundary=c\r\nContent-Length: 5\r\n\r\n--c--\r\n--b--\r\n",
	}, {
		name:  "ucwa response",
		opts:  []EncodeOption{WithDialect(UCWA)},
		steps: []step{{op: &Operation{Message: Response, StatusCode: 200, Reason: "OK"}, body: "{}"}},
		want:  "--b\r\nContent-Type: application/http; msgtype=response\r\n\r\nHTTP/1.1 200 OK\r\n\r\n{}\r\n--b--\r\n",
	}, {
		name:  "almost delimiters are body text",
		steps: []step{{op: get, body: "--a\n-\r\n--\n-b-\n --b\nx--b\n- -b\n---b\n--"}},
		want: "--b\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nGET /a HTTP/1.1\r\n\r\n" +
			"--a\n-\r\n--\n-b-\n --b\nx--b\n- -b\n---b\n--\r\n--b--\r\n",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			e, err := NewEncoder(&buf, append([]EncodeOption{WithBoundary("b")}, tt.opts...)...)
			require.NoError(t, err)
			require.NoError(t, run(e, tt.steps))
			if diff := cmp.Diff(tt.want, buf.String()); diff != "" {
				t.Errorf("output mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestEncoderBodyChunking writes every vector's bodies one byte at a time
// and through io.ReaderFrom, and expects the same bytes as whole writes:
// the delimiter check holds bytes back but never loses or reorders them.
func TestEncoderBodyChunking(t *testing.T) {
	for _, v := range goldenVectors() {
		t.Run(v.name, func(t *testing.T) {
			var whole, bytewise, readFrom bytes.Buffer
			e, err := NewEncoder(&whole, v.opts...)
			require.NoError(t, err)
			require.NoError(t, run(e, v.steps))
			for _, c := range []struct {
				out  *bytes.Buffer
				copy func(w io.Writer, body string) error
			}{
				{&bytewise, func(w io.Writer, body string) error {
					for i := range len(body) {
						if _, err := w.Write([]byte{body[i]}); err != nil {
							return err
						}
					}
					return nil
				}},
				{&readFrom, func(w io.Writer, body string) error {
					_, err := w.(io.ReaderFrom).ReadFrom(iotest.HalfReader(strings.NewReader(body)))
					return err
				}},
			} {
				e, err := NewEncoder(c.out, v.opts...)
				require.NoError(t, err)
				for _, s := range v.steps {
					switch {
					case s.begin:
						require.NoError(t, e.BeginChangesetWith(s.csBoundary, s.csHeader))
					case s.end:
						require.NoError(t, e.EndChangeset())
					default:
						w, err := e.CreateOperation(s.op)
						require.NoError(t, err)
						require.NoError(t, c.copy(w, s.body))
					}
				}
				require.NoError(t, e.Close())
				if !bytes.Equal(c.out.Bytes(), whole.Bytes()) {
					t.Errorf("chunked output differs from whole writes:\n%q\nwant\n%q", c.out.Bytes(), whole.Bytes())
				}
			}
		})
	}
}

// TestEncoderErrors feeds each unsafe or invalid input and checks the
// sentinel, that the error is sticky, and that nothing of the refused part
// reached the writer.
func TestEncoderErrors(t *testing.T) {
	req := func(f func(op *Operation)) []step {
		op := &Operation{Message: Request, Method: "GET", Target: "/a"}
		f(op)
		return []step{{op: op}}
	}
	get := &Operation{Message: Request, Method: "GET", Target: "/a"}
	tests := []struct {
		name  string
		opts  []EncodeOption
		steps []step
		want  error
		field string
	}{
		{"method with CRLF", nil, req(func(op *Operation) { op.Method = "GET /x HTTP/1.1\r\nX-Evil: 1\r\n\r\nGET" }), ErrUnsafe, "Method"},
		{"method not a token", nil, req(func(op *Operation) { op.Method = "G(T" }), ErrInvalidOperation, "Method"},
		{"empty method", nil, req(func(op *Operation) { op.Method = "" }), ErrInvalidOperation, "Method"},
		{"target with LF", nil, req(func(op *Operation) { op.Target = "/a\nX-Evil: 1" }), ErrUnsafe, "Target"},
		{"target with space", nil, req(func(op *Operation) { op.Target = "/a HTTP/1.0" }), ErrInvalidOperation, "Target"},
		{"target with NUL", nil, req(func(op *Operation) { op.Target = "/a\x00" }), ErrUnsafe, "Target"},
		{"empty target", nil, req(func(op *Operation) { op.Target = "" }), ErrInvalidOperation, "Target"},
		{"header name with CR", nil, req(func(op *Operation) { op.Header = []Field{{Name: "A\rB", Value: "1"}} }), ErrUnsafe, "Header[0].Name"},
		{"header name with colon", nil, req(func(op *Operation) { op.Header = []Field{{Name: "A:", Value: "1"}} }), ErrInvalidOperation, "Header[0].Name"},
		{"header value with CRLF", nil, req(func(op *Operation) {
			op.Header = []Field{{Name: "A", Value: "1"}, {Name: "B", Value: "2\r\nX-Evil: 1"}}
		}), ErrUnsafe, "Header[1].Value"},
		{"header value with bare LF", nil, req(func(op *Operation) { op.Header = []Field{{Name: "A", Value: "1\n--b"}} }), ErrUnsafe, "Header[0].Value"},
		{"header value with NUL", nil, req(func(op *Operation) { op.Header = []Field{{Name: "A", Value: "\x00"}} }), ErrUnsafe, "Header[0].Value"},
		{"header value obs-fold", nil, req(func(op *Operation) { op.Header = []Field{{Name: "A", Value: "1\r\n 2"}} }), ErrUnsafe, "Header[0].Value"},
		{"header value with control byte", nil, req(func(op *Operation) { op.Header = []Field{{Name: "A", Value: "\x1b"}} }), ErrInvalidOperation, "Header[0].Value"},
		{"header value with leading space", nil, req(func(op *Operation) { op.Header = []Field{{Name: "A", Value: " 1"}} }), ErrInvalidOperation, "Header[0].Value"},
		{"part header value with LF", nil, req(func(op *Operation) { op.PartHeader = []Field{{Name: "A", Value: "1\n"}} }), ErrUnsafe, "PartHeader[0].Value"},
		{"content-id with CRLF", nil, req(func(op *Operation) { op.ContentID = "1\r\nX: 2" }), ErrUnsafe, "ContentID"},
		{"no message kind", nil, req(func(op *Operation) { op.Message = 0 }), ErrInvalidOperation, "Message"},
		{"nil operation", nil, []step{{op: nil}}, ErrInvalidOperation, "Operation"},
		{"status 99", nil, []step{{op: &Operation{Message: Response, StatusCode: 99}}}, ErrInvalidOperation, "StatusCode"},
		{"status 1000", nil, []step{{op: &Operation{Message: Response, StatusCode: 1000}}}, ErrInvalidOperation, "StatusCode"},
		{"reason with CRLF", nil, []step{{op: &Operation{Message: Response, StatusCode: 200, Reason: "OK\r\nX: 1"}}}, ErrUnsafe, "Reason"},
		{"reason with leading space", nil, []step{{op: &Operation{Message: Response, StatusCode: 200, Reason: " OK"}}}, ErrInvalidOperation, "Reason"},
		{"reason with trailing tab", nil, []step{{op: &Operation{Message: Response, StatusCode: 200, Reason: "OK\t"}}}, ErrInvalidOperation, "Reason"},
		{"body delimiter line", nil, []step{{op: get, body: "a\r\n--b\r\nContent-Type: application/http\r\n"}}, ErrUnsafe, "body"},
		{"body delimiter with LF", nil, []step{{op: get, body: "a\n--b\nx"}}, ErrUnsafe, "body"},
		{"body delimiter with lone CR", nil, []step{{op: get, body: "a\r--b\rx"}}, ErrUnsafe, "body"},
		{"body starts with delimiter", nil, []step{{op: get, body: "--b\r\n"}}, ErrUnsafe, "body"},
		{"body close delimiter", nil, []step{{op: get, body: "a\n--b--\n"}}, ErrUnsafe, "body"},
		{"body delimiter with padding", nil, []step{{op: get, body: "a\n--b \t\r\n"}}, ErrUnsafe, "body"},
		{"body ends in delimiter", nil, []step{{op: get, body: "a\n--b"}}, ErrUnsafe, "body"},
		{"body ends in close delimiter with padding", nil, []step{{op: get, body: "a\n--b-- "}}, ErrUnsafe, "body"},
		{"body with endless padding", nil, []step{{op: get, body: "a\n--b" + strings.Repeat(" ", 200) + "x"}}, ErrUnsafe, "body"},
		{"method starting with the delimiter", nil, []step{{op: &Operation{Message: Request, Method: "--b", Target: "/x"}}}, ErrUnsafe, "Operation"},
		{"header name starting with the delimiter", []EncodeOption{WithBoundary("1")}, []step{{op: &Operation{Message: Request, Method: "GET", Target: "/x", Header: []Field{{Name: "--1x", Value: "v"}}}}}, ErrUnsafe, "Operation"},
		{"body line starting with the delimiter", nil, []step{{op: get, body: "a\r\n--bz\r\n"}}, ErrUnsafe, "body"},
		{"body line starting with the close delimiter", nil, []step{{op: get, body: "a\r\n--b--x"}}, ErrUnsafe, "body"},
		{"changeset delimiter in changeset body", nil, []step{{begin: true, csBoundary: "c"}, {op: get, body: "--c\r\n"}}, ErrUnsafe, "body"},
		{"batch delimiter in changeset body", nil, []step{{begin: true, csBoundary: "c"}, {op: get, body: "x\n--b--"}}, ErrUnsafe, "body"},
		{"changeset boundary invalid", nil, []step{{begin: true, csBoundary: "c "}}, ErrBoundary, "boundary"},
		{"changeset boundary equal to batch", nil, []step{{begin: true, csBoundary: "b"}}, ErrBoundary, "boundary"},
		{"changeset boundary b--", nil, []step{{begin: true, csBoundary: "b--"}}, ErrBoundary, "boundary"},
		{"changeset part header with LF", nil, []step{{begin: true, csHeader: []Field{{Name: "Host", Value: "h\nx"}}}}, ErrUnsafe, "PartHeader[0].Value"},
		{"changeset in ucwa", []EncodeOption{WithDialect(UCWA)}, []step{{begin: true}}, ErrDialect, "BeginChangeset"},
		{"nested changeset", nil, []step{{begin: true}, {begin: true}}, ErrEncoderState, "BeginChangeset"},
		{"end without changeset", nil, []step{{end: true}}, ErrEncoderState, "EndChangeset"},
		{"close with open changeset", nil, []step{{begin: true}, {op: get}}, ErrEncoderState, "Close"},
		{"changeset too large", []EncodeOption{ChangesetContentLength(100)}, []step{{begin: true}, {op: get, body: strings.Repeat("x", 100)}}, ErrChangesetTooLarge, "changeset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			e, err := NewEncoder(&buf, append([]EncodeOption{WithBoundary("b")}, tt.opts...)...)
			require.NoError(t, err)
			err = run(e, tt.steps)
			if !errors.Is(err, tt.want) {
				t.Fatalf("run = %v, want %v", err, tt.want)
			}
			var ee *EncodeError
			if !errors.As(err, &ee) || ee.Field != tt.field {
				t.Errorf("run = %#v, want an *EncodeError with Field %q", err, tt.field)
			}
			if !strings.HasPrefix(err.Error(), "batch: ") {
				t.Errorf("error %q lacks the batch: prefix", err)
			}
			for _, bad := range []string{"X-Evil", "\n--b\r\n", "\n--b\n", "\r--b\r", "\n--b--", "\n--b "} {
				if strings.Contains(buf.String(), bad) {
					t.Errorf("refused input %q reached the writer: %q", bad, buf.Bytes())
				}
			}
			if strings.HasSuffix(buf.String(), "--b--\r\n") {
				t.Errorf("the batch was closed after an error: %q", buf.Bytes())
			}
			n := buf.Len()
			if _, err2 := e.CreateOperation(&Operation{Message: Request, Method: "GET", Target: "/"}); err2 != err {
				t.Errorf("CreateOperation after error = %v, want the sticky %v", err2, err)
			}
			if err2 := e.Close(); err2 != err {
				t.Errorf("Close after error = %v, want the sticky %v", err2, err)
			}
			if buf.Len() != n {
				t.Errorf("calls after the error wrote %q", buf.Bytes()[n:])
			}
		})
	}
}

// TestClassifyLine pins the delimiter recognition of the body check, a pure
// function of bytes (RFC 2046: dash-boundary, optional "--", transport
// padding).
func TestClassifyLine(t *testing.T) {
	tests := []struct {
		line           string
		isDelim, maybe bool
	}{
		{"", false, true},
		{"-", false, true},
		{"--", false, true},
		{"--a", false, false},
		{"--b", true, true},
		{"--b-", true, true},
		{"--b--", true, true},
		{"--b-- \t", true, true},
		{"--b \t ", true, true},
		{"--b---", true, true},
		{"--b--x", true, true}, // mime/multipart reads it as a close delimiter
		{"--bx", true, true},   // RFC 2046: a match need only start the line
		{"--b x", true, true},
		{"x", false, false},
		{"-x", false, false},
	}
	for _, tt := range tests {
		isDelim, maybe := classifyLine([]byte(tt.line), "--b")
		if isDelim != tt.isDelim || maybe != tt.maybe {
			t.Errorf("classifyLine(%q, %q) = %v, %v, want %v, %v", tt.line, "--b", isDelim, maybe, tt.isDelim, tt.maybe)
		}
	}
}

func TestConfusable(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"b", "b", true},
		{"b", "b--", true},
		{"b--", "b", true},
		{"b", "b-x", true},
		{"b", "bc", true},
		{"bc", "b", true},
		{"b", "cb", false},
		{"batch_1", "changeset_1", false},
	}
	for _, tt := range tests {
		if got := confusable(tt.a, tt.b); got != tt.want {
			t.Errorf("confusable(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestNewEncoderOptions(t *testing.T) {
	for _, b := range []string{"", "x ", strings.Repeat("x", 71), "a\r\nb", `a"b`} {
		if b == "" {
			continue // "" means random
		}
		if _, err := NewEncoder(io.Discard, WithBoundary(b)); !errors.Is(err, ErrBoundary) {
			t.Errorf("NewEncoder(WithBoundary(%q)) = %v, want ErrBoundary", b, err)
		}
	}
	if _, err := NewEncoder(io.Discard, WithDialect(Dialect(9))); !errors.Is(err, ErrDialect) {
		t.Errorf("NewEncoder(WithDialect(9)) = %v, want ErrDialect", err)
	}
	e1, err := NewEncoder(io.Discard)
	require.NoError(t, err)
	e2, err := NewEncoder(io.Discard)
	require.NoError(t, err)
	b := e1.Boundary()
	if !strings.HasPrefix(b, "batch_") || !ValidBoundary(b) || b == e2.Boundary() {
		t.Errorf("random boundaries %q, %q: want distinct valid batch_ boundaries", b, e2.Boundary())
	}
	if got, want := e1.ContentType(), "multipart/mixed; boundary="+b; got != want {
		t.Errorf("ContentType() = %q, want %q", got, want)
	}
	e, err := NewEncoder(io.Discard, WithBoundary("a b"), WithDialect(UCWA))
	require.NoError(t, err)
	if got, want := e.ContentType(), `multipart/batching; boundary="a b"`; got != want {
		t.Errorf("ContentType() = %q, want %q", got, want)
	}
	// A random changeset boundary.
	var buf bytes.Buffer
	e, err = NewEncoder(&buf, WithBoundary("b"))
	require.NoError(t, err)
	require.NoError(t, e.BeginChangeset())
	require.NoError(t, e.EndChangeset())
	require.NoError(t, e.Close())
	if !strings.HasPrefix(buf.String(), "--b\r\nContent-Type: multipart/mixed; boundary=changeset_") {
		t.Errorf("changeset part = %q, want a changeset_ boundary", buf.String())
	}
}

// shortWriter accepts at most n bytes per call without an error.
type shortWriter struct{ n int }

func (w shortWriter) Write(p []byte) (int, error) { return min(len(p), w.n), nil }

func TestEncoderWriterErrors(t *testing.T) {
	get := &Operation{Message: Request, Method: "GET", Target: "/"}
	e, err := NewEncoder(shortWriter{3})
	require.NoError(t, err)
	if _, err := e.CreateOperation(get); err != io.ErrShortWrite {
		t.Errorf("CreateOperation on a short writer = %v, want io.ErrShortWrite", err)
	}

	boom := errors.New("boom")
	e, err = NewEncoder(errWriter{boom})
	require.NoError(t, err)
	_, err = e.CreateOperation(get)
	if err != boom {
		t.Errorf("CreateOperation = %v, want the writer's error unwrapped", err)
	}
	if err := e.Close(); err != boom {
		t.Errorf("Close after a write error = %v, want the sticky %v", err, boom)
	}

	// A body reader's error is sticky: the body would be silently short.
	var buf bytes.Buffer
	e, err = NewEncoder(&buf, WithBoundary("b"))
	require.NoError(t, err)
	if err := e.WriteOperation(get, iotest.ErrReader(boom)); err != boom {
		t.Errorf("WriteOperation with a failing body = %v, want %v", err, boom)
	}
	if err := e.Close(); err != boom {
		t.Errorf("Close after a body read error = %v, want the sticky %v", err, boom)
	}
}

type errWriter struct{ err error }

func (w errWriter) Write([]byte) (int, error) { return 0, w.err }

func TestEncoderState(t *testing.T) {
	get := &Operation{Message: Request, Method: "GET", Target: "/"}
	var buf bytes.Buffer
	e, err := NewEncoder(&buf, WithBoundary("b"))
	require.NoError(t, err)
	require.NoError(t, e.WriteOperation(get, strings.NewReader("x")))
	w, err := e.CreateOperation(get)
	require.NoError(t, err)
	require.NoError(t, e.Close())
	require.NoError(t, e.Close(), "a second Close")
	want := buf.String()
	if _, err := w.Write([]byte("late")); !errors.Is(err, ErrEncoderState) {
		t.Errorf("Write to a finished body = %v, want ErrEncoderState", err)
	}
	e, err = NewEncoder(&buf, WithBoundary("b"))
	require.NoError(t, err)
	require.NoError(t, e.Close())
	if _, err := e.CreateOperation(get); !errors.Is(err, ErrEncoderState) {
		t.Errorf("CreateOperation after Close = %v, want ErrEncoderState", err)
	}
	if !strings.HasPrefix(buf.String(), want) || !strings.HasSuffix(want, "\r\n--b--\r\n") {
		t.Errorf("output %q changed after Close", buf.String())
	}
}
