package batch

import (
	"bytes"
	"encoding/binary"
)

// This file reads a header block. readHeaderLines, line by line, is the
// reference: it reads every block, with its deviations and errors. In front
// of it, a block that lies whole in the read buffer and is written the
// ordinary way is parsed in one loop without readLine and copied into
// Decoder.meta in one piece (scanHeaders), and the MIME part header block
// of nearly every operation is recognised whole (usualPartHeaders). The fast
// paths only have to recognise the blocks they can take, and give up on
// anything else before they change the decoder; TestScanHeaders checks them
// against readHeaderLines on the same bytes.
//
// Reading line by line cost about 330 instructions per header line in
// callgrind: a call to readLine and three to IndexByte (each of them
// spilling every live register, as Go's ABI saves none) and a copy into
// meta per line. Operations carry seven or eight lines, which made header
// reading half of the decoder's work on small operations. In scanHeaders a
// line costs one IndexByte for its end, its colon found by comparing words
// for Content-Type and Content-Length (knownName), and the block one count
// of its CRs and one copy; the two usual MIME part header lines are
// compared whole (usualLine). A SWAR loop (eight bytes a step for ':', CR
// and LF) was tried instead of IndexByte and cost more: the compiler
// spilled its state on every step. So was splitting the loop in two, the
// line ends found first and the lines parsed after without calls: it cost
// more too.
//
// Embedded header blocks also repeat from one operation to the next, so
// scanHeaders keeps the last one as a memo (headerMemo) and takes the lines
// a block repeats from its start without parsing them again; a block that
// repeats it whole is taken in one compare, before scanHeaders is called
// (memoWhole, in usualpart.go), and shares the memo's spans.

// readHeaders reads header lines into meta and spans up to the blank line.
// ended reports a delimiter line met first: the block ran into the next
// delimiter without its blank line, which is then pending.
func (d *Decoder) readHeaders(hb *headerBlock, limit int) (ended bool, err error) {
	if d.scanHeaders(hb, limit, 0) {
		return false, nil
	}
	return d.readHeaderLines(hb, limit)
}

// readHeaderLines is readHeaders line by line: the reference for every
// block, and the reader of those scanHeaders leaves.
func (d *Decoder) readHeaderLines(hb *headerBlock, limit int) (ended bool, err error) {
	// Work on a local slice header, stored back on success (an error is
	// sticky, so the spans no longer matter then): appending through the
	// pointer on every line showed up in profiles.
	sp := hb.spans
	used := 0
	for {
		off := d.base + int64(d.rp)
		line, bareLF, err := d.readLine()
		if err != nil {
			return false, err
		}
		if len(line) > 1 && line[0] == '-' && line[1] == '-' {
			if li, cl, ok := delimiterLine(line, d.levels); ok {
				d.setPending(li, cl, off)
				if bareLF {
					err = d.deviateNext(DevBareLF, off)
				}
				hb.spans = sp
				return true, err
			}
		}
		if bareLF {
			if err := d.deviate(DevBareLF, off); err != nil {
				return false, err
			}
		}
		if len(line) == 0 {
			hb.spans = sp
			return false, nil
		}
		used += len(line) + fieldOverhead
		if used > limit {
			return false, d.syntaxErrorAt(off, ErrHeaderTooLarge, 0, "")
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(sp) == 0 {
				return false, d.syntaxErrorAt(off, ErrHeader, 0, "continuation line before any header: "+quote(string(line)))
			}
			if err := d.deviate(DevObsFold, off); err != nil {
				return false, err
			}
			last := &sp[len(sp)-1]
			if cont := trimWS(line); len(cont) > 0 {
				// The value is the last thing in meta: extend it.
				if last.value.b > last.value.a {
					d.meta = append(d.meta, ' ')
				}
				d.meta = append(d.meta, cont...)
				last.value.b = len(d.meta)
			}
			continue
		}
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			return false, d.syntaxErrorAt(off, ErrHeader, 0, "no colon in "+quote(string(line)))
		}
		nameEnd := len(trimRightWS(line[:colon]))
		if nameEnd == 0 {
			return false, d.syntaxErrorAt(off, ErrHeader, 0, "empty name in "+quote(string(line)))
		}
		vs := colon + 1
		for vs < len(line) && (line[vs] == ' ' || line[vs] == '\t') {
			vs++
		}
		ve := vs + len(trimRightWS(line[vs:]))
		// RFC 9112 §5.1: no whitespace between name and colon; a CR
		// alone inside a value is no line break (RFC 9112 §2.2).
		if nameEnd < colon || bytes.IndexByte(line[vs:ve], '\r') >= 0 {
			if err := d.deviate(DevHeaderSyntax, off); err != nil {
				return false, err
			}
		}
		// One copy of the line up to the value's end; name and value
		// are spans of it.
		base := len(d.meta)
		d.meta = append(d.meta, line[:ve]...)
		sp = append(sp, fieldSpan{
			name:   span{base, base + nameEnd},
			value:  span{base + vs, base + ve},
			offset: off,
		})
		if k := headerKey(line[:nameEnd]); k != keyOther {
			if hb.first[k] == 0 {
				hb.first[k] = len(sp)
			}
			if k == keyContentLength {
				hb.lengths++
			}
		}
	}
}

