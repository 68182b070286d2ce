package batchhttp

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"sync"

	"github.com/batchcodec/batch"
	"github.com/batchcodec/batch/jsonbatch"
)

// This file holds the entry points of a JSON batch and of a multipart
// batch answered in JSON, and the two ways a JSON run's answers are
// written: as JSON items in the order they complete, or as a multipart
// batch in request order.

// serveJSON answers a JSON batch held in sp. multipart says the batch came
// as a multipart batch and was converted (see serveConverted): it then
// runs as a multipart batch does, in order, stopping after the first
// failure unless the request asks to continue, and is answered in JSON;
// or, if the converted batch is more than a JSON batch may hold, not at
// all: it reports false, having written nothing.
func (h *handler) serveJSON(w http.ResponseWriter, r *http.Request, sp *spool, multipart bool) (answered bool) {
	opts := h.jsonDecodeOptions()
	d, _ := jsonDecoders.Get().(*jsonbatch.Decoder)
	if d == nil {
		d = jsonbatch.NewDecoder(sp.reader(), opts...)
	} else {
		d.Reset(sp.reader(), opts...)
	}
	defer func() {
		d.Reset(nil)
		jsonDecoders.Put(d)
	}()
	jsonOut := multipart || answerJSON(r.Header, true)
	plan, status, msg := h.checkJSON(d, !jsonOut)
	switch {
	case status != 0 && multipart:
		// What the conversion wrote is more than a JSON batch item may
		// hold (a body's base64 or escapes grow it): the batch is
		// answered in multipart, as one JSON cannot say.
		return false
	case status != 0:
		writeError(w, status, msg)
		return true
	}
	d.Reset(sp.reader(), opts...)

	coe, set, pref := preference(r.Header)
	base := batchBase(r)
	jr := &jsonRun{
		rn:   &batchRun{h: h, outer: r, base: base, inherit: inheritable(r.Header)},
		plan: plan, d: d, ctx: r.Context(),
		root:       serviceRoot(base.Path),
		conc:       h.so.concurrency,
		stopOnFail: set && !coe,
	}
	if multipart {
		jr.conc, jr.stopOnFail = 1, !coe
	}
	hdr := w.Header()
	rc := http.NewResponseController(w)
	if jsonOut {
		// Header names lower-case, as OData says, to a client that says
		// it speaks OData; else as next wrote them: Graph's JavaScript
		// client reads a JSON body only under "Content-Type" (and writes
		// its own names lower-case, as fetch gives them).
		dialect := jsonbatch.Graph
		if odataVersion(r.Header) != "" {
			dialect = jsonbatch.OData
		}
		enc, _ := jsonbatch.NewEncoder(w, batch.Response, jsonbatch.WithDialect(dialect)) // valid arguments: no error
		jr.sink, jr.checker = &jsonSink{enc: enc, rc: rc}, true
		hdr.Set("Content-Type", "application/json")
		if headerValue(r.Header, "Odata-Version") != "" || headerValue(r.Header, "Odata-Maxversion") != "" {
			hdr["OData-Version"] = []string{"4.01"} // JSON batches are OData 4.01
		}
	} else {
		opts := make([]batch.EncodeOption, 0, len(h.so.enc)+1)
		opts = append(opts, batch.WithBoundary(batch.NewBoundary("batchresponse_")))
		opts = append(opts, h.so.enc...)
		enc, err := batch.NewEncoder(w, opts...)
		if err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return true
		}
		s := &multipartSink{enc: enc, rc: rc, framed: enc.Dialect() == batch.ODataV4, held: make(map[int]*unitWork)}
		jr.dash = []byte("--" + enc.Boundary())
		if s.framed {
			s.csBoundary = batch.NewBoundary("changesetresponse_")
			jr.csDash = []byte("--" + s.csBoundary)
		}
		jr.sink = s
		hdr.Set("Content-Type", enc.ContentType())
	}
	if coe && set {
		hdr.Set("Preference-Applied", pref)
	}
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()
	jr.loop()
	if !jr.broken {
		_ = jr.sink.close()
	}
	return true
}

// jsonDecoders keeps JSON batch decoders, with their buffers, between
// batches.
var jsonDecoders sync.Pool // of *jsonbatch.Decoder

