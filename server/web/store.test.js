// Unit tests for store.js, run by `node --test` (see js_test.go).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChatStore, insertSorted, typingLine, roomKey, pmKey, TYPING_STALE_MS } from './store.js';

const ts = '2026-11-24T18:04:05.123Z';
const chat = (id, from, text, extra = {}) => ({ type: 'chat', id, ts, room: 'lobby', from, text, ...extra });

function joined(name = 'alice') {
  let t = 0;
  const s = new ChatStore({ now: () => t });
  s.setNow = (v) => { t = v; };
  s.apply({ type: 'welcome', name, limits: { max_text_chars: 4000 } });
  s.apply({ type: 'presence', room: 'lobby', users: ['bob', name] });
  s.select(roomKey('lobby'));
  return s;
}

test('insertSorted keeps ids sorted and refuses duplicates', () => {
  const cases = [
    { start: [], add: 'B', want: ['B'], ok: true },
    { start: ['A', 'C'], add: 'B', want: ['A', 'B', 'C'], ok: true },
    { start: ['B', 'C'], add: 'A', want: ['A', 'B', 'C'], ok: true },
    { start: ['A', 'B'], add: 'C', want: ['A', 'B', 'C'], ok: true },
    { start: ['A', 'B', 'C'], add: 'B', want: ['A', 'B', 'C'], ok: false },
    { start: ['A', 'B', 'C'], add: 'C', want: ['A', 'B', 'C'], ok: false },
  ];
  for (const tc of cases) {
    const items = tc.start.map((id) => ({ id }));
    assert.equal(insertSorted(items, { id: tc.add }), tc.ok);
    assert.deepEqual(items.map((i) => i.id), tc.want);
  }
});

test('history replay lands in place without duplicates; lastId tracks the newest id', () => {
  const s = joined();
  s.apply(chat('01B', 'bob', 'two'));
  s.apply(chat('01D', 'bob', 'four'));
  // A reconnect replays from since: one already shown, one missed in between, one new.
  const ch1 = s.apply(chat('01B', 'bob', 'two', { replay: true }));
  const ch2 = s.apply(chat('01C', 'bob', 'three', { replay: true }));
  s.apply(chat('01A', 'bob', 'one', { replay: true }));
  s.apply(chat('01E', 'alice', 'five'));
  const c = s.convs.get(roomKey('lobby'));
  assert.deepEqual(c.items.map((i) => i.text), ['one', 'two', 'three', 'four', 'five']);
  assert.equal(ch1.added.length, 0, 'a duplicate adds nothing');
  assert.equal(ch2.added.length, 1);
  assert.equal(c.lastId, '01E');
  assert.deepEqual(s.joins(), [{ room: 'lobby', since: '01E' }]);
  assert.equal(c.items[4].own, true);
  assert.equal(c.items[0].own, false);
});

test('unread counts only others’ new messages outside the conversation in view', () => {
  const s = joined();
  s.apply({ type: 'presence', room: 'dev', users: ['alice'] });
  s.apply(chat('01A', 'bob', 'in view'));
  s.apply({ ...chat('01B', 'bob', 'elsewhere'), room: 'dev' });
  s.apply({ ...chat('01C', 'alice', 'mine'), room: 'dev' });
  s.apply({ ...chat('01B', 'bob', 'elsewhere'), room: 'dev', replay: true });
  s.apply({ type: 'pm', id: '01D', ts, from: 'Bob', to: 'alice', text: 'psst' });
  assert.equal(s.convs.get(roomKey('lobby')).unread, 0);
  assert.equal(s.convs.get(roomKey('dev')).unread, 1);
  assert.equal(s.convs.get(pmKey('bob')).unread, 1);
  assert.equal(s.convs.get(pmKey('bob')).name, 'Bob');
  s.select(pmKey('BOB'));
  assert.equal(s.convs.get(pmKey('bob')).unread, 0);
});

test('private messages land in the peer’s conversation whoever sent them', () => {
  const s = joined();
  s.apply({ type: 'pm', id: '01A', ts, from: 'alice', to: 'bob', text: 'hi', ref: 'r3' });
  s.apply({ type: 'pm', id: '01B', ts, from: 'bob', to: 'alice', text: 'hey' });
  const c = s.convs.get(pmKey('bob'));
  assert.deepEqual(c.items.map((i) => [i.from, i.own]), [['alice', true], ['bob', false]]);
});

