package batch

import (
	"errors"
	"strings"
	"testing"
)

// This file tests ParseContentType and the boundary checks, one table each.
// Rows are named after the quirk of the README's quirks table they cover, or
// after the rule they check.

func TestParseContentType(t *testing.T) {
	for _, tc := range []struct {
		name, in     string
		mt, boundary string
		err          error
	}{
		{"quirk 9 unquoted", "multipart/mixed; boundary=batch_36522ad7", "multipart/mixed", "batch_36522ad7", nil},
		{"quirk 9 quoted with specials", `multipart/mixed; boundary="b'()+_,-./:=? end"`, "multipart/mixed", "b'()+_,-./:=? end", nil},
		{"quirk 9 quoted-pair resolved", `multipart/mixed; boundary="batch\_1"`, "multipart/mixed", "batch_1", nil},
		{"quirk 9 70 characters", "multipart/mixed; boundary=" + strings.Repeat("a", 70), "multipart/mixed", strings.Repeat("a", 70), nil},
		{"quirk 9 Outlook placeholder read as a deviation", "multipart/mixed; boundary=batch_{batchId}", "multipart/mixed", "batch_{batchId}", nil},
		{"quirk 3 UCWA multipart/batching", `Multipart/Batching;Boundary="01cf4e5a-4b88 48cd"`, "multipart/batching", "01cf4e5a-4b88 48cd", nil},
		{"other parameters ignored", "multipart/mixed; charset=utf-8; boundary=b; q=1", "multipart/mixed", "b", nil},
		{"whitespace around = and ;", "multipart/mixed ;boundary = b ;", "multipart/mixed", "b", nil},
		{"not multipart", "application/json", "application/json", "", ErrContentType},
		{"multipart without subtype", "multipart/; boundary=x", "multipart/", "", ErrContentType},
		{"no boundary", "multipart/mixed", "multipart/mixed", "", ErrContentType},
		{"unterminated quoted-string", `multipart/mixed; boundary="b`, "multipart/mixed", "", ErrContentType},
		{"empty boundary", "multipart/mixed; boundary=", "multipart/mixed", "", ErrBoundary},
		{"boundary ending in a space", `multipart/mixed; boundary="b "`, "multipart/mixed", "", ErrBoundary},
		{"boundary with a control byte", "multipart/mixed; boundary=a\x01b", "multipart/mixed", "", ErrBoundary},
		{"boundary with a quote, once unescaped", `multipart/mixed; boundary="a\"b"`, "multipart/mixed", "", ErrBoundary},
		{"boundary past 200 bytes", "multipart/mixed; boundary=" + strings.Repeat("a", 201), "multipart/mixed", "", ErrBoundary},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mt, b, err := ParseContentType(tc.in)
			if mt != tc.mt || b != tc.boundary || !errors.Is(err, tc.err) {
				t.Errorf("ParseContentType(%q) = %q, %q, %v, want %q, %q, %v", tc.in, mt, b, err, tc.mt, tc.boundary, tc.err)
			}
			if err == nil {
				return
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("ParseContentType(%q) error %T, want *SyntaxError", tc.in, err)
			}
		})
	}
}
