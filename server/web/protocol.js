// protocol.js — the chat.v1 connection as a state machine, with no DOM.
//
// Everything here is written against /docs/PROTOCOL.md alone: the page needs
// nothing from the server but the documented envelopes. The WebSocket
// constructor, the clock and the random source are injected so the whole
// reconnect logic can be exercised without a browser or a network.

/** The only subprotocol this page speaks. */
export const SUBPROTOCOL = 'chat.v1';

/** Names: 1–32 ASCII letters, digits, _ - . beginning with a letter or digit. */
export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;

/** Rooms: 1–64 lowercase ASCII letters, digits, _ - beginning with a letter or digit. */
export const ROOM_RE = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** The room every session starts in. */
export const DEFAULT_ROOM = 'lobby';

/** MAX_TEXT_CHARS is the protocol's limit until the server's welcome says otherwise. */
export const MAX_TEXT_CHARS = 4000;

// Unicode White_Space as Go's unicode.IsSpace sees it. JavaScript's \s also
// matches U+FEFF and misses U+0085, so the class is spelled out.
const BLANK_RE = /^[\t\n\v\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$/;

/** codePoints counts Unicode code points, the unit of the protocol's text limit. */
export function codePoints(s) {
  let n = 0;
  // A surrogate pair is one code point; a lone surrogate counts as one, as
  // the string iterator would count it (no iterator: this runs per keystroke).
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

/** isBlank reports whether text has nothing but white space (the server refuses it). */
export function isBlank(s) {
  return BLANK_RE.test(s);
}

/** nameKey is the case-insensitive key the server compares names by (ASCII only). */
export function nameKey(name) {
  return String(name).replace(/[A-Z]/g, (c) => c.toLowerCase());
}

/** sameName compares two names the way the server does. */
export function sameName(a, b) {
  return nameKey(a) === nameKey(b);
}

/**
 * backoffDelay returns the wait before reconnect attempt number `attempt`
 * (0 for the first retry): exponential from `base`, capped at `max`, with
 * "equal jitter" so that many pages dropped by one server restart spread
 * their retries but never retry at once.
 */
export function backoffDelay(attempt, { base = 500, max = 15000 } = {}, random = Math.random) {
  const cap = Math.min(max, base * 2 ** Math.min(attempt, 30));
  return Math.round(cap / 2 + random() * (cap / 2));
}

/** wsURL builds the same-origin /ws address: wss when the page is https. */
export function wsURL(location) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/ws`;
}

/** Connection states, as shown to the person. */
export const State = Object.freeze({
  IDLE: 'idle', // no name yet
  CONNECTING: 'connecting', // socket opening
  JOINING: 'joining', // socket open, first join sent, no welcome yet
  ONLINE: 'online', // welcomed
  WAITING: 'waiting', // closed, a reconnect is scheduled
  STOPPED: 'stopped', // closed for good (name refused, or stop() called)
});

const realClock = {
  now: () => Date.now(),
  setTimeout: (f, ms) => setTimeout(f, ms),
  clearTimeout: (t) => clearTimeout(t),
};

/**
 * Connection owns one WebSocket at a time and the reconnect loop around it.
 *
 * It knows nothing of rooms beyond what to join: `joins()` (supplied by the
 * caller) returns [{room, since}] for every room to be in, in order, so that
 * a reconnect rejoins each one with `since` = the last id seen there and the
 * server replays exactly what was missed.
 *
 * Events (subscribe with on(type, fn)):
 *   state    {state, attempt, retryAt, code, reason}
 *   envelope a decoded server envelope (every one, welcome included)
 *   rejected {code, message} — the name was refused; the caller asks again
 *   failed   {code, message} — a request with a ref failed: {request, error}
 */
export class Connection {
  constructor({ url, name, joins, WebSocket, clock = realClock, random = Math.random, backoff = {} }) {
    this.url = url;
    this.name = name;
    this.joins = joins || (() => [{ room: DEFAULT_ROOM }]);
    this.WebSocket = WebSocket;
    this.clock = clock;
    this.random = random;
    this.backoff = backoff;
    this.state = State.IDLE;
    this.attempt = 0;
    this.welcomed = false; // this page has been welcomed under this.name before
    this.ws = null;
    this.timer = null;
    this.retryAt = 0;
    this.refSeq = 0;
    this.pending = new Map(); // ref → the request, until its answer arrives
    this.listeners = new Map();
  }

  /** on subscribes fn to events of type; it returns a function that unsubscribes. */
  on(type, fn) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type).add(fn);
    return () => this.listeners.get(type).delete(fn);
  }

  emit(type, value) {
    for (const fn of this.listeners.get(type) || []) fn(value);
  }

  setState(state, extra = {}) {
    this.state = state;
    this.emit('state', { state, attempt: this.attempt, retryAt: this.retryAt, ...extra });
  }

  /** start opens the connection under name (a new name resets the reconnect history). */
  start(name) {
    if (name !== undefined && !sameName(name, this.name || '')) {
      this.welcomed = false;
    }
    if (name !== undefined) this.name = name;
    this.clearTimer();
    this.attempt = 0;
    this.open();
  }

  /** stop closes the socket for good: no reconnect follows. */
  stop(code = 1000, reason = 'bye') {
    this.clearTimer();
    const ws = this.ws;
    this.ws = null;
    this.setState(State.STOPPED);
    if (ws) {
      detach(ws);
      try { ws.close(code, reason); } catch { /* already closing */ }
    }
  }

  /** retryNow skips the rest of the backoff wait. */
  retryNow() {
    if (this.state !== State.WAITING) return;
    this.clearTimer();
    this.open();
  }

  clearTimer() {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  open() {
    if (this.ws) {
      detach(this.ws);
      try { this.ws.close(1000); } catch { /* ignore */ }
    }
    this.pending.clear();
    this.setState(State.CONNECTING);
    let ws;
    try {
      ws = new this.WebSocket(this.url, [SUBPROTOCOL]);
    } catch (err) {
      this.scheduleReconnect({ code: 0, reason: String(err) });
      return;
    }
    this.ws = ws;
    ws.onopen = () => this.onOpen(ws);
    ws.onmessage = (ev) => this.onMessage(ws, ev);
    ws.onclose = (ev) => this.onClose(ws, ev);
    ws.onerror = () => { /* onclose follows and carries the code */ };
  }

  onOpen(ws) {
    if (ws !== this.ws) return;
    this.setState(State.JOINING);
    const joins = this.joins();
    const first = joins.length > 0 ? joins[0] : { room: DEFAULT_ROOM };
    // The first join claims the name. The other rooms are joined once the
    // welcome proves the name is ours, so a refused name costs one message.
    this.rest = joins.slice(1);
    this.request({ type: 'join', name: this.name, room: first.room, since: first.since || undefined });
  }

  onMessage(ws, ev) {
    if (ws !== this.ws) return;
    if (typeof ev.data !== 'string') return; // the server never sends binary
    let env;
    try {
      env = JSON.parse(ev.data);
    } catch {
      return; // not ours to fix; a careful client ignores what it cannot read
    }
    if (!env || typeof env !== 'object' || typeof env.type !== 'string') return;

    if (env.type === 'welcome') {
      this.welcomed = true;
      this.attempt = 0;
      if (typeof env.name === 'string') this.name = env.name;
      this.setState(State.ONLINE);
      this.emit('envelope', env);
      for (const j of this.rest || []) this.request({ type: 'join', room: j.room, since: j.since || undefined });
      this.rest = [];
      return;
    }
    if (env.type === 'error') {
      this.onError(env);
      return;
    }
    if (env.ref) this.pending.delete(env.ref);
    this.emit('envelope', env);
  }

  onError(env) {
    const request = env.ref ? this.pending.get(env.ref) : undefined;
    if (env.ref) this.pending.delete(env.ref);
    const beforeWelcome = this.state === State.JOINING;
    const firstJoin = request && request.type === 'join' && request.name !== undefined;
    if (beforeWelcome && firstJoin) {
      if (env.code === 'name_taken' && this.welcomed) {
        // Our own previous session may still hold the name until the server
        // notices the dropped connection: wait and try again, do not ask.
        const ws = this.ws;
        this.ws = null;
        detach(ws);
        try { ws.close(1000); } catch { /* ignore */ }
        this.scheduleReconnect({ code: 0, reason: 'name_taken' });
        return;
      }
      if (env.code === 'name_taken' || env.code === 'unauthorized' ||
          (env.code === 'invalid_message' && hasField(env, 'name'))) {
        this.welcomed = false;
        this.stop();
        this.emit('rejected', { code: env.code, message: env.message || env.code });
        return;
      }
    }
    this.emit('failed', { request, error: env });
    this.emit('envelope', env);
  }

  onClose(ws, ev) {
    if (ws !== this.ws) return;
    this.ws = null;
    this.pending.clear();
    if (ev && ev.code === 1000 && ev.reason === 'bye') {
      this.setState(State.STOPPED, { code: ev.code, reason: ev.reason });
      return;
    }
    this.scheduleReconnect({ code: ev ? ev.code : 0, reason: ev ? ev.reason : '' });
  }

  scheduleReconnect(info) {
    const delay = backoffDelay(this.attempt, this.backoff, this.random);
    this.attempt++;
    this.retryAt = this.clock.now() + delay;
    this.clearTimer();
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      this.open();
    }, delay);
    this.setState(State.WAITING, info);
  }

  /** online reports whether requests can be sent now. */
  get online() {
    return this.state === State.ONLINE;
  }

  /**
   * request sends a client envelope with a fresh ref and remembers it until
   * its answer, so an error can be tied to what the person did. It returns
   * the ref, or '' when the socket is not open.
   */
  request(msg) {
    const ref = `r${++this.refSeq}`;
    const env = { ...msg, ref };
    if (!this.send(env)) return '';
    this.pending.set(ref, env);
    return ref;
  }

  /** send writes one envelope (undefined fields dropped); false when not open. */
  send(env) {
    const ws = this.ws;
    if (!ws || ws.readyState !== 1) return false;
    ws.send(JSON.stringify(env));
    return true;
  }
}

function detach(ws) {
  if (!ws) return;
  ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
}

function hasField(env, field) {
  return Array.isArray(env.details) && env.details.some((d) => d && d.field === field);
}
