package web_test

// The browser test harness: one headless Chromium for the whole package
// (each page gets its own browser context, so its own localStorage and
// cookies), the real chat server on 127.0.0.1, and a raw chat.v1 client.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/chatd/chatd/server"
)

// waitTimeout bounds every wait for something to show up in a page. It is
// generous because the machine is shared; a passing run never waits it out.
const waitTimeout = 15 * time.Second

func TestMain(m *testing.M) {
	code := m.Run()
	shared.close()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// browser is the one Chromium process the package's tests share.
type browser struct {
	once    sync.Once
	err     error
	skip    string
	ctx     context.Context // a chromedp context whose browser is running
	cancel  func()
	dataDir string
	tabs    []*tab // browser contexts, reused by the tests
}

var shared browser

// chromiumPath finds Debian's chromium.
func chromiumPath() (string, error) {
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("chromium not found (make test installs Debian's chromium)")
}

// get returns the running browser, starting it on first use. Without
// chromium the test fails under CI=true and is skipped elsewhere.
func (b *browser) get(t *testing.T) context.Context {
	t.Helper()
	b.once.Do(func() {
		defer logSlow(t, "chromium", "start", time.Now())
		path, err := chromiumPath()
		if err != nil {
			if os.Getenv("CI") == "true" {
				b.err = err
			} else {
				b.skip = err.Error()
			}
			return
		}
		b.dataDir, err = os.MkdirTemp("", "chatd-chromium-")
		if err != nil {
			b.err = err
			return
		}
		alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
			chromedp.ExecPath(path),
			chromedp.UserDataDir(b.dataDir),
			chromedp.Headless,
			chromedp.NoSandbox,
			chromedp.DisableGPU,
			chromedp.NoFirstRun,
			chromedp.NoDefaultBrowserCheck,
			chromedp.Flag("disable-quic", true),
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.Flag("disable-extensions", true),
			chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints"),
			chromedp.Flag("password-store", "basic"),
			chromedp.WindowSize(1200, 760),
		)
		ctx, cancelCtx := chromedp.NewContext(alloc)
		if err := chromedp.Do(ctx); err != nil { // starts the browser
			cancelCtx()
			cancelAlloc()
			b.err = fmt.Errorf("failed to start chromium: %w", err)
			return
		}
		b.ctx = ctx
		b.cancel = func() { cancelCtx(); cancelAlloc() }
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	if b.skip != "" {
		t.Skip(b.skip)
	}
	return b.ctx
}

func (b *browser) close() {
	for _, p := range b.tabs {
		p.cancel()
	}
	if b.cancel != nil {
		b.cancel()
	}
	if b.dataDir != "" {
		os.RemoveAll(b.dataDir)
	}
}

// ---- the server ------------------------------------------------------------

// chatServer runs the real server on 127.0.0.1. gate, while set, refuses
// browser WebSocket upgrades (those with an Origin) with 503, so a test can
// hold the pages off while a raw client acts, then let them reconnect.
type chatServer struct {
	t    *testing.T
	addr string
	srv  *server.Server
	hs   *http.Server
	done chan struct{}
	gate atomic.Bool
}

func startServer(t *testing.T, addr string) *chatServer {
	t.Helper()
	defer logSlow(t, "server", "start", time.Now())
	srv, err := server.New(server.DefaultConfig())
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	var ln net.Listener
	// Rebinding the address of a server that just stopped can race its
	// teardown for a moment; a few tries make the restart test reliable.
	for i := 0; ; i++ {
		ln, err = net.Listen("tcp", addr)
		if err == nil || i == 50 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	s := &chatServer{t: t, addr: ln.Addr().String(), srv: srv, done: make(chan struct{})}
	s.hs = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if s.gate.Load() && r.URL.Path == "/ws" && r.Header.Get("Origin") != "" {
				http.Error(w, "starting up", http.StatusServiceUnavailable)
				return
			}
			srv.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go func() {
		defer close(s.done)
		s.hs.Serve(ln)
	}()
	t.Cleanup(s.stop)
	return s
}

func (s *chatServer) url() string { return "http://" + s.addr }

// stop closes the listener, then shuts the chat server down (1001 shutdown
// to every client). It is safe to call twice.
func (s *chatServer) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	defer logSlow(s.t, "server", "stop", time.Now())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.hs.Shutdown(ctx); err != nil {
		s.t.Errorf("http shutdown: %v", err)
	}
	if err := s.srv.Shutdown(ctx); err != nil {
		s.t.Errorf("chat server shutdown: %v", err)
	}
	<-s.done
}

// ---- a network that can drop -----------------------------------------------

// dropProxy forwards TCP to the server. cut severs every connection through
// it and refuses new ones (the network is gone, the server lives on);
// restore lets connections through again.
type dropProxy struct {
	t      *testing.T
	ln     net.Listener
	target string
	down   atomic.Bool
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
}

func startProxy(t *testing.T, target string) *dropProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &dropProxy{t: t, ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *dropProxy) url() string { return "http://" + p.ln.Addr().String() }

func (p *dropProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.down.Load() {
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		if !p.track(c, up) {
			continue
		}
		p.wg.Add(2)
		go p.pipe(c, up)
		go p.pipe(up, c)
	}
}

// track registers a pair, unless the network went down meanwhile.
func (p *dropProxy) track(a, b net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down.Load() {
		a.Close()
		b.Close()
		return false
	}
	p.conns[a], p.conns[b] = struct{}{}, struct{}{}
	return true
}

func (p *dropProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	// One side ended: end both, as a dead network does.
	dst.Close()
	src.Close()
}

func (p *dropProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down.Store(true)
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *dropProxy) restore() { p.down.Store(false) }

// ---- a raw chat.v1 client --------------------------------------------------

// rawClient speaks chat.v1 as plain JSON over gorilla/websocket: a third
// party that knows nothing but the protocol.
type rawClient struct {
	t    *testing.T
	conn *websocket.Conn
}

func dialRaw(t *testing.T, s *chatServer, name string) *rawClient {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{"chat.v1"}, HandshakeTimeout: 5 * time.Second}
	conn, resp, err := d.Dial("ws://"+s.addr+"/ws", nil)
	if err != nil {
		t.Fatalf("raw client dial: %v", err)
	}
	resp.Body.Close()
	if got := conn.Subprotocol(); got != "chat.v1" {
		t.Errorf("subprotocol = %q, want chat.v1", got)
	}
	c := &rawClient{t: t, conn: conn}
	t.Cleanup(func() { conn.Close() })
	c.send(map[string]any{"type": "join", "name": name, "ref": "j1"})
	c.expect("welcome", nil)
	c.expect("join", func(e map[string]any) bool { return e["from"] == name })
	return c
}

func (c *rawClient) send(env map[string]any) {
	c.t.Helper()
	if err := c.conn.WriteJSON(env); err != nil {
		c.t.Fatalf("raw client send: %v", err)
	}
}

// expect reads envelopes until one of type typ for which match (if given)
// holds, and returns it; others are skipped.
func (c *rawClient) expect(typ string, match func(map[string]any) bool) map[string]any {
	c.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		c.conn.SetReadDeadline(deadline)
		var env map[string]any
		if err := c.conn.ReadJSON(&env); err != nil {
			c.t.Fatalf("raw client waiting for %q: %v", typ, err)
		}
		if env["type"] == "error" && typ != "error" {
			c.t.Fatalf("raw client got an error while waiting for %q: %v", typ, env)
		}
		c.t.Logf("raw client got %v", env) // shown only when the test fails (or with -v)
		if env["type"] == typ && (match == nil || match(env)) {
			return env
		}
	}
}

