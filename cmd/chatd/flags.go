package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/pflag"

	"github.com/chatd/chatd/server"
)

// version is reported by --version, in welcome and on /healthz.
const version = "0.1.0"

// envPrefix turns --history-ttl into CHATD_HISTORY_TTL.
const envPrefix = "CHATD_"

// options is everything the command line and the environment decide.
type options struct {
	addr           string
	tlsCert        string
	tlsKey         string
	logFormat      string
	logLevel       string
	showVersion    bool
	allowedOrigins []string
	nats           natsOptions   // cluster flags (nats.go)
	cfg            server.Config // the server's settings, before the logger is attached
}

// parseFlags reads args, then the CHATD_* variables for flags not given on
// the command line, and checks every value. --help prints to out and returns
// pflag.ErrHelp.
func parseFlags(args []string, getenv func(string) string, out io.Writer) (*options, error) {
	def := server.DefaultConfig()
	o := &options{cfg: def}
	fs := pflag.NewFlagSet("chatd", pflag.ContinueOnError)
	fs.SetOutput(out)
	fs.SortFlags = false
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8000", "address to listen on (host:port); use 0.0.0.0:8000 to accept other machines")
	fs.StringSliceVar(&o.allowedOrigins, "allowed-origins", nil, "browser origins allowed besides the server's own, comma-separated (e.g. https://chat.example.com); * allows any")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "PEM certificate file: serve https:// and wss:// on the same address (needs --tls-key)")
	fs.StringVar(&o.tlsKey, "tls-key", "", "PEM private key file for --tls-cert")
	fs.Int64Var(&o.cfg.MaxMessageBytes, "max-message-bytes", def.MaxMessageBytes, "largest client message in bytes, after decompression (larger: close 1009)")
	fs.Float64Var(&o.cfg.RatePerSec, "rate", def.RatePerSec, "messages per second allowed per connection")
	fs.IntVar(&o.cfg.RateBurst, "burst", def.RateBurst, "messages allowed in a burst per connection")
	fs.IntVar(&o.cfg.HistorySize, "history", def.HistorySize, "chat messages kept per room")
	fs.DurationVar(&o.cfg.HistoryTTL, "history-ttl", def.HistoryTTL, "how long messages (and empty rooms) are kept")
	fs.IntVar(&o.cfg.ReplayCount, "replay", def.ReplayCount, "messages replayed to a joiner that gives no since")
	fs.DurationVar(&o.cfg.JoinTimeout, "join-timeout", def.JoinTimeout, "time a new connection has to join (then close 1008 join_timeout)")
	fs.DurationVar(&o.cfg.IdleTimeout, "idle-timeout", def.IdleTimeout, "close a connection silent this long (1001 idle_timeout)")
	fs.DurationVar(&o.cfg.PingInterval, "ping-interval", def.PingInterval, "how often the server pings each connection")
	fs.IntVar(&o.cfg.QueueBytes, "queue-bytes", def.QueueBytes, "outbound queue per connection in bytes; a client that lets it overflow is closed (1008 slow_consumer)")
	fs.DurationVar(&o.cfg.WriteCoalesce, "write-coalesce", def.WriteCoalesce, "a flooded connection (sent at least 10 messages within 10 times this) waits up to this long so that what arrives meanwhile goes out in one write (0 turns it off; other connections are never delayed)")
	o.nats.addFlags(fs)
	fs.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error (message text is logged at debug only)")
	fs.BoolVar(&o.showVersion, "version", false, "print the version and exit")

	fs.VisitAll(func(f *pflag.Flag) { f.Usage += fmt.Sprintf(" [$%s]", envName(f.Name)) })
	fs.Usage = func() {
		fmt.Fprintf(out, "chatd %s — the chat.v1 WebSocket chat server\n\nUsage: chatd [flags]\n\nFlags (each also settable as the $CHATD_… variable shown):\n", version)
		fmt.Fprint(out, fs.FlagUsagesWrapped(100))
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("%v (see chatd --help)", err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (see chatd --help)", fs.Arg(0))
	}
	var envErr error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed || envErr != nil {
			return
		}
		if v := getenv(envName(f.Name)); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				envErr = fmt.Errorf("$%s=%q: %v", envName(f.Name), v, err)
			}
		}
	})
	if envErr != nil {
		return nil, envErr
	}
	if o.showVersion {
		return o, nil
	}
	return o, o.check()
}

func envName(flag string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// check refuses values the server would trip over later.
func (o *options) check() error {
	if _, err := o.level(); err != nil {
		return err
	}
	if o.logFormat != "text" && o.logFormat != "json" {
		return fmt.Errorf("--log-format must be text or json, not %q", o.logFormat)
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	if o.tlsCert != "" {
		if _, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey); err != nil {
			return fmt.Errorf("--tls-cert/--tls-key: %v", err)
		}
	}
	if err := o.nats.check(); err != nil {
		return err
	}
	o.cfg.Version = version
	o.cfg.AllowedOrigins = o.allowedOrigins
	if err := o.cfg.Validate(); err != nil {
		return fmt.Errorf("%v", err)
	}
	return nil
}

func (o *options) level() (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(o.logLevel)); err != nil {
		return 0, fmt.Errorf("--log-level must be debug, info, warn or error, not %q", o.logLevel)
	}
	return l, nil
}

// logger builds the slog.Logger the flags ask for.
func (o *options) logger(w io.Writer) *slog.Logger {
	l, _ := o.level()
	hopts := &slog.HandlerOptions{Level: l}
	if o.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, hopts))
	}
	return slog.New(slog.NewTextHandler(w, hopts))
}
