package batch

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

// The fuzz targets check properties, not only that nothing panics (STYLE.md
// rule 14):
//
//   - FuzzDecode: arbitrary bytes under an arbitrary Content-Type never panic,
//     every error is typed, memory stays within the configured limits, and a
//     strict success is a lenient success with the same parts.
//   - FuzzChunking: whole reads and short reads of every size decode alike.
//   - FuzzRoundTrip: a structured random batch, encoded then decoded, is the
//     input.
//   - FuzzReencode: whatever decodes, re-encoded and decoded again, gives the
//     same operations.
//   - FuzzStdlibDiff: on single-level CRLF batches that mime/multipart and
//     net/http read, the decoder finds the same parts and bodies.
//   - FuzzTruncation: a valid batch cut before its close delimiter fails with
//     ErrTruncated, never succeeds.
//
// Every target is seeded at run time with every vector under
// testdata/vectors, and by the files under testdata/fuzz/<Target>/.

// addVectorSeeds adds every vector as a seed, through add.
func addVectorSeeds(f *testing.F, add func(v vector)) {
	for _, v := range loadVectors(f) {
		add(v)
	}
}

// sentinels are the errors a *SyntaxError may wrap.
var sentinels = []error{
	ErrTruncated, ErrContentType, ErrBoundary, ErrHeader, ErrStartLine,
	ErrLineTooLong, ErrHeaderTooLarge, ErrTooManyParts, ErrTooDeep, ErrNonconforming,
	ErrNoDelimiter,
}

// checkTyped fails unless err is a *SyntaxError wrapping one of the
// sentinels, with a coherent Deviation.
func checkTyped(t *testing.T, what string, err error) {
	t.Helper()
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("%s: error %T %v, want a *SyntaxError", what, err, err)
	}
	known := false
	for _, s := range sentinels {
		if se.Err == s {
			known = true
		}
	}
	if !known {
		t.Fatalf("%s: *SyntaxError wraps %v, not a sentinel", what, se.Err)
	}
	if (se.Err == ErrNonconforming) != (se.Deviation != 0) {
		t.Fatalf("%s: %v: Deviation %v with Err %v", what, se, se.Deviation, se.Err)
	}
	if se.Deviation&(se.Deviation-1) != 0 {
		t.Fatalf("%s: %v: more than one deviation in one error", what, se)
	}
	_ = se.Error()
}

// limitCheck is a set of decoding limits and what they promise.
type limitCheck struct {
	name string
	opts []Option
}

var fuzzLimits = []limitCheck{
	{"default", nil},
	{"tiny", []Option{BufferSize(1), MaxLineLength(1), MaxHeaderBytes(300), MaxParts(6), MaxDepth(1)}},
	{"strict", []Option{Strict(true)}},
}

