package jsonbatch

import "testing"

func TestUnescape(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{`plain`, "plain"},
		{`a\"b\\c\/d\b\f\n\r\t`, "a\"b\\c/d\b\f\n\r\t"},
		{`\u00e9\u20ac`, "é€"},
		{`\ud83d\ude00`, "😀"},
		{`\ud800x`, "\uFFFDx"},
		{`\udc00\ud800\u0041`, "\uFFFD\uFFFDA"},
	} {
		if got := string(unescape(nil, []byte(tt.in))); got != tt.want {
			t.Errorf("unescape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestAppendStringRoundTrip: what appendString writes, the parser accepts
// and unescape turns back into the same string.
func TestAppendStringRoundTrip(t *testing.T) {
	for _, s := range []string{"", "plain", "quote \" backslash \\ slash /", "\x00\x01\x1f\x7f", "tab\tnl\ncr\r", "é€😀", "\u2028\u2029", "</script>"} {
		enc := appendString(nil, s)
		p := parser{b: append(enc, ' '), maxDepth: 1}
		start, end, _, ok := p.str()
		if !ok || p.i != len(enc) {
			t.Fatalf("appendString(%q) = %s, which the parser refuses: %v at %d", s, enc, p.err, p.off)
		}
		if got := string(unescape(nil, p.b[start:end])); got != s {
			t.Errorf("unescape(appendString(%q)) = %q", s, got)
		}
	}
	if got := string(appendLowerString(nil, "Content-Type")); got != `"content-type"` {
		t.Errorf("appendLowerString(Content-Type) = %s", got)
	}
}
