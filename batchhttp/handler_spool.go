package batchhttp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// errSpool marks a failure to hold the request body (the temporary file),
// which is the server's fault, not the client's.
var errSpool = errors.New("batch: spooling the batch body")

// spool holds a request body so that [Handler] can decode it twice: in
// memory up to a threshold, then in a temporary file. The file is unlinked
// as soon as it is created where the system allows it (so that a crash
// leaves nothing behind), else when the spool is closed.
type spool struct {
	mem     []byte
	f       *os.File
	name    string // file still to remove on close
	n       int64
	scratch []byte
}

// fill reads r to its end. size is the declared length (-1 if unknown),
// used to size the memory buffer; memMax is the threshold.
func (s *spool) fill(r io.Reader, size, memMax int64) error {
	if size > 0 && size <= memMax {
		s.mem = make([]byte, 0, size)
	}
	s.scratch = make([]byte, 32<<10)
	for {
		m, err := r.Read(s.scratch)
		if m > 0 {
			if werr := s.write(s.scratch[:m], memMax); werr != nil {
				return werr
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

func (s *spool) write(p []byte, memMax int64) error {
	s.n += int64(len(p))
	if s.f == nil && int64(len(s.mem)+len(p)) <= memMax {
		s.mem = append(s.mem, p...)
		return nil
	}
	if s.f == nil {
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
		s.mem = nil
	}
	if _, err := s.f.Write(p); err != nil {
		return fmt.Errorf("%w: %v", errSpool, err)
	}
	return nil
}

// reader returns a new reader over the whole body.
func (s *spool) reader() io.Reader {
	if s.f != nil {
		return io.NewSectionReader(s.f, 0, s.n)
	}
	return bytes.NewReader(s.mem)
}

// close releases the file, if any.
func (s *spool) close() {
	if s.f != nil {
		_ = s.f.Close()
		s.f = nil
	}
	if s.name != "" {
		_ = os.Remove(s.name)
		s.name = ""
	}
	s.mem = nil
}
