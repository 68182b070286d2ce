package batch

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Benchmarks come in pairs, impl=batch and impl=stdlib, over the same bytes
// and the same operations, so that benchstat puts them side by side:
//
//	go test -run='^$' -bench=. -count=5 . | tee /tmp/bench.txt
//	benchstat -col /impl /tmp/bench.txt
//
// The stdlib side is the composition a Go user writes by hand:
// mime/multipart.Reader, mime.ParseMediaType on each part's Content-Type,
// http.ReadRequest or http.ReadResponse over a bufio.Reader, and a new
// multipart.Reader for each changeset; every body is read to its end. The
// encoder's twin is mime/multipart.Writer with (*http.Request).Write or
// (*http.Response).Write into each part. See BENCHMARKS.md.

// benchItem is one step of a workload: a changeset's start or end, or an
// operation with its body.
type benchItem struct {
	begin, end bool
	cs         string // changeset boundary, on begin
	op         *Operation
	body       []byte

	// For the stdlib encoder, built once: what a caller holds already.
	mimeHdr textproto.MIMEHeader
	httpHdr http.Header
}

// workload is a batch to decode and encode: its operations, and their
// encoding (built once, outside the timed loop).
type workload struct {
	name        string
	dialect     Dialect
	boundary    string
	lf          bool // the encoded batch is rewritten with bare LF line breaks
	resp        bool // the embedded messages are responses
	items       []benchItem
	data        []byte
	contentType string
	ops         int
	bodyBytes   int64
}

// jsonBody returns an n-byte JSON object of short lines ending in nl.
func jsonBody(n int, nl string, seed int) []byte {
	b := make([]byte, 0, n)
	b = append(b, '{')
	b = append(b, nl...)
	for i := 0; ; i++ {
		line := fmt.Sprintf(`  "field%04d": "lorem ipsum dolor sit amet %d",`, i, seed+i) + nl
		if len(b)+len(line)+1 > n {
			break
		}
		b = append(b, line...)
	}
	for len(b) < n-1 {
		b = append(b, ' ')
	}
	return append(b, '}')[:n]
}

func benchOp(resp bool, i int, body []byte) *Operation {
	h := []Field{
		{Name: "Content-Type", Value: "application/json; odata.metadata=minimal"},
		{Name: "OData-Version", Value: "4.0"},
		{Name: "Content-Length", Value: strconv.Itoa(len(body))},
	}
	if resp {
		return &Operation{Message: Response, StatusCode: 200, Reason: "OK", Header: h}
	}
	return &Operation{Message: Request, Method: "POST", Target: "/api/v2.0/me/messages/" + strconv.Itoa(i),
		ContentID: strconv.Itoa(i + 1), Header: h}
}

// build encodes the workload's items into data, and prepares the stdlib
// encoder's headers.
func (w *workload) build() {
	for i := range w.items {
		it := &w.items[i]
		if it.begin || it.end {
			continue
		}
		w.ops++
		w.bodyBytes += int64(len(it.body))
		it.mimeHdr = textproto.MIMEHeader{"Content-Type": {"application/http"}, "Content-Transfer-Encoding": {"binary"}}
		if w.dialect == UCWA {
			it.mimeHdr = textproto.MIMEHeader{"Content-Type": {"application/http; msgtype=" + it.op.Message.String()}}
		}
		if it.op.ContentID != "" {
			it.mimeHdr.Set("Content-ID", it.op.ContentID)
		}
		it.httpHdr = make(http.Header)
		for _, f := range it.op.Header {
			it.httpHdr.Add(f.Name, f.Value)
		}
	}
	var buf bytes.Buffer
	if err := encodeBatch(w, &buf); err != nil {
		panic(err)
	}
	w.data, w.contentType = buf.Bytes(), FormatContentType("multipart/mixed", w.boundary)
	if w.dialect == UCWA {
		w.contentType = FormatContentType("multipart/batching", w.boundary)
	}
	if w.lf {
		w.data = bytes.ReplaceAll(w.data, []byte("\r\n"), []byte("\n"))
	}
}

var (
	workloadsOnce sync.Once
	workloads     []*workload
)

// benchWorkloads returns the workloads of the issue, built once for all
// benchmarks.
func benchWorkloads() []*workload {
	workloadsOnce.Do(func() { workloads = newWorkloads(true) })
	return workloads
}

