package batchhttp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/batchcodec/batch"
)

// commitAt is how much of a top-level answer's body is held before its
// header block is written: net/http holds a few KiB the same way, which
// lets it add Content-Length and sniff Content-Type for small answers.
const commitAt = 4 << 10

// sniffLen is how many bytes of a body http.DetectContentType looks at.
const sniffLen = 512

var (
	// errAnswerTooLarge is what an operation inside a changeset gets from
	// Write once the changeset holds MaxBatchBytes of answers.
	errAnswerTooLarge = errors.New("batch: the changeset's answers exceed the bytes the handler holds (MaxBatchBytes)")
	// errHandlerDone is what a Write, WriteHeader-less Flush or body Read
	// gets once the operation's handler has returned: the writer and the
	// request body belong to that call only, as with net/http.
	errHandlerDone = errors.New("batch: the operation's handler has returned: its ResponseWriter and request body are no longer usable")
)

// answerWriter is the http.ResponseWriter that next sees for one operation,
// and (as *opBody) the body of the request it gets. A top-level answer
// streams (stream): its part header is written to the encoder once the
// operation returns, flushes, or has written commitAt bytes, and the rest
// of its body goes straight to the encoder. An answer inside a changeset is
// held in memory, up to limit bytes, until the changeset commits.
//
// Once next returns, end marks the writer done: from then on Write, Flush,
// WriteHeader and body reads do nothing but fail, so that a goroutine that
// next left behind cannot touch another operation's answer or body. mu
// makes that check and the call it guards one step.
type answerWriter struct {
	mu sync.Mutex

	r         *batchRun
	req       http.Request // the request next sees, allocated with the writer
	url       url.URL      // its URL
	vals      [4]string    // its header's values, when they fit
	src       io.Reader    // the request body, until done
	header    http.Header
	status    int // 0 until WriteHeader or the first Write
	contentID string

	// What next set, taken when the status was set, as net/http does:
	// later changes to the header map have no effect.
	fields   []batch.Field
	declared int64 // Content-Length next set, -1 if none
	sent     int64 // body bytes taken

	buf   []byte    // held body
	body  io.Writer // the part's body writer, once committed
	err   error     // sticky: the encoder or the client failed
	limit int64     // held answers: bytes allowed

	// The flags, together so that they pack.
	done      bool // next has returned
	bodyShut  bool // the body was closed
	head      bool // a HEAD request: no body
	hasType   bool // next set Content-Type (perhaps empty)
	encoded   bool // next set Content-Encoding
	stream    bool // a top-level answer, streamed
	built     bool // fields is the answer's whole header
	committed bool // the part header has been written
	tooLarge  bool
	panicked  bool
	// noLocation says fields holds no Location (record need not look),
	// when snapshot knows it.
	noLocation bool
}

var (
	_ http.ResponseWriter = (*answerWriter)(nil)
	_ http.Flusher        = (*answerWriter)(nil)
	_ io.StringWriter     = (*answerWriter)(nil)
	_ io.ReadCloser       = (*opBody)(nil)
)

// Header returns the answer's header map. As with net/http, changes after
// WriteHeader or the first Write have no effect; after next has returned,
// Header returns a map that goes nowhere.
func (aw *answerWriter) Header() http.Header {
	aw.mu.Lock()
	if aw.done {
		aw.mu.Unlock()
		return make(http.Header)
	}
	if aw.header == nil {
		aw.header = make(http.Header)
	}
	h := aw.header
	aw.mu.Unlock()
	return h
}

// WriteHeader sets the answer's status. Informational codes other than 101
// are ignored, as they cannot be sent inside a batch; an invalid code panics
// as net/http's does (the panic becomes a 500 answer).
func (aw *answerWriter) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	aw.mu.Lock()
	if !aw.done {
		aw.writeHeader(code) // takes the header: nothing that panics
	}
	aw.mu.Unlock()
}

func (aw *answerWriter) writeHeader(code int) {
	if aw.status != 0 || (code < 200 && code != http.StatusSwitchingProtocols) {
		return
	}
	aw.status = code
	aw.snapshot()
}

func (aw *answerWriter) bodyAllowed() bool {
	s := aw.status
	return s >= 200 && s != http.StatusNoContent && s != http.StatusNotModified
}

