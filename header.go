package batch

import (
	"bytes"
	"encoding/binary"
)

// This file reads what stands between a delimiter and a body: the MIME part
// headers, and for an operation the embedded start line and HTTP headers
// (each header block is read by headerblock.go). What the views of a Part
// point to is copied into Decoder.meta as it is read, so that they survive
// the body moving through the read buffer: a header block in one piece, with
// the start line before it when that was read in place. A block the decoder
// already holds is not copied: the usual MIME part header block is at the
// start of meta, and an embedded block that repeats the memo's whole is the
// memo's (see headerBlock).

type span struct{ a, b int }

type fieldSpan struct {
	name, value span
	offset      int64 // input offset of the header line, for errors
}

// Header names the decoder acts on, recognised once as each line is read so
// that no lookup walks the block again.
const (
	keyOther = iota
	keyContentType
	keyContentID
	keyContentLength
	numKeys
)

// headerKey returns the key of a header name, keyOther for the rest. It
// runs on every header line, so it compares words, not bytes: all three
// names start with "content-", compared as one 8-byte word with the ASCII
// letters folded (OR 0x20 lowers a letter and leaves '-' alone, but also
// turns a CR into '-', hence the separate test of the hyphen).
func headerKey(name []byte) int {
	if len(name) < len("content-id") || name[7] != '-' ||
		binary.LittleEndian.Uint64(name)|0x2020202020202020 != contentPrefix {
		return keyOther
	}
	switch rest := name[8:]; len(rest) {
	case len("id"):
		if binary.LittleEndian.Uint16(rest)|0x2020 == 'i'|'d'<<8 {
			return keyContentID
		}
	case len("type"):
		if binary.LittleEndian.Uint32(rest)|0x20202020 == 't'|'y'<<8|'p'<<16|'e'<<24 {
			return keyContentType
		}
	case len("length"):
		if binary.LittleEndian.Uint32(rest)|0x20202020 == 'l'|'e'<<8|'n'<<16|'g'<<24 &&
			binary.LittleEndian.Uint16(rest[4:])|0x2020 == 't'|'h'<<8 {
			return keyContentLength
		}
	}
	return keyOther
}

// isApplicationHTTP reports whether a media type is application/http, in
// any case, comparing words as headerKey does (the '/' tested on its own,
// as OR 0x20 turns 0x0f into it too).
func isApplicationHTTP(mt []byte) bool {
	return len(mt) == len("application/http") && mt[11] == '/' &&
		binary.LittleEndian.Uint64(mt)|0x2020202020202020 == 'a'|'p'<<8|'p'<<16|'l'<<24|'i'<<32|'c'<<40|'a'<<48|'t'<<56 &&
		binary.LittleEndian.Uint64(mt[8:])|0x2020202020202020 == 'i'|'o'<<8|'n'<<16|'/'<<24|'h'<<32|'t'<<40|'t'<<48|'p'<<56
}

// contentPrefix is "content-" as a little-endian word.
const contentPrefix = 'c' | 'o'<<8 | 'n'<<16 | 't'<<24 | 'e'<<32 | 'n'<<40 | 't'<<48 | '-'<<56

// headerBlock is one header block of the current part (its MIME headers, or
// its embedded HTTP headers) as spans into Decoder.meta, or into the memo's
// block (inMemo).
//
// A block the decoder has seen before is not copied or parsed again: its
// spans are shared, read-only, with the memo (a block that repeats the
// memo's whole, see reuseLines) or with usualSpans (the usual MIME part
// header block, see usualPartHeaders), their offsets relative to off.
// Building them again cost a tenth of the decoder's instructions on small
// operations.
type headerBlock struct {
	spans  []fieldSpan
	own    []fieldSpan // the storage spans grows in when it is not shared
	shared bool        // spans belongs to the memo or to usualSpans
	inMemo bool        // spans index Decoder.memo.block rather than meta
	off    int64       // added to each span's offset
	// first holds, for each key, 1 + the index in spans of the first field
	// of that name, or 0 when there is none.
	first [numKeys]int
	// lengths counts the Content-Length fields; only when there are
	// several are their values compared.
	lengths int
}

func (hb *headerBlock) reset() { *hb = hb.emptied() }

