package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/pflag"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "rawfanout:", err)
		os.Exit(2)
	}
}

// run parses the flags (the rates are the arguments) and measures, or with
// --serve-child is the child.
func run(ctx context.Context, args []string, stdin io.Reader, out io.Writer) error {
	fs := pflag.NewFlagSet("rawfanout", pflag.ContinueOnError)
	fs.SetOutput(out)
	var cfg config
	fs.IntVar(&cfg.conns, "conns", 1000, "connections, each receiving every message")
	fs.IntVar(&cfg.size, "size", 150, "bytes per message (about chatbench's 130-byte chat as the baseline frames it)")
	fs.DurationVar(&cfg.duration, "duration", 3*time.Second, "how long each rate is offered")
	fs.DurationVar(&cfg.drain, "drain", 2*time.Second, "how long after a rate's last send deliveries may still arrive")
	child := fs.String("serve-child", "", "child mode: serve the fan-out on this address until stdin closes")
	_ = fs.MarkHidden("serve-child")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *child != "" {
		return serveChild(*child, cfg.size, cfg.conns, out, stdin)
	}
	for _, a := range fs.Args() {
		r, err := strconv.ParseFloat(a, 64)
		if err != nil || r <= 0 {
			return fmt.Errorf("rate %q: want a positive number of messages per second", a)
		}
		cfg.rates = append(cfg.rates, r)
	}
	if len(cfg.rates) == 0 {
		cfg.rates = []float64{12, 25, 50, 100, 150, 200}
	}
	if cfg.conns < 1 || cfg.duration <= 0 || cfg.drain <= 0 {
		return fmt.Errorf("--conns, --duration and --drain must be above 0")
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	steps, err := measure(ctx, cfg, exe)
	report(out, cfg, steps)
	return err
}