func (c *rawClient) close() {
	c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""), time.Now().Add(time.Second))
	c.conn.Close()
}

// ---- a browser page --------------------------------------------------------

// tab is one page of the client in its own browser context.
type tab struct {
	t      *testing.T
	name   string
	ctx    context.Context
	cancel func()
	inUse  bool // taken by the running test

	mu       sync.Mutex
	problems []string // console errors, exceptions, error log entries (CSP violations land here)
	dialogs  []string // alert/confirm/prompt: none may ever open
}

// newTab returns a blank page in a browser context of its own (its own
// storage). Contexts are pooled across tests, because creating one costs
// seconds on a busy machine; each test's server listens on a new port, so
// the page's origin, and with it localStorage, is fresh anyway.
func newTab(t *testing.T, name string) *tab {
	t.Helper()
	bctx := shared.get(t)
	var p *tab
	for _, q := range shared.tabs {
		if !q.inUse {
			p = q
			break
		}
	}
	if p == nil {
		defer logSlow(t, name, "new tab", time.Now())
		ctx, cancel := chromedp.NewContext(bctx, chromedp.WithNewBrowserContext())
		p = &tab{ctx: ctx, cancel: cancel} // cancelled by browser.close
		// Listen creates the tab on the long-lived context: the first action on a
		// chromedp context binds the tab's lifetime to that call's context.
		if err := chromedp.Listen(ctx, p.onEvent); err != nil {
			t.Fatalf("listen: %v", err)
		}
		shared.tabs = append(shared.tabs, p)
	}
	p.mu.Lock()
	p.t, p.name, p.inUse, p.problems, p.dialogs = t, name, true, nil, nil
	p.mu.Unlock()
	// Whatever an earlier test emulated (a phone, the dark theme), every
	// test starts on the same desktop-sized light page.
	p.do("reset the viewport", chromedp.EmulateViewport(1200, 760), emulateColorScheme(""))
	t.Cleanup(func() {
		// Leave the page so that it stops talking to this test's server.
		ctx, cancel := context.WithTimeout(p.ctx, waitTimeout)
		defer cancel()
		if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
			t.Errorf("%s: leaving the page: %v", name, err)
		}
		p.inUse = false
	})
	return p
}

