package batchhttp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"sync"

	"github.com/batchcodec/batch"
)

// This file reads the outer response: the outer status and media type
// first, then the answers, streamed by a ResponseReader or collected by
// ReadResponse. Pairing answers with requests is in client_match.go.

// Answer is one answer of a batch, read by a [ResponseReader], and the
// requests it answers: usually one, Requests()[Index]; a failure that
// stands for a whole changeset (OData v4 §11.7.4) answers every request
// of that changeset, Index to Index+Count-1.
//
// An Answer and its Response are only valid until the next call to Next
// or Close, and must not be modified: the reader reuses them. Its Body is
// read straight from the outer response; after Close, reading it fails.
type Answer struct {
	// Response is the answer, its Request the request at Index. Its Body
	// streams from the outer response (or from memory, when the reader had
	// to buffer it); ContentLength is -1 for a streamed multipart body,
	// and the body's length for a JSON answer, which is decoded whole.
	Response *http.Response
	// Index is the index of the (first) request answered, in the order of
	// [RequestBatch.Requests].
	Index int
	// Count is the number of requests answered: 1, or the size of the
	// changeset a single failure answers.
	Count int

	mem  []byte // the body, when the reader buffered it
	meta answerMeta
}

// ReadResponse reads the outer response to the request NewRequest built and
// returns one *http.Response per request, in the order they were added. It
// reads and closes resp.Body. Each returned body is held in memory, all of
// them together at most [MaxBufferBytes] (64 MiB by default), past which it
// fails with [ErrBufferLimit]; stream larger answers with
// [RequestBatch.Responses] or [RequestBatch.NewResponseReader].
//
// Answers are paired with requests as [ResponseReader] describes: by
// Content-ID and order, or by id in a JSON batch, never by guessing. A
// non-2xx outer response, or one neither multipart nor JSON, is an
// [ErrNotBatch] error, a batch answered by one part without
// Content-ID is [ErrBatchFailed], answers that contradict the pairing are
// [ErrMismatch], each as a [*ResponseError] and with no responses. When the
// server stopped after a failed operation, the answers it gave are returned
// with nil for the requests that did not run, and an [ErrStopped] error.
func (b *RequestBatch) ReadResponse(resp *http.Response, opts ...ClientOption) ([]*http.Response, error) {
	rr, err := b.NewResponseReader(resp, opts...)
	if err != nil {
		return nil, err
	}
	defer rr.Close()
	rr.keep = true
	out := make([]*http.Response, b.n)
	for {
		a, err := rr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			if errors.Is(err, ErrStopped) {
				return out, err
			}
			return nil, err
		}
		body := a.mem
		if body == nil {
			if body, err = rr.buffer(a.Response.Body); err != nil {
				return nil, err
			}
		}
		for k := range a.Count {
			r := a.Response
			if k > 0 {
				c := rr.build().newResponse()
				*c = *r
				c.Header = r.Header.Clone()
				r = c
			}
			r.Request = rr.plan.reqs[a.Index+k]
			r.Body = rr.build().newBody(body)
			r.ContentLength = int64(len(body))
			out[a.Index+k] = r
		}
	}
}

// Responses returns an iterator over the answers of the outer response, each
// with its body streamed straight from the response, in bounded memory:
//
//	for a, err := range b.Responses(resp) {
//		if err != nil {
//			return err // a *ResponseError, a *batch.SyntaxError, or an I/O error
//		}
//		// a.Response answers b.Requests()[a.Index]; a and its Body are
//		// valid until the next iteration
//	}
//
// It is [RequestBatch.NewResponseReader]'s loop; an error ends it, and
// resp.Body is closed when it ends, after which no answer's body can be
// read.
func (b *RequestBatch) Responses(resp *http.Response, opts ...ClientOption) iter.Seq2[*Answer, error] {
	return func(yield func(*Answer, error) bool) {
		rr, err := b.NewResponseReader(resp, opts...)
		if err != nil {
			yield(nil, err)
			return
		}
		defer rr.Close()
		for {
			a, err := rr.Next()
			if err == io.EOF {
				return
			}
			if !yield(a, err) || err != nil {
				return
			}
		}
	}
}

