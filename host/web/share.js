// One stream for all of a browser's tabs of this UI. A browser opens at most 6 HTTP/1.1
// connections per host, so a 7th tab that opened its own `/stream` would hang. Instead the tabs
// of one UI (same origin and path) elect a leader with the Web Locks API: the tab that holds the
// lock runs sse-core's session and relays what it says over a BroadcastChannel; the others draw
// those relays with the same code as the leader. When the leader tab goes away the browser
// grants the lock to the next tab, which starts its own session resumed where the shared stream
// was (the resume point and epoch come from core, with every relay).
//
// Messages on the channel (every one carries `from`, the sender's tab id):
//   leader → all   { t: 'out', out, next, epoch }       an output of the session (message, state,
//                                                       start-over, session-ended); next/epoch:
//                                                       core's resume point after it
//   leader → all   { t: 'status', status, next, epoch } the connection status changed
//   leader → one   { t: 'snapshot', to, next, epoch, status, state, ended }
//                                                       what a tab that just joined must know
//   leader → all   { t: 'leader' }                      a new leader took over
//   tab → leader   { t: 'hello' }                       I follow: send me a snapshot
//   tab → leader   { t: 'retry' }                       "Retry now" was pressed in a follower
//   tab → leader   { t: 'wake' }                        look at your session's timer now (a
//                                                       hidden leader's timers are throttled)
//
// This file decides who leads and carries messages; it makes no protocol decision.

/** Whether this browser can share a stream between tabs (else each tab runs its own). */
export const canShare = () =>
  typeof BroadcastChannel === 'function' &&
  typeof navigator === 'object' &&
  typeof navigator.locks?.request === 'function';

/**
 * The identity of a UI's shared stream: its path and, with a token, a digest of it, so that tabs
 * share only with tabs that hold the same credentials (a tab opened without the token must not
 * read through one that has it). The token itself never leaves this tab.
 */
export async function shareKey(path, token) {
  if (!token) return path;
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token));
  const hex = Array.from(new Uint8Array(digest).subarray(0, 12), (b) => b.toString(16).padStart(2, '0'));
  return `${path}#${hex.join('')}`;
}

/** A status to send to another tab: `retryAt` on the wall clock (each tab's
 *  `performance.now()` has its own origin). */
export function statusForWire({ kind, reason, retryAt, attempt }) {
  return {
    kind,
    reason,
    retryAt: retryAt === undefined ? undefined : performance.timeOrigin + retryAt,
    attempt,
  };
}

/** A status received from another tab, with `retryAt` back on this tab's `performance.now()`. */
export function statusFromWire({ kind, reason, retryAt, attempt }) {
  return {
    kind,
    reason,
    retryAt: retryAt === undefined ? undefined : retryAt - performance.timeOrigin,
    attempt,
  };
}

export class Share {
  /**
   * @param {string} key   the UI's identity in this origin (see shareKey())
   * @param {object} on    `lead()`: this tab now leads (at start, or when the leader left);
   *                       `follow()`: another tab leads (called once, at start);
   *                       `message(msg)`: a message from another tab;
   *                       `alone()`: the lock cannot be had here (role 'solo'): run your own
   */
  constructor(key, on) {
    this.id = crypto.randomUUID();
    this.role = 'electing';
    this.on = on;
    this.channel = new BroadcastChannel(`sse-ui:${key}`);
    this.channel.onmessage = (ev) => {
      const msg = ev.data;
      if (!msg || typeof msg !== 'object' || msg.from === this.id) return;
      if (msg.to !== undefined && msg.to !== this.id) return;
      this.on.message(msg);
    };
    const name = `sse-ui:${key}`;
    // Held for the tab's life: the browser releases it when the tab closes or crashes.
    const forever = () => new Promise(() => {});
    const lead = () => {
      this.role = 'leader';
      this.post({ t: 'leader' });
      this.on.lead();
      return forever();
    };
    // Refused (e.g. a sandboxed document): this tab runs its own session, as without sharing.
    const alone = () => {
      if (this.role !== 'electing') return;
      this.role = 'solo';
      this.channel.close();
      this.on.alone();
    };
    navigator.locks
      .request(name, { ifAvailable: true }, (lock) => {
        if (lock) return lead();
        this.role = 'follower';
        this.on.follow();
        // Queue for the lock: granted when the leader (and any tab queued before us) is gone.
        navigator.locks.request(name, lead).catch(() => {});
        return undefined;
      })
      .catch(alone);
  }

  get leader() {
    return this.role === 'leader';
  }

  post(msg) {
    this.channel.postMessage({ ...msg, from: this.id });
  }
}

/**
 * Messages `0..next` of the log, for a tab that joins a shared stream: the leader relays what
 * comes after `next`.
 *
 * TODO(window): replace with the history loader of web/history.js (`loadWindow(next, epoch)`),
 * which loads only the newest window and pages older messages in on scroll.
 */
export async function loadWindow(next, _epoch, headers = {}) {
  if (!(next > 0)) return { start: 0, messages: [] };
  const res = await fetch(`messages?start=0&end=${next}`, { cache: 'no-store', headers });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  const body = await res.json();
  const list = Array.isArray(body) ? body : body?.messages;
  if (!Array.isArray(list)) throw new Error('not a list of messages');
  return { start: 0, messages: list };
}
