// store.js — what the page knows: conversations, their messages, unread
// counts, presence and who is typing. No DOM, no sockets: the store is fed
// server envelopes and answers questions, so its rules are testable alone.

import { nameKey, sameName } from './protocol.js';

/** TYPING_STALE_MS drops an indicator whose "stopped" never came (the server's own expiry is 6 s). */
export const TYPING_STALE_MS = 10000;

/** roomKey and pmKey name conversations: rooms and private ones never collide. */
export const roomKey = (room) => `#${room}`;
export const pmKey = (peer) => `@${nameKey(peer)}`;

/** insertSorted puts item into items (sorted by id) unless its id is there; it reports whether it did. */
export function insertSorted(items, item) {
  let lo = 0;
  let hi = items.length;
  // Events mostly arrive in order: check the end first.
  if (hi > 0 && items[hi - 1].id < item.id) {
    items.push(item);
    return true;
  }
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (items[mid].id < item.id) lo = mid + 1;
    else hi = mid;
  }
  if (lo < items.length && items[lo].id === item.id) return false;
  items.splice(lo, 0, item);
  return true;
}

/**
 * ChatStore holds every conversation the page shows. apply(env) folds one
 * server envelope in and returns what changed, for the renderer:
 *   { keys: Set of conversation keys touched, added: [items new to the page],
 *     lists: true when the room or PM lists changed, typing: Set of keys }
 */
export class ChatStore {
  constructor({ now = () => Date.now() } = {}) {
    this.now = now;
    this.me = '';
    this.limits = null;
    this.server = null;
    this.convs = new Map(); // key → conversation
    this.current = '';
    this.seq = 0; // local ids for notices, which have no server id
  }

  /** conv returns the conversation for key, creating it when asked. */
  conv(key, create) {
    let c = this.convs.get(key);
    if (!c && create) {
      c = {
        key,
        kind: key[0] === '#' ? 'room' : 'pm',
        name: create.name,
        items: [],
        unread: 0,
        users: [],
        typing: new Map(), // nameKey → {name, until}
        joined: false,
        lastId: '',
      };
      this.convs.set(key, c);
    }
    return c;
  }

  /** rooms and pms list conversations in the order they were opened. */
  rooms() {
    return [...this.convs.values()].filter((c) => c.kind === 'room');
  }

  pms() {
    return [...this.convs.values()].filter((c) => c.kind === 'pm');
  }

  /** joins is what a (re)connect must join: every room with the last id seen there. */
  joins() {
    return this.rooms().map((c) => ({ room: c.name, since: c.lastId || undefined }));
  }

  /** isMe compares a name with ours, as the server does. */
  isMe(name) {
    return this.me !== '' && sameName(name, this.me);
  }

  /** openRoom adds a room the person asked to join (shown at once, filled by the server). */
  openRoom(room) {
    return this.conv(roomKey(room), { name: room });
  }

  /** openPM adds (or finds) the private conversation with peer. */
  openPM(peer) {
    return this.conv(pmKey(peer), { name: peer });
  }

  /** select makes key the conversation in view and clears its unread count. */
  select(key) {
    const c = this.convs.get(key);
    if (!c) return false;
    this.current = key;
    c.unread = 0;
    return true;
  }

  /** remove forgets a conversation (after leaving a room, or closing a PM). */
  remove(key) {
    this.convs.delete(key);
    if (this.current === key) {
      const next = this.rooms()[0] || this.pms()[0];
      this.current = next ? next.key : '';
      if (next) next.unread = 0;
    }
  }

  /** notice adds a local line (an error the server sent, a hint) to a conversation. */
  notice(key, text, level = 'info') {
    const c = this.convs.get(key);
    if (!c) return null;
    // Local lines sort after every server id seen so far in this conversation.
    const last = c.items.length ? c.items[c.items.length - 1].id : '0'.repeat(26);
    const item = { id: `${last}~${String(++this.seq).padStart(6, '0')}`, kind: 'notice', level, text, ts: new Date(this.now()).toISOString() };
    insertSorted(c.items, item);
    return item;
  }

  /** clearTyping drops every indicator: after a disconnect nothing said "stopped". */
  clearTyping() {
    const keys = new Set();
    for (const c of this.convs.values()) {
      if (c.typing.size) keys.add(c.key);
      c.typing.clear();
    }
    return keys;
  }

  /** typers lists who is typing in key now, in the order they started. */
  typers(key) {
    const c = this.convs.get(key);
    if (!c) return [];
    const now = this.now();
    const out = [];
    for (const [k, t] of c.typing) {
      if (t.until <= now) c.typing.delete(k);
      else out.push(t.name);
    }
    return out;
  }

