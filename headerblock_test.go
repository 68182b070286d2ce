package batch

import (
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
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
// keys and meta and consume the same bytes, and readHeaderLines must see
// no deviation and no error there. The usual blocks must be taken, or the
// fast path is silently lost.
func TestScanHeaders(t *testing.T) {
	for _, tc := range []struct {
		block string
		fast  bool // scanHeaders must take it
	}{
		{"Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n", true},
		{"Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 1\r\n\r\n", true},
		{"Content-ID: 1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n", true},
		{"Content-Type: application/json; odata.metadata=minimal\r\nOData-Version: 4.0\r\nContent-Length: 200\r\n\r\n", true},
		{"content-type:application/http\r\ncontent-length: 2 \r\nContent-Length:2\r\n\r\n", true},
		{"\r\n", true},
		{"X: \r\n\r\n", true},
		{"Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nX: a\rb\r\n\r\n", false},
		{"Content-Type: application/http\r\nX: a\r\r\n\r\n", false},
		{"Content-Type: application/http\nX: a\r\n\r\n", false},
		{"Content-Type : application/http\r\n\r\n", false},
		{"X: a\r\n folded\r\n\r\n", false},
		{"--b\r\n", false},
		{"no colon\r\n\r\n", false},
		{": empty name\r\n\r\n", false},
		{"Content-Type: application/http\r\n", false}, // no blank line in the buffer
		{"Content-Type: application/httpx\r\nContent-Transfer-Encoding: binary2\r\n\r\n", true},
		{"Content-Transfer-Encoding: binary\r\n\r\n", true},
	} {
		input := tc.block + "body\r\n--b--\r\n"
		if tc.block == "Content-Type: application/http\r\n" {
			input = tc.block
		}
		load := func() *Decoder {
			d, err := NewDecoderBoundary(strings.NewReader(input), "b")
			if err != nil {
				t.Fatal(err)
			}
			for !d.eof {
				if err := d.fill(); err != nil {
					t.Fatal(err)
				}
			}
			return d
		}
		fields := func(d *Decoder) []Field {
			var fs []Field
			for _, f := range d.ph.spans {
				fs = append(fs, Field{string(f.name.of(d.meta)), string(f.value.of(d.meta)) + "@" + strconv.FormatInt(f.offset, 10)})
			}
			return fs
		}
		fast, slow, usual := load(), load(), load()
		ok := fast.scanHeaders(&fast.ph, DefaultMaxHeaderBytes, 0)
		if ok != tc.fast {
			t.Errorf("scanHeaders(%q) = %v, want %v", tc.block, ok, tc.fast)
		}
		// usualPartHeaders takes exactly usualBlock, and must then read
		// what scanHeaders reads.
		if got, want := usual.usualPartHeaders(DefaultMaxHeaderBytes), tc.block == usualBlock; got != want {
			t.Errorf("usualPartHeaders(%q) = %v, want %v", tc.block, got, want)
		} else if got {
			usual.ph.spans = append([]fieldSpan(nil), usual.ph.spans...)
			if diff := cmp.Diff(fields(fast), fields(usual)); diff != "" || usual.rp != fast.rp || usual.ph.first != fast.ph.first || string(usual.meta) != usualBlock || string(fast.meta) != usualBlock+usualBlock {
				t.Errorf("usualPartHeaders(%q) differs from scanHeaders (-scanHeaders +usualPartHeaders):\n%s", tc.block, diff)
			}
		}
		if !ok {
			if fast.rp != 0 || len(fast.ph.spans) != 0 || len(fast.meta) != len(usualBlock) {
				t.Errorf("scanHeaders(%q) = false but consumed %d bytes, %d fields", tc.block, fast.rp, len(fast.ph.spans))
			}
			continue
		}
		ended, err := slow.readHeaderLines(&slow.ph, DefaultMaxHeaderBytes)
		if ended || err != nil || slow.part.dev != 0 {
			t.Errorf("readHeaderLines(%q) = %v, %v, deviations %v where scanHeaders took the block", tc.block, ended, err, slow.part.dev)
		}
		if diff := cmp.Diff(fields(slow), fields(fast)); diff != "" {
			t.Errorf("scanHeaders(%q) fields mismatch (-readHeaderLines +scanHeaders):\n%s", tc.block, diff)
		}
		if fast.rp != slow.rp || fast.ph.first != slow.ph.first || fast.ph.lengths != slow.ph.lengths {
			t.Errorf("scanHeaders(%q): rp %d, first %v, lengths %d; readHeaderLines: %d, %v, %d",
				tc.block, fast.rp, fast.ph.first, fast.ph.lengths, slow.rp, slow.ph.first, slow.ph.lengths)
		}
	}
}
