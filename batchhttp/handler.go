package batchhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/batchcodec/batch"
)

// This file is the server side: Handler, its options, and the first of its
// two passes over a batch (read, spool, validate). handler_run.go runs the
// operations; handler_request.go builds the request each operation's
// handler sees, handler_writer.go the ResponseWriter; handler_spool.go holds
// the batch's body.

// ChangesetHook lets an application make a changeset atomic, typically with
// a database transaction. [Handler] calls Begin before the first operation
// of a changeset and runs the changeset's operations with the context Begin
// returns (so that the application's handlers find the transaction in it).
// If an operation fails (status 400 or more, a panic, or an answer that
// cannot be written, see [Handler]), it calls Rollback, runs no further
// operation of the changeset, and answers the whole changeset with that one
// failure. Otherwise it calls Commit at the end of the changeset and sends
// the held answers: everything that could make one of them unwritable has
// been decided before Commit, so a committed changeset is never reported
// failed. If Commit fails, the changeset is answered with one 500 response
// saying so, and Rollback is not called. A Begin failure is answered the
// same way, and nothing in the changeset runs. A panic in a hook method
// counts as its failure. Empty changesets do not call the hook. Rollback's
// error is not sent to the client: the changeset has failed already.
type ChangesetHook interface {
	Begin(ctx context.Context) (context.Context, error)
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

// Handler returns an http.Handler that answers batch requests by running
// each operation through next as a real *http.Request, in order, and writing
// the answers as one batch response, streaming. Mount it at the batch path,
// such as "/odata/$batch", in front of the handler that serves the
// operations' own paths:
//
//	mux := http.NewServeMux()
//	mux.Handle("/odata/", app)
//	mux.Handle("POST /odata/$batch", batchhttp.Handler(mux))
//
// # Requests
//
// Handler accepts POST with Content-Type multipart/mixed (OData v4, and v2
// and v3 with changesets), multipart/batching (UCWA) or application/json
// (a JSON batch, see below); other methods get 405, other media types 415. It reads the whole body first, up to
// [MaxBatchBytes] (413 beyond), into memory up to [SpoolMemory] and a
// temporary file beyond, and decodes it once to check it: a malformed batch
// gets 400 with the decoder's error (what, byte offset and part); more than
// [MaxOperations] operations get 413 (429 for UCWA); a changeset inside a
// changeset, a part that is not an application/http request, gets 400. In
// each case nothing has run. Decoding options ([batch.Strict], [batch.MaxParts],
// [batch.MaxDepth], [batch.MaxHeaderBytes], …) apply.
//
// # Operations
//
// Each operation becomes an *http.Request for next: its target, in any of
// the three forms, resolved against the batch's URL (scheme https when the
// batch came over TLS, host from the batch's Host), after a leading "$n"
// Content-ID reference is replaced by the Location of the answer to the
// operation with Content-ID n, earlier in the batch (OData v4 §11.7.3.1;
// references inside bodies are not resolved). The request is in origin form
// as a server would receive it: URL with path and query, Host the target's
// host (an embedded Host header is dropped), RequestURI the path and query.
// Its context is the batch request's (or the changeset's, see
// [ChangesetHook]); RemoteAddr and TLS are the batch's. Its body streams
// from the batch, with ContentLength and Content-Length set to the body's
// real length (the delimiter is the truth, not the declared length); once
// next returns, a Read of it fails.
//
// The operation inherits the batch request's headers except those it sets
// itself, and except those that describe the batch message rather than the
// operation: Accept, Accept-Encoding, Content-*, Prefer, Host, Expect,
// Range, the If-* conditionals, hop-by-hop headers (Connection, Keep-Alive,
// Proxy-*, TE, Trailer, Transfer-Encoding, Upgrade) and those Connection
// names. So Authorization, Cookie, Accept-Language, User-Agent, OData-Version
// and the X-Forwarded-* headers reach every operation.
//
// Refused without running, with 400 for that operation: a request that
// http.ReadRequest would refuse (a method that is not a token, a header
// name that is not one, a control byte such as NUL or a bare CR in a
// value, two Host headers, an invalid or disagreeing Content-Length), and
// any Transfer-Encoding, which net/http would accept as "chunked" but which
// in a batch, where the delimiter frames the body, can only smuggle a
// request. Also refused: an absolute URL to another host than the batch's
// (or [AllowHosts]) gets 403; a target whose last path segment is $batch, or
// an operation whose Content-Type is multipart/*, gets 400 (a batch cannot
// contain another batch); an unparsable target or a scheme other than http
// and https gets 400. A panic in next becomes a 500 answer for that
// operation only (logged to the http.Server's ErrorLog, else the log
// package, as net/http does), unless the operation had already streamed
// part of its answer: then the batch response ends there without its close
// delimiter, so that a client sees a truncated batch rather than a cut body.
//
// # Order and failures
//
// Top-level operations and changesets run one at a time, in order. An
// operation fails when its status is 400 or more; a changeset fails as a
// whole (see [ChangesetHook]) and is answered with one failure response in
// place of the changeset, not framed as one (OData 4.0 Part 1 §11.7.4: "the
// change set response is not represented using the multipart/mixed media
// type"): the failing operation's answer with its Content-ID, or, when the
// hook's Begin or Commit failed, a 500 with the Content-ID of the
// changeset's first operation. Without the preference
// "Prefer: odata.continue-on-error" (or OData 4.01's "continue-on-error",
// either with no value or "=true"), the batch stops after the first failed
// operation or changeset, as OData specifies, and the response holds the
// answers up to that failure. With it, everything runs, and the response
// says "Preference-Applied: odata.continue-on-error" (with the name the
// client used).
//
// # Responses
//
// The batch is answered 202 Accepted when its request says OData V2 (or
// V1): DataServiceVersion or MaxDataServiceVersion 1.0 to 2.0 and no
// OData-Version, as SAP Gateway and SAP CAP's V2 adapter answer and as V2
// clients such as pyodata require; [ODataV2] answers so whatever the
// request says (pyodata sends no version header). Otherwise it is answered
// 200 OK, as OData V4 and UCWA specify. The body is a batch in the
// request's own dialect: a multipart/batching request gets a UCWA
// response ("msgtype=response" parts); a multipart/mixed one an OData
// response whose successful changesets keep their framing (a
// "changesetresponse_" boundary), as OData v4 and [MS-ODATA] v2/v3 specify.
// [batch.WithDialect] changes the latter:
// batch.WithDialect([batch.SharePoint]) answers changeset operations as
// top-level parts, as SharePoint does and as PnPjs and
// office365-python expect; batch.WithDialect([batch.UCWA]) answers every
// batch in UCWA. The response boundary is "batchresponse_" and 32
// random hex digits unless [batch.WithBoundary] sets it. A request with
// OData-Version or OData-MaxVersion gets "OData-Version: 4.0" ("4.01" if it
// asked for that); one with DataServiceVersion or MaxDataServiceVersion and
// no OData-Version gets "DataServiceVersion: 1.0", as WCF Data Services
// answers. Each answer echoes its operation's Content-ID.
//
// An operation's answer is what next wrote, cleaned as net/http cleans a
// response on a real connection, so that a handler answers the same behind
// the batch endpoint as behind net/http: the header is taken when the
// status is set (later changes have no effect); names that are not tokens
// are dropped; CR, LF and other control bytes in values become spaces and
// values are trimmed; Transfer-Encoding, Trailer and trailers are not
// passed on. A Content-Length that next sets is enforced: a Write past it
// writes up to it and fails with http.ErrContentLength; a body shorter
// than it makes the answer a 500 (or, if the answer's header block has
// been streamed already, ends the batch without its close delimiter, as
// net/http closes the connection). A missing Content-Type is sniffed from
// the first 512 bytes of the body, whatever the size of the first Write.
// An answer that still cannot be written (a header or body line that a
// reader would take for a delimiter of the response) becomes a 500, decided
// before its changeset commits.
//
// Once next returns, its ResponseWriter and request body are dead: a late
// Write or body Read (from a goroutine next left running) fails and
// touches nothing, never another operation's answer or body.
//
// Answers stream: the outer headers are flushed before the first operation
// runs, and each top-level answer is flushed when its operation returns, so
// the client reads the first answer before the last operation runs. An
// answer's header block is written once its operation returns, calls Flush,
// or has written more than 4 KiB; until then its body is held, which lets
// Handler add Content-Length and sniff Content-Type as net/http does.
// Answers inside a changeset are held until the changeset commits, at most
// [MaxBatchBytes] per changeset (beyond that the operation gets 500 and the
// changeset fails). Handler-made failure answers carry an OData JSON error
// body, {"error":{"code":"403","message":"batch: …"}}, as do the outer 4xx
// answers.
//
// # JSON batches
//
// A POST with Content-Type application/json is a JSON batch (OData JSON
// Format 4.01 §19, Microsoft Graph JSON batching; see package jsonbatch).
// Before anything runs, the whole batch is read and checked, and refused
// with 400 (413 beyond [MaxOperations]) if it is malformed, if an id is
// empty, two requests share one or one is also an atomicity group's, if the
// requests of a group are not adjacent, or if a dependsOn names the request
// itself, its own group, a later request (OData allows only preceding
// ones, which also rules out cycles) or nothing in the batch. A url whose
// first segment is "$<id>" depends on that request whether or not dependsOn
// says so, and is resolved against its answer's Location. Urls are
// resolved against the service root (the batch URL without its last
// segment); one with a leading "/" too, as Graph's clients and SAP CAP
// write them ("/me/events" in a batch sent to "/v1.0/$batch" is
// "/v1.0/me/events"), unless it starts with the service root's path.
// Methods are case-insensitive ("get"); a JSON body without a Content-Type
// reaches next as application/json. Each request then becomes an
// *http.Request for next as a multipart operation does, with the same
// checks and refusals.
//
// A request runs once every request and group it depends on has
// succeeded; if one of them failed (status 400 or more, or not run), it
// does not run and is answered 424 Failed Dependency. The requests of an
// atomicity group run in order through the [ChangesetHook], all or
// nothing: if one fails, the group is rolled back and answered with that
// failure, every other request of the group 424. As OData 4.01 specifies,
// a JSON batch runs every request whatever fails, unless its Prefer says
// "continue-on-error=false"; then requests start in document order and
// nothing more starts after the first failure, so that what is left
// unrun is the end of the batch. Requests and groups that depend on nothing pending run
// concurrently, up to [Concurrency] (default 1, in document order).
//
// The answer is a JSON batch, each answer written and flushed as its
// request completes, in that order (clients pair them by id), with
// header names lower-case, as OData specifies, when the request says
// OData-Version or OData-MaxVersion, and as next wrote them otherwise:
// Microsoft Graph's clients send no version, and Graph's JavaScript client
// reads a JSON body only under "Content-Type". An
// answer whose body is not what its Content-Type says (not JSON under
// application/json, not UTF-8 under text/*) cannot be written in a JSON
// batch and becomes a 500, decided before its group commits.
//
// The Accept header chooses between the formats, as SAP CAP does: a JSON
// batch whose Accept prefers multipart/mixed is answered as a multipart
// batch (in request order, a successful group as a changeset, a failed
// one as its one failure, unframed); a multipart/mixed batch whose Accept
// prefers application/json, and says it speaks OData 4.01 (OData-Version
// or OData-MaxVersion 4.01, the first version with JSON batches), is
// answered as a JSON batch (its changesets as atomicity groups, its
// Content-IDs as ids, "op<N>" for an operation without one), running as a
// multipart batch does, in order and stopping at the first failure unless
// continue-on-error; if the batch holds what a JSON batch cannot say (see
// jsonbatch.FromMultipart), it is answered in multipart. A 4.0 client that
// sends Accept: application/json with a multipart batch (@odata/client
// does) reads only multipart, and gets it; so do OData V2 clients, the
// SharePoint dialect and UCWA. An Accept of application/json with an
// "odata=" parameter (OData V3's "odata=verbose", which SharePoint's
// clients send) does not count. A JSON
// request is held whole while it runs, up to jsonbatch's item limit
// (jsonbatch.DefaultMaxItemBytes; 413 beyond), as are up to [Concurrency]
// of them waiting for what they depend on, and their answers (with a
// multipart answer, which is written in request order, the answers that
// completed early count among those).
//
// # Memory
//
// A batch costs the spool (at most [SpoolMemory] bytes, then a file), which
// grows as bytes arrive, never by the declared Content-Length (a client
// that declares 1 MiB and sends 3 bytes costs a few KiB); once the body
// has arrived, one decoder ([batch.BufferSize], 64 KiB by default) with its
// header storage, kept between requests as the spool's buffers are; an
// encoder; 8 bytes per operation (its body length); for a batch held in
// memory, pass 1's record of its start lines and headers (at most the
// batch's size and 4 KiB), from which the operations run without decoding
// the batch again; one map entry per answer with both Content-ID and
// Location; up to 4 KiB held for the running top-level answer, and the
// answers of the open changeset. It does not grow with the size of bodies
// or the number of top-level operations otherwise: a 10,000-operation, 20
// MiB batch with 20 MiB of answers runs with the heap growing by a few MiB
// (TestHandlerLargeBatchMemory). A server that faces the internet also
// bounds how long a client may take to send a batch, with http.Server's
// ReadHeaderTimeout and ReadTimeout (or IdleTimeout for idle connections).
//
// Handler panics when the [Encoding] options cannot make an encoder (an
// invalid boundary or an unknown dialect), as http.ServeMux.Handle panics
// on a bad pattern: a mistake of the program, found when it starts.
func Handler(next http.Handler, opts ...HandlerOption) http.Handler {
	h := &handler{next: next, so: newHandlerConfig(opts)}
	// An encoder on nothing checks the encoding options once, here, and
	// says which dialect multipart/mixed requests are answered in.
	probe, err := batch.NewEncoder(io.Discard, h.so.enc...)
	if err != nil {
		panic("batchhttp: Handler: " + err.Error())
	}
	h.dialect = probe.Dialect()
	for d := range h.withDialect {
		h.withDialect[d] = batch.WithDialect(batch.Dialect(d))
	}
	return h
}

// dialectOpt returns batch.WithDialect(d), made once.
func (h *handler) dialectOpt(d batch.Dialect) batch.EncodeOption {
	if int(d) < len(h.withDialect) {
		return h.withDialect[d]
	}
	return batch.WithDialect(d)
}

// handler is the http.Handler that Handler returns.
type handler struct {
	next    http.Handler
	so      handlerConfig
	dialect batch.Dialect // for multipart/mixed requests

	withDialect [batch.UCWA + 1]batch.EncodeOption
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "batch: method "+r.Method+" not allowed: a batch is sent with POST")
		return
	}
	ct := r.Header.Get("Content-Type")
	mt, boundary, err := batch.ParseContentType(ct)
	dialect := h.dialect
	isJSON := false
	switch {
	case mt == "multipart/batching":
		dialect = batch.UCWA
	case mt == "multipart/mixed":
	case mt == "application/json":
		isJSON, err = true, nil
	default:
		writeError(w, http.StatusUnsupportedMediaType, "batch: Content-Type "+quote(ct)+
			" is not a batch: want multipart/mixed or multipart/batching with a boundary, or application/json")
		return
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if r.ContentLength > h.so.maxBytes {
		writeError(w, http.StatusRequestEntityTooLarge, h.tooLargeMsg())
		return
	}
	h.serveBody(w, r, dialect, boundary, isJSON)
}

