package jsonbatch

import (
	"bytes"
	"io"

	"github.com/batchcodec/batch"
)

// Decoder reads a JSON batch document (OData JSON Format 4.01 §19, or
// Microsoft Graph's JSON batching) from an io.Reader and yields its
// requests or responses one at a time, streaming: memory is bounded by the
// largest item, not by the document.
//
// The loop is mime/multipart's, as in the multipart codec:
//
//	for {
//		it, err := d.Next()
//		if err == io.EOF {
//			break // the closing brace of the document
//		}
//		if err != nil {
//			return err
//		}
//		// use it until the next call to Next
//	}
//
// Errors are sticky: after the first failure, every exported method returns
// that same error again. A Decoder is not safe for concurrent use.
type Decoder struct {
	r    io.Reader
	opts decodeOptions

	buf  []byte
	rp   int   // start of the unread window buf[rp:wp]
	wp   int   // end of the data read so far
	base int64 // input offset of buf[0]
	eof  bool  // r reported io.EOF
	rerr error // a read error to return once the data before it is used
	err  error // sticky error (io.EOF after the document)

	state  int
	first  bool // no member or item yet in the current container
	array  bool // the requests or responses array was seen
	msg    batch.MessageKind
	nitems int

	item Item
	sc   itemScan
	// scratch holds the unescaped strings and the decoded body of the
	// current item; its capacity is reserved before the first append, so
	// views into it stay valid.
	scratch []byte
	name    []byte // an unescaped member name
	hdrErr  error  // the sentinel of a header failure
}

// Decoder states between calls to Next.
const (
	stStart   = iota // before the document's opening brace
	stMembers        // inside the document object
	stItems          // inside the requests or responses array
	stEnd            // after the document's closing brace
)

// NewDecoder returns a decoder reading a JSON batch from r, with opts
// applied over the defaults.
func NewDecoder(r io.Reader, opts ...DecodeOption) *Decoder {
	d := new(Decoder)
	d.Reset(r, opts...)
	return d
}

// Reset makes d read a new batch from r, with opts applied over the
// defaults. It keeps the buffers, so a reused Decoder allocates nothing
// in steady state.
func (d *Decoder) Reset(r io.Reader, opts ...DecodeOption) {
	*d = Decoder{
		r:       r,
		buf:     d.buf,
		scratch: d.scratch[:0],
		name:    d.name[:0],
		sc:      itemScan{hdr: d.sc.hdr[:0], deps: d.sc.deps[:0]},
		item:    Item{header: d.item.header[:0], dependsOn: d.item.dependsOn[:0]},
		first:   true,
	}
	buildDecodeOptions(&d.opts, opts)
	// A buffer grown for a large item is kept, up to what the limits let
	// it grow to, so that a reused decoder reaches a steady state.
	if n := d.opts.bufferSize; cap(d.buf) < n || cap(d.buf) > 2*max(n, d.opts.maxItem) {
		d.buf = make([]byte, n)
	}
	d.buf = d.buf[:cap(d.buf)]
}

// InputOffset returns the offset in the input of the next unread byte.
func (d *Decoder) InputOffset() int64 { return d.base + int64(d.rp) }

// Message reports whether the document holds requests ("requests") or
// responses ("responses"); zero until Next has read the array's name.
func (d *Decoder) Message() batch.MessageKind { return d.msg }

// Next advances to the next request or response of the batch and returns
// it. It returns io.EOF, unwrapped, after the closing brace of the document
// (the rest of the input may only be whitespace). The returned Item is only
// valid until the next call to Next; its body need not be read.
//
// Members of the document other than "requests" or "responses" (such as
// "@odata.context" or "@odata.nextLink") are validated and skipped, before
// and after the array.
func (d *Decoder) Next() (*Item, error) {
	if d.err != nil {
		return nil, d.err
	}
	it, err := d.next()
	if err != nil {
		d.err = err
		return nil, err
	}
	return it, nil
}

