package main

import (
	"bytes"
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestClusterFlagsRefuseBadCombinations(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--nats", "nats://127.0.0.1:4222", "--nats-embedded", "127.0.0.1:4222", "--data-dir", dir}, "exclude each other"},
		{[]string{"--nats-embedded", "127.0.0.1:4222"}, "needs --data-dir"},
		{[]string{"--data-dir", dir}, "--nats-embedded only"},
		{[]string{"--nats-creds", "x.creds"}, "go with --nats"},
		{[]string{"--nats", "nats://127.0.0.1:4222", "--nats-creds", filepath.Join(dir, "missing.creds")}, "--nats-creds"},
		{[]string{"--nats", "nats://127.0.0.1:4222", "--nats-tls-ca", filepath.Join(dir, "missing.pem")}, "--nats-tls-ca"},
		{[]string{"--nats-embedded", "4222", "--data-dir", dir}, "host:port"},
	}
	for _, c := range cases {
		var stderr bytes.Buffer
		code := run(context.Background(), runEnv{args: c.args, getenv: func(string) string { return "" }, stdout: &bytes.Buffer{}, stderr: &stderr})
		if code != 2 || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("chatd %v: exit %d, %q; want 2 and %q", c.args, code, stderr.String(), c.want)
		}
	}
}

// TestTwoNodes runs the README's quick start in process: one chatd with the
// embedded NATS server, one joined to it; a name taken on one is taken on
// the other, and a chat crosses.
func TestTwoNodes(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	natsAddr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := func(args ...string) (string, chan int) {
		addrs, code := make(chan net.Addr, 1), make(chan int, 1)
		go func() {
			code <- run(ctx, runEnv{
				args: append([]string{"--addr", "127.0.0.1:0", "--log-level", "warn"}, args...), getenv: func(string) string { return "" },
				stdout: &bytes.Buffer{}, stderr: &syncWriter{w: &bytes.Buffer{}}, ready: func(a net.Addr) { addrs <- a },
			})
		}()
		select {
		case a := <-addrs:
			return "ws://" + a.String() + "/ws", code
		case n := <-code:
			t.Fatalf("chatd %v exited with %d", args, n)
		case <-time.After(30 * time.Second):
			t.Fatalf("chatd %v did not start", args)
		}
		return "", nil
	}
	url1, code1 := start("--nats-embedded", natsAddr, "--data-dir", t.TempDir())
	url2, code2 := start("--nats", "nats://"+natsAddr)

	dial := func(url, name string) *websocket.Conn {
		d := websocket.Dialer{Subprotocols: []string{"chat.v1"}}
		c, resp, err := d.Dial(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		_ = c.SetReadDeadline(time.Now().Add(15 * time.Second))
		if err := c.WriteJSON(map[string]any{"type": "join", "name": name}); err != nil {
			t.Fatal(err)
		}
		return c
	}
	next := func(c *websocket.Conn, types ...string) map[string]any {
		for {
			var m map[string]any
			if err := c.ReadJSON(&m); err != nil {
				t.Fatal(err)
			}
			for _, typ := range types {
				if m["type"] == typ {
					return m
				}
			}
		}
	}
	alice := dial(url1, "alice")
	next(alice, "join")
	imp := dial(url2, "ALICE")
	if m := next(imp, "error", "welcome"); m["code"] != "name_taken" {
		t.Errorf("ALICE on the second node: %v, want name_taken", m)
	}
	imp.Close()
	bob := dial(url2, "bob")
	next(bob, "join")
	if err := alice.WriteJSON(map[string]any{"type": "chat", "text": "across"}); err != nil {
		t.Fatal(err)
	}
	if m := next(bob, "chat"); m["text"] != "across" {
		t.Errorf("bob got %v", m)
	}
	alice.Close()
	bob.Close()
	cancel()
	for i, code := range []chan int{code2, code1} {
		if n := <-code; n != 0 {
			t.Errorf("node %d exited with %d", 2-i, n)
		}
	}
}
