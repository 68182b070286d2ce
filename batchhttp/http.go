package batchhttp

import (
	"errors"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/batchcodec/batch"
)

// This file bridges the codec and net/http values: a decoded part to an
// *http.Request or *http.Response, and an *http.Request or *http.Response
// to an encoded operation. Bodies stay streams.

// ErrNotRequest and ErrNotResponse: a conversion was asked of a part that
// does not embed that kind of message.
var (
	ErrNotRequest  = errors.New("batch: part is not an embedded request")
	ErrNotResponse = errors.New("batch: part is not an embedded response")
)

// ResolveTarget resolves a request target in any of the three forms of an
// embedded request line against base, the URL the batch
// was sent to: an absolute URL stands as it is; a host-relative target
// ("/api/v2.0/me/messages") takes base's scheme and host; a batch-relative
// one ("messages?$select=subject") resolves against base's path as RFC 3986
// does, so "Customers" sent to ".../service.svc/$batch" is
// ".../service.svc/Customers". A nil base leaves relative targets relative.
// Content-ID references ("$1/Orders") must be replaced before, with
// [ResolveContentID].
func ResolveTarget(base *url.URL, target string) (*url.URL, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	if base == nil || u.IsAbs() {
		return u, nil
	}
	return base.ResolveReference(u), nil
}

// ResolveContentID replaces a Content-ID reference at the start of target,
// "$n" followed by "/", "?" or nothing (OData v4 §11.7.3.1), with the
// location that lookup gives for n, normally the Location header of the
// response to the operation whose Content-ID is n. It reports whether it
// replaced anything; a target without a reference, or whose reference
// lookup does not know, is returned unchanged.
func ResolveContentID(target string, lookup func(id string) (location string, ok bool)) (string, bool) {
	if !strings.HasPrefix(target, "$") {
		return target, false
	}
	end := strings.IndexAny(target, "/?")
	if end < 0 {
		end = len(target)
	}
	id := target[1:end]
	if id == "" {
		return target, false
	}
	loc, ok := lookup(id)
	if !ok {
		return target, false
	}
	return strings.TrimSuffix(loc, "/") + target[end:], true
}

// Request converts a part that embeds a request into an *http.Request. The
// URL is resolved against base with [ResolveTarget]; Host comes from the URL,
// else from the embedded Host header. The headers are copied into the
// request with canonical names (see [Header]). ContentLength is -1, unknown:
// the body runs to the delimiter, whatever an embedded Content-Length says
// ([batch.Part.ContentLength] has the declared value). The Body is the part
// itself: it streams from the decoder and is only valid until the next call
// to Next. RequestURI is the target as written, as a server would see it.
func Request(p *batch.Part, base *url.URL) (*http.Request, error) {
	if p.Kind() != batch.KindOperation || p.Message() != batch.Request {
		return nil, ErrNotRequest
	}
	target := string(p.Target())
	u, err := ResolveTarget(base, target)
	if err != nil {
		return nil, &batch.SyntaxError{Offset: p.Offset(), Part: p.Index(), Err: batch.ErrStartLine, Detail: "request target: " + err.Error()}
	}
	proto := string(p.Proto())
	major, minor, _ := http.ParseHTTPVersion(proto)
	r := &http.Request{
		Method:        string(p.Method()),
		URL:           u,
		Proto:         proto,
		ProtoMajor:    major,
		ProtoMinor:    minor,
		Header:        Header(p.Header()),
		Body:          partBody{p},
		ContentLength: -1,
		Host:          u.Host,
		RequestURI:    target,
	}
	if h := r.Header.Get("Host"); r.Host == "" && h != "" {
		r.Host = h
	}
	return r, nil
}

