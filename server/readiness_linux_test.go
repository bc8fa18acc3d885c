package server

import (
	"net"
	"syscall"
	"testing"
	"time"
)

// tcpPair returns the two ends of a loopback TCP connection, closed when the
// test ends.
func tcpPair(t *testing.T) (server *net.TCPConn, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); client.Close() })
	return c.(*net.TCPConn), client
}

func rawConnOf(t *testing.T, c *net.TCPConn) syscall.RawConn {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

// expectReady waits for one call of a watcher's ready function.
func expectReady(t *testing.T, ready <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ready:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: ready was not called", what)
	}
}

// expectNotReady checks that no call of ready is pending or comes soon. (It
// can only show the absence of a call within the wait, which is what a
// one-shot registration must guarantee forever; a late call would still
// fail a later expectation of the test.)
func expectNotReady(t *testing.T, ready <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ready:
		t.Fatalf("%s: ready was called", what)
	case <-time.After(50 * time.Millisecond):
	}
}

func TestEpollWatchIsOneShotAndRearms(t *testing.T) {
	srv, cli := tcpPair(t)
	ready := make(chan struct{}, 10)
	w, err := watchSocket(rawConnOf(t, srv), func() { ready <- struct{}{} })
	if err != nil {
		t.Fatal(err)
	}
	defer w.stop()

	cli.Write([]byte("x"))
	expectNotReady(t, ready, "readable but not armed")
	if err := w.arm(); err != nil {
		t.Fatal(err)
	}
	expectReady(t, ready, "armed after the bytes arrived")
	cli.Write([]byte("y"))
	expectNotReady(t, ready, "one-shot: not re-armed")

	// Re-arming while unread bytes wait reports them at once (level check).
	if err := w.arm(); err != nil {
		t.Fatal(err)
	}
	expectReady(t, ready, "re-armed with bytes unread")

	// Drained and armed: the next bytes are reported when they come.
	buf := make([]byte, 16)
	if n, err := srv.Read(buf); err != nil || n != 2 {
		t.Fatalf("Read = %d, %v", n, err)
	}
	if err := w.arm(); err != nil {
		t.Fatal(err)
	}
	expectNotReady(t, ready, "armed, nothing to read")
	cli.Write([]byte("z"))
	expectReady(t, ready, "bytes after arming")

	// The peer's close is a readiness event too.
	if err := w.arm(); err != nil {
		t.Fatal(err)
	}
	srv.Read(buf)
	if err := w.arm(); err != nil {
		t.Fatal(err)
	}
	cli.Close()
	expectReady(t, ready, "peer closed")
}

func TestEpollArmFailsOnAClosedSocket(t *testing.T) {
	srv, _ := tcpPair(t)
	w, err := watchSocket(rawConnOf(t, srv), func() {})
	if err != nil {
		t.Fatal(err)
	}
	defer w.stop()
	srv.Close()
	if err := w.arm(); err == nil {
		t.Fatal("arm on a closed socket succeeded")
	}
}

// TestEpollStaleWatcherOnReusedDescriptor: a socket is closed without stop
// and its descriptor number goes to a new socket; the new socket's watcher
// gets its events, the old one's stop leaves it alone, and the old ready
// function is never called.
func TestEpollStaleWatcherOnReusedDescriptor(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dial := func() (watched *net.TCPConn, peer net.Conn) {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		p, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(); p.Close() })
		return c.(*net.TCPConn), p
	}
	// The next socket takes the lowest free descriptor: usually the one
	// just freed (unless another test's goroutine freed a lower one).
	var wOld watcher
	oldReady := make(chan struct{}, 10)
	var cur *net.TCPConn
	var peer net.Conn
	for attempt := 0; cur == nil; attempt++ {
		if attempt == 10 {
			t.Fatal("a closed socket's descriptor was never reused")
		}
		old, _ := dial()
		w, err := watchSocket(rawConnOf(t, old), func() { oldReady <- struct{}{} })
		if err != nil {
			t.Fatal(err)
		}
		if err := w.arm(); err != nil {
			t.Fatal(err)
		}
		old.Close()
		c, p := dial()
		var fd int32
		rawConnOf(t, c).Control(func(u uintptr) { fd = int32(u) })
		if fd != w.(*epollWatch).fd {
			w.stop()
			continue
		}
		wOld, cur, peer = w, c, p
	}
	newReady := make(chan struct{}, 10)
	wNew, err := watchSocket(rawConnOf(t, cur), func() { newReady <- struct{}{} })
	if err != nil {
		t.Fatal(err)
	}
	defer wNew.stop()
	wOld.stop()
	if err := wNew.arm(); err != nil {
		t.Fatal(err)
	}
	peer.Write([]byte("x"))
	expectReady(t, newReady, "the new socket")
	expectNotReady(t, oldReady, "the closed socket's watcher")
}

// TestEpollLoopStopsWithTheLastWatcher: no poller goroutine outlives the
// sockets it watched (goleak checks the goroutine at the end of the run).
func TestEpollLoopStopsWithTheLastWatcher(t *testing.T) {
	var p epoller // not the process's: other tests' sessions use that one
	a, _ := tcpPair(t)
	b, _ := tcpPair(t)
	wa, err := p.watch(rawConnOf(t, a), func() {})
	if err != nil {
		t.Fatal(err)
	}
	wb, err := p.watch(rawConnOf(t, b), func() {})
	if err != nil {
		t.Fatal(err)
	}
	loop := wa.(*epollWatch).loop
	if wb.(*epollWatch).loop != loop {
		t.Fatal("two watchers on two loops")
	}
	wa.stop()
	select {
	case <-loop.done:
		t.Fatal("the loop stopped while a socket was still watched")
	default:
	}
	wb.stop()
	<-loop.done
	if p.loop != nil || p.refs != 0 {
		t.Fatalf("poller after the last stop: loop %v refs %d", p.loop, p.refs)
	}

	// A new watcher starts a new loop.
	c, _ := tcpPair(t)
	wc, err := p.watch(rawConnOf(t, c), func() {})
	if err != nil {
		t.Fatal(err)
	}
	if wc.(*epollWatch).loop == loop {
		t.Fatal("a stopped loop was reused")
	}
	wc.stop()
	<-wc.(*epollWatch).loop.done
}
