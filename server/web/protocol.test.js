// Unit tests for protocol.js, run by `node --test` (see js_test.go).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Connection, State, backoffDelay, codePoints, isBlank, nameKey, wsURL, NAME_RE, ROOM_RE,
} from './protocol.js';

// FakeClock runs timers when the test advances time.
class FakeClock {
  constructor() { this.t = 1000; this.timers = []; this.seq = 0; }
  now() { return this.t; }
  setTimeout(f, ms) { const id = ++this.seq; this.timers.push({ id, at: this.t + ms, f }); return id; }
  clearTimeout(id) { this.timers = this.timers.filter((x) => x.id !== id); }
  advance(ms) {
    this.t += ms;
    for (;;) {
      const due = this.timers.filter((x) => x.at <= this.t).sort((a, b) => a.at - b.at)[0];
      if (!due) return;
      this.timers = this.timers.filter((x) => x !== due);
      due.f();
    }
  }
}

// FakeSocket records what the page sends and lets the test play the server.
function socketFactory() {
  const sockets = [];
  class FakeSocket {
    constructor(url, protocols) {
      this.url = url;
      this.protocols = protocols;
      this.readyState = 0;
      this.sent = [];
      sockets.push(this);
    }
    send(s) { this.sent.push(JSON.parse(s)); }
    close(code, reason) { this.closed = { code, reason }; this.readyState = 3; }
    // Test side:
    open() { this.readyState = 1; this.onopen && this.onopen({}); }
    recv(env) { this.onmessage && this.onmessage({ data: JSON.stringify(env) }); }
    drop(code = 1006, reason = '') { this.readyState = 3; this.onclose && this.onclose({ code, reason }); }
  }
  return { sockets, FakeSocket };
}

function welcome(name) {
  return { type: 'welcome', name, session: '01JD0000000000000000000000', server: { name: 'chatd', version: '0' }, limits: { max_text_chars: 4000 }, ts: '2026-11-24T18:04:05.120Z' };
}

test('validation helpers follow the protocol', () => {
  const cases = [
    [NAME_RE.test('alice'), true],
    [NAME_RE.test('Al.ice_-9'), true],
    [NAME_RE.test('_alice'), false],
    [NAME_RE.test('a'.repeat(32)), true],
    [NAME_RE.test('a'.repeat(33)), false],
    [NAME_RE.test('élise'), false],
    [ROOM_RE.test('lobby'), true],
    [ROOM_RE.test('Lobby'), false],
    [ROOM_RE.test('dev-ops_2'), true],
    [ROOM_RE.test('-x'), false],
    [ROOM_RE.test('r'.repeat(65)), false],
    [codePoints('héllo'), 5],
    [codePoints('😀😀'), 2], // 4 UTF-16 units, 2 code points
    [codePoints('a\ud800b'), 3], // a lone surrogate counts once
    [codePoints(''), 0],
    [isBlank(' \t\n\u00a0\u3000'), true],
    [isBlank('\u0085'), true],
    [isBlank('\ufeff'), false], // not White_Space for the server
    [isBlank(' x '), false],
    [nameKey('AlIce'), 'alice'],
    [wsURL({ protocol: 'http:', host: '127.0.0.1:8000' }), 'ws://127.0.0.1:8000/ws'],
    [wsURL({ protocol: 'https:', host: 'chat.example' }), 'wss://chat.example/ws'],
  ];
  cases.forEach(([got, want], i) => assert.equal(got, want, `case ${i}`));
});

test('backoff grows exponentially, is capped, and keeps half of it as a floor', () => {
  const opts = { base: 500, max: 8000 };
  const table = [
    // attempt, random, want
    [0, 0, 250], [0, 1, 500], [1, 0, 500], [1, 1, 1000], [3, 0.5, 3000], [4, 1, 8000], [10, 0, 4000], [50, 1, 8000],
  ];
  for (const [attempt, r, want] of table) {
    assert.equal(backoffDelay(attempt, opts, () => r), want, `attempt ${attempt} random ${r}`);
  }
});

test('connect: joins with the name and the chat.v1 subprotocol, then the other rooms after welcome', () => {
  const { sockets, FakeSocket } = socketFactory();
  const states = [];
  const c = new Connection({
    url: 'ws://h/ws', name: 'alice', WebSocket: FakeSocket, clock: new FakeClock(),
    joins: () => [{ room: 'lobby', since: '01A' }, { room: 'dev' }],
  });
  c.on('state', (s) => states.push(s.state));
  c.start();
  assert.equal(sockets.length, 1);
  assert.deepEqual(sockets[0].protocols, ['chat.v1']);
  sockets[0].open();
  assert.deepEqual(sockets[0].sent, [{ type: 'join', name: 'alice', room: 'lobby', since: '01A', ref: 'r1' }]);
  sockets[0].recv(welcome('alice'));
  assert.deepEqual(sockets[0].sent[1], { type: 'join', room: 'dev', ref: 'r2' });
  assert.deepEqual(states, [State.CONNECTING, State.JOINING, State.ONLINE]);
  assert.equal(c.online, true);
});

