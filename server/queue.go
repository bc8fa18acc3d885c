package server

import (
	"sync"
	"sync/atomic"

	"github.com/chatd/chatd/wire"
)

// pushResult says what became of a message handed to an outQueue.
type pushResult uint8

const (
	pushed   pushResult = iota // queued; the writer has been woken
	dropped                    // the queue is closed: the connection is going away
	overflow                   // it would exceed the byte bound: the client is too slow
)

// outQueue is one connection's outbound queue. It is bounded in bytes (the
// frames' plain length) counted until the writer has written them, so a
// client that stops reading holds at most limit bytes of the server's memory.
// push never blocks: a sender fanning out to a thousand members must not wait
// for the slowest of them.
type outQueue struct {
	mu     sync.Mutex
	msgs   []*wire.PreparedMessage
	spare  []*wire.PreparedMessage // the writer's previous batch, reused to keep push allocation-free
	bytes  int                     // queued plus being written
	high   int                     // high-water mark of bytes
	limit  int
	closed bool
	wake   chan struct{} // capacity 1: "there is something to write"
	// serverHigh is the high-water mark over all of the server's queues,
	// raised here so the metric needs no walk over the connections.
	serverHigh *atomic.Int64
}

func newOutQueue(limit int, serverHigh *atomic.Int64) *outQueue {
	if serverHigh == nil {
		serverHigh = new(atomic.Int64)
	}
	return &outQueue{limit: limit, wake: make(chan struct{}, 1), serverHigh: serverHigh}
}

// push queues m unless the queue is closed or m would overflow it.
func (q *outQueue) push(m *wire.PreparedMessage) pushResult {
	n := m.Len()
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return dropped
	}
	if q.bytes+n > q.limit {
		q.mu.Unlock()
		return overflow
	}
	q.msgs = append(q.msgs, m)
	q.bytes += n
	if q.bytes > q.high {
		q.high = q.bytes
		for h := q.serverHigh.Load(); int64(q.high) > h && !q.serverHigh.CompareAndSwap(h, int64(q.high)); {
			h = q.serverHigh.Load()
		}
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return pushed
}

// take hands the writer everything queued so far. The bytes stay counted
// until done.
func (q *outQueue) take() []*wire.PreparedMessage {
	q.mu.Lock()
	defer q.mu.Unlock()
	batch := q.msgs
	q.msgs = q.spare[:0]
	q.spare = nil
	return batch
}

// done releases the bytes of a written batch and keeps its backing array for
// the next take.
func (q *outQueue) done(batch []*wire.PreparedMessage) (written int) {
	for i, m := range batch {
		written += m.Len()
		batch[i] = nil // let the frames go
	}
	q.mu.Lock()
	q.bytes -= written
	if q.spare == nil {
		q.spare = batch[:0]
	}
	q.mu.Unlock()
	return written
}

// close refuses further pushes; what is queued can still be taken.
func (q *outQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
}

// highWater returns the largest number of bytes the queue has held.
func (q *outQueue) highWater() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.high
}
