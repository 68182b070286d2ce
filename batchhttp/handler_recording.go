package batchhttp

import (
	"bytes"
	"io"
	"strconv"

	"github.com/batchcodec/batch"
)

// recording is what pass 1 of [Handler] records for pass 2 when the batch is
// held in memory: the kind of each part and, for each operation, the bytes
// of its embedded request and where its body starts in the batch. Pass 2
// then runs from the recording and the spool's memory without decoding the
// batch a second time, which costs as much as pass 1 did. The decoder
// stays the one parser: the recording holds what it returned, copied out.
//
// The recording is bounded by the bytes of the batch itself, and 4 KiB: it
// points into the bodies rather than copying them, so that only a batch
// of many tiny operations outgrows it. Then recording stops and pass 2
// decodes the batch again.
type recording struct {
	on    bool   // recording, and what is recorded is whole
	limit int    // bytes the recording may take
	mem   []byte // the batch body, held in memory by the spool
	parts []recordedPart
	// Per operation: the lengths of its method, proto, target and
	// Content-ID, then of each header field's name and value; arena
	// holds those bytes in that order, then the body's length in decimal
	// when request needs it (see embedded.str).
	lens  []int
	arena []byte
	str   string // arena, as the strings of pass 2's requests

	check bodyCheck // pass 1's writer of bodies

	// Pass 2.
	next int          // the next part
	body bytes.Reader // the running operation's body, a view into mem
}

// recordedPart is one recorded part.
type recordedPart struct {
	kind     batch.Kind
	declared bool // the operation said a Content-Length
	fields   int32
	index    int32 // the part's index, for messages
	at       int   // in arena
	end      int   // in arena, after the body's length in decimal
	li       int   // in lens
	body     int64 // in mem: where the body starts
}

const (
	// recordedPartSize is what a recordedPart costs, for the recording's bound.
	recordedPartSize = 48
	// recordingSlack is what a recording may take beyond the bytes of its batch,
	// so that a small batch of small operations, which costs more to
	// record than it has bytes, is recorded too.
	recordingSlack = 4 << 10
)

// start prepares pl to record a batch held in mem, or not to record (mem
// nil: the batch is in a file).
func (pl *recording) start(mem []byte) {
	*pl = recording{on: mem != nil, limit: len(mem) + recordingSlack, mem: mem,
		parts: pl.parts[:0], lens: pl.lens[:0], arena: pl.arena[:0]}
}

// add records part p; body is the input offset of an operation's body.
func (pl *recording) add(p *batch.Part, body int64) {
	if !pl.on {
		return
	}
	pp := recordedPart{kind: p.Kind(), index: int32(p.Index())}
	if pp.kind == batch.KindOperation {
		id, _ := p.ContentID()
		hdr := p.Header()
		m, proto, target := p.Method(), p.Proto(), p.Target()
		pp.declared = p.ContentLength() >= 0
		pp.fields = int32(len(hdr))
		pp.at, pp.li, pp.body = len(pl.arena), len(pl.lens), body
		a := pl.arena
		a = append(a, m...)
		a = append(a, proto...)
		a = append(a, target...)
		a = append(a, id...)
		lens := append(pl.lens, len(m), len(proto), len(target), len(id))
		for _, f := range hdr {
			a = append(a, f.Name...)
			a = append(a, f.Value...)
			lens = append(lens, len(f.Name), len(f.Value))
		}
		pl.arena, pl.lens = a, lens
	}
	pl.parts = append(pl.parts, pp)
	if len(pl.arena)+8*len(pl.lens)+recordedPartSize*len(pl.parts) > pl.limit {
		pl.on = false
	}
}

// ended records the body length n of the operation just added, which
// must be followed in mem by a delimiter line: its line break, unless the
// body is empty, and its dashes.
func (pl *recording) ended(n int64) {
	if !pl.on {
		return
	}
	pp := &pl.parts[len(pl.parts)-1]
	if end := pp.body + n; end > int64(len(pl.mem)) || !delimiterAt(pl.mem[end:], n == 0) {
		pl.on = false
		return
	}
	if n > 0 || pp.declared {
		pl.arena = strconv.AppendInt(pl.arena, n, 10)
	}
	pp.end = len(pl.arena)
}

// delimiterAt reports whether b starts with a delimiter line's line break
// (CRLF or LF; optional when empty, as the line break that ends a header
// block is also the delimiter's) and its two dashes.
func delimiterAt(b []byte, empty bool) bool {
	switch {
	case len(b) >= 2 && b[0] == '\r' && b[1] == '\n':
		b = b[2:]
	case len(b) >= 1 && b[0] == '\n':
		b = b[1:]
	case !empty:
		return false
	}
	return len(b) >= 2 && b[0] == '-' && b[1] == '-'
}

// bodyCheck is the writer pass 1 copies a body to when it records a recording:
// it checks that the body lies in mem where the recording says it starts,
// which the recording's use of mem in pass 2 relies on. The decoder hands
// a body on as the bytes of its input, unchanged: each piece is checked
// to fit in mem and to agree with it at both ends, and ended checks that
// the body ends where a delimiter line starts. Comparing every byte cost
// as much as finding the delimiter; TestHandlerRecordingAsDecoder compares
// what next gets from the recording and from the decoder.
type bodyCheck struct {
	pl  *recording
	off int64
}

func (c *bodyCheck) Write(b []byte) (int, error) {
	pl := c.pl
	if n := int64(len(b)); pl.on && n > 0 {
		if c.off > int64(len(pl.mem))-n || pl.mem[c.off] != b[0] || pl.mem[c.off+n-1] != b[n-1] {
			pl.on = false
		}
	}
	c.off += int64(len(b))
	return len(b), nil
}

// nextPart returns the kind of the next recorded part, and for an
// operation fills e with its embedded request (length is its body's); it
// returns io.EOF after the last one.
func (pl *recording) nextPart(e *embedded, length int64) (batch.Kind, error) {
	if pl.next == len(pl.parts) {
		return 0, io.EOF
	}
	pp := &pl.parts[pl.next]
	pl.next++
	if pp.kind != batch.KindOperation {
		return pp.kind, nil
	}
	a, lens := pl.arena[pp.at:pp.end:pp.end], pl.lens[pp.li:pp.li+4+2*int(pp.fields)]
	m, a := a[:lens[0]], a[lens[0]:]
	proto, a := a[:lens[1]], a[lens[1]:]
	if pl.str == "" {
		// The request strings of every operation, in one piece.
		pl.str = string(pl.arena)
	}
	str := pl.str[pp.at+lens[0]+lens[1] : pp.end]
	target, a := a[:lens[2]], a[lens[2]:]
	id := a[:lens[3]]
	// Field by field: a composite literal is built aside and copied.
	e.method, e.proto, e.target, e.id, e.header = m, proto, target, id, nil
	e.declared, e.length, e.index, e.str, e.fl, e.body = pp.declared, length, int(pp.index), str, lens[4:], nil
	if length > 0 {
		pl.body.Reset(pl.mem[pp.body : pp.body+length])
		e.body = &pl.body
	}
	return batch.KindOperation, nil
}

// release drops what pl points to, keeping its scratch space unless it
// grew large.
func (pl *recording) release() {
	keep := cap(pl.arena)+8*cap(pl.lens)+recordedPartSize*cap(pl.parts) <= 256<<10
	if !keep {
		*pl = recording{}
		return
	}
	*pl = recording{parts: pl.parts[:0], lens: pl.lens[:0], arena: pl.arena[:0]}
}
