package natsbroker

import (
	"fmt"
	"net"
	"strconv"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

// StartEmbedded starts a NATS server with JetStream inside this process,
// listening on addr (host:port; port 0 picks a free one) and keeping
// JetStream's files under dataDir. Other chatd nodes join it with
// --nats nats://addr. It returns once the server accepts connections; stop
// it with Shutdown and WaitForShutdown. Its address is ClientURL().
func StartEmbedded(addr, dataDir string) (*natsserver.Server, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("natsbroker: embedded NATS address %q: want host:port (%v)", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("natsbroker: embedded NATS address %q: bad port", addr)
	}
	if port == 0 {
		port = natsserver.RANDOM_PORT
	}
	if dataDir == "" {
		return nil, fmt.Errorf("natsbroker: the embedded NATS server needs a data directory for JetStream (--data-dir)")
	}
	ns, err := natsserver.NewServer(&natsserver.Options{
		ServerName: "chatd-embedded",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   dataDir,
		NoSigs:     true, // chatd handles the signals
		NoLog:      true,
		HTTPPort:   0,
	})
	if err != nil {
		return nil, fmt.Errorf("natsbroker: embedded NATS server: %w", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, fmt.Errorf("natsbroker: embedded NATS server on %s did not start within 10 s (is the port taken?)", addr)
	}
	return ns, nil
}
