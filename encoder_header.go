package batch

import (
	"bytes"
	"io"
	"strconv"
	"strings"
)

// This file holds the encoder's output plumbing, its validation, its header
// writing, and the body writer with its streaming delimiter check.

const crlf = "\r\n"

// appendDelimiter appends the delimiter line of the next part at the
// current depth: the CRLF that belongs to the delimiter (none before the
// first part: no preamble), "--", the boundary, CRLF.
func (e *Encoder) appendDelimiter(b []byte) []byte {
	if e.inCS {
		if e.csOps > 0 {
			b = append(b, crlf...)
		}
		b = append(b, e.csDash...)
	} else {
		if e.top > 0 {
			b = append(b, crlf...)
		}
		e.top++
		b = append(b, e.dash...)
	}
	return append(b, crlf...)
}

// appendChangesetTail appends the dialect's last changeset part header and
// the blank line.
func (e *Encoder) appendChangesetTail(b []byte) []byte {
	if e.opt.dialect == SharePoint {
		b = append(b, "Content-Transfer-Encoding: binary\r\n"...)
	}
	return append(b, crlf...)
}

// flush writes the pending bytes in e.buf, then empties it.
func (e *Encoder) flush() error {
	err := e.write(e.buf)
	e.buf = e.buf[:0]
	return err
}

// write sends p to the writer, or to the changeset buffer with
// [ChangesetContentLength]. A short write is io.ErrShortWrite.
func (e *Encoder) write(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	if e.buffering {
		if len(p) > e.opt.csMax-len(e.csBuf) {
			return e.fail(&EncodeError{Part: e.csPart, Field: "changeset", Err: ErrChangesetTooLarge,
				Detail: "more than " + strconv.Itoa(e.opt.csMax) + " bytes"})
		}
		e.csBuf = append(e.csBuf, p...)
		return nil
	}
	n, err := e.w.Write(p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return e.fail(err)
	}
	return nil
}

// fail records err as the sticky error, unless there is one already, and
// returns the sticky error.
func (e *Encoder) fail(err error) error {
	if e.err == nil {
		e.err = err
	}
	return e.err
}

// Validate reports whether the encoder would write op, without writing
// anything: the checks [Encoder.CreateOperation] makes of the start line,
// the Content-ID and the header fields (not the delimiter check, which
// depends on the batch's boundaries). It returns nil or an [*EncodeError]
// whose Part is -1, wrapping [ErrInvalidOperation] or [ErrUnsafe]. A server
// uses it to decide, before it commits a changeset, that every answer in it
// can be written.
func (op *Operation) Validate() error {
	if err := validateOperation(op); err != nil {
		err.Part = -1
		return err
	}
	return nil
}

// validateOperation checks everything of op that the encoder writes. It
// returns nil or an *EncodeError without its Part.
func validateOperation(op *Operation) *EncodeError {
	switch op.Message {
	case Request:
		if !validToken(op.Method) {
			return fieldError("Method", op.Method, "not an RFC 9110 token")
		}
		if op.Target == "" {
			return &EncodeError{Field: "Target", Err: ErrInvalidOperation, Detail: "empty"}
		}
		for i := 0; i < len(op.Target); i++ {
			if c := op.Target[i]; c <= ' ' || c == 0x7f {
				return fieldError("Target", op.Target, "contains a space or control byte")
			}
		}
	case Response:
		if op.StatusCode < 100 || op.StatusCode > 999 {
			return &EncodeError{Field: "StatusCode", Err: ErrInvalidOperation,
				Detail: strconv.Itoa(op.StatusCode) + " is not a three-digit status code"}
		}
		// A reader trims the reason as it trims a header value, so the
		// same rule keeps decode(encode(op)) equal to op.
		if problem := checkValue(op.Reason); problem != "" {
			return fieldError("Reason", op.Reason, problem)
		}
	default:
		return &EncodeError{Field: "Message", Err: ErrInvalidOperation,
			Detail: "kind " + strconv.Itoa(int(op.Message)) + " is neither Request nor Response"}
	}
	if op.ContentID != "" {
		if problem := checkValue(op.ContentID); problem != "" {
			return fieldError("ContentID", op.ContentID, problem)
		}
	}
	if err := validateFields(op.PartHeader, "PartHeader"); err != nil {
		return err
	}
	return validateFields(op.Header, "Header")
}

// validateFields checks that every name is a token and every value a valid
// field value (see checkValue). what names the slice in the error.
func validateFields(fs []Field, what string) *EncodeError {
	for i := range fs {
		if !validToken(fs[i].Name) {
			err := fieldError("", fs[i].Name, "not an RFC 9110 token")
			err.Field = what + "[" + strconv.Itoa(i) + "].Name"
			return err
		}
		if problem := checkValue(fs[i].Value); problem != "" {
			err := fieldError("", fs[i].Value, problem)
			err.Field = what + "[" + strconv.Itoa(i) + "].Value"
			return err
		}
	}
	return nil
}

