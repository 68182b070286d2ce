package batchhttp

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/batchcodec/batch"
)

// batchRun is pass 2 of [Handler]: one batch being run and answered.
type batchRun struct {
	h       *handler
	rc      *http.ResponseController
	outer   *http.Request
	base    *url.URL
	enc     *batch.Encoder
	framed  bool // changeset answers keep their framing
	coe     bool // continue on error
	inherit http.Header
	lens    []int64 // body length of each operation, from pass 1
	nop     int     // operations met so far
	locs    map[string]string
	failed  bool // an operation or changeset failed
	aborted bool // the response cannot go on: end it without its close delimiter
	cs      *changeset
}

// changeset is the open changeset of a run.
type changeset struct {
	ctx     context.Context
	begun   bool // the hook's Begin was called (or there is no hook)
	answers []*answerWriter
	fail    *answerWriter // the one answer for the failed changeset
	used    int64         // bytes of held answers
	ids     []string      // Content-IDs recorded in batchRun.locs
}

// run writes the outer response's header and runs the batch decoded by d.
func (h *handler) run(w http.ResponseWriter, r *http.Request, d *batch.Decoder, dialect batch.Dialect, lens []int64) {
	// The default boundary first, so that one in the options wins; the
	// request's dialect last, as a UCWA batch is answered in UCWA.
	opts := make([]batch.EncodeOption, 0, len(h.so.enc)+2)
	opts = append(opts, batch.WithBoundary(batch.NewBoundary("batchresponse_")))
	opts = append(opts, h.so.enc...)
	opts = append(opts, batch.WithDialect(dialect))
	enc, err := batch.NewEncoder(w, opts...)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	coe, pref := continueOnError(r.Header)
	hdr := w.Header()
	hdr.Set("Content-Type", enc.ContentType())
	if dialect != batch.UCWA {
		if v := strings.TrimSpace(r.Header.Get("OData-Version")); v != "" || r.Header.Get("OData-MaxVersion") != "" {
			if v != "4.01" {
				v = "4.0"
			}
			hdr["OData-Version"] = []string{v} // spelled as OData writes it
		} else if r.Header.Get("DataServiceVersion") != "" || r.Header.Get("MaxDataServiceVersion") != "" {
			hdr["DataServiceVersion"] = []string{"1.0"}
		}
	}
	if coe {
		hdr.Set("Preference-Applied", pref)
	}
	base := &url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath}
	if r.TLS != nil {
		base.Scheme = "https"
	}
	rn := &batchRun{
		h:       h,
		rc:      http.NewResponseController(w),
		outer:   r,
		base:    base,
		enc:     enc,
		framed:  dialect == batch.ODataV4,
		coe:     coe,
		inherit: inheritable(r.Header),
		lens:    lens,
	}
	w.WriteHeader(http.StatusOK)
	rn.flush()
	rn.loop(d)
}

func (rn *batchRun) flush() { _ = rn.rc.Flush() }

// loop runs the parts of the batch in order.
func (rn *batchRun) loop(d *batch.Decoder) {
	ctx := rn.outer.Context()
	// A changeset left open when the run ends early (the client went
	// away, the output failed) is rolled back: its hook was promised
	// Commit or Rollback.
	defer func() {
		if cs, hook := rn.cs, rn.h.so.hook; cs != nil && hook != nil && cs.begun && cs.fail == nil {
			_ = hookCall(hook.Rollback, cs.ctx)
			rn.forget(cs)
		}
	}()
	for {
		p, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			// The spool failed under us (pass 1 read it whole): end
			// without the close delimiter, so the client sees a
			// truncated batch rather than a short one.
			return
		}
		switch p.Kind() {
		case batch.KindChangesetStart:
			rn.cs = &changeset{ctx: ctx}
		case batch.KindChangesetEnd:
			rn.endChangeset()
		case batch.KindOperation:
			if rn.cs != nil {
				rn.changesetOp(p)
			} else {
				rn.topOp(p)
			}
		}
		if rn.aborted || rn.enc.Err() != nil || ctx.Err() != nil {
			return
		}
		if rn.failed && !rn.coe && rn.cs == nil {
			break // OData: stop after the first failure
		}
	}
	if rn.enc.Close() == nil {
		rn.flush()
	}
}

// contentID returns the operation's Content-ID as an owned string.
func contentID(p *batch.Part) string {
	id, _ := p.ContentID()
	return string(id)
}

