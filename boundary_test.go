package batch

import (
	"errors"
	"io"
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
			if msg := err.Error(); strings.Contains(msg, "offset") || strings.Contains(msg, " part") {
				t.Errorf("ParseContentType(%q) error %q speaks of an offset or a part, want neither", tc.in, msg)
			}
		})
	}
}

// TestNoDelimiter checks the error for input that holds no delimiter line of
// the boundary: it says so, names the first delimiter-like line, matches
// ErrTruncated too, and reads the same however the input is chunked.
func TestNoDelimiter(t *testing.T) {
	long := "--" + strings.Repeat("x", 100)
	for _, tc := range []struct {
		name, in, boundary, want string
	}{
		{"empty input", "", "b",
			`batch: no delimiter line found at offset 0 before the first part: no line "--b" in empty input`},
		{"not a batch", "{\"value\":[]}\n", "b",
			`batch: no delimiter line found at offset 13 before the first part: no line "--b" in 13 bytes`},
		{"wrong boundary", "--batch_abc\r\nContent-Type: application/http\r\n\r\nGET / HTTP/1.1\r\n\r\n\r\n--batch_abc--\r\n", "xyz",
			`batch: no delimiter line found at offset 82 before the first part: no line "--xyz" in 82 bytes; the first delimiter-like line is "--batch_abc" (at offset 0), not a delimiter of boundary "xyz"`},
		{"quirk 14 a longer boundary is no delimiter", "--bc\r\n--bc--", "b",
			`batch: no delimiter line found at offset 12 before the first part: no line "--b" in 12 bytes; the first delimiter-like line is "--bc" (at offset 0), not a delimiter of boundary "b"`},
		{"quirk 4 bare LF, on a later line", "preamble\n-- not this\n--batch_1\n", "b",
			`batch: no delimiter line found at offset 31 before the first part: no line "--b" in 31 bytes; the first delimiter-like line is "--batch_1" (at offset 21), not a delimiter of boundary "b"`},
		{"quirk 13 after a byte order mark", "\xef\xbb\xbf--a\r\n", "b",
			`batch: no delimiter line found at offset 8 before the first part: no line "--b" in 8 bytes; the first delimiter-like line is "--a" (at offset 3), not a delimiter of boundary "b"`},
		{"at the end of input without a line break", "x\r\n--a\r", "b",
			`batch: no delimiter line found at offset 7 before the first part: no line "--b" in 7 bytes; the first delimiter-like line is "--a" (at offset 3), not a delimiter of boundary "b"`},
		{"the close delimiter cut between its CR and LF", "--b--\r", "b",
			`batch: no delimiter line found at offset 6 before the first part: no line "--b" in 6 bytes; the input ends inside the line "--b--" (at offset 0), after a CR with no LF`},
		{"a long line is cut", long + "\r\n", "b",
			`batch: no delimiter line found at offset 104 before the first part: no line "--b" in 104 bytes; the first delimiter-like line is "` + long[:80] + `..." (at offset 0), not a delimiter of boundary "b"`},
		{"only the first is named", "--one\r\n--two\r\n", "b",
			`batch: no delimiter line found at offset 14 before the first part: no line "--b" in 14 bytes; the first delimiter-like line is "--one" (at offset 0), not a delimiter of boundary "b"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for name, r := range readers([]byte(tc.in)) {
				d, err := NewDecoderBoundary(r, tc.boundary, BufferSize(1))
				if err != nil {
					t.Fatal(err)
				}
				_, err = d.Next()
				if err == nil || err.Error() != tc.want {
					t.Errorf("%s: Next() = %v, want %s", name, err, tc.want)
				}
				for _, target := range []error{ErrNoDelimiter, ErrTruncated, io.ErrUnexpectedEOF} {
					if !errors.Is(err, target) {
						t.Errorf("%s: Next() = %v, does not match %v", name, err, target)
					}
				}
			}
		})
	}

	// Input cut after the first delimiter line is truncated, but not
	// ErrNoDelimiter.
	d, err := NewDecoderBoundary(strings.NewReader("--b\r\nContent-Type: application/http\r\n\r\nGET / HTTP/1.1\r\n\r\n"), "b")
	if err != nil {
		t.Fatal(err)
	}
	for err == nil {
		_, err = d.Next()
	}
	if !errors.Is(err, ErrTruncated) || errors.Is(err, ErrNoDelimiter) {
		t.Errorf("Next() on a batch cut after its first part = %v, want ErrTruncated and not ErrNoDelimiter", err)
	}
}

// TestArgumentErrors checks that errors about a Content-Type or boundary
// argument, which are not in the input, speak of no offset.
func TestArgumentErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  func() error
		want string
	}{
		{"no boundary parameter", func() error {
			_, err := NewDecoder(strings.NewReader(""), "multipart/mixed")
			return err
		}, `batch: not a multipart media type with a boundary: no boundary parameter in "multipart/mixed"`},
		{"empty boundary", func() error {
			_, err := NewDecoderBoundary(strings.NewReader(""), "")
			return err
		}, `batch: invalid boundary: boundary ""`},
		{"quirk 9 boundary outside RFC 2046 in strict mode", func() error {
			_, err := NewDecoder(strings.NewReader(""), "multipart/mixed; boundary=batch_{batchId}", Strict(true))
			return err
		}, `batch: nonconforming input (boundary outside RFC 2046)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.err(); err == nil || err.Error() != tc.want {
				t.Errorf("error %v, want %s", err, tc.want)
			}
		})
	}
}

// TestBchar checks the bchar table against RFC 2046's list, and needsQuotes
// against RFC 2045's tspecials among the bchars, for every byte.
func TestBchar(t *testing.T) {
	for c := range 256 {
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		want := alnum || c < 0x80 && strings.ContainsRune("'()+_,-./:=? ", rune(c))
		if got := bchar(byte(c)); got != want {
			t.Errorf("bchar(%q) = %v, want %v", byte(c), got, want)
		}
		wantQ := c < 0x80 && strings.ContainsRune(" (),/:=?", rune(c))
		if got := needsQuotes("a" + string(byte(c)) + "b"); got != wantQ {
			t.Errorf("needsQuotes(%q) = %v, want %v", "a"+string(byte(c))+"b", got, wantQ)
		}
	}
}
