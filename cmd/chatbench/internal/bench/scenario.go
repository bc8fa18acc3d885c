package bench

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Scenarios lists the scenario names in the order "all" runs them.
var Scenarios = []string{"idle", "fanout", "latency", "rooms", "pm", "churn"}

// Defaults returns options that finish the scenario within two minutes on
// a two-core machine, for both servers together.
func Defaults(scenario string) Options {
	o := Options{
		Scenario:        scenario,
		Size:            130,
		Factor:          1.25,
		MaxSteps:        20,
		Refine:          2,
		Retries:         1,
		Limits:          StepLimits{P99: 50 * time.Millisecond, MinSentFraction: 0.97},
		Drain:           2 * time.Second,
		DialConcurrency: 64,
		SourceIPs:       true,
		JoinTimeout:     30 * time.Second,
		Settle:          2 * time.Second,
		Duration:        3 * time.Second,
	}
	switch scenario {
	case "idle":
		o.Conns = 5000
	case "fanout":
		o.Conns, o.Senders, o.Rate = 1000, 10, 100
	case "latency":
		// The sender alone in its room: the round trip then holds no
		// fan-out (with a second member, its copy — its own writer
		// goroutine and write on the server, its own reader here — may go
		// before the sender's); --conns adds listeners.
		o.Conns, o.Senders, o.Rate, o.Duration = 1, 1, 10, 20*time.Second
	case "rooms":
		o.Conns, o.Rate = 1000, 2000
	case "pm":
		o.Conns, o.Rate = 1000, 2000
	case "churn":
		o.Conns, o.Rooms, o.Duration = 16, 4, 10*time.Second
	}
	return o
}

// Quick shortens o for a smoke pass of every scenario on both servers in
// about two minutes (make bench): the numbers are rougher, not different.
func Quick(o Options) Options {
	o.Drain = time.Second
	o.MaxSteps = 10
	o.Refine = 1
	o.Settle = time.Second
	switch o.Scenario {
	case "idle":
		o.Conns = 2000
	case "latency":
		o.Duration = 5 * time.Second
	case "churn":
		o.Duration = 3 * time.Second
	default:
		o.Duration = time.Second
	}
	return o
}

// Result is everything one scenario measured on one server.
type Result struct {
	Scenario string    `json:"scenario"`
	Server   string    `json:"server"`
	Started  time.Time `json:"started"`
	Conns    int       `json:"conns"`
	Senders  int       `json:"senders,omitempty"`
	Rooms    int       `json:"rooms,omitempty"`
	Size     int       `json:"size_bytes"`
	Rate     float64   `json:"rate,omitempty"`
	Duration float64   `json:"duration_s"`

	// Stepped scenarios (fanout, rooms, pm).
	Steps            []Step  `json:"steps,omitempty"`
	Best             *Step   `json:"best,omitempty"`
	DeliveriesPerSec float64 `json:"deliveries_per_s,omitempty"`
	// CPUPerDelivery is the server's CPU time per delivery over all steps,
	// in µs (0 when the server's process is not known).
	CPUPerDelivery float64 `json:"server_cpu_us_per_delivery,omitempty"`

	// latency: the sender's round trip, and every member's delivery.
	RTT      *Summary `json:"rtt,omitempty"`
	Delivery *Summary `json:"delivery,omitempty"`

	Memory *MemoryResult `json:"memory,omitempty"`
	Churn  *ChurnResult  `json:"churn,omitempty"`

	// Missing and Extra compare, per connection, deliveries received with
	// deliveries owed over the whole run; both 0 means every message reached
	// every member exactly once.
	Missing    int64  `json:"missing"`
	Extra      int64  `json:"extra"`
	Errors     int64  `json:"errors"`
	FirstError string `json:"first_error,omitempty"`
	Foreign    int64  `json:"foreign,omitempty"`
}

