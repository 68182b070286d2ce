package batch

import (
	"io"
	"slices"
	"strconv"
	"strings"
)

// This file holds the encoder's output plumbing, its validation and its
// header writing.

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
// returns nil or an *EncodeError without its Part. [Encoder.CreateOperation]
// checks op as it appends it (appendOperation) and calls this only to word
// the error; both use the checks of encoder_check.go.
func validateOperation(op *Operation) *EncodeError {
	switch op.Message {
	case Request:
		if !validToken(op.Method) {
			return fieldError("Method", op.Method, "not an RFC 9110 token")
		}
		if op.Target == "" {
			return &EncodeError{Field: "Target", Err: ErrInvalidOperation, Detail: "empty"}
		}
		if !validTarget(op.Target) {
			return fieldError("Target", op.Target, "contains a space or control byte")
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
//
// It looks at v byte by byte, which keeps it small enough to be inlined:
// Validate, which batchhttp's Handler calls on every Content-ID it will
// echo, costs no call for it. appendOperation checks values a word at a
// time instead (appendValue), by the same rule.
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

// operationError returns the error for an operation appendOperation
// refused, worded by validateOperation and delimiterLineIn.
func (e *Encoder) operationError(op *Operation) *EncodeError {
	if err := validateOperation(op); err != nil {
		err.Part = e.parts
		return err
	}
	if line := e.delimiterLineIn(op); line != "" {
		return &EncodeError{Part: e.parts, Field: "Operation", Err: ErrUnsafe,
			Detail: "a start or header line would be read as a delimiter: " + quote(line)}
	}
	// Not reached: appendOperation refuses what these refuse, and only
	// that (TestAppendOperationAgrees). Should they ever disagree, the
	// encoder refuses rather than write what it has not checked.
	return &EncodeError{Part: e.parts, Field: "Operation", Err: ErrInvalidOperation, Detail: "refused by the encoder's check"}
}

// appendOpHead appends what precedes an operation's Content-ID in a batch
// or changeset with the given boundary: the delimiter line, with the CRLF
// that belongs to it, and the part headers the dialect writes for every
// operation (opPartHead), so that appendOperation writes them with one
// copy.
func (d Dialect) appendOpHead(b []byte, boundary string) []byte {
	b = slices.Grow(b, 6+len(boundary)+len(d.opPartHead()))
	b = append(b, "\r\n--"...)
	b = append(b, boundary...)
	b = append(b, crlf...)
	return append(b, d.opPartHead()...)
}

// opPartHead returns the part headers the dialect writes first for every
// operation; UCWA's Content-Type depends on the message, so it has none.
func (d Dialect) opPartHead() string {
	if d == UCWA {
		return ""
	}
	return "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
}

// appendOperation appends an operation's part: its delimiter line, MIME
// part headers, the blank line, its start line, its embedded headers and
// the blank line that ends them. It checks op as it goes, one pass over
// each string, and reports false, with b holding a partial block, where
// validateOperation or delimiterLineIn would refuse op; it changes no
// state of e, so that a refused operation leaves the encoder as it was
// but for the sticky error.
func (e *Encoder) appendOperation(b []byte, op *Operation) ([]byte, bool) {
	// The first part has no CRLF before its delimiter: there is no
	// preamble.
	if e.inCS {
		head := e.csOpHead
		if e.csOps == 0 {
			head = head[2:]
		}
		b = append(b, head...)
	} else {
		head := e.opHead
		if e.top == 0 {
			head = head[2:]
		}
		b = append(b, head...)
	}
	if e.opt.dialect == UCWA {
		if op.Message == Request {
			b = append(b, "Content-Type: application/http; msgtype=request\r\n"...)
		} else {
			b = append(b, "Content-Type: application/http; msgtype=response\r\n"...)
		}
	}
	if op.ContentID != "" {
		b = append(b, "Content-ID: "...)
		var ok bool
		if b, ok = appendValue(b, op.ContentID); !ok {
			return b, false
		}
		b = append(b, crlf...)
	}
	for i := range op.PartHeader {
		f := &op.PartHeader[i]
		if skipPartField(f.Name, false) {
			if checkValue(f.Value) != "" { // a name of the encoder's own is a token
				return b, false
			}
			continue
		}
		var ok bool
		if b, ok = e.appendField(b, f); !ok {
			return b, false
		}
	}
	b = append(b, crlf...)
	switch op.Message {
	case Request:
		if !validMethod(op.Method) {
			return b, false
		}
		if op.Method[0] == '-' {
			if isDelim, _ := e.classify([]byte(op.Method)); isDelim {
				return b, false
			}
		}
		b = append(b, op.Method...)
		b = append(b, ' ')
		var ok bool
		if b, ok = appendTarget(b, op.Target); !ok {
			return b, false
		}
		b = append(b, " HTTP/1.1\r\n"...)
	case Response:
		code := op.StatusCode
		if code < 100 || code > 999 {
			return b, false
		}
		b = append(b, "HTTP/1.1 000 "...)
		digits := b[len(b)-4 : len(b)-1]
		digits[0], digits[1], digits[2] = byte('0'+code/100), byte('0'+code/10%10), byte('0'+code%10)
		if op.Reason == "" {
			b = append(b, statusText(code)...)
		} else {
			var ok bool
			if b, ok = appendValue(b, op.Reason); !ok {
				return b, false
			}
		}
		b = append(b, crlf...)
	default:
		return b, false
	}
	for i := range op.Header {
		var ok bool
		if b, ok = e.appendField(b, &op.Header[i]); !ok {
			return b, false
		}
	}
	return append(b, crlf...), true
}

// appendField appends "Name: value\r\n" with the name in canonical form,
// and reports false, having appended part of it, if the name is not a
// token, the value not a field value (checkValue), or the line would start
// with an open dash-boundary.
func (e *Encoder) appendField(b []byte, f *Field) ([]byte, bool) {
	name := f.Name
	b, ok := appendName(b, name)
	if !ok {
		return b, false
	}
	if name[0] == '-' {
		if isDelim, _ := e.classify(b[len(b)-len(name):]); isDelim {
			return b, false
		}
	}
	b = append(b, ": "...)
	if b, ok = appendValue(b, f.Value); !ok {
		return b, false
	}
	return append(b, crlf...), true
}

// skipPartField reports whether a part header field is one the encoder
// writes itself, and so skips: Content-Type, Content-Transfer-Encoding,
// Content-ID, and on a changeset part Content-Length. The length is looked
// at first, as most names are none of them.
func skipPartField(n string, changeset bool) bool {
	switch len(n) {
	case len("Content-Type"):
		return strings.EqualFold(n, "Content-Type")
	case len("Content-Transfer-Encoding"):
		return strings.EqualFold(n, "Content-Transfer-Encoding")
	case len("Content-ID"):
		return strings.EqualFold(n, "Content-ID")
	case len("Content-Length"):
		return changeset && strings.EqualFold(n, "Content-Length")
	}
	return false
}

// appendFields appends the MIME part header lines of a changeset, which
// validateFields has checked, skipping the fields the encoder writes
// itself.
func appendFields(b []byte, fs []Field) []byte {
	for i := range fs {
		if skipPartField(fs[i].Name, true) {
			continue
		}
		b = appendCanonical(b, fs[i].Name)
		b = append(b, ": "...)
		b = append(b, fs[i].Value...)
		b = append(b, crlf...)
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
