// sse-core's client session as the web UI runs it: host/web/sse_core.wasm through
// host/web/sse-wasm.js, driven on a fake clock (no browser needed; Node runs the same module).
// These are the rules the old hand-written reconnect.js had drifted from (issue 13).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { repoRoot } from './support.js';
import { WasmFollow } from '../../host/web/sse-wasm.js';

const wasm = fs.readFileSync(path.join(repoRoot, 'host/web/sse_core.wasm'));
const enc = new TextEncoder();
const E = '0123456789abcdef0123456789abcdef';

async function session(policy = {}) {
  // random() = 0: no jitter, so delays are exact.
  const f = await WasmFollow.load(wasm, policy, () => 0);
  return f;
}

function connect(f, now) {
  f.start(now);
  const a = f.pollAction();
  assert.equal(a?.kind, 'connect');
  f.response(now, 200, true);
  return a;
}

/** Performs every pending action; returns the last. */
function drain(f) {
  let last;
  for (let a = f.pollAction(); a; a = f.pollAction()) last = a;
  return last;
}

const feed = (f, now, text) => [...f.feed(now, enc.encode(text))];
const state = `event: state\ndata: {"epoch":"${E}","message_count":3}\n\n`;
const msg = (i) => `id: ${E}-${i}\ndata: {"idx":${i}}\n\n`;

test('messages arrive once and in order; a duplicate is dropped', async () => {
  const f = await session();
  connect(f, 0);
  const out = feed(f, 1, state + msg(0) + msg(1) + msg(1) + msg(2));
  const ids = out.filter((o) => o.type === 'message').map((o) => o.idx);
  assert.deepEqual(ids, [0, 1, 2]);
  assert.equal(out.find((o) => o.type === 'state').data.includes(E), true);
  assert.equal(f.status().kind, 'connected');
});

test('a gap closes the stream and backs off (no reconnect storm), resuming at the gap', async () => {
  const f = await session();
  connect(f, 0);
  feed(f, 10, state + msg(0));
  const out = feed(f, 20, msg(2));
  assert.equal(out.some((o) => o.type === 'message'), false, 'message 2 is never shown before 1');
  assert.deepEqual(f.pollAction(), { kind: 'close' });
  const s = f.status();
  assert.equal(s.kind, 'disconnected');
  assert.equal(s.reason, 'Connection lost');
  assert.ok(s.retryAt >= 20 + 1000, `backs off at least the base delay, got ${s.retryAt}`);
  assert.equal(f.pollAction(), undefined, 'no immediate reconnect');
  f.timeout(s.retryAt);
  const again = f.pollAction();
  assert.equal(again.kind, 'connect');
  assert.equal(again.from, 1);
  // The parser's last id names message 2, which was not accepted: core does not send it (the
  // server would skip message 1); `from` and `epoch` say where to resume.
  assert.equal(again.lastEventId, undefined);
  assert.equal(again.epoch, E);
});

test('the reason says who ended it: the server, the network, or nobody answering', async () => {
  const reasonAfter = async (open, why) => {
    const f = await session();
    if (open) connect(f, 0);
    else {
      f.start(0);
      drain(f);
    }
    f.disconnected(10, why);
    assert.equal(f.status().kind, 'disconnected');
    return f.status().reason;
  };
  assert.equal(await reasonAfter(true, 'end'), 'Server closed the stream');
  assert.equal(await reasonAfter(true, 'network'), 'Connection lost');
  assert.equal(await reasonAfter(false, 'network'), 'Server unreachable');
});

test('retry: sets the base, with a 250 ms floor', async () => {
  const f = await session();
  connect(f, 0);
  feed(f, 0, 'retry: 0\n\n');
  f.disconnected(100, 'end');
  // Jitter only adds, up to 20 %.
  const first = f.status().retryAt - 100;
  assert.ok(first >= 250 && first <= 300, `retry: 0 waits 250..300 ms, got ${first}`);
  f.timeout(100 + first);
  drain(f);
  f.response(100 + first, 200, true);
  feed(f, 500, 'retry: 3000\n\n');
  f.disconnected(600, 'network');
  const second = f.status().retryAt - 600;
  assert.ok(second >= 3000 && second <= 3600, `retry: 3000 waits 3..3.6 s, got ${second}`);
});

