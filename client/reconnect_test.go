package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatd/chatd/api"
	"github.com/chatd/chatd/server"
)

// proxy forwards TCP connections to a target so a test can cut them like a
// network would, and refuse new ones for a while.
type proxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu     sync.Mutex
	pairs  []*pair
	refuse bool
}

type pair struct {
	client, server net.Conn
	held           bool // the client side was cut alone: keep the server side open, as a dead network would
}

func newProxy(t *testing.T, targetURL string) (*proxy, string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(targetURL, "ws://")
	host = host[:strings.Index(host, "/")]
	p := &proxy{ln: ln, target: host}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		_ = ln.Close()
		p.cut(true, true)
		p.wg.Wait()
	})
	return p, "ws://" + ln.Addr().String() + "/ws"
}

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		refuse := p.refuse
		p.mu.Unlock()
		if refuse {
			_ = c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		pr := &pair{client: c, server: s}
		p.mu.Lock()
		p.pairs = append(p.pairs, pr)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() {
			defer p.wg.Done()
			_, _ = io.Copy(s, c)
			p.mu.Lock()
			held := pr.held
			p.mu.Unlock()
			if !held {
				_ = s.(*net.TCPConn).CloseWrite()
			}
		}()
		go func() { defer p.wg.Done(); _, _ = io.Copy(c, s); _ = c.(*net.TCPConn).CloseWrite() }()
	}
}

// cut closes the client side, the server side, or both, of every connection.
func (p *proxy) cut(client, server bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	keep := p.pairs[:0]
	for _, pr := range p.pairs {
		if client && !server {
			pr.held = true
		}
		if client {
			_ = pr.client.Close()
		}
		if server {
			_ = pr.server.Close()
		}
		if !(client && server) {
			keep = append(keep, pr)
		}
	}
	p.pairs = keep
}

func (p *proxy) setRefuse(v bool) {
	p.mu.Lock()
	p.refuse = v
	p.mu.Unlock()
}

func chatTexts(evs []Event, room string) []string {
	var out []string
	for _, ev := range evs {
		if e, ok := ev.Value.(*api.ChatEvent); ok && e.Room == room {
			out = append(out, e.Text)
		}
	}
	return out
}

func isState(st State) func(Event) bool {
	return func(ev Event) bool { e, ok := ev.Value.(*StateChange); return ok && e.State == st }
}

