package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"
)

// Options configure one scenario run against one server.
type Options struct {
	Scenario string
	Conns    int           // connections (idle, fanout, rooms, pm, latency); concurrent workers (churn)
	Senders  int           // connections that send (fanout, latency; rooms and pm: all when 0)
	Rooms    int           // rooms (idle, rooms, churn)
	Size     int           // bytes of each chat envelope sent
	Rate     float64       // msgs/s offered: the first step of stepped runs, the fixed rate of latency
	Duration time.Duration // each step (stepped runs), the whole run (latency, churn)

	Factor   float64 // rate multiplier between steps
	MaxSteps int     // steps at most, refinement included
	Refine   int     // bisection steps after the first failure
	Retries  int     // times a failed rate is tried again before it counts as failed
	Limits   StepLimits
	Drain    time.Duration // time after a step's last send for deliveries to arrive

	DialConcurrency int
	SourceIPs       bool          // spread connections over 127.0.0.2–254 (loopback targets)
	JoinTimeout     time.Duration // per connection
	Settle          time.Duration // idle: quiet time before memory is measured

	// Progress receives a one-line status about once a second (nil: none).
	Progress func(line string)
	// Hook, when set, is called with phase "load" in its own goroutine as
	// the load of a fanout, rooms, pm or latency run begins (its ctx ends
	// with the load), and with phase "loaded" once the idle scenario's
	// connections are measured, before they close. Profilers hang here.
	Hook func(ctx context.Context, phase string)
	// Names prefix the connections' user names; distinct per run so a server
	// reused across runs (--server URL) never sees a name twice.
	Names string
}

// pool is one run's connections and the counters its senders keep.
type pool struct {
	o      *Options
	target *Target
	dial   Dialer
	st     *runStats

	mu      sync.Mutex
	clients []*client

	members  map[string]int           // room → members, fixed once connected
	roomSent map[string]*atomic.Int64 // room → messages sent to it
	expected atomic.Int64             // deliveries owed, all rooms and pms together
	sent     atomic.Int64
}

func newPool(o *Options, t *Target, dial Dialer) *pool {
	return &pool{o: o, target: t, dial: dial, st: newRunStats(),
		members: map[string]int{}, roomSent: map[string]*atomic.Int64{}}
}

func (p *pool) progress(format string, args ...any) {
	if p.o.Progress != nil {
		p.o.Progress(fmt.Sprintf("[%s %s] ", p.target.Name, p.o.Scenario) + fmt.Sprintf(format, args...))
	}
}

func (p *pool) localIP(i int) net.IP {
	if !p.o.SourceIPs || !isLoopback(p.target.URL) {
		return nil
	}
	return sourceIP(i)
}

func isLoopback(u string) bool {
	pu, err := url.Parse(u)
	if err != nil {
		return false
	}
	ip := net.ParseIP(pu.Hostname())
	return ip != nil && ip.IsLoopback() && ip.To4() != nil
}

// open dials one connection, starts its reader, joins room and waits for
// the join event about itself.
func (p *pool) open(ctx context.Context, idx int, room string) (*client, error) {
	ws, err := p.dial(ctx, p.target.URL, p.localIP(idx))
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", p.target.URL, err)
	}
	c := newClient(idx, p.o.Names+strconv.Itoa(idx), room, ws, p.st)
	go c.readLoop()
	if err := ws.WriteText(appendJoin(nil, c.name, room)); err != nil {
		c.shutdown()
		return nil, fmt.Errorf("%s: join: %w", c.name, err)
	}
	if err := c.waitFor(ctx, c.joined, p.o.JoinTimeout, "join event"); err != nil {
		c.shutdown()
		return nil, err
	}
	return c, nil
}

