// A server that comes back with another, long history (a new epoch): the page's reset starts
// its session again at the newest window (host/web/app.js, restartAtWindow), so the 2 000
// messages are not all replayed and drawn.

import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import {
  RECORDER,
  contiguous,
  conversation,
  getState,
  idle,
  launchBrowser,
  startServerWith,
  timeline,
  waitFor,
  waitForStatus,
  withCleanup,
} from './support.js';

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

/**
 * A TCP forwarder on 127.0.0.1 whose target can be switched: `switchTo(port)` cuts every
 * connection and sends new ones to `port` (a server "coming back" already holding its log).
 */
async function forwarder(port) {
  let target = port;
  const sockets = new Set();
  const server = net.createServer((client) => {
    const upstream = net.connect(target, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}/`,
    switchTo(next) {
      target = next;
      for (const s of sockets) s.destroy();
    },
    close: () => new Promise((r) => server.close(r)),
  };
}

test('a reset into another long log starts again at its newest window, not at its first message', async () => {
  await withCleanup(async (defer) => {
    const N = 2000;
    const first = await startServerWith(conversation(5, { size: 0.1 }));
    defer(() => first.kill());
    const second = await startServerWith(conversation(N, { size: 0.1 }));
    defer(() => second.kill());
    const { epoch } = await getState(second.url);
    const proxy = await forwarder(first.port);
    defer(() => proxy.close());

    const page = await browser.newPage();
    defer(() => page.close());
    page.errors = [];
    page.on('pageerror', (e) => page.errors.push(e.message));
    await page.addInitScript(RECORDER);
    const streams = [];
    page.on('request', (r) => {
      if (new URL(r.url()).pathname === '/stream') streams.push(r.headers()['last-event-id']);
    });
    await page.goto(`${proxy.url}?backoff_ms=200`);
    await waitForStatus(page, 'connected');
    await waitFor(async () => (await timeline(page)).length === 5, { what: 'the first log' });
    await page.evaluate(() => {
      window.drawn = [];
    });

    // The server comes back with another history of 2 000 messages.
    proxy.switchTo(second.port);
    await waitFor(async () => (await contiguous(page)).at(-1) === N - 1, { what: 'the newest message', timeoutMs: 20_000 }).catch(async (e) => {
      const idx = (await timeline(page)).map((m) => m.idx);
      const st = await page.evaluate(() => JSON.stringify(window.sseUi.follow?.status()));
      throw new Error(`${e.message}; streams ${streams.join(', ')}; shown ${idx.length}: ${idx.slice(0, 3)}..${idx.slice(-3)}; status ${st}; errors ${page.errors}`);
    });
    await waitFor(() => idle(page), { what: 'drawing to settle' });
    const drawn = await page.evaluate(() => window.drawn);
    assert.ok(Math.min(...drawn) >= N - 200, `only the newest window was drawn after the reset (lowest ${Math.min(...drawn)})`);
    // The reset came on the reconnect (the old epoch's id); the next request is the window's.
    assert.equal(streams.at(-1), `${epoch}-${N - 201}`, `stream requests: ${streams.join(', ')}`);
    assert.equal((await contiguous(page))[0], N - 200);
    assert.deepEqual(page.errors, []);
  });
});
