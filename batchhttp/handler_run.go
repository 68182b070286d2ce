package batchhttp

import (
	"context"
	crand "crypto/rand"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"

	"github.com/batchcodec/batch"
)

// batchRun is pass 2 of [Handler]: one batch being run and answered.
type batchRun struct {
	h       *handler
	flushW  flushTarget // flushes the batch response
	outer   *http.Request
	base    *url.URL
	baseURL url.URL // what base points to, in a run of Handler's
	enc     *batch.Encoder
	dash    []byte // "--" and the answer's boundary
	framed  bool   // changeset answers keep their framing
	coe     bool   // continue on error
	inherit []inherited
	lens    []int64           // body length of each operation, from pass 1
	rec     *recording        // pass 1's record of the batch, if any: then no decoder
	nop     int               // operations met so far
	locs    map[string]string // by Content-ID, once settled
	pending []idLocation      // recorded, not yet in locs
	failed  bool              // an operation or changeset failed
	aborted bool              // the response cannot go on: end it without its close delimiter
	cs      *changeset
	csv     changeset // what cs points to

	csBoundary string // of changeset answers, when framed
	csDash     []byte

	// Scratch space reused from one operation to the next.
	tmpl    *http.Request // carries the context operations run with: &tmplv
	tmplv   http.Request
	tmplCtx context.Context
	spare   []byte        // the held body of the next top-level answer
	tfields []batch.Field // the header of the next top-level answer
	keys    []keyValues   // snapshot's scratch
	sniff   []byte
	emb     embedded // the running operation's request
	strs    []byte
	fl      []int
	arena   []batch.Field   // the headers of the open changeset's answers
	answers []*answerWriter // the open changeset's, for reuse
	slab    []answerWriter  // the writers of the operations to come
	rng     *rand.ChaCha8   // for boundaries (see newBoundary)
	op      batch.Operation // commit's, to the encoder

	plainValue  string   // the last request header value found without control bytes
	cleanAnswer string   // the last answer header value found clean as it was
	ids         []string // the open changeset's recorded Content-IDs, for reuse
}

// inherited is a header of the batch request that operations inherit.
type inherited struct {
	key    string
	values []string
}

// changeset is the open changeset of a run.
type changeset struct {
	ctx      context.Context
	boundary string // of its answer, when framed
	dash     []byte // "--" and boundary
	firstID  string // the Content-ID of its first operation
	begun    bool   // the hook's Begin was called (or there is no hook)
	answers  []*answerWriter
	fail     *answerWriter // the one answer for the failed changeset
	used     int64         // bytes of held answers
	ids      []string      // Content-IDs recorded in batchRun.locs
}

// run writes the outer response's header and runs the batch decoded by d.
func (h *handler) run(w http.ResponseWriter, r *http.Request, oh *outerHeader, d *batch.Decoder, pl *recording, dialect batch.Dialect, lens []int64, rn *batchRun) {
	// The default boundary first, so that one in the options wins; the
	// request's dialect last, as a UCWA batch is answered in UCWA.
	var optBuf [8]batch.EncodeOption
	opts := append(optBuf[:0], batch.WithBoundary(rn.newBoundary("batchresponse_")))
	opts = append(opts, h.so.enc...)
	opts = append(opts, h.dialectOpt(dialect))
	enc, err := batch.NewEncoder(w, opts...)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	coe, _, pref := preferenceIn(oh.prefer)
	hdr := w.Header()
	hdr["Content-Type"] = []string{enc.ContentType()} // Set, without canonicalising
	status := http.StatusOK
	if dialect != batch.UCWA {
		v := oh.v
		if ov := strings.TrimSpace(v.odata); ov != "" || v.odataMax != "" {
			if ov != "4.01" {
				ov = "4.0"
			}
			hdr["OData-Version"] = []string{ov} // spelled as OData writes it
		} else if v.ds != "" || v.dsMax != "" {
			hdr["DataServiceVersion"] = []string{"1.0"}
		}
		if h.so.v2 || v.v2() {
			status = http.StatusAccepted
		}
	}
	if coe {
		hdr.Set("Preference-Applied", pref)
	}
	// rn is reused from an earlier batch: its scratch space stays.
	*rn = batchRun{
		spare:   rn.spare[:0],
		tfields: rn.tfields[:0],
		keys:    rn.keys[:0],
		sniff:   rn.sniff[:0],
		strs:    rn.strs[:0],
		fl:      rn.fl[:0],
		arena:   rn.arena[:0],
		answers: rn.answers[:0],
		ids:     rn.ids[:0],
		locs:    rn.locs,
		pending: rn.pending[:0],
		rng:     rn.rng,
		dash:    append(append(rn.dash[:0], "--"...), enc.Boundary()...),

		h:       h,
		flushW:  flusher(w),
		outer:   r,
		enc:     enc,
		framed:  dialect == batch.ODataV4,
		coe:     coe,
		inherit: oh.inherit,
		lens:    lens,
		rec:     pl,
	}
	rn.baseURL = batchBaseURL(r)
	rn.base = &rn.baseURL
	w.WriteHeader(status)
	rn.flush()
	rn.loop(d)
}

