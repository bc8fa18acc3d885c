// Command wsecho is an RFC 6455 echo server for conformance testing: every
// message comes back with the same type, on any path, with permessage-deflate
// (context takeover allowed) when the client offers it.
//
//	go run ./cmd/wsecho --addr 127.0.0.1:9001
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/pflag"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "wsecho:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := pflag.NewFlagSet("wsecho", pflag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:9001", "address to listen on (host:port)")
	maxMessage := fs.Int64("max-message", 16<<20, "largest message accepted in bytes, after inflation; a larger one closes with 1009")
	verbose := fs.BoolP("verbose", "v", false, "log every connection's end with its close code")
	fs.Usage = func() {
		fmt.Fprintf(os.Stderr, "Usage: wsecho [flags]\n\nAn RFC 6455 echo server for conformance probes: every message comes back\nwith the same type, on any path, permessage-deflate enabled.\n\nFlags:\n%s", fs.FlagUsages())
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serve(ctx, ln, newEchoHandler(*maxMessage, log), log)
}

// serve runs the echo server on ln until ctx ends, then shuts down: it stops
// accepting, closes open WebSocket connections with 1001 and waits (at most
// 5 s) for their handlers.
func serve(ctx context.Context, ln net.Listener, h *echoHandler, log *slog.Logger) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("wsecho listening", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx) // stops the listener; hijacked connections are ours
	<-errc
	return errors.Join(err, h.shutdown(sctx))
}
