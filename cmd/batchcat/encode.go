package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/batchcodec/batch"
)

// encode runs -encode: JSON objects in the -json -body form in, a batch body
// out, one operation at a time.
func encode(cfg *config, in io.Reader, stdout io.Writer) error {
	opts, err := encodeOptions(cfg)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(stdout)
	e, err := batch.NewEncoder(w, opts...)
	if err != nil {
		return usageErr("%v", err)
	}
	if cfg.ctOut != "" {
		if err := os.WriteFile(cfg.ctOut, []byte(e.ContentType()+"\n"), 0o666); err != nil {
			return ioErr(fmt.Errorf("-ct-out: %w", err))
		}
	}
	dec := json.NewDecoder(bufio.NewReader(in))
	// A changeset's operations are held until it ends, so that its
	// boundary can be chosen knowing every body in it.
	type held struct {
		op   *batch.Operation
		body []byte
	}
	cs := "" // the open changeset's boundary as given in the input
	var group []held
	endChangeset := func() error {
		if cs == "" {
			return nil
		}
		bodies := make([][]byte, len(group))
		for i, h := range group {
			bodies[i] = h.body
		}
		if err := e.BeginChangesetWith(changesetBoundary(cs, e.Boundary(), bodies), nil); err != nil {
			return encodeErr(err)
		}
		for _, h := range group {
			if err := writeOp(e, h.op, h.body); err != nil {
				return err
			}
		}
		group = group[:0]
		if err := e.EndChangeset(); err != nil {
			return encodeErr(err)
		}
		return nil
	}
	for n := 1; ; n++ {
		var jo jsonOp
		err := dec.Decode(&jo)
		if err == io.EOF {
			break
		}
		if err != nil {
			var se *json.SyntaxError
			var te *json.UnmarshalTypeError
			if errors.As(err, &se) || errors.As(err, &te) || errors.Is(err, io.ErrUnexpectedEOF) {
				return invalidErr(fmt.Errorf("operation %d: not -json output: %v", n, err))
			}
			return ioErr(err)
		}
		op, body, err := jo.operation(!cfg.keepCL)
		if err != nil {
			return invalidErr(fmt.Errorf("operation %d (index %d): %v", n, jo.Index, err))
		}
		if jo.Changeset != cs {
			if err := endChangeset(); err != nil {
				return err
			}
			if jo.Changeset != "" && e.Dialect() == batch.UCWA {
				return invalidErr(fmt.Errorf("operation %d (index %d): in changeset %q, but UCWA batches have no changesets", n, jo.Index, jo.Changeset))
			}
			cs = jo.Changeset
		}
		if cs != "" {
			group = append(group, held{op, body})
			continue
		}
		if err := writeOp(e, op, body); err != nil {
			return err
		}
	}
	if err := endChangeset(); err != nil {
		return err
	}
	if err := e.Close(); err != nil {
		return encodeErr(err)
	}
	if err := w.Flush(); err != nil {
		return outputErr(err)
	}
	return nil
}

// encodeOptions returns the multipart encoder's options that -dialect and
// -boundary select, for -encode and -to multipart.
func encodeOptions(cfg *config) ([]batch.EncodeOption, error) {
	var dialect batch.Dialect
	switch strings.ToLower(cfg.dialect) {
	case "odata", "odata-v4", "odatav4", "odata4":
		dialect = batch.ODataV4
	case "sharepoint", "odata-v3", "odatav3":
		dialect = batch.SharePoint
	case "ucwa":
		dialect = batch.UCWA
	default:
		return nil, badFlags("-dialect %q: want odata, sharepoint or ucwa", cfg.dialect)
	}
	opts := []batch.EncodeOption{batch.WithDialect(dialect)}
	if cfg.boundary != "" {
		if !batch.ValidBoundary(cfg.boundary) {
			return nil, badFlags("-boundary %q: not a boundary RFC 2046 allows (1 to 70 of its characters, not ending in a space)", cfg.boundary)
		}
		opts = append(opts, batch.WithBoundary(cfg.boundary))
	}
	return opts, nil
}

// encodeErr sorts the encoder's errors: the input's fault (status 1) or the
// output's (status 2).
func encodeErr(err error) error {
	var ee *batch.EncodeError
	if errors.As(err, &ee) {
		return invalidErr(err)
	}
	return outputErr(err)
}

// changesetBoundary keeps the input's changeset boundary when the encoder
// can write it, and lets it choose a random one ("") otherwise: a boundary
// outside RFC 2046, one that is a prefix of the batch boundary or has it as
// a prefix, or one that starts a line of one of the changeset's bodies
// (the encoder refuses such a body, as readers would take the line for a
// delimiter).
func changesetBoundary(cs, batchBoundary string, bodies [][]byte) string {
	if !batch.ValidBoundary(cs) || strings.HasPrefix(cs, batchBoundary) || strings.HasPrefix(batchBoundary, cs) {
		return ""
	}
	dash := []byte("--" + cs)
	for _, body := range bodies {
		for _, line := range bytes.FieldsFunc(body, func(r rune) bool { return r == '\r' || r == '\n' }) {
			if bytes.HasPrefix(line, dash) {
				return ""
			}
		}
	}
	return cs
}

// writeOp writes one operation and its body.
func writeOp(e *batch.Encoder, op *batch.Operation, body []byte) error {
	bw, err := e.CreateOperation(op)
	if err != nil {
		return encodeErr(err)
	}
	if _, err := bw.Write(body); err != nil {
		return encodeErr(err)
	}
	return nil
}

// operation turns jo into what the encoder writes. Headers go in name order,
// case folded (the -json form does not keep their order across names); values of
// one name keep theirs. With fixLength, Content-Length headers are set to
// the body's length.
func (jo *jsonOp) operation(fixLength bool) (*batch.Operation, []byte, error) {
	op := &batch.Operation{ContentID: jo.ContentID}
	switch jo.Kind {
	case "request":
		op.Message = batch.Request
	case "response":
		op.Message = batch.Response
	case "":
		op.Message = batch.Request
		if jo.Status != 0 {
			op.Message = batch.Response
		}
	default:
		return nil, nil, fmt.Errorf("kind %q: want request or response", jo.Kind)
	}
	if op.Message == batch.Request {
		op.Method, op.Target = jo.Method, jo.Target
	} else {
		op.StatusCode = jo.Status
	}
	names := make([]string, 0, len(jo.Headers))
	for k := range jo.Headers {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := strings.ToLower(names[i]), strings.ToLower(names[j])
		if a != b {
			return a < b
		}
		return names[i] < names[j]
	})
	for _, k := range names {
		for _, v := range jo.Headers[k] {
			op.Header = append(op.Header, batch.Field{Name: k, Value: v})
		}
	}
	var body []byte
	switch {
	case jo.Body != nil && jo.BodyBase64 != nil:
		return nil, nil, errors.New("both body and body_base64")
	case jo.Body != nil:
		body = []byte(*jo.Body)
	case jo.BodyBase64 != nil:
		b, err := base64.StdEncoding.DecodeString(*jo.BodyBase64)
		if err != nil {
			return nil, nil, fmt.Errorf("body_base64: %v", err)
		}
		body = b
	case jo.BodyLen > 0:
		return nil, nil, fmt.Errorf("body_len is %d but there is no body: produce the input with -json -body", jo.BodyLen)
	}
	if fixLength {
		n := strconv.Itoa(len(body))
		for i := range op.Header {
			if strings.EqualFold(op.Header[i].Name, "Content-Length") {
				op.Header[i].Value = n
			}
		}
	}
	return op, body, nil
}
