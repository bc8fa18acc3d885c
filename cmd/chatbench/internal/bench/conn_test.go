package bench

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// scriptConn replays frames to the reader, then ends with err.
type scriptConn struct {
	mu     sync.Mutex
	frames []string
	err    error
}

func (s *scriptConn) ReadText(dst []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.frames) == 0 {
		return dst, s.err
	}
	f := s.frames[0]
	s.frames = s.frames[1:]
	return append(dst, f...), nil
}
func (s *scriptConn) WriteText([]byte) error { return nil }
func (s *scriptConn) CloseNow() error        { return nil }

func TestReadLoop(t *testing.T) {
	st := newRunStats()
	own := string(appendText(nil, st.now(), 7, 0, 20))
	other := string(appendText(nil, st.now(), 3, 0, 20))
	frames := []string{
		`{"type":"welcome","name":"u7","server":{"name":"chatd"}}`,
		`{"type":"join","room":"r","from":"u3"}`,
		`{"type":"join","room":"r","from":"u7"}`,
		`{"type":"chat","room":"r","from":"u7","text":"` + own + `"}`,
		`{"type":"chat","room":"r","from":"u3","text":"` + other + `"}`,
		`{"type":"chat","room":"r","from":"u3","text":"` + other + `","replay":true}`,
		`{"type":"pm","from":"u3","to":"u7","text":"` + other + `"}`,
		`{"type":"chat","room":"r","from":"x","text":"hello from a person"}`,
		`{"type":"error","code":"not_member","message":"no"}`,
		`not json`,
	}
	tests := []struct {
		name       string
		end        error
		leaving    bool
		wantClosed int64
	}{
		{"server closes", &ClosedError{Code: 1008, Reason: "slow_consumer"}, false, 1},
		{"we close", io.EOF, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newRunStats()
			c := newClient(7, "u7", "r", &scriptConn{frames: frames, err: tt.end}, st)
			c.leaving.Store(tt.leaving)
			c.readLoop()
			if got := c.delivered.Load(); got != 3 {
				t.Errorf("delivered %d, want 3 (own chat, other's chat, pm; not the replay or the foreign text)", got)
			}
			if got := st.delivery.Snapshot(false).TotalCount(); got != 3 {
				t.Errorf("%d delivery latencies", got)
			}
			if got := st.rtt.Snapshot(false).TotalCount(); got != 1 {
				t.Errorf("%d round trips, want 1", got)
			}
			if st.foreign.Load() != 1 {
				t.Errorf("foreign %d", st.foreign.Load())
			}
			if len(c.joined) != 1 || len(c.echo) != 1 {
				t.Errorf("joined %d echo %d tokens", len(c.joined), len(c.echo))
			}
			// the error envelope, the unreadable frame, and a close we did not ask for
			if got, want := st.errors.Load(), 2+tt.wantClosed; got != want {
				t.Errorf("errors %d, want %d (first %q)", got, want, *st.firstErr.Load())
			}
			if st.closed.Load() != tt.wantClosed {
				t.Errorf("closed %d", st.closed.Load())
			}
			var ce *ClosedError
			if errors.As(tt.end, &ce) && c.closeCode() != ce.Code {
				t.Errorf("close code %d", c.closeCode())
			}
		})
	}
}

func TestWaitFor(t *testing.T) {
	st := newRunStats()
	c := newClient(1, "u1", "r", &scriptConn{err: io.EOF}, st)
	signal(c.joined)
	if err := c.waitFor(t.Context(), c.joined, time.Minute, "join"); err != nil {
		t.Errorf("token waiting: %v", err)
	}
	go c.readLoop() // ends at once: EOF
	if err := c.waitFor(t.Context(), c.echo, time.Minute, "echo"); err == nil || !errors.Is(err, io.EOF) {
		t.Errorf("ended reader: %v", err)
	}
}

func TestSourceIP(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		ip := sourceIP(i)
		if !ip.IsLoopback() || ip.Equal(net.IPv4(127, 0, 0, 1)) || ip.To4()[3] < 2 || ip.To4()[3] > 254 {
			t.Fatalf("sourceIP(%d) = %v", i, ip)
		}
		seen[ip.String()] = true
	}
	if len(seen) != 253 {
		t.Errorf("%d distinct addresses, want 253", len(seen))
	}
}
