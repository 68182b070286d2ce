package batch

import (
	"bytes"
	"io"
	"strings"
	"testing/iotest"
)

// The random batch generator: a fuzzer's bytes read as decisions (dialect,
// boundaries, changesets, methods, headers, bodies with awkward bytes), so
// that FuzzRoundTrip and FuzzTruncation explore structured batches and the
// fixed-seed property test replays them.

// fuzzSource hands out the fuzzer's bytes as decisions; once they run out
// every decision is zero.
type fuzzSource struct{ b []byte }

func (s *fuzzSource) next() byte {
	if len(s.b) == 0 {
		return 0
	}
	c := s.b[0]
	s.b = s.b[1:]
	return c
}

func (s *fuzzSource) intn(n int) int { return int(s.next()) % n }

func (s *fuzzSource) take(n int) []byte {
	n = min(n, len(s.b))
	r := s.b[:n]
	s.b = s.b[n:]
	return r
}

// bcharsAll samples RFC 2046's bchars, space included.
const bcharsAll = "abcXYZ019'()+_,-./:=? "

// genBoundary returns prefix and up to a few bchars, sometimes up to the
// 70 characters RFC 2046 allows.
func (s *fuzzSource) genBoundary(prefix string) string {
	n := s.intn(10)
	if s.intn(8) == 0 {
		n = maxBoundaryLen - len(prefix)
	}
	b := []byte(prefix)
	for range n {
		b = append(b, bcharsAll[s.intn(len(bcharsAll))])
	}
	return strings.TrimRight(string(b), " ")
}

var fuzzNames = []string{"Accept", "content-type", "If-Match", "OData-Version", "Prefer", "ETAG", "x-ms-client-request-id", "Location"}

// genToken returns a header name or method: a common one or random tchars.
// Content-ID and Content-Length are renamed: an embedded Content-ID would
// become the operation's (as Cosmos writes it), and a Content-Length that
// disagrees with the body is a deviation, which the strict decoder refuses.
func (s *fuzzSource) genToken(common []string) string {
	if c := s.intn(4); c > 0 {
		return common[s.intn(len(common))]
	}
	const tchars = "abcdefXYZ0129!#$%&'*+-.^_`|~"
	b := make([]byte, 1+s.intn(10))
	for i := range b {
		b[i] = tchars[s.intn(len(tchars))]
	}
	if strings.EqualFold(string(b), "content-id") || strings.EqualFold(string(b), "content-length") {
		return "X-" + string(b)
	}
	return string(b)
}

// genValue returns a field value of fuzzer bytes without control bytes
// other than HTAB and without surrounding whitespace.
func (s *fuzzSource) genValue() string {
	b := bytes.Clone(s.take(s.intn(24)))
	for i, c := range b {
		if (c < ' ' && c != '\t') || c == 0x7f {
			b[i] = 'x'
		}
	}
	return strings.Trim(string(b), " \t")
}

func (s *fuzzSource) genFields() []Field {
	var fs []Field
	for range s.intn(4) {
		fs = append(fs, Field{Name: s.genToken(fuzzNames), Value: s.genValue()})
	}
	return fs
}

var fuzzTargets = []string{"/a/b?$x=1", "https://h/x('y')", "$1/Orders", "Customers('ALFKI')", "\xc3\xa9", "*", "HTTP/1.1"}

func (s *fuzzSource) genOp() *Operation {
	op := &Operation{PartHeader: s.genFields(), Header: s.genFields()}
	if s.intn(2) == 0 {
		op.ContentID = s.genValue()
	}
	if s.intn(2) == 0 {
		op.Message = Request
		op.Method = s.genToken([]string{"GET", "POST", "PATCH", "DELETE", "MERGE", "PUT"})
		op.Target = fuzzTargets[s.intn(len(fuzzTargets))]
		if s.intn(3) == 0 {
			t := bytes.Clone(s.take(1 + s.intn(20)))
			for i, c := range t {
				if c <= ' ' || c == 0x7f {
					t[i] = '_'
				}
			}
			if len(t) > 0 {
				op.Target = string(t)
			}
		}
	} else {
		op.Message = Response
		op.StatusCode = 100 + (int(s.next())<<8|int(s.next()))%900
		if s.intn(2) == 0 {
			// RFC 9112 allows spaces and tabs anywhere in a reason
			// phrase; the encoder must refuse what it cannot write
			// so that it reads back the same.
			op.Reason = s.genValue()
			switch s.intn(4) {
			case 1:
				op.Reason = " " + op.Reason
			case 2:
				op.Reason += " "
			case 3:
				op.Reason += "\t"
			}
		}
	}
	return op
}