// emptied returns hb reset, keeping its own storage (never what it shares).
func (hb *headerBlock) emptied() headerBlock {
	own := hb.own
	if !hb.shared {
		own = hb.spans
	}
	return headerBlock{spans: own[:0], own: own[:0]}
}

// offsetOf returns the input offset of field f of hb.
func (hb *headerBlock) offsetOf(f *fieldSpan) int64 { return hb.off + f.offset }

// bytesOf returns the bytes the spans of hb index.
func (d *Decoder) bytesOf(hb *headerBlock) []byte {
	if hb.inMemo {
		return d.memo.block
	}
	return d.meta
}

// get returns the first field with key k, or nil.
func (hb *headerBlock) get(k int) *fieldSpan {
	if i := hb.first[k]; i > 0 {
		return &hb.spans[i-1]
	}
	return nil
}

func (s span) of(b []byte) []byte { return b[s.a:s.b:s.b] }

// add returns s moved n bytes on.
func (s span) add(n int) span { return span{s.a + n, s.b + n} }

// readLine consumes the next line and returns it without its line break.
// The slice is only valid until the next read. Input that ends inside the
// line is truncated input.
func (d *Decoder) readLine() (line []byte, bareLF bool, err error) {
	for {
		w := d.buf[d.rp:d.wp]
		if i := bytes.IndexByte(w, '\n'); i >= 0 {
			if i > d.opts.maxLine {
				return nil, false, d.syntaxError(ErrLineTooLong, "")
			}
			line, bareLF = w[:i], true
			if i > 0 && line[i-1] == '\r' {
				line, bareLF = line[:i-1], false
			}
			d.rp += i + 1
			return line, bareLF, nil
		}
		if len(w) > d.opts.maxLine {
			return nil, false, d.syntaxError(ErrLineTooLong, "")
		}
		if d.eof {
			// A delimiter line may end the input without a line break
			// (a close delimiter as the last bytes, quirk 1 of the
			// README's table); any other line may not.
			if _, _, ok := delimiterLine(w, d.levels); ok {
				d.rp = d.wp
				return w, false, nil
			}
			return nil, false, d.syntaxErrorAt(d.base+int64(d.wp), ErrTruncated, 0, "input ended inside a header block")
		}
		if err := d.fill(); err != nil {
			return nil, false, err
		}
	}
}

// readPart reads the part that the pending open delimiter begins.
func (d *Decoder) readPart() (*Part, error) {
	if d.nparts >= d.opts.maxParts {
		d.nparts++
		return nil, d.syntaxErrorAt(d.pend.offset, ErrTooManyParts, 0, "")
	}
	d.nparts++
	top := len(d.levels) - 1
	d.resetPart(KindOther, top)
	p := &d.part
	p.index = d.nparts - 1
	p.offset = d.pend.offset
	if top > 0 {
		p.boundary = d.levels[top].boundary()
	}
	d.start = [3]span{}

	if d.usualPartHeaders(d.opts.maxPartHeader) {
		// The usual block: an operation, its Content-Type
		// application/http without parameters, as the switch below
		// would find.
		p.kind = KindOperation
		if err := d.readMessage(0); err != nil {
			return nil, err
		}
		return p, nil
	}
	ended, err := d.readHeaders(&d.ph, d.opts.maxPartHeader)
	if err != nil {
		return nil, err
	}
	ct := d.ph.get(keyContentType)
	var mt, params []byte
	if ct != nil {
		if v := ct.value.of(d.bytesOf(&d.ph)); isApplicationHTTP(v) {
			mt = v // the usual value, without parameters to split off
		} else {
			mt, params = splitMediaType(v)
		}
	}
	switch {
	case len(mt) > len("multipart/") && equalFold(mt[:len("multipart/")], "multipart/"):
		if err := d.pushChangeset(params, d.ph.offsetOf(ct)); err != nil {
			return nil, err
		}
		p.kind = KindChangesetStart
		p.boundary = d.levels[top+1].boundary()
		if !ended {
			d.openRegion(false) // the changeset's preamble
		}
	case isApplicationHTTP(mt):
		p.kind = KindOperation
		if ended {
			return nil, d.syntaxErrorAt(d.pend.offset, ErrStartLine, 0, "operation part holds no HTTP message")
		}
		var msgtype MessageKind
		if len(params) > 0 {
			msgtype = msgTypeOf(params)
		}
		if err := d.readMessage(msgtype); err != nil {
			return nil, err
		}
	default:
		if !ended {
			d.openRegion(true)
		}
	}
	return p, nil
}

