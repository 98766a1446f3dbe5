// sse-core's client session (`Follow`: parser, resume tracker, backoff, heartbeat watchdog),
// compiled to wasm (host/wasm, built into web/sse_core.wasm). This file only converts between
// JavaScript values and the module's C ABI; every protocol decision is made in the module.
//
//   const f = await WasmFollow.load(bytesOrResponse, { initialBackoffMs, idleTimeoutMs, … });
//   f.start(now);  f.pollAction() → { kind: 'connect', from, lastEventId, epoch } | { kind: 'close' }
//   f.response(now, status, isEventStream);  for (const out of f.feed(now, chunk)) …
//   f.disconnected(now, 'network' | 'end');  f.pollTimeout() → ms | undefined;  f.timeout(now)
//   f.status() → { kind, reason, retryAt, attempt };  f.next(), f.epoch(): the resume point
//
// Outputs from feed(): { type: 'message', idx, data, truncated } · { type: 'state', data,
// truncated } · { type: 'heartbeat', data } · { type: 'start-over', reset } ·
// { type: 'session-ended', data } · { type: 'other', event, data, truncated } ·
// { type: 'comment', data } · { type: 'dropped' } · { type: 'status' }.

/** A number in [0, 1), for the seed of the session's random numbers. */
const cryptoRandom = () => crypto.getRandomValues(new Uint32Array(1))[0] / 4294967296;

const KINDS = ['connected', 'connecting', 'disconnected', 'disabled'];
const decoder = new TextDecoder();
const encoder = new TextEncoder();

export class WasmFollow {
  /** Instantiates the module from a `Response` (or a promise of one), an `ArrayBuffer` or a
   *  typed array. */
  static async load(from, policy = {}, random = cryptoRandom) {
    const source = await from;
    if (source instanceof Response && !source.ok) throw new Error(`HTTP ${source.status}`);
    const { instance } =
      source instanceof Response
        ? await WebAssembly.instantiateStreaming(source, {})
        : await WebAssembly.instantiate(source, {});
    return new WasmFollow(instance.exports, policy, random);
  }

  constructor(x, policy, random) {
    this.x = x;
    const seed = () => Math.floor(random() * 4294967296) >>> 0;
    x.sse_init(
      seed(),
      seed(),
      policy.initialBackoffMs ?? 0,
      policy.maxBackoffMs ?? 0,
      policy.connectTimeoutMs ?? 0,
      policy.idleTimeoutMs ?? 0,
      policy.healthyAfterMs ?? 0,
    );
  }

  #text(ptr, len) {
    return len === 0 ? '' : decoder.decode(new Uint8Array(this.x.memory.buffer, ptr, len));
  }

  #outText(len) {
    return this.#text(this.x.sse_out_text_ptr(), len);
  }

  #outData() {
    return this.#text(this.x.sse_out_data_ptr(), this.x.sse_out_data_len());
  }

  /** Before start(): the page already holds messages below `next` of `epoch`. */
  resume(next, epoch = '') {
    const bytes = encoder.encode(epoch);
    const cap = this.x.sse_input_cap();
    if (bytes.length > cap) return false;
    new Uint8Array(this.x.memory.buffer, this.x.sse_input(), cap).set(bytes);
    return this.x.sse_resume(next, bytes.length) === 0;
  }

  start(now) {
    this.x.sse_start(now);
  }

  stop() {
    this.x.sse_stop();
  }

  pollAction() {
    switch (this.x.sse_poll_action()) {
      case 1: {
        const id = this.x.sse_last_event_id();
        const lastEventId = id ? this.#outText(id) : undefined;
        const ep = this.x.sse_resume_epoch();
        const epoch = ep ? this.#outText(ep) : undefined;
        return { kind: 'connect', from: this.x.sse_from(), lastEventId, epoch };
      }
      case 2:
        return { kind: 'close' };
      default:
        return undefined;
    }
  }

  /** The index of the next message the session will deliver (its resume point). */
  next() {
    return this.x.sse_from();
  }

  /** The epoch of the log the session follows, once it knows it. */
  epoch() {
    const ep = this.x.sse_resume_epoch();
    return ep ? this.#outText(ep) : undefined;
  }

  pollTimeout() {
    const t = this.x.sse_poll_timeout();
    return t < 0 ? undefined : t;
  }

  response(now, status, isEventStream) {
    this.x.sse_response(now, status, isEventStream ? 1 : 0);
  }

  disconnected(now, why) {
    this.x.sse_disconnected(now, why === 'end' ? 1 : 0);
  }

  timeout(now) {
    this.x.sse_timeout(now);
  }

  /** Runs a chunk of the body through the session; yields what the app should see. */
  *feed(now, chunk) {
    const cap = this.x.sse_input_cap();
    // At least one pass, so that an empty chunk still drains outputs owed without bytes.
    let off = 0;
    do {
      const part = chunk.subarray(off, off + cap);
      new Uint8Array(this.x.memory.buffer, this.x.sse_input(), cap).set(part);
      this.x.sse_feed(part.length);
      for (let k = this.x.sse_next(now); k !== 0; k = this.x.sse_next(now)) yield this.#output(k);
      off += cap;
    } while (off < chunk.length);
  }

  /** Outputs that come without bytes (a status change, a start over): call after any input. */
  *poll(now) {
    yield* this.feed(now, new Uint8Array(0));
  }

  #output(k) {
    const truncated = this.x.sse_out_truncated() === 1;
    switch (k) {
      case 1:
        return { type: 'message', idx: this.x.sse_out_idx(), data: this.#outData(), truncated };
      case 2:
        return { type: 'state', data: this.#outData(), truncated };
      case 3:
        return { type: 'heartbeat', data: this.#outData() };
      case 4: {
        const reset = this.#outData();
        return { type: 'start-over', reset: reset || undefined };
      }
      case 5:
        return { type: 'session-ended', data: this.#outData() };
      case 7:
        return { type: 'comment', data: this.#outData() };
      case 8:
        return { type: 'dropped' };
      case 9:
        return { type: 'status' };
      default:
        return {
          type: 'other',
          event: this.#outText(this.x.sse_out_text_len()),
          data: this.#outData(),
          truncated,
        };
    }
  }

  status() {
    const kind = KINDS[this.x.sse_status_kind()] ?? 'disabled';
    const reason = this.#outText(this.x.sse_status_reason());
    const r = this.x.sse_retry_at();
    return { kind, reason, retryAt: r < 0 ? undefined : r, attempt: this.x.sse_attempt() };
  }
}
