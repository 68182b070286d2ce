package batchhttp

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/textproto"
	"strconv"

	"github.com/batchcodec/batch"
)

// This file converts decoded answers into *http.Response values cheaply:
// header names, and short values that repeat from answer to answer (media
// types, versions, status lines), are interned per reader, and a streaming
// reader reuses one Response, its Header map and its value slices from one
// answer to the next, as the answer is only valid until the next call to
// Next anyway.

// maxInterned bounds each intern table (a full table starts again empty),
// and maxInternLen the length of a value worth interning. The tables live
// on from one reader to the next through the reader pool.
const (
	maxInterned  = 32
	maxInternLen = 96
)

// answerBuilder builds the responses of one ResponseReader.
type answerBuilder struct {
	names   []interned // header name as read → canonical key
	values  []interned // short values, and status lines
	scratch []byte

	cur  *http.Response // reused for the next answer, when not nil
	vals []string       // backing store of cur's header values
	keys []string       // cur's header keys, in the order read

	// Slabs for answers that are kept (ReadResponse): responses, header
	// values, bodies and their readers are carved out of larger arrays.
	resps  []http.Response
	strs   []string
	bytes  []byte
	bodies []memBody
}

// memBody is a buffered body.
type memBody struct{ bytes.Reader }

// Close does nothing: the body is in memory.
func (*memBody) Close() error { return nil }

const (
	slabItems = 64
	slabBytes = 32 << 10
)

func (ab *answerBuilder) newResponse() *http.Response {
	if len(ab.resps) == 0 {
		ab.resps = make([]http.Response, slabItems)
	}
	r := &ab.resps[0]
	ab.resps = ab.resps[1:]
	return r
}

// newBody returns a reader of b that Close does not affect.
func (ab *answerBuilder) newBody(b []byte) io.ReadCloser {
	if len(ab.bodies) == 0 {
		ab.bodies = make([]memBody, slabItems)
	}
	r := &ab.bodies[0]
	ab.bodies = ab.bodies[1:]
	r.Reset(b)
	return r
}

// valueSlice returns an empty slice with room for n strings.
func (ab *answerBuilder) valueSlice(n int) []string {
	if cap(ab.strs)-len(ab.strs) < n {
		ab.strs = make([]string, 0, max(n, 4*slabItems))
	}
	v := ab.strs[len(ab.strs) : len(ab.strs) : len(ab.strs)+n]
	ab.strs = ab.strs[:len(ab.strs)+n]
	return v
}

var errBodyLimit = errors.New("body past the limit")