// pushChangeset opens a changeset level for the boundary in params.
// off is the offset of its Content-Type line, for errors.
func (d *Decoder) pushChangeset(params []byte, off int64) error {
	b, escaped, _, _ := paramValue(params, "boundary")
	if escaped {
		d.scratch = appendUnescaped(d.scratch[:0], b)
		b = d.scratch
	}
	if !readableBoundary(b) {
		return d.syntaxErrorAt(off, ErrBoundary, 0, "changeset boundary "+quote(string(b)))
	}
	if !validBoundary(b) {
		if err := d.deviate(DevBoundary, off); err != nil {
			return err
		}
	}
	top := len(d.levels) - 1
	if top+1 > d.opts.maxDepth {
		return d.syntaxErrorAt(off, ErrTooDeep, 0, "")
	}
	for i := range d.levels {
		if bytes.Equal(d.levels[i].boundary(), b) {
			// Olingo refuses it too: every delimiter would be both.
			return d.syntaxErrorAt(off, ErrBoundary, 0, "changeset boundary "+quote(string(b))+" equals an enclosing boundary")
		}
	}
	if len(d.levels) < cap(d.levels) {
		d.levels = d.levels[:top+2]
	} else {
		d.levels = append(d.levels, level{})
	}
	lv := &d.levels[top+1]
	lv.dash = append(append(lv.dash[:0], "--"...), b...)
	lv.index = d.part.index
	return nil
}

// plainFirst reports whether a line that starts with c is neither blank nor
// folded nor delimiter-like.
func plainFirst(c byte) bool {
	return c != ' ' && c != '\t' && c != '\r' && c != '-'
}

