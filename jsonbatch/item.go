package jsonbatch

import (
	"bytes"
	"io"
	"strconv"

	"github.com/batchcodec/batch"
)

// BodyKind says how an item's body is written in the document, which its
// Content-Type decides (OData JSON Format 4.01 §19.1; WIRE.md "JSON batch").
type BodyKind uint8

const (
	// NoBody: the item has no "body" member, or its value is null.
	NoBody BodyKind = iota
	// JSONBody: the body is a JSON value, written as it is. The
	// Content-Type is application/json, a +json type, or absent; or the
	// value is not a string, whatever the Content-Type says.
	JSONBody
	// TextBody: the Content-Type is text/*; the body is a JSON string
	// holding the text.
	TextBody
	// BinaryBody: any other Content-Type; the body is a JSON string holding
	// the bytes in base64url (OData) or base64 (Graph).
	BinaryBody
)

// String returns the kind's name.
func (k BodyKind) String() string {
	switch k {
	case NoBody:
		return "none"
	case JSONBody:
		return "json"
	case TextBody:
		return "text"
	case BinaryBody:
		return "binary"
	}
	return "bodykind(" + strconv.Itoa(int(k)) + ")"
}

// BodyKindOf returns the kind of body a Content-Type value calls for:
// JSONBody for application/json, any type ending in +json, and an empty
// value (no Content-Type); TextBody for text/*; BinaryBody otherwise.
// Parameters are ignored and case is folded.
func BodyKindOf(contentType []byte) BodyKind {
	mt := contentType
	if i := bytes.IndexByte(mt, ';'); i >= 0 {
		mt = mt[:i]
	}
	mt = bytes.TrimSpace(mt)
	switch {
	case len(mt) == 0, equalFold(mt, "application/json"), hasSuffixFold(mt, "+json"):
		return JSONBody
	case len(mt) > 5 && equalFold(mt[:5], "text/"):
		return TextBody
	}
	return BinaryBody
}

func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

func hasSuffixFold(b []byte, s string) bool {
	return len(b) >= len(s) && equalFold(b[len(b)-len(s):], s)
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// Item is one request or response of a JSON batch, returned by
// [Decoder.Next]. It is an [io.Reader] over the decoded body (see
// [Item.Body]).
//
// An Item is owned by its Decoder and reused: it and every slice it returns
// are only valid until the next call to Next. Use [Item.Operation] to keep a
// copy.
type Item struct {
	msg       batch.MessageKind
	index     int
	offset    int64
	id        []byte
	method    []byte
	url       []byte
	ifx       []byte
	group     []byte
	status    int
	dependsOn [][]byte
	header    batch.Header
	kind      BodyKind
	raw       []byte
	body      []byte
	rd        int
}

var (
	_ io.Reader   = (*Item)(nil)
	_ io.WriterTo = (*Item)(nil)
)

// Message says whether the item is a request (from a "requests" array) or a
// response (from "responses").
func (it *Item) Message() batch.MessageKind { return it.msg }

// Index is the 0-based index of the item in the array. Errors carry the same
// index ([batch.SyntaxError.Part]).
func (it *Item) Index() int { return it.index }

// Offset is the byte offset in the input of the item's opening brace.
func (it *Item) Offset() int64 { return it.offset }

// ID returns the "id" member, which plays the part of a Content-ID. The
// returned slice is only valid until the next call to Next, and must not be
// modified.
func (it *Item) ID() []byte { return it.id }

// Method returns the request's "method" as written (any case), nil for a
// response. The returned slice is only valid until the next call to Next,
// and must not be modified.
func (it *Item) Method() []byte { return it.method }

// URL returns the request's "url" as written, possibly starting with
// "$<id>" (a reference to an earlier request); nil for a response. The
// returned slice is only valid until the next call to Next, and must not be
// modified.
func (it *Item) URL() []byte { return it.url }

// If returns the request's "if" member, nil when there is none. The
// returned slice is only valid until the next call to Next, and must not be
// modified.
func (it *Item) If() []byte { return it.ifx }

// AtomicityGroup returns the "atomicityGroup" member, nil when there is
// none. The returned slice is only valid until the next call to Next, and
// must not be modified.
func (it *Item) AtomicityGroup() []byte { return it.group }

// Status returns the response's "status", 0 for a request.
func (it *Item) Status() int { return it.status }

// DependsOn returns the request's "dependsOn" ids, in order. The returned
// slices are only valid until the next call to Next, and must not be
// modified.
func (it *Item) DependsOn() [][]byte { return it.dependsOn }

// Header returns the item's "headers" as a zero-copy header block, in
// document order, names as written; lookups fold case. The returned slices
// are only valid until the next call to Next, and must not be modified.
func (it *Item) Header() batch.Header { return it.header }

// BodyKind says how the body was written in the document.
func (it *Item) BodyKind() BodyKind { return it.kind }

// RawBody returns the "body" member's JSON value as written, quotes and
// escapes included; nil when there is no body. The returned slice is only
// valid until the next call to Next, and must not be modified.
func (it *Item) RawBody() []byte { return it.raw }

// Body returns the decoded body: the JSON value as written for a JSONBody,
// the unescaped string for a TextBody, the base64-decoded bytes for a
// BinaryBody; nil for NoBody. The returned slice is only valid until the
// next call to Next, and must not be modified.
func (it *Item) Body() []byte { return it.body }

// Read reads the decoded body (see [Item.Body]), then returns io.EOF.
func (it *Item) Read(p []byte) (int, error) {
	if it.rd >= len(it.body) {
		return 0, io.EOF
	}
	n := copy(p, it.body[it.rd:])
	it.rd += n
	return n, nil
}

// WriteTo writes the rest of the decoded body to w; io.Copy uses it.
func (it *Item) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(it.body[it.rd:])
	it.rd += n
	if err == nil && it.rd < len(it.body) {
		err = io.ErrShortWrite
	}
	return int64(n), err
}

