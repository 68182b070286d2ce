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
