// app.js — wires the connection, the store and the view to the page's controls.

import {
  Connection, State, wsURL, NAME_RE, ROOM_RE, DEFAULT_ROOM, MAX_TEXT_CHARS,
  codePoints, isBlank, sameName,
} from './protocol.js';
import { ChatStore, roomKey, pmKey } from './store.js';
import { TypingSender } from './typing.js';
import { View } from './ui.js';

const NAME_STORAGE = 'chatd.name';

const $ = (id) => document.getElementById(id);
const store = new ChatStore();
const view = new View(document, store);
const drafts = new Map(); // conversation key → unsent text
let maxChars = MAX_TEXT_CHARS;
let countdown = null;
let typingTimer = null;

const conn = new Connection({
  url: wsURL(window.location),
  joins: () => store.joins(),
  WebSocket: window.WebSocket,
});

const typing = new TypingSender({
  send: (target, active) => conn.online && conn.send({ type: 'typing', active, ...target }),
});

// ---- rendering -----------------------------------------------------------

function renderAll({ forceBottom = false } = {}) {
  view.lists();
  view.header();
  view.messages({ forceBottom });
  view.people(openPM);
  renderTyping();
}

function renderTyping() {
  view.typing();
  clearTimeout(typingTimer);
  const next = store.nextTypingExpiry();
  if (next) {
    typingTimer = setTimeout(() => {
      view.typing();
      view.lists();
      renderTyping();
    }, Math.max(50, next - Date.now() + 20));
  }
}

function targetOf(key) {
  const c = store.convs.get(key);
  if (!c) return null;
  return c.kind === 'room' ? { room: c.name } : { to: c.name };
}

function select(key) {
  if (!store.convs.has(key)) return;
  if (key !== store.current) {
    typing.stop();
    drafts.set(store.current, $('text').value);
    store.select(key);
    $('text').value = drafts.get(key) || '';
    updateComposer();
  } else {
    store.select(key);
  }
  closePanels();
  renderAll({ forceBottom: true });
}

function openPM(name) {
  if (store.isMe(name)) return;
  store.openPM(name);
  select(pmKey(name));
  $('text').focus();
}

// ---- connection ----------------------------------------------------------

const stateText = {
  [State.IDLE]: () => 'Not connected',
  [State.CONNECTING]: (s) => (s.attempt > 0 ? 'Reconnecting…' : 'Connecting…'),
  [State.JOINING]: () => 'Joining…',
  [State.ONLINE]: () => 'Connected',
  [State.STOPPED]: () => 'Disconnected',
};

conn.on('state', (s) => {
  clearInterval(countdown);
  countdown = null;
  if (s.state === State.WAITING) {
    const tick = () => {
      const secs = Math.max(0, Math.ceil((s.retryAt - Date.now()) / 1000));
      view.status(s.state, `Connection lost — retrying in ${secs} s`);
    };
    tick();
    countdown = setInterval(tick, 1000);
  } else {
    view.status(s.state, stateText[s.state](s));
  }
  if (s.state !== State.ONLINE) {
    // Whatever the old connection knew about typing died with it.
    typing.reset();
    if (store.clearTyping().size) renderTyping();
  }
  updateComposer();
});

conn.on('envelope', (env) => {
  if (env.type === 'error') return; // handled by 'failed'
  if (env.type === 'welcome') {
    if (!sameName(env.name, store.me || env.name)) view.nodes.clear();
    try { localStorage.setItem(NAME_STORAGE, env.name); } catch { /* storage may be off */ }
    if (env.limits && Number.isInteger(env.limits.max_text_chars)) maxChars = env.limits.max_text_chars;
    closeNameDialog();
  }
  const ch = store.apply(env);
  if (ch.keys.size === 0 && !ch.lists && ch.typing.size === 0 && env.type !== 'welcome') return;
  for (const key of ch.keys) if (!store.convs.has(key)) view.forget(key);
  const ownAdded = ch.added.some((a) => a.key === store.current && a.item.own);
  view.lists();
  if (ch.keys.has(store.current) || env.type === 'welcome' || !store.convs.has(store.current) || ch.lists) {
    view.header();
    view.messages({ forceBottom: ownAdded });
    view.people(openPM);
    updateComposer(); // a presence may have made the room sendable, a leave may have switched rooms
  }
  if (ch.typing.size || ch.keys.has(store.current)) renderTyping();
  for (const { key, item } of ch.added) {
    if (item.own || item.replay || (item.kind !== 'chat' && item.kind !== 'pm')) continue;
    if (key === store.current) view.announce(`${item.from}: ${item.text}`);
    else if (item.kind === 'pm') view.announce(`Private message from ${item.from}: ${item.text}`);
  }
});

