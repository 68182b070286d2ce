package batch

import "bytes"

// This file holds the delimiter scanner: pure functions over bytes, with no
// I/O, so that every case can be tested without a reader (scan_test.go).
//
// RFC 2046 §5.1.1:
//
//	delimiter := CRLF dash-boundary
//	dash-boundary := "--" boundary
//	close-delimiter := delimiter "--"
//	encapsulation := delimiter transport-padding CRLF body-part
//	transport-padding := *LWSP-char
//
// The scanner searches for "--"+boundary, not for CRLF+"--"+boundary: Go's
// bytes.Index runs IndexByte on the needle's first byte, and a needle that
// starts with CR stops at every line of a CRLF body (20× slower when this
// was measured). Each hit is then checked in place: a line break (LF or CRLF, decided
// per line) before it, or the start of the region, and padding and a line
// break, or the end of input, after it. One pass covers CRLF, bare LF and
// mixed bodies, for every open boundary at once (a changeset's and its
// parents').

// maxNeedle is the longest needle bytes.Index searches at full speed
// (internal/bytealg.MaxLen on amd64); longer dash-boundaries are searched by
// their first maxNeedle bytes and verified after.
const maxNeedle = 63

// level is one open multipart level: the batch (index 0) or a changeset.
type level struct {
	dash  []byte // "--" + boundary, owned
	index int    // part index of the changeset's start (-1 for the batch)
}

func (l *level) boundary() []byte { return l.dash[2:] }

func (l *level) needle() []byte {
	if len(l.dash) > maxNeedle {
		return l.dash[:maxNeedle]
	}
	return l.dash
}

// scanResult is the answer of scanDelimiter.
type scanResult struct {
	// n is the number of bytes at the start of the buffer that certainly
	// belong to the region (body, preamble or epilogue) and may be released.
	n int
	// found reports a delimiter line starting at n: its leading line break
	// (if any), the dash-boundary, the optional "--", padding and line break.
	found  bool
	level  int  // index in levels of the boundary that matched
	close  bool // a close delimiter ("--" after the boundary)
	line   int  // length of the delimiter line from n, line breaks included
	dash   int  // offset from n of the "--" that starts the dash-boundary
	bareLF bool // a line break around the delimiter is a bare LF
}

// candidate outcomes
const (
	candNo        = iota // not a delimiter
	candYes              // a delimiter
	candUndecided        // need more input to tell
	candTooLong          // padding runs past the line limit
)

// scanDelimiter finds the first delimiter line of any of levels in buf.
//
// atStart says that buf begins at the start of a line whose line break is not
// in buf (the start of a body, preamble or epilogue): a dash-boundary there is
// a delimiter without a line break before it. eof says that no input follows
// buf. maxLine bounds a delimiter line with its padding.
//
// Without a delimiter, n leaves out the bytes that could still begin one once
// more input arrives (at most a line break and a dash-boundary, or an
// undecided delimiter line), so that no byte of a delimiter is ever released
// as region data. With eof nothing is held back.
func scanDelimiter(buf []byte, levels []level, atStart, eof bool, maxLine int) (scanResult, bool) {
	if len(levels) > 1 {
		return scanLevels(buf, levels, atStart, eof, maxLine)
	}
	// The batch's own level alone. The usual hit, a CRLF delimiter line
	// without padding after a CRLF, is checked in place, without
	// checkCandidate's bookkeeping: that was a third of the work on a
	// small body.
	dash, needle := levels[0].dash, levels[0].needle()
	i := bytes.Index(buf, needle)
	if j := i + len(dash); i >= 2 && j+1 < len(buf) && len(needle) == len(dash) && len(dash) <= maxLine &&
		buf[i-1] == '\n' && buf[i-2] == '\r' && buf[j] == '\r' && buf[j+1] == '\n' {
		return scanResult{n: i - 2, found: true, line: j + 4 - i, dash: 2}, true
	}
	// The same with bare LFs, as Outlook's and SharePoint's samples have
	// them.
	if j := i + len(dash); i >= 1 && j < len(buf) && len(needle) == len(dash) && len(dash) <= maxLine &&
		buf[i-1] == '\n' && (i == 1 || buf[i-2] != '\r') && buf[j] == '\n' {
		return scanResult{n: i - 1, found: true, line: j + 2 - i, dash: 1, bareLF: true}, true
	}
	return scanOne(buf, levels, i, atStart, eof, maxLine)
}