// scanHeaders parses the header block at the read position into hb and
// reports whether it could. It takes a block only if it lies whole in the
// buffer up to its blank line, every line ends in CRLF (or, unless strict,
// in a bare LF, which it records as readHeaderLines does), within the line
// and header limits, and no line is folded, delimiter-like ("-" first),
// without a name, with whitespace before its colon, or with a CR of its own:
// the blocks on which readHeaderLines would record no deviation but
// DevBareLF and return no error and no delimiter, and would build the same
// spans. It takes only an empty (reset) hb, as readPart and readMessage pass
// it; on false nothing is consumed and hb is empty again.
//
// pre bytes before the read position (an embedded start line with its CRLF,
// parsed in place) are copied into meta with the block, in the same copy.
// An embedded block's first lines may come from the memo (reuseLines): the
// same bytes at the same place in the block, so the same fields, and no CR
// of their own, which the count then leaves out.
func (d *Decoder) scanHeaders(hb *headerBlock, limit, pre int) bool {
	if len(hb.spans) != 0 {
		return false // not a fresh block: the fast path restores a reset one
	}
	w := d.buf[d.rp:d.wp]
	base := len(d.meta) + pre   // where w[0] will be in meta
	off := d.base + int64(d.rp) // the input offset of w[0]
	maxLine := d.opts.maxLine
	mime := hb == &d.ph // usual lines are MIME part headers, not embedded ones
	used, pos, lines, usual := 0, 0, 0, 0
	reused := 0 // lines at the start of the block read from d.memo
	// Bare LF line breaks: Outlook's and SharePoint's documented samples
	// are written so. bare counts those after from; bareLF says the block
	// has one anywhere, the memo's lines included.
	lfOK, bare, bareLF := !d.opts.strict, 0, false
	if !mime && len(d.memo.lines) > 0 {
		if reused = d.reuseLines(hb, w, base, off); reused > 0 {
			last := &d.memo.lines[reused-1]
			used, pos, lines, bareLF = last.used, last.end, reused, last.bare
			if used > limit {
				hb.reset()
				return false
			}
		}
	}
	from := pos // the CRs before from need no count
	for {
		rest := w[pos:]
		if len(rest) >= 2 && rest[0] == '\r' && rest[1] == '\n' {
			pos += 2 // the blank line
			break
		}
		n := 0
		if mime {
			n = usualLine(rest)
		}
		if n > 0 {
			// A line written the usual way, compared whole: its
			// one CR is its line break, so it needs no count.
			colon, vs, k := 12, 14, keyContentType
			if n == usualCTE {
				colon, vs, k = 25, 27, keyOther
			}
			used += n - 2 + fieldOverhead
			if used > limit || n-1 > maxLine {
				hb.reset()
				return false
			}
			o := base + pos
			hb.spans = append(hb.spans, fieldSpan{
				name:   span{o, o + colon},
				value:  span{o + vs, o + n - 2},
				offset: off + int64(pos),
			})
			if k != keyOther && hb.first[k] == 0 {
				hb.first[k] = len(hb.spans)
			}
			lines++
			usual++
			pos += n
			continue
		}
		i := bytes.IndexByte(rest, '\n')
		// The buffer's end, an overlong line or, when strict, a bare
		// LF: read it line by line.
		if i < 1 || i > maxLine {
			if i == 0 && lfOK {
				pos++ // a bare blank line
				bare++
				break
			}
			hb.reset()
			return false
		}
		line := rest[:i-1]
		if rest[i-1] != '\r' {
			if !lfOK {
				hb.reset()
				return false
			}
			line = rest[:i]
			bare++
		}
		used += len(line) + fieldOverhead
		colon, k := knownName(line)
		if colon < 0 {
			colon = bytes.IndexByte(line, ':')
			if c := line[0]; colon <= 0 || c == ' ' || c == '\t' || c == '-' || isWS(line[colon-1]) {
				hb.reset()
				return false
			}
			k = headerKey(line[:colon])
		}
		if used > limit {
			hb.reset()
			return false
		}
		vs, ve := colon+1, len(line)
		for vs < ve && isWS(line[vs]) {
			vs++
		}
		for ve > vs && isWS(line[ve-1]) {
			ve--
		}
		o := base + pos
		hb.spans = append(hb.spans, fieldSpan{
			name:   span{o, o + colon},
			value:  span{o + vs, o + ve},
			offset: off + int64(pos),
		})
		if k != keyOther {
			if hb.first[k] == 0 {
				hb.first[k] = len(hb.spans)
			}
			if k == keyContentLength {
				hb.lengths++
			}
		}
		lines++
		pos += i + 1
	}
	// A CR of its own in a name or value: one count over the block, cheaper
	// than a search in every value. Each line break after from but the
	// bare ones has one.
	if lines > usual+reused && bytes.Count(w[from:pos], crByte) != lines-reused+1-bare {
		hb.reset()
		return false
	}
	if bare > 0 || bareLF {
		d.part.dev |= DevBareLF // as deviate does, unless strict
	}
	if !mime && (reused == 0 || d.memo.misses != 0) {
		d.memo.update(hb, w[:pos], base, off, reused, lines)
	}
	if hb.inMemo {
		// The block is the memo's: only the start line is copied.
		d.meta = append(d.meta, d.buf[d.rp-pre:d.rp]...)
	} else {
		d.meta = append(d.meta, d.buf[d.rp-pre:d.rp+pos]...)
	}
	d.rp += pos
	return true
}

