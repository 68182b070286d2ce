package batchhttp

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/batchcodec/batch"
)

// This file builds the *http.Request that next sees for one operation,
// after checking that net/http would have accepted the same bytes, and
// its body.

// checkStart returns why http.ReadRequest would refuse an embedded
// request with this method and HTTP version, or "": a method that is not a
// token (known says it is one of the common methods), a version it cannot
// parse. request checks the header fields as it takes them.
func checkStart(m, proto []byte, known bool) string {
	if !known && !validTokenBytes(m) {
		return "method " + quote(string(m)) + " is not a token"
	}
	if string(proto) != "HTTP/1.1" {
		if _, _, ok := http.ParseHTTPVersion(string(proto)); !ok {
			// http.ReadRequest refuses it; "HTTP/2.0", which .NET
			// clients write inside batches, parses.
			return "HTTP version " + quote(string(proto)) + " is malformed"
		}
	}
	return ""
}

// fieldKey returns the key of the header field named name in an
// http.Header (textproto.CanonicalMIMEHeaderKey of it), or ok false if
// http.ReadRequest would refuse the name: a byte that is neither a token
// byte nor a space (textproto accepts, without canonicalising, a name with
// a space). Most names are canonical already: that is checked by table, in
// the same loop as their bytes.
func fieldKey(name string) (key string, ok bool) {
	switch len(name) {
	case len("Accept"):
		if name == "Accept" {
			return name, true
		}
	case len("Content-Type"):
		if name == "Content-Type" {
			return name, true
		}
	case len("Authorization"):
		if name == "Authorization" {
			return name, true
		}
	case len("Content-Length"):
		if name == "Content-Length" {
			return name, true
		}
	}
	first := true // of a word: after the start or a hyphen
	for i := 0; i < len(name); i++ {
		c := name[i]
		if first && !keyFirst[c] || !first && !keyRest[c] {
			for ; i < len(name); i++ {
				if c := name[i]; !tokenByte[c] && c != ' ' {
					return "", false
				}
			}
			return textproto.CanonicalMIMEHeaderKey(name), true
		}
		first = c == '-'
	}
	return name, true
}

// keyFirst and keyRest say which bytes a canonical header name has at the
// start of a word (token bytes but lower-case letters) and elsewhere
// (token bytes but upper-case letters).
var keyFirst, keyRest = func() (first, rest [256]bool) {
	for c := range 256 {
		first[c] = tokenByte[c] && !('a' <= c && c <= 'z')
		rest[c] = tokenByte[c] && !('A' <= c && c <= 'Z')
	}
	return first, rest
}()

func validTokenBytes(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !isTokenByte(c) {
			return false
		}
	}
	return true
}

func trimOWS(b string) string {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// methodOf returns m as a string and whether it is one of the common
// methods (a token, then), which it returns without allocating.
func methodOf(m []byte) (string, bool) {
	var s string
	switch len(m) {
	case 3:
		s = http.MethodGet
		if string(m) == http.MethodPut {
			return http.MethodPut, true
		}
	case 4:
		s = http.MethodPost
		if string(m) == http.MethodHead {
			return http.MethodHead, true
		}
	case 5:
		s = http.MethodPatch
		if string(m) == "MERGE" {
			return "MERGE", true
		}
	case 6:
		s = http.MethodDelete
	case 7:
		s = http.MethodOptions
	}
	if s != "" && string(m) == s {
		return s, true
	}
	return string(m), false
}

func internProto(p []byte) string {
	switch string(p) {
	case "HTTP/1.1":
		return "HTTP/1.1"
	case "HTTP/1.0":
		return "HTTP/1.0"
	}
	return string(p)
}

// plainPath reports whether target is a host-relative target that
// url.Parse would take as it is: a path of bytes it does not escape, and a
// query without control bytes, spaces or a fragment.
func plainPath(t string) (path, query string, hasQuery, ok bool) {
	if t == "" || t[0] != '/' || len(t) > 1 && t[1] == '/' {
		return "", "", false, false
	}
	path = t
	for i := 1; i < len(t); i++ {
		if c := t[i]; !pathByte[c] {
			if c != '?' {
				return "", "", false, false
			}
			path, query, hasQuery = t[:i], t[i+1:], true
			break
		}
	}
	for i := 0; i < len(query); i++ {
		if c := query[i]; c <= ' ' || c == 0x7f || c == '#' || c >= 0x80 {
			return "", "", false, false
		}
	}
	return path, query, hasQuery, true
}

// pathByte says which bytes url.Parse keeps as they are in a path: a
// table, as every operation's target is checked.
var pathByte = func() (t [256]bool) {
	for c := range 256 {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
			t[c] = true
		case strings.IndexByte("-._~!$&'()*+,;=:@/", byte(c)) >= 0:
			t[c] = true
		}
	}
	return t
}()

