package client

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"
)

// Defaults for the zero fields of Options.
const (
	DefaultRoom            = "lobby"
	DefaultMinBackoff      = 250 * time.Millisecond
	DefaultMaxBackoff      = 30 * time.Second
	DefaultMaxAttempts     = 12
	DefaultNameTakenGrace  = 75 * time.Second // the server's idle timeout (60 s) plus margin
	DefaultConnectTimeout  = 10 * time.Second
	DefaultWriteTimeout    = 10 * time.Second
	DefaultReadIdleTimeout = 75 * time.Second // the server pings every 25 s
	DefaultCloseTimeout    = 3 * time.Second
	DefaultHistoryKeep     = 500
	DefaultHistoryTTL      = 24 * time.Hour
	DefaultMaxQueuedEvents = 1 << 16
	DefaultDrainTimeout    = 5 * time.Second
	TypingRefresh          = 3 * time.Second // resend active:true at most this often while typing
	TypingIdle             = 5 * time.Second // send active:false after this long without a keystroke
)

// Subprotocol is the WebSocket subprotocol the client offers.
const Subprotocol = "chat.v1"

// Options configures a Session. Only Name is required.
type Options struct {
	// Name is the name to claim (1–32 letters, digits, _ - . ; unique on the server).
	Name string
	// Rooms are joined in order; the first is joined with the name. Default: lobby.
	Rooms []string
	// Token is sent with the first join, for servers configured with authentication.
	Token string
	// TLSConfig is used for wss:// URLs; see TLSConfig for a custom CA or insecure testing.
	TLSConfig *tls.Config
	// Compression offers permessage-deflate (RFC 7692).
	Compression bool
	// Header is sent with the opening handshake (e.g. Origin, Authorization).
	Header http.Header

	// MinBackoff and MaxBackoff bound the exponential wait between reconnect attempts.
	MinBackoff, MaxBackoff time.Duration
	// MaxAttempts is how many reconnects are tried after a loss before the session ends
	// (0: DefaultMaxAttempts; negative: never reconnect).
	MaxAttempts int
	// NameTakenGrace is how long reconnects keep trying while the server still holds the
	// name for the connection that was lost.
	NameTakenGrace time.Duration
	// ConnectTimeout bounds one attempt: dial, handshake and every join.
	ConnectTimeout time.Duration
	// WriteTimeout bounds one write to the socket.
	WriteTimeout time.Duration
	// ReadIdleTimeout: a connection on which nothing arrives for this long is considered lost.
	ReadIdleTimeout time.Duration
	// CloseTimeout bounds Close's wait for the server's goodbye.
	CloseTimeout time.Duration

	// HistoryKeep and HistoryTTL are the server's history guarantee, used to decide
	// whether a reconnect's replay may have a gap (see the package doc).
	HistoryKeep int
	HistoryTTL  time.Duration

	// MaxQueuedEvents bounds the events waiting for the caller to read Events.
	MaxQueuedEvents int
	// DrainTimeout: after the session ended, undelivered events are dropped (and the
	// channel closed) once nobody has read them for this long.
	DrainTimeout time.Duration

	// NoPacing turns off the client-side token bucket that keeps requests under the
	// server's announced rate limit (tests use it to provoke rate_limited).
	NoPacing bool
	// Clock is the time source of the typing helper and the reconnect backoff (nil: real time).
	Clock Clock
}

func (o Options) withDefaults() Options {
	if len(o.Rooms) == 0 {
		o.Rooms = []string{DefaultRoom}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.MinBackoff, DefaultMinBackoff)
	def(&o.MaxBackoff, DefaultMaxBackoff)
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = o.MinBackoff
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	def(&o.NameTakenGrace, DefaultNameTakenGrace)
	def(&o.ConnectTimeout, DefaultConnectTimeout)
	def(&o.WriteTimeout, DefaultWriteTimeout)
	def(&o.ReadIdleTimeout, DefaultReadIdleTimeout)
	def(&o.CloseTimeout, DefaultCloseTimeout)
	def(&o.HistoryTTL, DefaultHistoryTTL)
	def(&o.DrainTimeout, DefaultDrainTimeout)
	if o.HistoryKeep <= 0 {
		o.HistoryKeep = DefaultHistoryKeep
	}
	if o.MaxQueuedEvents <= 0 {
		o.MaxQueuedEvents = DefaultMaxQueuedEvents
	}
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	return o
}

// TLSConfig builds a client TLS configuration: caFile, if not empty, names a
// PEM file whose certificates are trusted in addition to the system's (for a
// server with a self-signed or private-CA certificate); insecure skips
// certificate verification entirely and is meant for tests only.
func TLSConfig(caFile string, insecure bool) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: insecure} //nolint:gosec // opt-in, documented as for tests
	if caFile == "" {
		return cfg, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("CA file " + caFile + " holds no PEM certificate")
	}
	cfg.RootCAs = pool
	return cfg, nil
}
