// Unit tests for typing.js, run by `node --test` (see js_test.go).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TypingSender } from './typing.js';

class FakeClock {
  constructor() { this.t = 0; this.timers = []; this.seq = 0; }
  now() { return this.t; }
  setTimeout(f, ms) { const id = ++this.seq; this.timers.push({ id, at: this.t + ms, f }); return id; }
  clearTimeout(id) { this.timers = this.timers.filter((x) => x.id !== id); }
  advance(ms) {
    const end = this.t + ms;
    for (;;) {
      const due = this.timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.t = due.at;
      this.timers = this.timers.filter((x) => x !== due);
      due.f();
    }
    this.t = end;
  }
}

function sender() {
  const clock = new FakeClock();
  const sent = [];
  const t = new TypingSender({ clock, send: (target, active) => { sent.push({ ...target, active, at: clock.t }); return true; } });
  return { clock, sent, t };
}

test('keystrokes send active:true once, then refresh every 3 s while typing continues', () => {
  const { clock, sent, t } = sender();
  const lobby = { room: 'lobby' };
  for (let i = 0; i < 8; i++) { // a keystroke every second for 8 s
    t.input(lobby, true);
    clock.advance(1000);
  }
  assert.deepEqual(sent.map((s) => [s.at, s.active]), [[0, true], [3000, true], [6000, true]]);
});

test('5 s without a keystroke sends active:false, once', () => {
  const { clock, sent, t } = sender();
  t.input({ to: 'bob' }, true);
  clock.advance(4999);
  assert.equal(sent.length, 1);
  clock.advance(1);
  assert.deepEqual(sent[1], { to: 'bob', active: false, at: 5000 });
  clock.advance(60000);
  assert.equal(sent.length, 2);
});

test('clearing the input stops at once; sending stops without a message', () => {
  const { clock, sent, t } = sender();
  t.input({ room: 'lobby' }, true);
  t.input({ room: 'lobby' }, false);
  assert.deepEqual(sent.map((s) => s.active), [true, false]);
  clock.advance(3000);
  t.input({ room: 'lobby' }, true);
  t.sent();
  clock.advance(10000);
  assert.deepEqual(sent.map((s) => s.active), [true, false, true], 'the server ends it on the message itself');
  t.input({ room: 'lobby' }, true);
  assert.equal(sent.length, 4, 'typing again long after a send starts a new indicator at once');
});

test('a start within 2 s of the previous one waits for the server to relay it', () => {
  const { clock, sent, t } = sender();
  t.input({ room: 'lobby' }, true); // t=0: relayed
  clock.advance(500);
  t.sent(); // the message ended the indicator
  clock.advance(500);
  t.input({ room: 'lobby' }, true); // t=1000: the server would drop it
  assert.equal(sent.length, 1);
  clock.advance(1099);
  assert.equal(sent.length, 1);
  clock.advance(1); // t=2100
  assert.deepEqual(sent[1], { room: 'lobby', active: true, at: 2100 });

  // Held back and then given up: nothing goes out.
  clock.advance(400);
  t.sent();
  t.input({ room: 'lobby' }, true);
  t.input({ room: 'lobby' }, false);
  clock.advance(10000);
  assert.equal(sent.length, 2);

  // Another target has its own window.
  t.input({ room: 'lobby' }, true);
  t.input({ to: 'bob' }, true);
  assert.deepEqual(sent.slice(2).map(({ room, to, active }) => [room, to, active]), [
    ['lobby', undefined, true], ['lobby', undefined, false], [undefined, 'bob', true],
  ]);
});

test('switching target stops the old one first', () => {
  const { sent, t } = sender();
  t.input({ room: 'lobby' }, true);
  t.input({ to: 'bob' }, true);
  assert.deepEqual(sent.map(({ room, to, active }) => [room, to, active]), [
    ['lobby', undefined, true], ['lobby', undefined, false], [undefined, 'bob', true],
  ]);
});

test('when the socket cannot send, nothing is remembered as sent', () => {
  const clock = new FakeClock();
  let up = false;
  const sent = [];
  const t = new TypingSender({ clock, send: (target, active) => { if (up) sent.push(active); return up; } });
  t.input({ room: 'lobby' }, true);
  up = true;
  t.input({ room: 'lobby' }, true);
  assert.deepEqual(sent, [true]);
});