// readMessage reads an operation's embedded start line and headers; the
// body region follows.
func (d *Decoder) readMessage(msgtype MessageKind) error {
	p := &d.part
	var line []byte
	off := d.InputOffset()
	w := d.buf[d.rp:d.wp]
	pre := 0 // the start line's length with its line break, when read in place
	// The usual start line, neither blank nor delimiter-like, and
	// CRLF-terminated or, unless strict, with a bare LF: what the loop
	// below would read, without its checks. It stays in buf, to be copied
	// into meta with the header block that follows it.
	i := bytes.IndexByte(w, '\n')
	switch {
	case i > 1 && w[i-1] == '\r' && i <= d.opts.maxLine && plainFirst(w[0]):
		line = w[:i-1]
		d.rp += i + 1
		pre = i + 1
	case i > 0 && w[i-1] != '\r' && !d.opts.strict && i <= d.opts.maxLine && plainFirst(w[0]):
		line = w[:i]
		d.rp += i + 1
		pre = i + 1
		p.dev |= DevBareLF // as deviate does
	}
	for line == nil {
		off = d.InputOffset()
		l, bareLF, err := d.readLine()
		if err != nil {
			return err
		}
		if _, _, ok := delimiterLine(l, d.levels); ok {
			return d.syntaxErrorAt(off, ErrStartLine, 0, "operation part holds no HTTP message")
		}
		if bareLF {
			if err := d.deviate(DevBareLF, off); err != nil {
				return err
			}
		}
		if len(trimWS(l)) > 0 {
			line = l
			break
		}
		// Blank lines before the start line: OData.net skips them.
		if err := d.deviate(DevBlankBeforeStartLine, off); err != nil {
			return err
		}
	}
	if len(line) > d.opts.maxHeader {
		return d.syntaxErrorAt(off, ErrHeaderTooLarge, 0, "start line")
	}
	base := len(d.meta) // where the start line is, or will be, in meta
	if pre == 0 {
		d.meta = append(d.meta, line...)
		line = d.meta[base:]
	}
	var dev Deviation
	var problem string
	if isStatusLine(line) {
		var proto, code, reason span
		p.msg = Response
		proto, code, p.status, reason, dev, problem = parseStatusLine(line)
		d.start = [3]span{proto.add(base), code.add(base), reason.add(base)}
	} else {
		var method, target, proto span
		p.msg = Request
		method, target, proto, dev, problem = parseRequestLine(line)
		d.start = [3]span{method.add(base), target.add(base), proto.add(base)}
	}
	if problem != "" {
		return d.syntaxErrorAt(off, ErrStartLine, 0, problem+" in "+quote(string(line)))
	}
	if msgtype != 0 && msgtype != p.msg {
		dev |= DevMsgType
	}
	for dev != 0 {
		one := dev & -dev
		if err := d.deviate(one, off); err != nil {
			return err
		}
		dev &^= one
	}

	limit := d.opts.maxHeader - len(line)
	if pre > 0 && d.memoWhole(limit, pre) {
		return nil
	}
	var ended bool
	var err error
	switch {
	case pre > 0 && d.scanHeaders(&d.eh, limit, pre):
		// The start line and the header block, copied in one piece.
	case pre > 0:
		// No I/O has happened since the start line was read in place.
		d.meta = append(d.meta, line...)
		ended, err = d.readHeaderLines(&d.eh, limit)
	default:
		ended, err = d.readHeaders(&d.eh, limit)
	}
	if err != nil {
		return err
	}
	if ended {
		// A bodiless request whose header block runs straight into the
		// next delimiter, without its blank line (documentation samples
		// of bodiless GETs omit it).
		if err := d.deviate(DevNoBlankLine, d.pend.offset); err != nil {
			return err
		}
	} else {
		d.openRegion(true)
	}
	if f := d.eh.get(keyContentLength); f != nil {
		eb := d.bytesOf(&d.eh)
		n, ok := parseLength(f.value.of(eb))
		for i := 0; d.eh.lengths > 1 && i < len(d.eh.spans); i++ {
			g := &d.eh.spans[i]
			if g != f && equalFold(g.name.of(eb), "content-length") && !bytes.Equal(g.value.of(eb), f.value.of(eb)) {
				ok = false // disagreeing duplicates
			}
		}
		if !ok {
			if err := d.deviate(DevContentLength, d.eh.offsetOf(f)); err != nil {
				return err
			}
		} else {
			p.clen = n
		}
	}
	if ended && p.clen > 0 {
		if err := d.deviate(DevContentLength, d.pend.offset); err != nil {
			return err
		}
	}
	return nil
}

// contentID returns the current operation's Content-ID: the MIME part
// header wins over the embedded one (Cosmos puts it only in the embedded
// headers).
func (d *Decoder) contentID() ([]byte, bool) {
	if f := d.ph.get(keyContentID); f != nil {
		return f.value.of(d.bytesOf(&d.ph)), true
	}
	if f := d.eh.get(keyContentID); f != nil {
		return f.value.of(d.bytesOf(&d.eh)), true
	}
	return nil, false
}

// partViews builds the part's MIME header views, once per part.
func (d *Decoder) partViews() {
	p := &d.part
	p.pviews = true
	d.pviews = appendViews(d.pviews[:0], d.ph.spans, d.bytesOf(&d.ph))
	if len(d.pviews) > 0 {
		p.header = Header(d.pviews)
	}
}

// embeddedViews builds the part's embedded header views, once per part; a
// block that repeats the memo's whole has the memo's views, built once per
// memo.
func (d *Decoder) embeddedViews() {
	p := &d.part
	p.eviews = true
	var v []RawField
	if m := &d.memo; d.eh.inMemo {
		if !m.viewsBuilt {
			m.views, m.viewsBuilt = appendViews(m.views[:0], m.spans, m.block), true
		}
		v = m.views
	} else {
		d.eviews = appendViews(d.eviews[:0], d.eh.spans, d.bytesOf(&d.eh))
		v = d.eviews
	}
	if len(v) > 0 {
		p.embedded = Header(v)
	}
}

// appendViews appends to v the views of fields, spans into b.
func appendViews(v []RawField, fields []fieldSpan, b []byte) []RawField {
	for _, f := range fields {
		v = append(v, RawField{Name: f.name.of(b), Value: f.value.of(b)})
	}
	return v
}

// parseLength parses a Content-Length value: decimal digits only.
func parseLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}
