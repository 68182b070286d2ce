package batch

import (
	"crypto/rand"
	"strings"
)

// maxBoundaryLen is RFC 2046's limit: boundary := 0*69<bchars> bcharsnospace.
const maxBoundaryLen = 70

// bchar reports whether c is one of RFC 2046's bchars:
//
//	bcharsnospace := DIGIT / ALPHA / "'" / "(" / ")" / "+" / "_" / "," / "-" / "." / "/" / ":" / "=" / "?"
//	bchars := bcharsnospace / " "
//
// It is a table lookup: a call to strings.IndexByte for every '-' and '_'
// of a boundary made checking a changeset's boundary cost more than reading
// one of its operations, and the encoder checks every changeset boundary.
func bchar(c byte) bool { return bcharTable[c]&1 != 0 }

// bcharTable holds, for each byte, bit 0: a bchar; bit 1: a bchar that
// must be quoted in a parameter value (needsQuotes).
var bcharTable = func() (t [256]uint8) {
	for c := range 256 {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
			t[c] = 1
		case strings.IndexByte("'+_-.", byte(c)) >= 0:
			t[c] = 1
		case strings.IndexByte(" (),/:=?", byte(c)) >= 0:
			t[c] = 1 | 2
		}
	}
	return t
}()

// maxReadBoundary bounds the boundaries the decoder accepts: past RFC 2046's
// 70, as the .NET reader accepts 246, but finite.
const maxReadBoundary = 200

// readableBoundary reports whether the decoder accepts b as a boundary: 1 to
// maxReadBoundary printable ASCII characters other than '"', not ending in a
// space. Documentation examples write placeholders such as
// "batch_{batchId}"; such a boundary is read, as a deviation ([DevBoundary]).
func readableBoundary[S string | []byte](b S) bool {
	if len(b) == 0 || len(b) > maxReadBoundary || b[len(b)-1] == ' ' {
		return false
	}
	for i := 0; i < len(b); i++ {
		if c := b[i]; c < 0x20 || c > 0x7e || c == '"' {
			return false
		}
	}
	return true
}

// ValidBoundary reports whether b is a boundary RFC 2046 allows: 1 to 70
// bchars, not ending in a space. The encoder writes only such boundaries.
// The decoder reads them and, read tolerantly, others too: any 1 to 200
// printable ASCII characters other than '"', not ending in a space, such as
// the Outlook documentation's "batch_{batchId}", recorded as [DevBoundary].
func ValidBoundary(b string) bool { return validBoundary(b) }

func validBoundary[S string | []byte](b S) bool {
	if len(b) == 0 || len(b) > maxBoundaryLen || b[len(b)-1] == ' ' {
		return false
	}
	for i := 0; i < len(b); i++ {
		if !bchar(b[i]) {
			return false
		}
	}
	return true
}

// ParseContentType returns the lower-cased media type and the boundary
// parameter of a multipart Content-Type value, such as
// `multipart/mixed; boundary=batch_36522ad7` or
// `multipart/batching;boundary="01cf4e5a-4b88"`. Parameter names fold case,
// the boundary may be a quoted-string (its quoted-pairs such as `\_` are
// resolved), and other parameters are ignored. It fails with ErrContentType
// when the type is not multipart/*, has no boundary, or has an unterminated
// quoted-string, and with ErrBoundary when the boundary is one the decoder
// cannot read (see [ErrBoundary]). Read tolerantly: a boundary RFC 2046 does
// not allow but the decoder reads (such as the Outlook documentation's
// "batch_{batchId}") is returned without error; [ValidBoundary] tells them
// apart.
//
// It uses the decoder's own parameter scanner rather than
// mime.ParseMediaType, which allocates a map per call and rejects some
// parameters real servers send.
func ParseContentType(v string) (mediaType, boundary string, err error) {
	mt, params := splitMediaType(v)
	mt = strings.ToLower(mt)
	if !strings.HasPrefix(mt, "multipart/") || len(mt) == len("multipart/") {
		return mt, "", &SyntaxError{Offset: -1, Part: -1, Err: ErrContentType, Detail: "media type " + quote(mt)}
	}
	b, escaped, ok, problem := paramValue(params, "boundary")
	if problem != "" {
		return mt, "", &SyntaxError{Offset: -1, Part: -1, Err: ErrContentType, Detail: problem + " in " + quote(v)}
	}
	if !ok {
		return mt, "", &SyntaxError{Offset: -1, Part: -1, Err: ErrContentType, Detail: "no boundary parameter in " + quote(v)}
	}
	if escaped {
		b = string(appendUnescaped(nil, b))
	}
	if !readableBoundary(b) {
		return mt, "", &SyntaxError{Offset: -1, Part: -1, Err: ErrBoundary, Detail: "boundary " + quote(b)}
	}
	return mt, b, nil
}

// needsQuotes reports whether a valid boundary must be quoted in a
// Content-Type parameter: RFC 2045 tokens exclude space and the tspecials
// "(" ")" "," "/" ":" "=" "?" among the bchars. Writers quote only then,
// because some readers (SAP CAP) find no boundary in boundary="x".
func needsQuotes(b string) bool {
	for i := 0; i < len(b); i++ {
		if bcharTable[b[i]]&2 != 0 {
			return true
		}
	}
	return false
}

// FormatContentType returns `<mediaType>; boundary=<boundary>`, quoting the
// boundary only where RFC 2045 requires it.
func FormatContentType(mediaType, boundary string) string {
	if needsQuotes(boundary) {
		return mediaType + `; boundary="` + boundary + `"`
	}
	return mediaType + "; boundary=" + boundary
}

// NewBoundary returns prefix followed by 32 random hex digits from
// crypto/rand, such as "batch_8f0c…", the form OData writers use. The prefix
// must leave the result a valid boundary; it panics otherwise, as the prefix
// is a constant in every sensible program.
func NewBoundary(prefix string) string {
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		panic("batch: crypto/rand: " + err.Error())
	}
	const hexdig = "0123456789abcdef"
	b := make([]byte, len(prefix), len(prefix)+32)
	copy(b, prefix)
	for _, c := range raw {
		b = append(b, hexdig[c>>4], hexdig[c&15])
	}
	s := string(b)
	if !ValidBoundary(s) {
		panic("batch: NewBoundary: invalid prefix " + quote(prefix))
	}
	return s
}

// quote returns s in double quotes with control bytes escaped, shortened for
// error messages.
func quote(s string) string {
	const max = 80
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s) && i < max; i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			const hexdig = "0123456789abcdef"
			b.WriteString(`\x`)
			b.WriteByte(hexdig[c>>4])
			b.WriteByte(hexdig[c&15])
		default:
			b.WriteByte(c)
		}
	}
	if len(s) > max {
		b.WriteString("...")
	}
	b.WriteByte('"')
	return b.String()
}