var crByte = []byte{'\r'}

// headerMemo is the last embedded header block scanHeaders read, kept so
// that the next one can reuse the lines they share. The operations of a
// batch are written by one client or service, and their embedded header
// blocks repeat line for line (Content-Type, OData-Version, Prefer...),
// often up to a Content-Length that differs: a line byte for byte equal to
// the memo's, at the same place, has the same name and value spans, key and
// validity, so it is taken without its search for the line end, its colon,
// its trimming or its share of the CR count. On the benchmark's operations
// the embedded block was two fifths of the decoder's instructions.
type headerMemo struct {
	block []byte      // the block, from its first line to its blank line
	spans []fieldSpan // its fields, spans and offsets relative to the block
	lines []memoLine  // its lines, in order
	// first and lengths of the whole block, for a block repeated whole
	first   [numKeys]int
	lengths int
	misses  int // blocks in a row that shared no line with the memo
	// For a block repeated whole with the operation around it
	// (quickOperation): the header bytes it charges, and its
	// Content-Length's value, -1 for none, -2 for one the general path
	// must look at (malformed, or repeated).
	used int
	clen int64
	// bare says that a line break of the block, its blank line's
	// included, is a bare LF: a block repeated whole deviates so.
	bare bool
	// views of the fields, for Part.Header, built on first use
	views      []RawField
	viewsBuilt bool
}

// memoLine is one line of the memo, its positions relative to the block.
type memoLine struct {
	end  int  // the end of the line, after its LF
	used int  // header bytes charged up to and with this line
	key  int  // its name's key
	bare bool // a line up to and with this one ends in a bare LF
}

