package batch

import (
	"bytes"
	"io"
	"strings"
)

// This file holds the body writer with its streaming delimiter check, and
// the same check for the lines of a header block.

// holdCap bounds the line start the body writer holds back while it may
// still become a dash-boundary: "--" and 70 boundary bytes.
const holdCap = 2 + maxBoundaryLen

// classifyLine compares the start of a body line with the dash-boundary
// dash ("--" + boundary). isDelim says the line starts with dash: a reader
// following RFC 2046's note to implementors takes it for a delimiter
// whatever follows (mime/multipart reads "--b--x" as a close delimiter), so
// the writer refuses it, although this package's decoder, reading
// tolerantly, would not. maybe says whether more bytes could still make it
// one. It is a pure function of bytes, so each case is testable without a
// writer.
func classifyLine[D string | []byte](line []byte, dash D) (isDelim, maybe bool) {
	if len(line) < len(dash) {
		return false, string(line) == string(dash[:len(line)])
	}
	isDelim = string(line[:len(dash)]) == string(dash)
	return isDelim, isDelim
}

// delimiterLineIn returns the first line of op's header block that would
// start with an open dash-boundary, or "": a method, or a header name, such
// as "--b". Such a block is refused like such a body line, as a reader would
// end the part there. Only lines that start with "--" are looked at closely,
// so the common case costs a byte comparison per field.
func (e *Encoder) delimiterLineIn(op *Operation) string {
	if op.Message == Request && strings.HasPrefix(op.Method, "--") {
		if isDelim, _ := e.classify([]byte(op.Method)); isDelim {
			return op.Method
		}
	}
	for _, fs := range [][]Field{op.PartHeader, op.Header} {
		for _, f := range fs {
			if strings.HasPrefix(f.Name, "--") {
				name := appendCanonical(nil, f.Name)
				if isDelim, _ := e.classify(name); isDelim {
					return string(name)
				}
			}
		}
	}
	return ""
}

// classify is classifyLine against every open boundary.
func (e *Encoder) classify(line []byte) (isDelim, maybe bool) {
	isDelim, maybe = classifyLine(line, e.dash)
	if e.inCS && !isDelim {
		d, m := classifyLine(line, e.csDash)
		isDelim, maybe = d, maybe || m
	}
	return isDelim, maybe
}

// bodyWriter is the writer [Encoder.CreateOperation] returns. It is part of
// the Encoder and reused, so an operation costs no allocation.
type bodyWriter struct{ e *Encoder }

var (
	_ io.Writer     = (*bodyWriter)(nil)
	_ io.ReaderFrom = (*bodyWriter)(nil)
)

// Write writes p to the body. Lines that start with "-" at the start of a
// line are held back until they are known not to be delimiters.
func (bw *bodyWriter) Write(p []byte) (int, error) {
	e := bw.e
	if e.err != nil {
		return 0, e.err
	}
	if !e.bodyOpen {
		return 0, e.fail(&EncodeError{Part: e.parts - 1, Field: "body", Err: ErrEncoderState, Detail: "write to a finished part"})
	}
	start, i := 0, 0 // p[start:i] passes through when the next line is held
	for i < len(p) {
		if e.cand {
			c := p[i]
			if c == '\r' || c == '\n' {
				if isDelim, _ := e.classify(e.hold[:e.nhold]); isDelim {
					return i, e.delimiterInBody()
				}
				if err := e.release(); err != nil {
					return i, err
				}
				start = i
				i++
				continue
			}
			e.hold[e.nhold] = c
			e.nhold++
			i++
			isDelim, maybe := e.classify(e.hold[:e.nhold])
			if isDelim {
				return i - 1, e.delimiterInBody()
			}
			if !maybe {
				if err := e.release(); err != nil {
					return i, err
				}
				start = i
			}
			continue
		}
		// The first hyphen inline, as most bodies have none; lineDash
		// for the rest.
		j := bytes.IndexByte(p[i:], '-')
		if j < 0 {
			break
		}
		k := i + j
		if k == 0 && !e.lineStart || k > 0 && p[k-1] != '\n' && p[k-1] != '\r' {
			if k = lineDash(p, k+1, false); k < 0 {
				break
			}
		}
		if err := e.write(p[start:k]); err != nil {
			return k, err
		}
		e.cand, e.hold[0], e.nhold = true, '-', 1
		i = k + 1
		start = i
	}
	if !e.cand {
		if err := e.write(p[start:]); err != nil {
			return start, err
		}
	}
	if len(p) > 0 {
		e.lineStart = p[len(p)-1] == '\n' || p[len(p)-1] == '\r'
	}
	return len(p), nil
}

// lineDash returns the index of the first "-" in p[i:] that starts a line,
// or -1: one after CR or LF, or at 0 if start says p begins a line. It
// looks for hyphens first, as most bodies have few and IndexByte is the
// fastest scan there is; after denseDashes hyphens inside lines (GUIDs,
// dates, negative numbers) it looks for the two bytes of a line break and
// a hyphen instead, so that such a body costs two fast scans, not a call
// per hyphen.
func lineDash(p []byte, i int, start bool) int {
	for misses := 0; i < len(p); misses++ {
		if misses == denseDashes {
			q := p[i-1:] // i > 0: a hyphen was passed
			m := bytes.Index(q, []byte("\n-"))
			lim := len(q)
			if m >= 0 {
				lim = m
			}
			if c := bytes.Index(q[:lim], []byte("\r-")); c >= 0 {
				m = c
			}
			if m < 0 {
				return -1
			}
			return i + m
		}
		j := bytes.IndexByte(p[i:], '-')
		if j < 0 {
			return -1
		}
		k := i + j
		if k == 0 && start || k > 0 && (p[k-1] == '\n' || p[k-1] == '\r') {
			return k
		}
		i = k + 1
	}
	return -1
}

// denseDashes is how many hyphens inside lines lineDash passes one by one.
const denseDashes = 8

// ReadFrom copies r into the body through a buffer the encoder reuses. A
// read error is sticky (see [Encoder.WriteOperation]).
func (bw *bodyWriter) ReadFrom(r io.Reader) (int64, error) {
	e := bw.e
	if e.copyBuf == nil {
		e.copyBuf = make([]byte, 32<<10)
	}
	var n int64
	for {
		m, rerr := r.Read(e.copyBuf)
		if m > 0 {
			if _, err := bw.Write(e.copyBuf[:m]); err != nil {
				return n, err
			}
			n += int64(m)
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, e.fail(rerr)
		}
	}
}

// release writes the held line start: it is not a delimiter.
func (e *Encoder) release() error {
	e.cand = false
	return e.write(e.hold[:e.nhold])
}

// finishBody ends the open body, if any. A held last line that would be a
// delimiter once the next delimiter's CRLF follows it is refused; any other
// held bytes go ahead of the next header block. It also returns the sticky
// error.
func (e *Encoder) finishBody() error {
	if e.err != nil {
		return e.err
	}
	if !e.bodyOpen {
		return nil
	}
	e.bodyOpen = false
	if e.cand {
		if isDelim, _ := e.classify(e.hold[:e.nhold]); isDelim {
			return e.delimiterInBody()
		}
		e.cand = false
		e.buf = append(e.buf, e.hold[:e.nhold]...)
	}
	return nil
}

// delimiterInBody fails with the error for a body line that reads as a
// delimiter.
func (e *Encoder) delimiterInBody() error {
	return e.fail(&EncodeError{Part: e.parts - 1, Field: "body", Err: ErrUnsafe,
		Detail: "a line would be read as a delimiter: " + quote(string(e.hold[:e.nhold]))})
}
