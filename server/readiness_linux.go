package server

import (
	"fmt"
	"os"
	"sync"
	"syscall"
)

// processPoller is shared by every Server of the process. Its epoll instance
// and goroutine exist only while some socket is watched.
var processPoller epoller

// epoller hands out watchers on one epoll loop, started with the first
// watcher and stopped with the last, so a process (or a test) with no
// connections has no poller goroutine.
type epoller struct {
	mu   sync.Mutex
	loop *epollLoop
	refs int
}

// watch registers rc on the current loop, starting one if needed.
func (p *epoller) watch(rc syscall.RawConn, ready func()) (watcher, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.loop == nil {
		l, err := newEpollLoop(p)
		if err != nil {
			return nil, err
		}
		p.loop = l
	}
	w, err := p.loop.add(rc, ready)
	if err != nil {
		if p.refs == 0 {
			p.loop.close()
			p.loop = nil
		}
		return nil, err
	}
	p.refs++
	return w, nil
}

// release drops one watcher's reference to loop, stopping it with the last.
func (p *epoller) release(l *epollLoop) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refs--
	if p.refs == 0 && p.loop == l {
		p.loop = nil
		l.close()
	}
}

// epollLoop is one epoll instance and the goroutine that delivers its
// events. The epoll descriptor is itself registered with the Go runtime's
// netpoller (it is readable while events are pending), so the goroutine
// waits like any network read instead of holding a thread in epoll_wait.
type epollLoop struct {
	owner *epoller
	file  *os.File // the epoll descriptor
	epfd  int
	done  chan struct{}

	mu       sync.Mutex
	watchers map[int32]*epollWatch // by file descriptor
	gen      uint32                // tells a watcher from an earlier one on a reused descriptor
}

func newEpollLoop(owner *epoller) (*epollLoop, error) {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("epoll: non-blocking: %w", err)
	}
	l := &epollLoop{
		owner:    owner,
		file:     os.NewFile(uintptr(fd), "epoll"),
		epfd:     fd,
		done:     make(chan struct{}),
		watchers: make(map[int32]*epollWatch),
	}
	rc, err := l.file.SyscallConn()
	if err != nil {
		l.file.Close()
		return nil, err
	}
	go l.run(rc)
	return l, nil
}

// run delivers events until the epoll descriptor is closed. Each event
// calls its watcher's ready once (the registration is one-shot).
func (l *epollLoop) run(rc syscall.RawConn) {
	defer close(l.done)
	events := make([]syscall.EpollEvent, 256)
	for {
		var n int
		var werr error
		err := rc.Read(func(fd uintptr) bool {
			n, werr = syscall.EpollWait(int(fd), events, 0)
			if werr == syscall.EINTR {
				n, werr = 0, nil
			}
			// Nothing pending: let the netpoller wait for the next event.
			return n > 0 || werr != nil
		})
		if err != nil || werr != nil {
			return // closed
		}
		for i := range events[:n] {
			l.deliver(events[i].Fd, uint32(events[i].Pad))
		}
	}
}

// deliver calls the ready function of the watcher the event is for, unless
// the descriptor has since been forgotten or reused.
func (l *epollLoop) deliver(fd int32, gen uint32) {
	l.mu.Lock()
	w := l.watchers[fd]
	l.mu.Unlock()
	if w != nil && w.gen == gen {
		w.ready()
	}
}

// add registers the socket behind rc, not yet armed: with EPOLLONESHOT
// alone it reports nothing until arm asks for EPOLLIN (the kernel adds
// EPOLLERR and EPOLLHUP; such an early event finds no parked session and
// the next arm reports it again).
func (l *epollLoop) add(rc syscall.RawConn, ready func()) (*epollWatch, error) {
	w := &epollWatch{loop: l, rc: rc, ready: ready}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.gen++
	w.gen = l.gen
	var cerr error
	err := rc.Control(func(fd uintptr) {
		w.fd = int32(fd)
		ev := syscall.EpollEvent{Events: syscall.EPOLLONESHOT, Fd: w.fd, Pad: int32(w.gen)}
		cerr = syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev)
	})
	if err == nil && cerr != nil {
		err = fmt.Errorf("epoll_ctl: %w", cerr)
	}
	if err != nil {
		return nil, err
	}
	// A watcher still listed under this descriptor belongs to a socket
	// that has been closed (the kernel dropped its registration with it).
	l.watchers[w.fd] = w
	return w, nil
}

// close stops the loop and waits for its goroutine.
func (l *epollLoop) close() {
	l.file.Close()
	<-l.done
}

// epollWatch is one socket on an epollLoop. Its fields do not change once
// add has returned.
type epollWatch struct {
	loop  *epollLoop
	rc    syscall.RawConn
	ready func()
	fd    int32
	gen   uint32
}

// arm re-arms the socket for one readiness event; if it is readable
// already, the event comes at once. Control keeps the descriptor from being
// closed and reused meanwhile.
func (w *epollWatch) arm() error {
	var cerr error
	err := w.rc.Control(func(fd uintptr) {
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: w.fd, Pad: int32(w.gen)}
		cerr = syscall.EpollCtl(w.loop.epfd, syscall.EPOLL_CTL_MOD, int(fd), &ev)
	})
	if err != nil {
		return err
	}
	if cerr != nil {
		return fmt.Errorf("epoll_ctl: %w", cerr)
	}
	return nil
}

// stop forgets the socket and drops its reference to the loop.
func (w *epollWatch) stop() {
	l := w.loop
	l.mu.Lock()
	if l.watchers[w.fd] == w {
		delete(l.watchers, w.fd)
	}
	l.mu.Unlock()
	// Closing the socket drops the registration too; if it is still open,
	// drop it now. An error means it is closed already.
	_ = w.rc.Control(func(fd uintptr) {
		_ = syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil)
	})
	l.owner.release(l)
}