// inPart says where an operation is, for a refusal's message.
type inPart int

func (i inPart) String() string { return " in part " + strconv.Itoa(int(i)) }

// template returns a request that carries ctx, for copying.
func (rn *batchRun) template(ctx context.Context) *http.Request {
	if rn.tmpl == nil || rn.tmplCtx != ctx {
		rn.tmplv = *(&http.Request{RemoteAddr: rn.outer.RemoteAddr, TLS: rn.outer.TLS}).WithContext(ctx)
		rn.tmpl, rn.tmplCtx = &rn.tmplv, ctx
	}
	return rn.tmpl
}

// embedded is an operation's request as the batch wrote it, in either
// batch format: what request makes the *http.Request for next from. Its
// slices are views into the decoder's buffers, valid while it runs.
type embedded struct {
	method, proto, target, id []byte
	header                    batch.Header
	declared                  bool  // it said a Content-Length (which length overrides)
	length                    int64 // the body's real length
	index                     int   // part or item index, for messages
	body                      io.Reader
	// str, if not empty, is what request lays out in one string: the
	// target, the Content-ID, each field's name and value, then the
	// length in decimal if it is declared or not 0; fl the lengths of
	// each field's name and value, in turn. header is not used then.
	str string
	fl  []int
}

// request fills aw.req, the request next sees for operation e (see
// Handler), or returns the status and message of the answer that refuses
// it. It sets aw.contentID either way.
func (rn *batchRun) request(ctx context.Context, e *embedded, aw *answerWriter) (int, string) {
	// One string holds the target, the Content-ID and every header name
	// and value; the request's strings are slices of it.
	id := e.id
	n := e.length
	all, fl := e.str, e.fl
	if all == "" {
		sb := append(rn.strs[:0], e.target...)
		sb = append(sb, id...)
		fl = rn.fl[:0]
		for _, f := range e.header {
			sb = append(sb, f.Name...)
			sb = append(sb, f.Value...)
			fl = append(fl, len(f.Name), len(f.Value))
		}
		if n > 0 || e.declared {
			sb = strconv.AppendInt(sb, n, 10)
		}
		rn.strs, rn.fl = sb, fl
		all = string(sb)
	}
	nf := len(fl) / 2 // header fields
	target, off := all[:len(e.target)], len(e.target)
	aw.contentID, off = all[off:off+len(id)], off+len(id)

	where := inPart(e.index)
	malformed := func(problem string) (int, string) {
		return http.StatusBadRequest, "batch: the request" + where.String() + " is malformed: " + problem + "; it did not run"
	}
	method, known := methodOf(e.method)
	if problem := checkStart(e.method, e.proto, known); problem != "" {
		return malformed(problem)
	}

	// The header, checked as http.ReadRequest checks it (a header name
	// that is not a token, a value with a control byte other than HTAB,
	// more than one Host, a Content-Length that is empty, not a number,
	// or given twice with different values), and refusing any
	// Transfer-Encoding, which net/http would accept as "chunked": in a
	// batch the delimiter frames the body, and a second framing is how
	// requests are smuggled. Its embedded fields come first, then the
	// inherited ones it does not set; one backing array for the values.
	nv := nf + 1
	for _, in := range rn.inherit {
		nv += len(in.values)
	}
	vals := aw.vals[:]
	if nv > len(vals) {
		vals = make([]string, nv)
	}
	var h http.Header
	if hint := nf + len(rn.inherit) + 1; hint > 8 {
		h = make(http.Header, hint)
	} else {
		h = make(http.Header) // the same small map, made by a shorter path
	}
	first := off // of the fields in all
	hosts := 0
	var cl string
	haveCL, nested, repeated := false, false, false
	for i := 0; i < len(fl); i += 2 {
		name := all[off : off+fl[i]]
		value := all[off+fl[i] : off+fl[i]+fl[i+1]]
		off += fl[i] + fl[i+1]
		key, ok := fieldKey(name)
		if !ok {
			return malformed("header name " + quote(name) + " is not a token")
		}
		// A value like the last one checked (operations repeat theirs)
		// is compared rather than checked again.
		if value != rn.plainValue && !noControl(value) {
			return malformed("the value of header " + quote(name) + " holds a control byte")
		}
		rn.plainValue = value
		switch key {
		case "Transfer-Encoding":
			return malformed("Transfer-Encoding in an embedded request: its body is framed by the batch")
		case "Host":
			if hosts++; hosts > 1 {
				return malformed("more than one Host header")
			}
			continue
		case "Content-Length":
			v := trimOWS(value)
			if haveCL && v != cl {
				return malformed("Content-Length headers disagree")
			}
			cl, haveCL = v, true
			continue
		case "Content-Type":
			nested = nested || isMultipart(value)
		}
		if repeated {
			if vs, ok := h[key]; ok {
				h[key] = append(vs, value)
				continue
			}
		}
		before := len(h)
		vals[0] = value
		h[key], vals = vals[:1:1], vals[1:]
		if len(h) == before {
			// A name met before: its values, in order. From here
			// on, names are looked up first.
			h[key] = repeatedValues(all[first:], fl[:i], key, value)
			repeated = true
		}
	}
	if haveCL {
		if _, err := strconv.ParseUint(cl, 10, 63); err != nil {
			return malformed("Content-Length " + quote(cl) + " is not a length")
		}
	}
	contentLength := all[off:]

	u := &aw.url
	requestURI := target
	if path, query, hasQuery, ok := plainPath(target); ok {
		u.Path, u.RawQuery, u.ForceQuery = path, query, hasQuery && query == ""
	} else {
		resolved := target
		if r, ok := ResolveContentID(target, rn.lookup); ok {
			resolved = r
		}
		pu, err := ResolveTarget(rn.base, resolved)
		if err != nil {
			return http.StatusBadRequest, "batch: request target " + quote(resolved) + where.String() + ": " + err.Error()
		}
		if pu.Scheme != "http" && pu.Scheme != "https" {
			return http.StatusBadRequest, "batch: request target " + quote(target) + where.String() + " is not an http or https URL"
		}
		if !rn.sameHost(pu) {
			return http.StatusForbidden, "batch: request target " + quote(target) + where.String() + " is on host " + quote(pu.Host) +
				", but the batch was sent to " + quote(rn.base.Host) + ": operations cannot reach other hosts"
		}
		*u = url.URL{Path: pu.Path, RawPath: pu.RawPath, RawQuery: pu.RawQuery, ForceQuery: pu.ForceQuery}
		requestURI = u.RequestURI()
		if !strings.EqualFold(canonHost(pu.Host, pu.Scheme), canonHost(rn.base.Host, rn.base.Scheme)) {
			aw.req.Host = pu.Host
		}
	}
	if isBatchPath(u.Path) || nested {
		return http.StatusBadRequest, "batch: request target " + quote(target) + where.String() + " is a batch: a batch cannot contain another batch"
	}

	for _, in := range rn.inherit {
		if _, ok := h[in.key]; !ok {
			m := copy(vals, in.values)
			h[in.key], vals = vals[:m:m], vals[m:]
		}
	}
	if contentLength != "" {
		vals[0] = contentLength
		h["Content-Length"] = vals[:1:1]
	}

	host := aw.req.Host
	aw.req = *rn.template(ctx)
	r := &aw.req
	r.Method = method
	r.URL = u
	r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, 1
	if string(e.proto) != "HTTP/1.1" {
		r.Proto = internProto(e.proto)
		r.ProtoMajor, r.ProtoMinor, _ = http.ParseHTTPVersion(r.Proto)
		if r.ProtoMajor == 0 {
			r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, 1
		}
	}
	r.Header = h
	r.ContentLength = n
	r.Body = http.NoBody
	if n > 0 {
		aw.src = e.body
		r.Body = (*opBody)(aw)
	}
	r.Host = rn.outer.Host
	if host != "" {
		r.Host = host
	}
	r.RequestURI = requestURI
	return 0, ""
}

