package batchhttp

import (
	"bufio"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The differential test of what reaches next: an embedded request runs if
// and only if http.ReadRequest accepts the same bytes.
//
// The generator leaves out what the batch format reads differently on
// purpose, each a documented quirk or rule rather than a difference of
// verdict on the same meaning: sloppy start lines and relative targets
// (WIRE.md quirks 6 and 7), blank lines before the start line (quirk 16),
// whitespace at the end of a header name (the codec trims it; textproto
// keeps a trailing space in the name, refuses a trailing tab), a CR at the
// end of a value (textproto trims it), and a body that is valid chunked
// encoding under Transfer-Encoding: chunked (net/http accepts it; in a batch
// the delimiter frames the body, so any Transfer-Encoding is refused).

// chooser gives the generator its choices: from a seeded generator in the
// property test, from the fuzzer's bytes in the fuzz target.
type chooser interface{ intn(n int) int }

type randChooser struct{ r *rand.Rand }

func (c randChooser) intn(n int) int { return c.r.IntN(n) }

type byteChooser struct{ b []byte }

func (c *byteChooser) intn(n int) int {
	if len(c.b) == 0 {
		return 0
	}
	v := int(c.b[0])
	c.b = c.b[1:]
	return v % n
}

func pick[T any](c chooser, xs ...T) T { return xs[c.intn(len(xs))] }

// odd are the bytes the generator slips into names, values and methods.
var odd = []string{"\x00", "\x01", "\x7f", "\r", "\t", " ", "(", "@", ":", "\xc3\xa9", "\x1b", "\"", ";"}

func mutate(c chooser, s string) string {
	if s == "" || c.intn(4) != 0 {
		return s
	}
	i := c.intn(len(s) + 1)
	return s[:i] + pick(c, odd...) + s[i:]
}

// genRequest returns the bytes of an embedded request (LF line ends, the
// body up to the delimiter).
func genRequest(c chooser) string {
	method := mutate(c, pick(c, "GET", "POST", "PATCH", "DELETE", "PUT", "MERGE"))
	// No space, tab, CR or LF in the start line: those split it.
	method = strings.NewReplacer(" ", "", "\t", "", "\r", "").Replace(method)
	if method == "" {
		method = "GET"
	}
	target := pick(c, "/items", "/items(1)", "/items?$top=2", "/a/b%41", "/a%zz", "/x\x01y", "/caf\xc3\xa9", "/p#frag")
	var b strings.Builder
	// Versions, malformed ones among them. Not HTTP/1.0: net/http ignores
	// Transfer-Encoding there, where Handler refuses it (on purpose).
	proto := "HTTP/1.1"
	if c.intn(4) == 0 {
		proto = pick(c, "HTTP/2.0", "HTTP/1.x", "HTTP/11.1", "HTTP/1", "HTTP/1.1.1")
	}
	b.WriteString(method + " " + target + " " + proto + "\n")
	for n := c.intn(5); n > 0; n-- {
		name := pick(c, "Accept", "X-Custom", "Content-Type", "Content-Length", "Transfer-Encoding", "Host", "Cache-Control")
		name = mutate(c, name)
		name = strings.TrimRight(name, " \t")
		if name == "" || name[0] == ' ' || name[0] == '\t' || strings.ContainsAny(name, "\r") {
			name = "X-Fixed"
		}
		var value string
		switch {
		case strings.EqualFold(name, "Content-Length"):
			value = pick(c, "0", "4", "99", "abc", "-1", " 7 ", "", "1,1", "+5")
		case strings.EqualFold(name, "Transfer-Encoding"):
			value = pick(c, "chunked", "gzip", "identity", "", "chunked, chunked")
		default:
			value = mutate(c, mutate(c, pick(c, "application/json", "no-cache", "a b", "v", "")))
		}
		if strings.HasSuffix(value, "\r") {
			value += "x"
		}
		b.WriteString(name + ": " + value + "\n")
	}
	b.WriteString("\n")
	b.WriteString(pick(c, "", "zbody", "zone\ntwo"))
	return b.String()
}

// stdlibAccepts reports whether net/http reads msg as a request: ReadRequest
// accepts it and, when it says chunked, the body decodes.
func stdlibAccepts(msg string) bool {
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(strings.ReplaceAll(msg, "\n", "\r\n"))))
	if err != nil {
		return false
	}
	if len(req.TransferEncoding) > 0 {
		if _, err := io.ReadAll(req.Body); err != nil {
			return false
		}
	}
	return true
}

// handlerRuns reports whether Handler runs msg through next.
func handlerRuns(t testing.TB, msg string) bool {
	ran := false
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ran = true })
	body := op("b", "", msg+"\n") + "--b--\r\n"
	req := httptest.NewRequest(http.MethodPost, "http://example.com/$batch", strings.NewReader(body))
	req.Header.Set("Content-Type", "multipart/mixed; boundary=b")
	Handler(next).ServeHTTP(httptest.NewRecorder(), req)
	return ran
}

func checkSameVerdict(t testing.TB, msg string) {
	t.Helper()
	std, ours := stdlibAccepts(msg), handlerRuns(t, msg)
	if std != ours {
		t.Errorf("http.ReadRequest accepts: %t, Handler runs it: %t, for\n%q", std, ours, msg)
	}
}

func TestHandlerAcceptsAsReadRequest(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 500
	}
	r := randChooser{rand.New(rand.NewPCG(11, 1))}
	accepted := 0
	for range n {
		msg := genRequest(r)
		if stdlibAccepts(msg) {
			accepted++
		}
		checkSameVerdict(t, msg)
	}
	// The generator must exercise both verdicts, or the test proves nothing.
	if accepted < n/10 || accepted > n-n/10 {
		t.Fatalf("%d of %d generated requests accepted: the generator is lopsided", accepted, n)
	}
}

func FuzzHandlerAcceptsAsReadRequest(f *testing.F) {
	for _, s := range []string{"", "\x01\x02\x03", "\x04\x00\x03\x04\x01\x02", "\x00\x00\x02\x04\x00\x02\x01"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, choices []byte) {
		checkSameVerdict(t, genRequest(&byteChooser{choices}))
	})
}