test('presence follows presence, join and leave events; leaving ourselves removes the room', () => {
  const s = joined();
  s.apply({ type: 'join', id: '01A', ts, room: 'lobby', from: 'carol' });
  s.apply({ type: 'join', id: '01A', ts, room: 'lobby', from: 'carol' });
  assert.deepEqual(s.convs.get(roomKey('lobby')).users, ['alice', 'bob', 'carol']);
  s.apply({ type: 'leave', id: '01B', ts, room: 'lobby', from: 'bob', reason: 'disconnected' });
  assert.deepEqual(s.convs.get(roomKey('lobby')).users, ['alice', 'carol']);
  assert.deepEqual(s.convs.get(roomKey('lobby')).items.map((i) => i.kind), ['join', 'leave']);
  s.apply({ type: 'presence', room: 'dev', users: ['alice'] });
  s.apply({ type: 'leave', id: '01C', ts, room: 'lobby', from: 'ALICE', reason: 'left' });
  assert.equal(s.convs.has(roomKey('lobby')), false);
  assert.equal(s.current, roomKey('dev'));
});

test('typing: set, refreshed, cleared by active:false, by a message, by leave, and by going stale', () => {
  const s = joined();
  const typing = (from, active, extra = { room: 'lobby' }) => s.apply({ type: 'typing', ts, from, active, ...extra });
  typing('bob', true);
  typing('carol', true);
  assert.equal(typingLine(s.typers(roomKey('lobby'))), 'bob and carol are typing…');
  typing('bob', true); // a refresh keeps the order
  assert.deepEqual(s.typers(roomKey('lobby')), ['bob', 'carol']);
  typing('carol', false);
  assert.equal(typingLine(s.typers(roomKey('lobby'))), 'bob is typing…');
  s.apply(chat('01A', 'bob', 'done'));
  assert.deepEqual(s.typers(roomKey('lobby')), []);

  typing('bob', true, { to: 'alice' });
  assert.deepEqual(s.typers(pmKey('bob')), ['bob'], 'typing to us opens the PM conversation');
  s.setNow(TYPING_STALE_MS + 1);
  assert.deepEqual(s.typers(pmKey('bob')), [], 'an indicator whose stop never came goes stale');

  typing('dave', true);
  s.apply({ type: 'leave', id: '01B', ts, room: 'lobby', from: 'dave', reason: 'left' });
  assert.deepEqual(s.typers(roomKey('lobby')), []);
  typing('dave', true);
  assert.equal(s.clearTyping().size, 1);
  assert.deepEqual(s.typers(roomKey('lobby')), []);
});

test('typingLine phrases', () => {
  const cases = [
    [[], ''],
    [['alice'], 'alice is typing…'],
    [['alice', 'bob'], 'alice and bob are typing…'],
    [['a', 'b', 'c'], 'a, b and c are typing…'],
    [['a', 'b', 'c', 'd'], '4 people are typing…'],
  ];
  for (const [names, want] of cases) assert.equal(typingLine(names), want);
});

test('notices sort after what was seen and before what comes next', () => {
  const s = joined();
  s.apply(chat('01JD000000000000000000000A', 'bob', 'one'));
  s.notice(roomKey('lobby'), 'hello', 'error');
  s.apply(chat('01JD000000000000000000000B', 'bob', 'two'));
  assert.deepEqual(s.convs.get(roomKey('lobby')).items.map((i) => i.text), ['one', 'hello', 'two']);
  s.openPM('zed');
  s.notice(pmKey('zed'), 'first');
  s.apply({ type: 'pm', id: '01JD000000000000000000000C', ts, from: 'zed', to: 'alice', text: 'later' });
  assert.deepEqual(s.convs.get(pmKey('zed')).items.map((i) => i.text), ['first', 'later']);
});

test('unknown envelope types change nothing', () => {
  const s = joined();
  const ch = s.apply({ type: 'future', room: 'lobby' });
  assert.equal(ch.keys.size + ch.added.length, 0);
});