// decodeChecked decodes data with opts, reading bodies in three ways by part
// index (io.Copy, short Reads, or left to Next), and checks the decoder's
// invariants after every step: typed errors, sticky errors, balanced
// changesets, and memory within the limits.
func decodeChecked(t *testing.T, name string, data []byte, contentType string, opts ...Option) ([]decoded, Deviation, error) {
	t.Helper()
	d, err := NewDecoder(bytes.NewReader(data), contentType, opts...)
	if err != nil {
		checkTyped(t, name+": NewDecoder", err)
		return nil, 0, err
	}
	o := d.opts
	bufCap := cap(d.buf)
	var out []decoded
	var devs Deviation
	var open []int // part indexes of the open changesets
	small := make([]byte, 7)
	for i := 0; ; i++ {
		p, err := d.Next()
		if len(d.meta) > o.maxPartHeader+o.maxHeader {
			t.Fatalf("%s: %d header bytes held, limits %d+%d", name, len(d.meta), o.maxPartHeader, o.maxHeader)
		}
		if cap(d.buf) != bufCap || len(d.levels) > o.maxDepth+1 {
			t.Fatalf("%s: buffer %d (was %d), %d levels (max depth %d)", name, cap(d.buf), bufCap, len(d.levels), o.maxDepth)
		}
		if err == io.EOF {
			if len(open) > 0 {
				t.Fatalf("%s: io.EOF with changesets %v still open", name, open)
			}
			if _, err2 := d.Next(); err2 != io.EOF {
				t.Fatalf("%s: Next after io.EOF = %v", name, err2)
			}
			return out, devs, nil
		}
		if err != nil {
			checkTyped(t, name, err)
			if _, err2 := d.Next(); err2 != err {
				t.Fatalf("%s: error not sticky: %v, then %v", name, err, err2)
			}
			return out, devs, err
		}
		if p.Index() >= o.maxParts {
			t.Fatalf("%s: part index %d with MaxParts %d", name, p.Index(), o.maxParts)
		}
		if p.Depth() != len(open) && p.Kind() != KindChangesetEnd {
			t.Fatalf("%s: part %d at depth %d inside %d changesets", name, i, p.Depth(), len(open))
		}
		checkHeaderBytes(t, name, p, o)
		devs |= p.Deviations()
		g := decoded{
			Kind: p.Kind().String(), Depth: p.Depth(), Boundary: string(p.Boundary()),
			Message: p.Message().String(), Method: string(p.Method()), Target: string(p.Target()),
			Proto: string(p.Proto()), Status: p.StatusCode(), Reason: string(p.Reason()),
			PartHeader: fieldsOf(p.Header()), Header: fieldsOf(p.HTTPHeader()),
		}
		if id, ok := p.ContentID(); ok {
			s := string(id)
			g.ContentID = &s
		}
		switch p.Kind() {
		case KindChangesetStart:
			open = append(open, p.Index())
		case KindChangesetEnd:
			if len(open) == 0 || open[len(open)-1] != p.Index() || p.Depth() != len(open)-1 {
				t.Fatalf("%s: changeset end %d (depth %d) with open %v", name, p.Index(), p.Depth(), open)
			}
			open = open[:len(open)-1]
		case KindOperation:
			if p.Method() == nil && p.StatusCode() == 0 && p.Message() != Response {
				t.Fatalf("%s: operation %d has neither a method nor a status", name, i)
			}
			if p.Message() == Request && (len(p.Method()) == 0 || len(p.Target()) == 0) {
				t.Fatalf("%s: request %d with method %q target %q", name, i, p.Method(), p.Target())
			}
			if p.Message() == Response && (p.StatusCode() < 0 || p.StatusCode() > 999) {
				t.Fatalf("%s: status %d", name, p.StatusCode())
			}
		case KindOther:
		default:
			t.Fatalf("%s: part %d of kind %v", name, i, p.Kind())
		}
		if p.Kind() == KindOperation || p.Kind() == KindOther {
			var body bytes.Buffer
			switch i % 3 {
			case 0:
				_, err = io.Copy(&body, p)
			case 1:
				for err == nil {
					var n int
					n, err = p.Read(small)
					body.Write(small[:n])
				}
				if err == io.EOF {
					err = nil
				}
			case 2:
				// Left to Next, which discards it.
			}
			if err != nil {
				checkTyped(t, name+": body", err)
				return out, devs, err
			}
			g.Body = body.Bytes()
		}
		out = append(out, g)
	}
}

// checkHeaderBytes checks that the views of a part hold no more than
// MaxHeaderBytes allows: the MIME headers, and separately the start line
// and embedded headers, each field charged fieldOverhead.
func checkHeaderBytes(t *testing.T, name string, p *Part, o options) {
	t.Helper()
	used := 0
	for _, f := range p.Header() {
		used += len(f.Name) + len(f.Value) + fieldOverhead
	}
	if used > o.maxPartHeader {
		t.Fatalf("%s: part %d: MIME headers use %d bytes, limit %d", name, p.Index(), used, o.maxPartHeader)
	}
	used = len(p.Method()) + len(p.Target()) + len(p.Proto()) + len(p.Reason())
	for _, f := range p.HTTPHeader() {
		used += len(f.Name) + len(f.Value) + fieldOverhead
	}
	if used > o.maxHeader {
		t.Fatalf("%s: part %d: start line and headers use %d bytes, limit %d", name, p.Index(), used, o.maxHeader)
	}
}

