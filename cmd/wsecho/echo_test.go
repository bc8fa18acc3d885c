package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/chatd/chatd/wire"
	"github.com/spf13/pflag"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startEcho runs serve on a loopback port and returns its ws:// URL and a
// stop function that shuts it down and returns serve's error.
func startEcho(t *testing.T, maxMessage int64) (string, func() error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	h := newEchoHandler(maxMessage, slog.New(slog.NewTextHandler(io.Discard, nil)))
	go func() { errc <- serve(ctx, ln, h, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-errc
	}
	t.Cleanup(func() { stop() })
	return "ws://" + ln.Addr().String() + "/any/path?x=1", stop
}

func dial(t *testing.T, url string, compress bool) *wire.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	opts := &wire.DialOptions{ReadLimit: 64 << 20}
	if compress {
		opts.Compression = &wire.CompressionOptions{ContextTakeover: true}
	}
	c, _, err := wire.Dial(ctx, url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func TestEchoSameTypeAndBytes(t *testing.T) {
	url, _ := startEcho(t, 16<<20)
	for _, compress := range []bool{false, true} {
		c := dial(t, url, compress)
		if c.CompressionEnabled() != compress {
			t.Fatalf("CompressionEnabled = %v, want %v", c.CompressionEnabled(), compress)
		}
		msgs := []struct {
			typ wire.MessageType
			p   []byte
		}{
			{wire.TextMessage, nil},
			{wire.TextMessage, []byte("hello, κόσμε")},
			{wire.BinaryMessage, []byte{0, 1, 2, 0xff}},
			{wire.BinaryMessage, bytes.Repeat([]byte{7, 8, 9}, 30000)},
			{wire.TextMessage, bytes.Repeat([]byte("chat "), 50000)},
		}
		for _, m := range msgs {
			if err := c.WriteMessage(m.typ, m.p); err != nil {
				t.Fatal(err)
			}
			typ, got, err := c.ReadMessage()
			if err != nil {
				t.Fatalf("compress=%v: %v", compress, err)
			}
			if typ != m.typ || !bytes.Equal(got, m.p) {
				t.Fatalf("compress=%v: echo of %v %d bytes came back as %v %d bytes", compress, m.typ, len(m.p), typ, len(got))
			}
		}
		if err := c.Close(wire.StatusNormalClosure, ""); err != nil {
			t.Fatal(err)
		}
	}
}

func TestEchoReadLimit(t *testing.T) {
	url, _ := startEcho(t, 1000)
	c := dial(t, url, false)
	if err := c.WriteMessage(wire.BinaryMessage, make([]byte, 1001)); err != nil {
		t.Fatal(err)
	}
	_, _, err := c.ReadMessage()
	if got := wire.CloseStatus(err); got != wire.StatusMessageTooBig {
		t.Fatalf("read after an oversized message: %v (code %d), want 1009", err, got)
	}
}

func TestShutdownClosesConnectionsWith1001(t *testing.T) {
	url, stop := startEcho(t, 16<<20)
	c := dial(t, url, false)
	readErr := make(chan error, 1)
	go func() {
		_, _, err := c.ReadMessage()
		readErr <- err
	}()
	if err := stop(); err != nil {
		t.Fatalf("serve returned %v", err)
	}
	err := <-readErr
	var ce *wire.CloseError
	if !errors.As(err, &ce) || ce.Code != wire.StatusGoingAway || ce.Reason != "shutdown" {
		t.Fatalf("client read %v, want close 1001 shutdown", err)
	}
}

func TestHelpExplainsFlags(t *testing.T) {
	err := run([]string{"--help"})
	if !errors.Is(err, pflag.ErrHelp) {
		t.Fatalf("run(--help) = %v, want pflag.ErrHelp", err)
	}
	if err := run([]string{"--no-such-flag"}); err == nil {
		t.Fatal("run accepted an unknown flag")
	}
}
