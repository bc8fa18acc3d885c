package server_test

// PROTOCOL.md §1 over real sockets: the handshake rules (subprotocol, Origin),
// the HTTP endpoints on the same listener, TLS, permessage-deflate.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/chatd/chatd/server"
)

func TestE2ESubprotocol(t *testing.T) {
	t.Parallel()
	h := start(t)
	tests := []struct {
		name     string
		offered  string // Sec-WebSocket-Protocol as sent; "" = header absent
		status   int
		selected string // the response's Sec-WebSocket-Protocol ("" = absent)
	}{
		{name: "chat.v1 offered", offered: "chat.v1", status: 101, selected: "chat.v1"},
		{name: "chat.v1 among others", offered: "x.v2, chat.v1", status: 101, selected: "chat.v1"},
		// RFC 6455 §4.1: a client fails the connection if the server selects a
		// subprotocol it did not offer, so "served anyway" must not name one.
		{name: "none offered", offered: "", status: 101, selected: ""},
		{name: "only others", offered: "mqtt, chat.v2", status: 400},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hdr := http.Header{"Sec-WebSocket-Protocol": {tc.offered}}
			r := h.rawHandshake(t, "/ws", hdr)
			if r.resp.StatusCode != tc.status {
				t.Fatalf("status %d %q, want %d", r.resp.StatusCode, r.body, tc.status)
			}
			if tc.status != 101 {
				if !strings.Contains(r.body, "chat.v1") {
					t.Fatalf("400 body %q does not say which subprotocol is spoken", r.body)
				}
				return
			}
			if got := r.resp.Header.Get("Sec-WebSocket-Protocol"); got != tc.selected {
				t.Fatalf("selected subprotocol %q, want %q", got, tc.selected)
			}
			// Served chat.v1 either way: a join works.
			r.join(fmt.Sprintf("sub%d", i), "lobby")
		})
	}

	t.Run("gorilla without subprotocol", func(t *testing.T) {
		c := h.dial(t, dialOpts{protocols: []string{}})
		c.name = "plain"
		c.join(map[string]any{"name": "plain"}, true)
		if got := c.ws.Subprotocol(); got != "" {
			t.Fatalf("subprotocol %q selected although none was offered", got)
		}
	})
	t.Run("gorilla only others", func(t *testing.T) {
		_, resp, err := h.dialWS(dialOpts{protocols: []string{"chat.v2"}})
		if err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("dial offering only chat.v2: err %v, status %s; want 400", err, statusOf(resp))
		}
		body, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(body), "chat.v1") {
			t.Fatalf("400 body %q does not name chat.v1", body)
		}
	})
}

func TestE2EOrigin(t *testing.T) {
	t.Parallel()
	h := start(t, func(c *server.Config) { c.AllowedOrigins = []string{"https://chat.example"} })
	star := start(t, func(c *server.Config) { c.AllowedOrigins = []string{"*"} })
	tests := []struct {
		name   string
		h      *harness
		origin string // "" = no Origin header
		status int
	}{
		{name: "no origin", h: h, origin: "", status: 101},
		{name: "same origin", h: h, origin: h.origin(), status: 101},
		{name: "allow-listed", h: h, origin: "https://chat.example", status: 101},
		{name: "foreign", h: h, origin: "https://evil.example", status: 403},
		{name: "allow-listed host, other scheme", h: h, origin: "http://chat.example", status: 403},
		{name: "same host, other port", h: h, origin: "http://127.0.0.1:1", status: 403},
		{name: "opaque null", h: h, origin: "null", status: 403},
		{name: "star allows all", h: star, origin: "https://evil.example", status: 101},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hdr := http.Header{"Sec-WebSocket-Protocol": {subprotocol}, "Origin": {tc.origin}}
			r := tc.h.rawHandshake(t, "/ws", hdr)
			if r.resp.StatusCode != tc.status {
				t.Fatalf("Origin %q: status %d %q, want %d", tc.origin, r.resp.StatusCode, r.body, tc.status)
			}
		})
	}
	t.Run("gorilla foreign", func(t *testing.T) {
		_, resp, err := h.dialWS(dialOpts{header: http.Header{"Origin": {"https://evil.example"}}})
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("foreign Origin: err %v, status %s; want 403", err, statusOf(resp))
		}
	})
}