// serveBody answers a batch request whose headers ServeHTTP has accepted.
// (Apart from ServeHTTP, and serveMultipart apart from it, so that each
// has a defer the compiler inlines: with ServeHTTP's many returns, its
// defers would go through the runtime.)
func (h *handler) serveBody(w http.ResponseWriter, r *http.Request, dialect batch.Dialect, boundary string, isJSON bool) {
	// The body first, into a spool that grows as bytes arrive; the
	// decoder and the rest are taken only then, so that a client that
	// sends slowly holds no more than it sent.
	var sp spool
	defer sp.close()
	body := http.MaxBytesReader(w, r.Body, h.so.maxBytes)
	if err := sp.fill(body, h.so.spoolMemory); err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			writeError(w, http.StatusRequestEntityTooLarge, h.tooLargeMsg())
		case errors.Is(err, errSpool):
			writeError(w, http.StatusInternalServerError, err.Error())
		default:
			writeError(w, http.StatusBadRequest, "batch: reading the batch body: "+err.Error())
		}
		return
	}

	if isJSON {
		_ = h.serveJSON(w, r, &sp, false) // a JSON batch is always answered
		return
	}
	h.serveMultipart(w, r, &sp, dialect, boundary)
}

// serveMultipart checks and runs a multipart batch held by sp.
func (h *handler) serveMultipart(w http.ResponseWriter, r *http.Request, sp *spool, dialect batch.Dialect, boundary string) {
	// Pass 1: check the whole batch before anything runs.
	st := getState()
	defer putState(st)
	d := &st.dec
	if err := d.Reset(sp.readerWith(&st.mem), boundary, h.so.dec...); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	pl := &st.rec
	pl.start(sp.mem)
	lens, status, msg := h.check(d, dialect, st.lens[:0], pl)
	st.lens = lens[:0]
	if status != 0 {
		writeError(w, status, msg)
		return
	}

	// Pass 2: run it, in JSON if the client asks for that.
	// JSON batches are OData 4.01's: only for a client that says it speaks
	// 4.01 (@odata/client says 4.0 and Accept: application/json, and reads
	// only multipart), and not with ODataV2 or SharePoint's dialect.
	oh := scanOuter(r.Header)
	if dialect == batch.ODataV4 && !h.so.v2 && oh.v.odata401() && answerJSON(r.Header, false) && h.serveConverted(w, r, sp, boundary) {
		return
	}
	// From the recording if pass 1 could record one, else decoding the batch
	// again.
	if !pl.on {
		pl = nil
		if err := d.Reset(sp.readerWith(&st.mem), boundary, h.so.dec...); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	h.run(w, r, &oh, d, pl, dialect, lens, &st.run)
}

// state is what one batch request needs besides its body and answers,
// kept for reuse between requests: the decoder (with its read buffer), the
// body lengths and the recording of pass 1 and the run's scratch space.
type state struct {
	dec  batch.Decoder
	lens []int64
	rec  recording
	run  batchRun
	mem  bytes.Reader // the decoder's reader of a batch held in memory
}

var states sync.Pool // of *state

func getState() *state {
	if st, ok := states.Get().(*state); ok {
		return st
	}
	return new(state)
}

// putState keeps st for another request. Nothing of st is reachable from
// an operation's handler once it has returned.
func putState(st *state) {
	if cap(st.lens) > 1<<16 {
		st.lens = nil
	}
	st.mem.Reset(nil) // the spool's memory goes back to its pool
	st.rec.release()
	// Keep the run's scratch space, not what it points to.
	rn := &st.run
	clear(rn.tfields[:cap(rn.tfields)])
	clear(rn.arena[:cap(rn.arena)])
	clear(rn.answers[:cap(rn.answers)])
	clear(rn.keys[:cap(rn.keys)])
	clear(rn.ids[:cap(rn.ids)])
	clear(rn.pending[:cap(rn.pending)])
	// The Locations map is kept, emptied, unless it grew large: a batch
	// with Content-IDs fills it anew without growing it from nothing.
	locs := rn.locs
	if len(locs) > 1<<10 {
		locs = nil
	}
	clear(locs)
	*rn = batchRun{spare: rn.spare[:0], tfields: rn.tfields[:0], keys: rn.keys[:0], sniff: rn.sniff[:0],
		strs: rn.strs[:0], fl: rn.fl[:0], arena: rn.arena[:0], answers: rn.answers[:0], dash: rn.dash[:0], ids: rn.ids[:0], locs: locs, rng: rn.rng,
		pending: rn.pending[:0]}
	if cap(rn.spare) > commitAt || cap(rn.strs) > 64<<10 || cap(rn.arena) > 1<<12 || cap(rn.ids) > 1<<10 || cap(rn.pending) > 1<<10 {
		st.run = batchRun{}
	}
	states.Put(st)
}

func (h *handler) tooLargeMsg() string {
	return "batch: the batch body is larger than " + strconv.FormatInt(h.so.maxBytes, 10) +
		" bytes, the most this server reads; nothing ran"
}

// check is pass 1: it decodes the whole batch, skipping bodies, and returns
// the body length of each operation in document order, or the status and
// message of the answer that refuses the batch. It records the batch in pl
// as it goes, while pl allows.
func (h *handler) check(d *batch.Decoder, dialect batch.Dialect, lens []int64, pl *recording) (_ []int64, status int, msg string) {
	tooMany := func() (int, string) {
		st := http.StatusRequestEntityTooLarge
		if dialect == batch.UCWA {
			st = http.StatusTooManyRequests
		}
		return st, "batch: the batch holds more than " + strconv.Itoa(h.so.maxOps) +
			" operations, the most this server runs in one batch; nothing ran: split it into smaller batches"
	}
	for {
		p, err := d.Next()
		if err == io.EOF {
			return lens, 0, ""
		}
		if err != nil {
			if errors.Is(err, batch.ErrTooManyParts) {
				status, msg = tooMany()
				return nil, status, msg
			}
			return nil, http.StatusBadRequest, err.Error()
		}
		where := func() string {
			return " (part " + strconv.Itoa(p.Index()) + " at offset " + strconv.FormatInt(p.Offset(), 10) + "); nothing ran"
		}
		switch p.Kind() {
		case batch.KindChangesetStart:
			if p.Depth() > 0 {
				return nil, http.StatusBadRequest, "batch: a changeset inside a changeset" + where()
			}
		case batch.KindOperation:
			if p.Message() != batch.Request {
				return nil, http.StatusBadRequest, "batch: an operation holds a response, not a request" + where()
			}
			// Its answer echoes the Content-ID: one the encoder would
			// refuse is refused here, before anything runs.
			if id, ok := p.ContentID(); ok && len(id) > 0 && !plainValue(id) {
				echo := batch.Operation{Message: batch.Response, StatusCode: http.StatusOK, ContentID: string(id)}
				if err := echo.Validate(); err != nil {
					return nil, http.StatusBadRequest, "batch: Content-ID " + quote(string(id)) + " cannot be echoed" + where() + ": " + err.Error()
				}
			}
			if len(lens) >= h.so.maxOps {
				status, msg = tooMany()
				return nil, status, msg
			}
			var n int64
			if pl.on {
				at := d.InputOffset()
				pl.add(p, at)
				pl.check = bodyCheck{pl, at}
				n, err = p.WriteTo(&pl.check)
				pl.ended(n)
			} else {
				n, err = p.WriteTo(io.Discard)
			}
			if err != nil {
				return nil, http.StatusBadRequest, err.Error()
			}
			lens = append(lens, n)
			continue
		case batch.KindOther:
			ct := string(p.PartHeader().Get("Content-Type"))
			return nil, http.StatusBadRequest, "batch: a part with Content-Type " + quote(ct) +
				" is neither an operation (application/http) nor a changeset (multipart/mixed)" + where()
		}
		pl.add(p, 0)
	}
}

// plainValue reports whether v is a header value that the encoder takes as
// it is: no control byte but HTAB, no leading or trailing space or tab.
// Validate says why another is refused, if it is.
func plainValue(v []byte) bool {
	return len(v) > 0 && v[0] != ' ' && v[0] != '\t' && v[len(v)-1] != ' ' && v[len(v)-1] != '\t' && noControl(v)
}

// errorBody returns an OData JSON error body for status and msg.
func errorBody(status int, msg string) []byte {
	type odataError struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	b, err := json.Marshal(struct {
		Error odataError `json:"error"`
	}{odataError{strconv.Itoa(status), msg}})
	if err != nil { // unreachable: strings always marshal
		return []byte(`{"error":{"code":"500","message":"batch: error"}}`)
	}
	return b
}

// writeError answers the batch request as a whole with an OData JSON error.
func writeError(w http.ResponseWriter, status int, msg string) {
	body := errorBody(status, msg)
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// continueOnError reports whether the Prefer headers ask to continue after
// a failed operation, and with which preference name.
func continueOnError(h http.Header) (on bool, name string) {
	on, _, name = preference(h)
	return on, name
}

// preference returns the value of the Prefer headers' continue-on-error
// preference (on), whether they have one (set), and its name as the
// client spelled it.
func preference(h http.Header) (on, set bool, name string) {
	return preferenceIn(h.Values("Prefer"))
}

// preferenceIn is preference of the Prefer header lines given.
func preferenceIn(lines []string) (on, set bool, name string) {
	for _, line := range lines {
		for _, pref := range strings.Split(line, ",") {
			pref, _, _ = strings.Cut(pref, ";")
			key, val, hasVal := strings.Cut(strings.TrimSpace(pref), "=")
			key = strings.TrimSpace(key)
			if !strings.EqualFold(key, "odata.continue-on-error") && !strings.EqualFold(key, "continue-on-error") {
				continue
			}
			val = strings.Trim(strings.TrimSpace(val), `"`)
			return !hasVal || strings.EqualFold(val, "true"), true, key
		}
	}
	return false, false, ""
}