func TestReconnectAfterNetworkLossNoLossNoDuplicates(t *testing.T) {
	url, _ := startServer(t, nil)
	px, purl := newProxy(t, url)
	alice, ar := dial(t, purl, testOptions("alice", "lobby", "dev"))
	bob, _ := dial(t, url, testOptions("bob", "lobby", "dev"))
	ctx := ctxT(t)

	for i := 1; i <= 5; i++ {
		if _, err := bob.Chat(ctx, "lobby", fmt.Sprint("lobby ", i)); err != nil {
			t.Fatal(err)
		}
	}
	ar.waitFor(t, 0, "lobby 5", isChat("lobby", "bob", "lobby 5"))

	px.setRefuse(true)
	px.cut(true, true)
	_, lost := ar.waitFor(t, 0, "reconnecting", isState(StateReconnecting))
	if _, err := alice.Chat(ctx, "lobby", "while away"); !errors.Is(err, ErrNotConnected) && !errors.Is(err, ErrConnectionLost) {
		t.Fatalf("Chat while reconnecting: %v, want ErrNotConnected", err)
	}
	// Said while alice is away: must come back in the replay.
	for i := 6; i <= 10; i++ {
		if _, err := bob.Chat(ctx, "lobby", fmt.Sprint("lobby ", i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := bob.Chat(ctx, "dev", "dev 1"); err != nil {
		t.Fatal(err)
	}
	px.setRefuse(false)

	_, back := ar.waitFor(t, lost, "connected again", isState(StateConnected))
	ar.waitFor(t, lost, "dev 1 replayed", isChat("dev", "bob", "dev 1"))
	// Live again, in both directions.
	if _, err := bob.Chat(ctx, "lobby", "lobby 11"); err != nil {
		t.Fatal(err)
	}
	ar.waitFor(t, back, "lobby 11", isChat("lobby", "bob", "lobby 11"))
	if _, err := alice.Chat(ctx, "lobby", "back"); err != nil {
		t.Fatalf("Chat after reconnect: %v", err)
	}
	ar.waitFor(t, back, "alice's own line", isChat("lobby", "alice", "back"))

	var want []string
	for i := 1; i <= 11; i++ {
		want = append(want, fmt.Sprint("lobby ", i))
	}
	want = append(want, "back")
	if got := chatTexts(ar.all(), "lobby"); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("alice's lobby:\n got %q\nwant %q", got, want)
	}
	if got := chatTexts(ar.all(), "dev"); len(got) != 1 {
		t.Fatalf("alice's dev: %q, want [dev 1] once", got)
	}
	for _, ev := range ar.all() {
		if g, ok := ev.Value.(*Gap); ok {
			t.Fatalf("gap reported although the server had everything: %+v", g)
		}
	}
	if rooms := alice.Rooms(); strings.Join(rooms, ",") != "dev,lobby" {
		t.Fatalf("rooms after reconnect %v", rooms)
	}
}

func TestReconnectAfterServerShutdown1001(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	serve := func(ln net.Listener) (*server.Server, *http.Server) {
		srv, err := server.New(server.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		hs := &http.Server{Handler: srv}
		go func() { _ = hs.Serve(ln) }()
		return srv, hs
	}
	srv1, hs1 := serve(ln)
	alice, ar := dial(t, "ws://"+addr+"/ws", testOptions("alice"))

	ctx := ctxT(t)
	if err := srv1.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	_ = hs1.Close()
	ev, lost := ar.waitFor(t, 0, "reconnecting", isState(StateReconnecting))
	var ce *CloseError
	if err := ev.Value.(*StateChange).Err; !errors.As(err, &ce) || ce.Code != 1001 {
		t.Fatalf("reconnecting because of %v, want close 1001", err)
	}

	ln2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv2, hs2 := serve(ln2)
	t.Cleanup(func() {
		_ = srv2.Shutdown(context.Background())
		_ = hs2.Close()
	})
	ar.waitFor(t, lost, "connected again", isState(StateConnected))
	if _, err := alice.Chat(ctx, "lobby", "new server"); err != nil {
		t.Fatalf("Chat on the new server: %v", err)
	}
}

func TestNameTakenOnReconnectRetriedOnlyWithinGrace(t *testing.T) {
	url, _ := startServer(t, nil)
	px, purl := newProxy(t, url)
	opts := testOptions("alice")
	opts.NameTakenGrace = 100 * time.Millisecond
	_, ar := dial(t, purl, opts)
	px.cut(true, false) // the client's side dies; the server still holds the session
	ev, _ := ar.waitFor(t, 0, "closed", isState(StateClosed))
	if err := ev.Value.(*StateChange).Err; Code(err) != api.CodeNameTaken {
		t.Fatalf("closed with %v, want name_taken after the grace period", err)
	}
	var attempts int
	for _, ev := range ar.all() {
		if sc, ok := ev.Value.(*StateChange); ok && sc.State == StateReconnecting {
			attempts++
		}
	}
	if attempts < 2 {
		t.Fatalf("%d reconnect attempts: name_taken should be retried within the grace period", attempts)
	}
	px.cut(true, true)
}

func TestPolicyCloseIsNotRetried(t *testing.T) {
	url, _ := startServer(t, func(c *server.Config) { c.RatePerSec, c.RateBurst, c.FloodLimit = 1, 1, 3 })
	opts := testOptions("flood")
	opts.NoPacing = true
	s, r := dial(t, url, opts)
	ctx := ctxT(t)
	for i := 0; i < 20; i++ {
		if _, err := s.Chat(ctx, "lobby", "x"); err != nil && Code(err) != api.CodeRateLimited {
			break // the connection went away
		}
	}
	ev, _ := r.waitFor(t, 0, "closed", isState(StateClosed))
	var ce *CloseError
	if err := ev.Value.(*StateChange).Err; !errors.As(err, &ce) || ce.Code != 1008 {
		t.Fatalf("closed with %v, want close 1008", err)
	}
	for _, ev := range r.all() {
		if isState(StateReconnecting)(ev) {
			t.Fatal("reconnected after a 1008 policy close")
		}
	}
}

func TestReconnectReportsGapWhenHistoryWasTooShort(t *testing.T) {
	url, _ := startServer(t, func(c *server.Config) { c.HistorySize = 3 })
	px, purl := newProxy(t, url)
	opts := testOptions("alice")
	opts.HistoryKeep = 3 // what this server promises
	alice, ar := dial(t, purl, opts)
	bob, _ := dial(t, url, testOptions("bob"))
	ctx := ctxT(t)
	if _, err := bob.Chat(ctx, "lobby", "seen"); err != nil {
		t.Fatal(err)
	}
	ar.waitFor(t, 0, "seen", isChat("lobby", "bob", "seen"))

	px.setRefuse(true)
	px.cut(true, true)
	_, lost := ar.waitFor(t, 0, "reconnecting", isState(StateReconnecting))
	for i := 1; i <= 5; i++ { // more than the server keeps
		if _, err := bob.Chat(ctx, "lobby", fmt.Sprint("missed ", i)); err != nil {
			t.Fatal(err)
		}
	}
	px.setRefuse(false)
	ev, ig := ar.waitFor(t, lost, "a gap", func(ev Event) bool { _, ok := ev.Value.(*Gap); return ok })
	g := ev.Value.(*Gap)
	next, _ := ar.waitFor(t, ig+1, "the first kept message", isChat("lobby", "bob", "missed 3"))
	if g.Room != "lobby" || g.Before != next.Value.(*api.ChatEvent).ID {
		t.Fatalf("gap %+v, want lobby before the id of 'missed 3'", g)
	}
	ar.waitFor(t, ig, "missed 5", isChat("lobby", "bob", "missed 5"))
	if got := chatTexts(ar.all(), "lobby"); strings.Join(got, "|") != "seen|missed 3|missed 4|missed 5" {
		t.Fatalf("alice's lobby %q", got)
	}
	_ = alice
}
