// The connection indicator says why it is not connected (issue 13): the server closed the
// stream, the connection broke, the server is unreachable, the browser is offline, the
// heartbeat stopped, or an HTTP status. The reason is sse-core's (through the wasm session);
// each one must read differently.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  launchBrowser,
  openPage,
  screenshot,
  startServer,
  startStandIn,
  waitFor,
  waitForStatus,
} from './support.js';

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

/** What the user sees, read at one instant: the status, label, tooltip, the composer's note. */
function shownNow(page) {
  return page.evaluate(() => {
    const n = document.getElementById('net');
    return {
      status: n.dataset.status,
      reason: n.dataset.reason,
      label: n.getAttribute('aria-label'),
      title: n.title,
      text: document.getElementById('net-label').textContent,
      note: document.getElementById('composer-note').textContent,
      retryShown: !document.getElementById('net-retry').hidden,
    };
  });
}

/** Waits until the page shows `status` with core's `reason`; what it showed then. (A retrying
 *  page moves on to "connecting" soon after, so everything is read in one go.) */
function shown(page, status, reason, timeoutMs = 10_000) {
  return waitFor(
    async () => {
      const s = await shownNow(page);
      return s.status === status && s.reason === reason ? s : null;
    },
    { what: `${status}: ${reason}`, timeoutMs },
  );
}

const seen = new Map(); // label → the case that showed it

function distinct(what, s) {
  assert.ok(!seen.has(s.text), `"${s.text}" (${what}) is also what ${seen.get(s.text)} shows`);
  seen.set(s.text, what);
}

test('the server closing the stream is not a lost connection', async () => {
  const standIn = await startStandIn('end');
  const page = await openPage(browser, standIn.url);
  try {
    const s = await shown(page, 'disconnected', 'Server closed the stream');
    assert.equal(s.text, 'Server closed the stream');
    assert.equal(s.label, 'Network status: Disconnected. Server closed the stream');
    assert.match(s.title, /^Disconnected: Server closed the stream\. The server ended the stream/);
    assert.match(s.note, /^Not connected \(Server closed the stream\), so messages can't be sent/);
    assert.equal(s.retryShown, true);
    distinct('an ended body', s);
    await screenshot(page, 'server-closed');
    assert.deepEqual(page.errors, []);
  } finally {
    await page.close();
    await standIn.close();
  }
});

test('a connection that breaks mid-stream is lost', async () => {
  const standIn = await startStandIn('drop');
  const page = await openPage(browser, standIn.url);
  try {
    const s = await shown(page, 'disconnected', 'Connection lost');
    assert.equal(s.text, 'Connection lost');
    assert.match(s.title, /The network connection to the server broke/);
    assert.match(s.note, /^Not connected \(Connection lost\)/);
    distinct('a broken connection', s);
  } finally {
    await page.close();
    await standIn.close();
  }
});

test('a server that is gone is unreachable; a browser without network is offline', async () => {
  const server = await startServer({ args: ['--memory'] });
  const page = await openPage(browser, `${server.url}?backoff_ms=200`);
  try {
    await waitForStatus(page, 'connected');
    await server.kill('SIGKILL');
    // Whatever the broken stream said, the next attempt finds nobody listening.
    let s = await shown(page, 'disconnected', 'Server unreachable');
    assert.equal(s.text, 'Server unreachable');
    assert.match(s.title, /could not be reached/);
    assert.match(s.note, /^Not connected \(Server unreachable\)/);
    distinct('a refused connection', s);
    await screenshot(page, 'unreachable');

    // The browser knows it is offline: the same core reason, said as what it is.
    await browser.setOffline(true);
    try {
      s = await waitFor(
        async () => {
          const now = await shownNow(page);
          return now.text === "You're offline" ? now : null;
        },
        { what: "You're offline" },
      );
      assert.equal(s.reason, 'Server unreachable', "core's reason is kept");
      assert.match(s.note, /^You're offline/);
      distinct('no network', s);
    } finally {
      await browser.setOffline(false);
    }
    assert.deepEqual(page.errors, []);
  } finally {
    await page.close();
    await server.kill();
  }
});

test('no heartbeat, a connect timeout and HTTP statuses each say so', async () => {
  const server = await startServer({ args: ['--memory', '--heartbeat', '1h'] });
  const hang = await startStandIn('hang');
  const busy = await startStandIn('status:503');
  const gone = await startStandIn('status:404');
  const pages = [];
  try {
    const open = async (url) => {
      const page = await openPage(browser, url);
      pages.push(page);
      return page;
    };
    const silent = await open(`${server.url}?watchdog_ms=1000`);
    const slow = await open(`${hang.url}?connect_timeout_ms=1000`);
    const p503 = await open(busy.url);
    const p404 = await open(gone.url);

    let s = await shown(silent, 'disconnected', 'Connection timed out (no heartbeat)');
    assert.match(s.title, /not even a heartbeat/);
    distinct('the watchdog', s);

    s = await shown(slow, 'disconnected', 'Connection timed out');
    assert.match(s.title, /did not answer in time/);
    distinct('the connect timeout', s);

    s = await shown(p503, 'disconnected', 'HTTP 503');
    assert.equal(s.text, 'Server answered HTTP 503');
    assert.match(s.note, /^Not connected \(Server answered HTTP 503\)/);
    distinct('a 503', s);

    s = await shown(p404, 'disabled', 'HTTP 404');
    assert.equal(s.text, 'Server answered HTTP 404');
    assert.match(s.note, /Reload the page/);
    distinct('a 404', s);
    for (const page of pages) assert.deepEqual(page.errors, []);
  } finally {
    for (const page of pages) await page.close().catch(() => {});
    await Promise.all([server.kill(), hang.close(), busy.close(), gone.close()]);
  }
});
