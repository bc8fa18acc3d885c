package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/chatd/chatd/server"
)

// runEnv is what run needs from the process, so tests can supply their own.
type runEnv struct {
	args   []string
	getenv func(string) string
	stdout io.Writer
	stderr io.Writer
	ready  func(addr net.Addr) // called once listening (tests)
}

// shutdownGrace bounds the graceful shutdown: flushing queues and closing.
const shutdownGrace = 10 * time.Second

// run is the whole command; it returns the exit code: 0 after a clean
// shutdown (SIGINT, SIGTERM or ctx), 2 for bad flags, 1 for failures.
func run(ctx context.Context, env runEnv) int {
	o, err := parseFlags(env.args, env.getenv, env.stdout)
	switch {
	case errors.Is(err, pflag.ErrHelp):
		return 0
	case err != nil:
		fmt.Fprintf(env.stderr, "chatd: %v\n", err)
		return 2
	case o.showVersion:
		fmt.Fprintf(env.stdout, "chatd %s\n", version)
		return 0
	}
	log := o.logger(env.stderr)
	cfg := o.cfg
	cfg.Logger = log
	broker, stopCluster, err := o.nats.startCluster(ctx, log, cfg)
	if err != nil {
		fmt.Fprintf(env.stderr, "chatd: %v\n", err)
		return 1
	}
	defer stopCluster()
	cfg.Broker = broker
	srv, err := server.New(cfg)
	if err != nil {
		fmt.Fprintf(env.stderr, "chatd: %v\n", err)
		return 2
	}
	// Catch the signals before listening, so that a SIGTERM that arrives
	// as soon as the address is reachable already shuts down gracefully.
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		fmt.Fprintf(env.stderr, "chatd: cannot listen on %s: %v (is another server running there? choose another with --addr)\n", o.addr, err)
		_ = srv.Shutdown(context.Background())
		return 1
	}
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second, // a client that never finishes its headers holds nothing for long
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	scheme := "http"
	if o.tlsCert != "" {
		scheme = "https"
		go func() { served <- hs.ServeTLS(ln, o.tlsCert, o.tlsKey) }()
	} else {
		go func() { served <- hs.Serve(ln) }()
	}
	ws := map[string]string{"http": "ws", "https": "wss"}[scheme]
	log.Info("chatd listening", "version", version, "page", fmt.Sprintf("%s://%s/", scheme, ln.Addr()),
		"websocket", fmt.Sprintf("%s://%s/ws", ws, ln.Addr()))
	if env.ready != nil {
		env.ready(ln.Addr())
	}

	code := 0
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err := <-served:
		log.Error("serving stopped", "err", err)
		code = 1
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	// Stop accepting first; WebSocket connections are hijacked, so this does
	// not wait for them: the chat server's Shutdown closes them properly.
	if err := hs.Shutdown(sctx); err != nil {
		log.Warn("http shutdown", "err", err)
	}
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("chat shutdown was cut short", "err", err)
	}
	if code == 0 {
		<-served // http.ErrServerClosed
		log.Info("stopped")
	}
	return code
}