// ResponseReader reads the answers of a batch one at a time, in the order
// the server sent them, each paired with the request it answers, its body
// streamed from the outer response. It mirrors the codec's loop:
//
//	for {
//		a, err := rr.Next()
//		if err == io.EOF {
//			break
//		}
//		if err != nil {
//			return err
//		}
//		// a.Response answers rr.Requests()[a.Index], until the next call to Next
//	}
//
// # Pairing
//
// Answers are paired with requests by order, counting the operations inside
// changesets whether or not the server keeps changeset framing (SharePoint
// does not), with one failure standing for a whole changeset (OData v4
// §11.7.4), framed or not. A Content-ID the server echoes (also Google's
// "response-<id>") must be that of the request order gives the answer to;
// a server that echoes a Content-ID on every answer may answer in any order
// (Google does), and is then paired by Content-ID. Whenever the echoed IDs
// or the counts contradict the pairing, or the answers fit more than one
// pairing, Next returns [ErrMismatch] in a [*ResponseError] that names the
// answer and the request, and pairs nothing more.
//
// An answer whose pairing is settled when it is read is returned at once,
// its body streaming. A failure at the start of a changeset may stand for
// the whole changeset or for its first request: the reader buffers it and
// reads one answer more, and the end of the changeset's frame or the next
// answer's Content-ID usually settles it (so SAP CAP's answers stream).
// Anything else (an answer out of order, answers without Content-IDs after
// such a failure) makes the reader read and buffer the answers that follow
// until the pairing is settled, in at most [MaxBufferBytes] (else
// [ErrBufferLimit]): in practice after a failure, when little follows. An error ends the answers: those
// already returned were paired as what had been read said; only a nil error
// at the end (io.EOF) says that the whole response agreed with them.
//
// # JSON answers
//
// An answer whose Content-Type is application/json (or a +json type) is a
// JSON batch, whatever the request's format, and one whose Content-Type is
// multipart is read as above, whatever the request's format. A JSON batch's
// answers may come in any order and each names its request by "id" (the
// Content-ID), so each is paired, and returned, as it is decoded: an id no request has, or one answered already, is
// [ErrMismatch] at once, and a request left without an answer at the end
// is ErrMismatch too, unless the requests without one are the last and the
// one before them failed (ErrStopped). An answer whose id is that of an
// atomicity group answers each request of its changeset, as one failure
// answers a changeset in multipart. The answers to the members of a group
// are held until all have come (within [MaxBufferBytes]), as the members
// succeed or fail together: if one failed, its failure (the first in
// request order that is not a 424) answers every member, as in multipart,
// so that a member the server answered 2xx and then rolled back (SAP CAP
// does) is not reported as done. The answers to a multipart request given
// in JSON (told by the outer request's Content-Type, resp.Request) come in
// the request's order, and their ids may be the server's own (SAP CAP
// writes "r1", "r2", …): they are paired by order, an id that is another
// request's Content-ID being ErrMismatch. The answer's body is the decoded body:
// the JSON value as written (with Content-Type application/json when the
// answer gives none), the text, or the base64-decoded bytes. A JSON answer
// is read with jsonbatch's default limits; [Decoding] configures the
// multipart decoder only. Bad JSON is a [*batch.SyntaxError].
//
// When the server stopped after a failure, Next returns [ErrStopped] after
// the last answer. Errors are sticky. A ResponseReader is not safe for
// concurrent use.
type ResponseReader struct {
	plan *matchPlan
	resp *http.Response
	dec  *batch.Decoder
	max  int64 // MaxBufferBytes
	held int64 // bytes buffered so far
	err  error

	st     orderState
	frames int // changeset frames seen in the answer
	frame  int // the open frame, -1 at top level
	read   int // answers decoded

	queue  []*Answer     // settled answers, buffered, to return
	peeked *peekedAnswer // an answer read ahead, to pair next
	final  error         // returned once the queue is empty
	drain  bool          // the pairing is settled for the rest of the response

	pooled *pooledReader // decoder and answer builder, back to the pool on Close
	keep   bool          // the caller keeps every answer (ReadResponse): no reuse
	ans    Answer        // the answer Next returns, reused
	body   streamBody    // the body of streamed answers
	idBuf  []byte        // an answer's Content-ID rewritten, reused

	js *jsonAnswers // the answer is a JSON batch: read by client_json_response.go, not dec
}

// NewResponseReader checks the outer response (a status other than 2xx, or
// a body that is neither multipart nor JSON, is an [ErrNotBatch] error and
// closes the body) and returns a reader of its answers. Close closes
// resp.Body. Options: [Decoding] for the multipart decoder's limits and
// [MaxBufferBytes].
func (b *RequestBatch) NewResponseReader(resp *http.Response, opts ...ClientOption) (*ResponseReader, error) {
	o, err := newClientConfig(opts, sideResponse)
	if err != nil {
		resp.Body.Close()
		return nil, err
	}
	if err := checkOuter(resp, b.n); err != nil {
		return nil, err
	}
	if isJSONType(resp.Header.Get("Content-Type")) {
		return b.newJSONReader(resp, &o), nil
	}
	_, boundary, err := batch.ParseContentType(resp.Header.Get("Content-Type"))
	pr, _ := readers.Get().(*pooledReader)
	if err == nil {
		if pr != nil {
			err = pr.dec.Reset(resp.Body, boundary, o.dec...)
		} else {
			pr = new(pooledReader)
			pr.dec, err = batch.NewDecoderBoundary(resp.Body, boundary, o.dec...)
		}
	}
	if err != nil {
		resp.Body.Close()
		return nil, err
	}
	return &ResponseReader{plan: b.matchPlan(), resp: resp, dec: pr.dec, pooled: pr, max: o.maxBuffer, frame: -1,
		st: orderState{allIDs: true}}, nil
}

// pooledReader is what a ResponseReader can hand on to the next one when it
// is closed: the decoder with its read buffer, and the answer builder with
// its intern tables and the unused rest of its slabs.
type pooledReader struct {
	dec   *batch.Decoder
	build answerBuilder
}

