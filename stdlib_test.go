package batch

import (
	"bufio"
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
)

// The standard-library oracles: the same batch read by mime/multipart and
// net/http as a Go user composes them, for FuzzStdlibDiff and FuzzRoundTrip.

// stdlibRawOps reads a batch with mime/multipart alone, recursing into
// changesets, and returns each application/http part raw: the embedded
// message as mime/multipart frames it.
func stdlibRawOps(data []byte, boundary string) ([][]byte, error) {
	var out [][]byte
	mr := multipart.NewReader(bytes.NewReader(data), boundary)
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		mt, params, err := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if err != nil {
			return out, err
		}
		raw, err := io.ReadAll(p)
		if err != nil {
			return out, err
		}
		switch {
		case strings.HasPrefix(mt, "multipart/"):
			inner, err := stdlibRawOps(raw, params["boundary"])
			if err != nil {
				return out, err
			}
			out = append(out, inner...)
		case mt == "application/http":
			out = append(out, raw)
		}
	}
}

// stdPart is a part as the standard library composition reads it.
type stdPart struct {
	Kind       string
	Method     string
	Target     string
	Status     int
	PartHeader http.Header
	Header     http.Header
	Body       []byte
}

// headersStdlibRewrites are embedded headers that net/http moves or
// rewrites while reading a message (Host into Request.Host, transfer
// headers into fields, Pragma into Cache-Control).
var headersStdlibRewrites = []string{"Host", "Content-Length", "Transfer-Encoding", "Trailer", "Cache-Control"}

// stdlibParts reads a single-level batch as a Go user would by hand:
// mime/multipart's NextRawPart (no quoted-printable decoding, as the
// decoder does none), mime.ParseMediaType, and http.ReadRequest or
// http.ReadResponse on application/http parts. The body is what follows
// the embedded header block, whatever its Content-Length says. ok is false
// when any step fails or a part is multipart.
func stdlibParts(data []byte, boundary string) (parts []stdPart, ok bool) {
	mr := multipart.NewReader(bytes.NewReader(data), boundary)
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			return parts, true
		}
		if err != nil {
			return nil, false
		}
		raw, err := io.ReadAll(p)
		if err != nil {
			return nil, false
		}
		sp := stdPart{Kind: KindOther.String(), PartHeader: http.Header(p.Header), Body: raw}
		if ct := p.Header.Get("Content-Type"); ct != "" {
			mt, _, err := mime.ParseMediaType(ct)
			if err != nil || strings.HasPrefix(mt, "multipart/") {
				return nil, false
			}
			if mt == "application/http" {
				sp.Kind = KindOperation.String()
				br := bufio.NewReader(bytes.NewReader(raw))
				if bytes.HasPrefix(raw, []byte("HTTP/")) {
					resp, err := http.ReadResponse(br, nil)
					if err != nil {
						return nil, false
					}
					sp.Status, sp.Header = resp.StatusCode, resp.Header
				} else {
					req, err := http.ReadRequest(br)
					if err != nil {
						return nil, false
					}
					sp.Method, sp.Target, sp.Header = req.Method, req.RequestURI, req.Header
				}
				for _, k := range headersStdlibRewrites {
					delete(sp.Header, k)
				}
				if sp.Body, err = io.ReadAll(br); err != nil {
					return nil, false
				}
			}
		}
		parts = append(parts, sp)
	}
}

// batchParts decodes data into the same form as stdlibParts.
func batchParts(data []byte, boundary string) ([]stdPart, error) {
	d, err := NewDecoderBoundary(bytes.NewReader(data), boundary)
	if err != nil {
		return nil, err
	}
	return collect(d, func(p *Part) (stdPart, error) {
		sp := stdPart{
			Kind: p.Kind().String(), Method: string(p.Method()), Target: string(p.Target()),
			Status: p.StatusCode(), PartHeader: httpHeaderOf(p.PartHeader()), Header: httpHeaderOf(p.Header()),
		}
		for _, k := range headersStdlibRewrites {
			delete(sp.Header, k)
		}
		var err error
		sp.Body, err = io.ReadAll(p)
		return sp, err
	})
}

// httpHeaderOf copies h into an http.Header with canonical names, as the
// standard library's readers build theirs.
func httpHeaderOf(h Header) http.Header {
	out := make(http.Header, len(h))
	for _, f := range h {
		k := textproto.CanonicalMIMEHeaderKey(string(f.Name))
		out[k] = append(out[k], string(f.Value))
	}
	return out
}
