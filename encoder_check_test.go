package batch

import (
	"io"
	"math/rand/v2"
	"net/textproto"
	"strconv"
	"strings"
	"testing"
)

// checkBytes are the bytes the checks of encoder_check.go treat apart, and
// neighbours of the word-at-a-time tests' thresholds.
var checkBytes = []byte{0, 1, '\t', '\n', '\r', 0x1f, ' ', '!', '"', '-', ':', 'A', 'Z', 'a', 'z', '~', 0x7f, 0x80, 0x9f, 0xa0, 0xff}

// TestAppendValue checks appendValue against checkValue, the rule it
// implements, with each byte of checkBytes at each position of values of
// lengths 1 to 17, after prefixes that do and do not hold control bytes
// (the last word reaches back into them).
func TestAppendValue(t *testing.T) {
	prefixes := []string{"", "A: ", "X-Long-Name: ", "\r\nA: ", "\r\n\r\n\r\n\r\n", "\t\t\t\t\t\t\t\t\t"}
	for _, prefix := range prefixes {
		for n := 0; n <= 17; n++ {
			for pos := range max(n, 1) {
				for _, c := range checkBytes {
					v := []byte(strings.Repeat("v", n))
					if n > 0 {
						v[pos] = c
					}
					got, ok := appendValue([]byte(prefix), string(v))
					if want := checkValue(string(v)) == ""; ok != want {
						t.Errorf("appendValue(%q, %q) ok = %v, want %v", prefix, v, ok, want)
					}
					if ok && string(got) != prefix+string(v) {
						t.Errorf("appendValue(%q, %q) = %q", prefix, v, got)
					}
				}
			}
		}
	}
}

// TestAppendTarget checks appendTarget and validTarget against the rule: not
// empty, no byte at or below the space, no DEL.
func TestAppendTarget(t *testing.T) {
	for n := 0; n <= 17; n++ {
		for pos := range max(n, 1) {
			for _, c := range checkBytes {
				v := []byte(strings.Repeat("/", n))
				if n > 0 {
					v[pos] = c
				}
				want := n > 0 && c > ' ' && c != 0x7f
				if got := validTarget(string(v)); got != want {
					t.Errorf("validTarget(%q) = %v, want %v", v, got, want)
				}
				got, ok := appendTarget([]byte("GET "), string(v))
				if ok != want {
					t.Errorf("appendTarget(%q) ok = %v, want %v", v, ok, want)
				}
				if ok && string(got) != "GET "+string(v) {
					t.Errorf("appendTarget(%q) = %q", v, got)
				}
			}
		}
	}
}

// TestAppendName checks appendName against validToken and against
// textproto.CanonicalMIMEHeaderKey, which gives the same canonical form for
// a token.
func TestAppendName(t *testing.T) {
	names := []string{"Content-Type", "content-type", "CONTENT-TYPE", "Content-Length", "Etag", "ETag", "Date",
		"Location", "Cache-Control", "OData-Version", "odata-version", "x-ms-1a", "-x", "--b", "a--b", "A",
		"a", "1a-2b", "!#$%&'*+-.^_`|~", "a b", "a:b", "", "é", "Content-Typ", "Content-Typf"}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		b := make([]byte, 1+rng.IntN(16))
		for i := range b {
			b[i] = "aZ-9!:Ab\x00\x80 zQ"[rng.IntN(13)]
		}
		names = append(names, string(b))
	}
	for _, name := range names {
		got, ok := appendName([]byte("x"), name)
		if want := validToken(name); ok != want {
			t.Errorf("appendName(%q) ok = %v, want %v", name, ok, want)
		}
		if ok && string(got) != "x"+textproto.CanonicalMIMEHeaderKey(name) {
			t.Errorf("appendName(%q) = %q, want %q", name, got[1:], textproto.CanonicalMIMEHeaderKey(name))
		}
	}
}

