package batch

import (
	"bytes"
	"encoding/binary"
)

// This file holds the parsers of an embedded message's first line: the
// request line (RFC 9112 §3) and the status line (RFC 9112 §4). They work
// on bytes alone and return spans into the line, so that each case is
// table-tested without a decoder (header_test.go).

// parseRequestLine splits an embedded request line into the spans of its
// method, target and protocol, and returns the deviations seen, or a
// description of why the line is malformed.
//
// RFC 9112: request-line = method SP request-target SP HTTP-version. Runs of
// spaces (quirk 6 of the README's table: the Outlook documentation writes
// "GET  /api/v2.0/me/messages    HTTP/1.1") and trailing spaces and tabs are
// read as DevRequestLine; the target is what lies between the first and the
// last space, as OData.net reads it, since a target may hold spaces. Any
// HTTP/x.y other than HTTP/1.1 is DevProtoVersion.
func parseRequestLine(line []byte) (method, target, proto span, dev Deviation, problem string) {
	first := bytes.IndexByte(line, ' ')
	var last int
	if n := len(line) - len(" HTTP/1.1"); n > 0 && line[n] == ' ' && isHTTP11(line[n+1:]) {
		last = n // the usual end, without a search back from it
	} else {
		last = bytes.LastIndexByte(line, ' ')
	}
	if first <= 0 || last == first && first == len(line)-1 {
		return method, target, proto, 0, "not a request line"
	}
	e := len(trimRightWS(line))
	if e < len(line) {
		dev |= DevRequestLine
		last = bytes.LastIndexByte(line[:e], ' ')
	}
	if last <= first || !isStatusLine(line[last+1:e]) {
		return method, target, proto, 0, "no HTTP version at the end of the request line"
	}
	t0, t1 := first+1, last
	for t0 < t1 && line[t0] == ' ' {
		t0++
	}
	for t1 > t0 && line[t1-1] == ' ' {
		t1--
	}
	if t0 == t1 {
		return method, target, proto, 0, "no request target"
	}
	if t0 > first+1 || t1 < last {
		dev |= DevRequestLine
	}
	method, target, proto = span{0, first}, span{t0, t1}, span{last + 1, e}
	if !isHTTP11(proto.of(line)) {
		dev |= DevProtoVersion
	}
	return method, target, proto, dev, ""
}

// parseStatusLine splits an embedded status line into the spans of its
// protocol, status code and reason phrase, and the code's value, and returns
// the deviations seen, or a description of why the line is malformed.
//
// RFC 9112: status-line = HTTP-version SP status-code SP [ reason-phrase ].
// Read tolerantly (quirk 16 of the README's table): a line that ends after
// the code, without the space, is DevNoReason; runs of spaces around the code
// are DevRequestLine; trailing spaces and tabs are not part of the reason;
// any HTTP/x.y other than HTTP/1.1 is DevProtoVersion.
func parseStatusLine(line []byte) (proto, code span, status int, reason span, dev Deviation, problem string) {
	if len(line) > 13 && line[8] == ' ' && line[12] == ' ' && line[13] != ' ' && isHTTP11(line[:8]) &&
		isDigit(line[9]) && isDigit(line[10]) && isDigit(line[11]) {
		// "HTTP/1.1 200 OK": what the general path below finds, without
		// its searches.
		status = int(line[9]-'0')*100 + int(line[10]-'0')*10 + int(line[11]-'0')
		return span{0, 8}, span{9, 12}, status, span{13, max(13, len(trimRightWS(line)))}, 0, ""
	}
	i := bytes.IndexByte(line, ' ')
	if i < 0 {
		return proto, code, 0, reason, 0, "no status code"
	}
	j := i + 1
	for j < len(line) && line[j] == ' ' {
		j++
	}
	if j > i+1 {
		dev |= DevRequestLine
	}
	if len(line)-j < 3 || !isDigit(line[j]) || !isDigit(line[j+1]) || !isDigit(line[j+2]) {
		return proto, code, 0, reason, 0, "no 3-digit status code"
	}
	k := j + 3
	if k == len(line) {
		dev |= DevNoReason
	} else if line[k] != ' ' {
		return proto, code, 0, reason, 0, "no 3-digit status code"
	}
	r := k
	for r < len(line) && line[r] == ' ' {
		r++
	}
	if r > k+1 && r < len(line) {
		dev |= DevRequestLine
	}
	e := max(r, len(trimRightWS(line)))
	proto, code, reason = span{0, i}, span{j, k}, span{r, e}
	status = int(line[j]-'0')*100 + int(line[j+1]-'0')*10 + int(line[j+2]-'0')
	if !isHTTP11(proto.of(line)) {
		dev |= DevProtoVersion
	}
	return proto, code, status, reason, dev, ""
}

// isStatusLine reports whether an embedded start line is a status line: it
// begins with the protocol ("HTTP/"), where a request line begins with a
// method. It compares a word, as bytes.HasPrefix would call memequal on
// every start line.
func isStatusLine(line []byte) bool {
	return len(line) >= 5 && line[4] == '/' && binary.LittleEndian.Uint32(line) == 'H'|'T'<<8|'T'<<16|'P'<<24
}

// isHTTP11 reports whether proto is "HTTP/1.1", comparing one word.
func isHTTP11(proto []byte) bool {
	return len(proto) == 8 && binary.LittleEndian.Uint64(proto) == 'H'|'T'<<8|'T'<<16|'P'<<24|'/'<<32|'1'<<40|'.'<<48|'1'<<56
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
