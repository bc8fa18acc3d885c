package web_test

import (
	"bytes"
	"fmt"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserPageLoadsCleanly loads the page under the server's
// Content-Security-Policy and checks that nothing in it is refused or
// fails: no console errors, no exceptions, no CSP violations.
func TestBrowserPageLoadsCleanly(t *testing.T) {
	s := startServer(t, "127.0.0.1:0")
	resp, err := http.Get(s.url() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("Content-Security-Policy = %q, want default-src 'self'", csp)
	}

	p := openTab(t, s, "alice")
	p.waitJS(`document.querySelector('#people-list').textContent.includes('alice')`, "presence shows ourselves")
	// Give late failures (a missing module, a refused stylesheet) a round trip to surface.
	p.do("settle", chromedp.Evaluate[chromedp.Void](`new Promise(r => setTimeout(r, 200))`, chromedp.EvalAwaitPromise))
	checkClean(t, p)
	if got := evalJS[string](p, `getComputedStyle(document.querySelector('.topbar')).display`); got != "flex" {
		t.Errorf("stylesheet not applied: .topbar display = %q", got)
	}

	// The check above can fail: an inline script (what an injection would
	// need) is refused by the policy, and the refusal is seen.
	p.do("inject an inline script", chromedp.Evaluate[chromedp.Void](`(() => {
		const s = document.createElement('script');
		s.textContent = 'window.injected = true';
		document.body.append(s);
	})()`))
	if ran := evalJS[bool](p, `window.injected === true`); ran {
		t.Error("an inline script ran: the Content-Security-Policy does not protect the page")
	}
	// The report arrives as an event of its own; wait for it.
	deadline := time.Now().Add(waitTimeout)
	for {
		problems, _ := p.problemsSoFar()
		if strings.Contains(strings.Join(problems, " "), "Content Security Policy") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the refused inline script left no CSP report in the console: %q", problems)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func checkClean(t *testing.T, pages ...*tab) {
	t.Helper()
	for _, p := range pages {
		problems, dialogs := p.problemsSoFar()
		for _, pr := range problems {
			t.Errorf("%s: %s", p.name, pr)
		}
		for _, d := range dialogs {
			t.Errorf("%s: a dialog opened: %s", p.name, d)
		}
	}
}

// TestBrowserRoomChat: alice and bob, each in their own browser context,
// chat in the lobby and in a second room; unread counts follow.
func TestBrowserRoomChat(t *testing.T) {
	s := startServer(t, "127.0.0.1:0")
	alice := openTab(t, s, "alice")
	bob := openTab(t, s, "bob")

	alice.waitJS(`[...document.querySelectorAll('#people-list li')].map(li => li.textContent).join(',').includes('bob')`, "bob in alice's people list")
	alice.say("hi bob")
	bob.waitMessage("alice", "hi bob")
	bob.say("hello alice")
	alice.waitMessage("bob", "hello alice")
	alice.say("how are you?")
	bob.waitMessage("alice", "how are you?")

	got := bob.messages()
	want := []message{{From: "alice", Text: "hi bob"}, {From: "bob", Text: "hello alice", Own: true}, {From: "alice", Text: "how are you?"}}
	if !sameMessages(got, want) {
		t.Errorf("bob sees %+v, want %+v", got, want)
	}
	checkSortedUnique(t, bob.name, got)

	// Grouping: alice's next line joins her previous one under one header.
	alice.say("still there?")
	bob.waitMessage("alice", "still there?")
	if cont := evalJS[bool](bob, `document.querySelector('#message-list li.msg:last-child').classList.contains('cont')`); !cont {
		t.Error("a second message in a row from alice is not grouped with the first")
	}

	// A second room: bob joins it by name and stays there; alice joins it
	// too, then goes back to the lobby and receives a message in dev: unread 1.
	bob.do("join dev", chromedp.SendKeys(chromedp.CSS("#join-room"), "dev\n"))
	bob.waitJS(`document.getElementById('conv-title').textContent === '#dev'`, "dev in view")
	alice.do("join dev", chromedp.SendKeys(chromedp.CSS("#join-room"), "dev\n"))
	alice.waitJS(`document.getElementById('conv-title').textContent === '#dev'`, "dev in view")
	alice.selectConversation("#lobby")
	bob.waitJS(`document.getElementById('conv-sub').textContent === '2 people here'`, "two people in dev")
	bob.say("news in dev")
	alice.waitJS(`document.querySelector('button.conv[data-key="#dev"] .badge:not([hidden])')?.textContent === '1'`, "unread badge 1 on #dev")
	alice.selectConversation("#dev")
	alice.waitMessage("bob", "news in dev")
	alice.waitJS(`!document.querySelector('button.conv[data-key="#dev"] .badge:not([hidden])')`, "unread cleared")

	// Leaving: alice leaves dev, bob sees her go.
	alice.do("leave dev", chromedp.Click(chromedp.CSS("#leave")))
	alice.waitJS(`!document.querySelector('button.conv[data-key="#dev"]')`, "dev gone from alice's rooms")
	bob.waitJS(`document.getElementById('conv-sub').textContent === '1 person here'`, "alice left dev")
	checkClean(t, alice, bob)
}

// TestBrowserPrivateMessage: bob clicks alice in the people list and
// writes to her; alice gets an unread PM conversation and answers.
func TestBrowserPrivateMessage(t *testing.T) {
	s := startServer(t, "127.0.0.1:0")
	alice := openTab(t, s, "alice")
	bob := openTab(t, s, "bob")

	bob.waitJS(`!!document.querySelector('#people-list button[aria-label="Private message alice"]')`, "alice in bob's people list")
	bob.do("open PM", chromedp.Click(chromedp.CSS(`#people-list button[aria-label="Private message alice"]`)))
	bob.waitJS(`document.getElementById('conv-title').textContent === 'alice'`, "PM with alice in view")
	bob.say("psst, alice")

	alice.waitJS(`document.querySelector('button.conv[data-key="@bob"] .badge:not([hidden])')?.textContent === '1'`, "PM from bob with unread 1")
	alice.selectConversation("@bob")
	alice.waitMessage("bob", "psst, alice")
	alice.say("yes?")
	bob.waitMessage("alice", "yes?")
	if got := bob.messages(); !sameMessages(got, []message{{From: "bob", Text: "psst, alice", Own: true}, {From: "alice", Text: "yes?"}}) {
		t.Errorf("bob's PM conversation: %+v", got)
	}
	// The lobby saw none of it.
	bob.selectConversation("#lobby")
	if got := bob.messages(); len(got) != 0 {
		t.Errorf("private messages leaked into the lobby: %+v", got)
	}
	checkClean(t, alice, bob)
}

// TestBrowserTyping: the indicator appears for the other person while one
// types, names two typers, and clears when the message arrives.
func TestBrowserTyping(t *testing.T) {
	s := startServer(t, "127.0.0.1:0")
	alice := openTab(t, s, "alice")
	bob := openTab(t, s, "bob")
	carol := dialRaw(t, s, "carol")
	alice.waitJS(`document.getElementById('conv-sub').textContent === '3 people here'`, "three in the lobby")

	bob.typeText("I am wri")
	alice.waitJS(`document.getElementById('typing').textContent === 'bob is typing…'`, "bob is typing")
	if got := evalJS[string](bob, `document.getElementById('typing').textContent`); got != "" {
		t.Errorf("bob sees his own typing indicator: %q", got)
	}
	carol.send(map[string]any{"type": "typing", "room": "lobby", "active": true})
	alice.waitJS(`document.getElementById('typing').textContent === 'bob and carol are typing…'`, "two typers")
	carol.send(map[string]any{"type": "typing", "room": "lobby", "active": false})
	alice.waitJS(`document.getElementById('typing').textContent === 'bob is typing…'`, "carol stopped")

	// The raw client sees the page's typing too, as the protocol says.
	ev := carol.expect("typing", func(e map[string]any) bool { return e["from"] == "bob" && e["active"] == true })
	if ev["room"] != "lobby" {
		t.Errorf("typing event from the page: %v", ev)
	}

	bob.typeText("ting")
	bob.do("press Enter", pressEnter())
	alice.waitMessage("bob", "I am writing")
	alice.waitJS(`document.getElementById('typing').textContent === ''`, "indicator cleared after the message")
	carol.expect("typing", func(e map[string]any) bool { return e["from"] == "bob" && e["active"] == false })

	// Typing again right after sending: the server relays one start per 2 s,
	// so the page holds this one back until it will be relayed, not lost.
	bob.typeText("and more")
	alice.waitJS(`document.getElementById('typing').textContent === 'bob is typing…'`, "bob typing again after his message")
	bob.do("press Enter", pressEnter())
	alice.waitMessage("bob", "and more")
	alice.waitJS(`document.getElementById('typing').textContent === ''`, "cleared again")

	// In a private conversation the indicator shows on the PM entry, and
	// clearing the input stops it. (A new target: the server relays a start
	// at most once per 2 s per sender and target.)
	bob.do("open PM", chromedp.Click(chromedp.CSS(`#people-list button[aria-label="Private message alice"]`)))
	bob.typeText("oops")
	alice.waitJS(`!!document.querySelector('button.conv[data-key="@bob"] .dots:not([hidden])')`, "typing shown on the PM entry")
	alice.selectConversation("@bob")
	alice.waitJS(`document.getElementById('typing').textContent === 'bob is typing…'`, "bob typing in the PM")
	bob.do("clear the input", chromedp.Evaluate[chromedp.Void](`document.getElementById('text').select()`), chromedp.SendKeys(chromedp.CSS("#text"), "\b"))
	alice.waitJS(`document.getElementById('typing').textContent === ''`, "indicator cleared after clearing the input")
	alice.waitJS(`!document.querySelector('button.conv[data-key="@bob"] .dots:not([hidden])')`, "PM entry no longer typing")
	carol.close()
	checkClean(t, alice, bob)
}

// TestBrowserTextIsNotHTML: markup in a message is shown as characters and
// never runs.
func TestBrowserTextIsNotHTML(t *testing.T) {
	s := startServer(t, "127.0.0.1:0")
	alice := openTab(t, s, "alice")
	bob := openTab(t, s, "bob")
	const xss = `<img src=x onerror=alert(1)>`
	alice.say(xss)
	bob.waitMessage("alice", xss)
	for _, p := range []*tab{alice, bob} {
		if n := evalJS[int](p, `document.querySelectorAll('#message-list img, #message-list script').length`); n != 0 {
			t.Errorf("%s: the message became %d element(s)", p.name, n)
		}
		if got := evalJS[string](p, `document.querySelector('#message-list li.msg .text').textContent`); got != xss {
			t.Errorf("%s shows %q, want %q", p.name, got, xss)
		}
	}
	// Markup in a name or room cannot even be sent: the server refuses such
	// names. A raw client sends the same string by PM: still text.
	carol := dialRaw(t, s, "carol")
	carol.send(map[string]any{"type": "pm", "to": "bob", "text": `<script>alert(2)</script>`})
	bob.selectConversation("@carol")
	bob.waitMessage("carol", `<script>alert(2)</script>`)
	carol.close()
	checkClean(t, alice, bob)
}

// TestBrowserServerRestart: the server goes away and comes back on the
// same address; both pages reconnect on their own, rejoin with since, and
// show every message exactly once, including one sent while they were away.
func TestBrowserServerRestart(t *testing.T) {
	s := startServer(t, "127.0.0.1:0")
	addr := s.addr
	alice := openTab(t, s, "alice")
	bob := openTab(t, s, "bob")
	alice.say("before one")
	bob.waitMessage("alice", "before one")
	bob.say("before two")
	alice.waitMessage("bob", "before two")
	// alice is in a second room too; the reconnect must rejoin both.
	alice.do("join dev", chromedp.SendKeys(chromedp.CSS("#join-room"), "dev\n"))
	alice.waitJS(`document.getElementById('conv-sub').textContent === '1 person here'`, "in dev")
	alice.selectConversation("#lobby")

	s.stop()
	alice.waitState("waiting")
	bob.waitState("waiting")
	if got := evalJS[string](alice, `document.getElementById('status-text').textContent`); !strings.HasPrefix(got, "Connection lost") {
		t.Errorf("status while away: %q", got)
	}

	// The new server holds browsers off until carol has posted, so the pages
	// can only learn of her message through the replay of their rejoin.
	s2 := startServer(t, addr)
	s2.gate.Store(true)
	carol := dialRaw(t, s2, "carol")
	carol.send(map[string]any{"type": "chat", "room": "lobby", "text": "while you were away", "ref": "c1"})
	carol.expect("chat", func(e map[string]any) bool { return e["ref"] == "c1" })
	s2.gate.Store(false)

	// The pages retry on their own; the wait allows for the longest backoff
	// (15 s plus jitter) that a slow stop could have led them to.
	alice.waitJSFor(stateIs("online"), "reconnected", 2*waitTimeout)
	bob.waitJSFor(stateIs("online"), "reconnected", 2*waitTimeout)
	alice.waitMessage("carol", "while you were away")
	bob.waitMessage("carol", "while you were away")
	alice.say("after")
	bob.waitMessage("alice", "after")
	carol.expect("chat", func(e map[string]any) bool { return e["text"] == "after" && e["from"] == "alice" })
	carol.send(map[string]any{"type": "join", "room": "dev", "ref": "d"})
	dev := carol.expect("presence", func(e map[string]any) bool { return e["ref"] == "d" })
	if users := fmt.Sprint(dev["users"]); users != "[alice carol]" {
		t.Errorf("dev after the restart holds %s, want alice rejoined", users)
	}

	want := []message{
		{From: "alice", Text: "before one"}, {From: "bob", Text: "before two"},
		{From: "carol", Text: "while you were away"}, {From: "alice", Text: "after"},
	}
	for _, p := range []*tab{alice, bob} {
		got := p.messages()
		w := slices.Clone(want)
		for i := range w {
			w[i].Own = w[i].From == p.name
		}
		if !sameMessages(got, w) {
			t.Errorf("%s after the restart shows %+v, want %+v", p.name, got, w)
		}
		checkSortedUnique(t, p.name, got)
	}
	carol.close()
}

// TestBrowserNetworkDrop: the network between one page and a running
// server fails; the server ends that session, the room goes on, and when the
// network is back the page rejoins with since and gets exactly what it
// missed from the server's history.
func TestBrowserNetworkDrop(t *testing.T) {
	s := startServer(t, "127.0.0.1:0")
	px := startProxy(t, s.addr)
	alice := openTabAt(t, px.url(), "alice")
	bob := openTab(t, s, "bob")
	alice.say("one")
	bob.waitMessage("alice", "one")

	px.cut()
	alice.waitState("waiting")
	bob.waitJS(`[...document.querySelectorAll('#message-list li.leave')].some((li) => li.textContent.includes('alice disconnected'))`, "alice's leave seen")
	bob.say("two")
	bob.say("three")
	px.restore()

	alice.waitJSFor(stateIs("online"), "reconnected", 2*waitTimeout)
	alice.waitMessage("bob", "three")
	got := alice.messages()
	want := []message{{From: "alice", Text: "one", Own: true}, {From: "bob", Text: "two"}, {From: "bob", Text: "three"}}
	if !sameMessages(got, want) {
		t.Errorf("alice after the drop shows %+v, want %+v", got, want)
	}
	checkSortedUnique(t, alice.name, got)
	bob.say("four")
	alice.waitMessage("bob", "four")
}

// TestBrowserRawClientInterop: a program that speaks chat.v1 as raw JSON
// and the page understand each other in both directions, in rooms and PMs.
func TestBrowserRawClientInterop(t *testing.T) {
	s := startServer(t, "127.0.0.1:0")
	alice := openTab(t, s, "alice")
	carol := dialRaw(t, s, "carol")
	alice.waitJS(`!!document.querySelector('#people-list button[aria-label="Private message carol"]')`, "carol in presence")

	carol.send(map[string]any{"type": "chat", "room": "lobby", "text": "hello from a raw socket"})
	alice.waitMessage("carol", "hello from a raw socket")

	alice.say("hello carol")
	ev := carol.expect("chat", func(e map[string]any) bool { return e["from"] == "alice" })
	if ev["text"] != "hello carol" || ev["room"] != "lobby" || ev["id"] == nil || ev["ref"] != nil {
		t.Errorf("carol received %v", ev)
	}

	alice.do("open PM", chromedp.Click(chromedp.CSS(`#people-list button[aria-label="Private message carol"]`)))
	alice.say("a secret")
	pm := carol.expect("pm", nil)
	if pm["from"] != "alice" || pm["to"] != "carol" || pm["text"] != "a secret" {
		t.Errorf("carol received %v", pm)
	}
	carol.send(map[string]any{"type": "pm", "to": "alice", "text": "got it"})
	alice.waitMessage("carol", "got it")

	// Autoscroll: a reader who scrolled up is not yanked down by new
	// messages; a button offers the way back.
	alice.selectConversation("#lobby")
	for i := 1; i <= 30; i++ {
		carol.send(map[string]any{"type": "chat", "room": "lobby", "text": fmt.Sprintf("line %d", i), "ref": fmt.Sprint(i)})
		carol.expect("chat", func(e map[string]any) bool { return e["ref"] == fmt.Sprint(i) })
	}
	alice.waitMessage("carol", "line 30")
	alice.waitJS(`(() => { const m = document.getElementById('messages'); return m.scrollHeight - m.scrollTop - m.clientHeight < 50; })()`, "autoscrolled to the bottom")
	alice.do("scroll up", chromedp.Evaluate[chromedp.Void](`document.getElementById('messages').scrollTop = 0`))
	carol.send(map[string]any{"type": "chat", "room": "lobby", "text": "line 31"})
	alice.waitMessage("carol", "line 31")
	alice.waitJS(`!document.getElementById('jump').hidden`, "new-messages button shown")
	if top := evalJS[float64](alice, `document.getElementById('messages').scrollTop`); top != 0 {
		t.Errorf("the view moved to %v while the reader was scrolled up", top)
	}
	alice.do("jump down", chromedp.Click(chromedp.CSS("#jump")))
	alice.waitJS(`(() => { const m = document.getElementById('messages'); return document.getElementById('jump').hidden && m.scrollHeight - m.scrollTop - m.clientHeight < 50; })()`, "back at the bottom")

	// History: a newcomer sees the room's recent messages as a replay, in
	// order, each once.
	dave := openTab(t, s, "dave")
	dave.waitMessage("carol", "line 31")
	history := dave.messages()
	checkSortedUnique(t, dave.name, history)
	var texts []string
	for _, m := range history {
		texts = append(texts, m.Text)
	}
	if len(texts) < 33 || texts[0] != "hello from a raw socket" || texts[1] != "hello carol" || texts[len(texts)-1] != "line 31" {
		t.Errorf("dave's replayed history: %q", texts)
	}

	// When carol goes, alice's PM to her is refused and the page says so.
	alice.selectConversation("@carol")
	carol.close()
	alice.waitJS(`!document.querySelector('#people-list button[aria-label="Private message carol"]')`, "carol gone")
	alice.typeText("are you there?")
	alice.do("press Enter", pressEnter())
	alice.waitJS(`[...document.querySelectorAll('#message-list li.notice')].some(li => li.textContent.includes('carol is not connected'))`, "unknown_user shown")
	checkClean(t, alice)
}

// TestBrowserNameTakenAndLimits: a taken name asks again; the composer
// refuses text over the limit with a visible counter.
func TestBrowserNameTakenAndLimits(t *testing.T) {
	s := startServer(t, "127.0.0.1:0")
	_ = openTab(t, s, "alice")

	p := newTab(t, "second")
	p.do("claim a taken name",
		chromedp.Navigate(s.url()+"/"),
		chromedp.WaitVisible(chromedp.CSS("#name-input")),
		chromedp.SendKeys(chromedp.CSS("#name-input"), "ALICE"),
		chromedp.Click(chromedp.CSS("#name-form button[type=submit]")),
	)
	p.waitJS(`document.getElementById('name-error').textContent.includes('already taken')`, "name_taken shown")
	p.waitJS(`document.getElementById('name-dialog').open`, "asked again")
	p.do("pick another",
		chromedp.Evaluate[chromedp.Void](`document.getElementById('name-input').value = ''`),
		chromedp.SendKeys(chromedp.CSS("#name-input"), "alice2"),
		chromedp.Click(chromedp.CSS("#name-form button[type=submit]")),
	)
	p.waitState("online")
	if got := evalJS[string](p, `localStorage.getItem('chatd.name')`); got != "alice2" {
		t.Errorf("remembered name = %q, want alice2", got)
	}

	// 4001 code points (astral characters count once each) cannot be sent.
	p.do("fill the composer", chromedp.Evaluate[chromedp.Void](`(() => {
		const t = document.getElementById('text');
		t.value = '😀'.repeat(4001);
		t.dispatchEvent(new Event('input'));
	})()`))
	p.waitJS(`document.getElementById('counter').textContent === '4001 / 4000'`, "counter shows 4001 / 4000")
	if !evalJS[bool](p, `document.getElementById('send').disabled && document.getElementById('counter').classList.contains('over')`) {
		t.Error("send is not disabled over the limit")
	}
	p.do("trim to the limit", chromedp.Evaluate[chromedp.Void](`(() => {
		const t = document.getElementById('text');
		t.value = '😀'.repeat(4000);
		t.dispatchEvent(new Event('input'));
	})()`))
	p.waitJS(`!document.getElementById('send').disabled`, "send enabled at exactly 4000")
	p.do("send", chromedp.Click(chromedp.CSS("#send")))
	p.waitJS(`(`+messagesJS+`).some(m => m.text.length === 8000)`, "4000 emoji delivered")

	// Flooding: past the burst the server answers rate_limited; the page
	// says so gently, keeps the refused text in the box, and stays connected.
	p.do("send 60 messages at once", chromedp.Evaluate[chromedp.Void](`(() => {
		const t = document.getElementById('text');
		for (let i = 1; i <= 60; i++) {
			t.value = 'burst ' + i;
			t.dispatchEvent(new Event('input'));
			document.getElementById('composer').requestSubmit();
		}
	})()`))
	p.waitJS(`document.getElementById('notice').textContent.includes('sending messages quickly')`, "rate_limited notice")
	p.waitJS(`document.getElementById('text').value.startsWith('burst ')`, "refused text back in the box")
	p.waitMessage("alice2", "burst 1")
	if got := evalJS[string](p, `document.getElementById('status').dataset.state`); got != "online" {
		t.Errorf("after rate_limited the page is %q, want still online", got)
	}

	// A reload keeps the name and signs in without asking.
	p.do("reload", chromedp.Navigate(s.url()+"/"))
	p.waitState("online")
	p.waitJS(`document.getElementById('me').textContent === 'alice2' && !document.getElementById('name-dialog').open`, "signed in from localStorage")
}

// TestBrowserScreenshot renders a real conversation and checks the capture.
// With UPDATE_SCREENSHOT=1 it writes it to docs/screenshot.png.
func TestBrowserScreenshot(t *testing.T) {
	s := startServer(t, "127.0.0.1:0")
	alice := openTab(t, s, "alice")
	bob := openTab(t, s, "bob")
	carol := dialRaw(t, s, "carol")
	alice.do("window size", chromedp.EmulateViewport(1180, 720))

	alice.say("Morning! Did the deploy go out?")
	bob.waitMessage("alice", "Morning! Did the deploy go out?")
	bob.say("Yes, v0.1.0 has been live since 9:40.")
	carol.send(map[string]any{"type": "chat", "room": "lobby", "text": "Metrics look good, p99 fan-out under a millisecond."})
	alice.waitMessage("carol", "Metrics look good, p99 fan-out under a millisecond.")
	bob.say("The browser client reconnects on its own now, too.")
	bob.say("Try restarting the server while you watch.")
	alice.waitMessage("bob", "Try restarting the server while you watch.")
	alice.say("<b>nice</b> — and markup shows as text.")
	carol.send(map[string]any{"type": "join", "room": "dev", "ref": "d"})
	carol.expect("join", func(e map[string]any) bool { return e["ref"] == "d" })
	alice.do("join dev", chromedp.SendKeys(chromedp.CSS("#join-room"), "dev\n"))
	alice.waitJS(`document.getElementById('conv-sub').textContent === '2 people here'`, "in dev with carol")
	alice.selectConversation("#lobby")
	carol.send(map[string]any{"type": "chat", "room": "dev", "text": "standup in 5"})
	carol.send(map[string]any{"type": "chat", "room": "dev", "text": "bring the graphs"})
	alice.waitJS(`document.querySelector('button.conv[data-key="#dev"] .badge:not([hidden])')?.textContent === '2'`, "2 unread in dev")
	carol.send(map[string]any{"type": "pm", "to": "alice", "text": "lunch later?"})
	alice.waitJS(`!!document.querySelector('button.conv[data-key="@carol"] .badge:not([hidden])')`, "PM from carol")
	carol.send(map[string]any{"type": "typing", "room": "lobby", "active": true})
	alice.waitJS(`document.getElementById('typing').textContent === 'carol is typing…'`, "carol typing")
	alice.do("focus composer", chromedp.Focus(chromedp.CSS("#text")))

	img := evalScreenshot(t, alice)
	cfg, err := png.DecodeConfig(bytes.NewReader(img))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if cfg.Width < 1000 || cfg.Height < 600 {
		t.Errorf("screenshot is %dx%d", cfg.Width, cfg.Height)
	}
	if os.Getenv("UPDATE_SCREENSHOT") == "1" {
		out := filepath.Join("..", "..", "docs", "screenshot.png")
		if err := os.WriteFile(out, img, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d bytes)", out, len(img))
	}
	carol.close()
	checkClean(t, alice, bob)
}

func evalScreenshot(t *testing.T, p *tab) []byte {
	t.Helper()
	img, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	return img
}

// sameMessages compares what a page shows with what it should, ignoring ids.
func sameMessages(got, want []message) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i].From != want[i].From || got[i].Text != want[i].Text || got[i].Own != want[i].Own {
			return false
		}
	}
	return true
}

