package batchhttp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/batchcodec/batch"
)

// This file builds the outer request: the batch is encoded on demand, as
// the transport reads the body, by an io.Reader that drives the encoder one
// step at a time. No goroutine is started, so none can outlive a request
// that is never sent or whose context is cancelled.

// NewRequest returns the outer POST request to the batch endpoint: its
// Content-Type and Accept set to the dialect's multipart type, so that
// servers answer in kind, and its body the batch, encoded while the
// transport reads it.
//
// Options select the wire format ([Format]; multipart by default, JSON
// below), the dialect and boundary ([Encoding] with
// [batch.WithDialect], [batch.WithBoundary]), the form of request targets
// ([Targets]; by default a target under the batch URL's service root is
// written relative to it), buffering ([BufferRequest]) and the outer headers
// ([ContinueOnError], [ODataVersion], [OuterHeader]).
//
// Each request becomes an operation written as [WriteRequest] writes it,
// with a Content-ID: the request's own Content-ID header, else its 1-based
// position. The start lines and headers of every operation are validated
// here: an operation the encoder refuses is NewRequest's error.
//
// The request has a Content-Length whenever the batch's length can be known
// before sending: when every request body is empty or has a known
// ContentLength, or can be read once more through its GetBody to count it.
// The length is computed exactly without buffering; otherwise the body is
// sent chunked. Body bytes themselves are checked as they stream (a body
// line that would read as a delimiter is refused, see [batch.ErrUnsafe]),
// so such a body, or one whose length differs from its ContentLength, fails
// the send with that error. GetBody is set when every request with a body
// has one, so net/http can retry the batch or follow a 307 or 308 redirect.
//
// Request bodies are read and closed while the batch is sent; closing the
// outer body (http.Client.Do always does) closes those not yet read.
//
// # JSON batches
//
// With [Format]([FormatJSON]) or [Format]([FormatGraph]) the batch is a JSON
// document (package jsonbatch), Content-Type and Accept application/json:
// each request an item whose id is the Content-ID above, each changeset an
// atomicity group ("g1", "g2", …), each dependency ([RequestBatch.DependsOn])
// a "dependsOn" id, and each body a JSON value, text or base64 as its
// Content-Type calls for (a body without a Content-Type must be JSON).
// A JSON batch is encoded here, whole, reading and closing every request
// body: an item holds its body escaped or in base64, so the batch's length
// is known only once it is written. It is sent with a Content-Length, and
// with a GetBody. The formats differ in urls, header names and limits (see
// [FormatJSON] and [FormatGraph]). Options of the multipart encoder
// ([Encoding]) are refused; servers often want [ODataVersion]("4.01").
func (b *RequestBatch) NewRequest(ctx context.Context, endpoint string, opts ...ClientOption) (*http.Request, error) {
	o, err := newClientConfig(opts, sideRequest)
	if err != nil {
		return nil, err
	}
	switch {
	case o.format.json():
		return b.newJSONRequest(ctx, endpoint, &o)
	case o.format != FormatMultipart:
		return nil, fmt.Errorf("batchhttp: unknown %v", o.format)
	}
	deps, err := b.dependencies(b.matchPlan())
	if err != nil {
		return nil, err
	}
	if deps != nil && o.continueOnError {
		return nil, fmt.Errorf("%w: a multipart batch keeps dependencies only by stopping at the first failure, which ContinueOnError turns off; send a JSON batch (Format) or drop ContinueOnError", ErrDependency)
	}
	base, err := url.Parse(endpoint)
	if err != nil {
		return nil, err
	}
	enc, err := batch.NewEncoder(io.Discard, o.enc...)
	if err != nil {
		return nil, err
	}
	if enc.Dialect() == batch.UCWA {
		for _, g := range b.groups {
			if g.changeset {
				return nil, &batch.EncodeError{Part: -1, Field: "changeset", Err: batch.ErrDialect, Detail: "batch.UCWA has no changesets"}
			}
		}
	}
	form := o.targets
	if form == 0 {
		form = TargetServiceRelative
		if enc.Dialect() == batch.UCWA {
			form = TargetHostRelative
		}
	}
	plan := &encodePlan{
		groups: append([]requestGroup(nil), b.groups...),
		ids:    b.matchPlan().ids,
		opts:   append(append([]batch.EncodeOption(nil), o.enc...), batch.WithBoundary(enc.Boundary())),
		form:   form,
		base:   base,
	}
	for _, g := range plan.groups {
		cs := ""
		if g.changeset {
			cs = batch.NewBoundary("changeset_")
		}
		plan.changesets = append(plan.changesets, cs)
	}
	length, replayable, err := plan.length()
	if err != nil {
		return nil, err
	}

	var body io.Reader
	switch {
	case o.buffer:
		var buf bytes.Buffer
		r := plan.reader(false)
		_, err := io.Copy(&buf, r)
		r.Close()
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(buf.Bytes())
	default:
		body = plan.reader(false)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, body)
	if err != nil {
		return nil, err
	}
	if !o.buffer {
		req.ContentLength = length // -1 when unknown: chunked
		if replayable {
			req.GetBody = func() (io.ReadCloser, error) { return plan.reader(true), nil }
		}
	}
	mt, _, _ := batch.ParseContentType(enc.ContentType())
	o.setOuter(req.Header, enc.ContentType(), mt)
	return req, nil
}

