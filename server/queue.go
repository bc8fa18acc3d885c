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
// costs no writer stack. With write coalescing (coalesce.go) a connection
// written to a moment ago does not start its writer at once: it waits,
// deferred, for the coalescer's next round (deferTo), which calls
// roundStart; a close never waits for it.
type outQueue struct {
	mu      sync.Mutex
	msgs    []*wire.PreparedMessage
	spare   []*wire.PreparedMessage // the writer's previous batch, reused to keep push allocation-free
	bytes   int                     // queued plus being written
	high    int                     // high-water mark of bytes
	limit   int
	closed  bool
	ping    bool   // a ping is due
	running bool   // a writer is running, has been started or is deferred; after close, forever
	start   func() // runs a writer; called outside mu
	// With coalescing: shouldDefer (called under mu; it must not lock)
	// says whether a writer about to start should wait for a round
	// instead, and deferTo registers for the round. nil: never defer.
	shouldDefer func() bool
	deferTo     func()
	deferred    bool // running, but the writer waits for a round
	urgent      bool // a pushNow frame is queued for the running writer: it must not yield
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
func (q *outQueue) push(m *wire.PreparedMessage) pushResult { return q.pushAs(m, false) }

// pushNow is push for an answer the client is waiting for (its own
// message's copy, a welcome, an error): the writer starts at once even on
// a flooded connection, taking whatever else is queued along.
func (q *outQueue) pushNow(m *wire.PreparedMessage) pushResult { return q.pushAs(m, true) }

// pushAs is push and pushNow.
func (q *outQueue) pushAs(m *wire.PreparedMessage, now bool) pushResult {
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
	act := q.claimLocked(now)
	q.mu.Unlock()
	q.act(act)
	return pushed
}

// writerAction is what a caller of claimLocked does once it has unlocked.
type writerAction uint8

const (
	noAction   writerAction = iota // a writer runs or is deferred already
	startNow                       // start the writer
	deferStart                     // register for the coalescer's next round
)

// claimLocked marks the writer running and says what the caller must do.
// With now (an answer the client waits for, or the close) the writer is not
// left waiting for a coalescing round: a deferred one starts at once, and a
// running one may not yield what is queued to the round.
func (q *outQueue) claimLocked(now bool) writerAction {
	switch {
	case now && q.deferred:
		q.deferred = false
		return startNow
	case q.running:
		if now {
			q.urgent = true
		}
		return noAction
	}
	q.running = true
	if !now && q.shouldDefer != nil && q.shouldDefer() {
		q.deferred = true
		return deferStart
	}
	return startNow
}

// act carries out claimLocked's answer; the caller has unlocked mu.
func (q *outQueue) act(a writerAction) {
	switch a {
	case startNow:
		q.start()
	case deferStart:
		q.deferTo()
	}
}

// roundStart is the coalescer's round reaching this queue: it starts the
// deferred writer, unless a close has started it already.
func (q *outQueue) roundStart() {
	q.mu.Lock()
	if !q.deferred {
		q.mu.Unlock()
		return
	}
	q.deferred = false
	q.mu.Unlock()
	q.start()
}

// yield is the writer asking, after a write, to stop and wait for the next
// round with the work that has arrived meanwhile. It reports true when the
// writer should go (deferTo has been called for it); false when there is no
// such work or the queue is closed: the writer carries on with next.
func (q *outQueue) yield() bool {
	q.mu.Lock()
	if q.deferTo == nil || q.closed || q.urgent || (len(q.msgs) == 0 && !q.ping) {
		q.mu.Unlock()
		return false
	}
	q.deferred = true
	q.mu.Unlock()
	q.deferTo()
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
	act := q.claimLocked(false)
	q.mu.Unlock()
	q.act(act)
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
	q.urgent = false
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
	act := q.claimLocked(true) // a close never waits for a round
	q.mu.Unlock()
	q.act(act)
}

// highWater returns the largest number of bytes the queue has held.
func (q *outQueue) highWater() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.high
}
