// Package natsbroker is the server.Broker of a cluster: every chatd node
// connects to the same NATS server (or NATS cluster) with JetStream, and the
// shared state lives there instead of in one process. docs/CLUSTER.md
// explains the design; in short:
//
//   - One stream (CHATD) holds each room's join/leave events (subject
//     chatd.room.ROOM.m, carrying the member list after the event) and chat
//     messages (chatd.room.ROOM.c), and each private conversation's messages
//     (chatd.pm.A.B). Every write is a compare-and-set on the last sequence of
//     the room's (or conversation's) subjects, with the ULID assigned before
//     the publish, so id order is stream order; a conflict re-reads and retries.
//   - Every node follows the whole stream with one ordered consumer, keeps a
//     projection of it (members, last ids, the sequences of kept messages),
//     and hands every event to its subscribers in stream order.
//   - Names are keys of a KV bucket (chatd_names) tagged with the holder's
//     node; nodes announce themselves in a KV bucket with a TTL (chatd_nodes).
//     When a node stops announcing itself, the survivors publish leave events
//     for its members and free its names (compare-and-set again, so several
//     survivors doing it at once publish each leave exactly once).
//   - Typing indicators are plain core NATS messages: they are not kept.
package natsbroker

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatd/chatd/api"
	"github.com/chatd/chatd/server"
)

// Options configures New. The zero value works; tests shorten the times.
// Every node of a cluster should use the same Prefix, HistorySize,
// HistoryTTL and PMTTL: the stream is configured by whichever node starts last.
type Options struct {
	Prefix        string        // subjects, stream and buckets are named after it ("chatd")
	NodeID        string        // this node's id in leases (random)
	HistorySize   int           // chat messages kept per room (500)
	HistoryTTL    time.Duration // how long they are kept, and an empty room's events (24 h)
	PMTTL         time.Duration // how long private messages stay in the stream (1 min, at least 1 s)
	NodeTTL       time.Duration // a node not heard from this long is dead (5 s)
	Heartbeat     time.Duration // how often a node announces itself (NodeTTL/5)
	LostAfter     time.Duration // NATS unreachable this long: call lost (NodeTTL/2)
	SweepInterval time.Duration // how often empty expired rooms are purged (HistoryTTL/10, 1 s … 1 min)
	Replicas      int           // replicas of the stream and buckets (1)
	MemoryStorage bool          // keep the stream in memory instead of files (tests, benchmarks)
	Logger        *slog.Logger  // nil: discard
}

func (o *Options) defaults() error {
	if o.Prefix == "" {
		o.Prefix = "chatd"
	}
	for _, c := range o.Prefix {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return fmt.Errorf("natsbroker: Prefix %q: use lower-case letters, digits and _ only", o.Prefix)
		}
	}
	if o.NodeID == "" {
		o.NodeID = api.NewIDSource(nil).Next()
	}
	if o.HistorySize == 0 {
		o.HistorySize = 500
	}
	if o.HistorySize < 0 {
		o.HistorySize = 0
	}
	if o.HistoryTTL <= 0 {
		o.HistoryTTL = 24 * time.Hour
	}
	if o.PMTTL <= 0 {
		o.PMTTL = time.Minute
	}
	o.PMTTL = max(o.PMTTL, time.Second) // the smallest per-message TTL JetStream takes
	if o.NodeTTL <= 0 {
		o.NodeTTL = 5 * time.Second
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = o.NodeTTL / 5
	}
	if o.LostAfter <= 0 {
		o.LostAfter = o.NodeTTL / 2
	}
	if o.SweepInterval <= 0 {
		o.SweepInterval = min(max(o.HistoryTTL/10, time.Second), time.Minute)
	}
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return nil
}

// Broker is a server.Broker backed by NATS JetStream. Create it with New.
type Broker struct {
	opts   Options
	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream
	names  jetstream.KeyValue
	nodes  jetstream.KeyValue
	ids    *api.IDSource
	log    *slog.Logger

	subjRoom, subjPM, subjTyping, streamName string

	node atomic.Pointer[string] // this incarnation's id; replaced when the node lost NATS

	mu        sync.Mutex
	cond      *sync.Cond // signalled when applied grows or the broker closes
	applied   uint64     // stream sequence of the last record applied
	startSeq  uint64     // records up to here were there before New: projected, not delivered
	rooms     map[string]*roomState
	convs     map[string]*convState
	holders   map[string]holder          // NameKey → holder (from the names bucket)
	seen      map[string]time.Time       // node id → when it last announced itself
	pending   map[string][]api.ChatEvent // join id → the joiner's replay
	closed    bool
	lostSince time.Time // when NATS became unreachable (zero: reachable)
	lostSent  bool      // lost was called for the current outage
	started   time.Time

	subs atomic.Pointer[[]*sub]

	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	cons    jetstream.ConsumeContext
	watches []jetstream.KeyWatcher // guarded by mu
	natsubs []*nats.Subscription   // guarded by mu
	typing  chan *nats.Msg
	cleanMu sync.Mutex // one cleanup pass at a time
}

