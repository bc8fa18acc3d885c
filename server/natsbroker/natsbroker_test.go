package natsbroker

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/chatd/chatd/server"
	"github.com/chatd/chatd/server/brokertest"
)

// TestBroker runs the suite every server.Broker passes against a broker on a
// fresh JetStream each time.
func TestBroker(t *testing.T) {
	brokertest.Run(t, func(t *testing.T) server.Broker {
		ns := startNATS(t)
		nc := connect(t, ns.ClientURL())
		b, err := New(t.Context(), nc, fastOptions())
		if err != nil {
			t.Fatal(err)
		}
		return b // the suite closes it
	})
}

// TestPMOrderAcrossNodes: two users on two nodes write to each other at
// once; both nodes see the conversation in one order with increasing ids.
func TestPMOrderAcrossNodes(t *testing.T) {
	ns := startNATS(t)
	b1, _ := newBroker(t, ns.ClientURL(), fastOptions())
	b2, _ := newBroker(t, ns.ClientURL(), fastOptions())
	r1, r2 := brokertest.Subscribe(t, b1), brokertest.Subscribe(t, b2)
	ctx := t.Context()
	if err := b1.ClaimName(ctx, "alice", "s1"); err != nil {
		t.Fatal(err)
	}
	if err := b2.ClaimName(ctx, "bob", "s2"); err != nil {
		t.Fatal(err)
	}
	const each = 25
	var wg sync.WaitGroup
	for _, s := range []struct {
		b              *Broker
		from, sess, to string
	}{{b1, "alice", "s1", "bob"}, {b2, "bob", "s2", "alice"}} {
		wg.Go(func() {
			for i := range each {
				if err := s.b.PM(ctx, s.from, s.sess, s.to, fmt.Sprint(s.from, i), ""); err != nil {
					t.Errorf("PM: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	isPM := brokertest.Of(server.EventPM, "")
	a, c := r1.WaitFor(t, 2*each, isPM), r2.WaitFor(t, 2*each, isPM)
	for i := range a {
		if a[i].ID != c[i].ID {
			t.Fatalf("nodes disagree at %d: %s vs %s", i, a[i].ID, c[i].ID)
		}
		if i > 0 && a[i].ID <= a[i-1].ID {
			t.Fatalf("pm id %s after %s", a[i].ID, a[i-1].ID)
		}
	}
	if err := b1.PM(ctx, "alice", "s1", "carol", "hi", ""); !errors.Is(err, server.ErrUnknownUser) {
		t.Errorf("PM to nobody = %v, want ErrUnknownUser", err)
	}
}

// TestNewAfterTheTailWasDeleted: a node starting on a stream whose last
// records are gone (expired private messages) does not wait for them.
func TestNewAfterTheTailWasDeleted(t *testing.T) {
	ns := startNATS(t)
	b1, _ := newBroker(t, ns.ClientURL(), fastOptions())
	ctx := t.Context()
	for _, n := range []string{"alice", "bob"} {
		if err := b1.ClaimName(ctx, n, n); err != nil {
			t.Fatal(err)
		}
	}
	if err := b1.Join(ctx, server.JoinRequest{Room: "lobby", Name: "alice", Session: "alice"}); err != nil {
		t.Fatal(err)
	}
	if err := b1.PM(ctx, "alice", "alice", "bob", "gone soon", ""); err != nil {
		t.Fatal(err)
	}
	info, err := b1.stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := b1.stream.DeleteMsg(ctx, info.State.LastSeq); err != nil {
		t.Fatal(err)
	}
	b2, _ := newBroker(t, ns.ClientURL(), fastOptions()) // fails the test if New times out
	if users, err := b2.Members(ctx, "lobby"); err != nil || len(users) != 1 || users[0] != "alice" {
		t.Errorf("the new node's lobby = %v, %v; want alice", users, err)
	}
}
