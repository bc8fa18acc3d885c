package client

import (
	"testing"
	"time"
)

func TestEventQueueDeliversInOrderThenCloses(t *testing.T) {
	q := newEventQueue(100)
	for i := range 50 {
		if !q.push(Event{Value: i}) {
			t.Fatalf("push %d refused", i)
		}
	}
	q.finish(Event{Value: "last"}, time.Minute)
	if q.push(Event{Value: "late"}) {
		t.Fatal("push after finish accepted")
	}
	var got []any
	for ev := range q.out {
		got = append(got, ev.Value)
	}
	if len(got) != 51 || got[50] != "last" {
		t.Fatalf("got %d events ending in %v", len(got), got[len(got)-1])
	}
	for i := range 50 {
		if got[i] != i {
			t.Fatalf("event %d is %v", i, got[i])
		}
	}
}

func TestEventQueueLimit(t *testing.T) {
	q := newEventQueue(3)
	results := []bool{}
	for i := range 5 {
		results = append(results, q.push(Event{Value: i}))
	}
	// The pump may already hold the first event, so 3 or 4 fit; never all 5.
	if results[0] != true || results[1] != true || results[2] != true || results[4] != false {
		t.Fatalf("push results %v: want the first 3 accepted and the 5th refused", results)
	}
	q.finish(Event{Value: "end"}, 0)
	<-q.done
}

func TestEventQueueAbandonedWhenNobodyReads(t *testing.T) {
	q := newEventQueue(10)
	q.push(Event{Value: 1})
	q.finish(Event{Value: "end"}, 0)
	<-q.done // the pump gives up instead of waiting for a reader forever
}