  /** nextTypingExpiry is when the next indicator goes stale (0: none). */
  nextTypingExpiry() {
    let next = 0;
    for (const c of this.convs.values()) {
      for (const t of c.typing.values()) if (next === 0 || t.until < next) next = t.until;
    }
    return next;
  }

  apply(env) {
    const ch = { keys: new Set(), added: [], lists: false, typing: new Set() };
    switch (env.type) {
      case 'welcome':
        this.me = env.name;
        this.limits = env.limits || null;
        this.server = env.server || null;
        break;
      case 'presence': {
        const c = this.conv(roomKey(env.room), { name: env.room });
        c.users = sortNames(env.users || []);
        c.joined = true;
        ch.keys.add(c.key);
        ch.lists = true;
        break;
      }
      case 'chat': {
        const c = this.conv(roomKey(env.room), { name: env.room });
        this.addItem(c, { id: env.id, kind: 'chat', from: env.from, text: env.text, ts: env.ts, replay: !!env.replay }, ch);
        this.stopTyping(c, env.from, ch);
        break;
      }
      case 'pm': {
        const peer = this.isMe(env.from) ? env.to : env.from;
        const c = this.conv(pmKey(peer), { name: peer });
        if (!this.isMe(env.from)) c.name = env.from; // the spelling given at join
        this.addItem(c, { id: env.id, kind: 'pm', from: env.from, text: env.text, ts: env.ts }, ch);
        this.stopTyping(c, env.from, ch);
        ch.lists = true;
        break;
      }
      case 'join': {
        const c = this.conv(roomKey(env.room), { name: env.room });
        if (this.isMe(env.from)) c.joined = true;
        if (!c.users.some((u) => sameName(u, env.from))) c.users = sortNames([...c.users, env.from]);
        this.addItem(c, { id: env.id, kind: 'join', from: env.from, ts: env.ts }, ch, false);
        ch.lists = true;
        break;
      }
      case 'leave': {
        const key = roomKey(env.room);
        const c = this.convs.get(key);
        if (!c) break;
        if (this.isMe(env.from)) {
          this.remove(key);
          ch.keys.add(key);
          ch.lists = true;
          break;
        }
        c.users = c.users.filter((u) => !sameName(u, env.from));
        this.addItem(c, { id: env.id, kind: 'leave', from: env.from, reason: env.reason, ts: env.ts }, ch, false);
        this.stopTyping(c, env.from, ch);
        ch.lists = true;
        break;
      }
      case 'typing': {
        if (this.isMe(env.from)) break; // never sent to us, but harmless if it were
        let c;
        if (typeof env.room === 'string') c = this.convs.get(roomKey(env.room));
        else c = env.active ? this.openPM(env.from) : this.convs.get(pmKey(env.from));
        if (!c) break;
        if (env.active) {
          // A refresh only extends the expiry; the order stays "who started first".
          c.typing.set(nameKey(env.from), { name: env.from, until: this.now() + TYPING_STALE_MS });
          ch.typing.add(c.key);
          if (c.kind === 'pm') ch.lists = true;
        } else {
          this.stopTyping(c, env.from, ch);
        }
        break;
      }
      default:
        // Unknown types are ignored: the server may add them.
        break;
    }
    return ch;
  }

  addItem(c, item, ch, counts = true) {
    if (typeof item.id !== 'string' || item.id === '') return;
    if (item.id > c.lastId) c.lastId = item.id;
    if (!insertSorted(c.items, item)) return; // a replay of what we already show
    item.own = !!item.from && this.isMe(item.from);
    ch.keys.add(c.key);
    ch.added.push({ key: c.key, item });
    if (counts && !item.own && c.key !== this.current) {
      c.unread++;
      ch.lists = true;
    }
  }

  stopTyping(c, from, ch) {
    if (c.typing.delete(nameKey(from))) ch.typing.add(c.key);
  }
}

/** typingLine is the sentence shown under the messages, or '' when nobody types. */
export function typingLine(names) {
  switch (names.length) {
    case 0: return '';
    case 1: return `${names[0]} is typing…`;
    case 2: return `${names[0]} and ${names[1]} are typing…`;
    case 3: return `${names[0]}, ${names[1]} and ${names[2]} are typing…`;
    default: return `${names.length} people are typing…`;
  }
}

function sortNames(names) {
  return [...names].sort((a, b) => {
    const ka = nameKey(a);
    const kb = nameKey(b);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
}
