package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRunExitCodes(t *testing.T) {
	cert, key := writeCert(t)
	cases := []struct {
		name       string
		args       []string
		env        map[string]string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"help lists flags, defaults and env vars", []string{"--help"}, nil, 0,
			"--history-ttl duration", ""},
		{"help shows the default address", []string{"-h"}, nil, 0, "127.0.0.1:8000", ""},
		{"help names the variables", []string{"--help"}, nil, 0, "$CHATD_QUEUE_BYTES", ""},
		{"version", []string{"--version"}, nil, 0, "chatd " + version, ""},
		{"unknown flag", []string{"--nope"}, nil, 2, "", "unknown flag: --nope"},
		{"stray argument", []string{"serve"}, nil, 2, "", `unexpected argument "serve"`},
		{"not a number", []string{"--rate", "fast"}, nil, 2, "", "invalid argument"},
		{"zero rate", []string{"--rate", "0"}, nil, 2, "", "RatePerSec must be above 0"},
		{"negative duration", []string{"--idle-timeout", "-1s"}, nil, 2, "", "IdleTimeout must be above 0"},
		{"ping slower than idle", []string{"--ping-interval", "2m"}, nil, 2, "", "PingInterval (2m0s) must be shorter"},
		{"tiny queue", []string{"--queue-bytes", "10"}, nil, 2, "", "QueueBytes (10) must be at least MaxMessageBytes"},
		{"bad origin", []string{"--allowed-origins", "example.com"}, nil, 2, "", "not of the form http(s)://host"},
		{"bad log format", []string{"--log-format", "xml"}, nil, 2, "", "--log-format must be text or json"},
		{"bad log level", []string{"--log-level", "loud"}, nil, 2, "", "--log-level must be"},
		{"cert without key", []string{"--tls-cert", cert}, nil, 2, "", "--tls-cert and --tls-key go together"},
		{"unreadable cert", []string{"--tls-cert", cert + ".missing", "--tls-key", key}, nil, 2, "", "no such file"},
		{"bad value from the environment", nil, map[string]string{"CHATD_BURST": "many"}, 2, "", "$CHATD_BURST"},
		{"environment validated too", nil, map[string]string{"CHATD_HISTORY": "-1"}, 2, "", "HistorySize must not be negative"},
		{"address in use", []string{"--addr", busyAddr(t)}, nil, 1, "", "cannot listen on"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), runEnv{
				args: c.args, getenv: func(k string) string { return c.env[k] }, stdout: &out, stderr: &errb,
			})
			if code != c.wantCode {
				t.Errorf("exit code %d, want %d; stderr: %s", code, c.wantCode, errb.String())
			}
			if !strings.Contains(out.String(), c.wantStdout) {
				t.Errorf("stdout lacks %q:\n%s", c.wantStdout, out.String())
			}
			if !strings.Contains(errb.String(), c.wantStderr) {
				t.Errorf("stderr lacks %q:\n%s", c.wantStderr, errb.String())
			}
		})
	}
}

func TestParseFlagsEnvironment(t *testing.T) {
	env := map[string]string{
		"CHATD_RATE":            "5",
		"CHATD_HISTORY_TTL":     "2h",
		"CHATD_ALLOWED_ORIGINS": "https://a.example,https://b.example",
		"CHATD_BURST":           "7",
	}
	o, err := parseFlags([]string{"--burst", "9", "--replay=10"}, func(k string) string { return env[k] }, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"rate from env", o.cfg.RatePerSec, 5.0},
		{"history-ttl from env", o.cfg.HistoryTTL, 2 * time.Hour},
		{"origins from env", strings.Join(o.cfg.AllowedOrigins, " "), "https://a.example https://b.example"},
		{"burst: the flag wins over env", o.cfg.RateBurst, 9},
		{"replay from the flag", o.cfg.ReplayCount, 10},
		{"addr default", o.addr, "127.0.0.1:8000"},
		{"queue default", o.cfg.QueueBytes, 1 << 20},
		{"version reported", o.cfg.Version, version},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.name, c.got, c.want)
		}
	}
}

// TestRunServesAndStops starts the real command on a free port, over plain
// HTTP and over TLS, checks /healthz, and stops it as a signal would.
func TestRunServesAndStops(t *testing.T) {
	cert, key := writeCert(t)
	cases := []struct {
		name   string
		args   []string
		scheme string
		signal bool // stop with a real SIGTERM to this process instead of ctx
	}{
		{"plain", nil, "http", false},
		{"tls", []string{"--tls-cert", cert, "--tls-key", key}, "https", false},
		{"sigterm", nil, "http", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			addrs := make(chan net.Addr, 1)
			var logs bytes.Buffer
			code := make(chan int, 1)
			go func() {
				code <- run(ctx, runEnv{
					args:   append([]string{"--addr", "127.0.0.1:0", "--log-format", "json"}, c.args...),
					getenv: func(string) string { return "" }, stdout: &bytes.Buffer{}, stderr: &syncWriter{w: &logs},
					ready: func(a net.Addr) { addrs <- a },
				})
			}()
			var addr net.Addr
			select {
			case addr = <-addrs:
			case n := <-code:
				t.Fatalf("run exited with %d before listening", n)
			}
			client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
			defer client.CloseIdleConnections()
			resp, err := client.Get(c.scheme + "://" + addr.String() + "/healthz")
			if err != nil {
				t.Fatal(err)
			}
			var health struct {
				Status, Version string
				Connections     int
			}
			err = json.NewDecoder(resp.Body).Decode(&health)
			resp.Body.Close()
			if err != nil || health.Status != "ok" || health.Version != version {
				t.Errorf("healthz = %+v, %v", health, err)
			}
			if c.signal {
				// run has caught SIGTERM since before it listened, so this
				// does not kill the test binary.
				if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
					t.Fatal(err)
				}
			} else {
				cancel()
			}
			if n := <-code; n != 0 {
				t.Errorf("exit code after shutdown %d, want 0", n)
			}
		})
	}
}

// syncWriter serializes writes from the server's goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// busyAddr returns an address something is already listening on.
func busyAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

// writeCert writes a self-signed certificate for 127.0.0.1 and its key.
func writeCert(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "chatd test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
