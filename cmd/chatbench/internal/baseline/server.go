package baseline

import (
	"context"
	"net/http"
	"sync"

	"github.com/gorilla/websocket"
)

// Server is the baseline chat server as an http.Handler: it upgrades every
// request (mount it at /ws) and runs the hub until Close.
type Server struct {
	hub      *Hub
	upgrader websocket.Upgrader
	cancel   context.CancelFunc
	pumps    sync.WaitGroup
	hubDone  sync.WaitGroup
}

// New starts the hub goroutine. Call Close to stop it.
func New() *Server {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		hub:    newHub(),
		cancel: cancel,
		upgrader: websocket.Upgrader{
			ReadBufferSize:  1024,
			WriteBufferSize: 1024,
			Subprotocols:    []string{"chat.v1"},
		},
	}
	s.hubDone.Add(1)
	go func() {
		defer s.hubDone.Done()
		s.hub.run(ctx)
	}()
	return s
}

// ServeHTTP upgrades the request and starts the connection's two pumps, as
// the example's serveWs does.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	conn, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &Client{hub: s.hub, conn: conn, send: make(chan []byte, sendSlots), rooms: make(map[string]bool)}
	// Add before registering: once the hub knows c, Close may already be
	// waiting for the pumps.
	s.pumps.Add(2)
	select {
	case s.hub.register <- c:
	case <-s.hub.done:
		s.pumps.Add(-2)
		conn.Close()
		return
	}
	go func() { defer s.pumps.Done(); c.writePump() }()
	go func() { defer s.pumps.Done(); c.readPump() }()
}

// Close stops the hub, which closes every connection's send channel; the
// write pumps then close the connections and the read pumps return.
func (s *Server) Close() {
	s.cancel()
	s.hubDone.Wait()
	s.pumps.Wait()
}