// checkSortedUnique asserts the page shows each id once, in id order.
func checkSortedUnique(t *testing.T, who string, ms []message) {
	t.Helper()
	for i := 1; i < len(ms); i++ {
		if ms[i-1].ID >= ms[i].ID {
			t.Errorf("%s: message ids out of order or repeated: %s then %s", who, ms[i-1].ID, ms[i].ID)
		}
	}
	seen := map[string]bool{}
	for _, m := range ms {
		if seen[m.ID] {
			t.Errorf("%s: %s shown twice", who, fmt.Sprint(m))
		}
		seen[m.ID] = true
	}
}

// contrastJS computes, for each element matching the selectors given, the
// WCAG contrast ratio of its text colour against the first opaque background
// behind it, and returns the lowest ones as "selector: ratio" strings.
const contrastJS = `((sels) => {
	const rgb = (s) => { const m = s.match(/[\d.]+/g).map(Number); return { r: m[0], g: m[1], b: m[2], a: m.length > 3 ? m[3] : 1 }; };
	const lum = (c) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; }; return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
	const bgOf = (el) => { for (let e = el; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor); if (c.a > 0.5) return c; } return rgb(getComputedStyle(document.body).backgroundColor); };
	const out = [];
	for (const sel of sels) {
		const els = [...document.querySelectorAll(sel)].filter((e) => e.getClientRects().length > 0 && e.textContent.trim() !== '');
		if (els.length === 0) { out.push(sel + ': not found'); continue; }
		for (const el of els) {
			const a = lum(rgb(getComputedStyle(el).color)), b = lum(bgOf(el));
			const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
			out.push(sel + ': ' + ratio.toFixed(2));
		}
	}
	return out;
})`

