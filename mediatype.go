package batch

// This file holds the one parser of media types and their parameters
// (RFC 2045 §5.1, RFC 9110 §8.3.1), used for the batch's Content-Type, each
// changeset's boundary and an operation's msgtype, and the whitespace
// helpers of header parsing.

// splitMediaType splits a Content-Type value into its media type, with
// spaces and tabs trimmed, and the parameter list after the first ";".
func splitMediaType[S string | []byte](v S) (mt, params S) {
	end := len(v)
	for i := 0; i < len(v); i++ {
		if v[i] == ';' {
			end = i
			params = v[i+1:]
			break
		}
	}
	s, e := 0, end
	for s < e && isWS(v[s]) {
		s++
	}
	for e > s && isWS(v[e-1]) {
		e--
	}
	return v[s:e], params
}

// paramValue finds the parameter name (ASCII case-insensitive) in params, the
// list after a media type, and returns its value. It is the one parser of
// media-type parameters: ParseContentType, changeset boundaries and msgtype
// all go through it. The grammar is RFC 2045's, read tolerantly:
//
//	params        := *( ";" [ name "=" value ] )   spaces and tabs allowed around ";" and "="
//	value         := token / quoted-string
//	quoted-string := DQUOTE *( qtext / quoted-pair ) DQUOTE
//	quoted-pair   := "\" CHAR
//
// A quoted value is returned without its quotes, as a view into params; when
// it holds a quoted-pair, escaped is true and the view still holds the
// backslashes: the caller resolves them with appendUnescaped (so that the
// common case allocates nothing). An unquoted value is trimmed of spaces and
// tabs. Empty list items, names without "=", and bytes between a closing quote
// and the next ";" are skipped. A quoted-string that is never closed runs to
// the end of params, and problem says so; the first parameter of that name
// wins.
func paramValue[S string | []byte](params S, name string) (value S, escaped, ok bool, problem string) {
	n := len(params)
	i := 0
	for {
		for i < n && (isWS(params[i]) || params[i] == ';') {
			i++
		}
		if i == n {
			return value, false, false, problem
		}
		ks := i
		for i < n && params[i] != '=' && params[i] != ';' {
			i++
		}
		ke := i
		for ke > ks && isWS(params[ke-1]) {
			ke--
		}
		if i == n || params[i] == ';' {
			continue // a name without a value
		}
		i++ // "="
		for i < n && isWS(params[i]) {
			i++
		}
		var vs, ve int
		esc := false
		if i < n && params[i] == '"' {
			i++
			vs = i
			for i < n && params[i] != '"' {
				if params[i] == '\\' && i+1 < n {
					esc = true
					i++
				}
				i++
			}
			ve = i
			if i == n {
				problem = "unterminated quoted string"
			}
			for i < n && params[i] != ';' {
				i++
			}
		} else {
			vs = i
			for i < n && params[i] != ';' {
				i++
			}
			ve = i
			for ve > vs && isWS(params[ve-1]) {
				ve--
			}
		}
		if foldEqual(params[ks:ke], name) {
			return params[vs:ve], esc, true, problem
		}
	}
}

// appendUnescaped appends raw, a quoted-string's content as paramValue
// returns it, to dst with each quoted-pair replaced by the byte it quotes.
func appendUnescaped[S string | []byte](dst []byte, raw S) []byte {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == '\\' && i+1 < len(raw) {
			i++
			c = raw[i]
		}
		dst = append(dst, c)
	}
	return dst
}

// foldEqual reports whether a equals the lower-case ASCII name s, ignoring
// ASCII case in a.
func foldEqual[S string | []byte](a S, s string) bool {
	if len(a) != len(s) {
		return false
	}
	for i := 0; i < len(a); i++ {
		c := a[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// msgTypeOf returns the msgtype parameter of an application/http
// Content-Type (UCWA, .NET HttpMessageContent), or 0.
func msgTypeOf(params []byte) MessageKind {
	v, escaped, _, _ := paramValue(params, "msgtype")
	if escaped {
		var a [16]byte
		v = appendUnescaped(a[:0], v)
	}
	switch {
	case equalFold(v, "request"):
		return Request
	case equalFold(v, "response"):
		return Response
	}
	return 0
}

func isWS(c byte) bool { return c == ' ' || c == '\t' }

// trimWS trims spaces and tabs from both ends of b. bytes.Trim with a cutset
// builds the set on every call, a third of the header-reading time.
func trimWS(b []byte) []byte {
	return trimRightWS(trimLeftWS(b))
}

// trimLeftWS trims spaces and tabs from the start of b.
func trimLeftWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

// trimRightWS trims spaces and tabs from the end of b.
func trimRightWS(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}
