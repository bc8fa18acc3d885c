// Command rawfanout measures a reference for chatbench's fanout scenario on
// the machine at hand: the same fan-out with everything but the sockets
// taken away — no WebSocket framing, no JSON, no rooms. Like chatbench and
// its server it runs as two processes. The child is the "server": a hub
// goroutine reads fixed-size messages from one sender connection and queues
// each on every receiver connection's 256-slot channel, and a writer
// goroutine per connection writes each message with one write, as the
// baseline's write pumps do. The parent is the load generator: it offers one
// message every 1/rate on the sender connection and has a reader goroutine
// per receiver connection, as chatbench's client does; latency runs from
// each message's intended send time, carried in its first 8 bytes, to its
// arrival, in the HDR recorder chatbench uses.
//
//	go run ./cmd/chatbench/rawfanout --conns 1000 --size 150 --duration 3s 25 50 100 150 200
//
// Server and client CPU per delivery are reported apart, as chatbench does.
// What a WebSocket server writing one frame per delivery holds can be read
// against it: the gap is what framing, JSON and the hub cost, the rest is
// the machine and the load generator.
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/chatd/chatd/cmd/chatbench/internal/bench"
)

// Each connection's first byte says what it is to the child.
const (
	roleSender   = 's'
	roleReceiver = 'r'
	ready        = 'k' // the child's answer on the sender connection once every receiver is in
)

// config is one measurement: conns receivers, size-byte messages, each rate
// offered for duration.
type config struct {
	conns    int
	size     int
	duration time.Duration
	drain    time.Duration
	rates    []float64
}

// step is what one offered rate gave.
type step struct {
	Rate             float64
	Sent             int64
	Delivered        int64
	DeliveriesPerSec float64
	Latency          bench.Summary
	ServerCPU        float64 // µs per delivery, the child (hub and writers)
	ClientCPU        float64 // µs per delivery, this process (pacer and readers)
}

// client is the parent's side of one measurement.
type client struct {
	cfg       config
	epoch     time.Time
	sender    net.Conn
	receivers []net.Conn
	lat       *bench.Recorder
	delivered atomic.Int64
	serverCPU func() (time.Duration, error)
	wg        sync.WaitGroup
}

// measure starts the child (exe run with --serve-child), connects, offers
// every rate in turn and tears everything down.
func measure(ctx context.Context, cfg config, exe string) ([]step, error) {
	if cfg.size < 8 {
		return nil, errors.New("size must be at least 8 bytes (the send time)")
	}
	t, err := bench.StartChild(ctx, "rawfanout", exe, []string{"--serve-child", "127.0.0.1:0", "--size", fmt.Sprint(cfg.size), "--conns", fmt.Sprint(cfg.conns)})
	if err != nil {
		return nil, err
	}
	defer t.Close()
	addr := strings.TrimSuffix(strings.TrimPrefix(t.URL, "ws://"), "/ws")
	c := &client{cfg: cfg, epoch: time.Now(), lat: bench.NewRecorder(), serverCPU: t.CPU}
	defer c.close()
	if err := c.connect(ctx, addr); err != nil {
		return nil, err
	}
	var steps []step
	for _, r := range cfg.rates {
		if ctx.Err() != nil {
			return steps, ctx.Err()
		}
		steps = append(steps, c.offer(ctx, r))
	}
	return steps, nil
}

// connect opens the receivers, each with its reader, then the sender, and
// waits until the child has every receiver.
func (c *client) connect(ctx context.Context, addr string) error {
	var d net.Dialer
	for i := 0; i < c.cfg.conns; i++ {
		nc, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		c.receivers = append(c.receivers, nc)
		if _, err := nc.Write([]byte{roleReceiver}); err != nil {
			return err
		}
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.read(i, nc)
		}()
	}
	s, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	c.sender = s
	if _, err := s.Write([]byte{roleSender}); err != nil {
		return err
	}
	var b [1]byte
	_ = s.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err = io.ReadFull(s, b[:])
	_ = s.SetReadDeadline(time.Time{})
	if err != nil || b[0] != ready {
		return fmt.Errorf("child did not report its %d receivers: %v", c.cfg.conns, err)
	}
	return nil
}

// read cuts the byte stream into messages and records each one's latency.
func (c *client) read(i int, nc net.Conn) {
	buf := make([]byte, 4096)
	var acc []byte // bytes read, not yet a whole message
	for {
		n, err := nc.Read(buf)
		now := time.Since(c.epoch)
		acc = append(acc, buf[:n]...)
		k := 0
		for ; len(acc)-k >= c.cfg.size; k += c.cfg.size {
			sent := time.Duration(binary.LittleEndian.Uint64(acc[k:]))
			c.lat.Record(i, now-sent)
			c.delivered.Add(1)
		}
		acc = acc[:copy(acc, acc[k:])]
		if err != nil {
			return
		}
	}
}

