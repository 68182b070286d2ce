package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"net/http/httputil"
	"regexp"
	"strings"

	"github.com/batchcodec/batch"
)

// peekSize bounds what the sniffer looks at: the outer HTTP headers must fit,
// and the first delimiter line must appear within it.
const peekSize = 64 << 10

// source is the batch body to decode, with where its content type came from.
type source struct {
	r           io.Reader
	contentType string // as given or found; for a sniffed boundary, multipart/mixed
	sniffed     bool   // the boundary came from the body's first delimiter line
	startLine   string // the outer HTTP message's start line, if the input is one
	bodyStart   int64  // input offset of the batch body; -1 once transformed
	transforms  []string
	json        bool // a JSON batch (OData 4.01, Microsoft Graph), not multipart
}

// isJSONType reports whether a Content-Type value names JSON: a JSON batch.
func isJSONType(v string) bool {
	mt, _, _ := strings.Cut(v, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// sniffJSON decides whether a body is a JSON batch: its first byte other
// than a UTF-8 byte order mark and white space is "{".
func sniffJSON(p []byte, eof bool) (bool, error) {
	rest := bytes.TrimLeft(bytes.TrimPrefix(p, []byte("\xef\xbb\xbf")), " \t\r\n")
	if len(rest) == 0 && !eof {
		return false, errNeedMore
	}
	return len(rest) > 0 && rest[0] == '{', nil
}

var (
	// A request line: method, target, HTTP version. Runs of spaces are
	// tolerated as the Outlook documentation writes them. "HTTP/2" without
	// a minor version is what proxies show for HTTP/2 traffic.
	requestLineRE = regexp.MustCompile(`^[!#$%&'*+.^_` + "`" + `|~0-9A-Za-z-]+[ \t]+[^ \t]+[ \t]+HTTP/[0-9](\.[0-9])?[ \t]*$`)
	statusLineRE  = regexp.MustCompile(`^HTTP/[0-9](\.[0-9])?[ \t]+[0-9]{3}([ \t].*)?$`)
	headerLineRE  = regexp.MustCompile(`^:?[!#$%&'*+.^_` + "`" + `|~0-9A-Za-z-]+[ \t]*:`)
	chunkLineRE   = regexp.MustCompile(`^[0-9A-Fa-f]+[ \t]*(;[^\r\n]*)?\r?\n`)
)

// line returns the line of p starting at i without its line break, and the
// index after the line break; ok is false when p holds no complete line from
// i (the rest of p is returned then).
func line(p []byte, i int) (l []byte, next int, ok bool) {
	j := bytes.IndexByte(p[i:], '\n')
	if j < 0 {
		return p[i:], len(p), false
	}
	l = p[i : i+j]
	l = bytes.TrimSuffix(l, []byte("\r"))
	return l, i + j + 1, true
}

func isBlank(l []byte) bool { return len(bytes.Trim(l, " \t\r")) == 0 }

// openSource finds the batch body in r and its content type: from
// contentType when set, else from the outer HTTP headers when r holds a
// whole HTTP message, else from the body's first delimiter line.
func openSource(r io.Reader, contentType string) (*source, error) {
	br := bufio.NewReaderSize(r, peekSize)
	src := &source{r: br, contentType: contentType}
	msg, err := peekUntil(br, parseOuter)
	if err == errNeedMore {
		return nil, usageErr("the outer HTTP headers are longer than %d bytes; give the batch's Content-Type with -content-type", peekSize)
	}
	if err != nil {
		return nil, err
	}
	if msg != nil {
		src.startLine = msg.startLine
		src.bodyStart = int64(msg.bodyStart)
		if _, err := br.Discard(msg.bodyStart); err != nil {
			return nil, ioErr(err)
		}
		if contentType == "" && msg.contentType != "" {
			mt, _, perr := batch.ParseContentType(msg.contentType)
			switch {
			case isJSONType(msg.contentType):
				src.contentType, src.json = msg.contentType, true
			case perr == nil:
				src.contentType = msg.contentType
			case strings.HasPrefix(mt, "multipart/"):
				// A multipart type without a usable boundary: the
				// body's first delimiter may still tell it.
			default:
				return nil, invalidErr(fmt.Errorf("the HTTP message's Content-Type is %q, not a multipart batch", msg.contentType))
			}
		}
		if err := src.decodeTransfer(br, msg); err != nil {
			return nil, err
		}
	}
	if src.contentType != "" {
		src.json = src.json || isJSONType(src.contentType)
		return src, nil
	}
	// Sniff a JSON batch, else the boundary, from the body.
	bb, ok := src.r.(*bufio.Reader)
	if !ok {
		bb = bufio.NewReaderSize(src.r, peekSize)
		src.r = bb
	}
	if isJSON, err := peekUntil(bb, sniffJSON); err == nil && isJSON {
		src.contentType, src.json, src.sniffed = "application/json", true, true
		return src, nil
	}
	b, err := peekUntil(bb, sniffBoundary)
	if err != nil && err != errNeedMore {
		return nil, err
	}
	if b == "" {
		what := "the input"
		if msg != nil {
			what = "the HTTP message has no multipart Content-Type and its body"
		}
		return nil, usageErr("no content type found: %s does not start with a delimiter line (--boundary); give the batch's Content-Type with -content-type", what)
	}
	src.contentType = batch.FormatContentType("multipart/mixed", b)
	if !batch.ValidBoundary(b) {
		// FormatContentType quotes only what RFC 2045 requires; a
		// boundary outside RFC 2046 is quoted so that it parses back.
		src.contentType = `multipart/mixed; boundary="` + b + `"`
	}
	src.sniffed = true
	return src, nil
}

// errNeedMore says that a prefix of the input is too short to decide.
var errNeedMore = errors.New("need more input")

// peekUntil calls decide on growing prefixes of br, up to peekSize bytes,
// until it decides: it returns errNeedMore while the prefix is too short.
// Each round waits for one more read only, so that a slow stream (a pipe
// from curl) is decoded as it arrives.
func peekUntil[T any](br *bufio.Reader, decide func(p []byte, eof bool) (T, error)) (T, error) {
	n := 1
	for {
		_, err := br.Peek(n) // blocks until n bytes are buffered
		eof := err != nil
		if err != nil && err != io.EOF {
			var zero T
			return zero, ioErr(err)
		}
		p, _ := br.Peek(br.Buffered())
		v, err := decide(p, eof)
		if err == errNeedMore && !eof && len(p) < peekSize {
			n = len(p) + 1
			continue
		}
		return v, err
	}
}

// decodeTransfer undoes the outer transfer and content codings of a captured
// HTTP message, when the body shows them: a capture may keep the header
// while holding the decoded body.
func (src *source) decodeTransfer(br *bufio.Reader, msg *outerMessage) error {
	if msg.chunked {
		p, _ := br.Peek(512)
		if chunkLineRE.Match(p) {
			src.r = httputil.NewChunkedReader(br)
			src.transforms = append(src.transforms, "chunked")
			src.bodyStart = -1
		}
	}
	switch msg.encoding {
	case "gzip", "x-gzip", "deflate":
		bb := bufio.NewReader(src.r)
		p, _ := bb.Peek(2)
		src.r = bb
		var zr io.Reader
		var err error
		switch {
		case len(p) == 2 && p[0] == 0x1f && p[1] == 0x8b:
			zr, err = gzip.NewReader(bb)
		case msg.encoding == "deflate" && len(p) == 2 && p[0]&0x0f == 8 && (uint16(p[0])<<8|uint16(p[1]))%31 == 0:
			zr, err = zlib.NewReader(bb)
		default:
			return nil // already decoded by the capturing tool
		}
		if err != nil {
			return invalidErr(fmt.Errorf("Content-Encoding %s: %v", msg.encoding, err))
		}
		src.r = zr
		src.transforms = append(src.transforms, msg.encoding)
		src.bodyStart = -1
	}
	return nil
}

// outerMessage is what parseOuter found of a whole HTTP message.
type outerMessage struct {
	startLine   string
	contentType string
	chunked     bool
	encoding    string
	bodyStart   int
}

// parseOuter reads the outer HTTP message head at the start of p, if p
// starts with one (after a byte order mark and blank lines). It returns nil
// when p does not start with a request or status line. Interim responses
// (1xx, and a proxy's "200 Connection established" followed by another
// status line) are skipped. The head must be complete within p.
func parseOuter(p []byte, eof bool) (*outerMessage, error) {
	i := 0
	if bytes.HasPrefix(p, []byte("\xef\xbb\xbf")) {
		i = 3
	}
	var msg *outerMessage
	for {
		if msg != nil && msg.contentType != "" {
			return msg, nil
		}
		// Skip blank lines before the start line.
		var l []byte
		var next int
		var ok bool
		for {
			l, next, ok = line(p, i)
			if !ok || !isBlank(l) {
				break
			}
			i = next
		}
		if !ok && !eof {
			return nil, errNeedMore
		}
		if !(requestLineRE.Match(l) || statusLineRE.Match(l)) {
			return msg, nil
		}
		m := &outerMessage{startLine: strings.TrimSpace(string(l))}
		i = next
		// Documentation (the Outlook seeds) writes a blank line between
		// the request line and the headers: skip blank lines there when a
		// header line follows them.
		j := i
		for {
			l, next, ok = line(p, j)
			if !ok || !isBlank(l) {
				break
			}
			j = next
		}
		if !ok && !eof {
			return nil, errNeedMore
		}
		if j > i && headerLineRE.Match(l) && !bytes.HasPrefix(l, []byte("--")) {
			i = j
		}
		var last string
		for {
			l, next, ok = line(p, i)
			if !ok {
				if !eof {
					return nil, errNeedMore
				}
				// The head runs to the end of the input: no body.
				m.bodyStart = len(p)
				return m, nil
			}
			if isBlank(l) {
				i = next
				break
			}
			if (l[0] == ' ' || l[0] == '\t') && last != "" {
				if strings.EqualFold(last, "Content-Type") {
					m.contentType += " " + strings.TrimSpace(string(l))
				}
				i = next
				continue
			}
			if !headerLineRE.Match(l) {
				// Not a header: the body starts here without the
				// blank line.
				break
			}
			name, value, _ := bytes.Cut(l, []byte(":"))
			last = strings.TrimSpace(string(name))
			v := strings.TrimSpace(string(value))
			switch strings.ToLower(last) {
			case "content-type":
				if m.contentType == "" {
					m.contentType = v
				}
			case "transfer-encoding":
				if strings.Contains(strings.ToLower(v), "chunked") {
					m.chunked = true
				}
			case "content-encoding":
				m.encoding = strings.ToLower(v)
			}
			i = next
		}
		m.bodyStart = i
		msg = m
		// Without a Content-Type, this may be an interim response (1xx)
		// or a proxy's answer to CONNECT: look for another start line.
	}
}

// sniffBoundary finds the boundary in the first delimiter line of a bare
// batch body: after a byte order mark and blank lines, a line "--boundary"
// with optional transport padding. If the first such line is not the first
// non-blank line (a preamble), the first line starting with "--" whose rest
// the decoder could read as a boundary is taken.
func sniffBoundary(p []byte, eof bool) (string, error) {
	i := 0
	if bytes.HasPrefix(p, []byte("\xef\xbb\xbf")) {
		i = 3
	}
	for i < len(p) {
		l, next, ok := line(p, i)
		if !ok && !eof {
			return "", errNeedMore
		}
		if bytes.HasPrefix(l, []byte("--")) {
			if b := string(bytes.TrimRight(l[2:], " \t")); readable(b) {
				// "--b--" with no "--b--" line after it is the close
				// delimiter of an empty batch, not a boundary "b--".
				if len(b) > 2 && strings.HasSuffix(b, "--") && !bytes.Contains(p[next:], []byte("\n--"+b)) {
					b = b[:len(b)-2]
				}
				return b, nil
			}
		}
		i = next
	}
	return "", nil
}

// readable mirrors the decoder's rule for boundaries it reads: 1 to 200
// printable ASCII characters other than '"', not ending in a space.
func readable(b string) bool {
	if b == "" || len(b) > 200 || b[len(b)-1] == ' ' {
		return false
	}
	for i := 0; i < len(b); i++ {
		if c := b[i]; c < 0x20 || c > 0x7e || c == '"' {
			return false
		}
	}
	return true
}
