package batch

import (
	"errors"
	"io"
	"strconv"
	"strings"
)

// Dialect selects the layout the [Encoder] writes, one per family of servers
// that read batches. The embedded HTTP messages are the same in every
// dialect; what differs is the outer media type, the MIME headers of each
// part, and whether changesets exist.
type Dialect uint8

const (
	// ODataV4 is the default: OData v4 as Outlook, Graph, SAP and Dynamics
	// read it. The outer type is multipart/mixed; each operation part is
	// "Content-Type: application/http" plus "Content-Transfer-Encoding:
	// binary"; a changeset part carries only its Content-Type.
	ODataV4 Dialect = iota
	// SharePoint is OData v3 as SharePoint documents it: like ODataV4, and a
	// changeset part also carries "Content-Transfer-Encoding: binary". Add
	// [ChangesetContentLength] for servers that want the changeset's length.
	SharePoint
	// UCWA is Skype UCWA 2.0 batching: the outer type is multipart/batching,
	// each part is "Content-Type: application/http; msgtype=request" (or
	// response) without Content-Transfer-Encoding, and there are no
	// changesets.
	UCWA
)

// String returns the dialect's name.
func (d Dialect) String() string {
	switch d {
	case ODataV4:
		return "odata-v4"
	case SharePoint:
		return "sharepoint"
	case UCWA:
		return "ucwa"
	}
	return "dialect(" + strconv.Itoa(int(d)) + ")"
}

// EncodeOption configures an [Encoder]. Options are values: build them once
// and pass them to [NewEncoder]; later options override earlier ones.
type EncodeOption func(*encodeOptions)

// encodeOptions holds the encoder's settings.
type encodeOptions struct {
	dialect        Dialect
	boundary       string // "" means NewBoundary("batch_")
	finalLineBreak bool
	csMax          int // > 0: buffer changesets up to csMax bytes for Content-Length
}

func defaultEncodeOptions() encodeOptions {
	return encodeOptions{finalLineBreak: true}
}

// WithDialect selects the wire layout. Affects encoding. Default [ODataV4].
func WithDialect(d Dialect) EncodeOption {
	return func(o *encodeOptions) { o.dialect = d }
}

// WithBoundary sets the batch boundary instead of a random "batch_" + 32
// hex digits from crypto/rand. Callers use it for deterministic output
// (tests, golden files) or to match a boundary already announced. Affects
// encoding. [NewEncoder] fails with [ErrBoundary] unless [ValidBoundary]
// accepts it. A chosen boundary may occur in a body; the encoder refuses
// such a body ([ErrUnsafe]) rather than write an ambiguous batch.
func WithBoundary(b string) EncodeOption {
	return func(o *encodeOptions) { o.boundary = b }
}

// FinalLineBreak says whether a CRLF follows the close delimiter of the
// batch. Affects encoding. Default true: Outlook requires it after a final
// POST and UI5's reader loses the last part without it; turn it off only for
// a reader that breaks on it (some Azure Storage clients did).
func FinalLineBreak(on bool) EncodeOption {
	return func(o *encodeOptions) { o.finalLineBreak = on }
}

// ChangesetContentLength writes a Content-Length header on each changeset
// part, as the SharePoint (OData v3) documentation shows. The header
// precedes the changeset, so the encoder must hold the whole changeset in
// memory until [Encoder.EndChangeset]: its delimiters, part headers and
// bodies, copied. That buffering is the cost: memory up to max bytes per
// encoder, and bodies inside changesets are no longer streamed to the writer
// as they arrive. A changeset larger than max fails with
// [ErrChangesetTooLarge]. Affects encoding. Default off; max <= 0 turns the
// header off and streams everything (this option's "default" is off, so the
// codec's rule that a non-positive limit means the default holds).
func ChangesetContentLength(max int) EncodeOption {
	return func(o *encodeOptions) { o.csMax = max }
}