// offer sends rate msgs/s for the duration, evenly spaced, and waits up to
// drain for every receiver to have every message.
func (c *client) offer(ctx context.Context, rate float64) step {
	c.lat.Snapshot(true)
	d0 := c.delivered.Load()
	srv0, _ := c.serverCPU()
	cli0 := selfCPU()
	start := time.Since(c.epoch)
	total := int64(rate * c.cfg.duration.Seconds())
	m := make([]byte, c.cfg.size)
	var sent int64
	for k := int64(0); k < total && ctx.Err() == nil; k++ {
		due := start + time.Duration(float64(k)*float64(time.Second)/rate)
		if wait := due - time.Since(c.epoch); wait > 0 {
			time.Sleep(wait)
		}
		binary.LittleEndian.PutUint64(m, uint64(due))
		if _, err := c.sender.Write(m); err != nil {
			break
		}
		sent++
	}
	want := d0 + sent*int64(len(c.receivers))
	deadline := time.Now().Add(c.cfg.duration + c.cfg.drain)
	for c.delivered.Load() < want && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(2 * time.Millisecond)
	}
	elapsed := time.Since(c.epoch) - start
	srv1, srvErr := c.serverCPU()
	s := step{Rate: rate, Sent: sent, Delivered: c.delivered.Load() - d0, Latency: bench.Summarize(c.lat.Snapshot(true))}
	s.DeliveriesPerSec = float64(s.Delivered) / max(elapsed, c.cfg.duration).Seconds()
	if s.Delivered > 0 {
		if srvErr == nil {
			s.ServerCPU = float64(srv1-srv0) / float64(time.Microsecond) / float64(s.Delivered)
		}
		s.ClientCPU = float64(selfCPU()-cli0) / float64(time.Microsecond) / float64(s.Delivered)
	}
	return s
}

// close ends the connections and waits for the readers.
func (c *client) close() {
	if c.sender != nil {
		c.sender.Close()
	}
	for _, nc := range c.receivers {
		nc.Close()
	}
	c.wg.Wait()
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// serveChild is the child: it listens on addr, announces the address on out
// as chatbench's children do, fans out until stdin reaches EOF, then closes
// everything.
func serveChild(addr string, size, conns int, out io.Writer, stdin io.Reader) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "listening %s\n", ln.Addr())
	h := &hub{size: size, conns: conns}
	done := make(chan struct{})
	go func() { h.accept(ln); close(done) }()
	_, _ = io.Copy(io.Discard, stdin)
	ln.Close()
	<-done
	h.close()
	return nil
}

// hub is the child's state: the receivers' queues and the connections.
type hub struct {
	size  int
	conns int // receivers to wait for before answering the sender

	mu      sync.Mutex
	queues  []chan []byte
	open    []net.Conn
	senders sync.WaitGroup // hub loops: done before the queues close
	writers sync.WaitGroup
}

// accept takes connections until the listener closes: receivers get a
// writer, a sender gets the hub loop.
func (h *hub) accept(ln net.Listener) {
	for {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		h.mu.Lock()
		h.open = append(h.open, nc)
		h.mu.Unlock()
		var role [1]byte
		if _, err := io.ReadFull(nc, role[:]); err != nil {
			continue
		}
		switch role[0] {
		case roleReceiver:
			q := make(chan []byte, 256)
			h.mu.Lock()
			h.queues = append(h.queues, q)
			h.mu.Unlock()
			h.writers.Add(1)
			go func() {
				defer h.writers.Done()
				write(nc, q)
			}()
		case roleSender:
			h.senders.Add(1)
			go func() {
				defer h.senders.Done()
				h.run(nc)
			}()
		}
	}
}

// write is a receiver's writer: one write per message. After a failed
// write it keeps taking messages so the hub never blocks on it.
func write(nc net.Conn, q chan []byte) {
	for m := range q {
		if _, err := nc.Write(m); err != nil {
			break
		}
	}
	for range q {
	}
}

// run is the hub loop: every message from the sender goes to every
// receiver's queue. The parent connects the sender after all receivers,
// and accept reads each role byte before taking the next connection, so
// every receiver is registered by now; ready tells the parent so.
func (h *hub) run(sender net.Conn) {
	r := bufio.NewReaderSize(sender, 64<<10)
	h.mu.Lock()
	n := len(h.queues)
	h.mu.Unlock()
	if n != h.conns {
		return // the parent sees the connection close instead of ready
	}
	if _, err := sender.Write([]byte{ready}); err != nil {
		return
	}
	h.mu.Lock()
	queues := h.queues
	h.mu.Unlock()
	for {
		m := make([]byte, h.size)
		if _, err := io.ReadFull(r, m); err != nil {
			return
		}
		for _, q := range queues {
			q <- m
		}
	}
}

// close ends every connection, waits for the hub loops (which fail on the
// closed sender) and then ends the writers.
func (h *hub) close() {
	h.mu.Lock()
	for _, nc := range h.open {
		nc.Close()
	}
	h.mu.Unlock()
	h.senders.Wait()
	h.mu.Lock()
	for _, q := range h.queues {
		close(q)
	}
	h.mu.Unlock()
	h.writers.Wait()
}

// report prints one line per step.
func report(w io.Writer, cfg config, steps []step) {
	for _, s := range steps {
		fmt.Fprintf(w, "raw fan-out %6.1f msg/s x %d conns: %d/%d delivered, %.0f deliveries/s, p50 %.1f ms, p99 %.1f ms, max %.1f ms; µs CPU/delivery: server %.2f, client %.2f\n",
			s.Rate, cfg.conns, s.Delivered, s.Sent*int64(cfg.conns), s.DeliveriesPerSec,
			float64(s.Latency.P50)/1e3, float64(s.Latency.P99)/1e3, float64(s.Latency.Max)/1e3, s.ServerCPU, s.ClientCPU)
	}
}