// connect opens n connections, connection i joining roomOf(i), a few dozen
// at a time.
func (p *pool) connect(ctx context.Context, n int, roomOf func(i int) string) error {
	p.clients = make([]*client, n)
	for i := 0; i < n; i++ {
		room := roomOf(i)
		p.members[room]++
		if p.roomSent[room] == nil {
			p.roomSent[room] = new(atomic.Int64)
		}
	}
	var done atomic.Int64
	stop := p.ticker(func() { p.progress("connecting %d/%d", done.Load(), n) })
	defer stop()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, p.o.DialConcurrency))
	for i := 0; i < n; i++ {
		g.Go(func() error {
			c, err := p.open(gctx, i, roomOf(i))
			if err != nil {
				return err
			}
			p.mu.Lock()
			p.clients[i] = c
			p.mu.Unlock()
			done.Add(1)
			return nil
		})
	}
	err := g.Wait()
	if err != nil {
		// Keep only what opened, so teardown and accounting see real clients.
		ok := p.clients[:0]
		for _, c := range p.clients {
			if c != nil {
				ok = append(ok, c)
			}
		}
		p.clients = ok
	}
	return err
}

// closeAll tears every connection down and waits for the readers. Every
// client is marked as leaving first: the server reacting to the first
// closes (leave events to the rest, failed writes) is teardown, not an
// error of the run.
func (p *pool) closeAll() {
	for _, c := range p.clients {
		if c != nil {
			c.leaving.Store(true)
		}
	}
	var wg sync.WaitGroup
	for _, c := range p.clients {
		if c == nil {
			continue
		}
		_ = c.ws.CloseNow()
		wg.Add(1)
		go func() { defer wg.Done(); <-c.done }()
	}
	wg.Wait()
}

// ticker calls f about once a second until the returned stop is called.
func (p *pool) ticker(f func()) (stop func()) {
	if p.o.Progress == nil {
		return func() {}
	}
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				f()
			}
		}
	}()
	return func() { close(quit); wg.Wait() }
}

// frames counts the text frames every connection has read so far.
func (p *pool) frames() int64 {
	var n int64
	for _, c := range p.clients {
		n += c.frames.Load()
	}
	return n
}

func (p *pool) delivered() int64 {
	var n int64
	for _, c := range p.clients {
		n += c.delivered.Load()
	}
	return n
}

// Missing compares, connection by connection, what was delivered with what
// was owed: missing counts deliveries that never arrived, extra those that
// arrived more often than sent. Both are zero after a clean run.
func (p *pool) accounting() (missing, extra int64) {
	for _, c := range p.clients {
		owed := c.expectedPM.Load()
		if s := p.roomSent[c.room]; s != nil {
			owed += s.Load()
		}
		got := c.delivered.Load()
		if got < owed {
			missing += owed - got
		} else {
			extra += got - owed
		}
	}
	return missing, extra
}

// scratch is a pacer's reusable buffers.
type scratch struct {
	text, msg []byte
	rng       *rand.Rand
}

// sendFunc writes one message from c stamped with the time sent, and
// accounts for the deliveries it is owed before the write, so a drain never
// sees more deliveries than it expects.
type sendFunc func(c *client, sc *scratch, sent time.Duration) error

// roomChat sends a chat to the sender's own room.
func (p *pool) roomChat(c *client, sc *scratch, sent time.Duration) error {
	sc.text = appendText(sc.text[:0], sent, c.idx, c.seq, textLenFor(p.o.Size, c.room))
	c.seq++
	sc.msg = appendChat(sc.msg[:0], c.room, sc.text)
	p.roomSent[c.room].Add(1)
	p.expected.Add(int64(p.members[c.room]))
	p.sent.Add(1)
	return c.ws.WriteText(sc.msg)
}

// privateMessage sends a pm to a random other connection; the recipient and
// the sender (its confirmation) each receive a copy.
func (p *pool) privateMessage(c *client, sc *scratch, sent time.Duration) error {
	to := p.clients[sc.rng.IntN(len(p.clients))]
	if to == c {
		to = p.clients[(c.idx+1)%len(p.clients)]
	}
	n := p.o.Size - len(appendPM(nil, to.name, nil))
	sc.text = appendText(sc.text[:0], sent, c.idx, c.seq, max(n, 1))
	c.seq++
	sc.msg = appendPM(sc.msg[:0], to.name, sc.text)
	to.expectedPM.Add(1)
	c.expectedPM.Add(1)
	p.expected.Add(2)
	p.sent.Add(1)
	return c.ws.WriteText(sc.msg)
}