// newWorkloads builds the workloads of the issue; the 64 MiB one only with
// big. Tests build their own, so that no test keeps 128 MiB alive in a
// package variable beside heap-measuring tests.
func newWorkloads(big bool) []*workload {
	ops := func(name string, n, size int, resp bool, nl string) *workload {
		w := &workload{name: name, boundary: "batch_36522ad7-fc75-4b56-8c71-56071383e77b", resp: resp}
		for i := range n {
			body := jsonBody(size, nl, i)
			w.items = append(w.items, benchItem{op: benchOp(resp, i, body), body: body})
		}
		return w
	}
	// Outlook's maximum: 20 operations, 2 KiB of JSON each.
	w20 := ops("20x2KiB", 20, 2<<10, true, "\r\n")
	w1000 := ops("1000x200B", 1000, 200, true, "\r\n")

	wcs := &workload{name: "changesets=100x10", boundary: "batch_36522ad7-fc75-4b56-8c71-56071383e77b"}
	for c := range 100 {
		wcs.items = append(wcs.items, benchItem{begin: true, cs: "changeset_77162fcd-b8da-41ac-a9f8-" + fmt.Sprintf("%012d", c)})
		for i := range 10 {
			body := jsonBody(200, "\r\n", c*10+i)
			wcs.items = append(wcs.items, benchItem{op: benchOp(false, i, body), body: body})
		}
		wcs.items = append(wcs.items, benchItem{end: true})
	}

	// Real answers vary where the workloads above repeat themselves (the
	// decoder keeps the last embedded header block and takes the lines the
	// next one repeats from it): statuses, ETags, Locations and lengths
	// change from one operation to the next.
	wvar := &workload{name: "varied=1000x200B", boundary: "batch_36522ad7-fc75-4b56-8c71-56071383e77b", resp: true}
	for i := range 1000 {
		body := jsonBody(100+(i*37)%200, "\r\n", i)
		op := benchOp(true, i, body)
		switch i % 3 {
		case 1:
			op.StatusCode, op.Reason = 201, "Created"
			op.Header = append(op.Header, Field{Name: "Location", Value: "https://example.com/api/v2.0/me/messages/" + strconv.Itoa(i)})
		case 2:
			op.Header = append(op.Header[:2:2], Field{Name: "ETag", Value: `W/"` + strconv.Itoa(i*7919) + `"`}, op.Header[2])
		}
		wvar.items = append(wvar.items, benchItem{op: op, body: body})
	}

	wlf := ops("lf=100x1KiB", 100, 1<<10, true, "\n")
	wlf.lf = true

	wucwa := ops("ucwa=50x1KiB", 50, 1<<10, true, "\r\n")
	wucwa.dialect = UCWA
	wucwa.boundary = "77f2569d-c005-442b-b856-782305305e5b"

	all := []*workload{w20, w1000, wvar, wcs, wlf, wucwa}
	if big {
		body := jsonBody(64<<20, "\r\n", 0)
		all = append(all, &workload{name: "body=64MiB", boundary: "batch_36522ad7-fc75-4b56-8c71-56071383e77b",
			items: []benchItem{{op: benchOp(false, 0, body), body: body}}})
	}
	for _, w := range all {
		w.build()
	}
	return all
}

// decodeBatch decodes a whole batch with d, reading every body through
// Part.WriteTo, and returns the operations and body bytes seen.
func decodeBatch(d *Decoder) (ops int, n int64, err error) {
	for {
		p, err := d.Next()
		if err == io.EOF {
			return ops, n, nil
		}
		if err != nil {
			return ops, n, err
		}
		if p.Kind() == KindOperation {
			ops++
		}
		m, err := io.Copy(io.Discard, p)
		n += m
		if err != nil {
			return ops, n, err
		}
	}
}

// stdlibDecode is the decoder a Go user writes by hand with the standard
// library: mime/multipart, recursing into changesets, and net/http for each
// embedded message, every body read to its end.
func stdlibDecode(r io.Reader, boundary string, resp bool) (ops int, n int64, err error) {
	mr := multipart.NewReader(r, boundary)
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return ops, n, nil
		}
		if err != nil {
			return ops, n, err
		}
		mt, params, err := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if err != nil {
			return ops, n, err
		}
		switch {
		case strings.HasPrefix(mt, "multipart/"):
			o, m, err := stdlibDecode(p, params["boundary"], resp)
			ops, n = ops+o, n+m
			if err != nil {
				return ops, n, err
			}
		case mt == "application/http":
			ops++
			br := bufio.NewReader(p)
			var body io.ReadCloser
			if resp {
				res, err := http.ReadResponse(br, nil)
				if err != nil {
					return ops, n, err
				}
				body = res.Body
			} else {
				req, err := http.ReadRequest(br)
				if err != nil {
					return ops, n, err
				}
				body = req.Body
			}
			m, err := io.Copy(io.Discard, body)
			n += m
			body.Close()
			if err != nil {
				return ops, n, err
			}
			// A body without Content-Length runs to the part's end.
			m, err = io.Copy(io.Discard, br)
			n += m
			if err != nil {
				return ops, n, err
			}
		default:
			m, err := io.Copy(io.Discard, p)
			n += m
			if err != nil {
				return ops, n, err
			}
		}
	}
}