// opBody is the request body next reads: the operation's part, until next
// returns or closes it.
type opBody answerWriter

func (b *opBody) Read(s []byte) (int, error) {
	aw := (*answerWriter)(b)
	aw.mu.Lock()
	defer aw.mu.Unlock()
	switch {
	case aw.done:
		return 0, errHandlerDone
	case aw.bodyShut:
		return 0, http.ErrBodyReadAfterClose
	}
	return aw.src.Read(s)
}

// copyBufs holds the buffers of opBody.WriteTo.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// WriteTo copies the body to w with a pooled buffer, so that io.Copy does
// not allocate one per operation. The lock is held while reading a chunk
// only: w may be the operation's own answer.
func (b *opBody) WriteTo(w io.Writer) (int64, error) {
	if w == io.Discard {
		return b.discard()
	}
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	var total int64
	for {
		n, rerr := b.Read(*bp)
		if n > 0 {
			m, werr := w.Write((*bp)[:n])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			return total, rerr
		}
	}
}

// discard is WriteTo(io.Discard), the usual way to drain a body: nothing
// is copied, and the body is skipped to its end with the lock held, as
// nothing calls back into the operation's writer.
func (b *opBody) discard() (int64, error) {
	aw := (*answerWriter)(b)
	aw.mu.Lock()
	defer aw.mu.Unlock()
	switch {
	case aw.done:
		return 0, errHandlerDone
	case aw.bodyShut:
		return 0, http.ErrBodyReadAfterClose
	}
	if br, ok := aw.src.(*bytes.Reader); ok { // the recording's: skipped at once
		n := int64(br.Len())
		_, _ = br.Seek(0, io.SeekEnd)
		return n, nil
	}
	if wt, ok := aw.src.(io.WriterTo); ok {
		return wt.WriteTo(io.Discard)
	}
	return io.Copy(io.Discard, aw.src)
}

