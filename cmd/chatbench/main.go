// Command chatbench measures chatd, and with --baseline a gorilla/websocket
// hub in the shape of gorilla's chat example, under the same load in the
// same run: idle memory per connection, fan-out throughput at p99 ≤ 50 ms,
// quiet round-trip latency, many small rooms, private-message storms and
// connection churn.
//
//	chatbench --scenario fanout --baseline
//	chatbench --scenario idle --conns 19000 --baseline --json idle.json
//	chatbench --scenario all --baseline
//
// Each server runs in a child process of chatbench (chatd embedded through
// server.New, the baseline through its internal package), so the memory
// measured is the server's own. --server URL measures a running chatd instead.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, pflag.ErrHelp):
	case err != nil:
		fmt.Fprintln(os.Stderr, "chatbench:", err)
		os.Exit(1)
	}
}

// run is main without the process: flags in, table out.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if cfg.serve != "" {
		return serveChild(cfg, stdin, stdout)
	}
	return runBench(ctx, cfg, stdout, stderr)
}