// versions holds the version headers of a batch request: OData-Version,
// OData-MaxVersion, DataServiceVersion and MaxDataServiceVersion.
type versions struct{ odata, odataMax, ds, dsMax string }

// versionsOf looks the version headers up by their canonical spelling:
// Get("OData-Version") would canonicalise, and allocate, every time.
func versionsOf(h http.Header) versions {
	return versions{headerValue(h, "Odata-Version"), headerValue(h, "Odata-Maxversion"),
		headerValue(h, "Dataserviceversion"), headerValue(h, "Maxdataserviceversion")}
}

// v2 reports whether the batch request says it speaks OData V2 (or V1):
// DataServiceVersion or MaxDataServiceVersion 1.0 to 2.0, and no
// OData-Version, which only V4 clients send.
func (vs versions) v2() bool {
	if vs.odata != "" || vs.odataMax != "" {
		return false
	}
	for _, v := range [2]string{vs.ds, vs.dsMax} {
		if v == "" {
			continue
		}
		// "2.0;NetFx", as WCF clients write it.
		v, _, _ = strings.Cut(v, ";")
		major, _, _ := strings.Cut(strings.TrimSpace(v), ".")
		if major == "1" || major == "2" {
			return true
		}
	}
	return false
}

// headerValue is h.Get(key) for a key in canonical form.
func headerValue(h http.Header, key string) string {
	if vs := h[key]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// newBoundary returns prefix followed by 32 random hex digits, as
// batch.NewBoundary does, from a ChaCha8 generator (cryptographically
// strong, as crypto/rand's) seeded from crypto/rand once for the pooled
// state rather than a read of crypto/rand for every boundary.
func (rn *batchRun) newBoundary(prefix string) string {
	if len(prefix) > 32 {
		return batch.NewBoundary(prefix)
	}
	if rn.rng == nil {
		var seed [32]byte
		if _, err := crand.Read(seed[:]); err != nil {
			return batch.NewBoundary(prefix)
		}
		rn.rng = rand.NewChaCha8(seed)
	}
	var b [64]byte
	n := copy(b[:], prefix)
	const hexdig = "0123456789abcdef"
	for range 2 {
		x := rn.rng.Uint64()
		for range 16 {
			b[n] = hexdig[x&15]
			x >>= 4
			n++
		}
	}
	return string(b[:n])
}

func (rn *batchRun) flush() { _ = rn.flushW.flush() }

// flushTarget is what flushes a ResponseWriter: its FlushError, else its
// Flush, else nothing.
type flushTarget struct {
	fe interface{ FlushError() error }
	f  http.Flusher
}

func (t flushTarget) flush() error {
	switch {
	case t.fe != nil:
		return t.fe.FlushError()
	case t.f != nil:
		t.f.Flush()
		return nil
	}
	return http.ErrNotSupported
}

// flusher returns what flushes w, found as http.ResponseController.Flush
// finds it (FlushError, else Flush, else the same of what Unwrap returns),
// once rather than at every answer.
func flusher(w http.ResponseWriter) flushTarget {
	for {
		switch t := w.(type) {
		case interface{ FlushError() error }:
			return flushTarget{fe: t}
		case http.Flusher:
			return flushTarget{f: t}
		case interface{ Unwrap() http.ResponseWriter }:
			w = t.Unwrap()
		default:
			return flushTarget{}
		}
	}
}

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
		kind, err := rn.nextPart(d)
		if err == io.EOF {
			break
		}
		if err != nil {
			// The spool failed under us (pass 1 read it whole): end
			// without the close delimiter, so the client sees a
			// truncated batch rather than a short one.
			return
		}
		switch kind {
		case batch.KindChangesetStart:
			// One changeset boundary serves every changeset of the
			// response, as they follow each other.
			if rn.framed && rn.csBoundary == "" {
				rn.csBoundary = rn.newBoundary("changesetresponse_")
				rn.csDash = []byte("--" + rn.csBoundary)
			}
			rn.csv = changeset{ctx: ctx, boundary: rn.csBoundary, dash: rn.csDash, answers: rn.answers, ids: rn.ids}
			rn.cs, rn.answers, rn.ids = &rn.csv, nil, nil
		case batch.KindChangesetEnd:
			rn.endChangeset()
		case batch.KindOperation:
			if rn.cs != nil {
				rn.changesetOp(&rn.emb)
			} else {
				rn.topOp(&rn.emb)
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

// nextPart advances to the next part of the batch, from the recording or the
// decoder, and returns its kind; for an operation, rn.emb is its embedded
// request.
func (rn *batchRun) nextPart(d *batch.Decoder) (batch.Kind, error) {
	if rn.rec != nil {
		var length int64
		if rn.nop < len(rn.lens) {
			length = rn.lens[rn.nop]
		}
		return rn.rec.nextPart(&rn.emb, length)
	}
	p, err := d.Next()
	if err != nil {
		return 0, err
	}
	if p.Kind() == batch.KindOperation {
		rn.fromPart(p, rn.nop)
	}
	return p.Kind(), nil
}

// answerSlab is the most answer writers allocated at once.
const answerSlab = 32

// newAnswerWriter returns the writer for an operation with the given
// Content-ID: streaming at top level, else held up to limit bytes.
//
// Writers are allocated a few at a time, for the operations to come, each
// given to one operation only: an operation's writer and request are its
// own, and stay so once it has returned.
func (rn *batchRun) newAnswerWriter(contentID string, stream bool, limit int64) *answerWriter {
	if len(rn.slab) == 0 {
		rn.slab = make([]answerWriter, min(max(len(rn.lens)-rn.nop+1, 1), answerSlab))
	}
	aw := &rn.slab[0]
	rn.slab = rn.slab[1:]
	aw.r, aw.contentID, aw.stream, aw.limit, aw.declared = rn, contentID, stream, limit, -1
	aw.fields, rn.tfields = rn.tfields[:0], nil
	if stream {
		aw.buf, rn.spare = rn.spare[:0], nil
	}
	return aw
}

// topOp runs a top-level operation and streams its answer.
func (rn *batchRun) topOp(e *embedded) {
	rn.nop++
	aw := rn.newAnswerWriter("", true, 0)
	rn.serve(rn.outer.Context(), e, aw)
	if aw.panicked && aw.committed {
		rn.aborted = true // part of the answer is out: do not pretend it is whole
		return
	}
	if !aw.prepare(nil) {
		rn.aborted = true // a short body is out: as net/http, cut the connection
		return
	}
	rn.record(aw)
	failed := aw.finalStatus() >= 400
	aw.commit(true, nil)
	if aw.err != nil {
		rn.aborted = true
		return
	}
	rn.flush()
	if failed {
		rn.failed = true
	}
}

// changesetOp runs an operation inside the open changeset and holds its
// answer.
func (rn *batchRun) changesetOp(e *embedded) {
	rn.nop++
	cs := rn.cs
	if cs.fail != nil {
		return // the changeset failed: the rest does not run
	}
	hook := rn.h.so.hook
	if !cs.begun {
		cs.begun = true
		cs.firstID = string(e.id)
		if hook != nil {
			ctx, err := hookBegin(hook, cs.ctx)
			if err != nil {
				cs.fail = rn.failure(cs.firstID, http.StatusInternalServerError, "batch: beginning the changeset: "+err.Error())
				return
			}
			if ctx != nil {
				cs.ctx = ctx
			}
		}
	}
	aw := rn.newAnswerWriter("", false, rn.h.so.maxBytes-cs.used)
	// Its header is taken into the spare room of the run's arena, where
	// the changeset's held answers keep theirs; the scratch goes back.
	at := len(rn.arena)
	rn.tfields, aw.fields = aw.fields[:0], rn.arena[at:at]
	rn.serve(cs.ctx, e, aw)
	// Decide now whether the answer can be written, before Commit.
	aw.prepare(cs.dash)
	cs.used += int64(len(aw.buf))
	if aw.finalStatus() >= 400 {
		cs.fail = aw
		if hook != nil {
			_ = hookCall(hook.Rollback, cs.ctx)
		}
		rn.forget(cs)
		return
	}
	aw.operation(true, nil)
	if n := len(aw.fields); n > 0 && at < cap(rn.arena) && &rn.arena[:at+1][at] == &aw.fields[0] {
		rn.arena = rn.arena[:at+n] // taken in place
	} else {
		// Grown elsewhere (or replaced): moved to the arena.
		rn.arena = append(rn.arena, aw.fields...)
	}
	aw.fields = rn.arena[at:len(rn.arena):len(rn.arena)]
	if id := rn.record(aw); id != "" {
		cs.ids = append(cs.ids, id)
	}
	cs.answers = append(cs.answers, aw)
}

// endChangeset commits the open changeset and writes its answers, framed
// as a changeset, or the one failure that stands for it, unframed (OData
// 4.0 Part 1 §11.7.4: "the change set response is not represented using
// the multipart/mixed media type").
func (rn *batchRun) endChangeset() {
	cs := rn.cs
	rn.cs = nil
	defer func() {
		clear(cs.answers)
		clear(cs.ids)
		rn.answers, rn.arena, rn.ids = cs.answers[:0], rn.arena[:0], cs.ids[:0]
	}()
	if hook := rn.h.so.hook; hook != nil && cs.fail == nil && cs.begun {
		if err := hookCall(hook.Commit, cs.ctx); err != nil {
			cs.fail = rn.failure(cs.firstID, http.StatusInternalServerError, "batch: committing the changeset: "+err.Error())
			rn.forget(cs)
		}
	}
	if cs.fail != nil {
		rn.failed = true
		cs.fail.commit(true, nil)
		if cs.fail.err != nil {
			rn.aborted = true
			return
		}
		rn.flush()
		return
	}
	if rn.framed {
		if rn.enc.BeginChangesetWith(cs.boundary, nil) != nil {
			return
		}
	}
	for _, aw := range cs.answers {
		aw.commit(true, nil)
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

// failure returns a held handler-made failure answer.
func (rn *batchRun) failure(contentID string, status int, msg string) *answerWriter {
	aw := rn.newAnswerWriter(contentID, false, 0)
	aw.replace(status, msg)
	return aw
}

// record remembers the Location of a successful answer with a Content-ID,
// for "$n" references, and returns that Content-ID ("" if none).
func (rn *batchRun) record(aw *answerWriter) string {
	if aw.contentID == "" || aw.noLocation || aw.finalStatus() >= 400 {
		return ""
	}
	loc := ""
	for _, f := range aw.fields {
		if f.Name == "Location" || len(f.Name) == len("Location") && strings.EqualFold(f.Name, "Location") {
			loc = f.Value
			break
		}
	}
	if loc == "" {
		return ""
	}
	// Into the map only when it is read: most batches never look one up.
	rn.pending = append(rn.pending, idLocation{aw.contentID, loc})
	return aw.contentID
}

// idLocation is a Location recorded for a Content-ID.
type idLocation struct{ id, loc string }

// settle puts the pending Locations into rn.locs, in the order recorded.
func (rn *batchRun) settle() {
	if len(rn.pending) == 0 {
		return
	}
	if rn.locs == nil {
		rn.locs = make(map[string]string, len(rn.pending))
	}
	for _, p := range rn.pending {
		rn.locs[p.id] = p.loc
	}
	clear(rn.pending)
	rn.pending = rn.pending[:0]
}

// forget drops the Locations a failed changeset recorded: they name
// nothing now.
func (rn *batchRun) forget(cs *changeset) {
	rn.settle()
	for _, id := range cs.ids {
		delete(rn.locs, id)
	}
	clear(cs.ids)
	cs.ids = cs.ids[:0]
}

func (rn *batchRun) lookup(id string) (string, bool) {
	rn.settle()
	loc, ok := rn.locs[id]
	return loc, ok
}

// fromPart returns the embedded request of p, operation i of the batch,
// in the run's scratch space.
func (rn *batchRun) fromPart(p *batch.Part, i int) *embedded {
	id, _ := p.ContentID()
	rn.emb = embedded{method: p.Method(), proto: p.Proto(), target: p.Target(), id: id, header: p.Header(),
		declared: p.ContentLength() >= 0, length: rn.lens[i], index: p.Index(), body: p}
	return &rn.emb
}

// serve builds the request for operation e and runs it through next, or
// answers it with a refusal. Once next returns, its writer and request
// body are dead.
func (rn *batchRun) serve(ctx context.Context, e *embedded, aw *answerWriter) {
	status, msg := rn.request(ctx, e, aw)
	if status != 0 {
		aw.replace(status, msg)
		aw.end()
		return
	}
	req := &aw.req
	aw.head = req.Method == http.MethodHead
	defer func() {
		aw.end()
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