// setOuter sets the outer request's headers: its Content-Type and Accept,
// then those the options ask for.
func (o *clientConfig) setOuter(h http.Header, contentType, accept string) {
	h.Set("Content-Type", contentType)
	h.Set("Accept", accept)
	if o.continueOnError {
		h.Set("Prefer", "odata.continue-on-error")
	}
	if o.odataVersion != "" {
		h.Set("OData-Version", o.odataVersion)
	}
	for k, vs := range o.header {
		h.Del(k)
		for _, v := range vs {
			h.Add(k, v)
		}
	}
}

// encodePlan is everything needed to encode one batch, any number of
// times, with the same bytes: the boundaries are fixed up front.
type encodePlan struct {
	groups     []requestGroup
	changesets []string // the boundary of each changeset group, "" for others
	ids        []string
	opts       []batch.EncodeOption
	form       TargetForm
	base       *url.URL

	// Set by length: each body's length (-1 unknown), and whether the
	// batch's length is known, which the bodies must then keep to.
	lengths []int64
	known   bool
}

// length encodes the batch once with empty bodies into a counter and adds
// the body lengths: a body's bytes are written as they are, so they add
// exactly their number to the total. A body of unknown length is counted by
// reading it through GetBody. It returns -1 when some length cannot be
// known, and whether every body can be read again (GetBody). Its errors are
// the encoder's, for operations it refuses.
func (p *encodePlan) length() (n int64, replayable bool, err error) {
	var c countWriter
	enc, err := batch.NewEncoder(&c, p.opts...)
	if err != nil {
		return 0, false, err
	}
	known, replayable := true, true
	var bodies int64
	p.lengths = make([]int64, len(p.ids))
	i := 0
	for gi, g := range p.groups {
		if g.changeset {
			if err := enc.BeginChangesetWith(p.changesets[gi], nil); err != nil {
				return 0, false, err
			}
		}
		for _, r := range g.reqs {
			op, err := p.operation(r, p.ids[i])
			if err != nil {
				return 0, false, err
			}
			n := int64(0)
			if hasBody(r) {
				replayable = replayable && r.GetBody != nil
				switch {
				case r.ContentLength > 0:
					n = r.ContentLength
				case r.GetBody != nil && known:
					rc, err := r.GetBody()
					if err != nil {
						return 0, false, err
					}
					n, err = io.Copy(io.Discard, rc)
					rc.Close()
					if err != nil {
						return 0, false, err
					}
				default:
					n, known = -1, false
				}
			}
			p.lengths[i] = n
			i++
			// A body adds its length to the batch, except inside a
			// changeset, whose part may carry a Content-Length of its own
			// ([batch.ChangesetContentLength]) with as many digits as the
			// bodies make: there, a filler of the same length is encoded.
			var body io.Reader
			switch {
			case n <= 0:
			case g.changeset:
				body = io.LimitReader(filler{}, n)
			default:
				bodies += n
			}
			if err := enc.WriteOperation(op, body); err != nil {
				return 0, false, err
			}
		}
		if g.changeset {
			if err := enc.EndChangeset(); err != nil {
				return 0, false, err
			}
		}
	}
	if err := enc.Close(); err != nil {
		return 0, false, err
	}
	if !known {
		return -1, replayable, nil
	}
	p.known = true
	return c.n + bodies, replayable, nil
}

