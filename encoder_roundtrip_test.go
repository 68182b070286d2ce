package batch

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/textproto"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

// item is one decoded part, or one expected part, in a form to compare.
type item struct {
	Kind     Kind
	Depth    int
	Boundary string
	Op       Operation
	Body     string
}

// decodeItems decodes a whole batch strictly into items.
func decodeItems(data []byte, contentType string) ([]item, error) {
	d, err := NewDecoder(bytes.NewReader(data), contentType, Strict(true))
	if err != nil {
		return nil, err
	}
	var out []item
	for {
		p, err := d.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		it, err := itemOf(p)
		if err != nil {
			return out, err
		}
		out = append(out, it)
	}
}

// itemOf copies a decoded part into an item, its body read whole.
func itemOf(p *Part) (item, error) {
	it := item{Kind: p.Kind(), Depth: p.Depth()}
	switch p.Kind() {
	case KindChangesetStart, KindChangesetEnd:
		it.Boundary = string(p.Boundary())
	case KindOperation:
		it.Op = p.Operation()
		it.Op.PartHeader = ownFields(it.Op.PartHeader)
		body, err := io.ReadAll(p)
		if err != nil {
			return it, err
		}
		it.Body = string(body)
	}
	return it, nil
}

// ownFields drops the MIME part headers the encoder writes itself, and
// returns nil for none, as the caller's PartHeader is compared with them.
func ownFields(fs []Field) []Field {
	var out []Field
	for _, f := range fs {
		switch textproto.CanonicalMIMEHeaderKey(f.Name) {
		case "Content-Type", "Content-Transfer-Encoding", "Content-Id":
			continue
		}
		out = append(out, f)
	}
	return out
}

// expectItems is what decoding the steps' batch must give: the operations
// as written, with canonical header names, HTTP/1.1 and the default
// reason phrase.
func expectItems(steps []step) []item {
	var out []item
	depth, cs := 0, ""
	canon := func(fs []Field) []Field {
		var r []Field
		for _, f := range fs {
			r = append(r, Field{Name: textproto.CanonicalMIMEHeaderKey(f.Name), Value: f.Value})
		}
		return r
	}
	for _, s := range steps {
		switch {
		case s.begin:
			cs, depth = s.csBoundary, 1
			out = append(out, item{Kind: KindChangesetStart, Boundary: cs})
		case s.end:
			depth = 0
			out = append(out, item{Kind: KindChangesetEnd, Boundary: cs})
		default:
			op := *s.op
			op.Proto = "HTTP/1.1"
			if op.Message == Response && op.Reason == "" {
				op.Reason = http.StatusText(op.StatusCode)
			}
			op.PartHeader = canon(ownFields(op.PartHeader))
			op.Header = canon(op.Header)
			out = append(out, item{Kind: KindOperation, Depth: depth, Op: op, Body: s.body})
		}
	}
	return out
}

// TestEncoderRoundTripGolden checks decode(encode(x)) == x for the seeds'
// batches, with the strict decoder: the encoder's output has no deviation.
func TestEncoderRoundTripGolden(t *testing.T) {
	for _, v := range goldenVectors() {
		t.Run(v.name, func(t *testing.T) {
			var buf bytes.Buffer
			e, err := NewEncoder(&buf, v.opts...)
			require.NoError(t, err)
			require.NoError(t, run(e, v.steps))
			got, err := decodeItems(buf.Bytes(), e.ContentType())
			require.NoError(t, err)
			if diff := cmp.Diff(expectItems(v.steps), got); diff != "" {
				t.Errorf("decode(encode(%s)) mismatch (-want +got):\n%s", v.name, diff)
			}
		})
	}
}

// TestEncoderRoundTripRandom encodes random batches with awkward bodies
// (CR, LF, NUL, BOM, dashes, near-delimiters), written in random chunks, and
// checks decode(encode(x)) == x. A batch the encoder refuses must hold a
// body line that a reference check, written independently with a regular
// expression, also finds to be a delimiter.
func TestEncoderRoundTripRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(2024, 11))
	const batches = 400
	refused := 0
	for n := range batches {
		dialect := Dialect(rng.IntN(3))
		b := randBoundary(rng, "b")
		opts := []Option{WithBoundary(b), WithDialect(dialect)}
		if rng.IntN(3) == 0 {
			opts = append(opts, ChangesetContentLength(1<<16))
		}
		steps := randSteps(rng, dialect, b)
		var buf bytes.Buffer
		e, err := NewEncoder(&buf, opts...)
		require.NoError(t, err)
		err = runChunked(rng, e, steps)
		if wantRefuse := collides(steps, b); wantRefuse || err != nil {
			if !wantRefuse || !errors.Is(err, ErrUnsafe) {
				t.Fatalf("batch %d: encode = %v, reference collision check = %v\nsteps: %+v", n, err, wantRefuse, steps)
			}
			refused++
			continue
		}
		got, err := decodeItems(buf.Bytes(), e.ContentType())
		if err != nil {
			t.Fatalf("batch %d: decode = %v\n%q", n, err, buf.Bytes())
		}
		if diff := cmp.Diff(expectItems(steps), got); diff != "" {
			t.Fatalf("batch %d: decode(encode(x)) mismatch (-want +got):\n%s\n%q", n, diff, buf.Bytes())
		}
	}
	t.Logf("%d of %d random batches refused for a delimiter in a body", refused, batches)
	if refused == 0 || refused > batches/2 {
		t.Errorf("%d of %d batches refused: the generator should produce some collisions, not mostly", refused, batches)
	}
}