// topOp runs a top-level operation and streams its answer.
func (rn *batchRun) topOp(p *batch.Part) {
	i := rn.nop
	rn.nop++
	aw := newAnswerWriter(rn, contentID(p), true, 0)
	rn.serve(rn.outer.Context(), p, i, aw)
	if aw.panicked && aw.committed {
		rn.aborted = true // part of the answer is out: do not pretend it is whole
		return
	}
	aw.commit(true)
	if aw.err != nil {
		rn.aborted = true
		return
	}
	rn.record(aw)
	rn.flush()
	if aw.finalStatus() >= 400 {
		rn.failed = true
	}
}

// changesetOp runs an operation inside the open changeset and holds its
// answer.
func (rn *batchRun) changesetOp(p *batch.Part) {
	i := rn.nop
	rn.nop++
	cs := rn.cs
	if cs.fail != nil {
		return // the changeset failed: the rest does not run
	}
	hook := rn.h.so.hook
	if !cs.begun {
		cs.begun = true
		if hook != nil {
			ctx, err := hookBegin(hook, cs.ctx)
			if err != nil {
				cs.fail = rn.failure(http.StatusInternalServerError, "batch: beginning the changeset: "+err.Error())
				return
			}
			if ctx != nil {
				cs.ctx = ctx
			}
		}
	}
	aw := newAnswerWriter(rn, contentID(p), false, rn.h.so.maxBytes-cs.used)
	rn.serve(cs.ctx, p, i, aw)
	if aw.tooLarge {
		aw.replace(http.StatusInternalServerError, errAnswerTooLarge.Error())
	}
	cs.used += int64(aw.buf.Len())
	if aw.finalStatus() >= 400 {
		cs.fail = aw
		if hook != nil {
			_ = hookCall(hook.Rollback, cs.ctx)
		}
		rn.forget(cs)
		return
	}
	if id := rn.record(aw); id != "" {
		cs.ids = append(cs.ids, id)
	}
	cs.answers = append(cs.answers, aw)
}

// endChangeset commits the open changeset and writes its answers, or the
// one failure that stands for it.
func (rn *batchRun) endChangeset() {
	cs := rn.cs
	rn.cs = nil
	if hook := rn.h.so.hook; hook != nil && cs.fail == nil && cs.begun {
		if err := hookCall(hook.Commit, cs.ctx); err != nil {
			cs.fail = rn.failure(http.StatusInternalServerError, "batch: committing the changeset: "+err.Error())
			rn.forget(cs)
		}
	}
	if rn.framed {
		if rn.enc.BeginChangesetWith(batch.NewBoundary("changesetresponse_"), nil) != nil {
			return
		}
	}
	answers := cs.answers
	if cs.fail != nil {
		answers = []*answerWriter{cs.fail}
		rn.failed = true
	}
	for _, aw := range answers {
		aw.commit(true)
		if aw.err != nil {
			rn.aborted = true
			return
		}
	}
	if rn.framed {
		if rn.enc.EndChangeset() != nil {
			return
		}
	}
	rn.flush()
}

// failure returns a held handler-made failure answer without Content-ID.
func (rn *batchRun) failure(status int, msg string) *answerWriter {
	aw := newAnswerWriter(rn, "", false, 0)
	aw.replace(status, msg)
	return aw
}

// record remembers the Location of a successful answer with a Content-ID,
// for "$n" references, and returns that Content-ID ("" if none).
func (rn *batchRun) record(aw *answerWriter) string {
	loc := aw.header.Get("Location")
	if aw.contentID == "" || loc == "" || aw.finalStatus() >= 400 {
		return ""
	}
	if rn.locs == nil {
		rn.locs = make(map[string]string)
	}
	rn.locs[aw.contentID] = loc
	return aw.contentID
}

// forget drops the Locations a failed changeset recorded: they name
// nothing now.
func (rn *batchRun) forget(cs *changeset) {
	for _, id := range cs.ids {
		delete(rn.locs, id)
	}
	cs.ids = nil
}

func (rn *batchRun) lookup(id string) (string, bool) {
	loc, ok := rn.locs[id]
	return loc, ok
}

// serve builds the request for operation i and runs it through next, or
// answers it with a refusal.
func (rn *batchRun) serve(ctx context.Context, p *batch.Part, i int, aw *answerWriter) {
	req, status, msg := rn.request(ctx, p, i)
	if req == nil {
		aw.replace(status, msg)
		return
	}
	aw.head = req.Method == http.MethodHead
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		aw.panicked = true
		rn.logPanic(req, v)
		if !aw.committed {
			aw.replace(http.StatusInternalServerError, "batch: the operation's handler panicked")
		}
	}()
	rn.h.next.ServeHTTP(aw, req)
}

