package server

import (
	"context"

	"github.com/chatd/chatd/wire"
)

// Shutdown ends the server gracefully: new WebSocket upgrades are refused at
// once; every session leaves its rooms (reason "disconnected", so members
// that are still connected, here or on other nodes, see it); then each
// connection's queue is flushed and it is closed with 1001 "shutdown".
// Shutdown returns when every session has ended, or with ctx's error after
// cutting the remaining connections when ctx ends first. The http.Server
// that carries the handler should be shut down first, to stop accepting.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.draining {
		s.mu.Unlock()
		return s.wait(ctx)
	}
	s.draining = true
	s.stopping.Store(true)
	all := make([]*session, 0, len(s.sessions))
	for _, sess := range s.sessions {
		all = append(all, sess)
	}
	s.mu.Unlock()

	for _, sess := range all {
		sess.leaveRooms(leaveDisconnected)
	}
	for _, sess := range all {
		sess.close(closeCause{code: wire.StatusGoingAway, reason: "shutdown", leave: leaveDisconnected, flush: true, send: true})
	}
	err := s.wait(ctx)
	s.unsub()
	if s.ownBroker {
		_ = s.broker.Close()
	}
	return err
}

// wait waits for every session to end; if ctx ends first it cuts them.
func (s *Server) wait(ctx context.Context) error {
	ended := make(chan struct{})
	go func() {
		s.conns.Wait()
		close(ended)
	}()
	select {
	case <-ended:
		return nil
	case <-ctx.Done():
	}
	s.mu.RLock()
	for _, sess := range s.sessions {
		sess.cut()
	}
	s.mu.RUnlock()
	<-ended
	return ctx.Err()
}
