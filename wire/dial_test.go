package wire

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// rawServer answers one WebSocket handshake with whatever respond returns
// (given the request's key), then keeps the connection open until the
// test ends.
func rawServer(t *testing.T, respond func(key string) string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		req, err := http.ReadRequest(bufio.NewReader(nc))
		if err != nil {
			return
		}
		if resp := respond(req.Header.Get("Sec-WebSocket-Key")); resp != "" {
			nc.Write([]byte(resp))
		}
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		var b [1]byte
		nc.Read(b[:])
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return "ws://" + ln.Addr().String() + "/path?q=1"
}

func response(key string, extra ...string) string {
	s := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + acceptKey(key) + "\r\n"
	for _, h := range extra {
		s += h + "\r\n"
	}
	return s + "\r\n"
}

func TestDialChecksTheResponse(t *testing.T) {
	tests := []struct {
		name    string
		respond func(key string) string
		opts    *DialOptions
		wantErr string
	}{
		{"good", func(k string) string { return response(k) }, nil, ""},
		{"wrong accept key", func(k string) string { return response("x") }, nil, "Sec-WebSocket-Accept"},
		{"404", func(k string) string { return "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot here\n" }, nil, "404"},
		{"no upgrade header", func(k string) string {
			return strings.Replace(response(k), "Upgrade: websocket\r\n", "", 1)
		}, nil, "Upgrade"},
		{"subprotocol not offered", func(k string) string { return response(k, "Sec-WebSocket-Protocol: mqtt") },
			&DialOptions{Subprotocols: []string{"chat.v1"}}, "subprotocol"},
		{"subprotocol offered", func(k string) string { return response(k, "Sec-WebSocket-Protocol: chat.v1") },
			&DialOptions{Subprotocols: []string{"x", "chat.v1"}}, ""},
		{"extension not offered", func(k string) string { return response(k, "Sec-WebSocket-Extensions: permessage-deflate") },
			nil, "extension"},
		{"compression accepted", func(k string) string {
			return response(k, "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover")
		}, &DialOptions{Compression: &CompressionOptions{}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := rawServer(t, tt.respond)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, resp, err := Dial(ctx, url, tt.opts)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Dial: %v", err)
				}
				c.CloseNow()
				if tt.opts != nil && len(tt.opts.Subprotocols) > 0 && c.Subprotocol() != "chat.v1" {
					t.Fatalf("Subprotocol() = %q", c.Subprotocol())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Dial error %v, want one mentioning %q", err, tt.wantErr)
			}
			if tt.name == "404" && (resp == nil || resp.StatusCode != 404) {
				t.Fatalf("response %v, want the 404", resp)
			}
		})
	}
}

func TestDialContextBoundsTheHandshake(t *testing.T) {
	url := rawServer(t, func(string) string { return "" }) // never answers
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, _, err := Dial(ctx, url, nil); err == nil {
		t.Fatal("Dial succeeded against a silent server")
	}
}

func TestDialRejectsOtherSchemes(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1/", "ftp://x/", "::bad"} {
		if _, _, err := Dial(context.Background(), u, nil); err == nil {
			t.Errorf("Dial(%q) succeeded", u)
		}
	}
}

func TestDialWSS(t *testing.T) {
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		t, p, err := c.ReadMessage()
		if err == nil {
			c.WriteMessage(t, p)
		}
		c.ReadMessage() // until the client closes
	}))
	defer ts.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pool := ts.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	c, _, err := Dial(ctx, "wss"+strings.TrimPrefix(ts.URL, "https"), &DialOptions{
		TLSConfig: &tls.Config{RootCAs: pool, ServerName: "example.com"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	c.WriteMessage(TextMessage, []byte("over TLS"))
	if _, p, err := c.ReadMessage(); err != nil || string(p) != "over TLS" {
		t.Fatalf("echo over TLS: %q %v", p, err)
	}
	if err := c.Close(StatusNormalClosure, ""); err != nil {
		t.Fatal(err)
	}
}
