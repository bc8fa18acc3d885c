package wire_test

// Interop with the two Go WebSocket stacks most servers and clients use, in both
// directions: gorilla/websocket and coder/websocket clients against wire's server, and
// wire's client against their servers. Each runs the full message set (text, binary,
// empty, 64 KiB, 4 MiB, fragmented) with and without permessage-deflate, pings each way,
// and both close paths with codes and reasons checked on both ends.

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	coder "github.com/coder/websocket"
	gorilla "github.com/gorilla/websocket"

	"github.com/chatd/chatd/wire"
)

// closeSeen is a foreign server's record of how a connection ended.
type closeSeen struct {
	code   int
	reason string
}

// foreignServer runs a foreign-stack scenario server and reports client closes.
type foreignServer struct {
	url  string
	seen chan closeSeen
	wg   sync.WaitGroup
}

func (fs *foreignServer) report(t *testing.T) (int, string) {
	t.Helper()
	select {
	case s := <-fs.seen:
		return s.code, s.reason
	case <-time.After(ioBound):
		t.Fatalf("foreign server saw no close within %v", ioBound)
		return 0, ""
	}
}

func (fs *foreignServer) start(t *testing.T, h func(w http.ResponseWriter, r *http.Request)) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs.wg.Add(1)
		defer fs.wg.Done()
		h(w, r)
	}))
	fs.url = "ws" + strings.TrimPrefix(srv.URL, "http") + "/"
	t.Cleanup(func() {
		srv.Close()
		fs.wg.Wait()
	})
}

func parseCloseCmd(s string) (int, string) {
	code, reason, _ := strings.Cut(strings.TrimPrefix(s, "cmd:close:"), ":")
	n, _ := strconv.Atoi(code)
	return n, reason
}

func startGorillaServer(t *testing.T, compress bool) *foreignServer {
	fs := &foreignServer{seen: make(chan closeSeen, 4)}
	up := gorilla.Upgrader{EnableCompression: compress, CheckOrigin: func(*http.Request) bool { return true }}
	fs.start(t, func(w http.ResponseWriter, r *http.Request) {
		gc, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer gc.Close()
		gc.SetReadLimit(32 << 20)
		// A pong answers the server's own ping (the client never sends unsolicited ones).
		gc.SetPongHandler(func(string) error { return gc.WriteMessage(gorilla.TextMessage, []byte("pong-received")) })
		for {
			typ, p, err := gc.ReadMessage()
			if err != nil {
				var ce *gorilla.CloseError
				if errors.As(err, &ce) {
					fs.seen <- closeSeen{ce.Code, ce.Text}
				} else {
					fs.seen <- closeSeen{-1, err.Error()}
				}
				return
			}
			s := string(p)
			switch {
			case typ == gorilla.TextMessage && strings.HasPrefix(s, "cmd:close:"):
				code, reason := parseCloseCmd(s)
				gc.WriteControl(gorilla.CloseMessage, gorilla.FormatCloseMessage(code, reason), time.Now().Add(ioBound))
			case typ == gorilla.TextMessage && strings.HasPrefix(s, "cmd:ping:"):
				gc.WriteControl(gorilla.PingMessage, []byte(strings.TrimPrefix(s, "cmd:ping:")), time.Now().Add(ioBound))
			default:
				if err := gc.WriteMessage(typ, p); err != nil {
					return
				}
			}
		}
	})
	return fs
}