// pace sends rate msgs/s for d from senders, spread over up to 32 pacer
// goroutines that each own a fixed subset of the senders (one writer per
// connection). The offered load is one message every 1/rate, evenly spaced
// over all pacers: message m of the step is due at m/rate and pacer k sends
// messages k, k+np, k+2np, … So ten senders at 4 msg/s offer one message
// every 250 ms, not ten messages at once every 2.5 s, which is what pacers
// each starting their own schedule at the same instant offered: every step
// then measured how long one burst of np × members deliveries took, and a
// server that does not coalesce its writes failed the 50 ms p99 at any rate.
// Messages are stamped with their intended send time, not the time the write
// happened, so a server that pushes back on its senders is charged for the
// wait (no coordinated omission). With stampNow (the quiet latency scenario)
// the actual time is used: there a late timer would otherwise be measured
// instead of the server.
func (p *pool) pace(ctx context.Context, senders []*client, rate float64, d time.Duration, send sendFunc, stampNow bool) (planned int64) {
	np := min(len(senders), 32)
	total := int64(rate * d.Seconds())
	start := p.st.now()
	var wg sync.WaitGroup
	for k := 0; k < np; k++ {
		var mine []*client
		for i := k; i < len(senders); i += np {
			mine = append(mine, senders[i])
		}
		quota := total / int64(np)
		if int64(k) < total%int64(np) {
			quota++
		}
		planned += quota
		sl := slots{start: start, first: int64(k), every: int64(np), rate: rate}
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			p.pacer(ctx, mine, sl, quota, d, send, stampNow, rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)))
		}(uint64(k + 1))
	}
	wg.Wait()
	return planned
}

// slots is one pacer's share of a step's schedule: its n-th message is the
// step's message first + n×every, due at start + that/rate.
type slots struct {
	start        time.Duration
	first, every int64
	rate         float64
}

// due is when the pacer's n-th message is to be sent, on the run's clock.
// Computed from the message number each time, so rounding never accumulates.
func (s slots) due(n int64) time.Duration {
	return s.start + time.Duration(float64(s.first+n*s.every)*float64(time.Second)/s.rate)
}

func (p *pool) pacer(ctx context.Context, mine []*client, sl slots, quota int64, d time.Duration, send sendFunc, stampNow bool, rng *rand.Rand) {
	if quota == 0 || sl.rate <= 0 {
		return
	}
	deadline := sl.start + d + p.o.Drain // a pacer that is this late has lost
	sc := &scratch{rng: rng}
	dead := make([]bool, len(mine))
	for n := int64(0); n < quota; {
		now := p.st.now()
		if now > deadline || ctx.Err() != nil {
			return
		}
		if due := sl.due(n); due > now {
			time.Sleep(due - now)
			continue
		}
		for ; n < quota && sl.due(n) <= now; n++ {
			i := int(n % int64(len(mine)))
			if dead[i] {
				continue
			}
			stamp := sl.due(n)
			if stampNow {
				stamp = p.st.now()
			}
			if err := send(mine[i], sc, stamp); err != nil {
				dead[i] = true
				p.st.fail(fmt.Sprintf("%s: write: %v", mine[i].name, err))
			}
			// A late sender (timer, scheduler, or a server pushing back) is
			// part of the latency measured; this shows how much of it.
			p.st.lag.Record(mine[i].idx, p.st.now()-sl.due(n))
		}
	}
}

// drain waits until every owed delivery has arrived or timeout passes, and
// returns when the last one arrived (or the timeout).
func (p *pool) drain(ctx context.Context, want int64, since time.Duration, timeout time.Duration) time.Duration {
	end := p.st.now() + timeout
	for p.st.now() < end && ctx.Err() == nil {
		if p.delivered() >= want {
			return p.st.now() - since
		}
		time.Sleep(2 * time.Millisecond)
	}
	return p.st.now() - since
}

