package bench

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// startTCPEcho serves the raw TCP echo in-process on 127.0.0.1.
func startTCPEcho(t *testing.T) *Target {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- ServeTCPEcho(ln) }()
	t.Cleanup(func() {
		ln.Close()
		if err := <-done; !errors.Is(err, net.ErrClosed) {
			t.Errorf("ServeTCPEcho returned %v, want net.ErrClosed", err)
		}
	})
	return &Target{Name: EchoTCP, URL: "ws://" + ln.Addr().String() + "/ws", Close: func() error { return nil }}
}

// startWSEcho serves the WebSocket echo in-process on 127.0.0.1.
func startWSEcho(t *testing.T) *Target {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/ws", WSEchoHandler())
	ts := httptest.NewServer(mux)
	t.Cleanup(func() {
		ts.CloseClientConnections()
		ts.Close()
	})
	return &Target{Name: EchoWS, URL: "ws" + strings.TrimPrefix(ts.URL, "http") + "/ws", Close: func() error { return nil }}
}

// TestFloor runs the floor against both echo servers and checks that the
// counts add up: every message paced out came back once and was timed once,
// and the back-to-back part timed every message it sent.
func TestFloor(t *testing.T) {
	for _, tt := range []struct {
		name  string
		start func(*testing.T) *Target
	}{
		{EchoTCP, startTCPEcho},
		{EchoWS, startWSEcho},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := testOptions("latency")
			o.Rate, o.Duration = 20, 300*time.Millisecond
			rs, err := Floor(context.Background(), o, tt.start(t), 100*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != 2 {
				t.Fatalf("%d results, want paced and back-to-back", len(rs))
			}
			for _, r := range rs {
				if r.Scenario != "floor" || r.Server != tt.name || r.Conns != 1 {
					t.Errorf("result %s on %s with %d conns", r.Scenario, r.Server, r.Conns)
				}
				if r.Missing != 0 || r.Extra != 0 || r.Errors != 0 || r.Foreign != 0 {
					t.Errorf("missing %d, extra %d, errors %d (%s), foreign %d", r.Missing, r.Extra, r.Errors, r.FirstError, r.Foreign)
				}
			}
			paced, b2b := rs[0], rs[1]
			if want := int64(20 * 0.3); paced.RTT == nil || paced.RTT.Count != want {
				t.Errorf("paced: rtt %+v, want %d samples", paced.RTT, want)
			}
			if paced.Rate != 20 {
				t.Errorf("paced rate %v, want the offered 20", paced.Rate)
			}
			if b2b.RTT == nil || b2b.RTT.Count == 0 {
				t.Fatalf("back-to-back: rtt %+v", b2b.RTT)
			}
			if got := b2b.Rate * b2b.Duration; int64(got+0.5) != b2b.RTT.Count {
				t.Errorf("back-to-back: rate %v × %v s = %v, want the %d round trips", b2b.Rate, b2b.Duration, got, b2b.RTT.Count)
			}
		})
	}
}

// TestFloorWithoutBackToBack gives the paced result alone.
func TestFloorWithoutBackToBack(t *testing.T) {
	o := testOptions("latency")
	o.Rate, o.Duration = 20, 100*time.Millisecond
	rs, err := Floor(context.Background(), o, startTCPEcho(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].RTT.Count != 2 {
		t.Fatalf("results %+v", rs)
	}
}

// TestFloorCountsLostEchoes proves the floor's accounting can fail: an echo
// that swallows every other line leaves messages missing.
func TestFloorCountsLostEchoes(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns connSet
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			conns.add(nc, func() {
				r := bufio.NewReader(nc)
				for n := 0; ; n++ {
					line, err := r.ReadBytes('\n')
					if err != nil {
						return
					}
					if n%2 == 0 {
						if _, err := nc.Write(line); err != nil {
							return
						}
					}
				}
			})
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done; conns.closeAll() })
	o := testOptions("latency")
	o.Rate, o.Duration, o.Drain = 20, 200*time.Millisecond, 100*time.Millisecond
	target := &Target{Name: EchoTCP, URL: "ws://" + ln.Addr().String() + "/ws"}
	rs, err := Floor(context.Background(), o, target, 0)
	if err != nil {
		t.Fatal(err)
	}
	if r := rs[0]; r.Missing != 2 || r.RTT.Count != 2 {
		t.Errorf("missing %d, %d round trips; want 2 and 2 of 4 sent", r.Missing, r.RTT.Count)
	}
}

// TestLineConn checks the raw TCP framing both ways, including a line
// longer than the read buffer.
func TestLineConn(t *testing.T) {
	tests := []struct {
		name string
		msgs []string
	}{
		{"one", []string{`{"type":"chat"}`}},
		{"several", []string{"a", "bb", "ccc"}},
		{"longer than the buffer", []string{strings.Repeat("x", 10000), "y"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := startTCPEcho(t)
			c, err := LineDialer()(context.Background(), target.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow()
			for _, m := range tt.msgs {
				if err := c.WriteText([]byte(m)); err != nil {
					t.Fatal(err)
				}
			}
			for _, m := range tt.msgs {
				got, err := c.ReadText([]byte("prefix:"))
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != "prefix:"+m {
					t.Errorf("read %d bytes, want %d", len(got), len("prefix:"+m))
				}
			}
			c.CloseNow()
			if _, err := c.ReadText(nil); err == nil {
				t.Error("read after close succeeded")
			}
		})
	}
}
