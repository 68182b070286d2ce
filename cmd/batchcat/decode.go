package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/batchcodec/batch"
)

// jsonOp is the -json form of one operation. The field order is part of the
// interface: other tools rely on it.
type jsonOp struct {
	Index      int                 `json:"index"`
	Changeset  string              `json:"changeset"`
	ContentID  string              `json:"content_id"`
	Kind       string              `json:"kind"`
	Method     string              `json:"method"`
	Target     string              `json:"target"`
	Status     int                 `json:"status"`
	Headers    map[string][]string `json:"headers"`
	BodyLen    int64               `json:"body_len"`
	BodySHA256 string              `json:"body_sha256"`
	Body       *string             `json:"body,omitempty"`
	BodyBase64 *string             `json:"body_base64,omitempty"`
}

// previewLen is how many bytes of a body the tree shows; headLen is how many
// it looks at to make them (runs of white space shrink to one space).
const (
	previewLen = 60
	headLen    = 256
)

// bodySink takes a body as it streams: counts it, hashes it, keeps its first
// bytes for the preview and, for -body, the whole of it.
type bodySink struct {
	n    int64
	h    hash.Hash
	head []byte
	keep *bytes.Buffer
}

func newBodySink(keep bool) *bodySink {
	s := &bodySink{h: sha256.New(), head: make([]byte, 0, headLen)}
	if keep {
		s.keep = new(bytes.Buffer)
	}
	return s
}

func (s *bodySink) reset() {
	s.n = 0
	s.h.Reset()
	s.head = s.head[:0]
	if s.keep != nil {
		s.keep.Reset()
	}
}

func (s *bodySink) Write(p []byte) (int, error) {
	s.n += int64(len(p))
	s.h.Write(p)
	if k := headLen - len(s.head); k > 0 {
		s.head = append(s.head, p[:min(k, len(p))]...)
	}
	if s.keep != nil {
		s.keep.Write(p)
	}
	return len(p), nil
}

// stats counts what the tree's summary line reports.
type stats struct {
	ops, requests, responses, changesets, others int
	dev                                          batch.Deviation
}

