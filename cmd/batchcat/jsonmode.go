package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/batchcodec/batch"
	"github.com/batchcodec/batch/jsonbatch"
)

// This file reads JSON batches (OData 4.01 JSON format, Microsoft Graph
// JSON batching) and converts between the two formats (-to).

// jsonLimits raises the JSON decoder's limits for inspection, as decode
// raises the multipart decoder's: memory stays bounded by one item.
var jsonLimits = []jsonbatch.DecodeOption{
	jsonbatch.MaxItems(1 << 20),
	jsonbatch.MaxHeaderBytes(8 << 20),
}

// decodeJSON runs the tree, -validate and -to multipart modes on a JSON
// batch.
func decodeJSON(cfg *config, src *source, stdout io.Writer) error {
	switch {
	case cfg.json:
		return badFlags("-json prints a multipart batch as JSON lines; the input is a JSON batch already (use -to multipart to convert it)")
	case cfg.strict:
		return badFlags("-strict applies to multipart batches; a JSON batch is always read strictly")
	case cfg.to == "json":
		return badFlags("-to json: the input is a JSON batch already")
	}
	d := jsonbatch.NewDecoder(src.r, jsonLimits...)
	w := bufio.NewWriter(stdout)
	var err error
	switch {
	case cfg.to == "multipart":
		err = jsonToMultipart(cfg, d, w)
	case cfg.validate:
		for err == nil {
			_, err = d.Next()
		}
		if err == io.EOF {
			err = nil
		}
	default:
		err = treeJSON(w, src, d)
	}
	if ferr := w.Flush(); ferr != nil && err == nil {
		return outputErr(ferr)
	}
	return inputErr(src, err)
}

// treeJSON prints a JSON batch as decode prints a multipart one.
func treeJSON(w *bufio.Writer, src *source, d *jsonbatch.Decoder) error {
	var st stats
	groups := map[string]bool{}
	sink := newBodySink(false)
	for {
		it, err := d.Next()
		if st.ops == 0 && (err == nil || err == io.EOF) {
			// The heading once the document is known to be a batch.
			if src.startLine != "" {
				fmt.Fprintf(w, "http  %s\n", safeText(src.startLine))
			}
			if src.sniffed {
				fmt.Fprintln(w, "json batch  (from the first byte, \"{\")")
			} else {
				fmt.Fprintf(w, "json batch %s\n", safeText(src.contentType))
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		sink.reset()
		if _, err := io.Copy(sink, it); err != nil {
			return err
		}
		var b strings.Builder
		depth := 0
		if g := it.AtomicityGroup(); len(g) > 0 {
			depth = 1
			if !groups[string(g)] {
				groups[string(g)] = true
				st.changesets++
				fmt.Fprintf(w, "%sgroup %s\n", indent(0), safeText(string(g)))
			}
		}
		b.WriteString(indent(depth) + "#" + strconv.Itoa(st.ops))
		b.WriteString(" id=" + safeText(string(it.ID())))
		if it.Message() == batch.Response {
			b.WriteString(" " + strconv.Itoa(it.Status()))
			st.responses++
		} else {
			b.WriteString(" " + safeText(string(it.Method())) + " " + safeText(string(it.URL())))
			st.requests++
		}
		if deps := it.DependsOn(); len(deps) > 0 {
			names := make([]string, len(deps))
			for i, dep := range deps {
				names[i] = safeText(string(dep))
			}
			b.WriteString("  dependsOn=" + strings.Join(names, ","))
		}
		if ct := it.Header().Get("Content-Type"); len(ct) > 0 {
			b.WriteString("  " + safeText(string(ct)))
		}
		if it.BodyKind() != jsonbatch.NoBody {
			b.WriteString("  " + it.BodyKind().String())
		}
		writeBodyInfo(&b, sink)
		fmt.Fprintln(w, b.String())
		st.ops++
		if err := w.Flush(); err != nil {
			return outputErr(err)
		}
	}
	s := summary(st)
	s = strings.Replace(s, "changeset", "atomicity group", -1)
	fmt.Fprintln(w, s)
	return nil
}

// jsonToMultipart runs -to multipart: a JSON batch in, a multipart batch
// out (atomicity groups become changesets, ids Content-IDs).
func jsonToMultipart(cfg *config, d *jsonbatch.Decoder, w io.Writer) error {
	opts, err := encodeOptions(cfg)
	if err != nil {
		return err
	}
	e, err := batch.NewEncoder(w, opts...)
	if err != nil {
		return usageErr("%v", err)
	}
	if err := writeContentType(cfg, e.ContentType()); err != nil {
		return err
	}
	if err := jsonbatch.ToMultipart(e, d); err != nil {
		return err
	}
	return e.Close()
}

// multipartToJSON runs -to json: a multipart batch in, a JSON batch out
// (changesets become atomicity groups, Content-IDs ids, generated where
// there is none).
func multipartToJSON(cfg *config, d *batch.Decoder, stdout io.Writer) error {
	var opts []jsonbatch.EncodeOption
	switch strings.ToLower(cfg.dialect) {
	case "", "odata":
	case "graph":
		opts = append(opts, jsonbatch.WithDialect(jsonbatch.Graph))
	default:
		return badFlags("-dialect %q: with -to json, want odata or graph", cfg.dialect)
	}
	if err := writeContentType(cfg, "application/json"); err != nil {
		return err
	}
	w := bufio.NewWriter(stdout)
	// The kind of batch, requests or responses, is the first operation's.
	e, err := jsonbatch.NewEncoder(w, 0, opts...)
	if err != nil {
		return usageErr("%v", err)
	}
	err = jsonbatch.FromMultipart(e, d)
	if err == nil {
		err = e.Close()
	}
	if ferr := w.Flush(); ferr != nil && err == nil {
		return outputErr(ferr)
	}
	return err
}

// writeContentType writes the converted batch's Content-Type to -ct-out.
func writeContentType(cfg *config, ct string) error {
	if cfg.ctOut == "" {
		return nil
	}
	if err := os.WriteFile(cfg.ctOut, []byte(ct+"\n"), 0o666); err != nil {
		return ioErr(fmt.Errorf("-ct-out: %w", err))
	}
	return nil
}

// inputErr gives a conversion's or a JSON batch's error its exit status: bad input is exit 1,
// with offsets in the input.
func inputErr(src *source, err error) error {
	if err == nil {
		return nil
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee
	}
	var se *batch.SyntaxError
	var ce *jsonbatch.ConvertError
	var encErr *batch.EncodeError
	if errors.As(err, &se) || errors.As(err, &ce) || errors.As(err, &encErr) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &exitError{code: exitInvalid, err: src.explain(err)}
	}
	return &exitError{code: exitUsage, err: err}
}
