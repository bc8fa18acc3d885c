package wire

import (
	"net/http"
	"testing"
)

func TestAcceptKey(t *testing.T) {
	// The example of RFC 6455 §1.3.
	if got := acceptKey(goodKey); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("acceptKey = %q", got)
	}
}

// handshake sends a raw request to a server running Accept with opts and
// returns the response.

func TestHasToken(t *testing.T) {
	h := http.Header{"Connection": {"keep-alive, Upgrade", "x"}, "Upgrade": {"h2c,  WebSocket "}}
	for _, tt := range []struct {
		name, token string
		want        bool
	}{
		{"Connection", "upgrade", true},
		{"Connection", "keep-alive", true},
		{"Connection", "close", false},
		{"Upgrade", "websocket", true},
		{"Upgrade", "web", false},
		{"Sec-WebSocket-Protocol", "x", false},
	} {
		if got := hasToken(h, tt.name, tt.token); got != tt.want {
			t.Errorf("hasToken(%s, %s) = %v, want %v", tt.name, tt.token, got, tt.want)
		}
	}
}
