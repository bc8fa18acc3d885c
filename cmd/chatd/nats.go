package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/pflag"

	"github.com/chatd/chatd/server"
	"github.com/chatd/chatd/server/natsbroker"
)

// natsOptions are the flags that make chatd a node of a cluster.
type natsOptions struct {
	url      string
	creds    string
	tlsCA    string
	embedded string
	dataDir  string
}

// addFlags registers the cluster flags on fs.
func (n *natsOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&n.url, "nats", "", "join a cluster through this NATS server with JetStream (nats://host:4222, tls://…; comma-separated for several)")
	fs.StringVar(&n.creds, "nats-creds", "", "NATS user credentials file (.creds) for --nats")
	fs.StringVar(&n.tlsCA, "nats-tls-ca", "", "PEM file of the CA that signed the NATS server's certificate, for --nats")
	fs.StringVar(&n.embedded, "nats-embedded", "", "run a NATS server with JetStream inside chatd on this address (e.g. 127.0.0.1:4222) and use it; other nodes join with --nats nats://ADDR")
	fs.StringVar(&n.dataDir, "data-dir", "", "directory for the embedded NATS server's JetStream files (with --nats-embedded)")
}

// check refuses combinations that cannot work.
func (n *natsOptions) check() error {
	switch {
	case n.url != "" && n.embedded != "":
		return errors.New("--nats and --nats-embedded exclude each other: a node either runs the NATS server or joins one")
	case n.embedded != "" && n.dataDir == "":
		return errors.New("--nats-embedded needs --data-dir: JetStream keeps the rooms' history there")
	case n.embedded == "" && n.dataDir != "":
		return errors.New("--data-dir is for --nats-embedded only")
	case n.url == "" && (n.creds != "" || n.tlsCA != ""):
		return errors.New("--nats-creds and --nats-tls-ca go with --nats")
	}
	if n.embedded != "" {
		if _, _, err := net.SplitHostPort(n.embedded); err != nil {
			return fmt.Errorf("--nats-embedded %q: want host:port, e.g. 127.0.0.1:4222", n.embedded)
		}
	}
	for _, f := range []struct{ flag, path string }{{"--nats-creds", n.creds}, {"--nats-tls-ca", n.tlsCA}} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			return fmt.Errorf("%s: %v", f.flag, err)
		}
	}
	return nil
}

// startCluster connects to NATS (starting the embedded server first when
// asked) and returns the broker for Config.Broker, or nil without cluster
// flags. stop closes the broker, the connection and the embedded server,
// after the chat server's shutdown.
func (n *natsOptions) startCluster(ctx context.Context, log *slog.Logger, cfg server.Config) (broker server.Broker, stop func(), err error) {
	stop = func() {}
	if n.url == "" && n.embedded == "" {
		return nil, stop, nil
	}
	var stops []func()
	stop = func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	defer func() {
		if err != nil {
			stop()
		}
	}()
	url := n.url
	if n.embedded != "" {
		ns, err := natsbroker.StartEmbedded(n.embedded, n.dataDir)
		if err != nil {
			return nil, stop, err
		}
		stops = append(stops, func() { ns.Shutdown(); ns.WaitForShutdown() })
		url = ns.ClientURL()
		log.Info("embedded NATS server with JetStream running", "nats", url, "data_dir", n.dataDir)
	}
	opts := []nats.Option{
		nats.Name("chatd"),
		nats.MaxReconnects(-1), // the broker reports the outage; the connection keeps trying
		nats.ReconnectWait(250 * time.Millisecond),
		// A cut network (no RST) shows after two missed pings: keep that
		// short, so the connection starts reconnecting soon after the
		// broker has reported the outage.
		nats.PingInterval(5 * time.Second),
		nats.MaxPingsOutstanding(2),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { log.Warn("NATS disconnected", "err", err) }),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("NATS reconnected", "nats", c.ConnectedUrl()) }),
	}
	if n.creds != "" {
		opts = append(opts, nats.UserCredentials(n.creds))
	}
	if n.tlsCA != "" {
		opts = append(opts, nats.RootCAs(n.tlsCA))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, stop, fmt.Errorf("cannot connect to NATS at %s: %v (is it running, with JetStream enabled?)", url, err)
	}
	stops = append(stops, nc.Close)
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	b, err := natsbroker.New(sctx, nc, natsbroker.Options{
		HistorySize: cfg.HistorySize, HistoryTTL: cfg.HistoryTTL, Logger: log,
	})
	if err != nil {
		return nil, stop, fmt.Errorf("%v (does the NATS server have JetStream enabled?)", err)
	}
	stops = append(stops, func() { _ = b.Close() })
	log.Info("cluster node ready", "nats", nc.ConnectedUrl(), "node", b.NodeID())
	return b, stop, nil
}
