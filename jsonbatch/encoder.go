package jsonbatch

import (
	"encoding/base64"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/batchcodec/batch"
)

// Encoder writes a JSON batch document to an io.Writer, one request or
// response at a time: the document's opening, "requests" or "responses"
// and the array's bracket before the first item, each item as one Write,
// and the closing brackets on [Encoder.Close]. Members are written in a
// fixed order with "body" last: id, atomicityGroup, dependsOn, method, url,
// if, headers, body for a request; id, atomicityGroup, status, headers, body
// for a response.
//
// Each body is written as its Content-Type calls for ([BodyKindOf]): a JSON
// body as it is (it must be one JSON value; whitespace around it is
// dropped), text as a JSON string, anything else in base64url (OData) or
// base64 (Graph, see [WithDialect] and [WithBase64]).
//
// Nothing invalid is written: an [Operation] the encoder refuses fails with
// a [*batch.EncodeError] wrapping [batch.ErrInvalidOperation], before any of
// it reaches the writer; a call out of order with [batch.ErrEncoderState].
// Errors are sticky: after the first failure, every method returns that
// same error again. An Encoder is not safe for concurrent use.
type Encoder struct {
	w    io.Writer
	opts encodeOptions
	msg  batch.MessageKind
	buf  []byte
	n    int // items written
	err  error
	done bool
}

// NewEncoder returns an encoder writing a batch of requests (m is
// batch.Request) or responses (batch.Response) to w. With m zero, the first
// operation written decides (a converter learns the kind only from it); a
// batch closed without one is an empty batch of requests.
func NewEncoder(w io.Writer, m batch.MessageKind, opts ...EncodeOption) (*Encoder, error) {
	if m != 0 && m != batch.Request && m != batch.Response {
		return nil, &batch.EncodeError{Part: -1, Field: "Message", Err: batch.ErrInvalidOperation, Detail: "neither request nor response"}
	}
	e := &Encoder{w: w, msg: m}
	for _, f := range opts {
		if f != nil {
			f(&e.opts)
		}
	}
	if e.opts.b64 == nil {
		e.opts.b64 = base64.URLEncoding
		if e.opts.dialect == Graph {
			e.opts.b64 = base64.StdEncoding
		}
	}
	return e, nil
}

// Err returns the sticky error, nil if there is none.
func (e *Encoder) Err() error { return e.err }

// WriteOperation writes one request or response. An op whose Message is
// zero takes the encoder's; one of the other kind is refused.
func (e *Encoder) WriteOperation(op *Operation) error {
	if e.err != nil {
		return e.err
	}
	if e.done {
		return e.fail(&batch.EncodeError{Part: e.n, Field: "WriteOperation", Err: batch.ErrEncoderState, Detail: "after Close"})
	}
	e.buf = e.buf[:0]
	undecided := false // the kind is taken from op, and given back if op is refused
	if e.n == 0 {
		if e.msg == 0 {
			if op.Message != batch.Request && op.Message != batch.Response {
				return e.invalid("Message", "the first operation of an encoder without a kind must say request or response")
			}
			e.msg, undecided = op.Message, true
		}
		e.buf = e.open(e.buf)
	} else {
		e.buf = append(e.buf, ',')
	}
	buf, err := e.appendItem(e.buf, op)
	if err != nil {
		// Nothing was written: the error is not sticky, the batch can go
		// on without this item.
		if undecided {
			e.msg = 0
		}
		return err
	}
	e.buf = buf
	e.n++
	return e.write(e.buf)
}

// Close finishes the document. It does not close the underlying writer.
func (e *Encoder) Close() error {
	if e.err != nil {
		return e.err
	}
	if e.done {
		return nil
	}
	e.done = true
	e.buf = e.buf[:0]
	if e.n == 0 {
		if e.msg == 0 {
			e.msg = batch.Request
		}
		e.buf = e.open(e.buf)
	}
	e.buf = append(e.buf, "]}"...)
	return e.write(e.buf)
}

func (e *Encoder) open(b []byte) []byte {
	if e.msg == batch.Request {
		return append(b, `{"requests":[`...)
	}
	return append(b, `{"responses":[`...)
}

func (e *Encoder) write(b []byte) error {
	n, err := e.w.Write(b)
	if err == nil && n != len(b) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return e.fail(err)
	}
	return nil
}

func (e *Encoder) fail(err error) error {
	e.err = err
	return err
}

func (e *Encoder) invalid(field, detail string) error {
	return &batch.EncodeError{Part: e.n, Field: field, Err: batch.ErrInvalidOperation, Detail: detail}
}