// Sentinel errors of the encoder. Each comes wrapped in an [*EncodeError]
// that says which part and which field, so both errors.Is(err, ErrUnsafe)
// and errors.As(err, &encErr) work. Errors from the underlying io.Writer
// (and from a body's io.Reader in [Encoder.WriteOperation]) are returned as
// they are; a short write is [io.ErrShortWrite].
var (
	// ErrUnsafe: writing the input would let it be read as something else.
	// A CR, LF or NUL byte in a method, target, reason, Content-ID, header
	// name or header value (header injection), or a body line that starts
	// with "--" and an open boundary, which a reader may take for a
	// delimiter (RFC 2046 lets it match the start of a line only).
	ErrUnsafe = errors.New("batch: unsafe input")

	// ErrInvalidOperation: an Operation the encoder cannot write strictly:
	// no Message kind, a method or header name that is not an RFC 9110
	// token, an empty target or one with spaces or control bytes, a status
	// code outside 100-999, a control byte or surrounding whitespace in a
	// header value.
	ErrInvalidOperation = errors.New("batch: invalid operation")

	// ErrEncoderState: a call out of order, such as EndChangeset without a
	// changeset, a nested changeset, Close with a changeset open, a write to
	// a finished body, or any call after Close.
	ErrEncoderState = errors.New("batch: encoder call out of order")

	// ErrDialect: the dialect does not support the call (changesets in
	// UCWA), or the Dialect value is unknown.
	ErrDialect = errors.New("batch: not supported by the dialect")

	// ErrChangesetTooLarge: with [ChangesetContentLength], a changeset grew
	// beyond the configured maximum.
	ErrChangesetTooLarge = errors.New("batch: changeset larger than the Content-Length buffer")
)

// EncodeError is the error for input the encoder refuses: what is wrong
// (Err, one of the sentinels), in which part (Part) and which field (Field).
type EncodeError struct {
	// Part is the 0-based index of the MIME part being written, counting
	// operations and changesets in document order (as [Part.Index] does
	// when decoding), or -1 when the error concerns no part.
	Part int
	// Field names the offending input: "Method", "Target", "StatusCode",
	// "Reason", "ContentID", "Message", "Header[2].Value",
	// "PartHeader[0].Name", "body", "boundary", or the call for ordering
	// errors.
	Field string
	// Err is the sentinel saying what went wrong.
	Err error
	// Detail says what was found, for people; it is not meant to be parsed.
	Detail string
}