func TestE2EHandshakeRefusals(t *testing.T) {
	t.Parallel()
	h := start(t)
	tests := []struct {
		name  string
		hdr   http.Header
		check func(t *testing.T, r *rawClient)
	}{
		{name: "no upgrade", hdr: http.Header{"Upgrade": {""}, "Connection": {""}}, check: func(t *testing.T, r *rawClient) {
			if r.resp.StatusCode < 400 || r.resp.StatusCode > 499 {
				t.Fatalf("plain GET /ws: status %d, want 4xx", r.resp.StatusCode)
			}
		}},
		{name: "version 8", hdr: http.Header{"Sec-WebSocket-Version": {"8"}}, check: func(t *testing.T, r *rawClient) {
			// RFC 6455 §4.4: refuse, naming the version understood.
			if r.resp.StatusCode < 400 || !strings.Contains(r.resp.Header.Get("Sec-WebSocket-Version"), "13") {
				t.Fatalf("version 8: status %d, Sec-WebSocket-Version %q; want 4xx naming 13",
					r.resp.StatusCode, r.resp.Header.Get("Sec-WebSocket-Version"))
			}
		}},
		// RFC 6455 §4.2.1: the key is required, and is 16 random bytes in base64.
		{name: "no key", hdr: http.Header{"Sec-WebSocket-Key": {""}}, check: func(t *testing.T, r *rawClient) {
			if r.resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("missing key: status %d, want 400", r.resp.StatusCode)
			}
		}},
		{name: "short key", hdr: http.Header{"Sec-WebSocket-Key": {"c2hvcnQ="}}, check: func(t *testing.T, r *rawClient) {
			if r.resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("key of 5 bytes: status %d, want 400", r.resp.StatusCode)
			}
		}},
		{name: "POST", hdr: http.Header{"X-Method": {"POST"}}, check: func(t *testing.T, r *rawClient) {
			if r.resp.StatusCode < 400 || r.resp.StatusCode > 499 {
				t.Fatalf("POST /ws: status %d, want 4xx", r.resp.StatusCode)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.hdr.Set("Sec-WebSocket-Protocol", subprotocol)
			tc.check(t, h.rawHandshake(t, "/ws", tc.hdr))
		})
	}
}

func TestE2EHealthz(t *testing.T) {
	t.Parallel()
	h := start(t, func(c *server.Config) { c.Name, c.Version = "chatd-e2e", "9.8.7" })
	a, _ := h.joinAs(t, "alice", "lobby")
	b, _ := h.joinAs(t, "bob", "lobby")
	a.expectEvent("join", "lobby", "bob")
	a.who("lobby") // both sessions are fully registered
	b.who("lobby")

	resp, body := h.get(t, "/healthz")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %s", resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("/healthz Content-Type %q, want application/json", ct)
	}
	var hz map[string]any
	if err := json.Unmarshal(body, &hz); err != nil {
		t.Fatalf("/healthz body is not JSON: %q", body)
	}
	if s, _ := hz["status"].(string); s == "" {
		t.Errorf("/healthz status missing: %s", body)
	}
	if v, _ := hz["version"].(string); v != "9.8.7" {
		t.Errorf("/healthz version %v, want the configured 9.8.7: %s", hz["version"], body)
	}
	if _, ok := hz["uptime"]; !ok {
		t.Errorf("/healthz uptime missing: %s", body)
	}
	if n, _ := hz["connections"].(float64); n != 2 {
		t.Errorf("/healthz connections %v, want 2: %s", hz["connections"], body)
	}
}

// metricFamilies parses the Prometheus text format into family name → type and
// the sample lines.
func metricFamilies(body string) (types map[string]string, samples []string) {
	types = map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			if f := strings.Fields(rest); len(f) == 2 {
				types[f[0]] = f[1]
			}
			continue
		}
		if line != "" && !strings.HasPrefix(line, "#") {
			samples = append(samples, line)
		}
	}
	return types, samples
}

