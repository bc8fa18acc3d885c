// Package baseline is the yardstick chatbench measures chatd against: a chat
// server in the shape of gorilla/websocket's chat example (one hub goroutine
// owning all state, register/unregister/broadcast channels, a read pump and a
// write pump per connection, 256-slot send channels), adapted only as far as
// needed to speak the subset of chat.v1 that chatbench uses: join, chat, pm and
// leave, with chat fanned out to the members of one room.
//
// It is deliberately the "usual Go chat server": every delivery is one
// channel send and one WebSocket frame written by the connection's own write
// pump, with 1 KiB read and write buffers per connection as in the example.
// Do not optimise it; its job is to stay representative.
//
// The one departure from the example is deliberate and decided: the example's
// write pump drains whatever else is queued into the same frame, joined by
// newlines. chat.v1 carries exactly one JSON object per frame, so that
// would break the protocol the baseline must speak, and it is the "write
// coalescing" the fan-out anchors count separately: ~150-200k deliveries/s
// for a gorilla hub writing one frame per message, ~350-400k/s with
// coalescing. The baseline is the first. Everything else — one hub
// goroutine, unbuffered hub channels, a fresh write deadline per message,
// 256-slot send channels, dropping a client whose queue is full, the ping
// ticker, the buffer sizes — is the example's. When it measured 60 times
// below the anchor (2026-11-26: 2,333 deliveries/s) the cause was outside
// this package: chatbench paced its ten senders in lockstep. With even
// pacing it held up to 117,000 deliveries/s on the same machine, depending
// on the other work there (docs/PERFORMANCE.md, chatbench section).
package baseline

import (
	"context"
)

// delivery is one encoded server envelope addressed to the members of a room.
type delivery struct {
	room string
	data []byte
}

// direct is a private message: the recipient's name and the encoded envelope,
// which also goes back to the sender as its confirmation.
type direct struct {
	from *Client
	to   string
	data []byte
}

// membership asks the hub to add (join) or remove (leave) a client in a room.
type membership struct {
	client *Client
	name   string // the joiner's name (join only)
	room   string
	join   bool
	// event is the encoded join envelope sent to every member, the joiner
	// included, once the joiner is in the room.
	event []byte
}

// Hub owns the rooms, the names and the set of registered clients. Only its
// run goroutine touches them, which is what makes the example simple — and
// what makes every message in the whole server pass through one goroutine.
type Hub struct {
	clients map[*Client]bool
	rooms   map[string]map[*Client]bool
	names   map[string]*Client

	broadcast  chan delivery
	direct     chan direct
	membership chan membership
	register   chan *Client
	unregister chan *Client

	// done is closed when run returns so pumps never block on a dead hub.
	done chan struct{}
}

func newHub() *Hub {
	return &Hub{
		clients:    make(map[*Client]bool),
		rooms:      make(map[string]map[*Client]bool),
		names:      make(map[string]*Client),
		broadcast:  make(chan delivery),
		direct:     make(chan direct),
		membership: make(chan membership),
		register:   make(chan *Client),
		unregister: make(chan *Client),
		done:       make(chan struct{}),
	}
}

// run is the hub goroutine. It returns when ctx is cancelled, closing every
// client's send channel so the write pumps finish.
func (h *Hub) run(ctx context.Context) {
	defer close(h.done)
	for {
		select {
		case <-ctx.Done():
			for c := range h.clients {
				h.drop(c)
			}
			return
		case c := <-h.register:
			h.clients[c] = true
		case c := <-h.unregister:
			if h.clients[c] {
				h.drop(c)
			}
		case m := <-h.membership:
			if !h.clients[m.client] {
				continue
			}
			if m.join {
				h.join(m)
			} else {
				h.leave(m.client, m.room)
			}
		case d := <-h.broadcast:
			for c := range h.rooms[d.room] {
				h.send(c, d.data)
			}
		case d := <-h.direct:
			if to, ok := h.names[d.to]; ok && to != d.from {
				h.send(to, d.data)
			}
			if h.clients[d.from] {
				h.send(d.from, d.data)
			}
		}
	}
}

// send queues data for c, or drops c if its 256-slot queue is full: the
// example's slow-consumer policy.
func (h *Hub) send(c *Client, data []byte) {
	select {
	case c.send <- data:
	default:
		h.drop(c)
	}
}

func (h *Hub) join(m membership) {
	c := m.client
	if c.hubName == "" && m.name != "" {
		c.hubName = m.name
		h.names[m.name] = c
	}
	members := h.rooms[m.room]
	if members == nil {
		members = make(map[*Client]bool)
		h.rooms[m.room] = members
	}
	if members[c] {
		return
	}
	members[c] = true
	c.rooms[m.room] = true
	for member := range members {
		h.send(member, m.event)
	}
}

func (h *Hub) leave(c *Client, room string) {
	members := h.rooms[room]
	if !members[c] {
		return
	}
	delete(members, c)
	delete(c.rooms, room)
	if len(members) == 0 {
		delete(h.rooms, room)
	}
}

// drop forgets c everywhere and closes its send channel, which makes its
// write pump send a Close frame and close the connection.
func (h *Hub) drop(c *Client) {
	if !h.clients[c] {
		return
	}
	for room := range c.rooms {
		h.leave(c, room)
	}
	if c.hubName != "" && h.names[c.hubName] == c {
		delete(h.names, c.hubName)
	}
	delete(h.clients, c)
	close(c.send)
}
