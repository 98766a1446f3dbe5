// Chromium's own EventSource (not the web UI's client) against the real `sse-host serve`: once
// the agent ends the session, the stream ends with `session_ended`, the browser's automatic
// reconnect is answered 204 and the EventSource closes: at most 2 `/stream` requests in all,
// not one per second forever (docs/PROTOCOL.md §2).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launchBrowser, sleep, startServer, waitFor } from './support.js';

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

async function call(url, method, path, body) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.ok(res.ok, `${method} ${path}: HTTP ${res.status} ${await res.text()}`);
}

test("Chromium's EventSource stops reconnecting after the session ended", async () => {
  const server = await startServer({ args: ['--memory'] });
  const page = await browser.newPage();
  try {
    await call(server.url, 'POST', 'api/messages', { type: 'agent', content: 'last words' });
    const streams = [];
    page.on('request', (req) => {
      if (new URL(req.url()).pathname === '/stream') streams.push(req.url());
    });
    // A same-origin page without the web UI (which has its own client): the JSON of /state.
    await page.goto(`${server.url}state`);
    await page.evaluate(() => {
      window.seen = [];
      const es = new EventSource('/stream');
      window.es = es;
      for (const type of ['state', 'message', 'session_ended', 'reset']) {
        es.addEventListener(type, (e) => window.seen.push({ type, id: e.lastEventId }));
      }
    });
    await waitFor(() => page.evaluate(() => window.seen.some((e) => e.type === 'message')), {
      what: 'the message',
    });
    await call(server.url, 'PATCH', 'api/state', { session_ended: true });
    await sleep(5000);
    const { seen, readyState } = await page.evaluate(() => ({
      seen: window.seen,
      readyState: window.es.readyState,
    }));
    assert.ok(seen.some((e) => e.type === 'session_ended'), JSON.stringify(seen));
    assert.ok(streams.length >= 1, "the EventSource request is seen");
    assert.ok(streams.length <= 2, `${streams.length} /stream requests: ${streams.join(' ')}`);
    assert.equal(readyState, 2, 'the EventSource is CLOSED');
  } finally {
    await page.close().catch(() => {});
    await server.kill();
  }
});