// FuzzDecode decodes arbitrary bytes under an arbitrary Content-Type, with
// the default limits, tiny limits and strict mode.
func FuzzDecode(f *testing.F) {
	addVectorSeeds(f, func(v vector) { f.Add(v.Data, v.ContentType) })
	f.Add(genBatch("b", "\r\n", [][]byte{[]byte("x"), nil}), "multipart/mixed; boundary=b")
	f.Add([]byte("--b\n\n--b--"), "multipart/batching; boundary=b")
	f.Fuzz(func(t *testing.T, data []byte, contentType string) {
		var lenient []decoded
		var lenientErr error
		var lenientDevs Deviation
		for _, l := range fuzzLimits {
			got, devs, err := decodeChecked(t, l.name, data, contentType, l.opts...)
			switch l.name {
			case "default":
				lenient, lenientErr, lenientDevs = got, err, devs
			case "strict":
				if err != nil {
					if lenientErr == nil && !errors.Is(err, ErrNonconforming) {
						t.Fatalf("strict decode failed with %v, lenient decode succeeded", err)
					}
					continue
				}
				if lenientErr != nil {
					t.Fatalf("strict decode succeeded, lenient decode failed with %v", lenientErr)
				}
				if lenientDevs != 0 {
					t.Fatalf("strict decode succeeded, lenient decode saw deviations %v", lenientDevs)
				}
				if diff := cmp.Diff(lenient, got, normalize); diff != "" {
					t.Fatalf("strict and lenient decodes differ (-lenient +strict):\n%s", diff)
				}
			}
		}
	})
}

// FuzzChunking checks that the result does not depend on how the input
// arrives: whole, one byte at a time, halves, or random short reads.
func FuzzChunking(f *testing.F) {
	addVectorSeeds(f, func(v vector) { f.Add(v.Data, v.ContentType, uint64(len(v.Data))) })
	f.Fuzz(func(t *testing.T, data []byte, contentType string, seed uint64) {
		want, wantErr := decodeAll(bytes.NewReader(data), contentType)
		chunked := map[string]io.Reader{
			"onebyte": iotest.OneByteReader(bytes.NewReader(data)),
			"half":    iotest.HalfReader(bytes.NewReader(data)),
			"random":  &randomReader{data: data, rng: rand.New(rand.NewPCG(seed, 7))},
		}
		for name, r := range chunked {
			got, err := decodeAll(r, contentType, BufferSize(1))
			if !sameError(err, wantErr) {
				t.Fatalf("%s: error %v, whole read gave %v", name, err, wantErr)
			}
			if diff := cmp.Diff(want, got, normalize); diff != "" {
				t.Fatalf("%s: chunked decode differs (-whole +chunked):\n%s", name, diff)
			}
		}
	})
}

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
// become the operation's (WIRE.md quirk 18), and a Content-Length that
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
func (s *fuzzSource) genSteps() (string, []Option, []step) {
	dialect := Dialect(s.intn(3))
	b := s.genBoundary("b")
	opts := []Option{WithBoundary(b), WithDialect(dialect)}
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

// FuzzRoundTrip encodes a structured random batch (dialect, changesets,
// methods, headers, bodies with awkward bytes) and checks that the strict
// decoder gives it back. A batch the encoder refuses must hold a body line
// that the independent check in collides also finds to be a delimiter.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x01\x04\x00\x07\x01\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"))
	addVectorSeeds(f, func(v vector) { f.Add(v.Data) })
	f.Fuzz(func(t *testing.T, data []byte) { checkRoundTrip(t, data) })
}