// Write writes to the answer's body, with an implicit WriteHeader(200). As
// with net/http, a Write that would take the body past a Content-Length
// the handler set writes nothing and fails with http.ErrContentLength.
func (aw *answerWriter) Write(p []byte) (int, error) {
	aw.mu.Lock()
	defer aw.mu.Unlock()
	return aw.writeLocked(p)
}

// WriteString is Write of a string, as net/http's ResponseWriter has it,
// so that io.WriteString, fmt.Fprint and the like do not copy s into a new
// slice first: a string that the held body takes whole is appended to it.
func (aw *answerWriter) WriteString(s string) (int, error) {
	aw.mu.Lock()
	if aw.done {
		aw.mu.Unlock()
		return 0, errHandlerDone
	}
	if aw.status == 0 {
		aw.writeHeader(http.StatusOK) // takes the header: nothing that panics
	}
	held := len(aw.buf) + len(s)
	if aw.bodyAllowed() && !aw.head && !aw.committed && aw.err == nil &&
		(aw.declared < 0 || int64(len(s)) <= aw.declared-aw.sent) &&
		(aw.stream && held <= commitAt || !aw.stream && int64(held) <= aw.limit) {
		aw.buf = append(aw.buf, s...)
		aw.sent += int64(len(s))
		aw.mu.Unlock()
		return len(s), nil
	}
	defer aw.mu.Unlock() // writeLocked may call the encoder, and the batch's writer
	return aw.writeLocked([]byte(s))
}

// writeLocked is Write, with aw.mu held.
func (aw *answerWriter) writeLocked(p []byte) (int, error) {
	if aw.done {
		return 0, errHandlerDone
	}
	if aw.status == 0 {
		aw.writeHeader(http.StatusOK)
	}
	if !aw.bodyAllowed() {
		return 0, http.ErrBodyNotAllowed
	}
	var cut error
	if aw.declared >= 0 && int64(len(p)) > aw.declared-aw.sent {
		p, cut = p[:max(aw.declared-aw.sent, 0)], http.ErrContentLength
	}
	n := len(p)
	var err error
	if !aw.head {
		n, err = aw.write(p)
	} else if len(aw.buf) < sniffLen {
		// A HEAD answer has no body; its first bytes are kept for
		// sniffing its Content-Type, as net/http does.
		aw.buf = append(aw.buf, p[:min(len(p), sniffLen-len(aw.buf))]...)
	}
	aw.sent += int64(n)
	if err == nil {
		err = cut
	}
	return n, err
}

func (aw *answerWriter) write(p []byte) (int, error) {
	if aw.err != nil {
		return 0, aw.err
	}
	if aw.committed {
		n, err := aw.body.Write(p)
		if err != nil {
			aw.err = err
		}
		return n, err
	}
	if aw.stream {
		if len(aw.buf)+len(p) > commitAt {
			aw.commit(false, p)
			if aw.err != nil {
				return 0, aw.err
			}
			return aw.write(p)
		}
	} else if int64(len(aw.buf)+len(p)) > aw.limit {
		aw.tooLarge = true
		return 0, errAnswerTooLarge
	}
	aw.buf = append(aw.buf, p...)
	return len(p), nil
}

// Flush writes what the answer holds so far and flushes the batch response,
// for a top-level operation; inside a changeset it does nothing, as the
// answer waits for the changeset to commit.
func (aw *answerWriter) Flush() {
	aw.mu.Lock()
	defer aw.mu.Unlock()
	if aw.done || !aw.stream || aw.err != nil {
		return
	}
	if aw.status == 0 {
		aw.writeHeader(http.StatusOK)
	}
	aw.commit(false, nil)
	aw.r.flush()
}

// end marks the writer and the request body dead: next has returned.
func (aw *answerWriter) end() {
	aw.mu.Lock()
	aw.done = true
	aw.src = nil
	aw.mu.Unlock()
}

// finalStatus is the answer's status once its operation has returned.
func (aw *answerWriter) finalStatus() int {
	if aw.status == 0 {
		return http.StatusOK
	}
	return aw.status
}

// replace makes the answer a handler-made failure with an OData JSON error
// body. Only for answers whose header block is not written yet.
func (aw *answerWriter) replace(status int, msg string) {
	body := errorBody(status, msg)
	aw.status = status
	aw.fields = append(aw.fields[:0:0],
		batch.Field{Name: "Content-Type", Value: "application/json; charset=utf-8"})
	aw.hasType, aw.encoded, aw.head, aw.built = true, false, false, false
	aw.declared = int64(len(body))
	aw.sent = aw.declared
	aw.buf = append(aw.buf[:0:0], body...)
	aw.tooLarge = false
}