// scanOne is scanDelimiter for the batch's own level alone, from i, the
// first hit of its needle in buf (-1 for none).
func scanOne(buf []byte, levels []level, i int, atStart, eof bool, maxLine int) (scanResult, bool) {
	dash, needle := levels[0].dash, levels[0].needle()
	for i >= 0 {
		r, outcome := checkCandidate(buf, i, dash, atStart, eof, maxLine)
		switch outcome {
		case candTooLong:
			return scanResult{n: r.n}, false
		case candUndecided:
			return scanResult{n: r.n}, true
		case candYes:
			r.found = true
			return r, true
		}
		k := bytes.Index(buf[i+1:], needle)
		if k < 0 {
			break
		}
		i += 1 + k
	}
	if eof {
		return scanResult{n: len(buf)}, true
	}
	return scanResult{n: partialTail(buf, levels, atStart)}, true
}

// scanLevels is scanDelimiter inside a changeset, with the answers of a
// search of each level in turn (scanReference in scan_test.go):
// one pass over buf for the prefix all the dash-boundaries share ("--" at
// least), each hit checked against every level, where scanDelimiter's loop
// over levels searched a body once for the changeset's boundary and again,
// up to that hit, for the batch's (twice the bytes.Index work on every
// operation of a changeset). The first hit where some level reads a
// delimiter line, an undecided one or one with too much padding decides,
// as a later hit starts a later line.
//
// A body full of the shared prefix ("----") costs a few compares per byte
// here, where bytes.Index would switch to its vectorised search: still
// linear.
func scanLevels(buf []byte, levels []level, atStart, eof bool, maxLine int) (scanResult, bool) {
	prefix := levels[0].needle()
	for li := 1; li < len(levels); li++ {
		nd := levels[li].needle()
		k := 0
		for k < len(prefix) && k < len(nd) && prefix[k] == nd[k] {
			k++
		}
		prefix = prefix[:k]
	}
	for from := 0; from < len(buf); {
		i := bytes.Index(buf[from:], prefix)
		if i < 0 {
			break
		}
		i += from
		from = i + 1
		best := scanResult{n: -1}
		hold, tooLong := -1, -1
		for li := len(levels) - 1; li >= 0; li-- {
			lv := &levels[li]
			nd := lv.needle()
			if !bytes.HasPrefix(buf[i:], nd) {
				continue
			}
			// The usual hit, as in scanDelimiter, unless an inner
			// level read this line first ("--b--" closes b before it
			// opens b--). No outer level can read it otherwise: its
			// dash-boundary would be a prefix of this one, and a CRLF
			// follows.
			if j := i + len(nd); best.n < 0 && hold < 0 && tooLong < 0 &&
				i >= 2 && j+1 < len(buf) && len(nd) == len(lv.dash) && len(nd) <= maxLine &&
				buf[i-1] == '\n' && buf[i-2] == '\r' && buf[j] == '\r' && buf[j+1] == '\n' {
				return scanResult{n: i - 2, found: true, level: li, line: j + 4 - i, dash: 2}, true
			}
			r, outcome := checkCandidate(buf, i, lv.dash, atStart, eof, maxLine)
			switch outcome {
			case candTooLong:
				tooLong = minPos(tooLong, r.n)
			case candUndecided:
				hold = minPos(hold, r.n)
			case candYes:
				if best.n < 0 || r.n < best.n {
					r.level = li
					r.found = true
					best = r
				}
			}
		}
		if tooLong >= 0 && (best.n < 0 || tooLong < best.n) && (hold < 0 || tooLong < hold) {
			return scanResult{n: tooLong}, false
		}
		if best.n >= 0 && (hold < 0 || best.n < hold) {
			return best, true
		}
		if hold >= 0 {
			return scanResult{n: hold}, true
		}
	}
	if eof {
		return scanResult{n: len(buf)}, true
	}
	return scanResult{n: partialTail(buf, levels, atStart)}, true
}

func minPos(a, b int) int {
	switch {
	case a < 0:
		return b
	case b < 0:
		return a
	case a < b:
		return a
	}
	return b
}