// reuseLines appends to hb, whose block starts at w (and at base in meta,
// off in the input), the fields of the memo's lines that w repeats
// whole from its start, and returns how many there were.
func (d *Decoder) reuseLines(hb *headerBlock, w []byte, base int, off int64) int {
	m := len(d.memo.block)
	if len(w) >= m && off != d.memoMissAt && string(w[:m]) == string(d.memo.block) {
		// The whole block again (one compare, the usual case): its
		// fields are the memo's, shared, its keys as they were.
		hb.spans, hb.shared, hb.inMemo, hb.off = d.memo.spans, true, true, off
		hb.first, hb.lengths = d.memo.first, d.memo.lengths
		return len(hb.spans)
	}
	// The lines up to the first difference, each compared whole.
	n, start := 0, 0
	for n < len(d.memo.lines) {
		l := &d.memo.lines[n]
		if l.end > len(w) || string(w[start:l.end]) != string(d.memo.block[start:l.end]) {
			break
		}
		start = l.end
		f := &d.memo.spans[n]
		n++
		hb.spans = append(hb.spans, fieldSpan{
			name:   f.name.add(base),
			value:  f.value.add(base),
			offset: off + f.offset,
		})
		if l.key != keyOther {
			if hb.first[l.key] == 0 {
				hb.first[l.key] = n
			}
			if l.key == keyContentLength {
				hb.lengths++
			}
		}
	}
	return n
}

// update decides whether the block just read, with lines lines of which
// reused came from the memo, becomes the memo (see record). A block that
// shares a line with the memo keeps it: on blocks that differ only in their
// Content-Length, say, recording each one cost more than the lines it
// saves. A block that shares none replaces it only if the one before it
// shared none either: on two kinds of block in turn (requests with and
// without a body), recording each one cost more than the parsing saved.
func (m *headerMemo) update(hb *headerBlock, block []byte, base int, off int64, reused, lines int) {
	switch {
	case reused > 0:
		m.misses = 0
	case lines == 0:
	case m.misses > 0 || len(m.lines) == 0:
		m.misses = 0
		m.record(hb, block, base, off)
	default:
		m.misses++
	}
}

// record makes the block just read, block with its blank line, at base in
// meta and off in the input, with its fields in hb, the memo.
func (m *headerMemo) record(hb *headerBlock, block []byte, base int, off int64) {
	m.block = append(m.block[:0], block...)
	m.viewsBuilt = false
	m.lines = m.lines[:0]
	m.spans = m.spans[:0]
	m.first, m.lengths = hb.first, hb.lengths
	// breakLen is the length of the line break that ends block[:end]:
	// a line ends in CRLF or, unless strict, in a bare LF.
	breakLen := func(end int) int {
		if end >= 2 && block[end-2] == '\r' {
			return 2
		}
		return 1
	}
	used, bare := 0, false
	for i, f := range hb.spans {
		start := int(f.offset - off)
		end := len(block) - breakLen(len(block))
		if i+1 < len(hb.spans) {
			end = int(hb.spans[i+1].offset - off)
		}
		n := breakLen(end)
		bare = bare || n == 1
		used += end - start - n + fieldOverhead
		m.spans = append(m.spans, fieldSpan{name: f.name.add(-base), value: f.value.add(-base), offset: int64(start)})
		m.lines = append(m.lines, memoLine{
			end:  end,
			used: used,
			key:  headerKey(block[start : start+f.name.b-f.name.a]),
			bare: bare,
		})
	}
	m.bare = bare || breakLen(len(block)) == 1
	m.used, m.clen = used, -1
	if i := m.first[keyContentLength]; i > 0 {
		m.clen = -2
		if n, ok := parseLength(m.spans[i-1].value.of(m.block)); ok && m.lengths == 1 {
			m.clen = n
		}
	}
}

// knownName recognises Content-Type and Content-Length, in any case, each
// followed at once by its colon, by comparing words as headerKey does, so
// that their lines (one or two in every header block) need no search for
// the colon. It returns the colon's index and the name's key, or -1 for any
// other line. It is kept small enough to be inlined (as a call it cost half
// of what it saved), which leaves Content-ID and Content-Transfer-Encoding
// to the search.
func knownName(line []byte) (colon, key int) {
	// Letters fold with OR 0x20, the hyphen is compared as it is (OR 0x20
	// would turn a CR into it), and so is each colon.
	if len(line) < len("content-type:") || binary.LittleEndian.Uint64(line)|0x0020202020202020 != contentPrefix {
		return -1, keyOther
	}
	switch x := binary.LittleEndian.Uint64(line[5:]) | 0x2020202020002020; { // "nt-type:" or "nt-lengt"
	case x&0xffffffffffffff == 'n'|'t'<<8|'-'<<16|'t'<<24|'y'<<32|'p'<<40|'e'<<48 && line[12] == ':':
		return 12, keyContentType
	case x == 'n'|'t'<<8|'-'<<16|'l'<<24|'e'<<32|'n'<<40|'g'<<48|'t'<<56 && len(line) > 14 && line[13]|0x20 == 'h' && line[14] == ':':
		return 14, keyContentLength
	}
	return -1, keyOther
}