func startCoderServer(t *testing.T, compress bool) *foreignServer {
	fs := &foreignServer{seen: make(chan closeSeen, 4)}
	mode := coder.CompressionDisabled
	if compress {
		mode = coder.CompressionContextTakeover
	}
	fs.start(t, func(w http.ResponseWriter, r *http.Request) {
		cc, err := coder.Accept(w, r, &coder.AcceptOptions{CompressionMode: mode, InsecureSkipVerify: true})
		if err != nil {
			return
		}
		defer cc.CloseNow()
		cc.SetReadLimit(32 << 20)
		ctx, cancel := context.WithTimeout(context.Background(), 4*ioBound)
		defer cancel()
		var pings sync.WaitGroup
		defer pings.Wait()
		for {
			typ, p, err := cc.Read(ctx)
			if err != nil {
				var ce coder.CloseError
				if errors.As(err, &ce) {
					fs.seen <- closeSeen{int(ce.Code), ce.Reason}
				} else {
					fs.seen <- closeSeen{-1, err.Error()}
				}
				return
			}
			s := string(p)
			switch {
			case typ == coder.MessageText && strings.HasPrefix(s, "cmd:close:"):
				code, reason := parseCloseCmd(s)
				cc.Close(coder.StatusCode(code), reason)
				return
			case typ == coder.MessageText && strings.HasPrefix(s, "cmd:ping:"):
				pings.Add(1)
				go func() {
					defer pings.Done()
					if cc.Ping(ctx) == nil {
						cc.Write(ctx, coder.MessageText, []byte("pong-received"))
					}
				}()
			default:
				if err := cc.Write(ctx, typ, p); err != nil {
					return
				}
			}
		}
	})
	return fs
}

func TestInteropWireClient(t *testing.T) {
	servers := []struct {
		name  string
		start func(*testing.T, bool) *foreignServer
	}{
		{"gorilla", startGorillaServer},
		{"coder", startCoderServer},
	}
	for _, s := range servers {
		for _, compress := range []bool{false, true} {
			for _, mode := range []string{"client-close", "server-close"} {
				name := s.name + "/" + mode
				if compress {
					name += "/deflate"
				}
				t.Run(name, func(t *testing.T) {
					fs := s.start(t, compress)
					runWireClientScenario(t, fs.url, compress, mode, fs.report)
				})
			}
		}
	}
}

func TestInteropGorillaClient(t *testing.T) {
	for _, compress := range []bool{false, true} {
		for _, mode := range []string{"client-close", "server-close"} {
			name := mode
			if compress {
				name += "/deflate"
			}
			t.Run(name, func(t *testing.T) {
				es := startInteropServer(t, compress)
				d := gorilla.Dialer{EnableCompression: compress, HandshakeTimeout: ioBound}
				gc, resp, err := d.Dial(es.URL+"/", nil)
				if err != nil {
					t.Fatalf("gorilla Dial: %v", err)
				}
				defer gc.Close()
				if compress != (resp.Header.Get("Sec-WebSocket-Extensions") != "") {
					t.Errorf("extensions answered %q with compression=%v", resp.Header.Get("Sec-WebSocket-Extensions"), compress)
				}
				gc.SetReadLimit(32 << 20)
				gc.SetReadDeadline(time.Now().Add(4 * ioBound))
				for _, m := range interopMessages(compress) {
					w, err := gc.NextWriter(int(m.typ))
					if err != nil {
						t.Fatal(err)
					}
					for _, p := range m.parts {
						w.Write(p)
					}
					if err := w.Close(); err != nil {
						t.Fatal(err)
					}
					typ, got, err := gc.ReadMessage()
					if err != nil || typ != int(m.typ) || string(got) != string(m.payload()) {
						t.Fatalf("%s: echo type %d, %d bytes, %v", m.name, typ, len(got), err)
					}
				}
				pongs := make(chan string, 1)
				gc.SetPongHandler(func(s string) error { pongs <- s; return nil })
				gc.WriteControl(gorilla.PingMessage, []byte("gorilla-ping"), time.Now().Add(ioBound))
				gc.WriteMessage(gorilla.TextMessage, []byte("cmd:ping:srv"))
				// Reading runs the pong handler for our ping and answers the server's ping.
				_, got, err := gc.ReadMessage()
				if err != nil || string(got) != "pong-received" {
					t.Fatalf("after the server's ping: %q %v", got, err)
				}
				select {
				case p := <-pongs:
					if p != "gorilla-ping" {
						t.Errorf("pong payload %q", p)
					}
				default:
					t.Error("no pong for gorilla's ping")
				}
				if mode == "client-close" {
					gc.WriteControl(gorilla.CloseMessage, gorilla.FormatCloseMessage(4000, "gorilla bye"), time.Now().Add(ioBound))
					_, _, err = gc.ReadMessage()
					if !gorilla.IsCloseError(err, 4000, 1000) {
						t.Errorf("close answer: %v", err)
					}
					wantCloseErr(t, es.end(t), 4000)
				} else {
					gc.WriteMessage(gorilla.TextMessage, []byte("cmd:close:4001:server bye"))
					_, _, err = gc.ReadMessage()
					var ce *gorilla.CloseError
					if !errors.As(err, &ce) || ce.Code != 4001 || ce.Text != "server bye" {
						t.Errorf("server close seen by gorilla: %v", err)
					}
					wantCloseErr(t, es.end(t), 4001)
				}
			})
		}
	}
}

