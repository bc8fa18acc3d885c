// ui.js — rendering the store into the page.
//
// Every piece of text from the network goes into the DOM through
// textContent or attribute setters, never parsed as HTML: a message that reads
// <img src=x onerror=alert(1)> is shown as those characters.

import { nameKey } from './protocol.js';
import { typingLine } from './store.js';

const GROUP_MS = 5 * 60 * 1000; // consecutive messages closer than this share one header
const NEAR_BOTTOM_PX = 48;

/** el builds an element with attributes and children (strings become text nodes). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

/**
 * hue gives every name a stable colour, so a sender is recognised at a
 * glance. Twelve hues 150° apart in index order keep similar hashes apart.
 */
export function hue(name) {
  let h = 2166136261; // FNV-1a
  for (const ch of nameKey(name)) {
    h ^= ch.codePointAt(0);
    h = Math.imul(h, 16777619) >>> 0;
  }
  return ((h % 12) * 150) % 360;
}

function parseTS(ts) {
  const d = new Date(ts);
  return Number.isNaN(d.getTime()) ? new Date() : d;
}

function timeText(d) {
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

function dayText(d) {
  const today = new Date();
  const yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
  if (d.toDateString() === today.toDateString()) return 'Today';
  if (d.toDateString() === yesterday.toDateString()) return 'Yesterday';
  return d.toLocaleDateString([], { weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' });
}

function isMessage(item) {
  return item.kind === 'chat' || item.kind === 'pm';
}

/** groupedWith reports whether item continues prev's group (same sender, close in time, same day). */
export function groupedWith(prev, item) {
  if (!prev || !isMessage(prev) || !isMessage(item)) return false;
  if (nameKey(prev.from) !== nameKey(item.from)) return false;
  const a = parseTS(prev.ts);
  const b = parseTS(item.ts);
  return b - a < GROUP_MS && a.toDateString() === b.toDateString();
}

function leaveText(item) {
  switch (item.reason) {
    case 'timeout': return `${item.from} timed out`;
    case 'disconnected': return `${item.from} disconnected`;
    default: return `${item.from} left`;
  }
}

/**
 * View owns the page's elements. It renders from the store on request;
 * app.js decides when.
 */
export class View {
  constructor(root, store) {
    this.store = store;
    const $ = (id) => root.getElementById(id);
    this.e = {
      app: $('app'),
      status: $('status'),
      statusText: $('status-text'),
      retry: $('retry'),
      me: $('me'),
      roomList: $('room-list'),
      pmList: $('pm-list'),
      pmEmpty: $('pm-empty'),
      convTitle: $('conv-title'),
      convSub: $('conv-sub'),
      leave: $('leave'),
      scroller: $('messages'),
      list: $('message-list'),
      empty: $('messages-empty'),
      jump: $('jump'),
      typing: $('typing'),
      text: $('text'),
      textLabel: $('text-label'),
      counter: $('counter'),
      send: $('send'),
      notice: $('notice'),
      people: $('people-list'),
      peopleCount: $('people-count'),
      peoplePanel: $('people'),
      announcer: $('announcer'),
    };
    this.nodes = new Map(); // conversation key → Map(id → <li>)
    // The lists are updated in place, never rebuilt: a click whose
    // mousedown and mouseup straddle an update must still land.
    this.roomNodes = new Map(); // conversation key → <li>
    this.pmNodes = new Map();
    this.peopleNodes = new Map(); // name key → <li>
    this.onOpenPM = null;
    this.shownKey = null;
    this.noticeTimer = null;
    this.e.scroller.addEventListener('scroll', () => {
      if (this.nearBottom()) this.e.jump.hidden = true;
    });
    this.e.jump.addEventListener('click', () => this.scrollToBottom(true));
  }

  nearBottom() {
    const s = this.e.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight <= NEAR_BOTTOM_PX;
  }

  scrollToBottom(focusText) {
    this.e.scroller.scrollTop = this.e.scroller.scrollHeight;
    this.e.jump.hidden = true;
    if (focusText) this.e.text.focus();
  }

  /** status shows the connection state in words (and a retry button while waiting). */
  status(state, detail) {
    this.e.status.dataset.state = state;
    this.e.statusText.textContent = detail;
    this.e.retry.hidden = state !== 'waiting';
    this.e.app.dataset.online = state === 'online' ? 'true' : 'false';
  }

  /** lists renders the rooms and PM conversations with their unread counts. */
  lists() {
    const s = this.store;
    this.e.me.textContent = s.me;
    renderConvList(this.e.roomList, this.roomNodes, s.rooms(), s.current, (c) => `#${c.name}`, () => false);
    const pms = s.pms();
    renderConvList(this.e.pmList, this.pmNodes, pms, s.current, (c) => c.name, (c) => s.typers(c.key).length > 0);
    this.e.pmEmpty.hidden = pms.length > 0;
    const unread = [...s.convs.values()].reduce((n, c) => n + c.unread, 0);
    document.title = unread > 0 ? `(${unread}) chatd` : 'chatd';
  }

  /** header renders the title of the conversation in view and the composer's label. */
  header() {
    const c = this.store.convs.get(this.store.current);
    if (!c) {
      this.e.convTitle.textContent = 'No conversation';
      this.e.convSub.textContent = 'Join a room to start.';
      this.e.leave.hidden = true;
      this.e.textLabel.textContent = 'Message';
      this.e.text.placeholder = '';
      return;
    }
    const title = c.kind === 'room' ? `#${c.name}` : c.name;
    this.e.convTitle.textContent = title;
    this.e.convSub.textContent = c.kind === 'room'
      ? (c.joined ? `${c.users.length} ${c.users.length === 1 ? 'person' : 'people'} here` : 'joining…')
      : 'private conversation';
    this.e.leave.hidden = false;
    this.e.leave.textContent = c.kind === 'room' ? 'Leave room' : 'Close';
    this.e.leave.setAttribute('aria-label', c.kind === 'room' ? `Leave #${c.name}` : `Close conversation with ${c.name}`);
    this.e.textLabel.textContent = `Message ${title}`;
    this.e.text.placeholder = `Message ${title}`;
    this.e.peoplePanel.hidden = c.kind !== 'room';
    this.e.app.dataset.kind = c.kind; // a private conversation has no people column
  }

  /** people renders the presence list of the room in view; names open a PM. */
  people(onOpenPM) {
    this.onOpenPM = onOpenPM;
    const c = this.store.convs.get(this.store.current);
    const users = c && c.kind === 'room' ? c.users : [];
    this.e.peopleCount.textContent = c && c.kind === 'room' ? String(users.length) : '';
    syncList(this.e.people, this.peopleNodes, users,
      (u) => `${this.store.isMe(u) ? 'me' : 'other'}:${u}`,
      (u) => this.person(u),
      () => {});
  }

  person(u) {
    const dot = el('span', { class: 'avatar', 'aria-hidden': 'true', text: u.slice(0, 1).toUpperCase() });
    dot.style.setProperty('--hue', hue(u));
    if (this.store.isMe(u)) {
      return el('li', { class: 'person me' }, dot, el('span', { text: u }), el('span', { class: 'you', text: ' (you)' }));
    }
    const b = el('button', { type: 'button', class: 'person-btn', title: `Private message ${u}`, 'aria-label': `Private message ${u}` }, dot, el('span', { text: u }));
    b.addEventListener('click', () => this.onOpenPM && this.onOpenPM(u));
    return el('li', { class: 'person' }, b);
  }

  /** typing renders "alice is typing…" for the conversation in view. */
  typing() {
    this.e.typing.textContent = typingLine(this.store.typers(this.store.current));
  }

  /**
   * messages renders the conversation in view. Nodes are kept per message
   * id and only moved or added, so a history replay lands in place and the
   * reader's scroll position survives unless they were at the bottom.
   */
  messages({ forceBottom = false } = {}) {
    const key = this.store.current;
    const c = this.store.convs.get(key);
    const list = this.e.list;
    const switched = key !== this.shownKey;
    const wasNearBottom = switched || this.nearBottom();
    if (switched) {
      list.replaceChildren();
      this.shownKey = key;
      this.e.jump.hidden = true;
      list.setAttribute('aria-label', c ? `Messages in ${c.kind === 'room' ? '#' + c.name : 'conversation with ' + c.name}` : 'Messages');
    }
    const items = c ? c.items : [];
    let nodes = this.nodes.get(key);
    if (!nodes) {
      nodes = new Map();
      this.nodes.set(key, nodes);
    }
    let cursor = list.firstChild;
    let added = 0;
    let prev = null;
    for (const item of items) {
      let node = nodes.get(item.id);
      if (!node) {
        node = this.item(item);
        nodes.set(item.id, node);
        added++;
      }
      this.decorate(node, prev, item);
      if (node === cursor) cursor = cursor.nextSibling;
      else list.insertBefore(node, cursor);
      prev = item;
    }
    while (cursor) {
      const next = cursor.nextSibling;
      cursor.remove();
      cursor = next;
    }
    this.e.empty.hidden = items.length > 0;
    if (forceBottom || wasNearBottom) this.scrollToBottom(false);
    else if (added > 0) this.e.jump.hidden = false;
  }

  /** forget drops the cached nodes of a conversation that is gone. */
  forget(key) {
    this.nodes.delete(key);
  }

  item(item) {
    const d = parseTS(item.ts);
    const time = el('time', { datetime: d.toISOString(), title: d.toLocaleString(), text: timeText(d) });
    const day = el('div', { class: 'day', role: 'separator' });
    if (item.kind === 'notice') {
      return el('li', { class: `line notice ${item.level}`, 'data-id': item.id }, day, el('span', { class: 'text', text: item.text }));
    }
    if (item.kind === 'join' || item.kind === 'leave') {
      const text = item.kind === 'join' ? `${item.from} joined` : leaveText(item);
      return el('li', { class: `line event ${item.kind}`, 'data-id': item.id }, day, el('span', { class: 'text', text }), ' ', time);
    }
    const from = el('span', { class: 'from', text: item.from });
    from.style.setProperty('--hue', hue(item.from));
    const avatar = el('span', { class: 'avatar', 'aria-hidden': 'true', text: item.from.slice(0, 1).toUpperCase() });
    avatar.style.setProperty('--hue', hue(item.from));
    const li = el('li', { class: `msg${item.own ? ' own' : ''}`, 'data-id': item.id, 'data-from': item.from },
      day,
      avatar,
      el('div', { class: 'body' },
        el('div', { class: 'meta' }, from, ' ', time),
        el('div', { class: 'text', text: item.text })));
    return li;
  }

  decorate(node, prev, item) {
    const day = node.firstChild;
    const d = parseTS(item.ts);
    const newDay = !prev || parseTS(prev.ts).toDateString() !== d.toDateString();
    node.classList.toggle('newday', newDay);
    if (newDay) day.textContent = dayText(d);
    node.classList.toggle('cont', groupedWith(prev, item));
  }

  /** counter shows how much of the text limit is used, once it matters. */
  counter(used, max) {
    const left = max - used;
    const show = used > max * 0.8;
    this.e.counter.hidden = !show;
    this.e.counter.textContent = `${used} / ${max}`;
    this.e.counter.classList.toggle('over', left < 0);
    this.e.text.setAttribute('aria-invalid', left < 0 ? 'true' : 'false');
  }

  /** notify shows a short notice under the composer (role=status, so it is read out politely). */
  notify(text, level = 'info', ms = 6000) {
    this.e.notice.textContent = text;
    this.e.notice.dataset.level = level;
    this.e.notice.hidden = false;
    clearTimeout(this.noticeTimer);
    this.noticeTimer = setTimeout(() => {
      this.e.notice.hidden = true;
      this.e.notice.textContent = '';
    }, ms);
  }

  /** announce tells screen readers about a new message without re-reading the list. */
  announce(text) {
    this.e.announcer.textContent = text;
  }
}

/**
 * syncList makes ul show one node per item, in order, reusing the node of
 * each key (make builds a missing one, update refreshes it), so nodes that
 * stay keep their identity, focus and any click in progress.
 */
function syncList(ul, cache, items, keyOf, make, update) {
  const keep = new Set();
  let cursor = ul.firstChild;
  for (const item of items) {
    const key = keyOf(item);
    keep.add(key);
    let node = cache.get(key);
    if (!node) {
      node = make(item);
      cache.set(key, node);
    }
    update(node, item);
    if (node === cursor) cursor = cursor.nextSibling;
    else ul.insertBefore(node, cursor);
  }
  while (cursor) {
    const next = cursor.nextSibling;
    cursor.remove();
    cursor = next;
  }
  for (const key of [...cache.keys()]) if (!keep.has(key)) cache.delete(key);
}

function renderConvList(ul, cache, convs, current, label, isTyping) {
  syncList(ul, cache, convs, (c) => c.key,
    (c) => el('li', {}, el('button', { type: 'button', class: 'conv', 'data-key': c.key },
      el('span', { class: 'conv-name' }),
      el('span', { class: 'dots', 'aria-label': 'typing', text: '…' }),
      el('span', { class: 'badge' }))),
    (li, c) => {
      const b = li.firstChild;
      const [name, dots, badge] = b.children;
      name.textContent = label(c);
      if (c.key === current) b.setAttribute('aria-current', 'page');
      else b.removeAttribute('aria-current');
      dots.hidden = !isTyping(c);
      badge.hidden = c.unread === 0;
      badge.textContent = c.unread > 99 ? '99+' : String(c.unread);
      badge.setAttribute('aria-label', `${c.unread} unread`);
    });
}