test('reconnect: backoff after a drop, rejoin every room with since, reset after welcome', () => {
  const { sockets, FakeSocket } = socketFactory();
  const clock = new FakeClock();
  let joins = [{ room: 'lobby' }];
  const c = new Connection({
    url: 'ws://h/ws', name: 'alice', WebSocket: FakeSocket, clock, random: () => 0,
    joins: () => joins, backoff: { base: 1000, max: 4000 },
  });
  const states = [];
  c.on('state', (s) => states.push(s.state));
  c.start();
  sockets[0].open();
  sockets[0].recv(welcome('alice'));
  joins = [{ room: 'lobby', since: '01B' }, { room: 'dev', since: '01C' }];
  sockets[0].drop(1001, 'shutdown');
  assert.equal(c.state, State.WAITING);
  clock.advance(499);
  assert.equal(sockets.length, 1, 'no retry before the backoff');
  clock.advance(1);
  assert.equal(sockets.length, 2);
  sockets[1].drop(1006); // server still down: the next wait doubles
  clock.advance(999);
  assert.equal(sockets.length, 2);
  clock.advance(1);
  assert.equal(sockets.length, 3);
  sockets[2].open();
  assert.deepEqual(sockets[2].sent, [{ type: 'join', name: 'alice', room: 'lobby', since: '01B', ref: sockets[2].sent[0].ref }]);
  sockets[2].recv(welcome('alice'));
  assert.equal(sockets[2].sent[1].room, 'dev');
  assert.equal(sockets[2].sent[1].since, '01C');
  assert.equal(c.attempt, 0, 'a welcome resets the backoff');
  sockets[2].drop(1006);
  clock.advance(500);
  assert.equal(sockets.length, 4, 'after a welcome the first wait is short again');
});

test('name refused: stop and tell the page, unless it is our own lingering session', () => {
  const cases = [
    { name: 'taken on first connect', welcomedBefore: false, code: 'name_taken', rejected: true },
    { name: 'invalid name', welcomedBefore: false, code: 'invalid_message', details: [{ field: 'name', problem: 'x' }], rejected: true },
    { name: 'taken after a drop (old session not yet gone)', welcomedBefore: true, code: 'name_taken', rejected: false },
  ];
  for (const tc of cases) {
    const { sockets, FakeSocket } = socketFactory();
    const clock = new FakeClock();
    const c = new Connection({ url: 'ws://h/ws', name: 'alice', WebSocket: FakeSocket, clock, random: () => 0 });
    const rejected = [];
    c.on('rejected', (r) => rejected.push(r));
    c.start();
    if (tc.welcomedBefore) {
      sockets[0].open();
      sockets[0].recv(welcome('alice'));
      sockets[0].drop(1006);
      clock.advance(250);
    }
    const s = sockets[sockets.length - 1];
    s.open();
    s.recv({ type: 'error', code: tc.code, message: 'no', ref: s.sent[0].ref, details: tc.details });
    assert.equal(rejected.length > 0, tc.rejected, tc.name);
    if (tc.rejected) {
      assert.equal(c.state, State.STOPPED, tc.name);
      clock.advance(60000);
      assert.equal(sockets.length, tc.welcomedBefore ? 2 : 1, `${tc.name}: no reconnect`);
    } else {
      assert.equal(c.state, State.WAITING, tc.name);
    }
  }
});

test('errors are tied to the request that caused them by ref', () => {
  const { sockets, FakeSocket } = socketFactory();
  const c = new Connection({ url: 'ws://h/ws', name: 'bob', WebSocket: FakeSocket, clock: new FakeClock() });
  const failed = [];
  c.on('failed', (f) => failed.push(f));
  c.start();
  sockets[0].open();
  sockets[0].recv(welcome('bob'));
  const ref = c.request({ type: 'pm', to: 'carol', text: 'hi' });
  sockets[0].recv({ type: 'error', code: 'unknown_user', message: 'carol is not connected', ref });
  assert.equal(failed.length, 1);
  assert.deepEqual(failed[0].request, { type: 'pm', to: 'carol', text: 'hi', ref });
  assert.equal(c.pending.has(ref), false, "an answered request is forgotten");
});

test('a close with 1000 bye ends the session; stop() prevents any reconnect', () => {
  const { sockets, FakeSocket } = socketFactory();
  const clock = new FakeClock();
  const c = new Connection({ url: 'ws://h/ws', name: 'bob', WebSocket: FakeSocket, clock });
  c.start();
  sockets[0].open();
  sockets[0].drop(1000, 'bye');
  assert.equal(c.state, State.STOPPED);
  clock.advance(60000);
  assert.equal(sockets.length, 1);
  c.start();
  sockets[1].open();
  c.stop();
  assert.equal(sockets[1].closed.code, 1000);
  clock.advance(60000);
  assert.equal(sockets.length, 2);
});

test('ignores what it cannot read and envelopes of unknown types pass through', () => {
  const { sockets, FakeSocket } = socketFactory();
  const c = new Connection({ url: 'ws://h/ws', name: 'bob', WebSocket: FakeSocket, clock: new FakeClock() });
  const got = [];
  c.on('envelope', (e) => got.push(e.type));
  c.start();
  sockets[0].open();
  sockets[0].onmessage({ data: 'not json' });
  sockets[0].onmessage({ data: '[1,2]' });
  sockets[0].recv({ type: 'future_thing', x: 1 });
  assert.deepEqual(got, ['future_thing']);
});
