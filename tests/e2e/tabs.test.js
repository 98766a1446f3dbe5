// Many tabs of the UI in one browser share one stream (host/web/share.js): a browser opens at
// most 6 HTTP/1.1 connections per host, so 8 tabs each with its own `/stream` could not all be
// live. One tab leads (Web Locks) and relays its session over a BroadcastChannel; the server
// sees one subscriber (its `/metrics`), and closing the leader hands the stream to another tab
// with no message lost or shown twice.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  freePort,
  getMessages,
  getState,
  launchBrowser,
  openPage,
  startServer,
  startStandIn,
  tempDir,
  timeline,
  waitFor,
  waitForStatus,
} from './support.js';

const TABS = 8;

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

/** A value of `/metrics`. */
async function metric(url, name) {
  const text = await (await fetch(`${url}metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

async function publish(url, content) {
  const res = await fetch(`${url}api/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'agent', content }),
  });
  assert.equal(res.status, 200, `publish: HTTP ${res.status}`);
  return (await res.json()).idx;
}

const roles = (pages) => Promise.all(pages.map((p) => p.evaluate(() => window.sseUi.role)));

/** Every page shows exactly the server's log: each index once, in order. */
async function assertAllMatchServer(pages, url) {
  const { message_count: count } = await getState(url);
  const log = await getMessages(url, count);
  for (const [i, page] of pages.entries()) {
    await waitFor(async () => (await timeline(page)).length >= count, {
      what: `tab ${i} showing ${count} messages`,
    });
    const shown = await timeline(page);
    assert.deepEqual(
      shown.map((m) => m.idx),
      [...Array(count).keys()],
      `tab ${i}: every message once, in order`,
    );
    for (const [k, m] of log.entries()) {
      assert.ok(shown[k].text.includes(m.content), `tab ${i}, message ${k} is the server's`);
    }
  }
  return count;
}

test('eight tabs share one stream: all live, chat from several, one connection, handover', async () => {
  const started = Date.now();
  const port = await freePort();
  const dataDir = tempDir();
  let server = await startServer({ port, args: ['--data-dir', dataDir] });
  const pages = [];
  try {
    // Half the tabs open at once on an empty log (an election among them), half at once on a
    // log with history (loaded, not streamed).
    const openBatch = async () => {
      const batch = await Promise.all(
        Array.from({ length: TABS / 2 }, () => openPage(browser, server.url)),
      );
      pages.push(...batch);
      await Promise.all(batch.map((page) => waitForStatus(page, 'connected', 'Connected')));
    };
    await openBatch();
    await publish(server.url, 'Before the late tabs');
    await publish(server.url, 'Also before them');
    await openBatch();
    const r = await roles(pages);
    assert.equal(r.filter((x) => x === 'leader').length, 1, `roles: ${r}`);
    assert.equal(r.filter((x) => x === 'follower').length, TABS - 1, `roles: ${r}`);
    assert.equal(await metric(server.url, 'sse_subscribers'), 1, 'one stream for all tabs');
    assert.equal(await metric(server.url, 'sse_subscribers_total'), 1, 'opened once');

    // A published message reaches every tab.
    await publish(server.url, 'Live to all tabs');
    await assertAllMatchServer(pages, server.url);
    // Followers announce what arrives live, as the leader does, and not the history they loaded.
    for (const [i, page] of pages.entries()) {
      await waitFor(async () => (await page.textContent('#announce')).includes('Live to all tabs'), {
        what: `tab ${i} announcing the live message`,
      });
      if (i >= TABS / 2) assert.ok(!(await page.textContent('#announce')).includes('Before the late tabs'));
    }

    // Chat from several tabs (followers and the leader): each appears in all.
    const from = [...new Set([1, 4, TABS - 1, r.indexOf("leader")])];
    for (const i of from) {
      await pages[i].fill('#composer-input', `Hello from tab ${i}`);
      await pages[i].press('#composer-input', 'Enter');
    }
    for (const page of pages) {
      for (const i of from) {
        await page.locator('#timeline > li[data-type="user"]', { hasText: `Hello from tab ${i}` }).waitFor();
      }
    }
    await assertAllMatchServer(pages, server.url);

    // The leader tab closes while messages are being published: another tab takes over,
    // resuming where the shared stream was.
    const leader = r.indexOf('leader');
    const publishing = (async () => {
      for (let k = 0; k < 12; k += 1) {
        await publish(server.url, `During the handover ${k}`);
        await new Promise((res) => setTimeout(res, 15));
      }
    })();
    await new Promise((res) => setTimeout(res, 40));
    await pages[leader].close();
    pages.splice(leader, 1);
    await publishing;
    await waitFor(async () => (await roles(pages)).includes('leader'), { what: 'a new leader' });
    await waitFor(async () => (await metric(server.url, 'sse_subscribers_total')) === 2, {
      what: 'the new leader stream',
    });
    await publish(server.url, 'After the handover');
    await assertAllMatchServer(pages, server.url);
    assert.equal((await roles(pages)).filter((x) => x === 'leader').length, 1);
    await waitFor(async () => (await metric(server.url, 'sse_subscribers')) === 1, {
      what: 'one stream again',
    });

    // The server goes away: every tab says why, as the leader's session does, and all come
    // back with it.
    await server.kill('SIGKILL');
    for (const page of pages) await waitForStatus(page, 'disconnected', 'Server unreachable');
    server = await startServer({ port, args: ['--data-dir', dataDir] });
    // Do not wait out the backoff (if the next attempt has not come first).
    await pages[(await roles(pages)).indexOf('follower')].click('#net-retry', { timeout: 2000 }).catch(() => {});
    for (const page of pages) await waitForStatus(page, 'connected', 'Connected');
    await publish(server.url, 'Back after the restart');
    const count = await assertAllMatchServer(pages, server.url);

    // A relay that repeats a message (a new leader resuming a little behind the last relay of
    // the old one) is not drawn twice, and one past a gap is not drawn at all.
    await pages[0].evaluate((n) => {
      const ch = new BroadcastChannel(`sse-ui:${location.pathname}`);
      const out = (idx) => ({ type: 'message', idx, data: JSON.stringify({ type: 'agent', content: `replayed ${idx}` }), truncated: false });
      ch.postMessage({ t: 'out', from: 'test', out: out(n - 1), next: n });
      ch.postMessage({ t: 'out', from: 'test', out: out(n + 1), next: n + 2 });
      ch.close();
    }, count);
    await publish(server.url, 'After the replays');
    await assertAllMatchServer(pages, server.url);
    assert.equal(await metric(server.url, 'sse_subscribers'), 1);
    for (const page of pages) assert.deepEqual(page.errors, []);
  } finally {
    for (const page of pages) await page.close().catch(() => {});
    await server.kill();
    console.log(`# tabs test: ${Date.now() - started} ms`);
  }
});

