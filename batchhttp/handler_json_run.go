package batchhttp

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/batchcodec/batch"
	"github.com/batchcodec/batch/jsonbatch"
)

// This file is pass 2 of a JSON batch: it runs the units of the plan, each
// once the units it depends on have succeeded, up to Concurrency at a
// time, and hands each unit's answers to the sink as it completes.

// jsonRun is one JSON batch being run.
type jsonRun struct {
	rn         *batchRun // the batch's request context, copied for each unit
	plan       *jsonPlan
	d          *jsonbatch.Decoder
	sink       answerSink
	root       string // the service root's path, for jsonTarget
	conc       int    // units running at once, at most
	stopOnFail bool   // run nothing more after a failure
	checker    bool   // answers must be writable as JSON items

	done, failed []bool            // by unit
	locs         map[string]string // Locations of the successful answers, by id
	results      chan *unitWork    // from units running on their own goroutine
	pending      []*unitWork       // read, not started
	next         int               // the next unit to read
	running      int               // units running on their own goroutine
	stopped      bool              // start nothing more
	broken       bool              // the input or the output failed
	ctx          context.Context   // the batch request's
	dash         []byte            // the multipart answer's delimiter, if any
	csDash       []byte            // its changesets' delimiter, if framed
}

// unitWork is one unit of a run: its requests, then its answers.
type unitWork struct {
	u       int
	ops     []jsonbatch.Operation
	kinds   []jsonbatch.BodyKind // how each request's body was written
	locs    map[string]string    // the Locations its requests may use ("$id")
	own     []string             // ids of its answers with a Location
	answers []jsonbatch.Operation
	failed  bool
	failIdx int // for a failed atomicity group: the answer that stands for it
}

// loop runs the plan: units are read in document order, at most conc of
// them waiting (with the answers a multipart sink holds back), and each
// starts once every unit it depends on is done; with stopOnFail, also
// once every unit before it has started. One
// whose dependency failed does not run: each of its requests is answered
// 424 Failed Dependency (OData JSON Format 4.01 §19.1). With conc 1 units
// run on this goroutine, one after the other.
func (jr *jsonRun) loop() {
	units := jr.plan.units
	jr.done = make([]bool, len(units))
	jr.failed = make([]bool, len(units))
	jr.results = make(chan *unitWork, jr.conc)
	window := jr.conc
	for {
		// Units read and not started, and answers held back by a sink
		// that writes in request order, are bounded together.
		for !jr.stopped && !jr.broken && jr.next < len(units) && len(jr.pending)+jr.sink.holding() < window {
			w := jr.read()
			if w == nil {
				jr.broken = true
				break
			}
			jr.pending = append(jr.pending, w)
		}
		if jr.ctx.Err() != nil {
			jr.stopped = true
		}
		for k := 0; k < len(jr.pending); {
			w := jr.pending[k]
			if jr.stopped || jr.broken {
				jr.pending = append(jr.pending[:k], jr.pending[k+1:]...)
				continue
			}
			ready, failedDep := true, -1
			for _, v := range units[w.u].deps {
				switch {
				case !jr.done[v]:
					ready = false
				case jr.failed[v] && failedDep < 0:
					failedDep = v
				}
			}
			if !ready {
				if jr.stopOnFail {
					// Start in document order, so that what a failure
					// leaves unrun is the end of the batch, never a gap
					// that a client would take for a lost answer.
					break
				}
				k++
				continue
			}
			if failedDep < 0 && jr.running >= jr.conc {
				break
			}
			jr.pending = append(jr.pending[:k], jr.pending[k+1:]...)
			if failedDep >= 0 {
				jr.notRun(w, failedDep)
				jr.finish(w)
				continue
			}
			w.locs = jr.depLocations(w.u)
			if jr.conc == 1 {
				jr.finish(jr.exec(w))
				continue
			}
			jr.running++
			go func() { jr.results <- jr.exec(w) }()
		}
		if jr.running == 0 {
			if len(jr.pending) == 0 && (jr.next == len(units) || jr.stopped || jr.broken) {
				return
			}
			continue
		}
		w := <-jr.results
		jr.running--
		jr.finish(w)
	}
}