// MemoryResult is the idle scenario's measurement.
type MemoryResult struct {
	Conns             int       `json:"conns"`
	ConnectSeconds    float64   `json:"connect_s"`
	Empty             MemSample `json:"empty"`
	Loaded            MemSample `json:"loaded"`
	RSSPerConnKiB     float64   `json:"rss_kib_per_conn"`
	HeapPerConnKiB    float64   `json:"heap_kib_per_conn"`
	StackPerConnKiB   float64   `json:"stack_kib_per_conn"`
	GoroutinesPerConn float64   `json:"goroutines_per_conn"`
	// ClosedBefore counts connections the server had closed by the time of
	// the measurement; above 0 the division by Conns is wrong and the
	// result is not used for the ratio.
	ClosedBefore int64 `json:"closed_before_measurement"`
}

// ChurnResult is the churn scenario's measurement.
type ChurnResult struct {
	Workers      int     `json:"workers"`
	Cycles       int64   `json:"cycles"`
	Failures     int64   `json:"failures"`
	CyclesPerSec float64 `json:"cycles_per_s"`
	Cycle        Summary `json:"cycle"`
}

// Run runs o.Scenario against t, dialing with dial.
func Run(ctx context.Context, o Options, t *Target, dial Dialer) (*Result, error) {
	if o.Names == "" {
		o.Names = "b" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36) + "-"
	}
	p := newPool(&o, t, dial)
	res := &Result{Scenario: o.Scenario, Server: t.Name, Started: time.Now().UTC(), Conns: o.Conns,
		Senders: o.Senders, Rooms: o.Rooms, Size: o.Size, Rate: o.Rate, Duration: o.Duration.Seconds()}
	var err error
	switch o.Scenario {
	case "idle":
		err = p.idle(ctx, res)
	case "fanout":
		err = p.fanout(ctx, res)
	case "latency":
		err = p.latency(ctx, res)
	case "rooms":
		err = p.rooms(ctx, res)
	case "pm":
		err = p.pm(ctx, res)
	case "churn":
		err = p.churn(ctx, res)
	default:
		return nil, fmt.Errorf("unknown scenario %q (want one of %v)", o.Scenario, Scenarios)
	}
	p.settle(res)
	return res, err
}

func (p *pool) idle(ctx context.Context, res *Result) error {
	if p.target.Memory == nil {
		return fmt.Errorf("idle: cannot measure the memory of %s", p.target.Name)
	}
	rooms := p.o.Rooms
	if rooms <= 0 {
		rooms = (p.o.Conns + 49) / 50
	}
	res.Rooms = rooms
	empty, err := p.target.Memory(ctx)
	if err != nil {
		return fmt.Errorf("idle: empty server: %w", err)
	}
	start := time.Now()
	if err := p.connect(ctx, p.o.Conns, func(i int) string { return "idle-" + strconv.Itoa(i%rooms) }); err != nil {
		return err
	}
	connectTime := time.Since(start)
	p.progress("%d connections joined in %.1fs; settling", p.o.Conns, connectTime.Seconds())
	select {
	case <-time.After(p.o.Settle):
	case <-ctx.Done():
		return ctx.Err()
	}
	loaded, err := p.target.Memory(ctx)
	if err != nil {
		return fmt.Errorf("idle: loaded server: %w", err)
	}
	closed := p.st.closed.Load()
	n := p.o.Conns
	res.Memory = &MemoryResult{
		Conns: n, ConnectSeconds: connectTime.Seconds(), Empty: empty, Loaded: loaded,
		RSSPerConnKiB:     PerConn(loaded.RSS, empty.RSS, n),
		HeapPerConnKiB:    PerConn(loaded.HeapInuse, empty.HeapInuse, n),
		StackPerConnKiB:   PerConn(loaded.StackInuse, empty.StackInuse, n),
		GoroutinesPerConn: float64(loaded.Goroutines-empty.Goroutines) / float64(n),
		ClosedBefore:      closed,
	}
	if p.o.Hook != nil {
		p.o.Hook(ctx, "loaded")
	}
	if closed > 0 {
		// The division above assumed every connection was still there.
		first := ""
		if e := p.st.firstErr.Load(); e != nil {
			first = *e
		}
		return fmt.Errorf("idle: the server closed %d of %d connections before the measurement (first: %s)",
			closed, n, first)
	}
	return nil
}