test('"Retry now" in a follower tab asks the leader to reconnect', async () => {
  const busy = await startStandIn('status:503'); // no `retry:`: the page's backoff holds
  const pages = [];
  try {
    for (let i = 0; i < 2; i += 1) {
      const page = await openPage(browser, `${busy.url}?backoff_ms=60000`);
      pages.push(page);
      await waitForStatus(page, 'disconnected', 'HTTP 503');
    }
    const r = await roles(pages);
    assert.deepEqual([...r].sort(), ['follower', 'leader']);
    const follower = pages[r.indexOf('follower')];
    assert.equal(busy.streamRequests(), 1, 'one stream request for both tabs');
    assert.match(await follower.textContent('#net-countdown'), /^reconnecting in (59|60)s$/);
    await follower.click('#net-retry');
    await waitFor(() => busy.streamRequests() === 2, { what: "the leader's retry", timeoutMs: 5000 });
    for (const page of pages) assert.deepEqual(page.errors, []);
  } finally {
    for (const page of pages) await page.close().catch(() => {});
    await busy.close();
  }
});

test('a follower wakes a leader whose timers the browser throttles', async () => {
  const busy = await startStandIn('status:503');
  const pages = [];
  try {
    // The leader is a background tab: its long timers never fire (as after Chrome's intensive
    // throttling); only the wake-ups of the visible follower run its session's timer.
    const leader = await browser.newPage();
    pages.push(leader);
    leader.errors = [];
    leader.on('pageerror', (e) => leader.errors.push(e.message));
    await leader.addInitScript(() => {
      const real = window.setTimeout;
      window.setTimeout = (fn, ms, ...args) => (ms >= 100 ? 0 : real(fn, ms, ...args));
    });
    await leader.goto(`${busy.url}?backoff_ms=300`);
    await waitForStatus(leader, 'disconnected', 'HTTP 503');
    assert.equal(await leader.evaluate(() => window.sseUi.role), 'leader');
    const follower = await openPage(browser, `${busy.url}?backoff_ms=300`);
    pages.push(follower);
    await waitForStatus(follower, 'disconnected', 'HTTP 503');
    await waitFor(() => busy.streamRequests() >= 3, { what: 'retries woken by the follower', timeoutMs: 8000 });
    for (const page of pages) assert.deepEqual(page.errors, []);
  } finally {
    for (const page of pages) await page.close().catch(() => {});
    await busy.close();
  }
});

test('without Web Locks, or refused the lock, each tab runs its own stream, as before', async () => {
  const server = await startServer({ args: ['--memory'] });
  const pages = [];
  try {
    for (let i = 0; i < 2; i += 1) {
      const page = await browser.newPage();
      page.errors = [];
      page.on('pageerror', (e) => page.errors.push(e.message));
      // One browser without the API, one that refuses the lock (as a sandboxed page would).
      await page.addInitScript(
        (refuse) => {
          if (!refuse) Object.defineProperty(Navigator.prototype, 'locks', { get: () => undefined });
          else LockManager.prototype.request = () => Promise.reject(new DOMException('refused', 'SecurityError'));
        },
        i === 1,
      );
      await page.goto(server.url);
      pages.push(page);
      await waitForStatus(page, 'connected', 'Connected');
    }
    assert.deepEqual(await roles(pages), ['solo', 'solo']);
    assert.equal(await metric(server.url, 'sse_subscribers'), 2);
    await publish(server.url, 'To both');
    await assertAllMatchServer(pages, server.url);
    for (const page of pages) assert.deepEqual(page.errors, []);
  } finally {
    for (const page of pages) await page.close().catch(() => {});
    await server.kill();
  }
});