// snapshot takes the headers next set, cleaned as net/http cleans them on
// a real connection: names that are not tokens dropped; CR and LF in values
// (and the other control bytes, which the encoder refuses) turned into
// spaces; leading and trailing space trimmed. Content-Length is taken as the
// declared length (dropped if invalid, as net/http does); Transfer-Encoding,
// trailers and Content-ID (the part's own header) are not passed on.
func (aw *answerWriter) snapshot() {
	aw.declared = -1
	h := aw.header
	fields := aw.fields[:0]
	if len(h) == 1 {
		// The usual answer: one common name (see commonEntries).
		for _, k := range commonKeys {
			if vs, ok := h[k]; ok {
				aw.hasType = aw.hasType || k == "Content-Type"
				aw.noLocation = k != "Location"
				for _, v := range vs {
					fields = append(fields, batch.Field{Name: k, Value: aw.r.clean(v)})
				}
				aw.fields = fields
				return
			}
		}
	}
	if len(h) > 0 {
		keys, ok := aw.r.keys[:0], false
		if len(h) > 1 { // one name is looked up above
			keys, ok = commonEntries(keys, h)
		}
		if ok {
			// Tokens, none of them a name treated apart but
			// Content-Type.
			for _, kv := range keys {
				aw.hasType = aw.hasType || kv.k == "Content-Type"
				for _, v := range kv.vs {
					fields = append(fields, batch.Field{Name: kv.k, Value: aw.r.clean(v)})
				}
			}
			aw.r.keys = keys[:0]
			aw.fields = fields
			return
		}
		keys = keys[:0]
		for k, vs := range h {
			keys = append(keys, keyValues{k, vs})
		}
		if len(keys) > 1 {
			slices.SortFunc(keys, func(a, b keyValues) int { return strings.Compare(a.k, b.k) })
		}
		aw.r.keys = keys[:0] // cleared by putState
		for _, kv := range keys {
			k := kv.k
			if !validToken(k) {
				continue
			}
			// The names looked at, matched without canonicalising k:
			// for a token, canonical(k) == name is EqualFold(k, name).
			switch name := watched(k); {
			case name == "Content-Length":
				if vs := kv.vs; len(vs) > 0 {
					if n, err := strconv.ParseInt(textproto.TrimString(vs[0]), 10, 64); err == nil && n >= 0 {
						aw.declared = n
					}
				}
				continue
			case name == "Transfer-Encoding", name == "Trailer", name == "Content-Id", strings.HasPrefix(k, http.TrailerPrefix):
				continue
			case name == "Content-Type":
				aw.hasType = true
			case name == "Content-Encoding":
				aw.encoded = aw.encoded || len(kv.vs) > 0
			}
			for _, v := range kv.vs {
				fields = append(fields, batch.Field{Name: k, Value: aw.r.clean(v)})
			}
		}
	}
	aw.fields = fields
}

// commonKeys are the header names answers set most, in that order: tokens,
// and none of those that snapshot treats apart but Content-Type.
var commonKeys = [...]string{"Content-Type", "Location", "Etag", "Cache-Control", "X-Content-Type-Options"}

// commonEntries appends the entries of h to keys, sorted by name, and
// reports true, if h is small and holds only commonKeys: looking those up
// costs less than iterating over the map, which picks a random start.
func commonEntries(keys []keyValues, h http.Header) ([]keyValues, bool) {
	if len(h) > 2 {
		return keys, false
	}
	for _, k := range commonKeys {
		if vs, ok := h[k]; ok {
			keys = append(keys, keyValues{k, vs})
			if len(keys) == len(h) {
				if len(keys) == 2 && keys[0].k > keys[1].k {
					keys[0], keys[1] = keys[1], keys[0]
				}
				return keys, true
			}
		}
	}
	return keys, false
}

// keyValues is one entry of a header map.
type keyValues struct {
	k  string
	vs []string
}

