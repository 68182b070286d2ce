package batch

import (
	"bytes"
	"io"
	"strconv"
)

// Decoder reads a batch body from an io.Reader and yields its parts in
// document order, streaming: operations, and the start and end of each
// changeset around them (see [Kind]). It holds one read buffer and one
// scanner aware of every open boundary; bodies are read straight from that
// buffer.
//
// The loop is mime/multipart's:
//
//	for {
//		p, err := d.Next()
//		if err == io.EOF {
//			break // the close delimiter of the batch
//		}
//		if err != nil {
//			return err
//		}
//		// use p until the next call to Next
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
	err  error // sticky error (io.EOF after the close delimiter)

	levels []level // open boundaries: [0] the batch, then changesets
	nparts int     // MIME parts started so far
	bom    bool    // the leading byte order mark has been looked for

	region region    // the run of bytes being read up to the next delimiter
	pend   pending   // the delimiter line that ended the last region
	stray  strayLine // the preamble's first delimiter-like line, for ErrNoDelimiter

	part Part

	// Header storage: the header blocks and the start line of the
	// current part are copied into meta (a block in one piece, see
	// headerblock.go), so that the views stay valid while the body moves
	// through buf. spans index meta (or the memo's block, for a block
	// that repeats it whole); views are built when asked for. meta always
	// begins with usualBlock, which the spans of the usual MIME part
	// header block point to, so that reading that block copies nothing
	// (see usualPartHeaders); a part's own bytes follow it.
	meta   []byte
	ph     headerBlock // the MIME part headers
	eh     headerBlock // the embedded HTTP headers
	pviews []RawField
	eviews []RawField
	start  [3]span // start line: method, target, proto; or proto, status code, reason
	memo   headerMemo
	// memoMissAt is the input offset of the last embedded header block
	// that quickMessage found not to repeat the memo's whole.
	memoMissAt int64

	scratch []byte // a changeset boundary with its quoted-pairs resolved
}

// region is the run of bytes up to the next delimiter: a part's body, or a
// preamble or epilogue.
type region struct {
	open    bool       // the decoder is inside a region
	isBody  bool       // the region is the current part's body
	atStart bool       // nothing of the region consumed yet
	avail   int        // bytes at rp known to be region bytes
	found   bool       // a delimiter follows the avail bytes
	hit     scanResult // that delimiter
	n       int64      // region bytes consumed so far
}

// pending is the delimiter line that ended the last region, consumed but not
// yet acted on: the next call to Next opens the part it begins, or ends a
// changeset.
type pending struct {
	level  int       // level of the delimiter
	close  bool      // whether it closes
	offset int64     // input offset of its "--"
	dev    Deviation // deviations met before the next part begins
}

// NewDecoder returns a decoder for a batch body whose Content-Type is
// contentType: multipart/mixed or multipart/batching with a boundary, quoted
// or not; other parameters are ignored. It fails with [ErrContentType] or
// [ErrBoundary] (as a *SyntaxError) when contentType is not such a type (see
// [ParseContentType]). A boundary outside RFC 2046 that the decoder still
// reads is a deviation ([DevBoundary]), an error in strict mode.
func NewDecoder(r io.Reader, contentType string, opts ...DecodeOption) (*Decoder, error) {
	_, b, err := ParseContentType(contentType)
	if err != nil {
		return nil, err
	}
	return NewDecoderBoundary(r, b, opts...)
}

// NewDecoderBoundary returns a decoder for a batch body delimited by
// boundary, for callers that know the boundary without a Content-Type. It
// fails with [ErrBoundary] when the decoder cannot read such a boundary, as
// NewDecoder does.
func NewDecoderBoundary(r io.Reader, boundary string, opts ...DecodeOption) (*Decoder, error) {
	d := new(Decoder)
	if err := d.Reset(r, boundary, opts...); err != nil {
		return nil, err
	}
	return d, nil
}

// Reset makes d read a new batch from r, delimited by boundary (as
// [ParseContentType] returns it), with opts applied over the defaults. It
// keeps the buffers, so a reused Decoder decodes without allocating. Its
// errors are NewDecoderBoundary's.
func (d *Decoder) Reset(r io.Reader, boundary string, opts ...DecodeOption) error {
	if !readableBoundary(boundary) {
		return &SyntaxError{Offset: -1, Part: -1, Err: ErrBoundary, Detail: "boundary " + quote(boundary)}
	}
	d.init(r, boundary, opts)
	if !ValidBoundary(boundary) {
		if err := d.deviateNext(DevBoundary, -1); err != nil {
			d.err = err
			return err
		}
	}
	return nil
}

