package batch

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net/http"
	"net/textproto"
	"regexp"
	"slices"
	"strconv"
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
	return collect(d, itemOf)
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

// TestEncoderRoundTripRandom is FuzzRoundTrip's property over 400 batches
// built from a fixed random seed: random batches with awkward bodies (CR,
// LF, NUL, BOM, dashes, near-delimiters), written in random chunks, decode
// back to what was encoded, and a batch the encoder refuses holds a body
// line that a reference check, written independently with a regular
// expression, also finds to be a delimiter.
func TestEncoderRoundTripRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(2024, 11))
	const batches = 400
	refused := 0
	for n := range batches {
		data := make([]byte, 64+rng.IntN(512))
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			if checkRoundTrip(t, data) {
				refused++
			}
		})
	}
	t.Logf("%d of %d random batches refused for a delimiter in a body", refused, batches)
	if refused == 0 || refused > batches/2 {
		t.Errorf("%d of %d batches refused: the generator should produce some collisions, not mostly", refused, batches)
	}
}

// collides is the reference delimiter check: a body line (split at CR, LF
// or CRLF) that starts with the dash-boundary of an open boundary, which
// RFC 2046's note to implementors lets a reader take for a delimiter; or a
// start or header line that does: a request's method, or a header name as
// the encoder writes it (canonical), such as "--b" in a line "--b: x".
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
			re := regexp.MustCompile(`^--(` + alt + `)`)
			lines := regexp.MustCompile(`\r\n|\r|\n`).Split(s.body, -1)
			if op := s.op; op != nil {
				if op.Message == Request {
					lines = append(lines, op.Method)
				}
				for _, f := range slices.Concat(op.PartHeader, op.Header) {
					lines = append(lines, string(appendCanonical(nil, f.Name)))
				}
			}
			for _, line := range lines {
				if re.MatchString(line) {
					return true
				}
			}
		}
	}
	return false
}
