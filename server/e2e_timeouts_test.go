package server_test

// PROTOCOL.md §1 "Heartbeat": the join timeout (1008 join_timeout) and the idle
// timeout (1001 idle_timeout), with short configured values on the real clock.

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chatd/chatd/server"
)

// Short, but with room for a loaded 2-core CI machine running -race: a reader
// starved for a quarter of a second must not look idle.
const (
	shortJoin = 800 * time.Millisecond
	shortIdle = time.Second
)

// keepSending writes msg every interval until the connection fails or stop closes.
func keepSending(c *client, msg string, interval time.Duration, stop <-chan struct{}, wg *sync.WaitGroup) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			c.wmu.Lock()
			_ = c.ws.SetWriteDeadline(time.Now().Add(guard))
			err := c.ws.WriteMessage(websocket.TextMessage, []byte(msg))
			c.wmu.Unlock()
			if err != nil {
				return
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
}

func TestE2EJoinTimeout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		cfg   func(*server.Config)
		keep  string // sent every 25 ms until the close; "" = silent
		skip  string // the error code those messages get
		close bool
		raw   bool // a raw client that never answers pings
	}{
		{name: "silent client", close: true},
		{name: "non-join messages do not extend it", keep: `{"type":"who"}`, skip: "not_joined", close: true},
		{name: "failed joins do not extend it", keep: `{"type":"join","name":"-bad-"}`, skip: "invalid_message", close: true},
		{name: "garbage does not extend it", keep: `{oops`, skip: "invalid_json", close: true},
		// A raw client that answers no pings: were the idle timeout applied before the
		// join, it would close with 1001 long before the join timeout.
		{name: "only the join timeout applies before the join", close: true, raw: true, cfg: func(c *server.Config) {
			c.JoinTimeout, c.IdleTimeout, c.PingInterval = 2*shortIdle, shortIdle/4, shortIdle/8
		}},
		{name: "a successful join ends it", close: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := start(t, func(c *server.Config) {
				c.JoinTimeout = shortJoin
				c.RatePerSec, c.RateBurst = 1000, 1000
				if tc.cfg != nil {
					tc.cfg(c)
				}
			})
			if tc.raw {
				r := h.rawDial(t, nil)
				if ci, _ := r.readClose(false); ci.code != 1008 || ci.reason != "join_timeout" {
					t.Fatalf("close %v, want 1008 join_timeout", ci)
				}
				return
			}
			c := h.dial(t, dialOpts{})
			c.name = "late"
			if !tc.close {
				c.join(map[string]any{"name": "late"}, true)
				time.Sleep(3 * shortJoin) // the negative needs time to pass; nothing to wait on
				c.who("lobby")
				return
			}
			var wg sync.WaitGroup
			stop := make(chan struct{})
			if tc.keep != "" {
				keepSending(c, tc.keep, 25*time.Millisecond, stop, &wg)
			}
			refused := 0
			ce := c.closeErr(func(e env) bool {
				if e.typ() != "error" || e.s("code") != tc.skip {
					t.Errorf("before the join timeout: %s", e)
				}
				refused++
				return true
			})
			close(stop)
			wg.Wait()
			if ce.Code != 1008 || ce.Text != "join_timeout" {
				t.Fatalf("close %d %q, want 1008 join_timeout", ce.Code, ce.Text)
			}
			if tc.keep != "" && refused == 0 {
				t.Fatalf("no message was answered before the timeout")
			}
		})
	}
}

func TestE2EIdleTimeout(t *testing.T) {
	t.Parallel()
	h := start(t, func(c *server.Config) {
		c.IdleTimeout, c.PingInterval, c.CloseTimeout = shortIdle, shortIdle/4, shortIdle
	})
	tests := []struct {
		name string
		act  func(t *testing.T, r *rawClient, room string)
		idle bool
	}{
		{name: "silent client, pings unanswered", idle: true, act: func(t *testing.T, r *rawClient, room string) {}},
		{name: "stalled inside a frame", idle: true, act: func(t *testing.T, r *rawClient, room string) {
			f := frame{fin: true, op: opText, length: 100, payload: []byte(`{"type":"c`)}
			r.write(f.encode())
		}},
		{name: "trickled bytes are traffic", idle: false, act: func(t *testing.T, r *rawClient, room string) {
			b := frame{fin: true, op: opText, payload: []byte(`{"type":"who","room":"` + room + `","ref":"slow"}`)}.encode()
			// One byte every quarter idle timeout across four idle timeouts, then
			// the rest: only the bytes keep the connection alive.
			for i := range 16 {
				r.write(b[i : i+1])
				time.Sleep(shortIdle / 4)
			}
			r.write(b[16:])
			if e := r.next(); e.typ() != "presence" || e.s("ref") != "slow" {
				t.Fatalf("want the who answer, got %s", e)
			}
		}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := h.rawDial(t, nil)
			name, room := fmt.Sprintf("idle%d", i), fmt.Sprintf("i%02d", i)
			obs, _ := h.joinAs(t, "obs"+name, room) // answers pings: stays
			r.join(name, room)
			obs.expectEvent("join", room, name)
			tc.act(t, r, room)
			if !tc.idle {
				obs.chat(room, "marker") // no leave before this
				r.writeFrames(frame{fin: true, op: opClose, payload: closePayload(1000, "")})
				r.readClose(false)
				if l := obs.expectEvent("leave", room, name); l.s("reason") != "left" {
					t.Fatalf("leave reason %q, want left", l.s("reason"))
				}
				return
			}
			ci, _ := r.readClose(false)
			if ci.code != 1001 || ci.reason != "idle_timeout" {
				t.Fatalf("close %v, want 1001 idle_timeout", ci)
			}
			if l := obs.expectEvent("leave", room, name); l.s("reason") != "timeout" {
				t.Fatalf("leave reason %q, want timeout", l.s("reason"))
			}
		})
	}

	t.Run("pongs are traffic", func(t *testing.T) {
		obs, _ := h.joinAs(t, "observer", "lobby")
		c, _ := h.joinAs(t, "ponger", "lobby") // gorilla answers pings while reading
		obs.expectEvent("join", "lobby", "ponger")
		time.Sleep(3 * shortIdle) // the negative needs time to pass
		c.who("lobby")
		obs.chat("lobby", "still no leave")
		c.expectChat("lobby", "observer", "still no leave")
	})
}