// Words of the two MIME part header lines nearly every operation carries,
// written so by OData.net, Microsoft Graph and this package's Encoder.
const (
	wContent = 'C' | 'o'<<8 | 'n'<<16 | 't'<<24 | 'e'<<32 | 'n'<<40 | 't'<<48 | '-'<<56   // "Content-"
	wTypeAp  = 'T' | 'y'<<8 | 'p'<<16 | 'e'<<24 | ':'<<32 | ' '<<40 | 'a'<<48 | 'p'<<56   // "Type: ap"
	wPlicati = 'p' | 'l'<<8 | 'i'<<16 | 'c'<<24 | 'a'<<32 | 't'<<40 | 'i'<<48 | 'o'<<56   // "plicatio"
	wNHTTP   = 'n' | '/'<<8 | 'h'<<16 | 't'<<24 | 't'<<32 | 'p'<<40 | '\r'<<48 | '\n'<<56 // "n/http\r\n"
	wTransfe = 'T' | 'r'<<8 | 'a'<<16 | 'n'<<24 | 's'<<32 | 'f'<<40 | 'e'<<48 | 'r'<<56   // "Transfer"
	wEncodin = '-' | 'E'<<8 | 'n'<<16 | 'c'<<24 | 'o'<<32 | 'd'<<40 | 'i'<<48 | 'n'<<56   // "-Encodin"
	wGBinar  = 'g' | ':'<<8 | ' '<<16 | 'b'<<24 | 'i'<<32 | 'n'<<40 | 'a'<<48 | 'r'<<56   // "g: binar"
	wNaryEnd = 'n' | 'a'<<8 | 'r'<<16 | 'y'<<24 | '\r'<<32 | '\n'<<40                     // "nary\r\n", the last six bytes
)

// usualLine recognises, by comparing words, the header lines
// "Content-Type: application/http" and "Content-Transfer-Encoding: binary"
// at the start of b, each with its CRLF: the MIME part headers of nearly
// every operation, which then need neither a search for their line break
// nor one for their colon. It returns the length of the line with its CRLF,
// usualCT or usualCTE, or 0 for any other line. It is small enough to be
// inlined, as a call cost a fifth of what it saves.
func usualLine(b []byte) int {
	if len(b) < usualCTE || binary.LittleEndian.Uint64(b) != wContent {
		return 0
	}
	switch binary.LittleEndian.Uint64(b[8:]) {
	case wTypeAp:
		if binary.LittleEndian.Uint64(b[16:]) == wPlicati && binary.LittleEndian.Uint64(b[24:]) == wNHTTP {
			return usualCT
		}
	case wTransfe:
		if binary.LittleEndian.Uint64(b[16:]) == wEncodin && binary.LittleEndian.Uint64(b[24:]) == wGBinar &&
			binary.LittleEndian.Uint64(b[27:])>>16 == wNaryEnd {
			return usualCTE
		}
	}
	return 0
}

// usualBlock is the MIME part header block of nearly every operation: both
// usual lines in the usual order, and the blank line.
const usualBlock = "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"