// hasBody reports whether r has a body to send.
func hasBody(r *http.Request) bool { return r.Body != nil && r.Body != http.NoBody }

type countWriter struct{ n int64 }

// filler reads as an endless run of 'x', which no delimiter check refuses.
type filler struct{}

func (filler) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// operation builds the operation for r, its target in the plan's form.
func (p *encodePlan) operation(r *http.Request, contentID string) (*batch.Operation, error) {
	return requestOperation(r, contentID, p.base, p.form)
}

// requestOperation builds the operation that carries r: its target in the
// given form (resolved against base, the batch URL, when not nil), its
// headers sorted with canonical names, a Host header for a host-relative
// target, and Content-Length from r.ContentLength when positive and not in
// the headers.
func requestOperation(r *http.Request, contentID string, base *url.URL, form TargetForm) (*batch.Operation, error) {
	op := &batch.Operation{Message: batch.Request, Method: r.Method, ContentID: contentID}
	if op.Method == "" {
		op.Method = http.MethodGet
	}
	if r.URL == nil {
		return nil, &batch.EncodeError{Part: -1, Field: "URL", Err: batch.ErrInvalidOperation, Detail: "nil"}
	}
	target, host := requestTarget(base, r, form)
	op.Target = target
	op.Header = sortedFields(r.Header, nil)
	if host != "" && r.Header.Get("Host") == "" {
		op.Header = append([]batch.Field{{Name: "Host", Value: host}}, op.Header...)
	}
	if r.ContentLength > 0 && r.Header.Get("Content-Length") == "" {
		op.Header = append(op.Header, batch.Field{Name: "Content-Length", Value: strconv.FormatInt(r.ContentLength, 10)})
	}
	return op, nil
}

// requestTarget returns the target of r's request line in the given form,
// and the Host header to write with it ("" for none). A relative reference
// that does not start with "/" stands as it is; any other target is
// resolved against base (the batch URL) first.
func requestTarget(base *url.URL, r *http.Request, form TargetForm) (target, host string) {
	u := r.URL
	if !u.IsAbs() {
		if u.Host == "" && !strings.HasPrefix(u.Path, "/") {
			return u.String(), ""
		}
		if base == nil || !base.IsAbs() {
			return u.RequestURI(), r.Host
		}
		u = base.ResolveReference(u)
	}
	abs := *u
	abs.Fragment, abs.RawFragment = "", ""
	switch form {
	case TargetAbsolute:
		return abs.String(), ""
	case TargetHostRelative:
		host = r.Host
		if host == "" {
			host = u.Host
		}
		return u.RequestURI(), host
	}
	if base != nil && strings.EqualFold(u.Scheme, base.Scheme) && strings.EqualFold(u.Host, base.Host) {
		root := base.EscapedPath()
		root = root[:strings.LastIndexByte(root, '/')+1]
		if root == "" {
			root = "/"
		}
		if rest, ok := strings.CutPrefix(u.EscapedPath(), root); ok && rest != "" {
			rest = dotSegment(rest)
			if u.ForceQuery || u.RawQuery != "" {
				rest += "?" + u.RawQuery
			}
			return rest, ""
		}
	}
	return abs.String(), ""
}

// dotSegment makes a relative path safe to resolve: one that starts like a
// URI scheme and a colon ("a:b") would be read as an absolute URI (RFC 3986
// §4.2), so it gets "./" before it. An OData key with a colon inside
// ("Authors('a:b')") does not start like a scheme and is left as it is.
func dotSegment(rel string) string {
	colon := strings.IndexByte(rel, ':')
	if colon <= 0 || !isAlpha(rel[0]) {
		return rel
	}
	for i := 1; i < colon; i++ {
		if c := rel[i]; !isAlpha(c) && !('0' <= c && c <= '9') && c != '+' && c != '-' && c != '.' {
			return rel
		}
	}
	return "./" + rel
}

func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// reader returns a new on-demand reader of the encoded batch. The first
// one reads the requests' bodies; replays (for GetBody) read fresh ones
// from each request's GetBody.
func (p *encodePlan) reader(replay bool) *encodeReader {
	return &encodeReader{plan: p, replay: replay}
}