// decode runs the default (tree), -json and -validate modes.
func decode(cfg *config, in io.Reader, stdout io.Writer) error {
	src, err := openSource(in, cfg.contentType)
	if err != nil {
		return err
	}
	if src.json {
		return decodeJSON(cfg, src, stdout)
	}
	if cfg.to == "multipart" {
		return badFlags("-to multipart: the input is a multipart batch already (-encode re-encodes the -json form)")
	}
	// The library's limits guard servers; a person inspecting a payload
	// wants it read whole, so they are raised, not removed: memory stays
	// bounded (about 1 MiB of buffer, 8 MiB per header block).
	opts := []batch.DecodeOption{
		batch.MaxLineLength(1 << 20),
		batch.MaxHeaderBytes(8 << 20),
		batch.MaxParts(1 << 20),
		batch.MaxDepth(32),
	}
	if cfg.strict {
		opts = append(opts, batch.Strict(true))
	}
	d, err := batch.NewDecoder(src.r, src.contentType, opts...)
	if err != nil {
		if cfg.contentType != "" && !errors.Is(err, batch.ErrNonconforming) {
			return usageErr("-content-type: %v", err)
		}
		return invalidErr(src.explain(err))
	}
	if cfg.to == "json" {
		return inputErr(src, multipartToJSON(cfg, d, stdout))
	}
	w := bufio.NewWriter(stdout)
	var enc *json.Encoder
	switch {
	case cfg.json:
		enc = json.NewEncoder(w)
		enc.SetEscapeHTML(false)
	case !cfg.validate:
		if src.startLine != "" {
			fmt.Fprintf(w, "http  %s\n", safeText(src.startLine))
		}
		if src.sniffed {
			_, b, _ := batch.ParseContentType(src.contentType)
			fmt.Fprintf(w, "batch boundary=%s  (from the first delimiter line)\n", safeText(b))
		} else {
			fmt.Fprintf(w, "batch %s\n", safeText(src.contentType))
		}
	}
	sink := newBodySink(cfg.json && cfg.body)
	var st stats
	derr := func() error {
		for {
			p, err := d.Next()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if cfg.validate {
				continue // Next discards the body and checks it
			}
			sink.reset()
			if p.Kind() == batch.KindOperation || p.Kind() == batch.KindOther {
				if _, err := io.Copy(sink, p); err != nil {
					return err
				}
			}
			st.dev |= p.Deviations()
			switch p.Kind() {
			case batch.KindOperation:
				if enc != nil {
					if err := enc.Encode(jsonOperation(p, st.ops, sink)); err != nil {
						return outputErr(err)
					}
				} else {
					treeOperation(w, p, st.ops, sink)
				}
				st.ops++
				if p.Message() == batch.Response {
					st.responses++
				} else {
					st.requests++
				}
			case batch.KindChangesetStart:
				st.changesets++
				if enc == nil {
					fmt.Fprintf(w, "%schangeset %s%s\n", indent(p.Depth()), safeText(string(p.Boundary())), devNote(p.Deviations()))
				}
			case batch.KindChangesetEnd:
				if enc == nil {
					fmt.Fprintf(w, "%send %s%s\n", indent(p.Depth()), safeText(string(p.Boundary())), devNote(p.Deviations()))
				}
			case batch.KindOther:
				st.others++
				if enc == nil {
					treeOther(w, p, sink)
				}
			}
			// Hand each line on as it is ready, for pipelines.
			if err := w.Flush(); err != nil {
				return outputErr(err)
			}
		}
	}()
	if derr == nil && enc == nil && !cfg.validate {
		fmt.Fprintln(w, summary(st))
	}
	if err := w.Flush(); err != nil {
		return outputErr(err)
	}
	if derr != nil {
		var ee *exitError
		if errors.As(derr, &ee) {
			return ee
		}
		code := exitUsage // an error reading the input
		var se *batch.SyntaxError
		if errors.As(derr, &se) || len(src.transforms) > 0 || errors.Is(derr, io.ErrUnexpectedEOF) {
			code = exitInvalid
		}
		return &exitError{code: code, err: src.explain(derr)}
	}
	return nil
}

// explain turns the decoder's offsets, which count from the start of the
// batch body, into offsets in the input.
func (src *source) explain(err error) error {
	var se *batch.SyntaxError
	if !errors.As(err, &se) {
		return err
	}
	switch {
	case src.bodyStart > 0 && se.Offset >= 0:
		c := *se
		c.Offset += src.bodyStart
		return fmt.Errorf("%w (the batch body starts at offset %d, after the outer HTTP headers)", &c, src.bodyStart)
	case src.bodyStart < 0:
		return fmt.Errorf("%w (offsets count in the body after undoing %s)", err, strings.Join(src.transforms, ", "))
	}
	return err
}

func jsonOperation(p *batch.Part, index int, sink *bodySink) *jsonOp {
	op := &jsonOp{
		Index:      index,
		Changeset:  string(p.Boundary()),
		Kind:       p.Message().String(),
		Method:     string(p.Method()),
		Target:     string(p.Target()),
		Status:     p.StatusCode(),
		Headers:    map[string][]string{},
		BodyLen:    sink.n,
		BodySHA256: hex.EncodeToString(sink.h.Sum(nil)),
	}
	if id, ok := p.ContentID(); ok {
		op.ContentID = string(id)
	}
	for _, f := range p.Header() {
		k := string(f.Name)
		op.Headers[k] = append(op.Headers[k], string(f.Value))
	}
	if sink.keep != nil {
		b := sink.keep.Bytes()
		if utf8.Valid(b) {
			s := string(b)
			op.Body = &s
		} else {
			s := base64.StdEncoding.EncodeToString(b)
			op.BodyBase64 = &s
		}
	}
	return op
}

