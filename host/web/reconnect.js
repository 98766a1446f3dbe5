// Client connection policy for the web UI: a sans-IO state machine.
//
// This mirrors `core/src/reconnect.rs` (sse-core's `Reconnect`), which the host client and the
// firmware use; keep the two in step. Like the Rust one it does no I/O and reads no clock: the
// shell (app.js) passes `now` (ms) into every call, performs the actions it is given, and arms one
// timer for `pollTimeout()`. Randomness (jitter) is injected so tests can be deterministic.
//
//   Disconnected ──start()──▶ Connecting ──handleConnected()──▶ Connected
//        ▲                       │   ▲                              │
//        │          connect timeout   │ backoff expired / retryNow() │ watchdog / handleDisconnected()
//        │                       ▼   │                              ▼
//        └────────────────────── Waiting(backoff) ◀──────────────────┘
//   any state ──stop() or fatal disconnect (2xx but 200, 4xx other than 408/429, session ended)──▶ Disabled
//
// Backoff: base × 1.5ⁿ capped at 60 s, then drawn from [d × (1 − jitter), d]. The attempt count n
// is reset only once a connection has stayed up for `healthyAfter`, so a server that accepts and
// immediately closes cannot cause a reconnect storm.

/** Tuning; the defaults match sse-core's `Policy::default()`. */
export const DEFAULT_POLICY = Object.freeze({
  initialBackoffMs: 1000,
  backoffFactorPct: 150,
  maxBackoffMs: 60_000,
  jitterPct: 20,
  connectTimeoutMs: 10_000,
  idleTimeoutMs: 45_000, // 3 heartbeat intervals of 15 s
  healthyAfterMs: 10_000,
});

/** The four statuses every client shows (PROTOCOL.md §7). */
export const Kind = Object.freeze({
  Connected: 'connected',
  Connecting: 'connecting',
  Disconnected: 'disconnected',
  Disabled: 'disabled',
});

/** Why the status is what it is; the values are the texts people see. */
export const Reason = Object.freeze({
  Connecting: 'Connecting...',
  Connected: 'Connected',
  ConnectionLost: 'Connection lost',
  NoHeartbeat: 'Connection timed out (no heartbeat)',
  ConnectTimeout: 'Connection timed out',
  NotEventStream: 'Not an event stream',
  SessionEnded: 'Session ended',
  Stopped: 'Stopped',
});

/** The reason text for an HTTP status that ended a connection. */
export const httpReason = (status) => `HTTP ${status}`;

/**
 * How a connection ended, as the shell saw it:
 * `{ kind: 'network' }`, `{ kind: 'http', status }`, `{ kind: 'not-event-stream' }`,
 * `{ kind: 'session-ended' }`.
 */
export const Disconnect = Object.freeze({
  network: () => ({ kind: 'network' }),
  http: (status) => ({ kind: 'http', status }),
  notEventStream: () => ({ kind: 'not-event-stream' }),
  sessionEnded: () => ({ kind: 'session-ended' }),
});

/** Whether an HTTP status means "stop trying" (PROTOCOL.md §7). */
export function isFatalStatus(status) {
  // Only 200 carries a stream: every other 2xx (204, 205, 299, …) is terminal too.
  return (
    (status > 200 && status < 300) ||
    (status >= 400 && status < 500 && status !== 408 && status !== 429)
  );
}

export class Reconnect {
  /**
   * @param {Partial<typeof DEFAULT_POLICY>} policy overrides of the defaults
   * @param {() => number} random a source of numbers in [0, 1), for jitter
   */
  constructor(policy = {}, random = Math.random) {
    this.policy = { ...DEFAULT_POLICY, ...policy };
    this.random = random;
    this.baseMs = this.policy.initialBackoffMs;
    /** The failure count when the base last changed: growth counts failures since then. */
    this.growthFrom = 0;
    // One of:
    //   { name: 'idle' }
    //   { name: 'connecting', attempt, deadline }
    //   { name: 'connected', attempt, since, lastRx }
    //   { name: 'waiting', attempt, until, reason }
    //   { name: 'disabled', reason }
    this.state = { name: 'idle' };
    this.pending = [];
  }

  // ---- commands from the application ----

  start(now) {
    if (this.state.name === 'idle') this.#connect(now, 0);
  }

  stop(reason = Reason.Stopped) {
    if (this.state.name === 'connecting' || this.state.name === 'connected') this.pending.push('close');
    this.state = { name: 'disabled', reason };
  }

  /** Skip the rest of the backoff ("Retry now"). */
  retryNow(now) {
    if (this.state.name === 'waiting') this.#connect(now, this.state.attempt);
  }

  /**
   * Drop the current connection and open a new one at once, without counting a failure:
   * the application changed its resume point (new epoch, `reset`, a gap).
   */
  restart(now) {
    const s = this.state;
    if (s.name === 'connecting' || s.name === 'connected') this.pending.push('close');
    if (s.name !== 'disabled') this.#connect(now, s.attempt ?? 0);
  }