// readBody reads r to its end into the byte slab, at most limit bytes
// (else errBodyLimit), and returns the body with no spare capacity.
func (ab *answerBuilder) readBody(r io.Reader, limit int64) ([]byte, error) {
	start := len(ab.bytes)
	for {
		if len(ab.bytes) == cap(ab.bytes) {
			part := ab.bytes[start:]
			grown := make([]byte, len(part), max(slabBytes, 2*len(part)))
			copy(grown, part)
			ab.bytes, start = grown, 0
		}
		n, err := r.Read(ab.bytes[len(ab.bytes):cap(ab.bytes)])
		ab.bytes = ab.bytes[:len(ab.bytes)+n]
		if int64(len(ab.bytes)-start) > limit {
			return nil, errBodyLimit
		}
		if err == io.EOF {
			return ab.bytes[start:len(ab.bytes):len(ab.bytes)], nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// interned is one entry of an intern table: the bytes as read and the
// string to use for them.
type interned struct {
	raw []byte
	s   string
}

// lookup finds b in a table. The tables are small (the distinct header
// names and repeated values of one batch), so a linear scan beats hashing.
func lookup(table []interned, b []byte) (string, bool) {
	for i := range table {
		if string(table[i].raw) == string(b) {
			return table[i].s, true
		}
	}
	return "", false
}

// intern returns b as a string, from the table when it is there.
func (ab *answerBuilder) intern(b []byte) string {
	if len(b) > maxInternLen {
		return string(b)
	}
	if s, ok := lookup(ab.values, b); ok {
		return s
	}
	s := string(b)
	if len(ab.values) == maxInterned {
		ab.values = ab.values[:0]
	}
	ab.values = append(ab.values, interned{[]byte(s), s})
	return s
}

// key returns the canonical http.Header key for a header name as read.
func (ab *answerBuilder) key(name []byte) string {
	if k, ok := lookup(ab.names, name); ok {
		return k
	}
	k := textproto.CanonicalMIMEHeaderKey(string(name))
	if len(ab.names) == maxInterned {
		ab.names = ab.names[:0]
	}
	ab.names = append(ab.names, interned{bytes.Clone(name), k})
	return k
}

var http11 = []byte("HTTP/1.1")

// response converts an operation part that embeds a response into an
// *http.Response, as [Response] does. With reuse, it recycles the previous
// one (the caller has detached it with detach if it must live on).
func (ab *answerBuilder) response(p *batch.Part, body io.ReadCloser, reuse, keep bool) (*http.Response, error) {
	if p.Kind() != batch.KindOperation || p.Message() != batch.Response {
		return nil, ErrNotResponse
	}
	ph := p.Header()
	var resp *http.Response
	var h http.Header
	if reuse && ab.cur != nil {
		resp, h = ab.cur, ab.cur.Header
		*resp = http.Response{}
		if ab.sameKeys(ph, h) {
			// The header names of the previous answer, in the same order:
			// the values change in place, the map is left as it is.
			for i, f := range ph {
				ab.vals[i] = ab.intern(f.Value)
			}
			goto built
		}
		clear(h)
		ab.vals = ab.vals[:0]
	} else {
		h = make(http.Header, len(ph))
		switch {
		case keep:
			resp = ab.newResponse()
			ab.vals = ab.valueSlice(len(ph))
		default:
			resp = new(http.Response)
			ab.vals = make([]string, 0, len(ph))
		}
		if reuse {
			ab.cur = resp
		}
	}
	ab.keys = ab.keys[:0]
	for _, f := range ph {
		k, v := ab.key(f.Name), ab.intern(f.Value)
		ab.keys = append(ab.keys, k)
		if old, ok := h[k]; ok {
			h[k] = append(old[:len(old):len(old)], v)
			continue
		}
		ab.vals = append(ab.vals, v)
		n := len(ab.vals)
		h[k] = ab.vals[n-1 : n : n]
	}
built:
	proto := p.Proto()
	if bytes.Equal(proto, http11) {
		resp.Proto, resp.ProtoMajor, resp.ProtoMinor = "HTTP/1.1", 1, 1
	} else {
		resp.Proto = string(proto)
		resp.ProtoMajor, resp.ProtoMinor, _ = http.ParseHTTPVersion(resp.Proto)
	}
	code := p.StatusCode()
	ab.scratch = strconv.AppendInt(ab.scratch[:0], int64(code), 10)
	if reason := p.Reason(); len(reason) > 0 {
		ab.scratch = append(append(ab.scratch, ' '), reason...)
	}
	resp.Status = ab.intern(ab.scratch)
	resp.StatusCode = code
	resp.Header = h
	resp.Body = body
	resp.ContentLength = -1
	return resp, nil
}

// sameKeys reports whether the header block ph has the names of the
// previous answer, in the same order and each once, so that its values can
// replace the previous ones in place in h.
func (ab *answerBuilder) sameKeys(ph batch.Header, h http.Header) bool {
	if len(ph) != len(ab.keys) || len(h) != len(ab.keys) || len(ab.vals) != len(ab.keys) {
		return false
	}
	for i, f := range ph {
		if k, ok := lookup(ab.names, f.Name); !ok || k != ab.keys[i] {
			return false
		}
	}
	return true
}

// streamBody is the body of a streamed answer: the decoder's current
// part, until the reader is closed. It belongs to one ResponseReader, so a
// body read after Close fails instead of reading from a decoder that
// another reader took from the pool.
type streamBody struct{ p *batch.Part }

func (b *streamBody) Read(s []byte) (int, error) {
	if b.p == nil {
		return 0, errReaderClosed
	}
	return b.p.Read(s)
}

func (b *streamBody) WriteTo(w io.Writer) (int64, error) {
	if b.p == nil {
		return 0, errReaderClosed
	}
	return b.p.WriteTo(w)
}

// Close does nothing: the next call to Next discards what is left.
func (*streamBody) Close() error { return nil }

// detach keeps the current response from being reused.
func (ab *answerBuilder) detach() {
	ab.cur = nil
	ab.vals = nil
	ab.keys = ab.keys[:0]
}