// runChunked is run with each body written in random chunks.
func runChunked(rng *rand.Rand, e *Encoder, steps []step) error {
	for _, s := range steps {
		var err error
		switch {
		case s.begin:
			err = e.BeginChangesetWith(s.csBoundary, s.csHeader)
		case s.end:
			err = e.EndChangeset()
		default:
			var w io.Writer
			if w, err = e.CreateOperation(s.op); err != nil {
				return err
			}
			body := s.body
			for len(body) > 0 && err == nil {
				k := 1 + rng.IntN(len(body))
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

const bcharsAll = "abcXYZ019'()+_,-./:=? "

func randBoundary(rng *rand.Rand, prefix string) string {
	b := []byte(prefix)
	for range rng.IntN(8) {
		b = append(b, bcharsAll[rng.IntN(len(bcharsAll))])
	}
	for len(b) > 0 && b[len(b)-1] == ' ' {
		b = b[:len(b)-1]
	}
	return string(b)
}

func randToken(rng *rand.Rand) string {
	const tchars = "abcdefXYZ0129!#$%&'*+-.^_`|~"
	b := make([]byte, 1+rng.IntN(10))
	for i := range b {
		b[i] = tchars[rng.IntN(len(tchars))]
	}
	return string(b)
}

func randValue(rng *rand.Rand) string {
	const vchars = "abc XYZ 019;=,\"/\t:()\x80\xff"
	b := make([]byte, rng.IntN(12))
	for i := range b {
		b[i] = vchars[rng.IntN(len(vchars))]
	}
	return strings.Trim(string(b), " \t")
}

func randFields(rng *rand.Rand) []Field {
	var fs []Field
	for range rng.IntN(4) {
		fs = append(fs, Field{Name: randToken(rng), Value: randValue(rng)})
	}
	return fs
}

// randBody mixes awkward pieces: line breaks of every kind, dashes,
// delimiters and near-delimiters of the open boundaries, binary bytes.
func randBody(rng *rand.Rand, dashes []string) string {
	var b strings.Builder
	for range rng.IntN(12) {
		switch rng.IntN(9) {
		case 0:
			b.WriteString("\r\n")
		case 1:
			b.WriteString("\n")
		case 2:
			b.WriteString("\r")
		case 3:
			b.WriteString("-")
		case 4:
			b.WriteString("\x00\xff\xef\xbb\xbf")
		case 5:
			b.WriteString(`{"a":"b"}`)
		case 6: // a near-delimiter: the boundary with a suffix
			b.WriteString(dashes[rng.IntN(len(dashes))] + []string{"x", "-", "---", " y", "_"}[rng.IntN(5)])
		case 7: // rarely, a true delimiter line
			if rng.IntN(8) == 0 {
				b.WriteString("\n" + dashes[rng.IntN(len(dashes))] + []string{"", "--", " ", "--\t"}[rng.IntN(4)] + "\r\n")
			}
		case 8:
			b.WriteString(strings.Repeat("x", rng.IntN(3000)))
		}
	}
	return b.String()
}

func randSteps(rng *rand.Rand, dialect Dialect, b string) []step {
	var steps []step
	for range rng.IntN(6) {
		dashes := []string{"--" + b}
		if dialect != UCWA && rng.IntN(3) == 0 {
			cs := randBoundary(rng, "c")
			steps = append(steps, step{begin: true, csBoundary: cs, csHeader: randFields(rng)})
			dashes = append(dashes, "--"+cs)
			for range rng.IntN(3) {
				steps = append(steps, step{op: randOp(rng), body: randBody(rng, dashes)})
			}
			steps = append(steps, step{end: true})
			continue
		}
		steps = append(steps, step{op: randOp(rng), body: randBody(rng, dashes)})
	}
	return steps
}

func randOp(rng *rand.Rand) *Operation {
	op := &Operation{PartHeader: randFields(rng), Header: randFields(rng)}
	if rng.IntN(2) == 0 {
		op.ContentID = randToken(rng)
	}
	if rng.IntN(2) == 0 {
		op.Message = Request
		op.Method = []string{"GET", "POST", "PATCH", "DELETE", "MERGE", randToken(rng)}[rng.IntN(6)]
		op.Target = []string{"/a/b?$x=1", "https://h/x('y')", "$1/Orders", "Customers('ALFKI')", "\xc3\xa9"}[rng.IntN(5)]
	} else {
		op.Message = Response
		op.StatusCode = 100 + rng.IntN(900)
		if rng.IntN(2) == 0 {
			op.Reason = randValue(rng)
		}
	}
	return op
}

// collides is the reference delimiter check: a body line (split at CR, LF
// or CRLF; the last line is followed by a delimiter's CRLF) that is a
// delimiter of an open boundary.
func collides(steps []step, b string) bool {
	cs := ""
	for _, s := range steps {
		switch {
		case s.begin:
			cs = s.csBoundary
		case s.end:
			cs = ""
		default:
			alt := regexp.QuoteMeta(b)
			if cs != "" {
				alt += "|" + regexp.QuoteMeta(cs)
			}
			re := regexp.MustCompile(`^--(` + alt + `)(--)?[ \t]*$`)
			for _, line := range regexp.MustCompile(`\r\n|\r|\n`).Split(s.body, -1) {
				if re.MatchString(line) {
					return true
				}
			}
		}
	}
	return false
}