// read reads the next unit's requests, copied: they may run while the
// decoder reads on. It returns nil when the input fails (pass 1 read it
// whole, so only the spool can).
func (jr *jsonRun) read() *unitWork {
	u := jr.plan.units[jr.next]
	w := &unitWork{u: jr.next, ops: make([]jsonbatch.Operation, 0, u.n), kinds: make([]jsonbatch.BodyKind, 0, u.n), failIdx: -1}
	jr.next++
	for range u.n {
		it, err := jr.d.Next()
		if err != nil {
			return nil
		}
		w.ops = append(w.ops, it.Operation())
		w.kinds = append(w.kinds, it.BodyKind())
	}
	return w
}

// depLocations returns the Locations that unit u's requests may refer to:
// those of the units it depends on, all done.
func (jr *jsonRun) depLocations(u int) map[string]string {
	var m map[string]string
	for _, v := range jr.plan.units[u].deps {
		un := jr.plan.units[v]
		for _, op := range jr.plan.ids[un.first : un.first+un.n] {
			if loc, ok := jr.locs[op]; ok {
				if m == nil {
					m = make(map[string]string)
				}
				m[op] = loc
			}
		}
	}
	return m
}

// finish hands a unit's answers to the sink and records its outcome.
func (jr *jsonRun) finish(w *unitWork) {
	jr.done[w.u], jr.failed[w.u] = true, w.failed
	if w.failed && jr.stopOnFail {
		jr.stopped = true
	}
	if !w.failed {
		for _, id := range w.own {
			if jr.locs == nil {
				jr.locs = make(map[string]string)
			}
			jr.locs[id] = w.locs[id]
		}
	}
	if jr.broken {
		return
	}
	if err := jr.sink.unit(w); err != nil {
		jr.broken = true
	}
}

// notRun answers every request of w 424 Failed Dependency: unit dep, which
// it depends on, failed.
func (jr *jsonRun) notRun(w *unitWork, dep int) {
	d := jr.plan.units[dep]
	name := d.group
	if name == "" {
		name = jr.plan.ids[d.first]
	}
	w.failed, w.failIdx = true, 0
	for _, op := range w.ops {
		w.answers = append(w.answers, failureAnswer(op, http.StatusFailedDependency,
			"batch: request "+quote(op.ID)+" did not run: it depends on "+quote(name)+", which failed"))
	}
}

// failureAnswer returns a handler-made failure answer to op.
func failureAnswer(op jsonbatch.Operation, status int, msg string) jsonbatch.Operation {
	body := errorBody(status, msg)
	return jsonbatch.Operation{Message: batch.Response, ID: op.ID, AtomicityGroup: op.AtomicityGroup, Status: status,
		Header: []batch.Field{{Name: "Content-Type", Value: "application/json; charset=utf-8"},
			{Name: "Content-Length", Value: strconv.Itoa(len(body))}},
		Body: body}
}