// appendItem appends op as one item object, or fails without side effects.
func (e *Encoder) appendItem(b []byte, op *Operation) ([]byte, error) {
	if op.Message != 0 && op.Message != e.msg {
		return nil, &batch.EncodeError{Part: e.n, Field: "Message", Err: batch.ErrEncoderState, Detail: op.Message.String() + " in a batch of " + e.msg.String() + "s"}
	}
	if op.ID == "" {
		return nil, e.invalid("ID", "empty")
	}
	if err := e.checkStrings(op); err != nil {
		return nil, err
	}
	b = append(b, `{"id":`...)
	b = appendString(b, op.ID)
	if op.AtomicityGroup != "" {
		b = append(b, `,"atomicityGroup":`...)
		b = appendString(b, op.AtomicityGroup)
	}
	if e.msg == batch.Request {
		if !validMethod(op.Method) {
			return nil, e.invalid("Method", strconv.Quote(op.Method)+" is not a token")
		}
		if op.URL == "" {
			return nil, e.invalid("URL", "empty")
		}
		if len(op.DependsOn) > 0 {
			b = append(b, `,"dependsOn":[`...)
			for i, s := range op.DependsOn {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendString(b, s)
			}
			b = append(b, ']')
		}
		b = append(b, `,"method":`...)
		b = appendString(b, op.Method)
		b = append(b, `,"url":`...)
		b = appendString(b, op.URL)
		if op.If != "" {
			b = append(b, `,"if":`...)
			b = appendString(b, op.If)
		}
	} else {
		if op.Status < 100 || op.Status > 999 {
			return nil, e.invalid("Status", strconv.Itoa(op.Status)+" is not from 100 to 999")
		}
		b = append(b, `,"status":`...)
		b = strconv.AppendInt(b, int64(op.Status), 10)
	}
	if len(op.Header) > 0 {
		b = append(b, `,"headers":{`...)
		for i, f := range op.Header {
			if f.Name == "" {
				return nil, e.invalid("Header["+strconv.Itoa(i)+"].Name", "empty")
			}
			if i > 0 {
				b = append(b, ',')
			}
			if e.opts.dialect == OData {
				b = appendLowerString(b, f.Name)
			} else {
				b = appendString(b, f.Name)
			}
			b = append(b, ':')
			b = appendString(b, f.Value)
		}
		b = append(b, '}')
	}
	if op.Body != nil {
		b = append(b, `,"body":`...)
		var err error
		if b, err = e.appendBody(b, op); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// checkStrings refuses strings that are not UTF-8: a JSON document is
// (RFC 8259 §8.1), and the decoder reads nothing else.
func (e *Encoder) checkStrings(op *Operation) error {
	for _, s := range [...]struct{ field, v string }{
		{"ID", op.ID}, {"Method", op.Method}, {"URL", op.URL}, {"If", op.If}, {"AtomicityGroup", op.AtomicityGroup},
	} {
		if !utf8.ValidString(s.v) {
			return e.invalid(s.field, "not UTF-8")
		}
	}
	for i, s := range op.DependsOn {
		if !utf8.ValidString(s) {
			return e.invalid("DependsOn["+strconv.Itoa(i)+"]", "not UTF-8")
		}
	}
	for i, f := range op.Header {
		if !utf8.ValidString(f.Name) || !utf8.ValidString(f.Value) {
			return e.invalid("Header["+strconv.Itoa(i)+"]", "not UTF-8")
		}
	}
	return nil
}

func (e *Encoder) appendBody(b []byte, op *Operation) ([]byte, error) {
	switch BodyKindOf([]byte(op.ContentType())) {
	case JSONBody:
		v := trimSpace(op.Body)
		p := parser{b: v, maxDepth: maxMaxDepth}
		// A number needs a byte after it to end; the parser gets a space.
		if len(v) > 0 && v[len(v)-1] >= '0' && v[len(v)-1] <= '9' {
			p.b = append(append(make([]byte, 0, len(v)+1), v...), ' ')
		}
		if !p.value() || p.i != len(v) {
			detail := "not one JSON value (a body without a Content-Type is JSON)"
			if p.err != nil && p.err != errNeedMore {
				detail += ": " + p.detail + " at offset " + strconv.Itoa(p.off)
			}
			return nil, e.invalid("Body", detail)
		}
		if string(v) == "null" {
			return nil, e.invalid("Body", "null cannot be told from no body")
		}
		return append(b, v...), nil
	case TextBody:
		if !utf8.Valid(op.Body) {
			return nil, e.invalid("Body", "text body is not UTF-8")
		}
		return appendString(b, string(op.Body)), nil
	}
	enc := e.opts.b64
	b = append(b, '"')
	n := len(b)
	b = append(b, make([]byte, enc.EncodedLen(len(op.Body)))...)
	enc.Encode(b[n:], op.Body)
	return append(b, '"'), nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// validMethod reports whether m is an RFC 9110 token.
func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if c <= ' ' || c >= 0x7f || c == '(' || c == ')' || c == '<' || c == '>' || c == '@' || c == ',' ||
			c == ';' || c == ':' || c == '\\' || c == '"' || c == '/' || c == '[' || c == ']' || c == '?' ||
			c == '=' || c == '{' || c == '}' {
			return false
		}
	}
	return true
}