func (d *Decoder) next() (*Item, error) {
	for {
		switch d.state {
		case stStart:
			if err := d.skipBOM(); err != nil {
				return nil, err
			}
			if d.eof && d.wp-d.rp < 3 && bytes.HasPrefix(bom, d.buf[d.rp:d.wp]) {
				return nil, d.truncated()
			}
			c, err := d.peek()
			if err != nil {
				return nil, err
			}
			if c != '{' {
				return nil, d.notA(c, "the document is not a JSON object")
			}
			d.rp++
			d.state, d.first = stMembers, true

		case stMembers:
			c, err := d.peek()
			if err != nil {
				return nil, err
			}
			if c == '}' {
				d.rp++
				d.state = stEnd
				continue
			}
			if !d.first {
				if c != ',' {
					return nil, d.errorAt(d.InputOffset(), ErrSyntax, "invalid character "+quoteByte(c)+", want ',' or '}'")
				}
				d.rp++
				if c, err = d.peek(); err != nil {
					return nil, err
				}
			}
			d.first = false
			if err := d.member(c); err != nil {
				return nil, err
			}

		case stItems:
			c, err := d.peek()
			if err != nil {
				return nil, err
			}
			if c == ']' {
				d.rp++
				d.state, d.first = stMembers, false
				continue
			}
			if !d.first {
				if c != ',' {
					return nil, d.errorAt(d.InputOffset(), ErrSyntax, "invalid character "+quoteByte(c)+", want ',' or ']'")
				}
				d.rp++
				if c, err = d.peek(); err != nil {
					return nil, err
				}
			}
			d.first = false
			d.nitems++
			if d.nitems > d.opts.maxItems {
				return nil, d.errorAt(d.InputOffset(), batch.ErrTooManyParts, "more than MaxItems items")
			}
			return d.readItem(c)

		case stEnd:
			if err := d.trailer(); err != nil {
				return nil, err
			}
			if !d.array {
				return nil, d.errorAt(d.InputOffset(), ErrInvalidItem, `the document has no "requests" or "responses" member`)
			}
			return nil, io.EOF
		}
	}
}

// member reads one member of the document object, whose name starts with c:
// the array's name and its opening bracket, or another member, skipped.
func (d *Decoder) member(c byte) error {
	off := d.InputOffset()
	if c != '"' {
		return d.errorAt(off, ErrSyntax, "invalid character "+quoteByte(c)+", want a member name")
	}
	n, err := d.delimit()
	if err != nil {
		return err
	}
	// The parser sees the whole window: a value is followed by at least
	// one more byte, and a number needs it to know that it has ended.
	p := parser{b: d.buf[d.rp:d.wp], maxDepth: d.opts.maxDepth}
	s, e, esc, ok := p.str()
	if !ok {
		return d.parseError(&p, off)
	}
	name := p.b[s:e]
	if esc {
		d.name = unescape(d.name[:0], name)
		name = d.name
	}
	msg := batch.MessageKind(0)
	switch string(name) {
	case "requests":
		msg = batch.Request
	case "responses":
		msg = batch.Response
	}
	d.rp += n
	if c, err = d.peek(); err != nil {
		return err
	}
	if c != ':' {
		return d.errorAt(d.InputOffset(), ErrSyntax, "invalid character "+quoteByte(c)+", want ':'")
	}
	d.rp++
	if c, err = d.peek(); err != nil {
		return err
	}
	if msg != 0 {
		if d.array {
			return d.errorAt(off, ErrInvalidItem, "a second requests or responses member")
		}
		if c != '[' {
			return d.notA(c, "the "+string(name)+" member is not an array")
		}
		d.rp++
		d.array, d.msg = true, msg
		d.state, d.first = stItems, true
		return nil
	}
	// Another member: validate its value and drop it.
	voff := d.InputOffset()
	if n, err = d.delimit(); err != nil {
		return err
	}
	p = parser{b: d.buf[d.rp:d.wp], maxDepth: d.opts.maxDepth}
	if !p.value() {
		return d.parseError(&p, voff)
	}
	if p.i != n {
		// The extent of a number or literal runs to the next delimiter;
		// the parser stopped before it ("00").
		return d.errorAt(voff+int64(p.i), ErrSyntax, "invalid character "+quoteByte(p.b[p.i])+" after a value")
	}
	d.rp += n
	return nil
}

// readItem reads the item that starts with c.
func (d *Decoder) readItem(c byte) (*Item, error) {
	off := d.InputOffset()
	if c != '{' {
		return nil, d.notA(c, "an item is not a JSON object")
	}
	// Most items are already in the buffer, whole: one pass of the
	// parser reads them. Only an item that runs past the bytes read so far
	// is delimited first by the resumable scanner, which reads more input.
	// The parser sees at most MaxItemBytes, so that a longer item is
	// refused the same way on both paths.
	it, err := d.parseItem(d.buf[d.rp:d.rp+min(d.wp-d.rp, d.opts.maxItem)], off)
	if err == errNeedMore {
		var n int
		if n, err = d.delimit(); err != nil {
			return nil, err
		}
		if it, err = d.parseItem(d.buf[d.rp:d.rp+n], off); err == errNeedMore {
			// Unreachable: delimit hands over whole objects only.
			err = d.errorAt(off+int64(n), ErrSyntax, "item ended early")
		}
	}
	if err != nil {
		return nil, err
	}
	n := d.sc.end
	d.rp += n
	return it, nil
}

// notA is the error for a value at the read position that starts with c
// where an object or an array must be: ErrInvalidItem with detail for
// another JSON value, ErrSyntax for a byte that starts none.
func (d *Decoder) notA(c byte, detail string) error {
	switch {
	case c == '{', c == '[', c == '"', c == 't', c == 'f', c == 'n', c == '-', '0' <= c && c <= '9':
		return d.errorAt(d.InputOffset(), ErrInvalidItem, detail)
	}
	return d.errorAt(d.InputOffset(), ErrSyntax, "invalid character "+quoteByte(c)+", want a value")
}