// watched returns the canonical form of the header name k if it is one
// that snapshot treats apart, else "". k must be a token.
func watched(k string) string {
	var name string
	switch len(k) {
	case len("Trailer"):
		name = "Trailer"
	case len("Content-Id"):
		name = "Content-Id"
	case len("Content-Type"):
		name = "Content-Type"
	case len("Content-Length"):
		name = "Content-Length"
	case len("Content-Encoding"):
		name = "Content-Encoding"
	case len("Transfer-Encoding"):
		name = "Transfer-Encoding"
	default:
		return ""
	}
	if k == name || strings.EqualFold(k, name) {
		return name
	}
	return ""
}

// clean is cleanValue, remembering the last value it took as it was:
// answers repeat their values (Content-Type), which are then compared
// rather than checked again. It runs with an answer's lock held, and
// answers take turns.
func (rn *batchRun) clean(v string) string {
	if v == rn.cleanAnswer && v != "" {
		return v
	}
	c := cleanValue(v)
	if c == v {
		rn.cleanAnswer = v
	}
	return c
}

// cleanValue turns CR, LF and other control bytes but HTAB into spaces and
// trims spaces and tabs at both ends.
func cleanValue(v string) string {
	if !noControl(v) {
		b := []byte(v)
		for i, c := range b {
			if (c < ' ' && c != '\t') || c == 0x7f {
				b[i] = ' '
			}
		}
		v = string(b)
	}
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	return v
}

// noControl reports whether s holds no control byte but HTAB: no byte
// below 0x20 other than '\t', and no 0x7f. It looks at eight bytes at a
// time, as every header value of every operation and answer goes through
// it, and at single bytes only in a word that holds a candidate (a byte
// below 0x20, HTAB among them, or 0x7f).
func noControl[T string | []byte](s T) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for len(s) >= 8 {
		_ = s[7]
		w := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
		// A byte below 0x20, or (w ^ 0x7f7f…) with a zero byte: the
		// "hasless" and "haszero" tests, exact for whether any byte
		// qualifies (bytes of 0x80 and above never do).
		x := w ^ 0x7f*ones
		if (w-0x20*ones)&^w&highs != 0 || (x-ones)&^x&highs != 0 {
			if !noControlBytes(s[:8]) {
				return false
			}
		}
		s = s[8:]
	}
	return noControlBytes(s)
}

func noControlBytes[T string | []byte](s T) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// validToken reports whether s is an RFC 9110 token, what a header name
// must be.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenByte[s[i]] {
			return false
		}
	}
	return true
}

// tokenByte says which bytes an RFC 9110 token is made of: a table, as
// names and methods are checked byte by byte for every operation.
var tokenByte = func() (t [256]bool) {
	for c := range 256 {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
			t[c] = true
		case strings.IndexByte("!#$%&'*+-.^_`|~", byte(c)) >= 0:
			t[c] = true
		}
	}
	return t
}()

func isTokenByte(c byte) bool { return tokenByte[c] }

// prepare decides, once the operation has returned and before anything of
// its answer is written, everything that could make the answer unwritable:
// a body shorter than the Content-Length next declared, or a header or body
// line that the encoder would refuse as a delimiter of the batch or of
// changeset (the dash-boundaries: "--" and the boundary; none for the
// changeset at top level). Such an answer
// becomes a 500 saying why. It reports false when the answer's header block
// is out already and the body is short: the batch cannot go on whole.
func (aw *answerWriter) prepare(changeset []byte) bool {
	if aw.status == 0 {
		aw.writeHeader(http.StatusOK)
	}
	if aw.tooLarge {
		aw.replace(http.StatusInternalServerError, errAnswerTooLarge.Error())
		return true
	}
	if aw.declared >= 0 && aw.sent < aw.declared && aw.bodyAllowed() && !aw.head {
		if aw.committed {
			return false
		}
		aw.replace(http.StatusInternalServerError, "batch: the operation's handler declared Content-Length "+
			strconv.FormatInt(aw.declared, 10)+" and wrote "+strconv.FormatInt(aw.sent, 10)+" bytes")
		return true
	}
	if aw.committed {
		return true
	}
	body := aw.buf
	if aw.head {
		body = nil // kept for sniffing only
	}
	dashField := false
	for i := range aw.fields {
		if strings.HasPrefix(aw.fields[i].Name, "--") {
			dashField = true
			break
		}
	}
	if !dashField && len(body) < len(aw.r.dash) && (len(changeset) == 0 || len(body) < len(changeset)) {
		return true // the usual small answer: no delimiter fits in it
	}
	for _, dash := range [2][]byte{aw.r.dash, changeset} {
		// Neither a header nor a body shorter than dash can hold it.
		if len(dash) == 0 || !dashField && len(body) < len(dash) {
			continue
		}
		if line := delimiterIn(aw.fields, body, dash); line != "" {
			aw.replace(http.StatusInternalServerError, "batch: the operation's answer cannot be written: a line would be read as a delimiter: "+quote(line))
			return true
		}
	}
	return true
}