func (b *opBody) Close() error {
	aw := (*answerWriter)(b)
	aw.mu.Lock()
	aw.bodyShut = true
	aw.mu.Unlock()
	return nil
}

// sameHost reports whether u's host is the batch's own, or one of
// AllowHosts, default ports aside.
func (rn *batchRun) sameHost(u *url.URL) bool {
	h := canonHost(u.Host, u.Scheme)
	if h == canonHost(rn.base.Host, rn.base.Scheme) {
		return true
	}
	for _, a := range rn.h.so.hosts {
		if h == canonHost(a, u.Scheme) {
			return true
		}
	}
	return false
}

// canonHost lower-cases host and drops the scheme's default port.
func canonHost(host, scheme string) string {
	host = strings.ToLower(host)
	switch scheme {
	case "http":
		host = strings.TrimSuffix(host, ":80")
	case "https":
		host = strings.TrimSuffix(host, ":443")
	}
	return host
}

// isBatchPath reports whether the last segment of path is $batch.
func isBatchPath(path string) bool {
	if len(path) < len("$batch") || path[len(path)-1]|0x20 != 'h' {
		return false
	}
	seg := path[strings.LastIndexByte(path, '/')+1:]
	return len(seg) == len("$batch") && strings.EqualFold(seg, "$batch")
}

