// Command rawfanout measures the machine's floor for chatbench's fanout
// scenario: the same fan-out (M loopback connections, one message every
// 1/rate, every message to every connection) with everything but the
// sockets taken away — no WebSocket framing, no JSON, no hub, no rooms. Each
// connection has a writer goroutine fed by a 256-slot channel that writes
// each message with one write (as the baseline's write pump does) and a
// reader goroutine (as chatbench's client has); latency runs from each
// message's intended send time, carried in its first 8 bytes, to its
// arrival, in the same HDR recorder chatbench uses.
//
//	go run ./cmd/chatbench/rawfanout --conns 1000 --size 150 --duration 3s 12 25 50 100 150 200
//
// Writers and readers share one process, so its CPU time per delivery is
// the two sides together, comparable with chatbench's server plus client
// CPU per delivery. A server that writes one frame per delivery cannot hold
// a rate at p99 <= 50 ms on a machine where this does not.
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/chatd/chatd/cmd/chatbench/internal/bench"
)

// config is one measurement: conns connections, size-byte messages, each
// rate offered for duration.
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
	CPUPerDelivery   float64 // µs, writers and readers together
}

// fanout is the connections of one measurement.
type fanout struct {
	cfg       config
	epoch     time.Time
	queues    []chan []byte
	lat       *bench.Recorder
	delivered atomic.Int64
	ln        net.Listener
	conns     []net.Conn // both ends, closed at the end
	wg        sync.WaitGroup
}

// measure opens the connections, offers every rate in turn and closes them.
func measure(ctx context.Context, cfg config) ([]step, error) {
	if cfg.size < 8 {
		return nil, errors.New("size must be at least 8 bytes (the send time)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &fanout{cfg: cfg, epoch: time.Now(), lat: bench.NewRecorder(), ln: ln}
	defer f.close()
	for i := 0; i < cfg.conns; i++ {
		if err := f.open(i); err != nil {
			return nil, err
		}
	}
	var steps []step
	for _, r := range cfg.rates {
		if ctx.Err() != nil {
			return steps, ctx.Err()
		}
		steps = append(steps, f.offer(ctx, r))
	}
	return steps, nil
}

// open connects one client to the listener and starts its reader and the
// server end's writer.
func (f *fanout) open(i int) error {
	c, err := net.Dial("tcp", f.ln.Addr().String())
	if err != nil {
		return err
	}
	s, err := f.ln.Accept()
	if err != nil {
		c.Close()
		return err
	}
	q := make(chan []byte, 256)
	f.queues = append(f.queues, q)
	f.conns = append(f.conns, c, s)
	f.wg.Add(2)
	go func() {
		defer f.wg.Done()
		for m := range q {
			if _, err := s.Write(m); err != nil {
				return
			}
		}
	}()
	go func() {
		defer f.wg.Done()
		f.read(i, c)
	}()
	return nil
}

// read cuts the byte stream into messages and records each one's latency.
func (f *fanout) read(i int, c net.Conn) {
	buf := make([]byte, 4096)
	var acc []byte // bytes read, not yet a whole message
	for {
		n, err := c.Read(buf)
		now := time.Since(f.epoch)
		acc = append(acc, buf[:n]...)
		k := 0
		for ; len(acc)-k >= f.cfg.size; k += f.cfg.size {
			sent := time.Duration(binary.LittleEndian.Uint64(acc[k:]))
			f.lat.Record(i, now-sent)
			f.delivered.Add(1)
		}
		acc = acc[:copy(acc, acc[k:])]
		if err != nil {
			return
		}
	}
}

// offer sends rate msgs/s for the duration, evenly spaced, each to every
// connection, and waits up to drain for the deliveries.
func (f *fanout) offer(ctx context.Context, rate float64) step {
	f.lat.Snapshot(true)
	d0 := f.delivered.Load()
	cpu0 := selfCPU()
	start := time.Since(f.epoch)
	total := int64(rate * f.cfg.duration.Seconds())
	for k := int64(0); k < total && ctx.Err() == nil; k++ {
		due := start + time.Duration(float64(k)*float64(time.Second)/rate)
		if wait := due - time.Since(f.epoch); wait > 0 {
			time.Sleep(wait)
		}
		m := make([]byte, f.cfg.size)
		binary.LittleEndian.PutUint64(m, uint64(due))
		for _, q := range f.queues {
			q <- m
		}
	}
	want := d0 + total*int64(len(f.queues))
	deadline := time.Now().Add(f.cfg.duration + f.cfg.drain)
	for f.delivered.Load() < want && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(2 * time.Millisecond)
	}
	elapsed := time.Since(f.epoch) - start
	s := step{Rate: rate, Sent: total, Delivered: f.delivered.Load() - d0,
		Latency: bench.Summarize(f.lat.Snapshot(true))}
	s.DeliveriesPerSec = float64(s.Delivered) / max(elapsed, f.cfg.duration).Seconds()
	if s.Delivered > 0 {
		s.CPUPerDelivery = float64(selfCPU()-cpu0) / float64(time.Microsecond) / float64(s.Delivered)
	}
	return s
}

// close stops the writers and readers and waits for them.
func (f *fanout) close() {
	for _, q := range f.queues {
		close(q)
	}
	for _, c := range f.conns {
		c.Close()
	}
	f.ln.Close()
	f.wg.Wait()
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// report prints one line per step.
func report(w io.Writer, cfg config, steps []step) {
	for _, s := range steps {
		fmt.Fprintf(w, "raw fan-out %6.1f msg/s x %d conns: %d/%d delivered, %.0f deliveries/s, p50 %.1f ms, p99 %.1f ms, max %.1f ms, %.2f µs CPU/delivery\n",
			s.Rate, cfg.conns, s.Delivered, s.Sent*int64(cfg.conns), s.DeliveriesPerSec,
			float64(s.Latency.P50)/1e3, float64(s.Latency.P99)/1e3, float64(s.Latency.Max)/1e3, s.CPUPerDelivery)
	}
}