func (d *Decoder) init(r io.Reader, boundary string, opts []DecodeOption) {
	buf, levels := d.buf, d.levels[:0]
	if cap(levels) == 0 {
		levels = make([]level, 0, 2)
	}
	levels = levels[:1]
	levels[0].dash = append(append(levels[0].dash[:0], "--"...), boundary...)
	levels[0].index = -1
	*d = Decoder{
		r:          r,
		levels:     levels,
		region:     region{open: true, atStart: true},
		meta:       append(d.meta[:0], usualBlock...),
		ph:         d.ph.emptied(),
		eh:         d.eh.emptied(),
		pviews:     d.pviews[:0],
		eviews:     d.eviews[:0],
		scratch:    d.scratch[:0],
		memo:       headerMemo{block: d.memo.block[:0], spans: d.memo.spans[:0], lines: d.memo.lines[:0], views: d.memo.views[:0]},
		memoMissAt: -1,
	}
	buildDecodeOptions(&d.opts, opts)
	if n := d.opts.bufferSize; cap(buf) < n || cap(buf) > 2*n {
		buf = make([]byte, n)
	}
	d.buf = buf[:d.opts.bufferSize]
}

// InputOffset returns the offset in the input of the next unread byte.
func (d *Decoder) InputOffset() int64 { return d.base + int64(d.rp) }

// Next advances to the next part of the batch and returns it. It returns
// io.EOF, unwrapped, after the close delimiter of the batch. Any remaining
// data in the current part is automatically discarded. The returned Part is
// only valid until the next call to Next.
func (d *Decoder) Next() (*Part, error) {
	if d.err != nil {
		return nil, d.err
	}
	p, err := d.next()
	if err != nil {
		d.err = err
		return nil, err
	}
	return p, nil
}

func (d *Decoder) next() (*Part, error) {
	p := &d.part
	if d.region.open {
		if err := d.skipRegion(); err != nil {
			return nil, err
		}
	}
	top := len(d.levels) - 1
	if d.pend.level < top {
		// A parent's delimiter inside a changeset: the changeset was
		// never closed (OData.net recovers the same way). End it here;
		// the delimiter stays pending for the parent.
		d.resetPart(KindChangesetEnd, top-1)
		p.index = d.levels[top].index
		p.offset = d.pend.offset
		p.boundary = d.levels[top].boundary()
		if err := d.deviate(DevUnclosedChangeset, d.pend.offset); err != nil {
			return nil, err
		}
		d.levels = d.levels[:top]
		return p, nil
	}
	if d.pend.close {
		if top == 0 {
			return nil, io.EOF
		}
		d.resetPart(KindChangesetEnd, top-1)
		p.index = d.levels[top].index
		p.offset = d.pend.offset
		p.boundary = d.levels[top].boundary()
		d.levels = d.levels[:top]
		// The changeset's epilogue runs to the parent's next delimiter.
		d.openRegion(false)
		return p, nil
	}
	return d.readPart()
}

// resetPart prepares d.part for a new item of kind k at depth.
func (d *Decoder) resetPart(k Kind, depth int) {
	// Cleared, then set: a composite literal was built on the stack and
	// copied over, twice the work.
	p := &d.part
	*p = Part{}
	p.d, p.kind, p.depth, p.clen, p.dev = d, k, depth, -1, d.pend.dev
	d.pend.dev = 0
	d.meta = d.meta[:len(usualBlock)]
	d.ph.reset()
	d.eh.reset()
}

// deviate records dev on the current part, or fails in strict mode.
func (d *Decoder) deviate(dev Deviation, off int64) error {
	if d.opts.strict {
		return d.syntaxErrorAt(off, ErrNonconforming, dev, "")
	}
	d.part.dev |= dev
	return nil
}

func (d *Decoder) syntaxErrorAt(off int64, err error, dev Deviation, detail string) error {
	part := d.nparts - 1
	return &SyntaxError{Offset: off, Part: part, Err: err, Deviation: dev, Detail: detail}
}

func (d *Decoder) syntaxError(err error, detail string) error {
	return d.syntaxErrorAt(d.InputOffset(), err, 0, detail)
}

// openRegion starts a run of bytes that ends at the next delimiter.
func (d *Decoder) openRegion(isBody bool) {
	d.region = region{open: true, isBody: isBody, atStart: true}
}