// emulateColorScheme makes the page see prefers-color-scheme: scheme ("" for
// the browser's own).
func emulateColorScheme(scheme string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		})
		return err
	})
}

// openTab loads the client from s and signs in as name.
func openTab(t *testing.T, s *chatServer, name string) *tab {
	t.Helper()
	return openTabAt(t, s.url(), name)
}

// openTabAt loads the client from base (a server or a proxy in front of
// it) and signs in as name.
func openTabAt(t *testing.T, base, name string) *tab {
	t.Helper()
	p := newTab(t, name)
	p.do("load the page",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS("#name-input")),
		chromedp.SendKeys(chromedp.CSS("#name-input"), name),
		chromedp.Click(chromedp.CSS("#name-form button[type=submit]")),
	)
	p.waitState("online")
	p.waitJS(fmt.Sprintf(`document.getElementById('me').textContent === %s`, jsString(name)), "own name shown")
	return p
}

func (p *tab) onEvent(ev any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch e := ev.(type) {
	case *page.EventJavascriptDialogOpening:
		p.dialogs = append(p.dialogs, string(e.Type)+": "+e.Message)
		// A dialog stalls the page until answered; answer it from outside
		// the event loop (Listen forbids commands inside it).
		go func(ctx context.Context) {
			chromedp.Run(ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
				_, err := cdp.Call(ctx, t, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
				return err
			}))
		}(p.ctx)
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeWarning {
			var parts []string
			for _, a := range e.Args {
				parts = append(parts, strings.Trim(string(a.Value), `"`)+a.Description)
			}
			p.problems = append(p.problems, "console."+string(e.Type)+": "+strings.Join(parts, " "))
		}
	case *runtime.EventExceptionThrown:
		d := e.ExceptionDetails
		msg := d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		p.problems = append(p.problems, "exception: "+msg)
	case *cdplog.EventEntryAdded:
		if e.Entry.Level == cdplog.EntryLevelError || e.Entry.Level == cdplog.EntryLevelWarning {
			p.problems = append(p.problems, fmt.Sprintf("log %s/%s: %s %s", e.Entry.Source, e.Entry.Level, e.Entry.Text, e.Entry.URL))
		}
	}
}

// problemsSoFar returns the console errors, exceptions and dialogs seen.
func (p *tab) problemsSoFar() (problems, dialogs []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.problems...), append([]string(nil), p.dialogs...)
}

func (p *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, waitTimeout)
	defer cancel()
	defer logSlow(p.t, p.name, what, time.Now())
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatalf("%s: %s: %v", p.name, what, err)
	}
}

// waitJS waits until the JavaScript expression is truthy in the page.
func (p *tab) waitJS(expr, what string) {
	p.t.Helper()
	p.waitJSFor(expr, what, waitTimeout)
}

// waitJSFor is waitJS with its own time limit.
func (p *tab) waitJSFor(expr, what string, limit time.Duration) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, limit)
	defer cancel()
	defer logSlow(p.t, p.name, what, time.Now())
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(30*time.Millisecond), chromedp.WithPollingTimeout(limit))); err != nil {
		p.t.Fatalf("%s: waiting for %s (%s): %v\npage: %s", p.name, what, expr, err, p.describe())
	}
}