// checkCandidate judges the dash-boundary needle found at buf[i:]. On
// candYes and candUndecided, r.n is where the delimiter line starts (its
// leading line break included); on candTooLong, r.n is that start too.
func checkCandidate(buf []byte, i int, dash []byte, atStart, eof bool, maxLine int) (r scanResult, outcome int) {
	// The line break before the dash-boundary belongs to the delimiter.
	ls := i
	switch {
	case i == 0:
		if !atStart {
			return r, candNo
		}
	case buf[i-1] == '\n':
		ls = i - 1
		if ls > 0 && buf[ls-1] == '\r' {
			ls--
		} else {
			// No CR can precede it outside buf: a CR is never released
			// while a line break and a dash-boundary may follow it.
			r.bareLF = true
		}
	default:
		return r, candNo
	}
	r.n = ls
	r.dash = i - ls
	j := i + len(dash)
	if j > len(buf) {
		// Only possible for needles cut to maxNeedle.
		if eof {
			return r, candNo
		}
		return r, candUndecided
	}
	if len(dash) > maxNeedle && !bytes.Equal(buf[i:j], dash) {
		return r, candNo
	}
	t, outcome := matchDelimiter(buf[j:], eof)
	if j+t.pad-i > maxLine {
		// Padding past the line limit is refused wherever it ends, so
		// that the answer does not depend on how much the buffer held.
		return r, candTooLong
	}
	if outcome == candYes {
		r.close = t.close
		r.line = j + t.n - ls
		r.bareLF = r.bareLF || t.bareLF
	}
	return r, outcome
}

// delimTail is what follows the dash-boundary on a delimiter line.
type delimTail struct {
	close  bool // "--" follows the boundary: a close delimiter
	pad    int  // where the transport padding ends, "--" included
	n      int  // length of the tail, its line break included (none at the end of input)
	bareLF bool // the line break is a bare LF
}

// matchDelimiter is the grammar of a delimiter line after its dash-boundary,
// the one place it is written down. RFC 2046's
//
//	delimiter transport-padding CRLF  /  close-delimiter transport-padding [CRLF]
//
// read tolerantly, with the line break decided on this line alone:
//
//	tail := [ "--" ] *( SP / HTAB ) ( CRLF / LF / end of input )
//
// after is what follows the dash-boundary, up to the end of the input seen so
// far; eof says no input follows it. The outcome is candYes with t's extent,
// candNo, or candUndecided when after ends before the answer is known ("--b-"
// may become "--b--", "--b \r" may become "--b \r\n"). t.pad is set in every
// case but a lone "-". Anything else after the boundary, such as "--batch_Xyz"
// for boundary batch_X, is no delimiter: a boundary may be a prefix of
// another.
func matchDelimiter(after []byte, eof bool) (t delimTail, outcome int) {
	j := 0
	// "--" makes a close delimiter; a lone "-" may be its first half.
	if len(after) >= 2 && after[0] == '-' && after[1] == '-' {
		t.close = true
		j = 2
	} else if len(after) > 0 && after[0] == '-' {
		if len(after) == 1 && !eof {
			return t, candUndecided
		}
		return t, candNo
	}
	for j < len(after) && isWS(after[j]) {
		j++
	}
	t.pad = j
	if j == len(after) {
		if !eof {
			return t, candUndecided
		}
		t.n = j
		return t, candYes
	}
	switch after[j] {
	case '\n':
		t.n, t.bareLF = j+1, true
		return t, candYes
	case '\r':
		if j+1 == len(after) {
			if eof {
				return t, candNo
			}
			return t, candUndecided
		}
		if after[j+1] == '\n' {
			t.n = j + 2
			return t, candYes
		}
	}
	return t, candNo
}