// Error returns "batch: <what> in part N, <field>: <detail>".
func (e *EncodeError) Error() string {
	var b strings.Builder
	msg := "batch: encoding error"
	if e.Err != nil {
		msg = e.Err.Error()
	}
	b.WriteString(msg)
	if e.Part >= 0 {
		b.WriteString(" in part ")
		b.WriteString(strconv.Itoa(e.Part))
	}
	if e.Field != "" {
		b.WriteString(", ")
		b.WriteString(e.Field)
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

// Unwrap returns Err.
func (e *EncodeError) Unwrap() error { return e.Err }

// Encoder writes a batch body to an io.Writer, strictly, so that every reader
// in the field takes it: CRLF everywhere, no preamble, the boundary unquoted
// unless RFC 2045 requires quotes, HTTP/1.1 in every embedded start line,
// canonical header names in the order given, every embedded header block
// closed by its blank line, the CRLF before each delimiter written as part
// of the delimiter, and exactly one CRLF after the close delimiter
// ([FinalLineBreak]).
//
// It mirrors mime/multipart.Writer: [Encoder.CreateOperation] writes a
// part's headers and returns a writer for its body; the next call finishes
// that body; [Encoder.Close] writes the close delimiter.
// [Encoder.BeginChangeset] and [Encoder.EndChangeset] bracket the
// operations of a changeset. Each part's header block, delimiter included,
// is appended into one reused buffer and written with one Write; bodies
// stream to the writer without being copied (except with
// [ChangesetContentLength]). In steady state an operation allocates nothing.
//
// Nothing unsafe is written: header injection, invalid methods or status
// codes, and body lines equal to a delimiter are errors (see [ErrUnsafe]),
// found before the offending bytes reach the writer.
//
// Errors are sticky: after the first failure, every method returns that
// same error again, and the output is an unfinished batch that no strict
// reader accepts. An Encoder is not safe for concurrent use.
type Encoder struct {
	w           io.Writer
	opt         encodeOptions
	boundary    string
	dash        string // "--" + boundary
	opHead      string // an operation's delimiter line and first part headers (appendOpHead)
	contentType string

	buf     []byte // pending framing bytes: the next header block being built
	parts   int    // MIME parts begun, at every depth
	top     int    // top-level parts whose delimiter has been written
	closed  bool
	err     error
	copyBuf []byte // ReadFrom's buffer, allocated once

	// The open changeset.
	inCS      bool
	csOps     int
	csDash    []byte // "--" + changeset boundary, in csOpHead
	csOpHead  []byte // opHead in the changeset, reused by the next
	csPart    int    // index of the changeset part
	csHdr     []byte // with Content-Length: its Content-Type and extra headers
	buffering bool   // output goes to csBuf
	csBuf     []byte

	// The open body and its delimiter check.
	bw        bodyWriter
	bodyOpen  bool
	lineStart bool // the body so far is empty or ends in CR or LF
	cand      bool // hold has a line that may still become a delimiter
	nhold     int
	hold      [holdCap]byte
}

// NewEncoder returns an encoder writing to w. It fails with [ErrBoundary]
// when [WithBoundary] gave an invalid boundary and with [ErrDialect] for an
// unknown dialect; nothing is written until the first part.
func NewEncoder(w io.Writer, opts ...EncodeOption) (*Encoder, error) {
	o := defaultEncodeOptions()
	for _, f := range opts {
		if f != nil {
			f(&o)
		}
	}
	if o.dialect > UCWA {
		return nil, &EncodeError{Part: -1, Field: "dialect", Err: ErrDialect, Detail: o.dialect.String()}
	}
	b := o.boundary
	if b == "" {
		b = NewBoundary("batch_")
	} else if !ValidBoundary(b) {
		return nil, &EncodeError{Part: -1, Field: "boundary", Err: ErrBoundary, Detail: quote(b)}
	}
	mt := "multipart/mixed"
	if o.dialect == UCWA {
		mt = "multipart/batching"
	}
	head := "\r\n--" + b + "\r\n" + o.dialect.opPartHead() // appendOpHead's bytes, in one allocation
	e := &Encoder{
		w:           w,
		opt:         o,
		boundary:    b,
		dash:        head[2 : 4+len(b)],
		opHead:      head,
		contentType: FormatContentType(mt, b),
		buf:         make([]byte, 0, 512),
	}
	e.bw.e = e
	return e, nil
}

// Boundary returns the batch boundary, chosen at random unless
// [WithBoundary] set it.
func (e *Encoder) Boundary() string { return e.boundary }

// Err returns the error that stopped the encoder, nil if none: errors are
// sticky, so every later call returns it too. A caller that writes through
// the io.Writer of [Encoder.CreateOperation] uses it to learn whether the
// batch is still being written.
func (e *Encoder) Err() error { return e.err }

// Dialect returns the dialect the encoder writes ([WithDialect]).
func (e *Encoder) Dialect() Dialect { return e.opt.dialect }

// ContentType returns the Content-Type value for the HTTP message that
// carries the batch: "multipart/mixed; boundary=…", or
// "multipart/batching; boundary=…" in the [UCWA] dialect. The boundary is
// quoted only when RFC 2045 requires it, as some readers (SAP CAP) find no
// boundary in a quoted one.
func (e *Encoder) ContentType() string { return e.contentType }

// CreateOperation finishes the previous part's body, then writes the
// delimiter, the part's MIME headers, the embedded start line and headers
// and the blank line that ends them, all in one Write. It returns a writer
// for the operation's body, which may be left empty. Bodies are written
// byte for byte, and the line break that precedes the next delimiter is not
// part of them.
//
// op is validated first (see [ErrUnsafe] and [ErrInvalidOperation]); the
// method, target, status and reason come from it, with the reason defaulting
// to http.StatusText; Proto is ignored. Content-ID becomes a MIME part header
// when op.ContentID is not empty. Header names are written in canonical form
// (accept-encoding → Accept-Encoding); values as given. Fields of
// op.PartHeader named Content-Type, Content-Transfer-Encoding or Content-ID
// are skipped, as the encoder writes those itself; that lets an Operation
// read by [Part.Operation] be written again as it is.
//
// The body writer refuses, with [ErrUnsafe], a line (after CR, LF or the
// start of the body) that starts with "--" and the boundary of the batch or
// of the open changeset: RFC 2046 tells readers that such a prefix is enough
// for a delimiter, and mime/multipart reads "--b--x" as one. It holds back a
// line's first bytes while they may still become one. It implements io.ReaderFrom
// with a buffer reused across operations. The writer is only valid until the
// next call to an Encoder method; writing to it after its part is finished
// fails with [ErrEncoderState].
func (e *Encoder) CreateOperation(op *Operation) (io.Writer, error) {
	if err := e.finishBody(); err != nil {
		return nil, err
	}
	if e.closed {
		return nil, e.fail(&EncodeError{Part: -1, Field: "CreateOperation", Err: ErrEncoderState, Detail: "encoder closed"})
	}
	if op == nil {
		return nil, e.fail(&EncodeError{Part: e.parts, Field: "Operation", Err: ErrInvalidOperation, Detail: "nil"})
	}
	mark := len(e.buf)
	b, ok := e.appendOperation(e.buf, op)
	e.buf = b
	if !ok {
		e.buf = e.buf[:mark]
		return nil, e.fail(e.operationError(op))
	}
	if e.inCS {
		e.csOps++
	} else {
		e.top++
	}
	if err := e.flush(); err != nil {
		return nil, err
	}
	e.parts++
	e.bodyOpen, e.lineStart, e.cand, e.nhold = true, true, false, 0
	return &e.bw, nil
}

// WriteOperation writes op with the body read from body (nil for none): the
// same as [Encoder.CreateOperation] followed by io.Copy. A read error from
// body is returned as it is and is sticky, since the batch would otherwise
// carry a silently shortened body.
func (e *Encoder) WriteOperation(op *Operation, body io.Reader) error {
	if _, err := e.CreateOperation(op); err != nil || body == nil {
		return err
	}
	// ReadFrom, not io.Copy: io.Copy would prefer body's WriteTo (a
	// *Part has one) and bypass the sticky read error.
	_, err := e.bw.ReadFrom(body)
	return err
}

// BeginChangeset starts a changeset with a random boundary
// ("changeset_" + 32 hex digits from crypto/rand). The operations written up
// to [Encoder.EndChangeset] go inside it. Changesets do not nest, and the
// [UCWA] dialect has none ([ErrDialect]).
func (e *Encoder) BeginChangeset() error {
	return e.BeginChangesetWith("", nil)
}

// BeginChangesetWith is [Encoder.BeginChangeset] with a chosen boundary
// ("" for a random one) and extra MIME headers for the changeset part, such
// as the Host header SharePoint's documentation shows; fields named
// Content-Type, Content-Transfer-Encoding, Content-ID or Content-Length are
// skipped. The boundary must be valid ([ErrBoundary]) and must not be
// confusable with the batch boundary: neither may be a prefix of the other
// ("b" and "b2"), as readers match a boundary at the start of a line.
func (e *Encoder) BeginChangesetWith(boundary string, partHeader []Field) error {
	if err := e.finishBody(); err != nil {
		return err
	}
	switch {
	case e.closed:
		return e.fail(&EncodeError{Part: -1, Field: "BeginChangeset", Err: ErrEncoderState, Detail: "encoder closed"})
	case e.opt.dialect == UCWA:
		return e.fail(&EncodeError{Part: e.parts, Field: "BeginChangeset", Err: ErrDialect, Detail: "UCWA batches have no changesets"})
	case e.inCS:
		return e.fail(&EncodeError{Part: e.parts, Field: "BeginChangeset", Err: ErrEncoderState, Detail: "changesets do not nest"})
	}
	if boundary == "" {
		boundary = NewBoundary("changeset_")
	}
	if !ValidBoundary(boundary) {
		return e.fail(&EncodeError{Part: e.parts, Field: "boundary", Err: ErrBoundary, Detail: quote(boundary)})
	}
	if confusable(boundary, e.boundary) {
		return e.fail(&EncodeError{Part: e.parts, Field: "boundary", Err: ErrBoundary,
			Detail: "changeset boundary " + quote(boundary) + " is confusable with the batch boundary " + quote(e.boundary)})
	}
	if err := validateFields(partHeader, "PartHeader"); err != nil {
		err.Part = e.parts
		return e.fail(err)
	}
	if e.opt.csMax <= 0 {
		e.buf = e.appendDelimiter(e.buf) // the batch delimiter: no changeset is open yet
	}
	e.inCS, e.csOps, e.csPart = true, 0, e.parts
	e.csOpHead = e.opt.dialect.appendOpHead(e.csOpHead[:0], boundary)
	e.csDash = e.csOpHead[2 : 4+len(boundary)]
	e.parts++
	hdr := e.csHdr[:0]
	hdr = append(hdr, "Content-Type: multipart/mixed; boundary="...)
	hdr = appendParam(hdr, boundary)
	hdr = append(hdr, crlf...)
	hdr = appendFields(hdr, partHeader)
	if e.opt.csMax <= 0 {
		e.buf = append(e.buf, hdr...)
		e.buf = e.appendChangesetTail(e.buf)
		e.csHdr = hdr
		return nil // written with the next header block
	}
	// Content-Length: the part's header block waits for the changeset's
	// end; what is pending goes out now, and the changeset to csBuf.
	e.csHdr = hdr
	if err := e.flush(); err != nil {
		return err
	}
	e.buffering, e.csBuf = true, e.csBuf[:0]
	return nil
}

// EndChangeset finishes the last operation's body and closes the open
// changeset. With [ChangesetContentLength] it then writes the changeset
// part: its header block with the Content-Length, and the buffered
// changeset.
func (e *Encoder) EndChangeset() error {
	if err := e.finishBody(); err != nil {
		return err
	}
	if e.closed || !e.inCS {
		return e.fail(&EncodeError{Part: -1, Field: "EndChangeset", Err: ErrEncoderState, Detail: "no changeset open"})
	}
	if e.csOps > 0 {
		e.buf = append(e.buf, crlf...)
	}
	e.buf = append(e.buf, e.csDash...)
	e.buf = append(e.buf, "--"...)
	e.inCS = false
	if !e.buffering {
		return nil // written with the next header block
	}
	if err := e.flush(); err != nil {
		return err
	}
	e.buffering = false
	e.buf = e.appendDelimiter(e.buf)
	e.buf = append(e.buf, e.csHdr...)
	e.buf = append(e.buf, "Content-Length: "...)
	e.buf = strconv.AppendInt(e.buf, int64(len(e.csBuf)), 10)
	e.buf = append(e.buf, crlf...)
	e.buf = e.appendChangesetTail(e.buf)
	if err := e.flush(); err != nil {
		return err
	}
	return e.write(e.csBuf)
}

// Close finishes the last body and writes the close delimiter of the batch,
// followed by a CRLF unless [FinalLineBreak] turned it off. It fails with
// [ErrEncoderState] if a changeset is still open: ending it silently would
// hide a missing EndChangeset. Closing a closed encoder does nothing. Close
// does not close the underlying writer.
func (e *Encoder) Close() error {
	if e.err != nil {
		return e.err
	}
	if e.closed {
		return nil
	}
	if err := e.finishBody(); err != nil {
		return err
	}
	if e.inCS {
		return e.fail(&EncodeError{Part: e.csPart, Field: "Close", Err: ErrEncoderState, Detail: "changeset still open"})
	}
	if e.top > 0 {
		e.buf = append(e.buf, crlf...)
	}
	e.buf = append(e.buf, e.dash...)
	e.buf = append(e.buf, "--"...)
	if e.opt.finalLineBreak {
		e.buf = append(e.buf, crlf...)
	}
	e.closed = true
	return e.flush()
}