func (p *tab) waitState(state string) {
	p.t.Helper()
	p.waitJS(stateIs(state), "connection state "+state)
}

func stateIs(state string) string {
	return fmt.Sprintf(`document.getElementById('status').dataset.state === %s`, jsString(state))
}

// logSlow notes steps that took long, to show where a slow run spends its time.
func logSlow(t *testing.T, who, what string, start time.Time) {
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Logf("slow step: %s: %s took %v", who, what, d.Round(time.Millisecond))
	}
}

// describe summarises what the page shows, for failure messages.
func (p *tab) describe() string {
	ctx, cancel := context.WithTimeout(p.ctx, 2*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({
		status: document.getElementById('status-text').textContent,
		title: document.getElementById('conv-title').textContent,
		typing: document.getElementById('typing').textContent,
		notice: document.getElementById('notice').textContent,
		nameError: document.getElementById('name-error').textContent,
		dialog: document.getElementById('name-dialog').open,
		rooms: [...document.querySelectorAll('button.conv')].map(b => b.textContent),
		people: [...document.querySelectorAll('#people-list li')].map(li => li.textContent),
		lines: [...document.querySelectorAll('#message-list li')].map(li => li.textContent),
	})`))
	if err != nil {
		return "(unavailable: " + err.Error() + ")"
	}
	problems, dialogs := p.problemsSoFar()
	return fmt.Sprintf("%s problems=%q dialogs=%q", s, problems, dialogs)
}

// evalJS evaluates expr in the page and decodes its value.
func evalJS[T any](p *tab, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, waitTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.t.Fatalf("%s: eval %s: %v", p.name, expr, err)
	}
	return v
}

// pressEnter sends the Enter key the way a keyboard does: keydown, keyup.
func pressEnter() chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeRawKeyDown, input.DispatchKeyEventTypeKeyUp} {
			_, err := cdp.Call(ctx, t, input.DispatchKeyEvent, input.DispatchKeyEventParams{
				Type: typ, Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13,
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// typeText types into the composer without sending.
func (p *tab) typeText(text string) {
	p.t.Helper()
	p.do("type "+text, chromedp.Focus(chromedp.CSS("#text")), chromedp.SendKeys(chromedp.CSS("#text"), text))
}

// insertText puts text into the focused element in one step, as a paste or
// an input method does (an input event, no key events).
func insertText(text string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, input.InsertText, input.InsertTextParams{Text: text})
		return err
	})
}

// say writes text into the composer, presses Enter, and waits for the
// server's echo to show up in this page. The text goes in at once (typing
// it key by key costs three round trips a character; TestBrowserTyping
// types for real).
func (p *tab) say(text string) {
	p.t.Helper()
	p.do("write "+text, chromedp.Focus(chromedp.CSS("#text")), insertText(text), pressEnter())
	p.waitMessage(p.name, text)
}

// message is one chat line as the page shows it.
type message struct {
	ID   string `json:"id"`
	From string `json:"from"`
	Text string `json:"text"`
	Own  bool   `json:"own"`
}

const messagesJS = `[...document.querySelectorAll('#message-list li.msg')].map(li => ({
	id: li.dataset.id, from: li.dataset.from,
	text: li.querySelector('.text').textContent, own: li.classList.contains('own')}))`

// messages returns the messages of the conversation in view, top to bottom.
func (p *tab) messages() []message {
	p.t.Helper()
	return evalJS[[]message](p, messagesJS)
}

// waitMessage waits for a message from `from` with exactly this text in view.
func (p *tab) waitMessage(from, text string) {
	p.t.Helper()
	p.waitJS(fmt.Sprintf(`(%s).some(m => m.from === %s && m.text === %s)`, messagesJS, jsString(from), jsString(text)),
		fmt.Sprintf("message %q from %s", text, from))
}

// selectConversation clicks the room or PM entry with this key (#room or @name).
func (p *tab) selectConversation(key string) {
	p.t.Helper()
	sel := fmt.Sprintf(`button.conv[data-key=%s]`, jsString(key))
	p.do("open "+key, chromedp.Click(chromedp.CSS(sel)))
	p.waitJS(fmt.Sprintf(`document.querySelector(%s).getAttribute('aria-current') === 'page'`, jsString(sel)), key+" selected")
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