func TestE2EMetrics(t *testing.T) {
	t.Parallel()
	h := start(t)
	a, _ := h.joinAs(t, "alice", "lobby")
	b, _ := h.joinAs(t, "bob", "lobby")
	a.expectEvent("join", "lobby", "bob")
	a.chat("lobby", "hello")
	b.expectChat("lobby", "alice", "hello")
	b.sendText("{not json")
	b.expectError("invalid_json", "", nil)
	b.send(map[string]any{"type": "leave"})
	b.expectClose(1000, "bye")
	a.expectEvent("leave", "lobby", "bob")

	resp, body := h.get(t, "/metrics")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %s", resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("/metrics Content-Type %q, want Prometheus text", ct)
	}
	types, samples := metricFamilies(string(body))
	// The families the issue asks for, under the names the server documents.
	families := []struct{ name, typ string }{
		{"chatd_connections", "gauge"},
		{"chatd_joins_total", "counter"},
		{"chatd_messages_received_total", "counter"}, // by type
		{"chatd_messages_sent_total", "counter"},     // by type
		{"chatd_errors_total", "counter"},            // by code
		{"chatd_closes_total", "counter"},            // by close code
		{"chatd_received_bytes_total", "counter"},
		{"chatd_sent_bytes_total", "counter"},
		{"chatd_queue_high_water_bytes", "gauge"},
		{"chatd_slow_consumer_closes_total", "counter"},
		{"chatd_broadcast_fanout_seconds", "histogram"},
		{"chatd_rooms", "gauge"},
	}
	for _, f := range families {
		if got, ok := types[f.name]; !ok || got != f.typ {
			t.Errorf("/metrics: family %s is %q, want a %s", f.name, got, f.typ)
		}
	}
	// The values move with what happened above.
	value := func(prefix string) (float64, bool) {
		for _, s := range samples {
			if rest, ok := strings.CutPrefix(s, prefix+" "); ok {
				var v float64
				_, err := fmt.Sscan(rest, &v)
				return v, err == nil
			}
		}
		return 0, false
	}
	wantAtLeast := []struct {
		sample string
		min    float64
	}{
		{`chatd_joins_total`, 2},
		{`chatd_errors_total{code="invalid_json"}`, 1},
		{`chatd_closes_total{code="1000"}`, 1},
		{`chatd_messages_received_total{type="chat"}`, 1},
		{`chatd_messages_sent_total{type="chat"}`, 2},
		{`chatd_rooms`, 1},
		{`chatd_broadcast_fanout_seconds_count`, 1},
		{`chatd_received_bytes_total`, 1},
		{`chatd_sent_bytes_total`, 1},
		{`chatd_queue_high_water_bytes`, 1},
	}
	for _, w := range wantAtLeast {
		v, ok := value(w.sample)
		if !ok || v < w.min {
			t.Errorf("/metrics: %s = %v (present %v), want at least %v", w.sample, v, ok, w.min)
		}
	}
	if v, ok := value("chatd_slow_consumer_closes_total"); !ok || v != 0 {
		t.Errorf("/metrics: chatd_slow_consumer_closes_total = %v (present %v), want 0", v, ok)
	}
}

func TestE2ERootPage(t *testing.T) {
	t.Parallel()
	h := start(t)
	resp, body := h.get(t, "/")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/: %s", resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("/ Content-Type %q, want text/html", ct)
	}
	if resp.Header.Get("Content-Security-Policy") == "" {
		t.Fatalf("/ served without a Content-Security-Policy")
	}
	if !strings.Contains(strings.ToLower(string(body)), "<html") {
		t.Fatalf("/ body is not an HTML page: %.200q", body)
	}
}

// schemaLoader fetches referenced schema files from the server under test, so that
// every file client.json points at must be served too.
type schemaLoader struct {
	t testing.TB
	h *harness
}

func (l schemaLoader) Load(url string) (any, error) {
	resp, err := l.h.httpClient().Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return jsonschema.UnmarshalJSON(resp.Body)
}

func (h *harness) compileSchema(t testing.TB, file string) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.UseLoader(schemaLoader{t: t, h: h})
	sch, err := c.Compile(h.httpURL("/schema/" + file))
	if err != nil {
		t.Fatalf("compile /schema/%s: %v", file, err)
	}
	return sch
}

func validateJSON(sch *jsonschema.Schema, doc string) error {
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(doc))
	if err != nil {
		return err
	}
	return sch.Validate(v)
}

func TestE2ESchemaServed(t *testing.T) {
	t.Parallel()
	h := start(t)
	resp, body := h.get(t, "/schema/client.json")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/schema/client.json: %s", resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.Contains(ct, "json") {
		t.Errorf("/schema/client.json Content-Type %q, want a JSON type", ct)
	}
	if !json.Valid(body) {
		t.Fatalf("/schema/client.json is not JSON")
	}
	sch := h.compileSchema(t, "client.json")
	tests := []struct {
		doc   string
		valid bool
	}{
		{`{"type":"join","name":"alice"}`, true},
		{`{"type":"join","name":"alice","room":"dev","since":"01JDQX9R5V8Q2M3N4P5R6S7T8V","ref":"1"}`, true},
		{`{"type":"chat","text":"hi","room":"lobby","ref":"r"}`, true},
		{`{"type":"pm","to":"bob","text":"hi"}`, true},
		{`{"type":"typing","active":true,"to":"bob"}`, true},
		{`{"type":"who"}`, true},
		{`{"type":"leave"}`, true},
		{`{"type":"chat","text":"hi","from":"bob"}`, false}, // nobody speaks as someone else
		{`{"type":"shout","text":"hi"}`, false},
		{`{"type":"chat"}`, false},
		{`{"type":"join","name":"-bad"}`, false},
		{`{"type":"typing","active":"yes"}`, false},
	}
	for _, tc := range tests {
		err := validateJSON(sch, tc.doc)
		if (err == nil) != tc.valid {
			t.Errorf("client.json validating %s: err %v, want valid=%v", tc.doc, err, tc.valid)
		}
	}
}

