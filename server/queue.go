package server

import (
	"sync"
	"sync/atomic"

	"github.com/chatd/chatd/wire"
)

// pushResult says what became of a message handed to an outQueue.
type pushResult uint8

const (
	pushed   pushResult = iota // queued; a writer runs or has been started
	dropped                    // the queue is closed: the connection is going away
	overflow                   // it would exceed the byte bound: the client is too slow
)

// outQueue is one connection's outbound queue. It is bounded in bytes (the
// frames' plain length) counted until the writer has written them, so a
// client that stops reading holds at most limit bytes of the server's memory.
// push never blocks: a sender fanning out to a thousand members must not wait
// for the slowest of them.
//
// No writer goroutine waits on an idle queue: the push (or ping, or close)
// that finds no writer running calls start, which runs one, and the writer
// exits as soon as next finds nothing to do. An idle connection therefore
// costs no writer stack.
type outQueue struct {
	mu      sync.Mutex
	msgs    []*wire.PreparedMessage
	spare   []*wire.PreparedMessage // the writer's previous batch, reused to keep push allocation-free
	bytes   int                     // queued plus being written
	high    int                     // high-water mark of bytes
	limit   int
	closed  bool
	ping    bool   // a ping is due
	running bool   // a writer is running (or has been started); after close, forever
	start   func() // runs a writer; called outside mu
	// serverHigh is the high-water mark over all of the server's queues,
	// raised here so the metric needs no walk over the connections.
	serverHigh *atomic.Int64
}

// newOutQueue returns an empty queue whose writer is started by start.
func newOutQueue(limit int, serverHigh *atomic.Int64, start func()) *outQueue {
	if serverHigh == nil {
		serverHigh = new(atomic.Int64)
	}
	return &outQueue{limit: limit, serverHigh: serverHigh, start: start}
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
	start := q.claimLocked()
	q.mu.Unlock()
	if start {
		q.start()
	}
	return pushed
}

// claimLocked marks the writer running and reports whether the caller must
// start it (no writer was running).
func (q *outQueue) claimLocked() bool {
	if q.running {
		return false
	}
	q.running = true
	return true
}

// pingDue asks the writer to send a ping, starting one if none runs. A
// closed queue ignores it.
func (q *outQueue) pingDue() {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.ping = true
	start := q.claimLocked()
	q.mu.Unlock()
	if start {
		q.start()
	}
}

// next hands the writer its next piece of work: everything queued so far
// (the bytes stay counted until done) and whether a ping is due. closed
// reports that the queue has been closed: the writer then ends the
// connection (what is still queued can be taken). ok is false when there is
// nothing to do: the writer must exit then, and the next push, ping or close
// starts another.
func (q *outQueue) next() (batch []*wire.PreparedMessage, ping, closed, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil, false, true, true
	}
	if len(q.msgs) == 0 && !q.ping {
		q.running = false
		return nil, false, false, false
	}
	batch, ping = q.takeLocked(), q.ping
	q.ping = false
	return batch, ping, false, true
}

// take hands the writer everything queued so far. The bytes stay counted
// until done.
func (q *outQueue) take() []*wire.PreparedMessage {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.takeLocked()
}

// takeLocked is take's body.
func (q *outQueue) takeLocked() []*wire.PreparedMessage {
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

// close refuses further pushes; what is queued can still be taken. It
// starts a writer if none runs, to end the connection; a running writer
// sees the close at its next call to next. Either way exactly one writer
// ends the connection, since running stays set from now on.
func (q *outQueue) close() {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.closed = true
	start := q.claimLocked()
	q.mu.Unlock()
	if start {
		q.start()
	}
}

// highWater returns the largest number of bytes the queue has held.
func (q *outQueue) highWater() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.high
}