func TestInteropCoderClient(t *testing.T) {
	for _, compress := range []bool{false, true} {
		for _, mode := range []string{"client-close", "server-close"} {
			name := mode
			if compress {
				name += "/deflate"
			}
			t.Run(name, func(t *testing.T) {
				es := startInteropServer(t, compress)
				ctx, cancel := context.WithTimeout(context.Background(), 4*ioBound)
				defer cancel()
				cm := coder.CompressionDisabled
				if compress {
					cm = coder.CompressionContextTakeover
				}
				cc, _, err := coder.Dial(ctx, es.URL+"/", &coder.DialOptions{CompressionMode: cm})
				if err != nil {
					t.Fatalf("coder Dial: %v", err)
				}
				defer cc.CloseNow()
				cc.SetReadLimit(32 << 20)
				type res struct {
					typ coder.MessageType
					p   []byte
					err error
				}
				msgs := make(chan res, 4)
				readDone := make(chan struct{})
				go func() {
					defer close(readDone)
					for {
						typ, p, err := cc.Read(ctx)
						msgs <- res{typ, p, err}
						if err != nil {
							return
						}
					}
				}()
				defer func() { cc.CloseNow(); <-readDone }()
				next := func() res {
					select {
					case r := <-msgs:
						return r
					case <-ctx.Done():
						t.Fatal("coder read timed out")
						return res{}
					}
				}
				for _, m := range interopMessages(compress) {
					w, err := cc.Writer(ctx, coder.MessageType(m.typ))
					if err != nil {
						t.Fatal(err)
					}
					for _, p := range m.parts {
						w.Write(p)
					}
					if err := w.Close(); err != nil {
						t.Fatal(err)
					}
					r := next()
					if r.err != nil || int(r.typ) != int(m.typ) || string(r.p) != string(m.payload()) {
						t.Fatalf("%s: echo type %d, %d bytes, %v", m.name, r.typ, len(r.p), r.err)
					}
				}
				if err := cc.Ping(ctx); err != nil {
					t.Fatalf("coder Ping: %v", err)
				}
				cc.Write(ctx, coder.MessageText, []byte("cmd:ping:srv"))
				if r := next(); r.err != nil || string(r.p) != "pong-received" {
					t.Fatalf("after the server's ping: %q %v", r.p, r.err)
				}
				if mode == "client-close" {
					if err := cc.Close(4000, "coder bye"); err != nil {
						t.Errorf("coder Close: %v", err)
					}
					wantCloseErr(t, es.end(t), 4000)
				} else {
					cc.Write(ctx, coder.MessageText, []byte("cmd:close:4001:server bye"))
					r := next()
					var ce coder.CloseError
					if !errors.As(r.err, &ce) || ce.Code != 4001 || ce.Reason != "server bye" {
						t.Errorf("server close seen by coder: %v", r.err)
					}
					wantCloseErr(t, es.end(t), 4001)
				}
			})
		}
	}
}

// TestInteropMixed proves wire's client and wire's server agree with each other too, with
// the same scenario (the baseline the foreign pairs are compared against).
func TestInteropWireToWire(t *testing.T) {
	for _, compress := range []bool{false, true} {
		for _, mode := range []string{"client-close", "server-close"} {
			t.Run(mode+"/deflate="+strconv.FormatBool(compress), func(t *testing.T) {
				es := startInteropServer(t, compress)
				runWireClientScenario(t, es.URL+"/", compress, mode, func(t *testing.T) (int, string) {
					err := es.end(t)
					var ce *wire.CloseError
					if !errors.As(err, &ce) {
						t.Fatalf("server end: %v", err)
					}
					return int(ce.Code), ce.Reason
				})
				if mode == "server-close" {
					wantCloseErr(t, es.end(t), 4001)
				}
			})
		}
	}
}