// TestE2EServerEnvelopesMatchSchema validates every envelope of a session that uses
// each server → client type against the published server.json.
func TestE2EServerEnvelopesMatchSchema(t *testing.T) {
	t.Parallel()
	h := start(t)
	sch := h.compileSchema(t, "server.json")
	var seen []env
	a, ja := h.joinAs(t, "alice", "lobby")
	b, jb := h.joinAs(t, "bob", "lobby")
	seen = append(seen, ja.welcome, ja.presence, ja.join, jb.welcome, jb.presence, jb.join)
	seen = append(seen, a.expectEvent("join", "lobby", "bob"))
	seen = append(seen, a.chat("lobby", "hi"), b.expectChat("lobby", "alice", "hi"))
	a.send(map[string]any{"type": "pm", "to": "bob", "text": "psst"})
	seen = append(seen, a.nextType("pm"), b.nextType("pm"))
	a.send(map[string]any{"type": "typing", "active": true, "to": "bob"})
	seen = append(seen, b.nextType("typing"))
	a.send(map[string]any{"type": "chat", "text": " "})
	seen = append(seen, a.nextType("error"))
	_, jc := h.joinAs(t, "carol", "lobby")
	seen = append(seen, jc.replay...)
	if len(jc.replay) == 0 {
		t.Fatalf("carol got no replay")
	}
	a.expectEvent("join", "lobby", "carol")
	b.expectEvent("join", "lobby", "carol")
	b.send(map[string]any{"type": "leave", "room": "lobby", "ref": "x"})
	seen = append(seen, b.nextType("leave"), a.expectEvent("leave", "lobby", "bob"))
	for _, e := range seen {
		if err := validateJSON(sch, e.raw); err != nil {
			t.Errorf("server.json rejects what the server sent: %s: %v", e, err)
		}
	}
}

func TestE2ETLS(t *testing.T) {
	t.Parallel()
	cert := newTestCert(t)
	h := startTLS(t, cert)

	t.Run("wss via gorilla", func(t *testing.T) {
		a, _ := h.joinAs(t, "alice", "lobby")
		b, _ := h.joinAs(t, "bob", "lobby")
		a.expectEvent("join", "lobby", "bob")
		a.chat("lobby", "over TLS")
		b.expectChat("lobby", "alice", "over TLS")
		if cs := b.ws.NetConn(); cs == nil {
			t.Fatal("no connection")
		}
	})
	t.Run("same origin is https", func(t *testing.T) {
		c := h.dial(t, dialOpts{header: http.Header{"Origin": {h.origin()}}})
		c.name = "carol"
		c.join(map[string]any{"name": "carol"}, true)
	})
	t.Run("https endpoints", func(t *testing.T) {
		for _, p := range []string{"/healthz", "/schema/client.json", "/"} {
			if resp, _ := h.get(t, p); resp.StatusCode != http.StatusOK {
				t.Errorf("https GET %s: %s", p, resp.Status)
			}
		}
	})
	t.Run("plain ws refused", func(t *testing.T) {
		d := websocket.Dialer{HandshakeTimeout: guard, Subprotocols: []string{subprotocol}}
		ws, _, err := d.Dial("ws://"+h.addr+"/ws", nil)
		if err == nil {
			ws.Close()
			t.Fatal("plain ws:// handshake succeeded on the TLS listener")
		}
	})
}

func TestE2ECompression(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("compress me ", 300) // well over any threshold
	tests := []struct {
		name       string
		serverSide bool
		negotiated bool
	}{
		{name: "negotiated when offered", serverSide: true, negotiated: true},
		{name: "disabled in config", serverSide: false, negotiated: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := start(t, func(c *server.Config) { c.Compression = tc.serverSide })
			z := h.dial(t, dialOpts{compress: true})
			z.name = "zed"
			got := z.resp.Header.Get("Sec-WebSocket-Extensions")
			if strings.Contains(got, "permessage-deflate") != tc.negotiated {
				t.Fatalf("Sec-WebSocket-Extensions %q, want permessage-deflate negotiated=%v", got, tc.negotiated)
			}
			z.join(map[string]any{"name": "zed"}, true)
			p, _ := h.joinAs(t, "plain", "lobby")
			z.expectEvent("join", "lobby", "plain")
			z.chat("lobby", long)
			p.expectChat("lobby", "zed", long)
			p.chat("lobby", long+"!")
			z.expectChat("lobby", "plain", long+"!")
		})
	}
}