// checkRoundTrip builds a batch from data's bytes as decisions, encodes it
// and checks that the strict decoder gives it back. It reports whether the
// encoder refused the batch for a delimiter in a body.
func checkRoundTrip(t *testing.T, data []byte) (refused bool) {
	t.Helper()
	s := &fuzzSource{b: data}
	b, opts, steps := s.genSteps()
	var buf bytes.Buffer
	e, err := NewEncoder(&buf, opts...)
	if err != nil {
		t.Fatalf("NewEncoder: %v", err)
	}
	err = s.runSteps(e, steps)
	if errors.Is(err, ErrInvalidOperation) && oddReason(steps) {
		return false
	}
	if refuse := collides(steps, b); refuse || err != nil {
		if !refuse || !errors.Is(err, ErrUnsafe) {
			t.Fatalf("encode = %v, reference collision check = %v\nsteps: %+v", err, refuse, steps)
		}
		return true
	}
	got, err := decodeItems(buf.Bytes(), e.ContentType())
	if err != nil {
		t.Fatalf("strict decode of the encoder's output: %v\n%q", err, buf.Bytes())
	}
	if diff := cmp.Diff(expectItems(steps), got); diff != "" {
		t.Fatalf("decode(encode(x)) mismatch (-want +got):\n%s\n%q", diff, buf.Bytes())
	}
	// An independent MIME parser frames the output the same way.
	raw, err := stdlibRawOps(buf.Bytes(), b)
	if err != nil {
		t.Fatalf("mime/multipart cannot read the encoder's output: %v\n%q", err, buf.Bytes())
	}
	var bodies []string
	for _, it := range got {
		if it.Kind == KindOperation {
			bodies = append(bodies, it.Body)
		}
	}
	if len(raw) != len(bodies) {
		t.Fatalf("mime/multipart reads %d operations, the decoder %d\n%q", len(raw), len(bodies), buf.Bytes())
	}
	for i := range raw {
		if !bytes.HasSuffix(raw[i], []byte("\r\n\r\n"+bodies[i])) {
			t.Fatalf("operation %d: mime/multipart's part %q does not end in the decoder's body %q", i, raw[i], bodies[i])
		}
	}
	return false
}

// stdlibRawOps reads a batch with mime/multipart alone, recursing into
// changesets, and returns each application/http part raw: the embedded
// message as mime/multipart frames it.
func stdlibRawOps(data []byte, boundary string) ([][]byte, error) {
	var out [][]byte
	mr := multipart.NewReader(bytes.NewReader(data), boundary)
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		mt, params, err := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if err != nil {
			return out, err
		}
		raw, err := io.ReadAll(p)
		if err != nil {
			return out, err
		}
		switch {
		case strings.HasPrefix(mt, "multipart/"):
			inner, err := stdlibRawOps(raw, params["boundary"])
			if err != nil {
				return out, err
			}
			out = append(out, inner...)
		case mt == "application/http":
			out = append(out, raw)
		}
	}
}