func (p *pool) fanout(ctx context.Context, res *Result) error {
	if err := p.connect(ctx, p.o.Conns, func(int) string { return "fanout" }); err != nil {
		return err
	}
	p.quiet(ctx)
	senders := p.clients[:min(max(p.o.Senders, 1), len(p.clients))]
	res.Steps, res.Best = p.stepped(ctx, senders, p.roomChat)
	res.summarizeSteps()
	return nil
}

func (p *pool) rooms(ctx context.Context, res *Result) error {
	rooms := p.o.Rooms
	if rooms <= 0 {
		rooms = max(1, p.o.Conns/5)
	}
	res.Rooms = rooms
	if err := p.connect(ctx, p.o.Conns, func(i int) string { return "room-" + strconv.Itoa(i%rooms) }); err != nil {
		return err
	}
	p.quiet(ctx)
	res.Steps, res.Best = p.stepped(ctx, p.sendersOrAll(), p.roomChat)
	res.summarizeSteps()
	return nil
}

func (p *pool) pm(ctx context.Context, res *Result) error {
	if p.o.Conns < 2 {
		return fmt.Errorf("pm needs at least 2 connections")
	}
	// Small rooms keep the join storm linear; the pms ignore rooms.
	if err := p.connect(ctx, p.o.Conns, func(i int) string { return "pm-" + strconv.Itoa(i/5) }); err != nil {
		return err
	}
	p.quiet(ctx)
	res.Steps, res.Best = p.stepped(ctx, p.sendersOrAll(), p.privateMessage)
	res.summarizeSteps()
	return nil
}

// summarizeSteps fills the headline numbers of a stepped run.
func (r *Result) summarizeSteps() {
	if r.Best != nil {
		r.DeliveriesPerSec = r.Best.DeliveriesPerSec
	}
	var cpu float64
	var delivered int64
	for _, s := range r.Steps {
		if s.ServerCPU > 0 {
			cpu += s.ServerCPU
			delivered += s.Delivered
		}
	}
	if delivered > 0 {
		r.CPUPerDelivery = cpu * 1e6 / float64(delivered)
	}
}

func (p *pool) sendersOrAll() []*client {
	if p.o.Senders > 0 && p.o.Senders < len(p.clients) {
		return p.clients[:p.o.Senders]
	}
	return p.clients
}

// quiet waits until the setup's traffic is over, so the first step does not
// measure the tail of the join storm: M members joining one room owe each
// other M(M+1)/2 join events (and chatd's joiners a presence list each),
// which a server writing one frame per write is still delivering seconds
// after the last join was answered. It returns once no frame has arrived
// for quietGap (at least quietMin after connect), or after JoinTimeout.
func (p *pool) quiet(ctx context.Context) {
	start := time.Now()
	last, lastChange := p.frames(), start
	for {
		select {
		case <-time.After(quietPoll):
		case <-ctx.Done():
			return
		}
		now := time.Now()
		if n := p.frames(); n != last {
			last, lastChange = n, now
		}
		if (now.Sub(lastChange) >= quietGap && now.Sub(start) >= quietMin) || now.Sub(start) >= p.o.JoinTimeout {
			p.progress("setup traffic over after %v (%d frames)", now.Sub(start).Round(time.Millisecond), last)
			return
		}
	}
}

// The quiet wait's timing: frames are counted every quietPoll, and quietGap
// without any means the join storm is delivered.
const (
	quietPoll = 50 * time.Millisecond
	quietGap  = 300 * time.Millisecond
	quietMin  = 500 * time.Millisecond
)

