package natsbroker

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startNATS starts an embedded NATS server with JetStream in a temporary
// directory on a free loopback port, stopped when the test ends.
func startNATS(t testing.TB) *natsserver.Server {
	t.Helper()
	ns, err := StartEmbedded("127.0.0.1:0", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	return ns
}

// connect opens a NATS connection that reconnects quickly, closed when the
// test ends.
func connect(t testing.TB, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, nats.ReconnectWait(50*time.Millisecond), nats.MaxReconnects(-1), nats.Timeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// fastOptions are short timings so that node death shows within a second.
func fastOptions() Options {
	return Options{
		NodeTTL:   2 * time.Second,
		Heartbeat: 100 * time.Millisecond,
		LostAfter: 1500 * time.Millisecond,
		Logger:    slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
}

// newBroker starts a broker on its own connection to url, closed when the
// test ends (before the connection: cleanups run last in, first out).
func newBroker(t testing.TB, url string, opts Options) (*Broker, *nats.Conn) {
	t.Helper()
	nc := connect(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := New(ctx, nc, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b, nc
}