// reencodeSteps turns a decoded batch into encoder steps, or reports that
// the encoder cannot write it as it is: nested changesets, or operations
// the encoder refuses to write (non-token methods, control bytes, status
// codes outside 100-999). Parts of kind other are dropped: the encoder
// writes only operations. An operation whose Content-ID came from its
// embedded headers gets it as its ContentID (WIRE.md quirk 18); boundaries
// the encoder cannot write are replaced.
func reencodeSteps(data []byte, contentType string) (b string, opts []Option, steps []step, ok bool) {
	mt, b, err := ParseContentType(contentType)
	if err != nil {
		return "", nil, nil, false
	}
	d, err := NewDecoderBoundary(bytes.NewReader(data), b)
	if err != nil {
		return "", nil, nil, false
	}
	if !ValidBoundary(b) {
		b = "batch_re"
	}
	dialect := ODataV4
	if mt == "multipart/batching" {
		dialect = UCWA
	}
	ncs := 0
	for {
		p, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", nil, nil, false
		}
		switch p.Kind() {
		case KindChangesetStart:
			if p.Depth() > 0 || dialect == UCWA {
				return "", nil, nil, false
			}
			cs := string(p.Boundary())
			ncs++
			if !ValidBoundary(cs) || confusable(cs, b) {
				cs = "changeset_re" + strings.Repeat("_", ncs)
			}
			hdr := p.Header().Fields()
			if validateFields(hdr, "PartHeader") != nil {
				hdr = nil
			}
			steps = append(steps, step{begin: true, csBoundary: cs, csHeader: hdr})
		case KindChangesetEnd:
			steps = append(steps, step{end: true})
		case KindOperation:
			op := p.Operation()
			if op.ContentID == "" {
				// Operation cannot tell an empty Content-ID part
				// header from none; written without one, the
				// embedded Content-ID is read back instead.
				for _, f := range op.Header {
					if strings.EqualFold(f.Name, "content-id") {
						op.ContentID = f.Value
						break
					}
				}
			}
			if validateOperation(&op) != nil {
				return "", nil, nil, false
			}
			body, err := io.ReadAll(p)
			if err != nil {
				return "", nil, nil, false
			}
			steps = append(steps, step{op: &op, body: string(body)})
		}
	}
	return b, []Option{WithBoundary(b), WithDialect(dialect)}, steps, true
}

// FuzzReencode decodes arbitrary input; whatever decodes without error is
// encoded again and decoded strictly, and must give the same operations.
func FuzzReencode(f *testing.F) {
	addVectorSeeds(f, func(v vector) { f.Add(v.Data, v.ContentType) })
	f.Fuzz(func(t *testing.T, data []byte, contentType string) {
		b, opts, steps, ok := reencodeSteps(data, contentType)
		if !ok {
			return
		}
		var buf bytes.Buffer
		e, err := NewEncoder(&buf, opts...)
		if err != nil {
			t.Fatalf("NewEncoder: %v", err)
		}
		err = run(e, steps)
		if refuse := collides(steps, b); refuse || err != nil {
			// A body line the encoder takes for a delimiter: split at
			// a lone CR, say, which the decoder does not split at.
			if !refuse || !errors.Is(err, ErrUnsafe) {
				t.Fatalf("re-encode = %v, reference collision check = %v\nsteps: %+v", err, refuse, steps)
			}
			return
		}
		// The only deviation the encoder writes is one it was given: an
		// embedded Content-Length that disagrees with the body.
		got, err := decodeItems(buf.Bytes(), e.ContentType())
		if errors.Is(err, ErrNonconforming) {
			var se *SyntaxError
			if errors.As(err, &se) && se.Deviation == DevContentLength {
				got, err = decodeItemsWith(buf.Bytes(), e.ContentType())
			}
		}
		if err != nil {
			t.Fatalf("decode of the re-encoded batch: %v\n%q", err, buf.Bytes())
		}
		if diff := cmp.Diff(expectItems(steps), got); diff != "" {
			t.Fatalf("decode(encode(decode(x))) mismatch (-first decode +second):\n%s\n%q", diff, buf.Bytes())
		}
	})
}

// decodeItemsWith is decodeItems without Strict, keeping the deviations
// other than DevContentLength errors.
func decodeItemsWith(data []byte, contentType string) ([]item, error) {
	d, err := NewDecoder(bytes.NewReader(data), contentType)
	if err != nil {
		return nil, err
	}
	return collect(d, func(p *Part) (item, error) {
		if dev := p.Deviations() &^ DevContentLength; dev != 0 {
			return item{}, &SyntaxError{Offset: p.Offset(), Part: p.Index(), Err: ErrNonconforming, Deviation: dev}
		}
		return itemOf(p)
	})
}