type sub struct {
	deliver func(*server.Event)
	lost    func(error)
}

// holder is the current claim on a name.
type holder struct {
	Name    string `json:"name"`
	Session string `json:"session"`
	Node    string `json:"node"`
	rev     uint64
}

var _ server.Broker = (*Broker)(nil)

// ErrNotConnected is returned by writes while the node cannot reach NATS.
var ErrNotConnected = errors.New("natsbroker: not connected to NATS")

// New connects a broker to the JetStream behind nc: it creates (or updates)
// the stream and the buckets, reads the stream so far, and starts following
// it. nc stays the caller's: Close does not close it. ctx bounds the setup.
func New(ctx context.Context, nc *nats.Conn, opts Options) (*Broker, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("natsbroker: %w", err)
	}
	b := &Broker{
		opts:       opts,
		nc:         nc,
		js:         js,
		ids:        api.NewIDSource(nil),
		log:        opts.Logger,
		subjRoom:   opts.Prefix + ".room",
		subjPM:     opts.Prefix + ".pm",
		subjTyping: opts.Prefix + ".typing",
		streamName: strings.ToUpper(opts.Prefix),
		rooms:      make(map[string]*roomState),
		convs:      make(map[string]*convState),
		holders:    make(map[string]holder),
		seen:       make(map[string]time.Time),
		pending:    make(map[string][]api.ChatEvent),
		started:    time.Now(),
	}
	b.cond = sync.NewCond(&b.mu)
	b.node.Store(&opts.NodeID)
	b.subs.Store(new([]*sub))
	b.ctx, b.cancel = context.WithCancel(context.Background())
	if err := b.setup(ctx); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// setup creates what the cluster shares and starts following it.
func (b *Broker) setup(ctx context.Context) error {
	storage := jetstream.FileStorage
	if b.opts.MemoryStorage {
		storage = jetstream.MemoryStorage
	}
	var err error
	b.stream, err = b.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:              b.streamName,
		Description:       "chatd rooms (join, leave, chat) and private messages",
		Subjects:          []string{b.subjRoom + ".*.*", b.subjPM + ".*.*"},
		MaxMsgsPerSubject: int64(max(b.opts.HistorySize, 1)),
		MaxAge:            b.opts.HistoryTTL,
		Discard:           jetstream.DiscardOld,
		Storage:           storage,
		Replicas:          b.opts.Replicas,
		AllowMsgTTL:       true,
		AllowDirect:       true,
		Duplicates:        min(2*time.Minute, b.opts.HistoryTTL),
	})
	if err != nil {
		return fmt.Errorf("natsbroker: creating stream %s: %w", b.streamName, err)
	}
	b.names, err = b.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: b.opts.Prefix + "_names", Description: "chatd: who holds which name (key: lower-case name)",
		History: 1, Storage: storage, Replicas: b.opts.Replicas,
	})
	if err != nil {
		return fmt.Errorf("natsbroker: creating bucket %s_names: %w", b.opts.Prefix, err)
	}
	b.nodes, err = b.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: b.opts.Prefix + "_nodes", Description: "chatd: live nodes (each refreshes its key; the TTL removes dead ones)",
		History: 1, TTL: b.opts.NodeTTL, Storage: storage, Replicas: b.opts.Replicas,
	})
	if err != nil {
		return fmt.Errorf("natsbroker: creating bucket %s_nodes: %w", b.opts.Prefix, err)
	}
	if err := b.heartbeat(ctx); err != nil {
		return fmt.Errorf("natsbroker: announcing node: %w", err)
	}
	if err := b.watch(ctx, b.names, b.applyName); err != nil {
		return err
	}
	if err := b.watch(ctx, b.nodes, b.applyNode); err != nil {
		return err
	}
	info, err := b.stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("natsbroker: reading stream %s: %w", b.streamName, err)
	}
	b.startSeq = info.State.LastSeq
	cons, err := b.js.OrderedConsumer(ctx, b.streamName, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return fmt.Errorf("natsbroker: following stream %s: %w", b.streamName, err)
	}
	b.cons, err = cons.Consume(b.onRecord, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		b.log.Debug("natsbroker: consumer", "err", err)
	}))
	if err != nil {
		return fmt.Errorf("natsbroker: following stream %s: %w", b.streamName, err)
	}
	// Both typing subscriptions feed one channel, read by one goroutine:
	// indicators from one sender then arrive in the order it sent them.
	b.typing = make(chan *nats.Msg, 4096)
	for _, s := range []string{b.subjTyping + ".room.*", b.subjTyping + ".node." + b.nodeID()} {
		if err := b.subscribeTyping(s); err != nil {
			return err
		}
	}
	b.wg.Add(1)
	go b.typingLoop()
	if err := b.catchUp(ctx, cons); err != nil {
		return fmt.Errorf("natsbroker: reading stream %s: %w", b.streamName, err)
	}
	b.wg.Add(2)
	go b.heartbeatLoop()
	go b.sweepLoop()
	return nil
}

