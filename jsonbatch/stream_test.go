package jsonbatch

import (
	"bytes"
	"encoding/base64"
	"io"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// genReader produces a JSON batch of n items on the fly, cycling through
// items, without holding the document: prefix, items separated by commas,
// suffix.
type genReader struct {
	items  [][]byte
	n      int // items still to produce
	k      int // items produced
	cur    []byte
	comma  bool // a comma is due before the next item
	suffix bool
}

func newGenReader(n int, items ...[]byte) *genReader {
	return &genReader{items: items, n: n, cur: []byte(`{"@odata.context":"gen","requests":[`)}
}

var comma = []byte(",")

func (g *genReader) Read(p []byte) (int, error) {
	total := 0
	for len(p) > 0 {
		if len(g.cur) == 0 {
			switch {
			case g.comma:
				g.comma = false
				g.cur = comma
			case g.n > 0:
				g.cur = g.items[g.k%len(g.items)]
				g.n--
				g.k++
				g.comma = g.n > 0
			case !g.suffix:
				g.suffix = true
				g.cur = []byte(`],"@odata.nextLink":"done"}`)
			default:
				if total == 0 {
					return 0, io.EOF
				}
				return total, nil
			}
		}
		c := copy(p, g.cur)
		g.cur = g.cur[c:]
		p = p[c:]
		total += c
	}
	return total, nil
}

// TestStreamOneGiB decodes a JSON batch of 1 GiB (64 MiB with -short),
// spread over items of 64 KiB bodies, text and binary, produced by a reader
// and never held: the heap must stay bounded by the decoder's buffers.
func TestStreamOneGiB(t *testing.T) {
	size := int64(1 << 30)
	if testing.Short() {
		size = 64 << 20
	}
	text := strings.Repeat("0123456789abcdef", 4<<10) // 64 KiB
	binary := bytes.Repeat([]byte{0, 1, 2, 0xfe, 0xff}, 13107)
	items := [][]byte{
		[]byte(`{"id":"t","method":"PUT","url":"/notes/1","headers":{"Content-Type":"text/plain"},"body":"` + text + `"}`),
		[]byte(`{"body":"` + base64.StdEncoding.EncodeToString(binary) + `","id":"b","headers":{"content-type":"application/octet-stream"},"method":"PUT","url":"/blobs/1"}`),
		[]byte(`{"id":"j","method":"POST","url":"/events","body":{"subject":"` + text[:1000] + `","n":[1,2,3]}}`),
	}
	per := int64(len(items[0])+len(items[1])+len(items[2])) / 3
	n := int(size/per) + 1
	g := newGenReader(n, items...)

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	peak := before
	start := time.Now()

	d := NewDecoder(g, MaxItems(n))
	var got, bodyBytes int64
	for {
		it, err := d.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		m, err := io.Copy(io.Discard, it)
		require.NoError(t, err)
		bodyBytes += m
		if got%512 == 0 {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
		switch it.ID()[0] {
		case 't':
			require.Equal(t, len(text), int(m))
		case 'b':
			require.Equal(t, len(binary), int(m))
		}
		got++
	}
	elapsed := time.Since(start)
	assert.Equal(t, int64(n), got)
	in := d.InputOffset()
	assert.GreaterOrEqual(t, in, size)
	growth := int64(peak) - int64(before)
	t.Logf("%d items, %d MiB in, %d MiB of bodies, in %v (%.0f MB/s); heap growth at most %d KiB",
		got, in>>20, bodyBytes>>20, elapsed.Round(time.Millisecond), float64(in)/elapsed.Seconds()/1e6, growth>>10)
	// The buffer grows to 256 KiB for items of about 85 KiB, and the
	// scratch for decoded bodies to twice the largest body.
	assert.Less(t, growth, int64(4<<20), "heap growth %s bytes", strconv.FormatInt(growth, 10))
}

// TestNextDoesNotReadAhead: an item is returned as soon as its closing
// brace arrives, without waiting for the bytes after it; a server that
// streams its answers one at a time is read one at a time.
func TestNextDoesNotReadAhead(t *testing.T) {
	pr, pw := io.Pipe()
	d := NewDecoder(pr)
	got := make(chan string)
	go func() {
		defer close(got)
		for {
			it, err := d.Next()
			if err != nil {
				got <- "err: " + err.Error()
				return
			}
			got <- string(it.ID())
		}
	}()
	for _, chunk := range []string{`{"responses":[{"id":"1","status":200}`, `,{"body":{"a":1},"status":200,"id":"2"}`, `]}`} {
		_, err := io.WriteString(pw, chunk)
		require.NoError(t, err)
		if chunk == `]}` {
			break
		}
		select {
		case id := <-got:
			assert.Contains(t, chunk, `"id":"`+id+`"`)
		case <-time.After(5 * time.Second):
			t.Fatalf("no item after writing %s", chunk)
		}
	}
	require.NoError(t, pw.Close())
	assert.Equal(t, "err: EOF", <-got)
}