test('a 200 that is not an event stream stops the client; so do 204 and 404', async () => {
  for (const [status, isStream, reason] of [
    [200, false, 'Not an event stream'],
    [204, false, 'HTTP 204'],
    [404, false, 'HTTP 404'],
  ]) {
    const f = await session();
    f.start(0);
    f.pollAction();
    f.response(5, status, isStream);
    assert.deepEqual(
      { kind: f.status().kind, reason: f.status().reason },
      { kind: 'disabled', reason },
    );
    assert.equal(f.pollTimeout(), undefined, 'no retry is scheduled');
  }
});

test('503 and 429 are retried with growing backoff', async () => {
  const f = await session({ initialBackoffMs: 1000 });
  let now = 0;
  f.start(now);
  const waits = [];
  for (let i = 0; i < 3; i += 1) {
    drain(f);
    f.response(now, i % 2 ? 429 : 503, false);
    const s = f.status();
    assert.equal(s.kind, 'disconnected');
    assert.equal(s.reason, `HTTP ${i % 2 ? 429 : 503}`, 'the indicator says why');
    waits.push(s.retryAt - now);
    now = s.retryAt;
    f.timeout(now);
  }
  for (const [i, nominal] of [1000, 1500, 2250].entries()) {
    assert.ok(waits[i] >= nominal && waits[i] <= nominal * 1.2, `wait ${i}: ${waits[i]} ms`);
  }
});

test('the heartbeat watchdog is core’s', async () => {
  const f = await session({ idleTimeoutMs: 1500 });
  connect(f, 0);
  feed(f, 100, ': keep-alive\n\n');
  assert.equal(f.pollTimeout(), 1600);
  f.timeout(1600);
  assert.deepEqual(f.pollAction(), { kind: 'close' });
  assert.equal(f.status().reason, 'Connection timed out (no heartbeat)');
});

test('resume(next, epoch) asks for the rest of the log the page already shows', async () => {
  const f = await session();
  assert.equal(f.resume(19800, E), true);
  f.start(0);
  const a = f.pollAction();
  // The epoch travels in Last-Event-ID (PROTOCOL.md §2).
  assert.deepEqual(a, { kind: 'connect', from: 19800, lastEventId: `${E}-19799`, epoch: undefined });
  f.response(0, 200, true);
  const out = feed(f, 1, state + msg(19799) + msg(19800));
  assert.deepEqual(out.filter((o) => o.type === 'message').map((o) => o.idx), [19800]);
});

test('session_ended disables; reset and a new epoch start over', async () => {
  const f = await session();
  connect(f, 0);
  let out = feed(f, 1, state + msg(0) + 'event: reset\ndata: {"epoch":"e2","message_count":1}\n\n');
  assert.deepEqual(out.at(-1), { type: 'start-over', reset: '{"epoch":"e2","message_count":1}' });
  out = feed(f, 2, 'id: e2-0\ndata: {}\n\nevent: session_ended\ndata: {"message":"bye"}\n\n');
  assert.deepEqual(out.map((o) => o.type), ['message', 'session-ended', 'status']);
  assert.equal(f.status().kind, 'disabled');
  assert.equal(f.status().reason, 'Session ended');
});

test('data over the module’s 256 KiB bound arrives cut, flagged, and still counted', async () => {
  const f = await session();
  connect(f, 0);
  const big = 'x'.repeat(300 * 1024);
  const out = feed(f, 1, `${state}id: ${E}-0\ndata: ${big}\n\n${msg(1)}`);
  const msgs = out.filter((o) => o.type === 'message');
  assert.equal(msgs.length, 2);
  assert.equal(msgs[0].truncated, true);
  assert.equal(msgs[0].data.length, 256 * 1024);
  assert.equal(msgs[1].truncated, false);
});
