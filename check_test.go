package batch

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// Checks shared by the fuzz targets and the table tests: typed errors,
// limits honoured while decoding, and where a valid batch ends.

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
	opts []DecodeOption
}

var fuzzLimits = []limitCheck{
	{"default", nil},
	{"tiny", []DecodeOption{BufferSize(1), MaxLineLength(1), MaxHeaderBytes(300), MaxParts(6), MaxDepth(2)}},
	{"strict", []DecodeOption{Strict(true)}},
}

// decodeChecked decodes data with opts, reading bodies in three ways by part
// index (io.Copy, short Reads, or left to Next), and checks the decoder's
// invariants after every step: typed errors, sticky errors, balanced
// changesets, and memory within the limits.
func decodeChecked(t *testing.T, name string, data []byte, contentType string, opts ...DecodeOption) ([]decoded, Deviation, error) {
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
		if held := len(d.meta) - len(usualBlock); held > o.maxPartHeader+o.maxHeader {
			t.Fatalf("%s: %d header bytes held, limits %d+%d", name, held, o.maxPartHeader, o.maxHeader)
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
			PartHeader: fieldsOf(p.PartHeader()), Header: fieldsOf(p.Header()),
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
func checkHeaderBytes(t *testing.T, name string, p *Part, o decodeOptions) {
	t.Helper()
	used := 0
	for _, f := range p.PartHeader() {
		used += len(f.Name) + len(f.Value) + fieldOverhead
	}
	if used > o.maxPartHeader {
		t.Fatalf("%s: part %d: MIME headers use %d bytes, limit %d", name, p.Index(), used, o.maxPartHeader)
	}
	used = len(p.Method()) + len(p.Target()) + len(p.Proto()) + len(p.Reason())
	for _, f := range p.Header() {
		used += len(f.Name) + len(f.Value) + fieldOverhead
	}
	if used > o.maxHeader {
		t.Fatalf("%s: part %d: start line and headers use %d bytes, limit %d", name, p.Index(), used, o.maxHeader)
	}
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
