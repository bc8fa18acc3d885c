package wire

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// AcceptOptions configures the server side of the opening handshake.
type AcceptOptions struct {
	// Subprotocol picks one of the subprotocols the client offered
	// (Sec-WebSocket-Protocol, in the client's order), or "" for none. An
	// error refuses the handshake with HTTP 400 and err.Error() as the body.
	// It must return one of offered or "". nil selects none.
	Subprotocol func(r *http.Request, offered []string) (string, error)
	// CheckOrigin decides whether the request's Origin may connect; an
	// error refuses with HTTP 403 and err.Error() as the body. nil allows
	// requests without Origin and those whose Origin host equals the
	// request's Host, the browser same-origin rule that stops cross-site
	// WebSocket hijacking.
	CheckOrigin func(r *http.Request) error
	// Compression enables permessage-deflate when the client offers it; nil
	// never negotiates it.
	Compression *CompressionOptions
	// ReadLimit is the largest message accepted, over all fragments and
	// after inflation; 0 means 16 MiB.
	ReadLimit int64
	// ResponseHeader is added to the 101 response (e.g. Set-Cookie).
	ResponseHeader http.Header
	// FailReason, when set, chooses the reason text of the close frame
	// wire sends when it fails the connection itself (1002, 1007, 1009):
	// it gets the status code and wire's description of the violation.
	// An application protocol that names its close reasons (chat.v1's
	// "invalid_utf8", "too_large") sets it; nil sends the description.
	FailReason func(code StatusCode, detail string) string
	// CloseAnswer, when set, chooses the code and reason that answer the
	// peer's close frame (RFC 6455 §5.5.1: the answer "typically" echoes
	// the code, which is what nil does, with the peer's reason). The code must be
	// one that may be sent; anything else falls back to the echo.
	CloseAnswer func(code StatusCode, reason string) (StatusCode, string)
}

// HandshakeError is returned by Accept when it refused the request; the
// HTTP response with Status and the one-line reason has been written.
type HandshakeError struct {
	Status int
	Reason string
}

// Error returns the reason with its status code.
func (e *HandshakeError) Error() string {
	return fmt.Sprintf("wire: handshake refused (%d): %s", e.Status, e.Reason)
}

