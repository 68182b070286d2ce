package batch

import "bytes"

// This file holds the fast path of header reading: a header block that lies
// whole in the read buffer and is written the ordinary way is parsed in one
// loop without a call per line, and copied into Decoder.meta in one piece.
// readHeaders, line by line, stays the reference: it reads every other
// block, with its deviations and errors, so the fast path only has to
// recognise the blocks it can take, and give up on anything else before it
// changes the decoder.
//
// Reading line by line cost about 400 instructions per header line in
// callgrind (a call to readLine and three to IndexByte, each spilling every
// live register around it, as Go's ABI saves none, and a copy into meta per
// line); operations carry seven or eight lines, which made header reading
// half of the decoder's work on small operations. The loop below looks at
// eight bytes per step (SWAR) for the bytes that end a name or a line.

// scanHeaders parses the header block at the read position into hb and
// reports whether it could. It takes a block only if it lies whole in the
// buffer up to its blank line, every line ends in CRLF, within the line and
// header limits, and no line is folded, delimiter-like ("-" first), without
// a name, with whitespace before its colon, or with a CR of its own: the
// blocks on which readHeaders would record no deviation and return no error
// and no delimiter, and would build the same spans. On false nothing is
// consumed and hb is as it was.
func (d *Decoder) scanHeaders(hb *headerBlock, limit int) bool {
	w := d.buf[d.rp:d.wp]
	saved := *hb
	base := len(d.meta) // where w[0] will be in meta
	used, pos, lines := 0, 0, 0
	for {
		rest := w[pos:]
		i := bytes.IndexByte(rest, '\n')
		// A bare LF, the buffer's end or an overlong line: read it
		// line by line.
		if i < 1 || rest[i-1] != '\r' || i > d.opts.maxLine {
			*hb = saved
			return false
		}
		line := rest[:i-1]
		if len(line) == 0 {
			pos += 2
			break
		}
		used += len(line) + fieldOverhead
		colon := bytes.IndexByte(line, ':')
		if c := line[0]; colon <= 0 || c == ' ' || c == '\t' || c == '-' || isWS(line[colon-1]) || used > limit {
			*hb = saved
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
			offset: d.base + int64(d.rp+pos),
		})
		if k := headerKey(line[:colon]); k != keyOther {
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
	// than a search in every value.
	if lines > 0 && bytes.Count(w[:pos], crByte) != lines+1 {
		*hb = saved
		return false
	}
	d.meta = append(d.meta, w[:pos]...)
	d.rp += pos
	return true
}

var crByte = []byte{'\r'}