conn.on('rejected', ({ code, message }) => {
  const name = conn.name;
  let text = message;
  if (code === 'name_taken') text = `“${name}” is already taken. Please pick another name.`;
  else if (code === 'invalid_message') text = `“${name}” cannot be used: ${message}`;
  openNameDialog(name, text);
});

conn.on('failed', ({ request, error }) => {
  const code = error.code;
  switch (code) {
    case 'rate_limited':
      view.notify('You are sending messages quickly — wait a moment and try again.', 'info');
      if (request && (request.type === 'chat' || request.type === 'pm') && $('text').value === '') {
        $('text').value = request.text;
        updateComposer();
      }
      return;
    case 'unknown_user': {
      const to = request && request.to;
      if (to && (request.type === 'pm')) {
        const c = store.openPM(to);
        store.notice(c.key, `${to} is not connected — your message was not delivered.`, 'error');
        if (c.key === store.current) view.messages();
        view.lists();
        return;
      }
      if (request && request.type === 'typing') return; // the next message will say it
      view.notify(error.message || 'That person is not connected.', 'error');
      return;
    }
    case 'not_member':
      if (request && request.room) {
        const c = store.convs.get(roomKey(request.room));
        if (c) {
          c.joined = false;
          store.notice(c.key, `You are not in #${request.room} any more. Use “Join a room” to come back.`, 'error');
          renderAll();
          return;
        }
      }
      break;
    case 'invalid_message':
      if (request && request.type === 'join' && request.room) {
        const key = roomKey(request.room);
        if (!store.convs.get(key)?.joined) {
          view.forget(key);
          store.remove(key);
          renderAll({ forceBottom: true });
        }
      }
      break;
    default:
      break;
  }
  view.notify(error.message || code, 'error');
});

// ---- name dialog ---------------------------------------------------------

const dialog = $('name-dialog');

function openNameDialog(name, error) {
  $('name-input').value = name || '';
  $('name-error').textContent = error || '';
  if (!dialog.open) dialog.showModal();
  $('name-input').focus();
  $('name-input').select();
}

function closeNameDialog() {
  if (dialog.open) dialog.close();
}

dialog.addEventListener('cancel', (ev) => {
  // Without a name there is nothing to go back to.
  if (conn.state === State.IDLE || conn.state === State.STOPPED) ev.preventDefault();
});

$('name-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const name = $('name-input').value.trim();
  if (!NAME_RE.test(name)) {
    $('name-error').textContent = name === ''
      ? 'Please enter a name.'
      : 'Use 1–32 letters, digits, _ - or ., starting with a letter or digit.';
    $('name-input').focus();
    return;
  }
  $('name-error').textContent = '';
  if (conn.online && sameName(name, conn.name)) {
    closeNameDialog();
    return;
  }
  if (conn.state !== State.IDLE && conn.state !== State.STOPPED) conn.stop();
  // The dialog closes at once: the status pill shows the connection from
  // here on, and a refused name opens the dialog again with the reason.
  closeNameDialog();
  conn.start(name);
  $('text').focus();
});

$('rename').addEventListener('click', () => openNameDialog(conn.name || ''));

// ---- composer ------------------------------------------------------------