// BenchmarkDecode decodes each workload with a reused Decoder (impl=batch),
// with the standard library composition (impl=stdlib), and measures the
// physical limit of finding the same delimiters (impl=limit, limitScan).
func BenchmarkDecode(b *testing.B) {
	for _, w := range benchWorkloads() {
		b.Run("load="+w.name+"/impl=batch", func(b *testing.B) {
			r := bytes.NewReader(w.data)
			d, err := NewDecoderBoundary(r, w.boundary)
			if err != nil {
				b.Fatal(err)
			}
			if ops, n, err := decodeBatch(d); err != nil || ops != w.ops || n != w.bodyBytes {
				b.Fatalf("decoded %d operations, %d body bytes, error %v; want %d, %d", ops, n, err, w.ops, w.bodyBytes)
			}
			b.SetBytes(int64(len(w.data)))
			b.ReportAllocs()
			for b.Loop() {
				r.Reset(w.data)
				if err := d.Reset(r, w.boundary); err != nil {
					b.Fatal(err)
				}
				if _, _, err := decodeBatch(d); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("load="+w.name+"/impl=limit", func(b *testing.B) {
			l := newLimitScan(w)
			if got, want := l.scan(w.data), w.wantDelims(); got != want {
				b.Fatalf("found %d delimiters, want %d", got, want)
			}
			b.SetBytes(int64(len(w.data)))
			b.ReportAllocs()
			for b.Loop() {
				l.scan(w.data)
			}
		})
		b.Run("load="+w.name+"/impl=stdlib", func(b *testing.B) {
			r := bytes.NewReader(w.data)
			if ops, n, err := stdlibDecode(r, w.boundary, w.resp); err != nil || ops != w.ops || n != w.bodyBytes {
				b.Fatalf("decoded %d operations, %d body bytes, error %v; want %d, %d", ops, n, err, w.ops, w.bodyBytes)
			}
			b.SetBytes(int64(len(w.data)))
			b.ReportAllocs()
			for b.Loop() {
				r.Reset(w.data)
				if _, _, err := stdlibDecode(r, w.boundary, w.resp); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// limitScan is the physical limit of a delimiter-framed format, the third
// column of BenchmarkDecode: bytes.Index finds every "--boundary" of the
// batch and, inside each changeset's region, every "--boundary" of that
// changeset (whose boundary it is told, not parsed), and each region's bytes
// are moved once into a buffer, as reading a body must move them. It parses
// no header and checks no line break, so no decoder can beat it.
type limitScan struct {
	outer []byte   // "--" + the batch boundary
	top   [][]byte // per top-level part: "--" + its changeset boundary, or nil
	dst   []byte
	pos   []int // offsets of the batch's delimiters
}

func newLimitScan(w *workload) *limitScan {
	l := &limitScan{outer: []byte("--" + w.boundary), dst: make([]byte, DefaultBufferSize), pos: make([]int, 0, w.wantDelims())}
	inCS := false
	for _, it := range w.items {
		switch {
		case it.begin:
			l.top = append(l.top, []byte("--"+it.cs))
			inCS = true
		case it.end:
			inCS = false
		case !inCS:
			l.top = append(l.top, nil)
		}
	}
	return l
}

// scan returns the number of delimiters found in data. It works through
// data one buffer at a time, as a streaming decoder must: each chunk is
// searched for the batch's delimiters while it is in cache, then moved into
// dst; then each changeset's region is searched for its own delimiters.
func (l *limitScan) scan(data []byte) (delims int) {
	l.pos = l.pos[:0]
	chunk := len(l.dst)
	for off := 0; off < len(data); off += chunk {
		stop := min(off+chunk, len(data))
		end := min(stop+len(l.outer)-1, len(data))
		for from := off; from < stop; {
			i := bytes.Index(data[from:end], l.outer)
			if i < 0 {
				break
			}
			l.pos = append(l.pos, from+i)
			from += i + len(l.outer)
		}
		copy(l.dst, data[off:stop])
	}
	delims = len(l.pos)
	for region := 1; region < len(l.pos); region++ {
		inner := l.top[region-1]
		if inner == nil {
			continue
		}
		for rest := data[l.pos[region-1]+len(l.outer) : l.pos[region]]; ; {
			j := bytes.Index(rest, inner)
			if j < 0 {
				break
			}
			delims++
			rest = rest[j+len(inner):]
		}
	}
	return delims
}

// wantDelims is the number of delimiter lines of the workload: one per part
// and one close delimiter per multipart level.
func (w *workload) wantDelims() int {
	n := 1 // the batch's close delimiter
	for _, it := range w.items {
		if it.end {
			n++ // the changeset's close delimiter
		} else {
			n++
		}
	}
	return n
}

// BenchmarkDecodeStream streams one batch of b.N operations of 1 KiB,
// generated on the fly (newGenReader), through each decoder: the cost per
// operation with no batch set-up at all.
func BenchmarkDecodeStream(b *testing.B) {
	const bodySize = 1 << 10
	g := newGenReader(1, bodySize)
	perOp := int64(len(g.head) + len(g.body) + len(g.tail))
	b.Run("load=stream1KiB/impl=batch", func(b *testing.B) {
		b.SetBytes(perOp)
		b.ReportAllocs()
		d, err := NewDecoderBoundary(newGenReader(b.N, bodySize), "batch_gen", MaxParts(b.N+1))
		if err != nil {
			b.Fatal(err)
		}
		if ops, _, err := decodeBatch(d); err != nil || ops != b.N {
			b.Fatalf("decoded %d operations of %d: %v", ops, b.N, err)
		}
	})
	b.Run("load=stream1KiB/impl=stdlib", func(b *testing.B) {
		b.SetBytes(perOp)
		b.ReportAllocs()
		if ops, _, err := stdlibDecode(newGenReader(b.N, bodySize), "batch_gen", false); err != nil || ops != b.N {
			b.Fatalf("decoded %d operations of %d: %v", ops, b.N, err)
		}
	})
}

// encodeBatch writes the workload with a new Encoder (it has no Reset).
func encodeBatch(w *workload, out io.Writer) error {
	e, err := NewEncoder(out, WithBoundary(w.boundary), WithDialect(w.dialect))
	if err != nil {
		return err
	}
	for i := range w.items {
		it := &w.items[i]
		switch {
		case it.begin:
			err = e.BeginChangesetWith(it.cs, nil)
		case it.end:
			err = e.EndChangeset()
		default:
			var bw io.Writer
			if bw, err = e.CreateOperation(it.op); err == nil {
				_, err = bw.Write(it.body)
			}
		}
		if err != nil {
			return err
		}
	}
	return e.Close()
}

// stdlibEncode writes the workload as a Go user would with the standard
// library: a multipart.Writer, a nested one for each changeset, and
// (*http.Request).Write or (*http.Response).Write into each part. The part
// and HTTP headers are built once, outside the loop.
func stdlibEncode(w *workload, out io.Writer) error {
	mw := multipart.NewWriter(out)
	if err := mw.SetBoundary(w.boundary); err != nil {
		return err
	}
	cur := mw
	for i := range w.items {
		it := &w.items[i]
		switch {
		case it.begin:
			pw, err := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"multipart/mixed; boundary=" + it.cs}})
			if err != nil {
				return err
			}
			cur = multipart.NewWriter(pw)
			if err := cur.SetBoundary(it.cs); err != nil {
				return err
			}
		case it.end:
			if err := cur.Close(); err != nil {
				return err
			}
			cur = mw
		default:
			pw, err := cur.CreatePart(it.mimeHdr)
			if err != nil {
				return err
			}
			op := it.op
			if op.Message == Request {
				req, err := http.NewRequest(op.Method, op.Target, bytes.NewReader(it.body))
				if err != nil {
					return err
				}
				req.Header = it.httpHdr
				if err := req.Write(pw); err != nil {
					return err
				}
			} else {
				res := &http.Response{StatusCode: op.StatusCode, Status: strconv.Itoa(op.StatusCode) + " " + op.Reason,
					ProtoMajor: 1, ProtoMinor: 1, Header: it.httpHdr,
					Body: io.NopCloser(bytes.NewReader(it.body)), ContentLength: int64(len(it.body))}
				if err := res.Write(pw); err != nil {
					return err
				}
			}
		}
	}
	return mw.Close()
}

// BenchmarkEncode writes each workload's operations with the Encoder
// (impl=batch) and with the standard library (impl=stdlib), to io.Discard.
// SetBytes is the size of the Encoder's output for both.
func BenchmarkEncode(b *testing.B) {
	for _, w := range benchWorkloads() {
		if w.lf || w.dialect == UCWA {
			continue // the same encoder work as 20x2KiB and 1000x200B
		}
		for _, impl := range []struct {
			name string
			fn   func(*workload, io.Writer) error
		}{{"batch", encodeBatch}, {"stdlib", stdlibEncode}} {
			b.Run("load="+w.name+"/impl="+impl.name, func(b *testing.B) {
				var check bytes.Buffer
				if err := impl.fn(w, &check); err != nil {
					b.Fatal(err)
				}
				if ops, n, err := stdlibDecode(&check, w.boundary, w.resp); err != nil || ops != w.ops || n != w.bodyBytes {
					b.Fatalf("output decodes to %d operations, %d body bytes, error %v; want %d, %d", ops, n, err, w.ops, w.bodyBytes)
				}
				b.SetBytes(int64(len(w.data)))
				b.ReportAllocs()
				for b.Loop() {
					if err := impl.fn(w, io.Discard); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