// exec runs unit w's requests, in order, through next; an atomicity group
// through the ChangesetHook, all or nothing. It may run on its own
// goroutine: it uses a copy of the batch's request context with its own
// scratch space, and only w.
func (jr *jsonRun) exec(w *unitWork) *unitWork {
	rn := jr.rn
	wr := &batchRun{h: rn.h, outer: rn.outer, base: rn.base, inherit: rn.inherit, dash: jr.dash, locs: w.locs}
	unit := jr.plan.units[w.u]
	group := unit.group != ""
	ctx := jr.ctx
	hook := rn.h.so.hook
	if !group {
		hook = nil
	}
	var check *jsonbatch.Encoder
	if jr.checker {
		check, _ = jsonbatch.NewEncoder(io.Discard, batch.Response)
	}
	// A failed group: the answer at k stands for it; the others say they
	// took no effect (their effects, if any, are rolled back).
	groupFailed := func(k int, a jsonbatch.Operation, why string) *unitWork {
		w.failed, w.failIdx = true, k
		w.answers = w.answers[:0]
		for j := range w.ops {
			if j == k {
				w.answers = append(w.answers, a)
				continue
			}
			w.answers = append(w.answers, failureAnswer(w.ops[j], http.StatusFailedDependency, "batch: request "+quote(w.ops[j].ID)+
				" is answered with its atomicity group "+quote(unit.group)+", which failed: "+why))
		}
		return w
	}
	if hook != nil {
		c, err := hookBegin(hook, ctx)
		if err != nil {
			msg := "batch: beginning the atomicity group: " + err.Error()
			return groupFailed(0, failureAnswer(w.ops[0], http.StatusInternalServerError, msg), msg)
		}
		if c != nil {
			ctx = c
		}
	}
	var used int64
	for k := range w.ops {
		op := &w.ops[k]
		aw := wr.newAnswerWriter("", false, rn.h.so.maxBytes-used)
		wr.serve(ctx, jr.embed(op, w.kinds[k], unit.first+k), aw)
		var cs []byte
		if group {
			cs = jr.csDash
		}
		aw.prepare(cs)
		aw.operation(true, nil)
		used += int64(len(aw.buf))
		a := answerOf(aw, op)
		if check != nil && check.WriteOperation(jsonAnswer(&a)) != nil {
			a = failureAnswer(*op, http.StatusInternalServerError, "batch: the operation's answer cannot be written in a JSON batch: its body is not what its Content-Type says")
		}
		w.answers = append(w.answers, a)
		if a.Status >= 400 {
			if group {
				if hook != nil {
					_ = hookCall(hook.Rollback, ctx)
				}
				return groupFailed(k, a, "request "+quote(op.ID)+" was answered "+strconv.Itoa(a.Status))
			}
			w.failed = true
			continue
		}
		if id := wr.record(aw); id != "" {
			w.own = append(w.own, id)
		}
	}
	wr.settle()
	w.locs = wr.locs
	if hook != nil {
		if err := hookCall(hook.Commit, ctx); err != nil {
			msg := "batch: committing the atomicity group: " + err.Error()
			return groupFailed(0, failureAnswer(w.ops[0], http.StatusInternalServerError, msg), msg)
		}
	}
	return w
}

// embed returns the request of op, the index-th of the batch, for
// batchRun.request. A JSON body given without a Content-Type says what it
// is: application/json (OData allows leaving it out only for that).
func (jr *jsonRun) embed(op *jsonbatch.Operation, kind jsonbatch.BodyKind, index int) *embedded {
	hdr := make(batch.Header, 0, len(op.Header)+1)
	hasType := false
	for _, f := range op.Header {
		hdr = append(hdr, batch.RawField{Name: []byte(f.Name), Value: []byte(f.Value)})
		hasType = hasType || strings.EqualFold(f.Name, "Content-Type")
	}
	if kind == jsonbatch.JSONBody && !hasType {
		hdr = append(hdr, batch.RawField{Name: []byte("Content-Type"), Value: []byte("application/json")})
	}
	return &embedded{
		method: []byte(strings.ToUpper(op.Method)), // "get" in @odata/client's batches
		proto:  []byte("HTTP/1.1"),
		target: []byte(jsonTarget(op.URL, jr.root)),
		id:     []byte(op.ID),
		header: hdr,
		length: int64(len(op.Body)),
		index:  index,
		body:   bytes.NewReader(op.Body),
	}
}

// answerOf returns the answer aw holds, to request op, as a JSON batch item
// (with Content-Length, which the multipart sink writes and the JSON sink
// drops).
func answerOf(aw *answerWriter, op *jsonbatch.Operation) jsonbatch.Operation {
	body := aw.buf
	if aw.head || !aw.bodyAllowed() {
		body = nil
	}
	return jsonbatch.Operation{Message: batch.Response, ID: op.ID, AtomicityGroup: op.AtomicityGroup,
		Status: aw.finalStatus(), Header: aw.fields, Body: body}
}

// jsonAnswer returns a as a JSON batch item writes it: without
// Content-Length, which says nothing once the body is a JSON value, and
// with the values of a repeated header joined by ", " (RFC 9110 §5.3), as
// a name may appear only once in the "headers" object (I-JSON) and a
// client that parses it keeps only the last; Set-Cookie, whose values
// cannot be joined, stays repeated.
func jsonAnswer(a *jsonbatch.Operation) *jsonbatch.Operation {
	out := *a
	out.Header = nil
	for _, f := range a.Header {
		if strings.EqualFold(f.Name, "Content-Length") {
			continue
		}
		if !strings.EqualFold(f.Name, "Set-Cookie") {
			if i := slices.IndexFunc(out.Header, func(g batch.Field) bool { return strings.EqualFold(g.Name, f.Name) }); i >= 0 {
				out.Header[i].Value += ", " + f.Value
				continue
			}
		}
		out.Header = append(out.Header, f)
	}
	return &out
}