// stdPart is a part as the standard library composition reads it.
type stdPart struct {
	Kind       string
	Method     string
	Target     string
	Status     int
	PartHeader http.Header
	Header     http.Header
	Body       []byte
}

// headersStdlibRewrites are embedded headers that net/http moves or
// rewrites while reading a message (Host into Request.Host, transfer
// headers into fields, Pragma into Cache-Control).
var headersStdlibRewrites = []string{"Host", "Content-Length", "Transfer-Encoding", "Trailer", "Cache-Control"}

// stdlibParts reads a single-level batch as a Go user would by hand:
// mime/multipart's NextRawPart (no quoted-printable decoding, as the
// decoder does none), mime.ParseMediaType, and http.ReadRequest or
// http.ReadResponse on application/http parts. The body is what follows
// the embedded header block, whatever its Content-Length says. ok is false
// when any step fails or a part is multipart.
func stdlibParts(data []byte, boundary string) (parts []stdPart, ok bool) {
	mr := multipart.NewReader(bytes.NewReader(data), boundary)
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			return parts, true
		}
		if err != nil {
			return nil, false
		}
		raw, err := io.ReadAll(p)
		if err != nil {
			return nil, false
		}
		sp := stdPart{Kind: KindOther.String(), PartHeader: http.Header(p.Header), Body: raw}
		if ct := p.Header.Get("Content-Type"); ct != "" {
			mt, _, err := mime.ParseMediaType(ct)
			if err != nil || strings.HasPrefix(mt, "multipart/") {
				return nil, false
			}
			if mt == "application/http" {
				sp.Kind = KindOperation.String()
				br := bufio.NewReader(bytes.NewReader(raw))
				if bytes.HasPrefix(raw, []byte("HTTP/")) {
					resp, err := http.ReadResponse(br, nil)
					if err != nil {
						return nil, false
					}
					sp.Status, sp.Header = resp.StatusCode, resp.Header
				} else {
					req, err := http.ReadRequest(br)
					if err != nil {
						return nil, false
					}
					sp.Method, sp.Target, sp.Header = req.Method, req.RequestURI, req.Header
				}
				for _, k := range headersStdlibRewrites {
					delete(sp.Header, k)
				}
				if sp.Body, err = io.ReadAll(br); err != nil {
					return nil, false
				}
			}
		}
		parts = append(parts, sp)
	}
}

// batchParts decodes data into the same form as stdlibParts.
func batchParts(data []byte, boundary string) ([]stdPart, error) {
	d, err := NewDecoderBoundary(bytes.NewReader(data), boundary)
	if err != nil {
		return nil, err
	}
	return collect(d, func(p *Part) (stdPart, error) {
		sp := stdPart{
			Kind: p.Kind().String(), Method: string(p.Method()), Target: string(p.Target()),
			Status: p.StatusCode(), PartHeader: p.Header().HTTPHeader(), Header: p.HTTPHeader().HTTPHeader(),
		}
		for _, k := range headersStdlibRewrites {
			delete(sp.Header, k)
		}
		var err error
		sp.Body, err = io.ReadAll(p)
		return sp, err
	})
}