// logPanic logs a panic in next as net/http logs one in a handler.
func (rn *batchRun) logPanic(req *http.Request, v any) {
	if v == http.ErrAbortHandler {
		return
	}
	stack := debug.Stack()
	if len(stack) > 64<<10 {
		stack = stack[:64<<10]
	}
	msg := fmt.Sprintf("batch: panic serving %s %s in a batch from %s: %v\n%s", req.Method, req.URL, req.RemoteAddr, v, stack)
	if srv, ok := rn.outer.Context().Value(http.ServerContextKey).(*http.Server); ok && srv.ErrorLog != nil {
		srv.ErrorLog.Print(msg)
		return
	}
	log.Print(msg)
}

// request converts operation i into the *http.Request next sees, or
// returns the status and message of the answer that refuses it.
func (rn *batchRun) request(ctx context.Context, p *batch.Part, i int) (*http.Request, int, string) {
	where := " in part " + strconv.Itoa(p.Index())
	req, err := Request(p, rn.base)
	if err != nil {
		return nil, http.StatusBadRequest, err.Error()
	}
	target := string(p.Target())
	if resolved, ok := ResolveContentID(target, rn.lookup); ok {
		u, err := ResolveTarget(rn.base, resolved)
		if err != nil {
			return nil, http.StatusBadRequest, "batch: request target " + quote(resolved) + " (from " + quote(target) + ")" + where + ": " + err.Error()
		}
		req.URL = u
	}
	u := req.URL
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, http.StatusBadRequest, "batch: request target " + quote(target) + where + " is not an http or https URL"
	}
	if !rn.sameHost(u) {
		return nil, http.StatusForbidden, "batch: request target " + quote(target) + where + " is on host " + quote(u.Host) +
			", but the batch was sent to " + quote(rn.base.Host) + ": operations cannot reach other hosts"
	}
	if isBatchPath(u.Path) || isMultipart(req.Header.Get("Content-Type")) {
		return nil, http.StatusBadRequest, "batch: request target " + quote(target) + where + " is a batch: a batch cannot contain another batch"
	}
	req.Host = u.Host
	req.URL = &url.URL{Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery, ForceQuery: u.ForceQuery}
	req.RequestURI = req.URL.RequestURI()
	req.Header.Del("Host")
	for k, vs := range rn.inherit {
		if _, ok := req.Header[k]; !ok {
			req.Header[k] = append([]string(nil), vs...)
		}
	}
	n := rn.lens[i]
	req.ContentLength = n
	if n > 0 {
		req.Body = partBody{p}
	} else {
		req.Body = http.NoBody
	}
	if n > 0 || req.Header.Get("Content-Length") != "" {
		req.Header.Set("Content-Length", strconv.FormatInt(n, 10))
	}
	if req.ProtoMajor == 0 {
		req.Proto, req.ProtoMajor, req.ProtoMinor = "HTTP/1.1", 1, 1
	}
	req.RemoteAddr = rn.outer.RemoteAddr
	req.TLS = rn.outer.TLS
	return req.WithContext(ctx), 0, ""
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
	seg := path[strings.LastIndexByte(path, '/')+1:]
	return strings.EqualFold(seg, "$batch")
}

func isMultipart(ct string) bool {
	ct = strings.ToLower(strings.TrimSpace(ct))
	return strings.HasPrefix(ct, "multipart/")
}

// notInherited names the batch request's headers that describe the batch
// message rather than its operations (see Handler).
var notInherited = map[string]bool{
	"Accept": true, "Accept-Encoding": true, "Prefer": true, "Host": true, "Expect": true, "Range": true,
	"Connection": true, "Keep-Alive": true, "Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
}

// inheritable returns the headers of the batch request that operations
// inherit.
func inheritable(outer http.Header) http.Header {
	conn := make(map[string]bool)
	for _, v := range outer.Values("Connection") {
		for _, f := range strings.Split(v, ",") {
			conn[http.CanonicalHeaderKey(strings.TrimSpace(f))] = true
		}
	}
	out := make(http.Header)
	for k, vs := range outer {
		if notInherited[k] || conn[k] || strings.HasPrefix(k, "Content-") || strings.HasPrefix(k, "If-") || strings.HasPrefix(k, "Proxy-") {
			continue
		}
		out[k] = vs
	}
	return out
}

// hookBegin calls h.Begin, a panic counting as its error.
func hookBegin(h ChangesetHook, ctx context.Context) (c context.Context, err error) {
	defer func() {
		if v := recover(); v != nil {
			c, err = nil, fmt.Errorf("panic: %v", v)
		}
	}()
	return h.Begin(ctx)
}

// hookCall calls Commit or Rollback, a panic counting as its error.
func hookCall(f func(context.Context) error, ctx context.Context) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic: %v", v)
		}
	}()
	return f(ctx)
}