// catchUp waits until the projection holds everything the stream held at
// the start. The stream's last sequence is no target: the records at its end
// may be gone (expired private messages) and are never delivered. The
// consumer's own count of pending records is.
func (b *Broker) catchUp(ctx context.Context, cons jetstream.Consumer) error {
	for {
		info, err := cons.Info(ctx)
		if err == nil && info.NumPending == 0 {
			return b.waitApplied(ctx, info.Delivered.Stream)
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = ctx.Err()
			}
			return err
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// nodeID is this node's current incarnation.
func (b *Broker) nodeID() string { return *b.node.Load() }

// NodeID returns the id under which this node currently holds names and
// memberships (it changes after the node lost NATS).
func (b *Broker) NodeID() string { return b.nodeID() }

// Subscribe implements server.Broker. deliver is called for join, leave and
// chat events and private messages from the one goroutine that follows the
// stream, in stream order; typing indicators come from NATS's subscription
// goroutine. lost is called when NATS has been unreachable for LostAfter, or
// when the connection is closed, once per outage.
func (b *Broker) Subscribe(deliver func(*server.Event), lost func(error)) (cancel func()) {
	s := &sub{deliver: deliver, lost: lost}
	b.mu.Lock()
	old := *b.subs.Load()
	b.subs.Store(ptr(append(old[:len(old):len(old)], s)))
	b.mu.Unlock()
	return func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		cur := *b.subs.Load()
		next := make([]*sub, 0, len(cur))
		for _, c := range cur {
			if c != s {
				next = append(next, c)
			}
		}
		b.subs.Store(&next)
	}
}

func ptr[T any](v T) *T { return &v }

func (b *Broker) publishEvent(ev *server.Event) {
	for _, s := range *b.subs.Load() {
		s.deliver(ev)
	}
}

// waitApplied waits until the projection has applied the record at seq.
func (b *Broker) waitApplied(ctx context.Context, seq uint64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.applied >= seq {
		return nil
	}
	stop := context.AfterFunc(ctx, func() {
		b.mu.Lock()
		b.cond.Broadcast()
		b.mu.Unlock()
	})
	defer stop()
	for b.applied < seq {
		if b.closed {
			return server.ErrBrokerClosed
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		b.cond.Wait()
	}
	return nil
}

// usable fails fast when the broker is closed or NATS is unreachable, so a
// session that ends during an outage does not wait out its timeout.
func (b *Broker) usable() error {
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return server.ErrBrokerClosed
	}
	if !b.nc.IsConnected() {
		return ErrNotConnected
	}
	return nil
}

// Close implements server.Broker: it stops following the stream, withdraws
// this node's announcement and waits for its goroutines. It does not close
// the NATS connection.
func (b *Broker) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.cond.Broadcast()
	b.mu.Unlock()
	b.cancel()
	if b.cons != nil {
		b.cons.Stop()
		<-b.cons.Closed()
	}
	b.mu.Lock()
	watches := b.watches
	b.mu.Unlock()
	for _, w := range watches {
		_ = w.Stop()
	}
	b.mu.Lock()
	subs := b.natsubs
	b.mu.Unlock()
	for _, s := range subs {
		_ = s.Unsubscribe()
	}
	b.wg.Wait()
	if b.nodes != nil && b.nc.IsConnected() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = b.nodes.Purge(ctx, b.nodeID())
		cancel()
	}
	return nil
}

// newID returns a fresh ULID above after (the last id of the room or
// conversation), even if another node's clock is ahead of ours.
func (b *Broker) newID(after string) string {
	id := b.ids.Next()
	if id > after {
		return id
	}
	return successor(after)
}

// randomToken is a short random string for inboxes and tests.
func randomToken() string {
	var buf [8]byte
	_, _ = rand.Read(buf[:])
	return fmt.Sprintf("%x", buf)
}