// Accept performs the server side of the opening handshake (RFC 6455 §4.2)
// on an HTTP request and takes over its connection. On failure it has
// written a 4xx response with a one-line reason and returns a
// *HandshakeError: 405 for a method other than GET, 426 with
// "Sec-WebSocket-Version: 13" for another version, 403 for a refused
// origin, 400 for anything else malformed.
func Accept(w http.ResponseWriter, r *http.Request, opts *AcceptOptions) (*Conn, error) {
	if opts == nil {
		opts = &AcceptOptions{}
	}
	refuse := func(status int, reason string) (*Conn, error) {
		if status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", http.MethodGet)
		}
		if status == http.StatusUpgradeRequired {
			w.Header().Set("Sec-WebSocket-Version", "13")
		}
		http.Error(w, reason, status)
		return nil, &HandshakeError{Status: status, Reason: reason}
	}
	if r.Method != http.MethodGet {
		return refuse(http.StatusMethodNotAllowed, "WebSocket handshake must use GET")
	}
	if !r.ProtoAtLeast(1, 1) || r.ProtoMajor != 1 {
		return refuse(http.StatusBadRequest, "WebSocket handshake needs HTTP/1.1")
	}
	if !hasToken(r.Header, "Connection", "upgrade") {
		return refuse(http.StatusBadRequest, `missing "Connection: Upgrade"`)
	}
	if !hasToken(r.Header, "Upgrade", "websocket") {
		return refuse(http.StatusBadRequest, `missing "Upgrade: websocket"`)
	}
	if v := r.Header.Values("Sec-WebSocket-Version"); len(v) != 1 || strings.TrimSpace(v[0]) != "13" {
		return refuse(http.StatusUpgradeRequired, "unsupported WebSocket version, this server speaks 13")
	}
	keys := r.Header.Values("Sec-WebSocket-Key")
	if len(keys) != 1 {
		return refuse(http.StatusBadRequest, "need exactly one Sec-WebSocket-Key")
	}
	key := strings.TrimSpace(keys[0])
	if raw, err := base64.StdEncoding.DecodeString(key); err != nil || len(raw) != 16 {
		return refuse(http.StatusBadRequest, "Sec-WebSocket-Key must be 16 bytes in base64")
	}
	checkOrigin := opts.CheckOrigin
	if checkOrigin == nil {
		checkOrigin = sameOrigin
	}
	if err := checkOrigin(r); err != nil {
		return refuse(http.StatusForbidden, oneLine(err.Error()))
	}
	subproto := ""
	if opts.Subprotocol != nil {
		offered := headerTokens(r.Header, "Sec-WebSocket-Protocol")
		sp, err := opts.Subprotocol(r, offered)
		if err != nil {
			return refuse(http.StatusBadRequest, oneLine(err.Error()))
		}
		if sp != "" && !slices.Contains(offered, sp) {
			http.Error(w, "server selected a subprotocol the client did not offer", http.StatusInternalServerError)
			return nil, errors.New("wire: Accept: Subprotocol returned " + sp + ", which was not offered")
		}
		subproto = sp
	}
	var pmd pmdState
	extResp := ""
	if vals := r.Header.Values("Sec-WebSocket-Extensions"); len(vals) > 0 {
		offers, err := parseExtensions(vals)
		if err != nil {
			return refuse(http.StatusBadRequest, "malformed Sec-WebSocket-Extensions: "+err.Error())
		}
		if opts.Compression != nil {
			if resp, st, ok := opts.Compression.negotiateServer(offers); ok {
				extResp, pmd = resp, st
			}
		}
	}

	nc, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "connection cannot be upgraded", http.StatusInternalServerError)
		return nil, fmt.Errorf("wire: Accept: hijack: %w", err)
	}
	// net/http may have set deadlines from its server timeouts: the
	// WebSocket connection manages its own.
	nc.SetDeadline(time.Time{})

	var b strings.Builder
	b.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ")
	b.WriteString(acceptKey(key))
	b.WriteString("\r\n")
	if subproto != "" {
		b.WriteString("Sec-WebSocket-Protocol: " + subproto + "\r\n")
	}
	if extResp != "" {
		b.WriteString("Sec-WebSocket-Extensions: " + extResp + "\r\n")
	}
	for k, vs := range opts.ResponseHeader {
		for _, v := range vs {
			b.WriteString(k + ": " + oneLine(v) + "\r\n")
		}
	}
	b.WriteString("\r\n")
	if brw.Writer.Buffered() > 0 {
		brw.Writer.Flush()
	}
	if _, err := nc.Write([]byte(b.String())); err != nil {
		nc.Close()
		return nil, fmt.Errorf("wire: Accept: writing the 101 response: %w", err)
	}
	c := newConn(nc, false, buffered(brw.Reader), subproto, pmd, opts.ReadLimit)
	c.failReason = opts.FailReason
	c.closeAnswer = opts.CloseAnswer
	return c, nil
}

// buffered returns the bytes br read past the HTTP header (frames a client
// sent right after its request).
func buffered(br *bufio.Reader) []byte {
	if br == nil || br.Buffered() == 0 {
		return nil
	}
	p, _ := br.Peek(br.Buffered())
	return p
}

// sameOrigin is the default origin check.
func sameOrigin(r *http.Request) error {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	u, err := url.Parse(origin)
	if err != nil || !strings.EqualFold(u.Host, r.Host) {
		return fmt.Errorf("origin %q not allowed", origin)
	}
	return nil
}

// oneLine keeps a reason to one line, as response bodies and headers need.
func oneLine(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}