// delimit finds the end of the value at rp, reading more input as needed,
// and returns its length; the value is then buf[rp:rp+n]. Bytes are read
// once and scanned once. When the input ends or a limit is hit first, the
// bytes read are parsed for an earlier error, which is reported instead.
func (d *Decoder) delimit() (int, error) {
	var st extent
	for {
		switch scanExtent(d.buf[d.rp:d.wp], &st, d.opts.maxDepth) {
		case extDone:
			if st.p > d.opts.maxItem {
				return 0, d.tooLarge()
			}
			return st.p, nil
		case extTooDeep:
			return 0, d.stopped(st.p+1, st.p, ErrTooDeep, "")
		}
		if st.p > d.opts.maxItem {
			return 0, d.tooLarge()
		}
		if d.eof {
			return 0, d.stopped(st.p, st.p, batch.ErrTruncated, "input ended inside a value")
		}
		if err := d.fill(); err != nil {
			return 0, err
		}
	}
}

// tooLarge reports a value longer than MaxItemBytes, or an earlier error
// within its first MaxItemBytes: no further, so that how much happened to be
// read does not change the answer.
func (d *Decoder) tooLarge() error {
	return d.stopped(d.opts.maxItem, d.opts.maxItem, ErrItemTooLarge, "longer than MaxItemBytes")
}

// stopped reports why delimit stopped at rel bytes into the value (err at
// rel+at): first an earlier syntax error in the n bytes read, if any.
func (d *Decoder) stopped(n, at int, err error, detail string) error {
	p := parser{b: d.buf[d.rp : d.rp+n], maxDepth: d.opts.maxDepth}
	off := d.InputOffset()
	if d.state == stItems && p.b[0] == '{' {
		if _, perr := d.parseItem(p.b, off); perr != nil && perr != errNeedMore {
			return perr
		}
	} else if !p.value() && p.err != errNeedMore {
		return d.parseError(&p, off)
	}
	if err == batch.ErrTruncated {
		return d.truncated()
	}
	return d.errorAt(off+int64(at), err, detail)
}

// parseError turns the parser's failure on bytes at input offset off into
// the decoder's error.
func (d *Decoder) parseError(p *parser, off int64) error {
	if p.err == errNeedMore {
		// Unreachable: delimit hands over whole values only.
		return d.errorAt(off+int64(p.off), ErrSyntax, "value ended early")
	}
	return d.errorAt(off+int64(p.off), p.err, p.detail)
}

// peek skips whitespace and returns the next byte without consuming it.
func (d *Decoder) peek() (byte, error) {
	for {
		for d.rp < d.wp {
			c := d.buf[d.rp]
			if !isSpace(c) {
				return c, nil
			}
			d.rp++
		}
		if d.eof {
			return 0, d.truncated()
		}
		if err := d.fill(); err != nil {
			return 0, err
		}
	}
}

// skipBOM drops a UTF-8 byte order mark at the start of the input (OData.net
// writes one), which RFC 8259 §8.1 lets a parser ignore.
func (d *Decoder) skipBOM() error {
	for d.wp-d.rp < 3 && !d.eof {
		if err := d.fill(); err != nil {
			return err
		}
	}
	if bytes.HasPrefix(d.buf[d.rp:d.wp], bom) {
		d.rp += 3
	}
	return nil
}

var bom = []byte{0xEF, 0xBB, 0xBF}

// trailer reads the rest of the input after the document: whitespace only.
func (d *Decoder) trailer() error {
	for {
		for d.rp < d.wp {
			if !isSpace(d.buf[d.rp]) {
				return d.errorAt(d.InputOffset(), ErrSyntax, "data after the document")
			}
			d.rp++
		}
		if d.eof {
			return nil
		}
		if err := d.fill(); err != nil {
			return err
		}
	}
}

// fill reads more input into buf, first moving the unread window to the
// front, and growing buf when the window fills it. It returns an error only
// for a read error met with no new data.
func (d *Decoder) fill() error {
	if d.rerr != nil {
		return d.rerr
	}
	if d.rp > 0 {
		n := copy(d.buf, d.buf[d.rp:d.wp])
		d.base += int64(d.rp)
		d.wp = n
		d.rp = 0
	}
	if d.wp == len(d.buf) {
		// delimit stops at MaxItemBytes, so the buffer stays below
		// about twice that.
		nb := make([]byte, 2*len(d.buf))
		copy(nb, d.buf[:d.wp])
		d.buf = nb
	}
	for range 100 {
		n, err := d.r.Read(d.buf[d.wp:])
		if n < 0 || n > len(d.buf)-d.wp {
			return d.errorAt(d.InputOffset(), errBadRead, "")
		}
		d.wp += n
		if err == io.EOF {
			d.eof = true
			return nil
		}
		if err != nil {
			if n > 0 {
				d.rerr = err
				return nil
			}
			return err
		}
		if n > 0 {
			return nil
		}
	}
	return io.ErrNoProgress
}