// usualPartHeaders reads the usual MIME part header block (usualBlock) at
// the read position, if that is what is there, in one compare, and reports
// whether it did: what scanHeaders would read there, without its loop, and
// without a copy, as its spans point to the copy of usualBlock that
// Decoder.meta always begins with. The usual lines followed by a Content-ID
// line (what clients write for every operation in a changeset) are read
// here too (usualWithID).
func (d *Decoder) usualPartHeaders(limit int) bool {
	const used = usualCT + usualCTE - 4 + 2*fieldOverhead
	const lines = usualCT + usualCTE // the two usual lines
	w := d.buf[d.rp:d.wp]
	// The blank line first: when a third line follows (a Content-ID),
	// that one byte tells.
	if len(w) < len(usualBlock) || used > limit || len(d.ph.spans) != 0 {
		return false
	}
	if w[lines] != '\r' {
		if w[usualCT-2] == '\n' {
			return d.usualLF(w)
		}
		return d.usualWithID(w, limit-used)
	}
	if string(w[:len(usualBlock)]) != usualBlock {
		return false
	}
	d.ph.spans, d.ph.shared, d.ph.off = usualSpans, true, d.base+int64(d.rp)
	d.ph.first[keyContentType] = 1
	d.rp += len(usualBlock)
	return true
}

// usualBlockLF is usualBlock with bare LF line breaks, as Outlook's and
// SharePoint's documented samples are written.
const usualBlockLF = "Content-Type: application/http\nContent-Transfer-Encoding: binary\n\n"

// usualLF reads the block in w when it is usualBlockLF, unless strict, and
// reports whether it did: what scanHeaders would read there, its spans
// shared as usualPartHeaders shares them.
func (d *Decoder) usualLF(w []byte) bool {
	if d.opts.strict || string(w[:len(usualBlockLF)]) != usualBlockLF {
		return false
	}
	d.ph.spans, d.ph.shared, d.ph.off = usualSpansLF, true, d.base+int64(d.rp)
	d.ph.first[keyContentType] = 1
	d.part.dev |= DevBareLF // as deviate does
	d.rp += len(usualBlockLF)
	return true
}

// usualWithID reads the block in w when it is the two usual lines, then a
// Content-ID line (its name in any case, its colon right after it, its
// value without a CR of its own), then the blank line, within limit more
// header bytes, and reports whether it did: what scanHeaders would read
// there. Only the Content-ID line is copied into meta.
func (d *Decoder) usualWithID(w []byte, limit int) bool {
	const at = usualCT + usualCTE // where the Content-ID line starts
	const name = len("content-id")
	rest := w[at:]
	if len(rest) < name+5 || rest[name] != ':' || headerKey(rest[:name]) != keyContentID || string(w[:at]) != usualBlock[:at] {
		return false
	}
	i := bytes.IndexByte(rest, '\n')
	if i <= name+1 || rest[i-1] != '\r' || i > d.opts.maxLine || len(rest) < i+3 || rest[i+1] != '\r' || rest[i+2] != '\n' ||
		i-1+fieldOverhead > limit {
		return false
	}
	line := rest[:i-1]
	vs, ve := name+1, len(line)
	for vs < ve && isWS(line[vs]) {
		vs++
	}
	for ve > vs && isWS(line[ve-1]) {
		ve--
	}
	if bytes.IndexByte(line[vs:ve], '\r') >= 0 {
		return false
	}
	base := len(d.meta)
	d.meta = append(d.meta, line...)
	d.ph.spans = append(d.ph.spans, usualSpans[0], usualSpans[1],
		fieldSpan{name: span{base, base + name}, value: span{base + vs, base + ve}, offset: int64(at)})
	d.ph.off = d.base + int64(d.rp)
	d.ph.first[keyContentType], d.ph.first[keyContentID] = 1, 3
	d.rp += at + i + 3
	return true
}

// usualSpans are the fields of usualBlock at the start of meta, their
// offsets relative to the block's; shared by every decoder, read-only (a
// headerBlock that shares them never appends to them).
var usualSpans = []fieldSpan{
	{name: span{0, 12}, value: span{14, usualCT - 2}, offset: 0},
	{name: span{usualCT, usualCT + 25}, value: span{usualCT + 27, usualCT + usualCTE - 2}, offset: int64(usualCT)},
}

// usualSpansLF are the fields of usualBlockLF: the text of usualBlock's (at
// the start of meta), the offsets of usualBlockLF's.
var usualSpansLF = []fieldSpan{usualSpans[0], {name: usualSpans[1].name, value: usualSpans[1].value, offset: int64(usualCT - 1)}}

// Lengths of the usual lines with their CRLF.
const (
	usualCT  = len("Content-Type: application/http\r\n")
	usualCTE = len("Content-Transfer-Encoding: binary\r\n")
)