// TestAppendOperationAgrees checks that appendOperation, which checks an
// operation as it appends it, refuses exactly what validateOperation and
// delimiterLineIn refuse, which word the errors, and that what it writes is
// the layout spelled out here, in a batch and in a changeset.
func TestAppendOperationAgrees(t *testing.T) {
	pick := func(rng *rand.Rand, s []string) string { return s[rng.IntN(len(s))] }
	methods := []string{"GET", "POST", "MERGE", "get", "--b", "--c", "-b", "G T", "", "GET\r\n", "é"}
	targets := []string{"/a", "/api/v2.0/me/messages/17", "", "/a b", "/a\x7f", "/with\ttab", "/é", "x"}
	values := []string{"", "1", "4.0", "application/json; odata.metadata=minimal", " x", "x ", "a\tb", "a\r\nb",
		"\x00", "\x7f", "é", "12345678", "1234567\n", "W/\"etag\""}
	names := []string{"Content-Type", "content-length", "OData-Version", "Content-ID", "Content-Transfer-Encoding",
		"--b", "--B", "--c2", "-x", "A:B", "", "X-A", "ETag"}
	rng := rand.New(rand.NewPCG(3, 4))
	nok := 0 // operations accepted, so that the test is not only about refusals
	for i := range 20000 {
		op := &Operation{Message: Request, Method: pick(rng, methods), Target: pick(rng, targets)}
		switch rng.IntN(8) {
		case 0:
			op.Message = MessageKind(7)
		case 1, 2, 3:
			op.Message = Response
			op.StatusCode = []int{200, 404, 99, 1000, 599, 999, 100}[rng.IntN(7)]
			op.Reason = pick(rng, values)
		}
		if rng.IntN(2) == 0 {
			op.ContentID = pick(rng, values)
		}
		fields := func() []Field {
			fs := make([]Field, rng.IntN(3))
			for j := range fs {
				fs[j] = Field{Name: pick(rng, names), Value: pick(rng, values)}
			}
			return fs
		}
		op.PartHeader, op.Header = fields(), fields()
		for _, cs := range []bool{false, true} {
			dialect := Dialect(rng.IntN(3))
			if dialect == UCWA {
				cs = false
			}
			e, err := NewEncoder(io.Discard, WithBoundary("b"), WithDialect(dialect))
			if err != nil {
				t.Fatal(err)
			}
			if cs {
				if err := e.BeginChangesetWith("c", nil); err != nil {
					t.Fatal(err)
				}
			}
			got, ok := e.appendOperation(nil, op)
			want := validateOperation(op) == nil && e.delimiterLineIn(op) == ""
			if ok != want {
				t.Fatalf("%d: appendOperation(%+v) ok = %v, want %v (changeset %v)", i, op, ok, want, cs)
			}
			if ok {
				nok++
				if layout := opLayout(op, dialect, cs); string(got) != layout {
					t.Fatalf("%d: appendOperation(%+v) =\n%q, want\n%q", i, op, got, layout)
				}
			}
		}
	}
	if nok < 1000 {
		t.Errorf("appendOperation accepted %d operations; the generator should give it more", nok)
	}
}

// opLayout is the first part of a batch or changeset holding op, written
// out plainly.
func opLayout(op *Operation, d Dialect, cs bool) string {
	var b strings.Builder
	if cs {
		b.WriteString("--c\r\n")
	} else {
		b.WriteString("--b\r\n")
	}
	switch {
	case d != UCWA:
		b.WriteString("Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n")
	case op.Message == Request:
		b.WriteString("Content-Type: application/http; msgtype=request\r\n")
	default:
		b.WriteString("Content-Type: application/http; msgtype=response\r\n")
	}
	if op.ContentID != "" {
		b.WriteString("Content-ID: " + op.ContentID + "\r\n")
	}
	for _, f := range op.PartHeader {
		switch textproto.CanonicalMIMEHeaderKey(f.Name) {
		case "Content-Type", "Content-Transfer-Encoding", "Content-Id":
			continue
		}
		b.WriteString(textproto.CanonicalMIMEHeaderKey(f.Name) + ": " + f.Value + "\r\n")
	}
	b.WriteString("\r\n")
	if op.Message == Request {
		b.WriteString(op.Method + " " + op.Target + " HTTP/1.1\r\n")
	} else {
		reason := op.Reason
		if reason == "" {
			reason = statusText(op.StatusCode)
		}
		b.WriteString("HTTP/1.1 " + strconv.Itoa(op.StatusCode) + " " + reason + "\r\n")
	}
	for _, f := range op.Header {
		b.WriteString(textproto.CanonicalMIMEHeaderKey(f.Name) + ": " + f.Value + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

// TestLineDash checks lineDash against its definition on every string of
// up to 12 bytes over "-", LF, CR and "a" that a generator gives, from
// every offset, with hyphens dense enough to switch it to its second scan.
func TestLineDash(t *testing.T) {
	want := func(p []byte, i int, start bool) int {
		for k := i; k < len(p); k++ {
			if p[k] == '-' && (k == 0 && start || k > 0 && (p[k-1] == '\n' || p[k-1] == '\r')) {
				return k
			}
		}
		return -1
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 20000 {
		p := make([]byte, rng.IntN(40))
		for j := range p {
			p[j] = "--a-\n\ra-"[rng.IntN(8)]
		}
		for i := 0; i <= len(p); i++ {
			for _, start := range []bool{false, true} {
				if got, w := lineDash(p, i, start), want(p, i, start); got != w {
					t.Fatalf("lineDash(%q, %d, %v) = %d, want %d", p, i, start, got, w)
				}
			}
		}
	}
}
