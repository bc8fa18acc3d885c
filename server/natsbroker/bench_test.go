package natsbroker

import (
	"context"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chatd/chatd/server"
)

// benchNode is startNode with the rate limit out of the way: benchmarks
// measure delivery, not the limiter. broker nil: the in-memory broker.
func benchNode(b *testing.B, broker server.Broker) string {
	b.Helper()
	cfg := server.DefaultConfig()
	cfg.Broker = broker
	cfg.RatePerSec, cfg.RateBurst, cfg.FloodLimit = 1e9, 1<<30, 1<<30
	cfg.CloseTimeout = time.Second
	srv, err := server.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		hs.Close()
	})
	return "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws"
}

// benchCluster starts n chatd nodes on one embedded NATS server, or one
// node with the in-memory broker when n is 0.
func benchCluster(b *testing.B, n int) []string {
	if n == 0 {
		return []string{benchNode(b, nil)}
	}
	ns := startNATS(b)
	urls := make([]string, n)
	for i := range urls {
		opts := fastOptions()
		opts.NodeTTL, opts.Heartbeat, opts.LostAfter = 10*time.Second, time.Second, 5*time.Second
		opts.MemoryStorage = true
		br, _ := newBroker(b, ns.ClientURL(), opts)
		urls[i] = benchNode(b, br)
	}
	return urls
}

// BenchmarkDeliveryLatency measures the time from a chat's send to its
// arrival at another member, on the same node and across nodes, one
// message at a time; p50 and p99 are reported in microseconds.
func BenchmarkDeliveryLatency(b *testing.B) {
	cases := []struct {
		name            string
		nodes, from, to int
	}{
		{"memory/same-node", 0, 0, 0},
		{"nats/same-node", 2, 0, 0},
		{"nats/cross-node", 2, 0, 1},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			urls := benchCluster(b, c.nodes)
			sender := join(b, urls[c.from], "sender", "lobby")
			receiver := join(b, urls[c.to], "receiver", "lobby")
			sender.expect("receiver's join", func(e env) bool { return e.Type == "join" && e.From == "receiver" })
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				text := fmt.Sprint("m", i)
				start := time.Now()
				sender.send(map[string]any{"type": "chat", "text": text})
				receiver.expect(text, func(e env) bool { return e.Type == "chat" && e.Text == text })
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[min(len(lat)*99/100, len(lat)-1)].Microseconds()), "p99-µs")
		})
	}
}

// BenchmarkFanout sends b.N messages into a room of 40 receivers spread
// over the nodes and reports deliveries per second once every receiver has
// every message.
func BenchmarkFanout(b *testing.B) {
	const receivers = 40
	cases := []struct {
		name  string
		nodes int
	}{
		{"memory/1-node", 0},
		{"nats/1-node", 1},
		{"nats/2-nodes", 2},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			urls := benchCluster(b, c.nodes)
			var wg sync.WaitGroup
			var conns []*websocket.Conn
			ready := make(chan struct{})
			for i := range receivers {
				conn := rawJoin(b, urls[i%len(urls)], fmt.Sprint("r", i))
				conns = append(conns, conn)
				wg.Go(func() {
					<-ready
					got := 0
					for got < b.N {
						var e env
						if err := conn.ReadJSON(&e); err != nil {
							b.Errorf("receiver: %v after %d", err, got)
							return
						}
						if e.Type == "chat" && !e.Replay {
							got++
						}
					}
				})
			}
			sender := rawJoin(b, urls[0], "sender")
			b.ResetTimer()
			start := time.Now()
			close(ready)
			go func() {
				for i := range b.N {
					if err := sender.WriteJSON(map[string]any{"type": "chat", "text": fmt.Sprint(i)}); err != nil {
						b.Errorf("send: %v", err)
						return
					}
				}
			}()
			wg.Wait()
			el := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N*receivers)/el.Seconds(), "deliveries/s")
			for _, conn := range append(conns, sender) {
				_ = conn.Close()
			}
		})
	}
}

// rawJoin connects name to lobby and returns the connection after its join
// event, for readers that do their own reading.
func rawJoin(b *testing.B, url, name string) *websocket.Conn {
	b.Helper()
	d := websocket.Dialer{Subprotocols: []string{"chat.v1"}}
	conn, resp, err := d.Dial(url, nil)
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	b.Cleanup(func() { _ = conn.Close() })
	if err := conn.WriteJSON(map[string]any{"type": "join", "name": name}); err != nil {
		b.Fatal(err)
	}
	for {
		var e env
		if err := conn.ReadJSON(&e); err != nil {
			b.Fatal(err)
		}
		if e.Type == "join" && e.From == name {
			return conn
		}
		if e.Type == "error" {
			b.Fatalf("join %s: %+v", name, e)
		}
	}
}

// BenchmarkBrokerChat is the cost of one Chat call on its own: a
// compare-and-set publish to JetStream and its acknowledgement.
func BenchmarkBrokerChat(b *testing.B) {
	ns := startNATS(b)
	opts := fastOptions()
	opts.MemoryStorage = true
	br, _ := newBroker(b, ns.ClientURL(), opts)
	ctx := context.Background()
	if err := br.ClaimName(ctx, "a", "s"); err != nil {
		b.Fatal(err)
	}
	if err := br.Join(ctx, server.JoinRequest{Room: "r", Name: "a", Session: "s"}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := br.Chat(ctx, "r", "a", "s", "hi", ""); err != nil {
			b.Fatal(err)
		}
	}
}
