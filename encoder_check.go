package batch

// This file holds the byte-level checks the encoder makes of every
// operation it writes. They run once per method, name and value of every
// operation, so they are tables and word-at-a-time tests rather than
// per-byte conditions. validateOperation, which words the errors, uses the
// token checks too and checks values by the same rule (checkValue);
// TestAppendValue and TestAppendOperationAgrees check that the fast path
// and the error path refuse the same operations.

// Classes of a byte in a header name, for validToken and appendName. The
// high nibble of an entry is the mask appendName applies to the next byte:
// after a hyphen a lower-case letter is out of place, after anything else
// an upper-case one.
const (
	classNotToken = 1 << iota // not an RFC 9110 tchar
	classLower                // a-z
	classUpper                // A-Z

	afterHyphen = (classNotToken | classLower) << 4
	afterOther  = (classNotToken | classUpper) << 4
)

// nameClass is the class of each byte, with the mask for the next one.
var nameClass = func() (t [256]uint8) {
	for c := range 256 {
		switch {
		case 'a' <= c && c <= 'z':
			t[c] = classLower
		case 'A' <= c && c <= 'Z':
			t[c] = classUpper
		case '0' <= c && c <= '9':
		case c < 0x80 && isTchar[c]:
		default:
			t[c] = classNotToken
		}
		if c == '-' {
			t[c] |= afterHyphen
		} else {
			t[c] |= afterOther
		}
	}
	return t
}()

// isTchar marks RFC 9110's tchars other than letters and digits.
var isTchar = [128]bool{'!': true, '#': true, '$': true, '%': true, '&': true, '\'': true, '*': true,
	'+': true, '-': true, '.': true, '^': true, '_': true, '`': true, '|': true, '~': true}

// validToken reports whether s is an RFC 9110 token:
//
//	token = 1*tchar
//	tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
//	        "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if nameClass[s[i]]&classNotToken != 0 {
			return false
		}
	}
	return true
}

// validMethod reports whether m is a token, as a method must be; the
// methods of nearly every request cost a comparison.
func validMethod(m string) bool {
	switch m {
	case "GET", "POST", "PUT", "PATCH", "DELETE":
		return true
	}
	return validToken(m)
}

// appendName appends the token name in canonical form, the first letter
// and each letter after a hyphen upper case, the others lower case (what
// textproto.CanonicalMIMEHeaderKey gives, without allocating), and reports
// whether name is a token; if it is not, b holds part of it. The names
// nearly every answer carries cost a comparison; others one table lookup
// per byte, which both checks and canonicalises, in place.
func appendName(b []byte, name string) ([]byte, bool) {
	switch len(name) {
	case 0:
		return b, false
	case len("Etag"):
		if name == "Etag" || name == "Date" {
			return append(b, name...), true
		}
	case len("Location"):
		if name == "Location" {
			return append(b, name...), true
		}
	case len("Content-Type"):
		if name == "Content-Type" {
			return append(b, name...), true
		}
	case len("Cache-Control"):
		if name == "Cache-Control" {
			return append(b, name...), true
		}
		if name == "OData-Version" { // as OData spells it, in every message
			return append(b, "Odata-Version"...), true
		}
	case len("Content-Length"):
		if name == "Content-Length" {
			return append(b, name...), true
		}
	}
	start := len(b)
	b = append(b, name...)
	n := b[start:]
	m := uint8(afterHyphen >> 4) // the first letter is upper case
	for i := range n {
		c := nameClass[n[i]]
		if c&m != 0 {
			if c&classNotToken != 0 {
				return b, false
			}
			n[i] ^= 'a' - 'A' // a letter in the wrong case
		}
		m = c >> 4
	}
	return b, true
}

// appendCanonical appends the token name in canonical form (appendName).
func appendCanonical(b []byte, name string) []byte {
	b, _ = appendName(b, name)
	return b
}

// Word-at-a-time tests, on eight bytes read little-endian: "hasless" and
// "haszero" of Bit Twiddling Hacks. They are exact as to whether any byte
// of the word qualifies, though not as to which.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// word returns s[0:8] as a little-endian uint64; the compiler makes it one
// load.
func word[T string | []byte](s T) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// hasBelow reports whether a byte of w is below n (n <= 0x80) or is DEL
// (0x7f): "hasless" and "haszero" of w ^ 0x7f…, each exact as to whether
// any byte qualifies, so their union is too.
func hasBelow(w uint64, n byte) bool {
	x := w ^ 0x7f*ones
	return ((w-uint64(n)*ones)&^w|(x-ones)&^x)&highs != 0
}

// hasCTL reports whether a byte of w is a control byte: below the space, or
// DEL.
func hasCTL(w uint64) bool { return hasBelow(w, ' ') }

// noControlBytes reports whether v holds no control byte other than HTAB:
// what RFC 9110's field-value allows, byte by byte, for the words that
// appendValue's word test flags.
func noControlBytes[T string | []byte](v T) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// appendValue appends v and reports whether it may be written as a field
// value; checkValue says what is wrong with it when it may not. It checks
// v a word at a time; the last word is the last eight bytes of b, reaching
// back over what precedes v, so that a short value costs one word, not a
// loop. A word that may hold a control byte (a control byte before v, or an
// HTAB, is one) sends its bytes of v to a byte loop, which decides.
func appendValue(b []byte, v string) ([]byte, bool) {
	if v == "" {
		return b, true
	}
	if isSpace(v[0]) || isSpace(v[len(v)-1]) {
		return b, false
	}
	b = append(b, v...)
	for ; len(v) >= 8; v = v[8:] {
		if hasCTL(word(v)) && !noControlBytes(v[:8]) {
			return b, false
		}
	}
	if v == "" || len(b) >= 8 && !hasCTL(word(b[len(b)-8:])) {
		return b, true
	}
	return b, noControlBytes(v)
}

// validTarget reports whether t may be written as a request target: not
// empty, no space and no control byte.
func validTarget(t string) bool {
	if t == "" {
		return false
	}
	for len(t) >= 8 {
		if hasBelow(word(t), ' '+1) {
			return false
		}
		t = t[8:]
	}
	return noCTLOrSpace(t)
}

// appendTarget appends t and reports whether it may be written as a
// request target (validTarget); a short tail is checked as appendValue
// checks one, within t.
func appendTarget(b []byte, t string) ([]byte, bool) {
	if len(t) < 8 {
		return append(b, t...), t != "" && noCTLOrSpace(t)
	}
	for i := 0; i+8 <= len(t); i += 8 {
		if hasBelow(word(t[i:]), ' '+1) {
			return b, false
		}
	}
	if hasBelow(word(t[len(t)-8:]), ' '+1) {
		return b, false
	}
	return append(b, t...), true
}

func noCTLOrSpace(t string) bool {
	for i := 0; i < len(t); i++ {
		if c := t[i]; c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}