// partialTail returns the length of buf without its longest suffix that could
// begin a delimiter line once more input arrives: a line break followed by a
// prefix of some dash-boundary, or, at the start of a region, a prefix of a
// dash-boundary alone.
func partialTail(buf []byte, levels []level, atStart bool) int {
	longest := 0
	for i := range levels {
		if len(levels[i].dash) > longest {
			longest = len(levels[i].dash)
		}
	}
	start := len(buf) - longest - 2
	if start < 0 {
		start = 0
	}
	if atStart && len(buf) < longest && prefixOfAny(buf, levels) {
		return 0
	}
	for k := start; k < len(buf); k++ {
		c := buf[k]
		if c != '\r' && c != '\n' {
			continue
		}
		rest := buf[k+1:]
		if c == '\r' {
			if len(rest) == 0 {
				return k
			}
			if rest[0] != '\n' {
				continue
			}
			rest = rest[1:]
		}
		if prefixOfAny(rest, levels) {
			return k
		}
	}
	return len(buf)
}

// prefixOfAny reports whether b is a prefix of some level's dash-boundary
// (shorter than it, as a whole one would have been found by the search).
func prefixOfAny(b []byte, levels []level) bool {
	for i := range levels {
		d := levels[i].dash
		if len(b) < len(d) && bytes.HasPrefix(d, b) {
			return true
		}
	}
	return false
}

// delimiterLine reports whether line (a whole line, without its line break)
// is a delimiter line of one of levels, innermost first, and whether it
// closes.
func delimiterLine(line []byte, levels []level) (li int, close, ok bool) {
	if len(line) < 3 || line[0] != '-' || line[1] != '-' {
		return 0, false, false
	}
	for li = len(levels) - 1; li >= 0; li-- {
		d := levels[li].dash
		if !bytes.HasPrefix(line, d) {
			continue
		}
		if t, outcome := matchDelimiter(line[len(d):], true); outcome == candYes {
			return li, t.close, true
		}
	}
	return 0, false, false
}

// maxStray is how much of a stray delimiter-like line is kept for an error
// message.
const maxStray = 80

// strayLine remembers the first line of a preamble that looks like a
// delimiter line ("--" and a printable byte at the start of a line) without
// being one, so that input with no delimiter at all can name it: most often
// the delimiter of another boundary than the one given. It is fed every
// preamble byte in order, in chunks of any size, and keeps a fixed array:
// no allocation, and the same answer however the input was chunked.
type strayLine struct {
	line   [maxStray + 2]byte // the line, with room to tell a CR and an overlong line
	n      int                // bytes in line
	offset int64              // input offset of the line
	state  uint8              // where feed is in the current line
	done   bool               // the line is kept: feed ignores the rest
}

// strayLine states while looking at the start of a line
const (
	strayStart   = iota // at the start of a line
	strayDash1          // after "-"
	strayDash2          // after "--"
	strayKeep           // keeping a delimiter-like line
	strayNotLine        // in a line that is not delimiter-like
)

// feed looks at p, the next bytes of the preamble, which start at input
// offset off.
func (s *strayLine) feed(p []byte, off int64) {
	for i := 0; i < len(p) && !s.done; i++ {
		c := p[i]
		switch s.state {
		case strayStart:
			if c == '-' {
				s.state = strayDash1
				s.offset = off + int64(i)
				continue
			}
		case strayDash1:
			if c == '-' {
				s.state = strayDash2
				continue
			}
		case strayDash2:
			if c > ' ' && c < 0x7f {
				s.line[0], s.line[1], s.line[2] = '-', '-', c
				s.n = 3
				s.state = strayKeep
				continue
			}
		case strayKeep:
			if c == '\n' {
				if s.line[s.n-1] == '\r' {
					s.n--
				}
				s.done = true
				return
			}
			s.line[s.n] = c
			s.n++
			if s.n == len(s.line) {
				s.done = true // too long: enough is known
			}
			continue
		case strayNotLine:
			// Skip to the next line.
			j := bytes.IndexByte(p[i:], '\n')
			if j < 0 {
				return
			}
			i += j
			s.state = strayStart
			continue
		}
		// Not delimiter-like: wait for the next line.
		s.state = strayNotLine
		if c == '\n' {
			s.state = strayStart
		}
	}
}

// text returns the line kept without its line break, or "" if none; cut
// reports that it was longer than maxStray bytes and is shortened to them.
func (s *strayLine) text() (line string, cut bool) {
	if s.state != strayKeep {
		return "", false
	}
	n := s.n
	if n > maxStray {
		return string(s.line[:maxStray]), true
	}
	if s.line[n-1] == '\r' {
		n-- // the input ended after a CR
	}
	return string(s.line[:n]), false
}