// oddReason reports whether a step's response has a reason phrase with
// leading or trailing whitespace, which the encoder may refuse.
func oddReason(steps []step) bool {
	for _, st := range steps {
		if st.op != nil && st.op.Reason != strings.Trim(st.op.Reason, " \t") {
			return true
		}
	}
	return false
}

// genBody mixes awkward pieces: line breaks of every kind, dashes, the
// fuzzer's raw bytes, delimiters and near-delimiters of the open boundaries,
// and long runs that cross the decoder's buffer.
func (s *fuzzSource) genBody(dashes []string) string {
	var b strings.Builder
	for range s.intn(12) {
		switch s.intn(10) {
		case 0:
			b.WriteString("\r\n")
		case 1:
			b.WriteString("\n")
		case 2:
			b.WriteString("\r")
		case 3:
			b.WriteString("-")
		case 4:
			b.Write(s.take(s.intn(32)))
		case 5: // a near-delimiter: the boundary with a suffix
			b.WriteString(dashes[s.intn(len(dashes))] + []string{"x", "-", "---", " y", "_", "--x"}[s.intn(6)])
		case 6: // rarely, a true delimiter line
			if s.intn(8) == 0 {
				b.WriteString("\n" + dashes[s.intn(len(dashes))] + []string{"", "--", " ", "--\t"}[s.intn(4)] + "\r\n")
			}
		case 7:
			b.WriteString(strings.Repeat("x", s.intn(256)*s.intn(80)))
		case 8: // the start of a delimiter
			d := dashes[s.intn(len(dashes))]
			b.WriteString("\r\n" + d[:s.intn(len(d)+1)])
		case 9:
			b.WriteString("\xef\xbb\xbf\x00\xff")
		}
	}
	return b.String()
}

// genSteps builds a random batch from the fuzzer's bytes: its boundary,
// encoder options and steps.
func (s *fuzzSource) genSteps() (string, []EncodeOption, []step) {
	dialect := Dialect(s.intn(3))
	b := s.genBoundary("b")
	opts := []EncodeOption{WithBoundary(b), WithDialect(dialect)}
	if s.intn(4) == 0 {
		opts = append(opts, ChangesetContentLength(1<<20))
	}
	var steps []step
	for range s.intn(8) {
		dashes := []string{"--" + b}
		if dialect != UCWA && s.intn(3) == 0 {
			cs := b + s.genBoundary("_")
			if s.intn(2) == 0 || !ValidBoundary(cs) || confusable(cs, b) {
				cs = s.genBoundary("c")
			}
			steps = append(steps, step{begin: true, csBoundary: cs, csHeader: s.genFields()})
			dashes = append(dashes, "--"+cs)
			for range s.intn(4) {
				steps = append(steps, step{op: s.genOp(), body: s.genBody(dashes)})
			}
			steps = append(steps, step{end: true})
			continue
		}
		steps = append(steps, step{op: s.genOp(), body: s.genBody(dashes)})
	}
	return b, opts, steps
}

// runSteps performs the steps on e, writing bodies in chunks the fuzzer
// chooses, some through io.ReaderFrom, and closes e.
func (s *fuzzSource) runSteps(e *Encoder, steps []step) error {
	for _, st := range steps {
		var err error
		switch {
		case st.begin:
			err = e.BeginChangesetWith(st.csBoundary, st.csHeader)
		case st.end:
			err = e.EndChangeset()
		case s.intn(4) == 0:
			err = e.WriteOperation(st.op, iotest.HalfReader(strings.NewReader(st.body)))
		default:
			var w io.Writer
			if w, err = e.CreateOperation(st.op); err != nil {
				return err
			}
			body := st.body
			for len(body) > 0 && err == nil {
				k := int(s.next())
				if k == 0 || k > len(body) {
					k = len(body)
				}
				_, err = io.WriteString(w, body[:k])
				body = body[k:]
			}
		}
		if err != nil {
			return err
		}
	}
	return e.Close()
}
