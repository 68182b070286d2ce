package jsonbatch

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"unicode/utf8"
)

// The decoder reads each item in two passes over bytes it holds, both pure
// functions over []byte so that every case is tested without a reader
// (STYLE.md rule 4):
//
//  1. scanExtent finds where a value ends, resumably: it is called again
//     with more bytes and carries on where it stopped, so a slow reader or a
//     large item costs one scan, never a rescan from the start.
//  2. parser validates the complete value (RFC 8259 grammar, escapes,
//     UTF-8) and picks out the item's members. It answers "valid",
//     "invalid at offset N", or errNeedMore when the bytes end first.
//
// The first pass only counts brackets outside strings; the second is the
// authority on syntax. When the first pass stops early (the input ended, a
// limit was hit), the second runs over what was read so that an earlier
// syntax error is reported where it is.

// Answers of scanExtent.
const (
	extMore    = iota // the bytes end inside the value
	extDone           // the value ends at extent.p
	extTooDeep        // a bracket at extent.p nests deeper than the limit
)

// extent is scanExtent's state between calls.
type extent struct {
	p      int  // bytes of the value scanned so far
	depth  int  // open brackets
	inStr  bool // inside a string
	esc    bool // the byte at p is escaped
	scalar bool // the value is a number or a literal
}

// scanExtent continues scanning the value that b starts with (b[0] is its
// first byte) from st.p. A number or literal ends before the first byte that
// cannot belong to it; at the end of b it needs more, as a value inside the
// document is always followed by a comma or a closing bracket.
func scanExtent(b []byte, st *extent, maxDepth int) int {
	p := st.p
	if p == 0 {
		if len(b) == 0 {
			return extMore
		}
		switch b[0] {
		case '"':
			st.inStr = true
		case '{', '[':
			st.depth = 1
			if maxDepth < 1 {
				return extTooDeep
			}
		default:
			st.scalar = true
		}
		p = 1
	}
	if st.scalar {
		for ; p < len(b); p++ {
			if isDelim(b[p]) {
				st.p = p
				return extDone
			}
		}
		st.p = p
		return extMore
	}
	for {
		if st.inStr {
			if st.esc {
				if p >= len(b) {
					st.p = p
					return extMore
				}
				p++
				st.esc = false
			}
			// Most strings are short: look at up to 16 bytes one at a
			// time before handing the rest to IndexByte.
			for k := min(p+16, len(b)); p < k && b[p] != '"' && b[p] != '\\'; p++ {
			}
			for {
				rest := b[p:]
				q := bytes.IndexByte(rest, '"')
				var bs int
				if q < 0 {
					bs = bytes.IndexByte(rest, '\\')
				} else {
					bs = bytes.IndexByte(rest[:q], '\\')
				}
				if bs >= 0 {
					p += bs + 1
					if p >= len(b) {
						st.esc = true
						st.p = p
						return extMore
					}
					p++
					continue
				}
				if q < 0 {
					st.p = len(b)
					return extMore
				}
				p += q + 1
				st.inStr = false
				break
			}
			if st.depth == 0 {
				st.p = p
				return extDone
			}
		}
		for p < len(b) {
			c := b[p]
			p++
			if !structural[c] {
				continue
			}
			switch c {
			case '"':
				st.inStr = true
			case '{', '[':
				st.depth++
				if st.depth > maxDepth {
					st.p = p - 1
					return extTooDeep
				}
			default: // '}', ']'
				st.depth--
				if st.depth == 0 {
					st.p = p
					return extDone
				}
			}
			if st.inStr {
				break
			}
		}
		if !st.inStr {
			st.p = p
			return extMore
		}
	}
}

// structural marks the bytes scanExtent looks at outside strings.
var structural = func() (t [256]bool) {
	for _, c := range `"{}[]` {
		t[c] = true
	}
	return t
}()

// isDelim reports whether c ends a number or a literal.
func isDelim(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', ',', ']', '}', ':':
		return true
	}
	return false
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

// strSafe marks the bytes a string holds without a closer look: printable
// ASCII other than the quote and the backslash.
var strSafe = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// parser is the second pass: a strict recursive-descent reader of complete
// values held in b. Its methods return false on failure and record the first
// error (err, off, detail); err is errNeedMore when b ends inside a value.
type parser struct {
	b        []byte
	i        int
	depth    int
	maxDepth int

	err    error
	off    int
	detail string
}