// fill reads more input into buf, first moving the unread window to the
// front. It returns an error only for a read error met with no new data.
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
		// Unreachable with normalized options: a line never fills the
		// buffer without hitting the line limit first.
		return d.syntaxError(ErrLineTooLong, "buffer full")
	}
	for range 100 {
		n, err := d.r.Read(d.buf[d.wp:])
		if n < 0 || n > len(d.buf)-d.wp {
			return d.syntaxError(errBadRead, "")
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

// advance makes region bytes available (avail > 0), or finds the delimiter
// that ends the region (found with avail == 0).
func (d *Decoder) advance() error {
	for d.region.avail == 0 && !d.region.found {
		if !d.bom {
			if d.wp-d.rp < 3 && !d.eof {
				if err := d.fill(); err != nil {
					return err
				}
				continue
			}
			d.bom = true
			if d.wp-d.rp >= 3 && d.buf[d.rp] == 0xEF && d.buf[d.rp+1] == 0xBB && d.buf[d.rp+2] == 0xBF {
				// A byte order mark before the first delimiter:
				// OData.net's payloads start with one, and
				// mime/multipart finds zero parts behind it.
				if err := d.deviateNext(DevBOM, 0); err != nil {
					return err
				}
				d.rp += 3
			}
		}
		r, ok := scanDelimiter(d.buf[d.rp:d.wp], d.levels, d.region.atStart, d.eof, d.opts.maxLine)
		if !ok {
			return d.syntaxErrorAt(d.InputOffset()+int64(r.n), ErrLineTooLong, 0, "delimiter line with padding")
		}
		if r.found {
			d.region.avail, d.region.found, d.region.hit = r.n, true, r
			return nil
		}
		if r.n > 0 {
			d.region.avail = r.n
			return nil
		}
		if d.eof {
			return d.truncated()
		}
		if err := d.fill(); err != nil {
			return err
		}
	}
	return nil
}

// truncated is the error for input that ends before the batch does. Input
// that ends before the first delimiter line of the batch is ErrNoDelimiter,
// which says what was looked for and what was found instead.
func (d *Decoder) truncated() error {
	end := d.base + int64(d.wp)
	if d.nparts == 0 {
		return d.syntaxErrorAt(end, ErrNoDelimiter, 0, d.noDelimiter(end))
	}
	what := "input ended before the close delimiter of the batch"
	if d.region.open && d.region.isBody {
		what = "input ended inside a body"
	}
	return d.syntaxErrorAt(end, ErrTruncated, 0, what)
}

// noDelimiter describes input of end bytes that holds no delimiter line of
// the batch's boundary.
func (d *Decoder) noDelimiter(end int64) string {
	want := quote(string(d.levels[0].dash))
	if end == 0 {
		return "no line " + want + " in empty input"
	}
	msg := "no line " + want + " in " + strconv.FormatInt(end, 10) + " bytes"
	line, cut := d.stray.text()
	if line == "" {
		return msg
	}
	q := quote(line)
	if cut {
		q = q[:len(q)-1] + `..."`
	}
	if _, _, ok := delimiterLine([]byte(line), d.levels[:1]); ok && !cut {
		// The line reads as a delimiter without its final CR: the input
		// ends between that CR and its LF.
		return msg + "; the input ends inside the line " + q + " (at offset " +
			strconv.FormatInt(d.stray.offset, 10) + "), after a CR with no LF"
	}
	return msg + "; the first delimiter-like line is " + q + " (at offset " +
		strconv.FormatInt(d.stray.offset, 10) + "), not a delimiter of boundary " +
		quote(string(d.levels[0].boundary()))
}

// consume releases k region bytes.
func (d *Decoder) consume(k int) {
	if d.nparts == 0 && !d.stray.done {
		d.stray.feed(d.buf[d.rp:d.rp+k], d.InputOffset())
	}
	d.rp += k
	d.region.avail -= k
	d.region.n += int64(k)
	if k > 0 {
		d.region.atStart = false
	}
}

// endRegion consumes the delimiter line that ends the region and makes it
// pending. For a body it checks the declared Content-Length.
func (d *Decoder) endRegion() error {
	h := &d.region.hit
	d.setPending(h.level, h.close, d.InputOffset()+int64(h.dash))
	d.rp += h.line
	d.region.found = false
	d.region.open = false
	if h.bareLF {
		if err := d.deviateNext(DevBareLF, d.pend.offset); err != nil {
			return err
		}
	}
	if d.region.isBody && d.part.kind == KindOperation && d.part.clen >= 0 && d.part.clen != d.region.n {
		// The embedded Content-Length is a hint (clients count
		// characters, not bytes): the delimiter is the truth.
		if err := d.deviate(DevContentLength, d.pend.offset); err != nil {
			return err
		}
	}
	return nil
}

// deviateNext handles a deviation met between parts (a bare LF around a
// delimiter): an error in strict mode, else a deviation of the next part.
func (d *Decoder) deviateNext(dev Deviation, off int64) error {
	if d.opts.strict {
		return d.syntaxErrorAt(off, ErrNonconforming, dev, "")
	}
	d.pend.dev |= dev
	return nil
}

func (d *Decoder) setPending(lv int, close bool, off int64) {
	d.pend.level, d.pend.close, d.pend.offset = lv, close, off
}

// skipRegion discards the rest of the region and its delimiter.
func (d *Decoder) skipRegion() error {
	for {
		if err := d.advance(); err != nil {
			return err
		}
		if d.region.avail > 0 {
			d.consume(d.region.avail)
			continue
		}
		return d.endRegion()
	}
}

// readBody implements Part.Read.
func (d *Decoder) readBody(b []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	if !d.region.open || !d.region.isBody {
		return 0, io.EOF
	}
	if len(b) == 0 {
		return 0, nil
	}
	if err := d.advance(); err != nil {
		d.err = err
		return 0, err
	}
	if d.region.avail > 0 {
		n := copy(b, d.buf[d.rp:d.rp+d.region.avail])
		d.consume(n)
		return n, nil
	}
	if err := d.endRegion(); err != nil {
		d.err = err
		return 0, err
	}
	return 0, io.EOF
}

// writeBody implements Part.WriteTo.
//
// A body that lies whole in the buffer, from its start up to a CRLF
// delimiter line of the batch without padding (nearly every body of a small
// operation), is found with one search, written in one call, and its region
// ended in place: what the loop below does through advance, scanDelimiter,
// consume and endRegion, whose calls and state cost more than the search on
// a 200-byte body.
func (d *Decoder) writeBody(w io.Writer) (int64, error) {
	var total int64
	if r := &d.region; d.err == nil && r.open && r.isBody && r.atStart && r.avail == 0 && !r.found && d.bom && len(d.levels) == 1 {
		buf, dash := d.buf[d.rp:d.wp], d.levels[0].dash
		if len(dash) <= maxNeedle && len(dash) <= d.opts.maxLine {
			// scanDelimiter's usual hit, the same checks.
			i := bytes.Index(buf, dash)
			if j := i + len(dash); i >= 2 && j+1 < len(buf) &&
				buf[i-1] == '\n' && buf[i-2] == '\r' && buf[j] == '\r' && buf[j+1] == '\n' {
				body := buf[:i-2]
				var n int
				var err error
				if len(body) > 0 {
					n, err = w.Write(body)
				}
				if n == len(body) && err == nil {
					off := d.base + int64(d.rp+i)
					d.rp += j + 2
					*r = region{n: int64(n)}
					d.setPending(0, false, off)
					if d.part.kind == KindOperation && d.part.clen >= 0 && d.part.clen != int64(n) {
						if err := d.deviate(DevContentLength, off); err != nil {
							d.err = err
							return int64(n), err
						}
					}
					return int64(n), nil
				}
				// A failed or short write: what advance would have
				// found, then the loop's handling of the write.
				r.avail, r.found, r.hit = len(body), true, scanResult{n: len(body), found: true, line: j + 4 - i, dash: 2}
				if n < 0 || n > len(body) {
					n = 0
					if err == nil {
						err = errBadWrite
					}
				}
				d.consume(n)
				if err != nil {
					return int64(n), err
				}
				if n == 0 {
					return 0, io.ErrShortWrite
				}
				total = int64(n)
			}
		}
	}
	for {
		if d.err != nil {
			return total, d.err
		}
		if !d.region.open || !d.region.isBody {
			return total, nil
		}
		if err := d.advance(); err != nil {
			d.err = err
			return total, err
		}
		if d.region.avail == 0 {
			if err := d.endRegion(); err != nil {
				d.err = err
				return total, err
			}
			return total, nil
		}
		n, err := w.Write(d.buf[d.rp : d.rp+d.region.avail])
		if n < 0 || n > d.region.avail {
			n = 0
			if err == nil {
				err = errBadWrite
			}
		}
		d.consume(n)
		total += int64(n)
		if err != nil {
			return total, err
		}
		if n == 0 {
			return total, io.ErrShortWrite
		}
		if d.region.avail == 0 && d.region.found {
			// The delimiter is known already: end the region without
			// another turn through advance.
			if err := d.endRegion(); err != nil {
				d.err = err
				return total, err
			}
			return total, nil
		}
	}
}
