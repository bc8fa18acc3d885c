package client

import (
	"sync"
	"time"
)

// eventQueue hands events from the reader to the caller's channel without
// ever making the reader wait: push appends to a slice, and one pump
// goroutine moves events to the unbuffered out channel in order.
type eventQueue struct {
	out   chan Event
	limit int

	mu       sync.Mutex
	items    []Event
	wake     chan struct{} // capacity 1: "items changed or finished"
	finished bool          // no more pushes; close out after draining
	abandon  chan struct{} // closed when the drain timeout passes
	drainT   *time.Timer
	done     chan struct{} // closed when the pump has returned
}

func newEventQueue(limit int) *eventQueue {
	q := &eventQueue{
		out:     make(chan Event),
		limit:   limit,
		wake:    make(chan struct{}, 1),
		abandon: make(chan struct{}),
		done:    make(chan struct{}),
	}
	go q.pump()
	return q
}

// push queues ev; it reports false (and queues nothing) when the caller has
// fallen limit events behind or the queue is finished.
func (q *eventQueue) push(ev Event) bool {
	q.mu.Lock()
	if q.finished || len(q.items) >= q.limit {
		q.mu.Unlock()
		return false
	}
	q.items = append(q.items, ev)
	q.mu.Unlock()
	q.signal()
	return true
}

// finish queues the last event and arranges for the channel to be closed after
// it; undelivered events are dropped after drain if nobody reads them, so a
// caller that never drains does not keep the pump goroutine forever.
func (q *eventQueue) finish(last Event, drain time.Duration) {
	q.mu.Lock()
	if q.finished {
		q.mu.Unlock()
		return
	}
	q.items = append(q.items, last)
	q.finished = true
	q.drainT = time.AfterFunc(drain, func() { close(q.abandon) })
	q.mu.Unlock()
	q.signal()
}

func (q *eventQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *eventQueue) pump() {
	defer close(q.done)
	defer close(q.out)
	defer func() {
		q.mu.Lock()
		if q.drainT != nil {
			q.drainT.Stop()
		}
		q.mu.Unlock()
	}()
	for {
		q.mu.Lock()
		if len(q.items) == 0 {
			fin := q.finished
			q.mu.Unlock()
			if fin {
				return
			}
			<-q.wake
			continue
		}
		ev := q.items[0]
		q.items[0] = Event{}
		q.items = q.items[1:]
		q.mu.Unlock()
		select {
		case q.out <- ev:
		case <-q.abandon:
			return
		}
	}
}
