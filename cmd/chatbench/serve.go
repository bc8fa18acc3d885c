package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"time"

	"github.com/chatd/chatd/cmd/chatbench/internal/baseline"
	"github.com/chatd/chatd/cmd/chatbench/internal/bench"
	"github.com/chatd/chatd/server"
)

// serveChild is the child process: one server, on its own, so that its
// memory is measured apart from the load generator's.
func serveChild(c *config, stdin io.Reader, stdout io.Writer) error {
	if c.profileRates {
		runtime.SetMutexProfileFraction(10)
		runtime.SetBlockProfileRate(int(100 * time.Microsecond))
	}
	switch c.serve {
	case "baseline":
		b := baseline.New()
		defer b.Close()
		mux := http.NewServeMux()
		mux.Handle("/ws", b)
		return bench.ServeChild(c.listen, bench.DebugMux(mux), stdout, stdin)
	case "chatd":
		cfg := chatdConfig()
		if c.serverLog != "" {
			f, err := os.Create(c.serverLog)
			if err != nil {
				return err
			}
			defer f.Close()
			cfg.Logger = slog.New(slog.NewJSONHandler(f, nil))
		}
		s, err := server.New(cfg)
		if err != nil {
			return err
		}
		err = bench.ServeChild(c.listen, bench.DebugMux(s), stdout, stdin)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
		return err
	case bench.EchoTCP, bench.EchoWS:
		return serveEcho(c, stdin, stdout)
	}
	return fmt.Errorf("unknown child mode %q", c.serve)
}

// chatdConfig is chatd's default configuration with two changes. The
// per-connection rate limit is lifted: fan-out has ten senders offering
// hundreds of messages per second each, far above the 20/s a person is
// allowed. And the idle timeout is 10 minutes instead of 60 s: opening
// 19,000 connections on a busy two-core machine can take longer than a
// minute, and the idle measurement must not race the server's timeout
// (pings still go out every 25 s, as shipped). Queues, history and
// everything else stay as shipped.
func chatdConfig() server.Config {
	cfg := server.DefaultConfig()
	cfg.RatePerSec = 1e6
	cfg.RateBurst = 1 << 20
	cfg.FloodLimit = 1 << 20
	cfg.IdleTimeout = 10 * time.Minute
	return cfg
}