// fieldError returns the error for a bad value of field: ErrUnsafe if it
// holds CR, LF or NUL (what header injection needs), ErrInvalidOperation
// otherwise.
func fieldError(field, value, problem string) *EncodeError {
	err := ErrInvalidOperation
	for i := 0; i < len(value); i++ {
		if c := value[i]; c == '\r' || c == '\n' || c == 0 {
			err, problem = ErrUnsafe, "contains CR, LF or NUL"
			break
		}
	}
	return &EncodeError{Field: field, Err: err, Detail: problem + ": " + quote(value)}
}

// checkValue returns "" if v may be written as a field value: RFC 9110's
// field-value, which excludes control bytes other than HTAB, without the
// leading or trailing whitespace a reader would strip as OWS. It returns the
// problem otherwise.
func checkValue(v string) string {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return "contains a control byte"
		}
	}
	if v != "" && (isSpace(v[0]) || isSpace(v[len(v)-1])) {
		return "has leading or trailing whitespace"
	}
	return ""
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' }

// validToken reports whether s is an RFC 9110 token:
//
//	token = 1*tchar
//	tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
//	        "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// appendOperation appends an operation's MIME part headers, the blank line,
// its start line, its embedded headers and the blank line that ends them.
// op has been validated.
func (e *Encoder) appendOperation(b []byte, op *Operation) []byte {
	b = append(b, "Content-Type: application/http"...)
	if e.opt.dialect == UCWA {
		if op.Message == Request {
			b = append(b, "; msgtype=request"...)
		} else {
			b = append(b, "; msgtype=response"...)
		}
		b = append(b, crlf...)
	} else {
		b = append(b, "\r\nContent-Transfer-Encoding: binary\r\n"...)
	}
	if op.ContentID != "" {
		b = append(b, "Content-ID: "...)
		b = append(b, op.ContentID...)
		b = append(b, crlf...)
	}
	b = appendFields(b, op.PartHeader, false)
	b = append(b, crlf...)
	if op.Message == Request {
		b = append(b, op.Method...)
		b = append(b, ' ')
		b = append(b, op.Target...)
		b = append(b, " HTTP/1.1\r\n"...)
	} else {
		reason := op.Reason
		if reason == "" {
			reason = statusText(op.StatusCode)
		}
		b = append(b, "HTTP/1.1 "...)
		b = strconv.AppendInt(b, int64(op.StatusCode), 10)
		b = append(b, ' ')
		b = append(b, reason...)
		b = append(b, crlf...)
	}
	for i := range op.Header {
		b = appendField(b, op.Header[i])
	}
	return append(b, crlf...)
}

// appendFields appends MIME part header lines, skipping the fields the
// encoder writes itself (and Content-Length on a changeset part).
func appendFields(b []byte, fs []Field, changeset bool) []byte {
	for i := range fs {
		n := fs[i].Name
		if strings.EqualFold(n, "Content-Type") || strings.EqualFold(n, "Content-Transfer-Encoding") ||
			strings.EqualFold(n, "Content-ID") || (changeset && strings.EqualFold(n, "Content-Length")) {
			continue
		}
		b = appendField(b, fs[i])
	}
	return b
}

// appendField appends "Name: value\r\n" with the name in canonical form, as
// textproto.CanonicalMIMEHeaderKey would give it but without allocating:
// the first letter and each letter after a hyphen upper case, the others
// lower case.
func appendField(b []byte, f Field) []byte {
	b = appendCanonical(b, f.Name)
	b = append(b, ": "...)
	b = append(b, f.Value...)
	return append(b, crlf...)
}

// appendCanonical appends name in canonical form: the first letter and each
// letter after a hyphen upper case, the others lower case.
func appendCanonical(b []byte, name string) []byte {
	upper := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		} else if !upper && 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
		upper = c == '-'
	}
	return b
}

// appendParam appends a boundary parameter value, quoted only where RFC
// 2045 requires it (see needsQuotes).
func appendParam(b []byte, boundary string) []byte {
	if needsQuotes(boundary) {
		b = append(b, '"')
		b = append(b, boundary...)
		return append(b, '"')
	}
	return append(b, boundary...)
}

// confusable reports whether the lines of one boundary could be taken for
// the other's: one boundary is a prefix of the other ("b" and "b2"). RFC
// 2046 tells implementors that a boundary match need only be the start of a
// line ("it is sufficient that the boundary appear in its entirety following
// the CRLF"), and readers do so, so such a pair is refused.
func confusable(a, b string) bool {
	return strings.HasPrefix(a, b) || strings.HasPrefix(b, a)
}

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
func classifyLine(line []byte, dash string) (isDelim, maybe bool) {
	if len(line) < len(dash) {
		return false, string(line) == dash[:len(line)]
	}
	isDelim = string(line[:len(dash)]) == dash
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
		j := bytes.IndexByte(p[i:], '-')
		if j < 0 {
			break
		}
		k := i + j
		atStart := e.lineStart
		if k > 0 {
			atStart = p[k-1] == '\n' || p[k-1] == '\r'
		}
		i = k + 1
		if !atStart {
			continue
		}
		if err := e.write(p[start:k]); err != nil {
			return k, err
		}
		e.cand, e.hold[0], e.nhold = true, '-', 1
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
