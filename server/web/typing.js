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
 * TypingSender tracks one target at a time (a room or a person) and calls
 * send(target, active) when the server must hear about a change.
 */
export class TypingSender {
  constructor({ send, clock, refreshMs = REFRESH_MS, idleMs = IDLE_MS }) {
    this.sendFn = send;
    this.clock = clock || { now: () => Date.now(), setTimeout: (f, ms) => setTimeout(f, ms), clearTimeout: (t) => clearTimeout(t) };
    this.refreshMs = refreshMs;
    this.idleMs = idleMs;
    this.target = null; // {room} or {to}
    this.active = false;
    this.lastSent = 0;
    this.idle = null;
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
    if (!this.active || now - this.lastSent >= this.refreshMs) {
      if (this.sendFn(target, true)) {
        this.active = true;
        this.lastSent = now;
      }
    }
    this.clearIdle();
    this.idle = this.clock.setTimeout(() => {
      this.idle = null;
      this.stop();
    }, this.idleMs);
  }

  /** stop ends the indicator (input cleared, idle, switched away). */
  stop() {
    this.clearIdle();
    if (this.active && this.target) this.sendFn(this.target, false);
    this.active = false;
  }

  /** sent records that a message went to the target: the server ended the indicator itself. */
  sent() {
    this.clearIdle();
    this.active = false;
  }

  /** reset forgets everything without a message: the connection that knew it is gone. */
  reset() {
    this.clearIdle();
    this.active = false;
  }

  clearIdle() {
    if (this.idle !== null) this.clock.clearTimeout(this.idle);
    this.idle = null;
  }
}

function sameTarget(a, b) {
  if (!a || !b) return a === b;
  return a.room === b.room && a.to === b.to;
}
