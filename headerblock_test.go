package batch

import (
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

// TestKnownName checks knownName against the general path it shortcuts: an
// IndexByte for the colon and headerKey on the name.
func TestKnownName(t *testing.T) {
	for _, line := range []string{
		"Content-Type: a", "content-type:", "CONTENT-TYPE:x", "Content-Type : a", "Content-Typo: a",
		"Content-ID: 1", "content-id:", "Content-ID", "Content-IDs: 1", "Content\rID: 1",
		"Content-Length: 2", "content-length:", "Content-Lengthy: 2",
		"Content-Transfer-Encoding: binary", "content-transfer-encoding:", "Content-Transfer-Encodings: b",
		"Content-Transfer\rEncoding: b", "Content-Type\x0f: a", "Content-", "OData-Version: 4.0", "X: y",
		"Content\rType: a", "Content-Typ\x05: a", "Content-Lengt\x08: 2", "Content-Length\x1a 2", "Content-Type\x1a a",
	} {
		colon, key := knownName([]byte(line))
		if colon < 0 {
			continue
		}
		want := strings.IndexByte(line, ':')
		if colon != want || key != headerKey([]byte(line[:want])) {
			t.Errorf("knownName(%q) = %d, %d; want %d, %d", line, colon, key, want, headerKey([]byte(line[:want])))
		}
	}
	for _, line := range []string{"Content-Type: a", "content-type:x", "Content-Length: 2", "CONTENT-LENGTH:"} {
		if colon, _ := knownName([]byte(line)); colon < 0 {
			t.Errorf("knownName(%q) = -1, want the colon", line)
		}
	}
}

// TestScanHeaders checks the fast path against readHeaderLines on the same
// bytes: wherever scanHeaders takes a block, it must build the same fields,
// keys and meta, consume the same bytes and record the same deviations, and
// readHeaderLines must see no deviation but a bare LF and no error there.
// Strict, it must leave every block with a bare LF. The usual blocks must be
// taken, or the fast path is silently lost.
func TestScanHeaders(t *testing.T) {
	for _, tc := range []struct {
		block string
		fast  bool // scanHeaders must take it (unless strict, if it has a bare LF)
		usual bool // usualPartHeaders must take it
	}{
		{"Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n", true, true},
		{"Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 1\r\n\r\n", true, true},
		{"Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\ncontent-id:\t 7 \t\r\n\r\n", true, true},
		{"Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nCONTENT-ID:\r\n\r\n", true, true},
		{"Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 1\r\nX: y\r\n\r\n", true, false},
		{"Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: a\rb\r\n\r\n", false, false},
		{"Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID : 1\r\n\r\n", false, false},
		{"Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-IDs: 1\r\n\r\n", true, false},
		{"Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 1\n\r\n", true, false},
		{"Content-Type: application/http\nContent-Transfer-Encoding: binary\nContent-ID: 1\n\n", true, false},
		{"Content-Type: application/http\nContent-Transfer-Encoding: binary\n\n", true, true},
		{"Content-Type: application/http\nContent-Transfer-Encoding: binary\n\r\n", true, false},
		{"Content-Type: application/http\nContent-Transfer-Encoding: binarx\n\n", true, false},
		{"Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\n", true, false},
		{"\n", true, false},
		{"X: a\rb\n\n", false, false},
		{"X: a\r\r\n\n", false, false},
		{"X: a\n\r\n", true, false},
		{"X: a\n folded\n\n", false, false},
		{"--b\n", false, false},
		{"Content-Length: 3\ncontent-length: 3\n\n", true, false},
		{"Content-ID: 1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n", true, false},
		{"Content-Type: application/json; odata.metadata=minimal\r\nOData-Version: 4.0\r\nContent-Length: 200\r\n\r\n", true, false},
		{"content-type:application/http\r\ncontent-length: 2 \r\nContent-Length:2\r\n\r\n", true, false},
		{"\r\n", true, false},
		{"X: \r\n\r\n", true, false},
		{"Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nX: a\rb\r\n\r\n", false, false},
		{"Content-Type: application/http\r\nX: a\r\r\n\r\n", false, false},
		{"Content-Type: application/http\nX: a\r\n\r\n", true, false},
		{"Content-Type : application/http\r\n\r\n", false, false},
		{"X: a\r\n folded\r\n\r\n", false, false},
		{"--b\r\n", false, false},
		{"no colon\r\n\r\n", false, false},
		{": empty name\r\n\r\n", false, false},
		{"Content-Type: application/http\r\n", false, false}, // no blank line in the buffer
		{"Content-Type: application/httpx\r\nContent-Transfer-Encoding: binary2\r\n\r\n", true, false},
		{"Content-Transfer-Encoding: binary\r\n\r\n", true, false},
	} {
		input := tc.block + "body\r\n--b--\r\n"
		if tc.block == "Content-Type: application/http\r\n" {
			input = tc.block
		}
		for _, strict := range []bool{false, true} {
			refused := strict && hasBareLF(tc.block)
			testScanHeaders(t, tc.block, input, tc.fast && !refused, tc.usual && !refused, Strict(strict))
		}
	}
}

// hasBareLF reports whether s has an LF without a CR before it.
func hasBareLF(s string) bool {
	return strings.Count(s, "\n") > strings.Count(s, "\r\n")
}

// testScanHeaders runs scanHeaders, usualPartHeaders and readHeaderLines
// on block, the start of input, with opt, and compares what they read.
// fast and usual say whether scanHeaders and usualPartHeaders must take it.
func testScanHeaders(t *testing.T, block, input string, fast, usual bool, opt DecodeOption) {
	t.Helper()
	load := func() *Decoder { return filledDecoder(t, input, opt) }
	fields := func(d *Decoder) []Field { return blockFields(d, &d.ph) }
	fd, slow, ud := load(), load(), load()
	ok := fd.scanHeaders(&fd.ph, DefaultMaxHeaderBytes, 0)
	if ok != fast {
		t.Errorf("scanHeaders(%q) = %v, want %v", block, ok, fast)
	}
	// usualPartHeaders takes exactly usualBlock, and must then read
	// what scanHeaders reads.
	if got := ud.usualPartHeaders(DefaultMaxHeaderBytes); got != usual {
		t.Errorf("usualPartHeaders(%q) = %v, want %v", block, got, usual)
	} else if got {
		ud.ph.spans = append([]fieldSpan(nil), ud.ph.spans...)
		if diff := cmp.Diff(fields(fd), fields(ud)); diff != "" || ud.rp != fd.rp || ud.ph.first != fd.ph.first || ud.part.dev != fd.part.dev || block == usualBlock && string(ud.meta) != usualBlock || string(fd.meta) != usualBlock+block {
			t.Errorf("usualPartHeaders(%q) differs from scanHeaders (-scanHeaders +usualPartHeaders):\n%s", block, diff)
		}
	}
	if !ok {
		if fd.rp != 0 || len(fd.ph.spans) != 0 || len(fd.meta) != len(usualBlock) || fd.part.dev != 0 {
			t.Errorf("scanHeaders(%q) = false but consumed %d bytes, %d fields, deviations %v", block, fd.rp, len(fd.ph.spans), fd.part.dev)
		}
		return
	}
	ended, err := slow.readHeaderLines(&slow.ph, DefaultMaxHeaderBytes)
	if ended || err != nil || slow.part.dev&^DevBareLF != 0 || fd.part.dev != slow.part.dev {
		t.Errorf("readHeaderLines(%q) = %v, %v, deviations %v where scanHeaders took the block, recording %v", block, ended, err, slow.part.dev, fd.part.dev)
	}
	if diff := cmp.Diff(fields(slow), fields(fd)); diff != "" {
		t.Errorf("scanHeaders(%q) fields mismatch (-readHeaderLines +scanHeaders):\n%s", block, diff)
	}
	if fd.rp != slow.rp || fd.ph.first != slow.ph.first || fd.ph.lengths != slow.ph.lengths {
		t.Errorf("scanHeaders(%q): rp %d, first %v, lengths %d; readHeaderLines: %d, %v, %d",
			block, fd.rp, fd.ph.first, fd.ph.lengths, slow.rp, slow.ph.first, slow.ph.lengths)
	}
}

// TestHeaderMemo checks the memo of the last embedded header block: after
// one block, the next is read with the lines they share taken from the
// memo, and must be taken or left exactly as without the memo, with the
// same fields, keys and consumption as readHeaderLines.
func TestHeaderMemo(t *testing.T) {
	blocks := []string{
		"Content-Type: application/json; odata.metadata=minimal\r\nOData-Version: 4.0\r\nContent-Length: 200\r\n\r\n",
		"Content-Type: application/json; odata.metadata=minimal\r\nOData-Version: 4.0\r\nContent-Length: 20\r\n\r\n",
		"Content-Type: application/json; odata.metadata=minimal\r\nOData-Version: 4.0\r\nContent-Length: 2000\r\n\r\n",
		"Content-Type: application/json; odata.metadata=minimal\r\nOData-Version: 4.0\r\n\r\n",
		"Content-Type: application/json; odata.metadata=minimal\r\nOData-Version: 4.0\r\nContent-ID: 7\r\nContent-Length: 20\r\n\r\n",
		"Content-Type: application/json; odata.metadata=minimal\r\nOData-Version: 4.0\r\nX: a\rb\r\n\r\n",
		"Content-Type: application/json; odata.metadata=minimal\r\nOData-Version: 4.0\nContent-Length: 20\r\n\r\n",
		"Content-Type: application/json; odata.metadata=minimal\r\nOData-Version : 4.0\r\n\r\n",
		"Content-Type: application/json; odata.metadata=minimal\r\n folded\r\n\r\n",
		"Content-Type: application/json\r\nContent-Length: 2 \r\ncontent-length:2\r\n\r\n",
		"Content-Type: application/json\r\n\r\n",
		"X: \r\n\r\n",
		"\r\n",
		// Bare LF line breaks, throughout or in places.
		"Content-Type: application/json; odata.metadata=minimal\nOData-Version: 4.0\nContent-Length: 200\n\n",
		"Content-Type: application/json; odata.metadata=minimal\nOData-Version: 4.0\nContent-Length: 20\n\n",
		"Content-Type: application/json; odata.metadata=minimal\nOData-Version: 4.0\n\n",
		"Content-Type: application/json; odata.metadata=minimal\r\nOData-Version: 4.0\r\nContent-Length: 20\n\r\n",
		"Content-Type: application/json; odata.metadata=minimal\r\nOData-Version: 4.0\r\nContent-Length: 20\r\n\n",
		"Content-Type: application/json; odata.metadata=minimal\nOData-Version: 4.0\nContent-Length: 2000\r\n\r\n",
		"Content-Type: application/json; odata.metadata=minimal\nOData-Version: 4.0\nX: a\rb\n\n",
		"X: \n\n",
		"\n",
	}
	fields := func(d *Decoder) []Field { return blockFields(d, &d.eh) }
	// load returns a decoder with input in its buffer, and the read
	// position at skip, as if skip bytes had been read.
	load := func(input string, skip int) *Decoder {
		d := filledDecoder(t, input)
		d.rp = skip
		return d
	}
	for _, a := range blocks {
		for _, b := range blocks {
			for _, limit := range []int{DefaultMaxHeaderBytes, 100} {
				input := a + b + "body\r\n--b--\r\n"
				memo := load(input, 0)
				if !memo.scanHeaders(&memo.eh, DefaultMaxHeaderBytes, 0) {
					memo.rp = len(a) // a is not taken: no memo
				}
				memo.eh.reset()
				memo.meta = memo.meta[:len(usualBlock)]
				memo.part.dev = 0
				plain, slow := load(input, len(a)), load(input, len(a))
				ok := memo.scanHeaders(&memo.eh, limit, 0)
				if want := plain.scanHeaders(&plain.eh, limit, 0); ok != want {
					t.Errorf("after %q, scanHeaders(%q, %d) = %v with the memo, %v without", a, b, limit, ok, want)
					continue
				}
				if !ok {
					if memo.rp != len(a) || len(memo.eh.spans) != 0 || memo.eh.first != [numKeys]int{} || memo.eh.lengths != 0 {
						t.Errorf("after %q, scanHeaders(%q) = false but changed the block or consumed bytes", a, b)
					}
					continue
				}
				if _, err := slow.readHeaderLines(&slow.eh, limit); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(fields(slow), fields(memo)); diff != "" {
					t.Errorf("after %q, scanHeaders(%q) fields mismatch (-readHeaderLines +memo):\n%s", a, b, diff)
				}
				if memo.rp != slow.rp || memo.eh.first != slow.eh.first || memo.eh.lengths != slow.eh.lengths || memo.part.dev != slow.part.dev {
					t.Errorf("after %q, scanHeaders(%q): rp %d, first %v, lengths %d, deviations %v; readHeaderLines: %d, %v, %d, %v",
						a, b, memo.rp, memo.eh.first, memo.eh.lengths, memo.part.dev, slow.rp, slow.eh.first, slow.eh.lengths, slow.part.dev)
				}
			}
		}
	}
}

// TestHeaderMemoSequence reads runs of embedded blocks with one decoder, so
// that the memo is kept, replaced or left as the blocks go, and checks each
// block against readHeaderLines.
func TestHeaderMemoSequence(t *testing.T) {
	const (
		a  = "Content-Type: application/json\r\nOData-Version: 4.0\r\nContent-Length: 200\r\n\r\n"
		a2 = "Content-Type: application/json\r\nOData-Version: 4.0\r\nContent-Length: 20\r\n\r\n"
		b  = "Accept: application/json\r\nContent-ID: 3\r\n\r\n"
		c  = "content-type: text/plain\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n"
	)
	for _, seq := range [][]string{
		{a, b, a, b, a, b},
		{a, c, c, c, a, a},
		{a, a2, a, a2, a2},
		{a, "\r\n", a, "\r\n", b, b, a},
		{b, a, a2, c, a, a, b, b, b, c},
	} {
		input := strings.Join(seq, "") + "body\r\n--b--\r\n"
		d := filledDecoder(t, input)
		for i, block := range seq {
			slow := filledDecoder(t, input)
			slow.rp = d.rp
			d.eh.reset()
			d.meta = d.meta[:len(usualBlock)]
			require.True(t, d.scanHeaders(&d.eh, DefaultMaxHeaderBytes, 0), "%q: block %d", seq, i)
			_, err := slow.readHeaderLines(&slow.eh, DefaultMaxHeaderBytes)
			require.NoError(t, err)
			require.Equal(t, slow.rp, d.rp, "%q: block %d", seq, i)
			require.Equal(t, slow.eh.first, d.eh.first, "%q: block %d", seq, i)
			require.Equal(t, slow.eh.lengths, d.eh.lengths, "%q: block %d", seq, i)
			require.Equal(t, len(slow.eh.spans), len(d.eh.spans), "%q: block %d", seq, i)
			for j, f := range slow.eh.spans {
				g := d.eh.spans[j]
				require.Equal(t, string(f.name.of(slow.meta)), string(g.name.of(d.bytesOf(&d.eh))), "%q: block %d", seq, i)
				require.Equal(t, string(f.value.of(slow.meta)), string(g.value.of(d.bytesOf(&d.eh))), "%q: block %d", seq, i)
				require.Equal(t, f.offset, d.eh.offsetOf(&g), "%q: block %d %q", seq, i, block)
			}
		}
	}
}

// TestSharedBlocksSurviveReuse decodes batches whose blocks repeat (so that
// their spans are shared with the memo and with usualSpans) with one
// Decoder, Reset between batches and in the middle of one, and compares
// every part with a fresh Decoder's reading of the same bytes: storage
// shared by one part must never become storage another part writes in.
func TestSharedBlocksSurviveReuse(t *testing.T) {
	op := func(status, block, body string) string {
		return "--b\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n" +
			"HTTP/1.1 " + status + "\r\n" + block + "\r\n" + body + "\r\n"
	}
	a := "Content-Type: application/json\r\nOData-Version: 4.0\r\nContent-Length: 2\r\n"
	b := "Content-Type: text/plain\r\nContent-ID: 9\r\nX-Long-Header-Name: " + strings.Repeat("v", 90) + "\r\n"
	c := "ETag: W/\"1\"\r\n"
	batches := []string{
		op("200 OK", a, "{}") + op("200 OK", a, "{}") + op("201 Created", a, "[]") + "--b--\r\n",
		op("200 OK", b, "x") + op("200 OK", b, "y") + op("404 Not Found", c, "") + op("200 OK", c, "") + op("200 OK", a, "{}") + "--b--\r\n",
		op("200 OK", a, "{}") + op("200 OK", b, "z") + op("200 OK", b, "z") + op("200 OK", a, "{}") + op("200 OK", a, "{}") + "--b--\r\n",
	}
	d, err := NewDecoderBoundary(strings.NewReader(""), "b")
	require.NoError(t, err)
	for round := range 3 {
		for i, in := range batches {
			want, err := decodeAll(strings.NewReader(in), "multipart/mixed; boundary=b")
			require.NoError(t, err)
			require.NoError(t, d.Reset(strings.NewReader(in), "b"))
			stop := len(want)
			if round == 1 {
				stop = 2 // Reset in the middle, while the memo is shared
			}
			var got []decoded
			for range stop {
				p, err := d.Next()
				require.NoError(t, err)
				g, err := decodedOf(p)
				require.NoError(t, err)
				got = append(got, g)
			}
			if diff := cmp.Diff(want[:stop], got); diff != "" {
				t.Errorf("round %d, batch %d (-fresh decoder +reused decoder):\n%s", round, i, diff)
			}
		}
	}
}

// TestMemoWholeAsGeneral decodes batches whose embedded header blocks repeat
// whole, so that memoWhole takes them when the batch is in the buffer, and
// compares every part, deviation and error with a decoding one byte at a
// time, where no block is ever whole in the buffer (the MIME part headers,
// with and without a Content-ID, too): under every header limit
// around the blocks' size (with start lines of different lengths, so that a
// block within the limit after one is over it after the next), in strict
// mode and not, with Content-Length values that are well formed, malformed,
// repeated, disagreeing, and not the body's length, and with CRLF and bare
// LF line breaks mixed five ways.
func TestMemoWholeAsGeneral(t *testing.T) {
	blocks := []string{
		"Content-Type: application/json\r\nContent-Length: 2\r\n",
		"Content-Type: application/json\r\nContent-Length: 5\r\n",
		"Content-Type: application/json\r\nContent-Length: x2\r\n",
		"Content-Length: 2\r\nContent-Length: 2\r\n",
		"Content-Length: 2\r\ncontent-length: 3\r\n",
		"Content-ID: 7\r\nOData-Version: 4.0\r\n",
		"OData-Version: 4.0\r\n",
	}
	lines := []string{"HTTP/1.1 200 OK", "HTTP/1.1 204 No Content, and a longer reason", "GET /items HTTP/1.1", "http/1.1 200 OK"}
	// MIME part headers: the usual lines alone, or with a Content-ID
	// (usualWithID), under the same limits.
	ids := []string{"", "Content-ID: 1\r\n", "content-id: a longer id \r\n", "Content-ID: 3\r\n"}
	type part struct {
		Decoded decoded
		Dev     Deviation
		Offset  int64
		Length  int64
	}
	of := func(p *Part) (part, error) {
		g, err := decodedOf(p)
		return part{g, p.Deviations(), p.Offset(), p.ContentLength()}, err
	}
	decode := func(r io.Reader, opts ...DecodeOption) ([]part, error) {
		d, err := NewDecoderBoundary(r, "b", opts...)
		if err != nil {
			return nil, err
		}
		return collect(d, of)
	}
	// Line breaks: CRLF throughout, bare LF throughout (Outlook's and
	// SharePoint's samples), and bare LF in the embedded header block
	// alone, in its start line alone, and in both: where a bare LF is
	// the part's only one, the deviation must still be recorded.
	breaks := []struct{ part, line, block string }{
		{"\r\n", "\r\n", "\r\n"}, {"\n", "\n", "\n"}, {"\r\n", "\r\n", "\n"}, {"\r\n", "\n", "\r\n"}, {"\r\n", "\n", "\n"},
	}
	for bi, nl := range breaks {
		for _, block := range blocks {
			block := strings.ReplaceAll(block, "\r\n", nl.block)
			for j := range lines {
				var in strings.Builder
				// The limits around which the outcome changes: a start
				// line, an embedded block or a MIME block that just fits.
				var edges []int
				for k := range 4 {
					line := lines[(j+k/2)%len(lines)]
					edges = append(edges, len(line), len(line)+headerUsed(block), headerUsed(usualBlock+ids[k]))
					in.WriteString(strings.ReplaceAll("--b\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"+ids[k]+"\r\n", "\r\n", nl.part) +
						lines[(j+k/2)%len(lines)] + nl.line + block + nl.block + "{}\r\n")
				}
				in.WriteString("--b--\r\n")
				for limit := len(block) - 8; limit <= len(lines[1])+len(block)+3*fieldOverhead+8; limit++ {
					// Short, every limit is tried with CRLF, those at
					// the edges with the other line breaks.
					if testing.Short() && bi > 0 && !slices.ContainsFunc(edges, func(e int) bool { return e-1 <= limit && limit <= e+1 }) {
						continue
					}
					for _, strict := range []bool{false, true} {
						opts := []DecodeOption{MaxHeaderBytes(limit), Strict(strict)}
						want, wantErr := decode(iotest.OneByteReader(strings.NewReader(in.String())), append(opts, BufferSize(1))...)
						got, err := decode(strings.NewReader(in.String()), opts...)
						if !sameError(err, wantErr) {
							t.Errorf("%q %q limit %d strict %v: error %v, one byte at a time %v", lines[j], block, limit, strict, err, wantErr)
						}
						if diff := cmp.Diff(want, got, normalize); diff != "" {
							t.Errorf("%q %q limit %d strict %v (-one byte at a time +whole):\n%s", lines[j], block, limit, strict, diff)
						}
					}
				}
			}
		}
	}
}

// blockFields returns the fields of hb, a header block of d, each value
// followed by "@" and the field's input offset, to compare blocks read by
// different paths.
func blockFields(d *Decoder, hb *headerBlock) []Field {
	var fs []Field
	b := d.bytesOf(hb)
	for _, f := range hb.spans {
		fs = append(fs, Field{string(f.name.of(b)), string(f.value.of(b)) + "@" + strconv.FormatInt(hb.offsetOf(&f), 10)})
	}
	return fs
}

// headerUsed is what a header block's lines charge against MaxHeaderBytes:
// each line without its line break, and fieldOverhead.
func headerUsed(block string) int {
	n := 0
	for _, line := range strings.Split(block, "\n") {
		if line = strings.TrimSuffix(line, "\r"); line != "" {
			n += len(line) + fieldOverhead
		}
	}
	return n
}

// filledDecoder returns a decoder of boundary "b" with all of input read
// into its buffer and nothing consumed.
func filledDecoder(tb testing.TB, input string, opts ...DecodeOption) *Decoder {
	tb.Helper()
	d, err := NewDecoderBoundary(strings.NewReader(input), "b", opts...)
	require.NoError(tb, err)
	for !d.eof {
		require.NoError(tb, d.fill())
	}
	return d
}