// FuzzStdlibDiff compares the decoder with the standard library
// composition on single-level CRLF batches: wherever the standard library
// reads the input without error, the decoder must too, with the same parts,
// start lines, headers and body bytes. Inputs with a bare LF or a leading
// BOM are left out: there the decoder is right and the standard library is
// not (PEERS.md §0.2, §0.3).
func FuzzStdlibDiff(f *testing.F) {
	addVectorSeeds(f, func(v vector) {
		if _, b, err := ParseContentType(v.ContentType); err == nil {
			f.Add(v.Data, b)
		}
	})
	f.Add(genBatch("batch_1", "\r\n", [][]byte{[]byte("{}\r\n--batch_1x\r\n--"), nil, []byte("\r\n")}), "batch_1")
	f.Fuzz(func(t *testing.T, data []byte, boundary string) {
		if !readableBoundary(boundary) || bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
			return
		}
		for i, c := range data {
			if c == '\n' && (i == 0 || data[i-1] != '\r') {
				return
			}
		}
		want, ok := stdlibParts(data, boundary)
		if !ok {
			return
		}
		got, err := batchParts(data, boundary)
		if errors.Is(err, ErrLineTooLong) || errors.Is(err, ErrHeaderTooLarge) || errors.Is(err, ErrTooManyParts) {
			return // the decoder's limits are tighter than mime/multipart's
		}
		if err != nil {
			t.Fatalf("standard library reads %d parts, decoder fails: %v", len(want), err)
		}
		if diff := cmp.Diff(want, got, normalize); diff != "" {
			t.Fatalf("decoder differs from the standard library (-stdlib +batch):\n%s", diff)
		}
	})
}

// closeOffset returns the offset just past the batch's close delimiter
// ("--boundary--"), or -1 if data does not decode.
func closeOffset(data []byte, contentType string) int {
	d, err := NewDecoder(bytes.NewReader(data), contentType)
	if err != nil {
		return -1
	}
	for {
		_, err := d.Next()
		if err == io.EOF {
			return int(d.pend.offset) + len(d.levels[0].dash) + 2
		}
		if err != nil {
			return -1
		}
	}
}

// endsInCloseLine reports whether data ends with a line that is the batch's
// close delimiter, padding included: a prefix that the decoder rightly reads
// as a whole batch, as no reader can tell it from the real end.
func endsInCloseLine(data []byte, contentType string) bool {
	_, b, _ := ParseContentType(contentType)
	return bytes.HasSuffix(bytes.TrimRight(data, " \t"), []byte("\n--"+b+"--"))
}

// FuzzTruncation cuts a valid batch at a fuzzer-chosen offset before the end
// of its close delimiter: decoding must fail with ErrTruncated (which also
// matches io.ErrUnexpectedEOF), whatever the chunking. With a Content-Type
// the batch is the fuzzer's bytes (when they decode); without one it is a
// structured random batch from the encoder.
func FuzzTruncation(f *testing.F) {
	addVectorSeeds(f, func(v vector) { f.Add(v.Data, v.ContentType, uint32(len(v.Data)/2)) })
	f.Add([]byte("\x01\x04\x00\x07\x01\x01\x02\x03\x04\x05\x06\x07\x08"), "", uint32(40))
	f.Fuzz(func(t *testing.T, data []byte, contentType string, cut uint32) {
		if contentType == "" {
			s := &fuzzSource{b: data}
			_, opts, steps := s.genSteps()
			var buf bytes.Buffer
			e, err := NewEncoder(&buf, opts...)
			if err != nil {
				t.Fatalf("NewEncoder: %v", err)
			}
			if s.runSteps(e, steps) != nil {
				return // refused; FuzzRoundTrip checks why
			}
			data, contentType = buf.Bytes(), e.ContentType()
		}
		end := closeOffset(data, contentType)
		if end < 0 {
			return
		}
		n := int(cut % uint32(end))
		prefix := data[:n]
		for _, r := range []io.Reader{bytes.NewReader(prefix), iotest.OneByteReader(bytes.NewReader(prefix))} {
			_, err := decodeAll(r, contentType, BufferSize(1))
			if err == nil && endsInCloseLine(prefix, contentType) {
				continue
			}
			if !errors.Is(err, ErrTruncated) || !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("cut at %d of %d: error %v, want ErrTruncated\n%q", n, end, err, prefix)
			}
		}
		if _, err := decodeAll(bytes.NewReader(data[:end]), contentType); err != nil {
			t.Fatalf("cut just after the close delimiter (%d): %v", end, err)
		}
	})
}