// repeatedValues returns the values of the fields whose key is key, then
// value: all holds their names and values in turn, from the first, fl
// their lengths.
func repeatedValues(all string, fl []int, key, value string) []string {
	var vs []string
	off := 0
	for i := 0; i < len(fl); i += 2 {
		name := all[off : off+fl[i]]
		v := all[off+fl[i] : off+fl[i]+fl[i+1]]
		off += fl[i] + fl[i+1]
		if k, _ := fieldKey(name); k == key {
			vs = append(vs, v)
		}
	}
	return append(vs, value)
}

func isMultipart(ct string) bool {
	if ct != "" && ct[0]|0x20 != 'm' && ct[0] > ' ' && ct[0] < utf8.RuneSelf {
		return false // what TrimSpace would keep, and not an m
	}
	ct = strings.TrimSpace(ct)
	return len(ct) >= len("multipart/") && strings.EqualFold(ct[:len("multipart/")], "multipart/")
}

// notInherited reports whether k names one of the batch request's headers
// that describe the batch message rather than its operations (see
// Handler), but for those inheritable leaves out by prefix.
func notInherited(k string) bool {
	switch k {
	case "Accept", "Accept-Encoding", "Prefer", "Host", "Expect", "Range",
		"Connection", "Keep-Alive", "Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// outerHeader is what Handler takes from the batch request's header,
// found in one pass over it: the version headers, the Prefer lines, and
// the headers that operations inherit.
type outerHeader struct {
	v       versions
	prefer  []string
	inherit []inherited
}

// scanOuter returns the outerHeader of h: what versionsOf, h.Values("Prefer")
// and inheritable return, with one iteration over h where those would look
// keys up in it one by one.
func scanOuter(h http.Header) outerHeader {
	var o outerHeader
	var conn []string
	for k, vs := range h {
		switch k {
		case "Odata-Version":
			o.v.odata = firstValue(vs)
		case "Odata-Maxversion":
			o.v.odataMax = firstValue(vs)
		case "Dataserviceversion":
			o.v.ds = firstValue(vs)
		case "Maxdataserviceversion":
			o.v.dsMax = firstValue(vs)
		case "Prefer":
			o.prefer = vs
		case "Connection":
			conn = vs
		}
		if notInherited(k) || strings.HasPrefix(k, "Content-") || strings.HasPrefix(k, "If-") || strings.HasPrefix(k, "Proxy-") {
			continue
		}
		o.inherit = append(o.inherit, inherited{k, vs})
	}
	if len(conn) > 0 {
		named := connectionNames(conn)
		o.inherit = slices.DeleteFunc(o.inherit, func(in inherited) bool { return named[in.key] })
	}
	if len(o.inherit) > 1 {
		slices.SortFunc(o.inherit, func(a, b inherited) int { return strings.Compare(a.key, b.key) })
	}
	return o
}

func firstValue(vs []string) string {
	if len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// connectionNames returns the header names that Connection lines name, in
// canonical form.
func connectionNames(lines []string) map[string]bool {
	var conn map[string]bool
	for _, v := range lines {
		for _, f := range strings.Split(v, ",") {
			if conn == nil {
				conn = make(map[string]bool)
			}
			conn[http.CanonicalHeaderKey(strings.TrimSpace(f))] = true
		}
	}
	return conn
}

// inheritable returns the headers of the batch request that operations
// inherit, sorted by name.
func inheritable(outer http.Header) []inherited {
	var conn map[string]bool
	for _, v := range outer["Connection"] { // outer.Values("Connection"), without canonicalising
		for _, f := range strings.Split(v, ",") {
			if conn == nil {
				conn = make(map[string]bool)
			}
			conn[http.CanonicalHeaderKey(strings.TrimSpace(f))] = true
		}
	}
	var out []inherited
	for k, vs := range outer {
		if notInherited(k) || conn[k] || strings.HasPrefix(k, "Content-") || strings.HasPrefix(k, "If-") || strings.HasPrefix(k, "Proxy-") {
			continue
		}
		out = append(out, inherited{k, vs})
	}
	slices.SortFunc(out, func(a, b inherited) int { return strings.Compare(a.key, b.key) })
	return out
}