func indent(depth int) string { return strings.Repeat("  ", depth+1) }

func treeOperation(w io.Writer, p *batch.Part, index int, sink *bodySink) {
	var b strings.Builder
	b.WriteString(indent(p.Depth()))
	b.WriteString("#" + strconv.Itoa(index) + "  ")
	if p.Message() == batch.Response {
		b.WriteString(strconv.Itoa(p.StatusCode()))
		if r := p.Reason(); len(r) > 0 {
			b.WriteString(" " + safeText(string(r)))
		}
	} else {
		b.WriteString(safeText(string(p.Method())) + " " + safeText(string(p.Target())))
	}
	if id, ok := p.ContentID(); ok {
		if len(id) == 0 {
			b.WriteString(`  (content-id "")`)
		} else {
			b.WriteString("  (content-id " + safeText(string(id)) + ")")
		}
	}
	if ct, ok := p.Header().Lookup("Content-Type"); ok {
		b.WriteString("  " + safeText(string(ct)))
	}
	writeBodyInfo(&b, sink)
	b.WriteString(devNote(p.Deviations()))
	fmt.Fprintln(w, b.String())
}

func treeOther(w io.Writer, p *batch.Part, sink *bodySink) {
	var b strings.Builder
	b.WriteString(indent(p.Depth()))
	b.WriteString("other part")
	if ct, ok := p.PartHeader().Lookup("Content-Type"); ok {
		b.WriteString("  " + safeText(string(ct)))
	} else {
		b.WriteString("  (no content type)")
	}
	writeBodyInfo(&b, sink)
	b.WriteString(devNote(p.Deviations()))
	fmt.Fprintln(w, b.String())
}

func writeBodyInfo(b *strings.Builder, sink *bodySink) {
	b.WriteString("  body " + strconv.FormatInt(sink.n, 10) + " B")
	if sink.n > 0 {
		b.WriteString("  " + preview(sink.head, sink.n))
	}
}

// preview shows the first bytes of a body, printable ASCII only: runs of
// white space become one space, other bytes '.'; "..." marks a cut.
func preview(head []byte, total int64) string {
	out := make([]byte, 0, previewLen+3)
	space := false
	i := 0
	for ; i < len(head) && len(out) < previewLen; i++ {
		c := head[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			if !space && len(out) > 0 {
				out = append(out, ' ')
			}
			space = true
			continue
		case c < 0x20 || c > 0x7e:
			c = '.'
		}
		space = false
		out = append(out, c)
	}
	out = bytes.TrimRight(out, " ")
	if len(out) == 0 {
		return "(white space)"
	}
	if len(bytes.TrimLeft(head[i:], " \t\r\n")) > 0 || int64(len(head)) < total {
		out = append(out, "..."...)
	}
	return string(out)
}

// safeText keeps printable text as it is and turns control bytes and invalid
// UTF-8 into '.', so that no payload can drive the terminal.
func safeText(s string) string {
	ok := true
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n <= 1) || !unicode.IsPrint(r) {
			b.WriteByte('.')
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func devNote(d batch.Deviation) string {
	if d == 0 {
		return ""
	}
	return "  [tolerated: " + d.String() + "]"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func summary(st stats) string {
	var b strings.Builder
	b.WriteString(plural(st.ops, "operation", "operations"))
	b.WriteString(" (" + plural(st.requests, "request", "requests") + ", " + plural(st.responses, "response", "responses") + ")")
	if st.changesets == 0 {
		b.WriteString(", no changeset")
	} else {
		b.WriteString(" in " + plural(st.changesets, "changeset", "changesets"))
	}
	if st.others > 0 {
		b.WriteString(", " + plural(st.others, "other part", "other parts"))
	}
	b.WriteString(", " + plural(st.ops+st.changesets+st.others, "part", "parts"))
	if st.dev != 0 {
		b.WriteString("; tolerated: " + st.dev.String())
	}
	return b.String()
}
