package batchhttp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// errSpool marks a failure to hold the request body (the temporary file),
// which is the server's fault, not the client's.
var errSpool = errors.New("batch: spooling the batch body")

const (
	// spoolFirst is the memory a spool starts with. It grows, by
	// doubling, only as bytes arrive: a declared Content-Length reserves
	// nothing, so a client that declares a large body and sends little
	// costs little.
	spoolFirst = 4 << 10
	// spoolPooled is the largest buffer a spool gives back for reuse.
	spoolPooled = 1 << 20
)

// spoolBufs holds spool buffers between batches; firstBufs the first,
// small ones.
var spoolBufs, firstBufs sync.Pool // of *[]byte

// spool holds a request body so that [Handler] can decode it twice: in
// memory up to a threshold, then in a temporary file. The file is unlinked
// as soon as it is created where the system allows it (so that a crash
// leaves nothing behind), else when the spool is closed.
type spool struct {
	mem     []byte
	box     *[]byte // the pool's box mem came in, to go back in
	f       *os.File
	name    string // file still to remove on close
	n       int64
	scratch []byte
}

// fill reads r to its end, holding at most memMax bytes in memory.
func (s *spool) fill(r io.Reader, memMax int64) error {
	for {
		if s.f == nil && len(s.mem) == cap(s.mem) && int64(len(s.mem)) < memMax {
			s.grow(memMax)
		}
		buf := s.mem[len(s.mem):cap(s.mem)]
		if s.f != nil || len(buf) == 0 {
			if err := s.toFile(); err != nil {
				return err
			}
			if s.scratch == nil {
				s.scratch = make([]byte, 32<<10)
			}
			buf = s.scratch
		}
		m, err := r.Read(buf)
		if m > 0 {
			s.n += int64(m)
			if s.f == nil {
				s.mem = s.mem[:len(s.mem)+m]
			} else if _, werr := s.f.Write(buf[:m]); werr != nil {
				return fmt.Errorf("%w: %v", errSpool, werr)
			}
		}
		if err == io.EOF {
			s.scratch = nil
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// grow makes room for more bytes: spoolFirst at first, then twice what is
// held, at most memMax in all, from spoolBufs when it has such a buffer.
func (s *spool) grow(memMax int64) {
	want := int64(spoolFirst)
	if len(s.mem) > 0 {
		want = 2 * int64(len(s.mem))
	}
	want = min(want, memMax)
	if len(s.mem) > 0 {
		if v, ok := spoolBufs.Get().(*[]byte); ok {
			if int64(cap(*v)) >= want {
				b := append((*v)[:0], s.mem...)
				if int64(cap(b)) > memMax {
					b = b[:len(b):memMax]
				}
				s.release()
				s.mem, s.box = b, v
				return
			}
			// Too small: dropped, so that the pool keeps the sizes
			// batches need.
		}
	}
	if len(s.mem) == 0 && want == spoolFirst {
		if v, ok := firstBufs.Get().(*[]byte); ok {
			s.mem, s.box = (*v)[:0], v
			return
		}
	}
	b := make([]byte, len(s.mem), want)
	copy(b, s.mem)
	s.release()
	s.mem = b
}

// toFile moves what memory holds to a temporary file, once.
func (s *spool) toFile() error {
	if s.f != nil {
		return nil
	}
	f, err := os.CreateTemp("", "batch-*.spool")
	if err != nil {
		return fmt.Errorf("%w: %v", errSpool, err)
	}
	s.f = f
	if os.Remove(f.Name()) != nil {
		s.name = f.Name()
	}
	if _, err := f.Write(s.mem); err != nil {
		return fmt.Errorf("%w: %v", errSpool, err)
	}
	s.release()
	return nil
}

// release gives the memory buffer back for reuse: the small first ones to
// firstBufs, larger ones to spoolBufs.
func (s *spool) release() {
	b, box := s.mem[:0], s.box
	if box == nil {
		box = new([]byte)
	}
	*box = b
	switch {
	case cap(b) == spoolFirst:
		firstBufs.Put(box)
	case cap(b) > spoolFirst && cap(b) <= spoolPooled:
		spoolBufs.Put(box)
	}
	s.mem, s.box = nil, nil
}

// reader returns a new reader over the whole body.
func (s *spool) reader() io.Reader {
	return s.readerWith(new(bytes.Reader))
}

// readerWith returns a reader over the whole body: br, reset, when the
// body is in memory.
func (s *spool) readerWith(br *bytes.Reader) io.Reader {
	if s.f != nil {
		return io.NewSectionReader(s.f, 0, s.n)
	}
	br.Reset(s.mem)
	return br
}

// close releases the memory and the file, if any.
func (s *spool) close() {
	if s.f != nil {
		_ = s.f.Close()
		s.f = nil
	}
	if s.name != "" {
		_ = os.Remove(s.name)
		s.name = ""
	}
	s.release()
}
