package wire

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

const goodKey = "dGhlIHNhbXBsZSBub25jZQ=="

func handshake(t *testing.T, opts *AcceptOptions, req string) *http.Response {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, opts)
		if err == nil {
			c.CloseNow()
		}
	}))
	defer ts.Close()
	nc, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(nc, req)
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body = io.NopCloser(strings.NewReader(string(body)))
	return resp
}

func request(method string, headers ...string) string {
	s := method + " /ws HTTP/1.1\r\nHost: example.com\r\n"
	for _, h := range headers {
		s += h + "\r\n"
	}
	return s + "\r\n"
}

var goodHeaders = []string{"Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Key: " + goodKey, "Sec-WebSocket-Version: 13"}

func with(replace map[string]string, extra ...string) []string {
	var out []string
	for _, h := range goodHeaders {
		name, _, _ := strings.Cut(h, ":")
		if v, ok := replace[name]; ok {
			if v != "" {
				out = append(out, name+": "+v)
			}
			continue
		}
		out = append(out, h)
	}
	return append(out, extra...)
}

func TestAcceptRefusals(t *testing.T) {
	tests := []struct {
		name   string
		req    string
		status int
		header [2]string
	}{
		{"POST", request("POST", goodHeaders...), 405, [2]string{"Allow", "GET"}},
		{"HTTP/1.0", strings.Replace(request("GET", goodHeaders...), "HTTP/1.1", "HTTP/1.0", 1), 400, [2]string{}},
		{"no Upgrade", request("GET", with(map[string]string{"Upgrade": ""})...), 400, [2]string{}},
		{"Upgrade: h2c", request("GET", with(map[string]string{"Upgrade": "h2c"})...), 400, [2]string{}},
		{"no Connection upgrade", request("GET", with(map[string]string{"Connection": "keep-alive"})...), 400, [2]string{}},
		{"version 8", request("GET", with(map[string]string{"Sec-WebSocket-Version": "8"})...), 426, [2]string{"Sec-WebSocket-Version", "13"}},
		{"no version", request("GET", with(map[string]string{"Sec-WebSocket-Version": ""})...), 426, [2]string{"Sec-WebSocket-Version", "13"}},
		{"no key", request("GET", with(map[string]string{"Sec-WebSocket-Key": ""})...), 400, [2]string{}},
		{"key of 15 bytes", request("GET", with(map[string]string{"Sec-WebSocket-Key": "AAAAAAAAAAAAAAAAAAAA"})...), 400, [2]string{}},
		{"key not base64", request("GET", with(map[string]string{"Sec-WebSocket-Key": "not base64 at all!!!!!!!"})...), 400, [2]string{}},
		{"two keys", request("GET", append(goodHeaders, "Sec-WebSocket-Key: "+goodKey)...), 400, [2]string{}},
		{"cross origin", request("GET", append(goodHeaders, "Origin: https://evil.example")...), 403, [2]string{}},
		{"malformed extensions", request("GET", append(goodHeaders, "Sec-WebSocket-Extensions: a b")...), 400, [2]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := handshake(t, nil, tt.req)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.header[0] != "" && resp.Header.Get(tt.header[0]) != tt.header[1] {
				t.Fatalf("%s = %q, want %q", tt.header[0], resp.Header.Get(tt.header[0]), tt.header[1])
			}
			body, _ := io.ReadAll(resp.Body)
			if s := strings.TrimSuffix(string(body), "\n"); s == "" || strings.Contains(s, "\n") {
				t.Fatalf("body %q is not a one-line reason", body)
			}
		})
	}
}

func TestAcceptSuccess(t *testing.T) {
	opts := &AcceptOptions{
		Subprotocol: func(r *http.Request, offered []string) (string, error) {
			for _, p := range offered {
				if p == "chat.v1" {
					return p, nil
				}
			}
			return "", nil
		},
		Compression:    &CompressionOptions{},
		ResponseHeader: http.Header{"X-Test": {"yes"}},
	}
	resp := handshake(t, opts, request("GET",
		"Upgrade: WebSocket", "Connection: keep-alive, UPGRADE", "Sec-WebSocket-Key: "+goodKey, "Sec-WebSocket-Version: 13",
		"Sec-WebSocket-Protocol: other, chat.v1", "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
		"Origin: http://example.com"))
	if resp.StatusCode != 101 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for k, want := range map[string]string{
		"Upgrade":                  "websocket",
		"Connection":               "Upgrade",
		"Sec-WebSocket-Accept":     "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
		"Sec-WebSocket-Protocol":   "chat.v1",
		"Sec-WebSocket-Extensions": "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
		"X-Test":                   "yes",
	} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}

func TestAcceptCallbacksRefuse(t *testing.T) {
	opts := &AcceptOptions{
		Subprotocol: func(*http.Request, []string) (string, error) { return "", errors.New("this server speaks chat.v1") },
	}
	resp := handshake(t, opts, request("GET", append(goodHeaders, "Sec-WebSocket-Protocol: mqtt")...))
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 400 || string(body) != "this server speaks chat.v1\n" {
		t.Fatalf("subprotocol refusal: %d %q", resp.StatusCode, body)
	}
	opts = &AcceptOptions{CheckOrigin: func(*http.Request) error { return errors.New("origin not allowed") }}
	resp = handshake(t, opts, request("GET", goodHeaders...))
	if resp.StatusCode != 403 {
		t.Fatalf("origin refusal: %d", resp.StatusCode)
	}
}

func TestAcceptKeepsPipelinedFrames(t *testing.T) {
	// A client may send its first frame right behind the request: it must
	// not be lost in the HTTP server's buffer.
	got := make(chan string, 1)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, nil)
		if err != nil {
			got <- err.Error()
			return
		}
		defer c.CloseNow()
		_, p, err := c.ReadMessage()
		if err != nil {
			got <- err.Error()
			return
		}
		got <- string(p)
	}))
	defer ts.Close()
	nc, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.Write(append([]byte(request("GET", goodHeaders...)), encodeFrame(true, 0, opText, true, []byte("early"))...))
	if s := <-got; s != "early" {
		t.Fatalf("server read %q", s)
	}
}
