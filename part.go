package batch

import (
	"io"
	"strconv"
)

// Kind says what a [Part] returned by [Decoder.Next] stands for.
//
// A batch is a flat stream of parts in document order: operations, and the
// start and end of each changeset around the operations it holds. This is the
// event model of OData.net's ODataBatchReader without its ceremony; a caller
// that does not care about changesets simply skips their start and end.
type Kind uint8

const (
	// KindOperation is an application/http part: one embedded HTTP/1.1 request
	// or response. Its body is read from the Part.
	KindOperation Kind = iota + 1
	// KindChangesetStart is a multipart/* part (an OData changeset). The parts
	// that follow, up to the matching KindChangesetEnd, are inside it.
	KindChangesetStart
	// KindChangesetEnd closes the changeset opened by the KindChangesetStart of the
	// same Depth. It is reported for unclosed changesets too (a parent's
	// delimiter ending the changeset), with [DevUnclosedChangeset] set.
	KindChangesetEnd
	// KindOther is a part that is neither application/http nor multipart/*,
	// including a part without a Content-Type. Its body is readable, raw;
	// nothing in it is parsed.
	KindOther
)

// String returns the name of k.
func (k Kind) String() string {
	switch k {
	case KindOperation:
		return "operation"
	case KindChangesetStart:
		return "changeset-start"
	case KindChangesetEnd:
		return "changeset-end"
	case KindOther:
		return "other"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// MessageKind says whether an operation embeds an HTTP request or response.
type MessageKind uint8

const (
	// Request is an embedded HTTP request: method, target, protocol.
	Request MessageKind = iota + 1
	// Response is an embedded HTTP response: protocol, status, reason.
	Response
)

// String returns "request", "response", or "" for the zero value.
func (m MessageKind) String() string {
	switch m {
	case Request:
		return "request"
	case Response:
		return "response"
	}
	return ""
}

// Field is one header line with its name and value as owned strings. The
// decoder never canonicalises names; the encoder writes names in canonical
// form (see [Encoder]).
type Field struct {
	Name, Value string
}

// Operation describes one embedded HTTP message without its body, with owned
// strings. The encoder writes it ([Encoder.CreateOperation]); the decoder
// copies a part out into it ([Part.Operation]) for callers who keep
// operations beyond the next call to [Decoder.Next].
type Operation struct {
	// Message says whether this is a request or a response.
	Message MessageKind

	// ContentID is the Content-ID of the operation: the MIME part header,
	// or else the embedded HTTP header of that name (Cosmos puts it
	// there).
	// Empty when there is none.
	ContentID string

	// Method and Target are the request line's method and request target,
	// absolute ("https://host/path"), host-relative ("/path") or
	// batch-relative ("path"), as written. Empty for responses.
	Method, Target string

	// StatusCode and Reason are the status line's code and reason phrase.
	// Zero and empty for requests.
	StatusCode int
	Reason     string

	// Proto is the protocol of the start line as read ("HTTP/1.1",
	// sometimes "HTTP/2.0"). The encoder ignores it and writes HTTP/1.1.
	Proto string

	// PartHeader holds the MIME part headers other than those the codec
	// owns (Content-Type, Content-Transfer-Encoding, Content-ID) when
	// encoding; the decoder fills it with every MIME part header, in order.
	PartHeader []Field

	// Header holds the embedded HTTP headers, in order, as read. The
	// encoder writes them with canonical names, in this order.
	Header []Field
}

// RawField is one header line as zero-copy views: the name as it appeared
// (no case folding) and the value with the surrounding spaces and tabs
// trimmed. The slices are only valid until the next call to Next, and must
// not be modified.
type RawField struct {
	Name, Value []byte
}

// Header is a zero-copy header block: the fields in the order they appeared.
// Lookups fold ASCII case, as header names are case-insensitive (SharePoint
// answers CONTENT-TYPE: and ETAG:). Its slices are only valid until the next
// call to Next, and must not be modified.
type Header []RawField

// Get returns the value of the first field named name (ASCII case-folded),
// or nil if there is none. The returned slice is only valid until the next
// call to Next, and must not be modified.
func (h Header) Get(name string) []byte {
	v, _ := h.Lookup(name)
	return v
}

// Lookup is like Get but also reports whether the field is present, so an
// empty value can be told from a missing field (an empty Content-ID is not
// the same as none).
func (h Header) Lookup(name string) ([]byte, bool) {
	for i := range h {
		if equalFold(h[i].Name, name) {
			return h[i].Value, true
		}
	}
	return nil, false
}

// Fields copies h out into owned strings, names and values as read.
func (h Header) Fields() []Field {
	if len(h) == 0 {
		return nil
	}
	out := make([]Field, len(h))
	for i, f := range h {
		out[i] = Field{Name: string(f.Name), Value: string(f.Value)}
	}
	return out
}

// equalFold reports whether b equals s under ASCII case folding.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c, d := b[i], s[i]
		if c == d {
			continue
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if 'A' <= d && d <= 'Z' {
			d += 'a' - 'A'
		}
		if c != d {
			return false
		}
	}
	return true
}

// Part is one item of the batch stream returned by [Decoder.Next]: an
// operation, the start or end of a changeset, or another MIME part.
//
// A Part is an [io.Reader] over its body, which streams up to the next
// delimiter and never includes the line break that belongs to that
// delimiter. The body is read from the decoder's buffer: reading it allocates
// nothing and holds no more than the buffer in memory. A truncated body ends
// in an error matching [ErrTruncated], never in io.EOF.
//
// A Part is owned by its Decoder and reused: it and every slice it returns
// are only valid until the next call to Next. Any remaining data in the
// current part is automatically discarded by the next call to Next. Use
// [Part.Operation] to keep a copy.
type Part struct {
	d *Decoder

	kind     Kind
	msg      MessageKind
	depth    int
	index    int
	offset   int64
	dev      Deviation
	status   int
	clen     int64  // declared embedded Content-Length, -1 if none
	boundary []byte // changeset boundary (start/end), or enclosing changeset (operations)
	header   Header // MIME part headers
	embedded Header // embedded HTTP headers
	pviews   bool   // header is built (Decoder.partViews)
	eviews   bool   // embedded is built (Decoder.embeddedViews)
}

var (
	_ io.Reader   = (*Part)(nil)
	_ io.WriterTo = (*Part)(nil)
)

// Kind says what the part stands for.
func (p *Part) Kind() Kind { return p.kind }

// Message says whether an operation embeds a request or a response: from the
// msgtype parameter of its Content-Type, else from its first line
// (a part without msgtype is a request or a response by its start line).
// Zero for parts other than operations.
func (p *Part) Message() MessageKind { return p.msg }

// Depth is the number of changesets around the part: 0 for top-level parts
// (a changeset's own start and end included), 1 for operations inside a
// changeset.
func (p *Part) Depth() int { return p.depth }

// Index is the 0-based index of the MIME part in document order, counting
// operations, changesets and other parts alike, at every depth. A
// ChangesetEnd carries the index of its ChangesetStart. Errors carry the same
// index ([SyntaxError.Part]).
func (p *Part) Index() int { return p.index }

// Offset is the byte offset in the input of the delimiter line that opened
// the part (for a ChangesetEnd, of the line that closed it).
func (p *Part) Offset() int64 { return p.offset }

// Deviations reports the tolerated departures from RFC 2046 and RFC 9112 seen
// in this part so far. The body-length check ([DevContentLength]) is added
// once the body has been read or skipped to its end. In strict mode
// ([Strict]) each of them is an error instead.
func (p *Part) Deviations() Deviation { return p.dev }

// Boundary is the changeset's boundary for ChangesetStart and ChangesetEnd
// parts, and the boundary of the enclosing changeset for parts inside one
// (nil at the top level). The returned slice is only valid until the next
// call to Next, and must not be modified.
func (p *Part) Boundary() []byte { return p.boundary }

// PartHeader returns the MIME part headers (Content-Type, Content-ID,
// Content-Transfer-Encoding and any others), as read: the headers of the
// MIME part, not of the HTTP message it embeds (see [Part.Header]). The
// returned slices are only valid until the next call to Next, and must not
// be modified.
func (p *Part) PartHeader() Header {
	if !p.pviews && p.d != nil {
		p.d.partViews()
	}
	return p.header
}

// Header returns the embedded HTTP headers of an operation, raw: nothing
// canonicalised or validated (servers send header names in any case and
// sometimes malformed lines, which the decoder reads and records as
// deviations). The names match [Operation]'s: PartHeader for the MIME part,
// Header for the HTTP message. The returned slices are only valid until the
// next call to Next, and must not be modified.
func (p *Part) Header() Header {
	if !p.eviews && p.d != nil {
		p.d.embeddedViews()
	}
	return p.embedded
}

// ContentID returns the operation's Content-ID: the MIME part header, or else
// the embedded header of that name, where Cosmos puts it; ok reports whether
// either was present, so that an empty Content-ID is told from none. The
// returned slice is only valid until the next call to Next, and must not be
// modified.
func (p *Part) ContentID() (id []byte, ok bool) {
	if p.d == nil || p.kind != KindOperation {
		return nil, false
	}
	return p.d.contentID()
}

// Method returns the request method of an embedded request, nil otherwise.
// The returned slice is only valid until the next call to Next, and must not
// be modified.
func (p *Part) Method() []byte { return p.startLine(Request, 0) }

// Target returns the request target of an embedded request as written, in
// absolute, host-relative or batch-relative form; nil otherwise. The returned slice is
// only valid until the next call to Next, and must not be modified.
func (p *Part) Target() []byte { return p.startLine(Request, 1) }

// Proto returns the protocol of the embedded start line as read, such as
// "HTTP/1.1". The returned slice is only valid until the next call to Next,
// and must not be modified.
func (p *Part) Proto() []byte {
	if p.msg == Request {
		return p.startLine(Request, 2)
	}
	return p.startLine(Response, 0)
}

// StatusCode returns the status code of an embedded response, 0 otherwise.
func (p *Part) StatusCode() int { return p.status }

// Reason returns the reason phrase of an embedded response, possibly empty.
// The returned slice is only valid until the next call to Next, and must not
// be modified.
func (p *Part) Reason() []byte { return p.startLine(Response, 2) }

// startLine returns the view of the i-th piece of the start line of an
// embedded message of kind msg, nil for any other part. The views are made
// on each call rather than when the part is read, as many callers never ask
// for some of them.
func (p *Part) startLine(msg MessageKind, i int) []byte {
	if p.d == nil || p.msg != msg || p.kind != KindOperation {
		return nil
	}
	return p.d.start[i].of(p.d.meta)
}

// ContentLength returns the embedded Content-Length as declared, or -1 when
// the operation declares none or an unparsable one. It is a hint only
// (clients miscount it): the body always runs to the delimiter.
func (p *Part) ContentLength() int64 { return p.clen }

// Operation copies the part's start line and headers out into an
// [Operation] that stays valid after the next call to Next. The body is not
// copied.
func (p *Part) Operation() Operation {
	op := Operation{
		Message:    p.msg,
		Method:     string(p.Method()),
		Target:     string(p.Target()),
		Proto:      string(p.Proto()),
		StatusCode: p.status,
		Reason:     string(p.Reason()),
		PartHeader: p.PartHeader().Fields(),
		Header:     p.Header().Fields(),
	}
	if id, ok := p.ContentID(); ok {
		op.ContentID = string(id)
	}
	return op
}

// Read reads the part's body. It returns io.EOF at the delimiter that ends
// the body, and an error matching [ErrTruncated] if the input ends first.
// ChangesetStart and ChangesetEnd parts have no body.
func (p *Part) Read(b []byte) (int, error) {
	if p.d == nil {
		return 0, io.EOF
	}
	return p.d.readBody(b)
}

// WriteTo writes the rest of the body to w straight from the decoder's
// buffer, without an intermediate copy; io.Copy uses it.
func (p *Part) WriteTo(w io.Writer) (int64, error) {
	if p.d == nil {
		return 0, nil
	}
	return p.d.writeBody(w)
}