// encodeReader is the outer request's body: each Read drives the encoder
// one step (one part's header block, or one chunk of a body) into a small
// buffer and returns what it holds. Its memory is one chunk and one header
// block, whatever the size of the batch.
type encodeReader struct {
	plan   *encodePlan
	replay bool
	enc    *batch.Encoder
	buf    bytes.Buffer
	chunk  []byte

	gi, ri, i int           // group, request within it, request overall
	open      bool          // the current changeset is begun
	body      io.ReadCloser // the body being copied
	w         io.Writer     // the encoder's writer for it
	got       int64         // bytes read from it
	done      bool
	closed    bool
	err       error

	bodiesClosed bool
}

const encodeChunk = 32 << 10

func (e *encodeReader) Read(p []byte) (int, error) {
	for e.buf.Len() == 0 && !e.done && e.err == nil {
		if e.closed {
			e.err = errors.New("batch: read from a closed batch body")
			break
		}
		if err := e.step(); err != nil {
			e.err = err
			e.closeBodies()
		}
	}
	if e.buf.Len() > 0 {
		return e.buf.Read(p)
	}
	if e.err != nil {
		return 0, e.err
	}
	return 0, io.EOF
}

// step does one unit of encoding.
func (e *encodeReader) step() error {
	if e.enc == nil {
		enc, err := batch.NewEncoder(&e.buf, e.plan.opts...)
		if err != nil {
			return err
		}
		e.enc = enc
	}
	if e.body != nil {
		if e.chunk == nil {
			e.chunk = make([]byte, encodeChunk)
		}
		n, err := e.body.Read(e.chunk)
		e.got += int64(n)
		if want := e.plan.lengths[e.i-1]; e.plan.known && (e.got > want || err == io.EOF && e.got != want) {
			return fmt.Errorf("batch: the body of request %d has %d bytes or more, not the %d announced by its ContentLength or GetBody", e.i-1, e.got, want)
		}
		if n > 0 {
			if _, werr := e.w.Write(e.chunk[:n]); werr != nil {
				return werr
			}
		}
		switch {
		case err == io.EOF:
			e.body.Close()
			e.body, e.w = nil, nil
			if err := e.enc.Err(); err != nil {
				return err
			}
		case err != nil:
			return err
		}
		return nil
	}
	groups := e.plan.groups
	if e.gi == len(groups) {
		e.done = true
		return e.enc.Close()
	}
	g := groups[e.gi]
	if g.changeset && !e.open {
		e.open = true
		return e.enc.BeginChangesetWith(e.plan.changesets[e.gi], nil)
	}
	if e.ri < len(g.reqs) {
		r := g.reqs[e.ri]
		op, err := e.plan.operation(r, e.plan.ids[e.i])
		if err != nil {
			return err
		}
		e.ri++
		e.i++
		var body io.ReadCloser
		if hasBody(r) {
			if e.replay {
				if body, err = r.GetBody(); err != nil {
					return err
				}
			} else {
				body = r.Body
			}
		}
		w, err := e.enc.CreateOperation(op)
		if err != nil {
			if body != nil {
				body.Close()
			}
			return err
		}
		if body != nil && body != http.NoBody {
			e.body, e.w, e.got = body, w, 0
		}
		return nil
	}
	if g.changeset {
		e.open = false
		if err := e.enc.EndChangeset(); err != nil {
			return err
		}
	}
	e.gi++
	e.ri = 0
	return nil
}

// Close closes the body being copied and, for the first reader, the
// bodies of the requests not yet written.
func (e *encodeReader) Close() error {
	if !e.closed {
		e.closed = true
		e.closeBodies()
	}
	return nil
}

func (e *encodeReader) closeBodies() {
	if e.body != nil {
		e.body.Close()
		e.body = nil
	}
	if e.replay {
		return
	}
	if e.bodiesClosed {
		return
	}
	e.bodiesClosed = true
	for gi, g := range e.plan.groups {
		for ri, r := range g.reqs {
			if later := gi > e.gi || (gi == e.gi && ri >= e.ri); later && hasBody(r) {
				r.Body.Close()
			}
		}
	}
}

var _ io.ReadCloser = (*encodeReader)(nil)
