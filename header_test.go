package batch

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// This file tests the pure functions of header.go, one table each. Rows are
// named after the quirk of the README's quirks table they cover ("quirk 9
// ..."), or after the grammar rule they check.

// param is what paramValue returns, with the quoted-pairs resolved.
type param struct {
	Value   string
	Escaped bool
	OK      bool
	Problem string
}

func TestParamValue(t *testing.T) {
	for _, tc := range []struct {
		name   string
		params string
		param  string
		want   param
	}{
		{"quirk 9 unquoted boundary", " boundary=batch_36522ad7", "boundary", param{Value: "batch_36522ad7", OK: true}},
		{"quirk 9 quoted boundary with bchar specials", ` boundary="b'()+_,-./:=? end"`, "boundary", param{Value: "b'()+_,-./:=? end", OK: true}},
		{"quirk 9 quoted-pair in a changeset boundary", ` boundary="cs\_1"`, "boundary", param{Value: "cs_1", Escaped: true, OK: true}},
		{"quirk 9 quoted-pair escaping a quote", ` x="a\"; boundary=no"; boundary=yes`, "boundary", param{Value: "yes", OK: true}},
		{"quirk 9 quoted value holding a semicolon", ` x="a;b"; boundary=c`, "x", param{Value: "a;b", OK: true}},
		{"quirk 3 msgtype name in any case", " MsgType=request", "msgtype", param{Value: "request", OK: true}},
		{"quirk 3 UCWA no space after the semicolon", `boundary="01cf4e5a-4b88"`, "boundary", param{Value: "01cf4e5a-4b88", OK: true}},
		{"whitespace around = and ;", " \t; boundary \t= \tbatch_1 \t; charset=utf-8", "boundary", param{Value: "batch_1", OK: true}},
		{"whitespace inside quotes kept", ` boundary=" a b "`, "boundary", param{Value: " a b ", OK: true}},
		{"other parameters first", " charset=utf-8; boundary=b", "boundary", param{Value: "b", OK: true}},
		{"name without a value skipped", " charset; boundary=b", "boundary", param{Value: "b", OK: true}},
		{"empty list items skipped", ";; ;boundary=b;", "boundary", param{Value: "b", OK: true}},
		{"a name that only ends like it", " xboundary=a; boundary=b", "boundary", param{Value: "b", OK: true}},
		{"the first of two wins", " boundary=a; boundary=b", "boundary", param{Value: "a", OK: true}},
		{"empty value", " boundary=", "boundary", param{Value: "", OK: true}},
		{"empty quoted value", ` boundary=""`, "boundary", param{Value: "", OK: true}},
		{"bytes after the closing quote skipped", ` boundary="a"x; y=1`, "y", param{Value: "1", OK: true}},
		{"absent", " charset=utf-8", "boundary", param{}},
		{"empty list", "", "boundary", param{}},
		{"unterminated quoted-string", ` boundary="abc`, "boundary", param{Value: "abc", OK: true, Problem: "unterminated quoted string"}},
		{"unterminated quoted-string ending in a backslash", ` boundary="abc\`, "boundary", param{Value: `abc\`, OK: true, Problem: "unterminated quoted string"}},
		{"unterminated quoted-string hides the rest", ` x="abc; boundary=b`, "boundary", param{Problem: "unterminated quoted string"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Both instantiations: ParseContentType reads a string,
			// the decoder a []byte.
			v, esc, ok, problem := paramValue(tc.params, tc.param)
			got := param{string(appendUnescaped(nil, v)), esc, ok, problem}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("paramValue(%q, %q) mismatch (-want +got):\n%s", tc.params, tc.param, diff)
			}
			bv, besc, bok, bproblem := paramValue([]byte(tc.params), tc.param)
			bgot := param{string(appendUnescaped(nil, bv)), besc, bok, bproblem}
			if diff := cmp.Diff(got, bgot); diff != "" {
				t.Errorf("paramValue([]byte(%q), %q) differs from the string form (-string +[]byte):\n%s", tc.params, tc.param, diff)
			}
		})
	}
}