// TestBrowserAccessibility checks what a keyboard or screen-reader user and
// a phone user rely on: labels, names on every button, an aria-live
// announcement of new messages, focus in the composer after signing in, a
// text contrast of at least 4.5:1 in the light and the dark theme, and a
// narrow layout whose conversation list opens from a button.
func TestBrowserAccessibility(t *testing.T) {
	s := startServer(t, "127.0.0.1:0")
	alice := openTab(t, s, "alice")
	bob := openTab(t, s, "bob")

	if got := evalJS[string](alice, `document.activeElement.id`); got != "text" {
		t.Errorf("focus after signing in is on %q, want the message box", got)
	}
	unlabelled := evalJS[[]string](alice, `[...document.querySelectorAll('input, textarea')].filter((e) =>
		!(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map((e) => e.id)`)
	if len(unlabelled) > 0 {
		t.Errorf("inputs without a label: %v", unlabelled)
	}
	nameless := evalJS[[]string](alice, `[...document.querySelectorAll('button')].filter((b) =>
		!(b.getAttribute('aria-label') || b.textContent.trim())).map((b) => b.outerHTML)`)
	if len(nameless) > 0 {
		t.Errorf("buttons without an accessible name: %v", nameless)
	}

	bob.say("can you hear me?")
	alice.waitJS(`document.getElementById('announcer').textContent === 'bob: can you hear me?'`, "new message announced")
	if live := evalJS[string](alice, `document.getElementById('announcer').getAttribute('aria-live')`); live != "polite" {
		t.Errorf("announcer aria-live = %q", live)
	}
	// Keyboard only: the person list's buttons are reachable and Enter opens a PM.
	alice.do("focus bob", chromedp.Focus(chromedp.CSS(`#people-list button[aria-label="Private message bob"]`)), chromedp.KeyEvent("\r"))
	alice.waitJS(`document.getElementById('conv-title').textContent === 'bob'`, "PM opened with the keyboard")
	alice.selectConversation("#lobby")
	alice.say("loud and clear")

	sels := []string{".sub", ".hint", ".meta time", ".from", ".text", ".conv[aria-current]", ".conv-name", "#status-text", ".line .text", ".people h2", ".person-btn"}
	for _, scheme := range []string{"light", "dark"} {
		alice.do("prefers-color-scheme "+scheme, emulateColorScheme(scheme))
		got := evalJS[[]string](alice, contrastJS+"("+jsonArray(sels)+")")
		t.Logf("%s theme contrast: %v", scheme, got)
		for _, line := range got {
			var sel string
			var ratio float64
			i := strings.LastIndex(line, ": ")
			sel = line[:i]
			if _, err := fmt.Sscanf(line[i+2:], "%g", &ratio); err != nil {
				t.Errorf("%s: %s", scheme, line)
				continue
			}
			if ratio < 4.5 {
				t.Errorf("%s theme: %s has a contrast of %.2f:1, want at least 4.5:1", scheme, sel, ratio)
			}
		}
	}
	light := evalJS[string](alice, `getComputedStyle(document.body).backgroundColor`)
	alice.do("light", emulateColorScheme("light"))
	if dark := evalJS[string](alice, `getComputedStyle(document.body).backgroundColor`); dark == light {
		t.Errorf("the dark theme has the light background %s", dark)
	}

	// A phone: the conversation fills the screen; the list opens from ☰.
	alice.do("phone", chromedp.EmulateViewport(390, 780))
	if vis := evalJS[bool](alice, `document.getElementById('sidebar').getClientRects().length > 0`); vis {
		t.Error("the sidebar takes room on a phone screen")
	}
	if w := evalJS[float64](alice, `document.getElementById('text').getBoundingClientRect().width`); w < 250 {
		t.Errorf("message box is %vpx wide on a phone", w)
	}
	if over := evalJS[bool](alice, `document.documentElement.scrollWidth > window.innerWidth`); over {
		t.Error("the page scrolls sideways on a phone")
	}
	alice.do("open the list", chromedp.Focus(chromedp.CSS("#menu")), chromedp.KeyEvent("\r"))
	alice.waitJS(`document.getElementById('sidebar').getClientRects().length > 0 && document.getElementById('menu').getAttribute('aria-expanded') === 'true'`, "sidebar opened")
	alice.do("pick bob", chromedp.Focus(chromedp.CSS(`button.conv[data-key="@bob"]`)), chromedp.KeyEvent("\r"))
	alice.waitJS(`document.getElementById('conv-title').textContent === 'bob' && document.getElementById('sidebar').getClientRects().length === 0`, "PM in view, list closed")
	checkClean(t, alice, bob)
}

func jsonArray(ss []string) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = jsString(s)
	}
	return "[" + strings.Join(parts, ",") + "]"
}