// stepped runs the rate search for a fanout, rooms or pm workload and
// returns every step; best is the highest that held (nil if none did).
func (p *pool) stepped(ctx context.Context, senders []*client, send sendFunc) (steps []Step, best *Step) {
	defer p.hook(ctx, "load")()
	search := RateSearch{Start: p.o.Rate, Factor: p.o.Factor, MaxSteps: p.o.MaxSteps, Refine: p.o.Refine, Retries: p.o.Retries}
	for {
		rate, ok := search.Next()
		if !ok || ctx.Err() != nil {
			break
		}
		s := p.step(ctx, senders, rate, send)
		steps = append(steps, s)
		search.Report(rate, s.Held)
		if !s.Held && p.delivered() < p.expected.Load() {
			// Let the backlog clear before trying a lower rate; a server that
			// cannot clear it in five drain times is not worth stepping further.
			p.drain(ctx, p.expected.Load(), p.st.now(), 5*p.o.Drain)
			if p.delivered() < p.expected.Load() {
				break
			}
		}
		if s.Closed > 0 {
			break
		}
	}
	for i := range steps {
		if steps[i].Held && (best == nil || steps[i].DeliveriesPerSec > best.DeliveriesPerSec) {
			best = &steps[i]
		}
	}
	return steps, best
}

// hook starts o.Hook for phase in a goroutine and returns the function that
// ends its context and waits for it.
func (p *pool) hook(ctx context.Context, phase string) (end func()) {
	if p.o.Hook == nil {
		return func() {}
	}
	hctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); p.o.Hook(hctx, phase) }()
	return func() { cancel(); <-done }
}

// step offers rate for one Duration and waits for the deliveries.
func (p *pool) step(ctx context.Context, senders []*client, rate float64, send sendFunc) Step {
	d0, e0 := p.delivered(), p.expected.Load()
	s0, err0, c0 := p.sent.Load(), p.st.errors.Load(), p.st.closed.Load()
	p.st.delivery.Snapshot(true)
	p.st.rtt.Snapshot(true)
	p.st.lag.Snapshot(true)
	stop := p.ticker(func() {
		p.progress("rate %.0f msg/s: sent %d, delivered %d/%d, p99 %v",
			rate, p.sent.Load()-s0, p.delivered()-d0, p.expected.Load()-e0,
			time.Duration(p.st.delivery.Snapshot(false).ValueAtQuantile(99))*time.Microsecond)
	})
	srv0, _ := p.serverCPU()
	cli0 := selfCPU()
	start := p.st.now()
	planned := p.pace(ctx, senders, rate, p.o.Duration, send, false)
	elapsed := p.drain(ctx, p.expected.Load(), start, p.o.Drain)
	stop()
	srv1, srvOK := p.serverCPU()
	cli1 := selfCPU()
	s := Step{
		Rate:      rate,
		Planned:   planned,
		Sent:      p.sent.Load() - s0,
		Expected:  p.expected.Load() - e0,
		Delivered: p.delivered() - d0,
		Errors:    p.st.errors.Load() - err0,
		Closed:    p.st.closed.Load() - c0,
		Seconds:   elapsed.Seconds(),
		Latency:   Summarize(p.st.delivery.Snapshot(true)),
		SendLag:   Summarize(p.st.lag.Snapshot(true)),
	}
	// From the first send to the last delivery (or the end of the drain):
	// conservative, never more than the offered rate times the fan-out.
	s.DeliveriesPerSec = float64(s.Delivered) / max(elapsed, p.o.Duration).Seconds()
	s.ClientCPU = (cli1 - cli0).Seconds()
	if srvOK {
		s.ServerCPU = (srv1 - srv0).Seconds()
		if s.Delivered > 0 {
			s.CPUPerDelivery = s.ServerCPU * 1e6 / float64(s.Delivered)
		}
	}
	s.Held, s.Reason = Judge(s, p.o.Limits)
	p.progress("rate %.0f msg/s: %s (%.0f deliveries/s, p99 %d µs, sender lag p99 %d µs, server %.2f µs CPU/delivery)",
		rate, heldWord(s), s.DeliveriesPerSec, s.Latency.P99, s.SendLag.P99, s.CPUPerDelivery)
	return s
}

func (p *pool) serverCPU() (time.Duration, bool) {
	if p.target.CPU == nil {
		return 0, false
	}
	d, err := p.target.CPU()
	return d, err == nil
}

// selfCPU is chatbench's own CPU time (user + system).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func heldWord(s Step) string {
	if s.Held {
		return "held"
	}
	return "failed: " + s.Reason
}
