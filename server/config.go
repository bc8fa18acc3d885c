package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Config holds everything a Server needs. Start from DefaultConfig and change
// what differs; New validates the result.
type Config struct {
	Name, Version   string                // reported in welcome and /healthz ("chatd", "0.1.0")
	AllowedOrigins  []string              // extra origins allowed besides the server's own ("*" allows all)
	MaxMessageBytes int64                 // 65536
	MaxTextChars    int                   // 4000 (reported in welcome; the field rule itself lives in api/)
	RatePerSec      float64               // 20
	RateBurst       int                   // 40
	FloodLimit      int                   // 200 refused messages …
	FloodWindow     time.Duration         // … within 10 s → 1008 rate_limited
	HistorySize     int                   // 500 kept per room
	HistoryTTL      time.Duration         // 24 h
	ReplayCount     int                   // 50
	JoinTimeout     time.Duration         // 10 s
	IdleTimeout     time.Duration         // 60 s
	PingInterval    time.Duration         // 25 s
	WriteTimeout    time.Duration         // 10 s
	CloseTimeout    time.Duration         // 3 s (peer's answer to our Close, or its FIN)
	QueueBytes      int                   // 1 MiB outbound queue per connection
	WriteCoalesce   time.Duration         // 10 ms: a flooded connection (≥ 10 frames in 10 windows) waits up to this long to batch (0: off)
	TypingExpiry    time.Duration         // 6 s
	TypingThrottle  time.Duration         // 2 s
	Compression     bool                  // permessage-deflate when offered (true)
	Clock           Clock                 // nil: the real clock
	Logger          *slog.Logger          // nil: discard
	Broker          Broker                // nil: in-memory broker
	Metrics         prometheus.Registerer // nil: a private registry served at /metrics
}

// DefaultConfig returns the configuration PROTOCOL.md describes.
func DefaultConfig() Config {
	return Config{
		Name:            "chatd",
		Version:         "0.1.0",
		MaxMessageBytes: 64 << 10,
		MaxTextChars:    4000,
		RatePerSec:      20,
		RateBurst:       40,
		FloodLimit:      200,
		FloodWindow:     10 * time.Second,
		HistorySize:     500,
		HistoryTTL:      24 * time.Hour,
		ReplayCount:     50,
		JoinTimeout:     10 * time.Second,
		IdleTimeout:     60 * time.Second,
		PingInterval:    25 * time.Second,
		WriteTimeout:    10 * time.Second,
		CloseTimeout:    3 * time.Second,
		QueueBytes:      1 << 20,
		WriteCoalesce:   10 * time.Millisecond,
		TypingExpiry:    6 * time.Second,
		TypingThrottle:  2 * time.Second,
		Compression:     true,
	}
}

// ErrInvalidConfig is wrapped by every error New returns for a bad Config.
var ErrInvalidConfig = errors.New("invalid server configuration")

// Validate reports every field that is out of range in one error (wrapping
// ErrInvalidConfig), so an operator fixes all of them in one go. New calls it.
func (c *Config) Validate() error {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if c.Name == "" {
		bad("Name must not be empty")
	}
	if c.MaxMessageBytes < 256 {
		bad("MaxMessageBytes must be at least 256 (got %d)", c.MaxMessageBytes)
	}
	if c.MaxTextChars < 1 {
		bad("MaxTextChars must be at least 1 (got %d)", c.MaxTextChars)
	}
	if !(c.RatePerSec > 0) {
		bad("RatePerSec must be above 0 (got %v)", c.RatePerSec)
	}
	if c.RateBurst < 1 {
		bad("RateBurst must be at least 1 (got %d)", c.RateBurst)
	}
	if c.FloodLimit < 1 {
		bad("FloodLimit must be at least 1 (got %d)", c.FloodLimit)
	}
	if c.HistorySize < 0 {
		bad("HistorySize must not be negative (got %d)", c.HistorySize)
	}
	if c.ReplayCount < 0 {
		bad("ReplayCount must not be negative (got %d)", c.ReplayCount)
	}
	if c.QueueBytes < int(c.MaxMessageBytes) {
		// A queue smaller than one message would close every client that is
		// sent one large (but legal) message.
		bad("QueueBytes (%d) must be at least MaxMessageBytes (%d)", c.QueueBytes, c.MaxMessageBytes)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"FloodWindow", c.FloodWindow}, {"HistoryTTL", c.HistoryTTL}, {"JoinTimeout", c.JoinTimeout},
		{"IdleTimeout", c.IdleTimeout}, {"PingInterval", c.PingInterval}, {"WriteTimeout", c.WriteTimeout},
		{"CloseTimeout", c.CloseTimeout}, {"TypingExpiry", c.TypingExpiry}, {"TypingThrottle", c.TypingThrottle},
	} {
		if d.v <= 0 {
			bad("%s must be above 0 (got %v)", d.name, d.v)
		}
	}
	if c.WriteCoalesce < 0 {
		bad("WriteCoalesce must not be negative (got %v; 0 turns it off)", c.WriteCoalesce)
	}
	if c.PingInterval > 0 && c.IdleTimeout > 0 && c.PingInterval >= c.IdleTimeout {
		// A healthy but quiet client answers pings with pongs; those pongs are
		// what keeps it under the idle timeout.
		bad("PingInterval (%v) must be shorter than IdleTimeout (%v)", c.PingInterval, c.IdleTimeout)
	}
	for _, o := range c.AllowedOrigins {
		if o == "*" {
			continue
		}
		if _, err := parseOrigin(o); err != nil {
			bad("AllowedOrigins: %v", err)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, strings.Join(problems, "; "))
	}
	return nil
}

// parseOrigin turns "https://example.com:8443" into its canonical
// scheme://host[:port] form (lower case) as browsers send it in Origin.
func parseOrigin(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return "", fmt.Errorf("origin %q is not of the form http(s)://host[:port]", s)
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}
