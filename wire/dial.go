package wire

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// DialOptions configures the client side of the opening handshake.
type DialOptions struct {
	// TLSConfig is used for wss:// URLs; nil means the defaults.
	TLSConfig *tls.Config
	// Header is sent with the request (e.g. Origin, Authorization).
	Header http.Header
	// Subprotocols are offered in order; the server may select one.
	Subprotocols []string
	// Compression offers permessage-deflate; nil does not offer it.
	Compression *CompressionOptions
	// ReadLimit is the largest message accepted; 0 means 16 MiB.
	ReadLimit int64
	// NetDial replaces the dialer (e.g. for proxies or tests).
	NetDial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Dial opens a WebSocket connection to a ws:// or wss:// URL (RFC 6455
// §4.1). ctx bounds the whole handshake (TCP, TLS and HTTP). It checks the
// server's answer: status 101, the Upgrade and Connection headers, the
// Sec-WebSocket-Accept key, and that the subprotocol and extensions are
// among those offered. The *http.Response is returned on success and, when
// the server answered with something other than 101, with the error (its
// Body holds the start of the server's body).
func Dial(ctx context.Context, rawURL string, opts *DialOptions) (*Conn, *http.Response, error) {
	if opts == nil {
		opts = &DialOptions{}
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, nil, fmt.Errorf("wire: Dial: %w", err)
	}
	var secure bool
	switch u.Scheme {
	case "ws":
	case "wss":
		secure = true
	default:
		return nil, nil, fmt.Errorf("wire: Dial: URL scheme must be ws or wss, not %q", u.Scheme)
	}
	if u.User != nil {
		return nil, nil, errors.New("wire: Dial: user info in the URL is not supported")
	}
	addr := u.Host
	if u.Port() == "" {
		port := "80"
		if secure {
			port = "443"
		}
		addr = net.JoinHostPort(u.Hostname(), port)
	}

	dial := opts.NetDial
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	nc, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("wire: Dial: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			nc.Close()
		}
	}()
	// The context bounds the handshake: its deadline becomes the socket's,
	// and cancelling it unblocks any read or write in progress.
	if dl, has := ctx.Deadline(); has {
		nc.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	if secure {
		cfg := opts.TLSConfig.Clone()
		if cfg == nil {
			cfg = &tls.Config{}
		}
		if cfg.ServerName == "" {
			cfg.ServerName = u.Hostname()
		}
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, nil, fmt.Errorf("wire: Dial: TLS handshake: %w", err)
		}
		nc = tc
	}

	var keyRaw [16]byte
	rand.Read(keyRaw[:])
	key := base64.StdEncoding.EncodeToString(keyRaw[:])

	var b strings.Builder
	path := u.RequestURI()
	b.WriteString("GET " + path + " HTTP/1.1\r\n")
	host := u.Host
	if h := opts.Header.Get("Host"); h != "" {
		host = h
	}
	b.WriteString("Host: " + host + "\r\n")
	b.WriteString("Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n")
	b.WriteString("Sec-WebSocket-Key: " + key + "\r\n")
	if len(opts.Subprotocols) > 0 {
		for _, p := range opts.Subprotocols {
			if !isToken(p) {
				return nil, nil, fmt.Errorf("wire: Dial: invalid subprotocol %q", p)
			}
		}
		b.WriteString("Sec-WebSocket-Protocol: " + strings.Join(opts.Subprotocols, ", ") + "\r\n")
	}
	if opts.Compression != nil {
		b.WriteString("Sec-WebSocket-Extensions: " + opts.Compression.clientOffer() + "\r\n")
	}
	for k, vs := range opts.Header {
		switch http.CanonicalHeaderKey(k) {
		case "Host", "Upgrade", "Connection", "Sec-Websocket-Key", "Sec-Websocket-Version",
			"Sec-Websocket-Protocol", "Sec-Websocket-Extensions":
			continue // the handshake owns these
		}
		for _, v := range vs {
			b.WriteString(k + ": " + oneLine(v) + "\r\n")
		}
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(nc, b.String()); err != nil {
		return nil, nil, fmt.Errorf("wire: Dial: sending the handshake: %w", err)
	}

	br := bufio.NewReaderSize(nc, 4096)
	req := &http.Request{Method: http.MethodGet, URL: u}
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return nil, nil, fmt.Errorf("wire: Dial: reading the handshake response: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return nil, resp, fmt.Errorf("wire: Dial: server answered %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	resp.Body = http.NoBody
	fail := func(msg string) (*Conn, *http.Response, error) {
		return nil, resp, errors.New("wire: Dial: " + msg)
	}
	if !hasToken(resp.Header, "Upgrade", "websocket") {
		return fail(`response lacks "Upgrade: websocket"`)
	}
	if !hasToken(resp.Header, "Connection", "upgrade") {
		return fail(`response lacks "Connection: Upgrade"`)
	}
	if resp.Header.Get("Sec-WebSocket-Accept") != acceptKey(key) {
		return fail("wrong Sec-WebSocket-Accept")
	}
	subproto := ""
	if sp := headerTokens(resp.Header, "Sec-WebSocket-Protocol"); len(sp) > 0 {
		if len(sp) > 1 || !slices.Contains(opts.Subprotocols, sp[0]) {
			return fail("server selected a subprotocol that was not offered")
		}
		subproto = sp[0]
	}
	exts, err := parseExtensions(resp.Header.Values("Sec-WebSocket-Extensions"))
	if err != nil {
		return fail("malformed Sec-WebSocket-Extensions: " + err.Error())
	}
	pmd, err := opts.Compression.negotiateClient(exts)
	if err != nil {
		return fail(err.Error())
	}

	nc.SetDeadline(time.Time{})
	if !stop() {
		// ctx ended just now and its callback may have set a past
		// deadline: treat the handshake as cancelled.
		return nil, resp, fmt.Errorf("wire: Dial: %w", ctx.Err())
	}
	ok = true
	return newConn(nc, true, buffered(br), subproto, pmd, opts.ReadLimit), resp, nil
}