func (p *pool) latency(ctx context.Context, res *Result) error {
	if err := p.connect(ctx, max(p.o.Conns, 1), func(int) string { return "quiet" }); err != nil {
		return err
	}
	p.quiet(ctx)
	p.st.delivery.Snapshot(true)
	p.st.rtt.Snapshot(true)
	senders := p.clients[:min(max(p.o.Senders, 1), len(p.clients))]
	stop := p.ticker(func() {
		h := p.st.rtt.Snapshot(false)
		p.progress("%d round trips, p99 %d µs", h.TotalCount(), h.ValueAtQuantile(99))
	})
	endHook := p.hook(ctx, "load")
	p.pace(ctx, senders, p.o.Rate, p.o.Duration, p.quietChat, true)
	p.drain(ctx, p.expected.Load(), p.st.now(), p.o.Drain)
	endHook()
	stop()
	rtt, del := Summarize(p.st.rtt.Snapshot(false)), Summarize(p.st.delivery.Snapshot(false))
	res.RTT, res.Delivery = &rtt, &del
	return nil
}

// churn runs Conns workers, each repeating connect → join → chat (and wait
// for its own copy) → leave (and wait for the server's Close 1000) until
// Duration has passed.
func (p *pool) churn(ctx context.Context, res *Result) error {
	rooms := max(p.o.Rooms, 1)
	res.Rooms = rooms
	cycleLat := NewRecorder()
	var cycles, failures, next atomic.Int64
	deadline := time.Now().Add(p.o.Duration)
	stop := p.ticker(func() {
		p.progress("%d cycles, %d failures", cycles.Load(), failures.Load())
	})
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < max(p.o.Conns, 1); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) && ctx.Err() == nil {
				idx := int(next.Add(1))
				t0 := time.Now()
				if err := p.cycle(ctx, idx, "churn-"+strconv.Itoa(w%rooms)); err != nil {
					failures.Add(1)
					p.st.fail(err.Error())
					continue
				}
				cycleLat.Record(w, time.Since(t0))
				cycles.Add(1)
			}
		}()
	}
	wg.Wait()
	stop()
	elapsed := time.Since(start)
	res.Churn = &ChurnResult{Workers: max(p.o.Conns, 1), Cycles: cycles.Load(), Failures: failures.Load(),
		CyclesPerSec: float64(cycles.Load()) / elapsed.Seconds(), Cycle: Summarize(cycleLat.Snapshot(false))}
	return nil
}

// cycle is one churn session. The client is not kept in the pool: its
// deliveries are checked here, by waiting for them.
func (p *pool) cycle(ctx context.Context, idx int, room string) error {
	c, err := p.open(ctx, idx, room)
	if err != nil {
		return err
	}
	defer c.shutdown()
	sc := &scratch{}
	sc.text = appendText(nil, p.st.now(), c.idx, 0, textLenFor(p.o.Size, room))
	if err := c.ws.WriteText(appendChat(nil, room, sc.text)); err != nil {
		return fmt.Errorf("%s: chat: %w", c.name, err)
	}
	if err := c.waitFor(ctx, c.echo, p.o.JoinTimeout, "own chat"); err != nil {
		return err
	}
	c.leaving.Store(true)
	if err := c.ws.WriteText([]byte(`{"type":"leave"}`)); err != nil {
		return fmt.Errorf("%s: leave: %w", c.name, err)
	}
	select {
	case <-c.done:
	case <-time.After(p.o.JoinTimeout):
		return fmt.Errorf("%s: no close after leave within %v", c.name, p.o.JoinTimeout)
	case <-ctx.Done():
		return ctx.Err()
	}
	if code := c.closeCode(); code != 1000 {
		return fmt.Errorf("%s: leave ended with close code %d (%v), want 1000", c.name, code, c.err)
	}
	return nil
}

// settle closes every connection and fills res with what the run owes and
// what went wrong: missing and extra deliveries, errors, foreign frames.
func (p *pool) settle(res *Result) {
	p.closeAll()
	res.Missing, res.Extra = p.accounting()
	res.Errors = p.st.errors.Load()
	res.Foreign = p.st.foreign.Load()
	if e := p.st.firstErr.Load(); e != nil {
		res.FirstError = *e
	}
}
