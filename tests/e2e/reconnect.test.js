// Unit tests of the web UI's connection policy (host/web/reconnect.js), no browser needed.
// They follow core/src/reconnect/tests.rs: the JS machine must behave like sse-core's.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Disconnect, Kind, Reason, Reconnect } from '../../host/web/reconnect.js';

const noJitter = () => 0; // random() = 0 → the low end of the window: the nominal delay below the cap

function started(policy = {}, random = noJitter) {
  const rc = new Reconnect(policy, random);
  rc.start(0);
  assert.equal(rc.pollAction(), 'connect');
  assert.equal(rc.pollAction(), undefined);
  return rc;
}

test('backoff grows by half and caps at the maximum', () => {
  const rc = started({ maxBackoffMs: 4000, jitterPct: 0 });
  let now = 0;
  for (const want of [1000, 1500, 2250, 3375, 4000, 4000]) {
    rc.handleDisconnected(now, Disconnect.network());
    assert.deepEqual(rc.status(), { kind: Kind.Disconnected, reason: Reason.ConnectionLost });
    const wake = rc.pollTimeout();
    assert.equal(wake - now, want);
    assert.equal(rc.retryAt(), wake);
    rc.handleTimeout(wake - 1); // early: a no-op
    assert.equal(rc.pollAction(), undefined);
    now = wake;
    rc.handleTimeout(now);
    assert.equal(rc.pollAction(), 'connect');
    assert.equal(rc.status().kind, Kind.Connecting);
  }
});

test('jitter only adds: the delay is drawn from [d, d * 1.2]', () => {
  for (const r of [0, 0.5, 0.999]) {
    const rc = started({}, () => r);
    rc.handleDisconnected(0, Disconnect.network());
    const d = rc.pollTimeout();
    assert.ok(d >= 1000 && d <= 1200, `random ${r} gave ${d}`);
  }
});

test('a new retry hint restarts the growth; the same one again does not', () => {
  const rc = started();
  let now = 0;
  for (let i = 0; i < 3; i++) {
    rc.handleDisconnected(now, Disconnect.network());
    now = rc.pollTimeout();
    rc.handleTimeout(now);
    while (rc.pollAction()) {}
  }
  rc.handleConnected(now);
  rc.handleRetryHint(300);
  rc.handleDisconnected(now, Disconnect.network());
  assert.equal(rc.pollTimeout() - now, 300);
  now = rc.pollTimeout();
  rc.handleTimeout(now);
  while (rc.pollAction()) {}
  rc.handleConnected(now);
  rc.handleRetryHint(300);
  rc.handleDisconnected(now, Disconnect.network());
  assert.equal(rc.pollTimeout() - now, 450);
});

test('an accept-then-close server does not reset the attempt count', () => {
  const rc = started();
  let now = 0;
  const delays = [];
  for (let i = 0; i < 4; i++) {
    rc.handleConnected(now);
    rc.handleBytes(now + 100);
    rc.handleDisconnected(now + 200, Disconnect.network());
    delays.push(rc.pollTimeout() - (now + 200));
    now = rc.pollTimeout();
    rc.handleTimeout(now);
    assert.equal(rc.pollAction(), 'connect');
  }
  assert.deepEqual(delays, [1000, 1500, 2250, 3375]);
});

test('a connection that stayed healthy resets the attempt count', () => {
  const rc = started();
  rc.handleDisconnected(0, Disconnect.network());
  rc.handleTimeout(1000);
  rc.handleDisconnected(1000, Disconnect.network());
  rc.handleTimeout(2500);
  assert.equal(rc.attempt(), 2);
  rc.pollAction();
  rc.pollAction();
  rc.handleConnected(3000);
  rc.handleBytes(13_000); // up for 10 s
  assert.equal(rc.attempt(), 0);
  rc.handleDisconnected(14_000, Disconnect.network());
  assert.equal(rc.pollTimeout() - 14_000, 1000);
});

test('the watchdog closes a silent connection with the no-heartbeat reason', () => {
  const rc = started({ idleTimeoutMs: 3000 });
  rc.handleConnected(0);
  rc.handleBytes(2000);
  assert.equal(rc.pollTimeout(), 5000);
  rc.handleTimeout(4999);
  assert.equal(rc.status().kind, Kind.Connected);
  rc.handleTimeout(5000);
  assert.equal(rc.pollAction(), 'close');
  assert.deepEqual(rc.status(), { kind: Kind.Disconnected, reason: Reason.NoHeartbeat });
  assert.equal(rc.pollTimeout(), 6000);
});

test('connecting times out', () => {
  const rc = started({ connectTimeoutMs: 2000 });
  rc.handleTimeout(2000);
  assert.equal(rc.pollAction(), 'close');
  assert.deepEqual(rc.status(), { kind: Kind.Disconnected, reason: Reason.ConnectTimeout });
});

test('204 and 4xx other than 408/429 disable; 408, 429 and 5xx retry', () => {
  for (const [status, kind] of [
    [204, Kind.Disabled],
    [205, Kind.Disabled],
    [299, Kind.Disabled],
    [404, Kind.Disabled],
    [401, Kind.Disabled],
    [408, Kind.Disconnected],
    [429, Kind.Disconnected],
    [503, Kind.Disconnected],
  ]) {
    const rc = started();
    rc.handleDisconnected(0, Disconnect.http(status));
    assert.deepEqual(rc.status(), { kind, reason: `HTTP ${status}` }, `status ${status}`);
  }
});

test('session ended disables for good', () => {
  const rc = started();
  rc.handleConnected(0);
  rc.handleDisconnected(10, Disconnect.sessionEnded());
  assert.deepEqual(rc.status(), { kind: Kind.Disabled, reason: Reason.SessionEnded });
  assert.equal(rc.pollTimeout(), undefined);
  rc.retryNow(20);
  rc.restart(20);
  assert.equal(rc.pollAction(), undefined);
});

test('retry now skips the rest of the backoff without resetting the count', () => {
  const rc = started();
  rc.handleDisconnected(0, Disconnect.network());
  rc.retryNow(10);
  assert.equal(rc.pollAction(), 'connect');
  rc.handleDisconnected(20, Disconnect.network());
  assert.equal(rc.pollTimeout() - 20, 1500);
});

test('restart closes and reconnects at once without counting a failure', () => {
  const rc = started();
  rc.handleConnected(0);
  rc.restart(5);
  assert.equal(rc.pollAction(), 'close');
  assert.equal(rc.pollAction(), 'connect');
  assert.equal(rc.status().kind, Kind.Connecting);
  assert.equal(rc.attempt(), 0);
});

test('a retry hint sets the backoff base', () => {
  const rc = started();
  rc.handleRetryHint(200);
  rc.handleDisconnected(0, Disconnect.network());
  assert.equal(rc.pollTimeout(), 200);
});
