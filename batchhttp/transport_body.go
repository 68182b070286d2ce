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
// its caller's context ended, or it read nothing for StallTimeout.
func (b *trBatch) wait(body *trBody) {
	timer := time.NewTimer(b.t.cfg.stall)
	defer timer.Stop()
	for {
		select {
		case <-body.done:
			return
		case <-body.progress:
			timer.Reset(b.t.cfg.stall)
		case <-body.ctx.Done():
			body.fail(body.ctx.Err())
			return
		case <-timer.C:
			body.fail(ErrStalled)
			return
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
}

func (b *trBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.prefix) > 0 {
		n := copy(p, b.prefix)
		b.prefix = b.prefix[n:]
		return n, nil
	}
	if b.part == nil {
		return 0, b.err
	}
	if err := b.ctx.Err(); err != nil {
		b.finish(err)
		return 0, err
	}
	n, err := b.part.Read(p)
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
	return n, err
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