func (p *parser) fail(off int, err error, detail string) bool {
	if p.err == nil {
		p.err, p.off, p.detail = err, off, detail
	}
	return false
}

func (p *parser) needMore() bool { return p.fail(len(p.b), errNeedMore, "") }

func (p *parser) syntax(off int, detail string) bool { return p.fail(off, ErrSyntax, detail) }

// unexpected fails for the byte at p.i, or needs more at the end of b.
func (p *parser) unexpected(want string) bool {
	if p.i >= len(p.b) {
		return p.needMore()
	}
	return p.syntax(p.i, "invalid character "+quoteByte(p.b[p.i])+", want "+want)
}

func quoteByte(c byte) string {
	if c == '\'' {
		return `'\''`
	}
	return strconv.QuoteRune(rune(c))
}

func (p *parser) ws() {
	// Compact JSON has no whitespace: one comparison says so.
	for p.i < len(p.b) && p.b[p.i] <= ' ' && isSpace(p.b[p.i]) {
		p.i++
	}
}

// expect skips whitespace and then the byte c.
func (p *parser) expect(c byte, want string) bool {
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return p.unexpected(want)
}

// str reads the string at p.i (which holds '"'). It returns the span of the
// contents between the quotes and whether they hold escapes.
func (p *parser) str() (s, e int, esc, ok bool) {
	b := p.b
	i := p.i + 1
	s = i
	for {
		// Most strings are short: up to eight bytes one at a time, then
		// eight bytes at a time while none needs a closer look, then one
		// at a time up to the one that does.
		for k := min(i+8, len(b)); i < k && strSafe[b[i]]; i++ {
		}
		if i < len(b) && strSafe[b[i]] {
			for i+8 <= len(b) && !special8(binary.LittleEndian.Uint64(b[i:])) {
				i += 8
			}
			for i < len(b) && strSafe[b[i]] {
				i++
			}
		}
		if i >= len(b) {
			return 0, 0, false, p.needMore()
		}
		switch c := b[i]; {
		case c == '"':
			p.i = i + 1
			return s, i, esc, true
		case c == '\\':
			esc = true
			if i+1 >= len(b) {
				return 0, 0, false, p.needMore()
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				for k := i + 2; k < i+6; k++ {
					if k >= len(b) {
						return 0, 0, false, p.needMore()
					}
					if unhex(b[k]) < 0 {
						return 0, 0, false, p.syntax(k, "invalid \\u escape")
					}
				}
				i += 6
			default:
				return 0, 0, false, p.syntax(i, "invalid escape "+quoteByte(b[i+1]))
			}
		case c < 0x20:
			return 0, 0, false, p.syntax(i, "control character "+quoteByte(c)+" in string")
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				if !utf8.FullRune(b[i:]) {
					return 0, 0, false, p.needMore()
				}
				return 0, 0, false, p.syntax(i, "invalid UTF-8 in string")
			}
			i += size
		}
	}
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// special8 reports whether any of the eight bytes in x is not strSafe: below
// 0x20, a quote, a backslash, or 0x80 and above. (The usual SWAR tests:
// each sets the high bit of a byte that is zero or below n, with no false
// positive when no byte is.)
func special8(x uint64) bool {
	q := x ^ ('"' * ones)
	bs := x ^ ('\\' * ones)
	return ((x-0x20*ones)&^x|(q-ones)&^q|(bs-ones)&^bs|x)&highs != 0
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}