// readers holds the pooledReaders of closed ResponseReaders, so that
// reading a small batch does not allocate a read buffer each time.
var readers sync.Pool

func (rr *ResponseReader) build() *answerBuilder { return &rr.pooled.build }

// Requests returns the requests of the batch, in the order Answer.Index
// counts them.
func (rr *ResponseReader) Requests() []*http.Request { return rr.plan.reqs }

// Close closes the outer response's body. It does not read the rest. The
// last answer's body is no longer valid after it.
func (rr *ResponseReader) Close() error {
	if rr.err == nil || rr.err == io.EOF {
		rr.err = errReaderClosed
	}
	if rr.js != nil {
		rr.js.closed = true
	}
	if rr.pooled != nil && rr.dec != nil {
		rr.dec.Reset(eofReader{}, "b")
		rr.pooled.build.detach()
		rr.body.p = nil
		readers.Put(rr.pooled)
		rr.dec, rr.pooled = nil, nil
	}
	return rr.resp.Body.Close()
}

var errReaderClosed = errors.New("batch: ResponseReader used after Close")

// eofReader lets a pooled decoder hold no reference to a closed body.
type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// Next returns the next answer, io.EOF after the last one when every
// request is answered, or an error (see [ResponseReader]). The answer and
// its body are only valid until the next call to Next.
func (rr *ResponseReader) Next() (*Answer, error) {
	if rr.err != nil {
		return nil, rr.err
	}
	var a *Answer
	var err error
	if rr.js != nil {
		a, err = rr.nextJSON()
	} else {
		a, err = rr.next()
	}
	if err != nil {
		rr.err = err
	}
	return a, err
}

func (rr *ResponseReader) next() (*Answer, error) {
	for {
		if len(rr.queue) > 0 {
			a := rr.queue[0]
			rr.queue = rr.queue[1:]
			return a, nil
		}
		if rr.final != nil {
			return nil, rr.final
		}
		if rr.drain {
			return nil, io.EOF
		}
		if pk := rr.peeked; pk != nil {
			rr.peeked = nil
			a, err := rr.operation(pk.m, pk.resp)
			if a != nil || err != nil {
				return a, err
			}
			continue
		}
		p, err := rr.dec.Next()
		switch {
		case err == io.EOF:
			if rr.st.done(rr.plan) {
				rr.drain = true
				continue
			}
		case err != nil:
			return nil, err
		case p.Kind() == batch.KindChangesetStart:
			rr.frame = rr.frames
			rr.frames++
			if rr.st.frameStart(rr.plan, rr.frame) {
				continue
			}
		case p.Kind() == batch.KindChangesetEnd:
			rr.frame = -1
			if rr.st.frameEnd(rr.plan) {
				continue
			}
			if rr.st.empty {
				return nil, rr.mismatch(-1, rr.plan.groups[rr.st.g].first, "a changeset frame in the answer holds no answer")
			}
		default:
			m, resp, err := rr.answer(p)
			if err != nil {
				return nil, err
			}
			a, err := rr.operation(m, resp)
			if a != nil || err != nil {
				return a, err
			}
			continue
		}
		if err := rr.settle(); err != nil {
			return nil, err
		}
	}
}

// requestID returns the Content-ID of the request an answer's Content-ID
// echoes: Google answers "<item-1>" with "<response-item-1>", and others
// "1" with "response-1".
func (rr *ResponseReader) requestID(id []byte) []byte {
	if bytes.HasPrefix(id, responsePrefix) {
		return id[len(responsePrefix):]
	}
	if len(id) > 1 && id[0] == '<' && bytes.HasPrefix(id[1:], responsePrefix) {
		rr.idBuf = append(append(rr.idBuf[:0], '<'), id[1+len(responsePrefix):]...)
		return rr.idBuf
	}
	return id
}

// answer converts an operation part into an answer and its metadata.
func (rr *ResponseReader) answer(p *batch.Part) (answerMeta, *http.Response, error) {
	m := answerMeta{n: rr.read, frame: rr.frame}
	rr.read++
	if p.Kind() != batch.KindOperation {
		return m, nil, rr.mismatch(m.n, -1, fmt.Sprintf("part %d is not an application/http answer (Content-Type %s)",
			p.Index(), quote(string(p.PartHeader().Get("Content-Type")))))
	}
	rr.body.p = p
	resp, err := rr.build().response(p, &rr.body, !rr.keep && !rr.drain, rr.keep)
	if err != nil {
		return m, nil, fmt.Errorf("batch: part %d: %w", p.Index(), err)
	}
	m.status = resp.StatusCode
	if id, ok := p.ContentID(); ok && len(id) > 0 {
		id = rr.requestID(id)
		if i := rr.st.expect(rr.plan); i >= 0 && string(id) == rr.plan.ids[i] {
			m.id = rr.plan.ids[i]
		} else if i, ok := rr.plan.idIndex[string(id)]; ok {
			m.id = rr.plan.ids[i]
		} else {
			m.id = string(id)
		}
		m.hasID = true
	}
	return m, resp, nil
}