// serveConverted answers the multipart batch in sp, with the given
// boundary, in JSON, as its Accept asks: it converts the batch to a JSON
// batch (jsonbatch.FromMultipart: changesets become atomicity groups,
// Content-IDs ids) into a second spool, and runs that. It reports false,
// having written nothing, when the batch cannot be said in JSON; the
// caller then answers it in multipart.
func (h *handler) serveConverted(w http.ResponseWriter, r *http.Request, sp *spool, boundary string) bool {
	pr, pw := io.Pipe()
	converted := make(chan struct{})
	src := *sp // for the goroutine: sp itself need not leave its caller's stack
	go func() {
		defer close(converted)
		d, err := batch.NewDecoderBoundary(src.reader(), boundary, h.so.dec...)
		if err == nil {
			var enc *jsonbatch.Encoder
			if enc, err = jsonbatch.NewEncoder(pw, batch.Request); err == nil {
				if err = jsonbatch.FromMultipart(enc, d); err == nil {
					err = enc.Close()
				}
			}
		}
		pw.CloseWithError(err)
	}()
	var js spool
	defer js.close()
	err := js.fill(pr, h.so.spoolMemory)
	pr.CloseWithError(io.ErrClosedPipe) // ends the conversion if fill stopped first
	<-converted                         // sp is read by one reader at a time
	if err != nil {
		return false
	}
	return h.serveJSON(w, r, &js, true)
}

// batchBase returns the URL the batch was sent to, which operations'
// targets are resolved against.
func batchBase(r *http.Request) *url.URL {
	u := batchBaseURL(r)
	return &u
}

func batchBaseURL(r *http.Request) url.URL {
	u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath}
	if r.TLS != nil {
		u.Scheme = "https"
	}
	return u
}

// answerSink writes the answers of a JSON run's units.
type answerSink interface {
	// unit writes the answers of a unit that has completed.
	unit(w *unitWork) error
	// close ends the batch response.
	close() error
	// holding returns how many completed units it holds back.
	holding() int
}

// jsonSink answers in JSON, each unit's answers as it completes: in any
// order, which OData 4.01 and Graph allow, as each carries its request's
// id.
type jsonSink struct {
	enc *jsonbatch.Encoder
	rc  *http.ResponseController
}

func (s *jsonSink) unit(w *unitWork) error {
	for i := range w.answers {
		if err := s.enc.WriteOperation(jsonAnswer(&w.answers[i])); err != nil {
			return err // exec made sure each can be written: the output failed
		}
	}
	_ = s.rc.Flush()
	return nil
}

func (*jsonSink) holding() int { return 0 }

func (s *jsonSink) close() error {
	err := s.enc.Close()
	_ = s.rc.Flush()
	return err
}

// multipartSink answers a JSON batch as a multipart batch: in request
// order (units that complete early wait for those before them), an
// atomicity group as a changeset, or, failed, as its one failure answer,
// unframed (OData 4.0 Part 1 §11.7.4).
type multipartSink struct {
	enc        *batch.Encoder
	rc         *http.ResponseController
	framed     bool   // successful changesets keep their framing
	csBoundary string // of their answers
	next       int    // the unit to write next
	held       map[int]*unitWork
}

func (s *multipartSink) unit(w *unitWork) error {
	if w.u != s.next {
		s.held[w.u] = w
		return nil
	}
	for w != nil {
		if err := s.write(w); err != nil {
			return err
		}
		s.next++
		w = s.held[s.next]
		delete(s.held, s.next)
	}
	_ = s.rc.Flush()
	return nil
}

func (s *multipartSink) holding() int { return len(s.held) }

func (s *multipartSink) write(w *unitWork) error {
	group := len(w.ops) > 0 && w.ops[0].AtomicityGroup != ""
	switch {
	case group && w.failed:
		return s.answer(&w.answers[w.failIdx])
	case group && s.framed:
		if err := s.enc.BeginChangesetWith(s.csBoundary, nil); err != nil {
			return err
		}
		for i := range w.answers {
			if err := s.answer(&w.answers[i]); err != nil {
				return err
			}
		}
		return s.enc.EndChangeset()
	}
	for i := range w.answers {
		if err := s.answer(&w.answers[i]); err != nil {
			return err
		}
	}
	return nil
}

func (s *multipartSink) answer(a *jsonbatch.Operation) error {
	op := batch.Operation{Message: batch.Response, StatusCode: a.Status, ContentID: a.ID, Header: a.Header}
	return s.enc.WriteOperation(&op, bytes.NewReader(a.Body))
}

// close writes the units still held (those after one that never ran, when
// the batch stopped early), in order, and the close delimiter.
func (s *multipartSink) close() error {
	for len(s.held) > 0 {
		if w, ok := s.held[s.next]; ok {
			delete(s.held, s.next)
			if err := s.write(w); err != nil {
				return err
			}
		}
		s.next++
	}
	err := s.enc.Close()
	_ = s.rc.Flush()
	return err
}