function updateComposer() {
  const text = $('text');
  const used = codePoints(text.value);
  view.counter(used, maxChars);
  const c = store.convs.get(store.current);
  const sendable = conn.online && !!c && !isBlank(text.value) && used <= maxChars &&
    (c.kind === 'pm' || c.joined);
  $('send').disabled = !sendable;
  // Grow with the text up to the CSS max-height (CSSOM is allowed by the CSP).
  text.style.height = 'auto';
  text.style.height = `${text.scrollHeight}px`;
}

$('text').addEventListener('input', () => {
  updateComposer();
  const target = targetOf(store.current);
  if (target) typing.input(target, !isBlank($('text').value));
});

$('text').addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
    ev.preventDefault();
    $('composer').requestSubmit();
  }
});

$('composer').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const text = $('text').value;
  const c = store.convs.get(store.current);
  if (!c || isBlank(text)) return;
  const used = codePoints(text);
  if (used > maxChars) {
    view.notify(`Messages can be at most ${maxChars} characters; this one has ${used}.`, 'error');
    return;
  }
  if (!conn.online) {
    view.notify('Not connected right now — your message stays in the box until we are back.', 'info');
    return;
  }
  const ref = c.kind === 'room'
    ? conn.request({ type: 'chat', room: c.name, text })
    : conn.request({ type: 'pm', to: c.name, text });
  if (!ref) return;
  typing.sent();
  $('text').value = '';
  drafts.delete(c.key);
  updateComposer();
});

// ---- rooms and panels ----------------------------------------------------

for (const id of ['room-list', 'pm-list']) {
  $(id).addEventListener('click', (ev) => {
    const b = ev.target.closest('button[data-key]');
    if (b) select(b.dataset.key);
  });
}

$('join-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const input = $('join-room');
  const room = input.value.trim().toLowerCase().replace(/^#/, '');
  if (!ROOM_RE.test(room)) {
    $('join-hint').textContent = 'Room names: 1–64 lowercase letters, digits, - and _, starting with a letter or digit.';
    $('join-hint').classList.add('error');
    input.focus();
    return;
  }
  $('join-hint').textContent = 'lowercase letters, digits, - and _';
  $('join-hint').classList.remove('error');
  input.value = '';
  const key = roomKey(room);
  if (!store.convs.has(key)) {
    store.openRoom(room);
    if (conn.online) conn.request({ type: 'join', room });
  }
  select(key);
  $('text').focus();
});

$('leave').addEventListener('click', () => {
  const c = store.convs.get(store.current);
  if (!c) return;
  typing.stop();
  if (c.kind === 'room' && conn.online && c.joined) {
    conn.request({ type: 'leave', room: c.name }); // the server's confirmation removes it
    return;
  }
  view.forget(c.key);
  store.remove(c.key);
  renderAll({ forceBottom: true });
});

$('retry').addEventListener('click', () => conn.retryNow());
// Background tabs get their timers slowed down: come back at once when the
// network returns or the person looks at the page again.
window.addEventListener('online', () => conn.retryNow());
document.addEventListener('visibilitychange', () => {
  if (!document.hidden) conn.retryNow();
});

function closePanels() {
  $('app').dataset.panel = '';
  $('menu').setAttribute('aria-expanded', 'false');
  $('people-toggle').setAttribute('aria-expanded', 'false');
}

function togglePanel(panel, button) {
  const open = $('app').dataset.panel !== panel;
  closePanels();
  if (open) {
    $('app').dataset.panel = panel;
    button.setAttribute('aria-expanded', 'true');
  }
}

$('menu').addEventListener('click', (ev) => togglePanel('sidebar', ev.currentTarget));
$('people-toggle').addEventListener('click', (ev) => togglePanel('people', ev.currentTarget));
document.addEventListener('keydown', (ev) => {
  if (ev.key === 'Escape' && $('app').dataset.panel) closePanels();
});

// ---- start ---------------------------------------------------------------

store.openRoom(DEFAULT_ROOM);
store.select(roomKey(DEFAULT_ROOM));
renderAll();
updateComposer();

let saved = '';
try { saved = localStorage.getItem(NAME_STORAGE) || ''; } catch { /* storage may be off */ }
if (NAME_RE.test(saved)) conn.start(saved);
else openNameDialog('', '');