func TestParamValueRaw(t *testing.T) {
	// Without a quoted-pair the value is a view into params; with one, it
	// still holds the backslashes for appendUnescaped.
	params := []byte(` a="x y"; b="c\_1"`)
	if v, esc, _, _ := paramValue(params, "a"); string(v) != "x y" || esc || &v[0] != &params[4] {
		t.Errorf("paramValue(%q, a) = %q, %v, want a view of \"x y\", false", params, v, esc)
	}
	if v, esc, _, _ := paramValue(params, "b"); string(v) != `c\_1` || !esc {
		t.Errorf("paramValue(%q, b) = %q, %v, want %q, true", params, v, esc, `c\_1`)
	}
}

func TestAppendUnescaped(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{`cs\_1`, "cs_1"},
		{`a\"b`, `a"b`},
		{`a\\b`, `a\b`},
		{`trailing\`, `trailing\`},
	} {
		if got := string(appendUnescaped([]byte("pre:"), tc.in)); got != "pre:"+tc.want {
			t.Errorf("appendUnescaped(%q, %q) = %q, want %q", "pre:", tc.in, got, "pre:"+tc.want)
		}
	}
}

func TestSplitMediaType(t *testing.T) {
	for _, tc := range []struct {
		name, in, mt, params string
	}{
		{"quirk 9 changeset Content-Type", "multipart/mixed; boundary=cs_1", "multipart/mixed", " boundary=cs_1"},
		{"quirk 3 UCWA msgtype", "application/http;msgtype=request", "application/http", "msgtype=request"},
		{"no parameters", " application/http \t", "application/http", ""},
		{"whitespace before the semicolon", "multipart/mixed \t; boundary=b", "multipart/mixed", " boundary=b"},
		{"empty", "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mt, params := splitMediaType(tc.in)
			if mt != tc.mt || params != tc.params {
				t.Errorf("splitMediaType(%q) = %q, %q, want %q, %q", tc.in, mt, params, tc.mt, tc.params)
			}
			bmt, bparams := splitMediaType([]byte(tc.in))
			if string(bmt) != tc.mt || string(bparams) != tc.params {
				t.Errorf("splitMediaType([]byte(%q)) = %q, %q, want %q, %q", tc.in, bmt, bparams, tc.mt, tc.params)
			}
		})
	}
}

func TestMsgTypeOf(t *testing.T) {
	for _, tc := range []struct {
		name, params string
		want         MessageKind
	}{
		{"quirk 3 msgtype=request", "msgtype=request", Request},
		{"quirk 3 msgtype=response", " msgtype=response", Response},
		{"quirk 3 value in any case", " msgtype=Response", Response},
		{"quirk 3 quoted value", ` msgtype="request"`, Request},
		{"quirk 3 quoted value with a quoted-pair", ` msgtype="re\quest"`, Request},
		{"unknown value", " msgtype=other", 0},
		{"absent", " charset=utf-8", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := msgTypeOf([]byte(tc.params)); got != tc.want {
				t.Errorf("msgTypeOf(%q) = %v, want %v", tc.params, got, tc.want)
			}
		})
	}
}

// startLine is what parseRequestLine or parseStatusLine returns, as text.
type startLine struct {
	Method, Target, Proto string
	Code                  string
	Status                int
	Reason                string
	Dev                   Deviation
	Problem               string
}

func TestParseRequestLine(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		want       startLine
	}{
		{"plain", "GET /service/Products HTTP/1.1", startLine{Method: "GET", Target: "/service/Products", Proto: "HTTP/1.1"}},
		{"quirk 6 extra spaces in request line", "GET  /api/v2.0/me/messages    HTTP/1.1", startLine{Method: "GET", Target: "/api/v2.0/me/messages", Proto: "HTTP/1.1", Dev: DevRequestLine}},
		{"quirk 6 trailing spaces and tabs", "GET /x HTTP/1.1 \t", startLine{Method: "GET", Target: "/x", Proto: "HTTP/1.1", Dev: DevRequestLine}},
		{"quirk 7 absolute target", "GET https://host/api/v2.0/me/messages HTTP/1.1", startLine{Method: "GET", Target: "https://host/api/v2.0/me/messages", Proto: "HTTP/1.1"}},
		{"quirk 7 batch-relative target", "GET messages?$select=subject HTTP/1.1", startLine{Method: "GET", Target: "messages?$select=subject", Proto: "HTTP/1.1"}},
		{"quirk 8 Content-ID reference", "PATCH $1/Price HTTP/1.1", startLine{Method: "PATCH", Target: "$1/Price", Proto: "HTTP/1.1"}},
		{"quirk 16 HTTP/2.0", "POST /items HTTP/2.0", startLine{Method: "POST", Target: "/items", Proto: "HTTP/2.0", Dev: DevProtoVersion}},
		{"quirk 16 HTTP/1.0 with extra spaces", "GET  / HTTP/1.0", startLine{Method: "GET", Target: "/", Proto: "HTTP/1.0", Dev: DevRequestLine | DevProtoVersion}},
		{"target holding a space", "GET /a b HTTP/1.1", startLine{Method: "GET", Target: "/a b", Proto: "HTTP/1.1"}},
		{"method alone", "GET", startLine{Problem: "not a request line"}},
		{"method and a space", "GET ", startLine{Problem: "not a request line"}},
		{"leading space", " GET / HTTP/1.1", startLine{Problem: "not a request line"}},
		{"no protocol", "GET /x", startLine{Problem: "no HTTP version at the end of the request line"}},
		{"no protocol, trailing spaces", "GET /x  ", startLine{Problem: "no HTTP version at the end of the request line"}},
		{"method and spaces only", "GET   ", startLine{Problem: "no HTTP version at the end of the request line"}},
		{"no target", "GET  HTTP/1.1", startLine{Problem: "no request target"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			line := []byte(tc.line)
			m, tg, pr, dev, problem := parseRequestLine(line)
			got := startLine{Method: string(m.of(line)), Target: string(tg.of(line)), Proto: string(pr.of(line)), Dev: dev, Problem: problem}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("parseRequestLine(%q) mismatch (-want +got):\n%s", tc.line, diff)
			}
			if isStatusLine(line) {
				t.Errorf("isStatusLine(%q) = true, want false", tc.line)
			}
		})
	}
}

func TestParseStatusLine(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		want       startLine
	}{
		{"plain", "HTTP/1.1 200 OK", startLine{Proto: "HTTP/1.1", Code: "200", Status: 200, Reason: "OK"}},
		{"quirk 16 multi-word reason", "HTTP/1.1 404 Not Found", startLine{Proto: "HTTP/1.1", Code: "404", Status: 404, Reason: "Not Found"}},
		{"quirk 16 status line without reason phrase", "HTTP/1.1 204", startLine{Proto: "HTTP/1.1", Code: "204", Status: 204, Dev: DevNoReason}},
		{"quirk 16 empty reason after the space", "HTTP/1.1 204 ", startLine{Proto: "HTTP/1.1", Code: "204", Status: 204}},
		{"quirk 16 HTTP/1.0", "HTTP/1.0 202 Accepted", startLine{Proto: "HTTP/1.0", Code: "202", Status: 202, Reason: "Accepted", Dev: DevProtoVersion}},
		{"quirk 6 extra spaces in status line", "HTTP/1.1  200   OK", startLine{Proto: "HTTP/1.1", Code: "200", Status: 200, Reason: "OK", Dev: DevRequestLine}},
		{"trailing spaces and tabs not in the reason", "HTTP/1.1 200 OK \t", startLine{Proto: "HTTP/1.1", Code: "200", Status: 200, Reason: "OK"}},
		{"no status code", "HTTP/1.1", startLine{Problem: "no status code"}},
		{"letters in the code", "HTTP/1.1 2xx OK", startLine{Problem: "no 3-digit status code"}},
		{"four digits", "HTTP/1.1 2000 OK", startLine{Problem: "no 3-digit status code"}},
		{"two digits", "HTTP/1.1 20", startLine{Problem: "no 3-digit status code"}},
		{"one-letter reason", "HTTP/1.1 200 K", startLine{Proto: "HTTP/1.1", Code: "200", Status: 200, Reason: "K"}},
		{"reason of a tab", "HTTP/1.1 200 \t", startLine{Proto: "HTTP/1.1", Code: "200", Status: 200}},
		{"two spaces before the reason", "HTTP/1.1 200  OK", startLine{Proto: "HTTP/1.1", Code: "200", Status: 200, Reason: "OK", Dev: DevRequestLine}},
		{"letter in the code, reason after", "HTTP/1.1 2x0 OK", startLine{Problem: "no 3-digit status code"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			line := []byte(tc.line)
			pr, code, status, reason, dev, problem := parseStatusLine(line)
			got := startLine{Proto: string(pr.of(line)), Code: string(code.of(line)), Status: status, Reason: string(reason.of(line)), Dev: dev, Problem: problem}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("parseStatusLine(%q) mismatch (-want +got):\n%s", tc.line, diff)
			}
			if !isStatusLine(line) {
				t.Errorf("isStatusLine(%q) = false, want true", tc.line)
			}
		})
	}
}

func TestParseLength(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		n        int64
		ok       bool
	}{
		{"quirk 10 zero", "0", 0, true},
		{"quirk 10 a length", "1234", 1234, true},
		{"quirk 17 leading zeros", "007", 7, true},
		{"quirk 17 not a number", "abc", 0, false},
		{"quirk 17 sign", "+5", 0, false},
		{"quirk 17 negative", "-1", 0, false},
		{"quirk 17 inner space", "1 2", 0, false},
		{"empty", "", 0, false},
		{"18 digits", "999999999999999999", 999999999999999999, true},
		{"19 digits could overflow", "9999999999999999999", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if n, ok := parseLength([]byte(tc.in)); n != tc.n || ok != tc.ok {
				t.Errorf("parseLength(%q) = %d, %v, want %d, %v", tc.in, n, ok, tc.n, tc.ok)
			}
		})
	}
}

func TestTrimWS(t *testing.T) {
	for _, tc := range []struct {
		in, both, left, right string
	}{
		{"", "", "", ""},
		{"a", "a", "a", "a"},
		{" \ta b\t ", "a b", "a b\t ", " \ta b"},
		{" \t ", "", "", ""},
		{"\r\na\r\n", "\r\na\r\n", "\r\na\r\n", "\r\na\r\n"}, // line breaks are not whitespace here
	} {
		if got := string(trimWS([]byte(tc.in))); got != tc.both {
			t.Errorf("trimWS(%q) = %q, want %q", tc.in, got, tc.both)
		}
		if got := string(trimLeftWS([]byte(tc.in))); got != tc.left {
			t.Errorf("trimLeftWS(%q) = %q, want %q", tc.in, got, tc.left)
		}
		if got := string(trimRightWS([]byte(tc.in))); got != tc.right {
			t.Errorf("trimRightWS(%q) = %q, want %q", tc.in, got, tc.right)
		}
	}
}

// TestHeaderKey checks the word-wise recognition of the header names the
// decoder acts on against a plain case-folded comparison, for every name
// of their lengths that differs from them in one byte.
func TestHeaderKey(t *testing.T) {
	names := map[string]int{"content-id": keyContentID, "content-type": keyContentType, "content-length": keyContentLength}
	for name, key := range names {
		for _, variant := range []string{name, strings.ToUpper(name), "Content" + name[7:], "CoNtEnT-" + strings.ToUpper(name[8:])} {
			if got := headerKey([]byte(variant)); got != key {
				t.Errorf("headerKey(%q) = %d, want %d", variant, got, key)
			}
		}
		for i := 0; i < len(name); i++ {
			for c := 0; c < 256; c++ {
				b := []byte(name)
				b[i] = byte(c)
				want := keyOther
				if equalFold(b, name) {
					want = key
				}
				if got := headerKey(b); got != want {
					t.Errorf("headerKey(%q) = %d, want %d", b, got, want)
				}
			}
		}
	}
	for _, other := range []string{"", "c", "content-", "content-i", "contentXid", "content-idx", "odata-version", "content-transfer-encoding"} {
		if got := headerKey([]byte(other)); got != keyOther {
			t.Errorf("headerKey(%q) = %d, want keyOther", other, got)
		}
	}
}

// TestIsApplicationHTTP checks the word-wise media type test against a
// plain case-folded comparison, for every one-byte change.
func TestIsApplicationHTTP(t *testing.T) {
	const mt = "application/http"
	for _, v := range []string{mt, strings.ToUpper(mt), "Application/HTTP"} {
		if !isApplicationHTTP([]byte(v)) {
			t.Errorf("isApplicationHTTP(%q) = false", v)
		}
	}
	for i := 0; i < len(mt); i++ {
		for c := 0; c < 256; c++ {
			b := []byte(mt)
			b[i] = byte(c)
			if got, want := isApplicationHTTP(b), equalFold(b, mt); got != want {
				t.Errorf("isApplicationHTTP(%q) = %v, want %v", b, got, want)
			}
		}
	}
	for _, v := range []string{"", "application/htt", "application/https", "application/json"} {
		if isApplicationHTTP([]byte(v)) {
			t.Errorf("isApplicationHTTP(%q) = true", v)
		}
	}
}