// Operation copies the item out into an [Operation] that stays valid after
// the next call to Next, body included.
func (it *Item) Operation() Operation {
	op := Operation{
		Message:        it.msg,
		ID:             string(it.id),
		Method:         string(it.method),
		URL:            string(it.url),
		If:             string(it.ifx),
		AtomicityGroup: string(it.group),
		Status:         it.status,
		Header:         it.header.Fields(),
	}
	if len(it.dependsOn) > 0 {
		op.DependsOn = make([]string, len(it.dependsOn))
		for i, s := range it.dependsOn {
			op.DependsOn[i] = string(s)
		}
	}
	if it.kind != NoBody {
		op.Body = append([]byte{}, it.body...)
	}
	return op
}

// Operation is one request or response of a JSON batch with owned strings
// and body: what the [Encoder] writes, and what [Item.Operation] copies out.
type Operation struct {
	// Message says whether this is a request or a response.
	Message batch.MessageKind

	// ID is the "id" member, required in both.
	ID string

	// Method and URL are the request's; If is its optional "if" member.
	Method, URL, If string

	// Status is the response's status code.
	Status int

	// AtomicityGroup is the optional "atomicityGroup" member: requests of
	// one group succeed or fail together (an OData changeset).
	AtomicityGroup string

	// DependsOn lists the ids of requests or groups that must succeed
	// before this request runs.
	DependsOn []string

	// Header holds the "headers" member, in order. A Content-Type among
	// them decides how Body is written (see [BodyKindOf]).
	Header []batch.Field

	// Body is the decoded body: JSON text for a JSON body, the text for
	// text/*, the bytes otherwise. Nil means no body; an empty non-nil
	// slice is an empty body.
	Body []byte
}

// ContentType returns the value of the first Content-Type header (any
// case), or "".
func (op *Operation) ContentType() string {
	for _, f := range op.Header {
		if len(f.Name) == len("content-type") && equalFold([]byte(f.Name), "content-type") {
			return f.Value
		}
	}
	return ""
}
