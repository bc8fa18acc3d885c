package baseline

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// The example's timings, kept; only the message size is raised from 512 bytes
// to chat.v1's 64 KiB so chatbench's --size works against both servers.
const (
	writeWait      = 10 * time.Second
	pongWait       = 60 * time.Second
	pingPeriod     = (pongWait * 9) / 10
	maxMessageSize = 64 << 10
	sendSlots      = 256
)

// Client is a middleman between the WebSocket connection and the hub, as in
// the example.
type Client struct {
	hub  *Hub
	conn *websocket.Conn
	// send is the buffered channel of outbound frames.
	send chan []byte

	// name is set by the read pump on the first join; hubName and rooms are
	// the hub goroutine's copy of the same facts (no locks, as in the example).
	name    string
	hubName string
	rooms   map[string]bool
}

// inbound is the subset of chat.v1's client envelopes the baseline accepts.
type inbound struct {
	Type string `json:"type"`
	Name string `json:"name"`
	Room string `json:"room"`
	Text string `json:"text"`
	To   string `json:"to"`
}

// outbound is what the baseline sends: the fields a chat.v1 client needs to
// attribute and route an event, without chatd's ids and timestamps.
type outbound struct {
	Type string `json:"type"`
	Room string `json:"room,omitempty"`
	From string `json:"from"`
	To   string `json:"to,omitempty"`
	Text string `json:"text,omitempty"`
}

// readPump reads envelopes from the connection and hands them to the hub.
// Only this goroutine reads from the connection.
func (c *Client) readPump() {
	defer func() {
		select {
		case c.hub.unregister <- c:
		case <-c.hub.done:
		}
		c.conn.Close()
	}()
	c.conn.SetReadLimit(maxMessageSize)
	c.conn.SetReadDeadline(time.Now().Add(pongWait))
	c.conn.SetPongHandler(func(string) error { c.conn.SetReadDeadline(time.Now().Add(pongWait)); return nil })
	for {
		_, message, err := c.conn.ReadMessage()
		if err != nil {
			return
		}
		c.conn.SetReadDeadline(time.Now().Add(pongWait))
		if !c.handle(message) {
			return
		}
	}
}

// handle turns one client envelope into a hub request. It returns false when
// the session ends (a leave without a room).
func (c *Client) handle(message []byte) bool {
	var in inbound
	if json.Unmarshal(message, &in) != nil {
		return true
	}
	room := in.Room
	if room == "" {
		room = "lobby"
	}
	switch in.Type {
	case "join":
		if c.name == "" {
			if in.Name == "" {
				return true
			}
			c.name = in.Name
		}
		ev, _ := json.Marshal(outbound{Type: "join", Room: room, From: c.name})
		return submit(c, c.hub.membership, membership{client: c, name: strings.ToLower(c.name), room: room, join: true, event: ev})
	case "chat":
		if c.name == "" {
			return true
		}
		ev, _ := json.Marshal(outbound{Type: "chat", Room: room, From: c.name, Text: in.Text})
		return submit(c, c.hub.broadcast, delivery{room: room, data: ev})
	case "pm":
		if c.name == "" {
			return true
		}
		ev, _ := json.Marshal(outbound{Type: "pm", From: c.name, To: in.To, Text: in.Text})
		return submit(c, c.hub.direct, direct{from: c, to: strings.ToLower(in.To), data: ev})
	case "leave":
		if in.Room != "" {
			return submit(c, c.hub.membership, membership{client: c, room: in.Room})
		}
		c.conn.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"), time.Now().Add(writeWait))
		return false
	}
	return true
}

// submit hands v to the hub; false once the hub has stopped.
func submit[T any](c *Client, ch chan<- T, v T) bool {
	select {
	case ch <- v:
		return true
	case <-c.hub.done:
		return false
	}
}

// writePump writes the hub's frames to the connection, one frame per chat.v1
// envelope. The example joins queued messages with newlines into one frame;
// chat.v1 carries exactly one JSON object per frame, so that coalescing is
// the one part of the example left out.
func (c *Client) writePump() {
	ticker := time.NewTicker(pingPeriod)
	defer func() {
		ticker.Stop()
		c.conn.Close()
	}()
	for {
		select {
		case message, ok := <-c.send:
			c.conn.SetWriteDeadline(time.Now().Add(writeWait))
			if !ok {
				c.conn.WriteMessage(websocket.CloseMessage, []byte{})
				return
			}
			if err := c.conn.WriteMessage(websocket.TextMessage, message); err != nil {
				return
			}
		case <-ticker.C:
			c.conn.SetWriteDeadline(time.Now().Add(writeWait))
			if err := c.conn.WriteMessage(websocket.PingMessage, nil); err != nil {
				return
			}
		}
	}
}
