package batchhttp

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"
)

// This file is an answer body that streams from the batch answer, and the
// rule that keeps one slow reader from holding up its batch for ever.

// wait returns when body has been read to its end or closed, or abandoned:
// its caller's context ended, or it read nothing for StallTimeout. It never
// returns while a Read of the body is still inside the batch answer, which
// the batch reads on from: a Read blocked on the network when its caller
// has gone (or stalled) is ended by cancelling the batch request, so that
// the answers after it fail rather than the batch hanging.
func (b *trBatch) wait(body *trBody) {
	timer := time.NewTimer(b.t.cfg.stall)
	defer timer.Stop()
	for {
		select {
		case <-body.done:
		case <-body.progress:
			timer.Reset(b.t.cfg.stall)
			continue
		case <-body.ctx.Done():
			body.fail(body.ctx.Err())
		case <-timer.C:
			body.fail(ErrStalled)
		}
		break
	}
	// The body is finished; a Read may still be in the part.
	if body.inRead() {
		timer.Reset(b.t.cfg.stall)
		select {
		case <-body.readEnd:
		case <-body.ctx.Done():
		case <-timer.C:
		}
		if body.inRead() {
			b.cancel()
			for body.inRead() {
				<-body.readEnd
			}
		}
	}
}

// errBodyClosed is what a closed answer body's reads return.
var errBodyClosed = errors.New("batch: read on a closed answer body")

// trBody is an answer body that streams from the batch answer: its first
// AnswerBuffer bytes, then the part itself, read by the caller while the
// batch waits.
type trBody struct {
	mu       sync.Mutex
	prefix   []byte
	part     io.Reader // nil once finished
	err      error     // what reads return once finished
	readErr  error     // an error reading the batch answer, for the batch
	ctx      context.Context
	done     chan struct{}
	progress chan struct{}
	reading  bool          // a Read is inside part, without b.mu
	readEnd  chan struct{} // a token each time a Read leaves part
}

// Read reads the prefix, then the part. The part is read without b.mu held,
// so that the body can be failed (its caller gone) while a Read waits on
// the network; the batch does not read on until that Read has returned.
func (b *trBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	if len(b.prefix) > 0 {
		n := copy(p, b.prefix)
		b.prefix = b.prefix[n:]
		b.mu.Unlock()
		return n, nil
	}
	if b.part == nil || b.reading {
		err := b.err
		if b.reading {
			err = errConcurrentRead
		}
		b.mu.Unlock()
		return 0, err
	}
	if err := b.ctx.Err(); err != nil {
		b.finish(err)
		b.mu.Unlock()
		return 0, err
	}
	part := b.part
	b.reading = true
	b.mu.Unlock()

	n, err := part.Read(p)

	b.mu.Lock()
	b.reading = false
	if b.part == nil {
		// Failed or closed meanwhile: what was read is dropped with the
		// rest of the body.
		n, err = 0, b.err
	} else {
		select {
		case b.progress <- struct{}{}:
		default:
		}
		if err != nil {
			if err != io.EOF {
				b.readErr = err
			}
			b.finish(err)
		}
	}
	b.mu.Unlock()
	select {
	case b.readEnd <- struct{}{}:
	default:
	}
	return n, err
}

// errConcurrentRead: a Read of an answer body while another is in progress.
var errConcurrentRead = errors.New("batch: concurrent Read of an answer body")

// inRead reports whether a Read is inside the part.
func (b *trBody) inRead() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.reading
}

// Close discards the rest of the body; the batch reads on.
func (b *trBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.prefix = nil
	if b.part != nil {
		b.finish(errBodyClosed)
	} else if b.err == io.EOF {
		b.err = errBodyClosed
	}
	return nil
}

// fail abandons the body with err, unless it has finished.
func (b *trBody) fail(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.part != nil {
		b.finish(err)
	}
}

// finish ends the body's use of the part; b.mu is held.
func (b *trBody) finish(err error) {
	b.part, b.err = nil, err
	close(b.done)
}