// Response converts a part that embeds a response into an *http.Response
// for req (which may be nil). The headers are copied with canonical names;
// ContentLength is -1, as for [Request]; the Body is the part itself, only
// valid until the next call to Next.
func Response(p *batch.Part, req *http.Request) (*http.Response, error) {
	if p.Kind() != batch.KindOperation || p.Message() != batch.Response {
		return nil, ErrNotResponse
	}
	proto := string(p.Proto())
	major, minor, _ := http.ParseHTTPVersion(proto)
	code := p.StatusCode()
	status := strconv.Itoa(code)
	if reason := p.Reason(); len(reason) > 0 {
		status += " " + string(reason)
	}
	return &http.Response{
		Status:        status,
		StatusCode:    code,
		Proto:         proto,
		ProtoMajor:    major,
		ProtoMinor:    minor,
		Header:        Header(p.Header()),
		Body:          partBody{p},
		ContentLength: -1,
		Request:       req,
	}, nil
}

// Header copies a decoded header block into an http.Header. Names are
// canonicalised, as http.Header requires; values are kept as read and
// duplicates are kept in order.
func Header(h batch.Header) http.Header {
	out := make(http.Header, len(h))
	for _, f := range h {
		k := textproto.CanonicalMIMEHeaderKey(string(f.Name))
		out[k] = append(out[k], string(f.Value))
	}
	return out
}

// partBody makes a Part an io.ReadCloser; Close leaves the rest to Next.
type partBody struct{ p *batch.Part }

func (b partBody) Read(s []byte) (int, error) { return b.p.Read(s) }

func (b partBody) WriteTo(w io.Writer) (int64, error) { return b.p.WriteTo(w) }

func (partBody) Close() error { return nil }

// WriteRequest writes r to enc as an operation with the given Content-ID
// (none when empty). A relative r.URL is written as it stands, so a
// batch-relative target ("messages") or a Content-ID reference ("$1/Orders")
// reaches the server unchanged; an absolute one is written host-relative
// with a Host header. Headers are written in sorted order with canonical
// names; r.ContentLength, when positive and not in the headers, becomes
// Content-Length. The body is streamed from r.Body, which is closed.
func WriteRequest(enc *batch.Encoder, r *http.Request, contentID string) error {
	if r.Body != nil {
		defer r.Body.Close()
	}
	op, err := requestOperation(r, contentID, nil, TargetHostRelative)
	if err != nil {
		return err
	}
	if !hasBody(r) {
		return enc.WriteOperation(op, nil)
	}
	return enc.WriteOperation(op, r.Body)
}

// WriteResponse writes resp to enc as an operation with the given
// Content-ID (none when empty): its status code and reason, headers in
// sorted order with canonical names, and its body streamed from resp.Body,
// which is closed.
func WriteResponse(enc *batch.Encoder, resp *http.Response, contentID string) error {
	if resp.Body != nil {
		defer resp.Body.Close()
	}
	op := batch.Operation{Message: batch.Response, StatusCode: resp.StatusCode, ContentID: contentID}
	if _, reason, ok := strings.Cut(resp.Status, " "); ok {
		op.Reason = reason
	}
	op.Header = sortedFields(resp.Header, nil)
	return writeHTTP(enc, &op, resp.Header, resp.ContentLength, resp.Body)
}

// writeHTTP writes op with a body from a net/http message: a known length
// not in the headers becomes Content-Length, as net/http writes it.
func writeHTTP(enc *batch.Encoder, op *batch.Operation, h http.Header, length int64, body io.ReadCloser) error {
	if length > 0 && h.Get("Content-Length") == "" {
		op.Header = append(op.Header, batch.Field{Name: "Content-Length", Value: strconv.FormatInt(length, 10)})
	}
	if body == nil || body == http.NoBody {
		return enc.WriteOperation(op, nil)
	}
	return enc.WriteOperation(op, body)
}

// sortedFields appends h to dst with its keys sorted, for deterministic
// output; the Content-ID key is left out, as it is written as a MIME header.
func sortedFields(h http.Header, dst []batch.Field) []batch.Field {
	keys := make([]string, 0, len(h))
	for k := range h {
		if !strings.EqualFold(k, "Content-ID") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range h[k] {
			dst = append(dst, batch.Field{Name: k, Value: v})
		}
	}
	return dst
}

// quote quotes s for an error message, at most 80 bytes of it.
func quote(s string) string {
	const max = 80
	if len(s) > max {
		return strconv.Quote(s[:max]) + "..."
	}
	return strconv.Quote(s)
}
