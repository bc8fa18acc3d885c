package wire_test

// The opening handshake in the server role (RFC 6455 §4.2): what wire.Accept upgrades,
// what it refuses, and exactly how it refuses (status, headers, a one-line body).

import (
	"errors"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/chatd/chatd/wire"
)

// hsRequest builds a raw request from a method, protocol and header lines in order.
func hsRequest(method, proto string, lines ...string) string {
	var sb strings.Builder
	sb.WriteString(method + " /ws HTTP/" + proto + "\r\n")
	for _, l := range lines {
		sb.WriteString(l + "\r\n")
	}
	sb.WriteString("\r\n")
	return sb.String()
}

// hsLines is a valid set of handshake header lines with substitutions: a key maps a
// header name to its replacement line ("" drops it); extra lines are appended.
func hsLines(host string, replace map[string]string, extra ...string) []string {
	base := [][2]string{
		{"Host", "Host: " + host},
		{"Upgrade", "Upgrade: websocket"},
		{"Connection", "Connection: Upgrade"},
		{"Sec-WebSocket-Key", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="},
		{"Sec-WebSocket-Version", "Sec-WebSocket-Version: 13"},
	}
	var out []string
	for _, b := range base {
		if r, ok := replace[b[0]]; ok {
			if r != "" {
				out = append(out, r)
			}
			continue
		}
		out = append(out, b[1])
	}
	return append(out, extra...)
}

func TestConformanceHandshake(t *testing.T) {
	es := startEcho(t, nil, echoWhole)
	h := es.Addr
	tests := []struct {
		name       string
		req        string
		wantStatus int // 101, or 0 for "any 4xx"
		wantHeader [2]string
	}{
		{"valid", hsRequest("GET", "1.1", hsLines(h, nil)...), 101, [2]string{}},
		{"Upgrade token in a list, other case", hsRequest("GET", "1.1", hsLines(h, map[string]string{"Upgrade": "Upgrade: foo/2, WebSocket"})...), 101, [2]string{}},
		{"Connection token in a list", hsRequest("GET", "1.1", hsLines(h, map[string]string{"Connection": "Connection: keep-alive, Upgrade"})...), 101, [2]string{}},
		{"Connection token upper case", hsRequest("GET", "1.1", hsLines(h, map[string]string{"Connection": "Connection: UPGRADE"})...), 101, [2]string{}},
		{"Connection split over two header lines", hsRequest("GET", "1.1", hsLines(h, map[string]string{"Connection": "Connection: keep-alive"}, "Connection: upgrade")...), 101, [2]string{}},
		{"HTTP/1.1 header names in odd case", hsRequest("GET", "1.1", hsLines(h, map[string]string{"Sec-WebSocket-Key": "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "SEC-WEBSOCKET-VERSION: 13"})...), 101, [2]string{}},

		{"POST", hsRequest("POST", "1.1", hsLines(h, nil, "Content-Length: 0")...), 0, [2]string{}},
		{"PUT", hsRequest("PUT", "1.1", hsLines(h, nil, "Content-Length: 0")...), 0, [2]string{}},
		{"HTTP/1.0", hsRequest("GET", "1.0", hsLines(h, nil)...), 0, [2]string{}},
		{"no Upgrade header", hsRequest("GET", "1.1", hsLines(h, map[string]string{"Upgrade": ""})...), 0, [2]string{}},
		{"Upgrade to something else", hsRequest("GET", "1.1", hsLines(h, map[string]string{"Upgrade": "Upgrade: h2c"})...), 0, [2]string{}},
		{"Upgrade token as a substring only", hsRequest("GET", "1.1", hsLines(h, map[string]string{"Upgrade": "Upgrade: websocketx"})...), 0, [2]string{}},
		{"no Connection header", hsRequest("GET", "1.1", hsLines(h, map[string]string{"Connection": ""})...), 0, [2]string{}},
		{"Connection without upgrade", hsRequest("GET", "1.1", hsLines(h, map[string]string{"Connection": "Connection: keep-alive"})...), 0, [2]string{}},
		{"Connection token as a substring only", hsRequest("GET", "1.1", hsLines(h, map[string]string{"Connection": "Connection: upgraded"})...), 0, [2]string{}},
		{"no key", hsRequest("GET", "1.1", hsLines(h, map[string]string{"Sec-WebSocket-Key": ""})...), 0, [2]string{}},
		{"empty key", hsRequest("GET", "1.1", hsLines(h, map[string]string{"Sec-WebSocket-Key": "Sec-WebSocket-Key: "})...), 0, [2]string{}},
		{"key of 15 bytes", hsRequest("GET", "1.1", hsLines(h, map[string]string{"Sec-WebSocket-Key": "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA"})...), 0, [2]string{}},
		{"key of 17 bytes", hsRequest("GET", "1.1", hsLines(h, map[string]string{"Sec-WebSocket-Key": "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAA="})...), 0, [2]string{}},
		{"key not base64", hsRequest("GET", "1.1", hsLines(h, map[string]string{"Sec-WebSocket-Key": "Sec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!=="})...), 0, [2]string{}},
		{"no version", hsRequest("GET", "1.1", hsLines(h, map[string]string{"Sec-WebSocket-Version": ""})...), 0, [2]string{}},
		{"version 8", hsRequest("GET", "1.1", hsLines(h, map[string]string{"Sec-WebSocket-Version": "Sec-WebSocket-Version: 8"})...), 426, [2]string{"Sec-WebSocket-Version", "13"}},
		{"version 14", hsRequest("GET", "1.1", hsLines(h, map[string]string{"Sec-WebSocket-Version": "Sec-WebSocket-Version: 14"})...), 426, [2]string{"Sec-WebSocket-Version", "13"}},
		{"version 13 with junk", hsRequest("GET", "1.1", hsLines(h, map[string]string{"Sec-WebSocket-Version": "Sec-WebSocket-Version: 13x"})...), 426, [2]string{"Sec-WebSocket-Version", "13"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, body, c, br := roundTrip(t, h, tt.req)
			if tt.wantStatus == 101 {
				if resp.StatusCode != 101 {
					t.Fatalf("status %s, body %q; want 101", resp.Status, body)
				}
				if got := resp.Header.Get("Sec-WebSocket-Accept"); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
					t.Fatalf("Sec-WebSocket-Accept %q for the RFC 6455 §1.3 sample key", got)
				}
				for _, hdr := range []string{"Sec-WebSocket-Protocol", "Sec-WebSocket-Extensions"} {
					if v := resp.Header.Get(hdr); v != "" {
						t.Errorf("unasked-for %s: %q", hdr, v)
					}
				}
				r := newRawConn(t, c, br, true)
				r.send(text("after upgrade"))
				r.expect(opText, []byte("after upgrade"))
				r.closeNormally()
				return
			}
			if resp.StatusCode < 400 || resp.StatusCode > 499 {
				t.Fatalf("status %s, want a 4xx", resp.Status)
			}
			if tt.wantStatus != 0 && resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %s, want %d", resp.Status, tt.wantStatus)
			}
			if tt.wantHeader[0] != "" && resp.Header.Get(tt.wantHeader[0]) != tt.wantHeader[1] {
				t.Errorf("%s: %q, want %q", tt.wantHeader[0], resp.Header.Get(tt.wantHeader[0]), tt.wantHeader[1])
			}
			line := strings.TrimRight(string(body), "\r\n")
			if line == "" || strings.ContainsAny(line, "\r\n") {
				t.Errorf("body %q, want a one-line reason", body)
			}
		})
	}
}

func TestConformanceHandshakeCallbacks(t *testing.T) {
	var mu sync.Mutex
	var offered [][]string
	opts := &wire.AcceptOptions{
		Subprotocol: func(r *http.Request, offers []string) (string, error) {
			mu.Lock()
			offered = append(offered, offers)
			mu.Unlock()
			for _, o := range offers {
				if o == "chat.v1" {
					return o, nil
				}
				if o == "forbidden" {
					return "", errors.New("subprotocol forbidden is not served here")
				}
			}
			return "", nil
		},
		CheckOrigin: func(r *http.Request) error {
			if o := r.Header.Get("Origin"); o != "" && o != "https://good.example" {
				return errors.New("origin " + o + " not allowed")
			}
			return nil
		},
		ResponseHeader: http.Header{"X-Served-By": {"wire-test"}},
	}
	es := startEcho(t, opts, echoWhole)

	t.Run("subprotocol chosen from a split list", func(t *testing.T) {
		r, resp := dialRaw(t, es.Addr, "Sec-WebSocket-Protocol: a, b", "Sec-WebSocket-Protocol: chat.v1")
		if got := resp.Header.Values("Sec-WebSocket-Protocol"); !reflect.DeepEqual(got, []string{"chat.v1"}) {
			t.Errorf("Sec-WebSocket-Protocol %q, want [chat.v1]", got)
		}
		if resp.Header.Get("X-Served-By") != "wire-test" {
			t.Errorf("ResponseHeader not in the 101: %v", resp.Header)
		}
		r.closeNormally()
		mu.Lock()
		defer mu.Unlock()
		if len(offered) == 0 || !reflect.DeepEqual(offered[len(offered)-1], []string{"a", "b", "chat.v1"}) {
			t.Errorf("callback saw offers %q, want [a b chat.v1]", offered)
		}
	})
	t.Run("no subprotocol chosen: no header", func(t *testing.T) {
		r, resp := dialRaw(t, es.Addr, "Sec-WebSocket-Protocol: other")
		if v := resp.Header.Get("Sec-WebSocket-Protocol"); v != "" {
			t.Errorf("Sec-WebSocket-Protocol %q, want none", v)
		}
		r.closeNormally()
	})
	for _, tt := range []struct {
		name   string
		extra  string
		status int
		body   string
	}{
		{"subprotocol callback error → 400 with its text", "Sec-WebSocket-Protocol: forbidden", 400, "subprotocol forbidden is not served here"},
		{"origin refused → 403 with its text", "Origin: https://evil.example", 403, "origin https://evil.example not allowed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, body, _, _ := roundTrip(t, es.Addr, rawRequest(es.Addr, newKey(), tt.extra))
			if resp.StatusCode != tt.status {
				t.Fatalf("status %s, want %d", resp.Status, tt.status)
			}
			if got := strings.TrimSpace(string(body)); got != tt.body {
				t.Errorf("body %q, want %q", got, tt.body)
			}
		})
	}
	t.Run("good origin", func(t *testing.T) {
		r, _ := dialRaw(t, es.Addr, "Origin: https://good.example")
		r.closeNormally()
	})
}