// value skips the value at p.i, validating it. Nested containers are
// walked with an explicit stack rather than by recursion: a JSON body is
// mostly small tokens, and a call per token would cost more than the token.
func (p *parser) value() bool {
	var (
		small [2]uint64
		objs  = small[:] // bit n: the container at level n is an object
		b     = p.b
		i     = p.i
		base  = p.depth // the depth outside the value
		d     = base
		lvl   int
		c     byte
		isObj bool
	)
value:
	if i >= len(b) {
		p.i = i
		return p.needMore()
	}
	switch c = b[i]; c {
	case '{', '[':
		if d+1 > p.maxDepth {
			return p.fail(i, ErrTooDeep, "")
		}
		lvl = d - base
		d++
		if lvl/64 >= len(objs) {
			// Deeper than 128 levels, only with a MaxDepth above the
			// default.
			objs = append(objs, 0)
		}
		if c == '{' {
			objs[lvl/64] |= 1 << (lvl % 64)
		} else {
			objs[lvl/64] &^= 1 << (lvl % 64)
		}
		i++
		for i < len(b) && b[i] <= ' ' && isSpace(b[i]) {
			i++
		}
		if i < len(b) && (c == '{' && b[i] == '}' || c == '[' && b[i] == ']') {
			i++
			d--
			goto after
		}
		if c == '{' {
			goto key
		}
		goto value
	case '"':
		p.i = i
		if _, _, _, ok := p.str(); !ok {
			return false
		}
	case 't':
		p.i = i
		if !p.literal("true") {
			return false
		}
	case 'f':
		p.i = i
		if !p.literal("false") {
			return false
		}
	case 'n':
		p.i = i
		if !p.literal("null") {
			return false
		}
	default:
		p.i = i
		if c == '-' || '0' <= c && c <= '9' {
			if !p.number() {
				return false
			}
		} else {
			return p.unexpected("a value")
		}
	}
	i = p.i
after:
	if d == base {
		p.i = i
		return true
	}
	for i < len(b) && b[i] <= ' ' && isSpace(b[i]) {
		i++
	}
	lvl = d - base - 1
	isObj = objs[lvl/64]&(1<<(lvl%64)) != 0
	if i < len(b) {
		switch b[i] {
		case ',':
			i++
			if isObj {
				goto key
			}
			for i < len(b) && b[i] <= ' ' && isSpace(b[i]) {
				i++
			}
			goto value
		case '}':
			if isObj {
				i++
				d--
				goto after
			}
		case ']':
			if !isObj {
				i++
				d--
				goto after
			}
		}
	}
	p.i = i
	if isObj {
		return p.unexpected("',' or '}'")
	}
	return p.unexpected("',' or ']'")
key:
	for i < len(b) && b[i] <= ' ' && isSpace(b[i]) {
		i++
	}
	p.i = i
	if i >= len(b) || b[i] != '"' {
		return p.unexpected("a member name")
	}
	if _, _, _, ok := p.str(); !ok {
		return false
	}
	if !p.expect(':', "':'") {
		return false
	}
	p.ws()
	i = p.i
	goto value
}

func (p *parser) literal(word string) bool {
	rest := p.b[p.i:]
	for k := 0; k < len(word); k++ {
		if k >= len(rest) {
			return p.needMore()
		}
		if rest[k] != word[k] {
			return p.syntax(p.i+k, "invalid literal, want "+word)
		}
	}
	p.i += len(word)
	return true
}

// number reads a number. One that reaches the end of b needs more: inside
// the document, a number is always followed by another byte.
func (p *parser) number() bool {
	b, i := p.b, p.i
	if b[i] == '-' {
		i++
	}
	if i < len(b) && b[i] == '0' {
		i++
	} else {
		if i = p.digits(i); i < 0 {
			return false
		}
	}
	if i < len(b) && b[i] == '.' {
		if i = p.digits(i + 1); i < 0 {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i = p.digits(i); i < 0 {
			return false
		}
	}
	if i >= len(b) {
		return p.needMore()
	}
	p.i = i
	return true
}

// digits skips one or more digits from i and returns the index after them,
// or -1 on failure.
func (p *parser) digits(i int) int {
	b := p.b
	if i >= len(b) {
		p.needMore()
		return -1
	}
	if b[i] < '0' || b[i] > '9' {
		p.syntax(i, "invalid character "+quoteByte(b[i])+" in number")
		return -1
	}
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}

func (p *parser) enter() bool {
	p.depth++
	if p.depth > p.maxDepth {
		return p.fail(p.i, ErrTooDeep, "")
	}
	p.i++
	return true
}

// next skips whitespace and a comma (more is true) or the closer (more is
// false, the container is left).
func (p *parser) next(closer byte) (more, ok bool) {
	p.ws()
	if p.i < len(p.b) {
		switch p.b[p.i] {
		case ',':
			p.i++
			return true, true
		case closer:
			p.i++
			p.depth--
			return false, true
		}
	}
	return false, p.unexpected("',' or " + quoteByte(closer))
}