  // ---- inputs from the peer and the clock ----

  /** The stream opened (200 + text/event-stream). */
  handleConnected(now) {
    if (this.state.name !== 'connecting') return;
    this.state = { name: 'connected', attempt: this.state.attempt, since: now, lastRx: now };
  }

  /** Anything arrived (an event, a heartbeat): the link is alive. */
  handleBytes(now) {
    const s = this.state;
    if (s.name !== 'connected') return;
    s.lastRx = now;
    if (s.attempt !== 0 && now - s.since >= this.policy.healthyAfterMs) {
      s.attempt = 0;
      this.growthFrom = 0;
    }
  }

  /** A `retry:` hint from the server sets the backoff base; a new base restarts the growth. */
  handleRetryHint(ms) {
    if (!Number.isFinite(ms) || ms < 0) return;
    const base = Math.min(ms, this.policy.maxBackoffMs);
    if (base !== this.baseMs) {
      this.baseMs = base;
      this.growthFrom = this.state.attempt ?? 0;
    }
  }

  handleDisconnected(now, why) {
    const s = this.state;
    if (s.name !== 'connecting' && s.name !== 'connected') return;
    if (why.kind === 'session-ended') {
      this.state = { name: 'disabled', reason: Reason.SessionEnded };
      return;
    }
    if (why.kind === 'http' && isFatalStatus(why.status)) {
      this.state = { name: 'disabled', reason: httpReason(why.status) };
      return;
    }
    let attempt = s.attempt;
    if (s.name === 'connected' && now - s.since >= this.policy.healthyAfterMs) attempt = 0;
    const reason =
      why.kind === 'http'
        ? httpReason(why.status)
        : why.kind === 'not-event-stream'
          ? Reason.NotEventStream
          : Reason.ConnectionLost;
    this.#wait(now, attempt, reason);
  }

  /** Call when `pollTimeout()` is reached; early or spurious calls are harmless. */
  handleTimeout(now) {
    const s = this.state;
    if (s.name === 'connecting' && now >= s.deadline) {
      this.pending.push('close');
      this.#wait(now, s.attempt, Reason.ConnectTimeout);
    } else if (s.name === 'connected' && now >= s.lastRx + this.policy.idleTimeoutMs) {
      this.pending.push('close');
      const attempt = now - s.since >= this.policy.healthyAfterMs ? 0 : s.attempt;
      this.#wait(now, attempt, Reason.NoHeartbeat);
    } else if (s.name === 'waiting' && now >= s.until) {
      this.#connect(now, s.attempt);
    }
  }

  // ---- outputs ----

  /** The next thing the shell must do: `'connect'`, `'close'`, or `undefined`. */
  pollAction() {
    return this.pending.shift();
  }

  /** When to call `handleTimeout` next (ms), or `undefined`. */
  pollTimeout() {
    const s = this.state;
    switch (s.name) {
      case 'connecting':
        return s.deadline;
      case 'connected':
        return s.lastRx + this.policy.idleTimeoutMs;
      case 'waiting':
        return s.until;
      default:
        return undefined;
    }
  }

  /** `{ kind, reason }` for the indicator. */
  status() {
    const s = this.state;
    switch (s.name) {
      case 'idle':
        return { kind: Kind.Disconnected, reason: Reason.Stopped };
      case 'connecting':
        return { kind: Kind.Connecting, reason: Reason.Connecting };
      case 'connected':
        return { kind: Kind.Connected, reason: Reason.Connected };
      case 'waiting':
        return { kind: Kind.Disconnected, reason: s.reason };
      default:
        return { kind: Kind.Disabled, reason: s.reason };
    }
  }

  /** When the next attempt starts, for a "reconnecting in Ns" countdown. */
  retryAt() {
    return this.state.name === 'waiting' ? this.state.until : undefined;
  }

  /** Failed attempts since the last healthy connection. */
  attempt() {
    return this.state.attempt ?? 0;
  }

  // ---- internals ----

  #connect(now, attempt) {
    this.pending.push('connect');
    this.state = { name: 'connecting', attempt, deadline: now + this.policy.connectTimeoutMs };
  }

  #wait(now, attempt, reason) {
    this.state = { name: 'waiting', attempt: attempt + 1, until: now + this.backoffMs(attempt), reason };
  }

  /**
   * The jittered delay before attempt number `attempt + 1`. Jitter only adds: [d, d + d·j],
   * moved down to end at the cap but never below the base (core/src/reconnect.rs).
   */
  backoffMs(attempt) {
    const { backoffFactorPct, maxBackoffMs, jitterPct } = this.policy;
    const n = Math.max(0, attempt - this.growthFrom);
    const d = Math.min(this.baseMs * (backoffFactorPct / 100) ** n, maxBackoffMs);
    const span = d * (jitterPct / 100);
    const hi = Math.min(d + span, maxBackoffMs);
    const lo = Math.min(hi, Math.max(hi - span, Math.min(this.baseMs, maxBackoffMs)));
    return Math.round(lo + (hi - lo) * this.random());
  }
}
