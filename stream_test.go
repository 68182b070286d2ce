package batch

import (
	"io"
	"runtime"
	"testing"
)

// genReader generates a batch of n operations, each with a body of
// bodySize bytes, on the fly: the batch is never held in memory.
type genReader struct {
	head, body, tail []byte // one operation: delimiter and headers, body, line break
	close            []byte
	n                int // operations left to start
	cur              []byte
	stage            int
}

func newGenReader(n, bodySize int) *genReader {
	body := make([]byte, bodySize)
	for i := range body {
		// Bytes that keep the scanner honest: dashes, line breaks and
		// near-delimiters.
		switch i % 97 {
		case 0:
			body[i] = '\n'
		case 1, 2:
			body[i] = '-'
		default:
			body[i] = byte('a' + i%26)
		}
	}
	copy(body[1000:], "\r\n--batch_gen-not-a-delimiter\r\n")
	return &genReader{
		head:  []byte("--batch_gen\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nPUT /blobs/1 HTTP/1.1\r\nContent-Type: application/octet-stream\r\n\r\n"),
		body:  body,
		tail:  []byte("\r\n"),
		close: []byte("--batch_gen--\r\n"),
		n:     n,
	}
}

func (g *genReader) Read(p []byte) (int, error) {
	for len(g.cur) == 0 {
		switch {
		case g.stage == 0 && g.n > 0:
			g.cur, g.stage = g.head, 1
		case g.stage == 1:
			g.cur, g.stage = g.body, 2
		case g.stage == 2:
			g.cur, g.stage = g.tail, 0
			g.n--
		case g.stage == 0 && g.n == 0:
			g.cur, g.stage = g.close, 3
		default:
			return 0, io.EOF
		}
	}
	n := copy(p, g.cur)
	g.cur = g.cur[n:]
	return n, nil
}

// TestStreamConstantMemory streams a generated batch of more than 1 GiB
// through the decoder and checks that the heap stays within 1 MiB of where it
// started: memory is bounded by the buffer, not by the input.
func TestStreamConstantMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 1 GiB; skipped with -short")
	}
	const bodySize = 256 << 10
	const ops = (1<<30)/bodySize + 1
	g := newGenReader(ops, bodySize)
	want := g.body

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	start := ms.HeapAlloc

	d, err := NewDecoder(g, "multipart/mixed; boundary=batch_gen", MaxParts(ops))
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	var peak uint64
	check := &sumWriter{}
	for i := 0; ; i++ {
		p, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		check.reset()
		n, err := io.Copy(check, p)
		if err != nil {
			t.Fatalf("body %d: %v", i, err)
		}
		if n != int64(len(want)) || check.sum != sumOf(want) {
			t.Fatalf("body %d: %d bytes with sum %d, want %d bytes with sum %d", i, n, check.sum, len(want), sumOf(want))
		}
		total += n
		if i%256 == 0 {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
	}
	runtime.ReadMemStats(&ms)
	peak = max(peak, ms.HeapAlloc)
	if total < 1<<30 {
		t.Fatalf("streamed %d body bytes, want at least 1 GiB", total)
	}
	if grown := int64(peak) - int64(start); grown > 1<<20 {
		t.Errorf("heap grew by %d bytes while streaming %d bytes, want under 1 MiB", grown, total)
	}
	t.Logf("streamed %d MiB; heap grew at most %d KiB", total>>20, (int64(peak)-int64(start))>>10)
}

// sumWriter checks bodies without keeping them: a position-weighted sum.
type sumWriter struct {
	sum uint64
	pos uint64
}

func (w *sumWriter) reset() { w.sum, w.pos = 0, 0 }

func (w *sumWriter) Write(p []byte) (int, error) {
	for _, c := range p {
		w.pos++
		w.sum += uint64(c) * w.pos
	}
	return len(p), nil
}

func sumOf(b []byte) uint64 {
	var w sumWriter
	w.Write(b)
	return w.sum
}
