// Command chat is the terminal client of chatd: an interactive chat when its
// input is a terminal, and a line-by-line one for scripts when it is not.
//
//	go run ./cmd/chat --name alice
//	printf '/pm bob hi\n' | go run ./cmd/chat --name alice
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/chatd/chatd/api"
	"github.com/chatd/chatd/client"
	cterm "github.com/chatd/chatd/client/term"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const about = `chat: talk to a chatd server (chat.v1) from a terminal or a script.

usage: chat [flags]

On a terminal: type to chat in the current room (shown in the prompt); who is
typing shows above the input line. From a pipe: one command per line, one line
per event on stdout, errors on stderr; at end of input it waits for the
server's answers, leaves and exits.

` + cterm.HelpText + `

exit status: 0 ok; 1 a command was refused or the connection was lost;
2 bad flags; 3 could not connect or join.

flags:
`

// options are the parsed flags, plus what run needs in tests.
type options struct {
	url, name, token, ca string
	rooms                []string
	insecure, json       bool
	noColor, noCompress  bool
	timeout              time.Duration
	// client lets tests shorten backoffs; zero in main.
	client client.Options
}

// run is the whole program minus the process: flags, dialing, and the mode
// chosen by whether stdin is a terminal. It returns the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runWith(ctx, args, stdin, stdout, stderr, client.Options{})
}

func runWith(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, base client.Options) int {
	o := options{client: base}
	fs := pflag.NewFlagSet("chat", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.url, "url", "ws://127.0.0.1:8000/ws", "server WebSocket URL (ws:// or wss://)")
	fs.StringVar(&o.name, "name", os.Getenv("USER"), "your name (default $USER)")
	fs.StringArrayVar(&o.rooms, "room", []string{client.DefaultRoom}, "room to join (repeatable; the first is current)")
	fs.StringVar(&o.token, "token", os.Getenv("CHAT_TOKEN"), "token for servers with authentication (default $CHAT_TOKEN)")
	fs.StringVar(&o.ca, "ca", "", "PEM file of a CA to trust for wss:// (self-signed servers)")
	fs.BoolVar(&o.insecure, "insecure", false, "skip TLS certificate checks (testing only)")
	fs.BoolVar(&o.json, "json", false, "pipe mode: print the server's envelopes verbatim, one JSON object per line")
	fs.BoolVar(&o.noColor, "no-color", false, "no colours (also when NO_COLOR is set)")
	fs.BoolVar(&o.noCompress, "no-compress", false, "do not offer permessage-deflate")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "how long to wait for the server (connecting, and each answer)")
	help := fs.BoolP("help", "h", false, "show this help")
	fs.Usage = func() {
		fmt.Fprint(stderr, about)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		fmt.Fprintln(stderr, "chat:", err, "(see --help)")
		return cterm.ExitUsage
	}
	if *help {
		fs.SetOutput(stdout)
		fmt.Fprint(stdout, about)
		fs.PrintDefaults()
		return cterm.ExitOK
	}
	if err := o.check(fs.Args()); err != nil {
		fmt.Fprintln(stderr, "chat:", err)
		return cterm.ExitUsage
	}

	copts := o.client
	if copts.MaxAttempts == 0 {
		// A person waits about a minute for the server to come back, not minutes.
		copts.MaxAttempts, copts.MaxBackoff = 10, 10*time.Second
	}
	copts.Name, copts.Rooms, copts.Token = o.name, o.rooms, o.token
	copts.Compression = !o.noCompress
	if copts.ConnectTimeout == 0 {
		copts.ConnectTimeout = o.timeout
	}
	if strings.HasPrefix(o.url, "wss://") || o.ca != "" || o.insecure {
		tc, err := client.TLSConfig(o.ca, o.insecure)
		if err != nil {
			fmt.Fprintln(stderr, "chat:", err)
			return cterm.ExitUsage
		}
		copts.TLSConfig = tc
	}

	tty := isTerminal(stdin)
	if tty {
		fmt.Fprintf(stderr, "connecting to %s as %s…\n", o.url, o.name)
	}
	dctx, cancel := context.WithTimeout(ctx, o.timeout)
	s, err := client.Dial(dctx, o.url, copts)
	cancel()
	if err != nil {
		fmt.Fprintln(stderr, "chat: "+cterm.Explain(err, o.url))
		return cterm.ExitConnect
	}

	cfg := cterm.Config{Rooms: o.rooms, JSON: o.json, RequestTimeout: o.timeout}
	if tty {
		cfg.Color = !o.noColor && os.Getenv("NO_COLOR") == ""
		return cterm.RunTerminal(ctx, s, cfg, stdin, stdout)
	}
	return cterm.RunPipe(ctx, s, cfg, stdin, stdout, stderr)
}

func (o *options) check(rest []string) error {
	if len(rest) > 0 {
		return fmt.Errorf("unexpected argument %q (see --help)", rest[0])
	}
	if o.name == "" {
		return errors.New("no name: pass --name NAME ($USER is not set)")
	}
	if !api.ValidName(o.name) {
		return fmt.Errorf("%q is not a valid name: 1–32 letters, digits, _ - . starting with a letter or digit; pass --name", o.name)
	}
	if len(o.rooms) == 0 {
		o.rooms = []string{client.DefaultRoom}
	}
	seen := map[string]bool{}
	var rooms []string
	for _, r := range o.rooms {
		if !api.ValidRoom(r) {
			return fmt.Errorf("%q is not a valid room: 1–64 lowercase letters, digits, _ - starting with a letter or digit", r)
		}
		if !seen[r] {
			seen[r] = true
			rooms = append(rooms, r)
		}
	}
	o.rooms = rooms
	if !strings.HasPrefix(o.url, "ws://") && !strings.HasPrefix(o.url, "wss://") {
		return fmt.Errorf("--url %q must start with ws:// or wss://", o.url)
	}
	if o.timeout <= 0 {
		return errors.New("--timeout must be positive")
	}
	return nil
}

// isTerminal reports whether r is a terminal (then the interactive screen is used).
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
