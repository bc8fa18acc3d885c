// typing.js — when to tell the server "I am typing", with no DOM.
//
// PROTOCOL.md §3: the server drops an indicator 6 s after the last
// `active: true`, so a typing person refreshes it about every 3 s. The page
// stops it itself after 5 s without a keystroke, or when the input is
// cleared; after a send the server ends it on its own (no message needed).

/** REFRESH_MS is how often a person who keeps typing re-sends active:true. */
export const REFRESH_MS = 3000;

/** IDLE_MS is how long after the last keystroke the page sends active:false. */
export const IDLE_MS = 5000;

/**
 * MIN_GAP_MS: PROTOCOL.md §3a relays active:true at most once per 2 s per
 * sender and target, so a start sooner than that after the previous one
 * (typing again right after sending) would be dropped by the server. The
 * page holds such a start back until the window has passed (plus a margin).
 */
export const MIN_GAP_MS = 2100;

/**
 * TypingSender tracks one target at a time (a room or a person) and calls
 * send(target, active) when the server must hear about a change.
 */
export class TypingSender {
  constructor({ send, clock, refreshMs = REFRESH_MS, idleMs = IDLE_MS, minGapMs = MIN_GAP_MS }) {
    this.sendFn = send;
    this.clock = clock || { now: () => Date.now(), setTimeout: (f, ms) => setTimeout(f, ms), clearTimeout: (t) => clearTimeout(t) };
    this.refreshMs = refreshMs;
    this.idleMs = idleMs;
    this.minGapMs = minGapMs;
    this.target = null; // {room} or {to}
    this.active = false;
    this.lastSent = new Map(); // target key → when active:true last went out
    this.idle = null;
    this.held = null; // a start waiting for the server's 2 s window to pass
  }

  /** input reports the composer's content after a keystroke in target. */
  input(target, hasText) {
    if (!sameTarget(target, this.target)) {
      this.stop();
      this.target = target;
    }
    if (!hasText) {
      this.stop();
      return;
    }
    const now = this.clock.now();
    const last = this.lastSent.get(targetKey(target));
    if (!this.active && last !== undefined && now - last < this.minGapMs) {
      if (this.held === null) {
        this.held = this.clock.setTimeout(() => {
          this.held = null;
          this.start(this.target);
        }, last + this.minGapMs - now);
      }
    } else if (!this.active || now - last >= this.refreshMs) {
      this.start(target);
    }
    this.clearIdle();
    this.idle = this.clock.setTimeout(() => {
      this.idle = null;
      this.stop();
    }, this.idleMs);
  }

  start(target) {
    if (this.sendFn(target, true)) {
      this.active = true;
      this.lastSent.set(targetKey(target), this.clock.now());
    }
  }

  /** stop ends the indicator (input cleared, idle, switched away). */
  stop() {
    this.clearTimers();
    if (this.active && this.target) this.sendFn(this.target, false);
    this.active = false;
  }

  /** sent records that a message went to the target: the server ended the indicator itself. */
  sent() {
    this.clearTimers();
    this.active = false;
  }

  /** reset forgets everything without a message: the connection that knew it is gone. */
  reset() {
    this.clearTimers();
    this.active = false;
  }

  clearIdle() {
    if (this.idle !== null) this.clock.clearTimeout(this.idle);
    this.idle = null;
  }

  /** clearTimers drops the idle timer and any held-back start. */
  clearTimers() {
    this.clearIdle();
    if (this.held !== null) this.clock.clearTimeout(this.held);
    this.held = null;
  }
}

function targetKey(t) {
  return t.room !== undefined ? `#${t.room}` : `@${String(t.to).toLowerCase()}`;
}

function sameTarget(a, b) {
  if (!a || !b) return a === b;
  return a.room === b.room && a.to === b.to;
}