// delimiterIn returns the first header line or body line that starts with
// dash (a delimiter, to a reader), or "".
func delimiterIn(fields []batch.Field, body []byte, dash []byte) string {
	for _, f := range fields {
		if !strings.HasPrefix(f.Name, "--") {
			continue // canonicalising leaves dashes alone
		}
		if name := textproto.CanonicalMIMEHeaderKey(f.Name); strings.HasPrefix(name, string(dash)) {
			return name + ": " + f.Value
		}
	}
	for off := 0; ; {
		i := bytes.Index(body[off:], dash)
		if i < 0 {
			return ""
		}
		i += off
		if i == 0 || body[i-1] == '\n' || body[i-1] == '\r' {
			end := i + len(dash)
			for end < len(body) && end < i+80 && body[end] != '\n' && body[end] != '\r' {
				end++
			}
			return string(body[i:end])
		}
		off = i + 1
	}
}

// commit writes the answer's part header and what it holds of the body.
// final says the operation has returned, so the held body is all of it;
// more is the write that makes it commit, for sniffing.
func (aw *answerWriter) commit(final bool, more []byte) {
	if aw.committed || aw.err != nil {
		return
	}
	if aw.status == 0 {
		aw.writeHeader(http.StatusOK)
	}
	// No need to validate op: its header was cleaned when taken, its
	// status checked by WriteHeader, its Content-ID in pass 1.
	aw.operation(final, more)
	op := &aw.r.op // the rest of it stays zero
	op.Message, op.StatusCode, op.ContentID, op.Header = batch.Response, aw.status, aw.contentID, aw.fields
	aw.committed = true
	w, err := aw.r.enc.CreateOperation(op)
	op.ContentID, op.Header = "", nil
	if err != nil {
		aw.err = err
		return
	}
	aw.body = w
	if len(aw.buf) > 0 && !aw.head {
		if _, err := w.Write(aw.buf); err != nil {
			aw.err = err
		}
	}
	if aw.stream {
		aw.r.spare = aw.buf[:0] // the next top-level answer's
		aw.r.tfields = aw.fields[:0]
		aw.buf, aw.fields = nil, nil
	}
}

// operation completes the answer's header, once: the headers next set
// and, like net/http, a missing Content-Type sniffed from the first 512
// bytes of the body and, when final, a missing Content-Length set to the
// held body's length.
func (aw *answerWriter) operation(final bool, more []byte) {
	if aw.built {
		return
	}
	aw.built = true
	fs := aw.fields
	if !aw.bodyAllowed() {
		fs = slices.DeleteFunc(fs, func(f batch.Field) bool {
			return textproto.CanonicalMIMEHeaderKey(f.Name) == "Content-Length"
		})
	} else {
		if !aw.hasType && !aw.encoded && len(aw.buf)+len(more) > 0 {
			sniff := aw.buf
			if len(sniff) < sniffLen && len(more) > 0 {
				sniff = append(aw.r.sniff[:0], sniff...)
				sniff = append(sniff, more[:min(len(more), sniffLen-len(sniff))]...)
				aw.r.sniff = sniff
			}
			fs = append(fs, batch.Field{Name: "Content-Type", Value: http.DetectContentType(sniff)})
			aw.hasType = true
		}
		switch {
		case aw.declared >= 0:
			fs = append(fs, batch.Field{Name: "Content-Length", Value: strconv.FormatInt(aw.declared, 10)})
		case final && !aw.head:
			fs = append(fs, batch.Field{Name: "Content-Length", Value: strconv.Itoa(len(aw.buf))})
		case final && aw.sent > 0 && aw.sent <= commitAt:
			// HEAD: the length its body would have had, as net/http
			// says when it holds the whole body.
			fs = append(fs, batch.Field{Name: "Content-Length", Value: strconv.FormatInt(aw.sent, 10)})
		}
	}
	aw.fields = fs
}
