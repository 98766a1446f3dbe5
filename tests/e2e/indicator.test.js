// The connection indicator says why it is not connected (issue 13): the server closed the
// stream, the connection broke, the server is unreachable, the browser is offline, the
// heartbeat stopped, or an HTTP status. The reason is sse-core's (through the wasm session);
// each one must read differently.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  indicator,
  launchBrowser,
  openPage,
  screenshot,
  startServer,
  startStandIn,
  waitForStatus,
} from './support.js';

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

/** What the user sees: the label, the tooltip, the composer's note. */
async function shown(page) {
  const ind = await indicator(page);
  return {
    ...ind,
    text: await page.textContent('#net-label'),
    note: await page.textContent('#composer-note'),
  };
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
    await waitForStatus(page, 'disconnected', 'Server closed the stream');
    const s = await shown(page);
    assert.equal(s.text, 'Server closed the stream');
    assert.equal(s.label, 'Network status: Disconnected. Server closed the stream');
    assert.match(s.title, /^Disconnected: Server closed the stream\. The server ended the stream/);
    assert.match(s.note, /^Not connected \(Server closed the stream\), so messages can't be sent/);
    assert.equal(await page.isVisible('#net-retry'), true);
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
    await waitForStatus(page, 'disconnected', 'Connection lost');
    const s = await shown(page);
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
    await waitForStatus(page, 'disconnected', 'Server unreachable', 10_000);
    let s = await shown(page);
    assert.equal(s.text, 'Server unreachable');
    assert.match(s.title, /could not be reached/);
    assert.match(s.note, /^Not connected \(Server unreachable\)/);
    distinct('a refused connection', s);
    await screenshot(page, 'unreachable');

    // The browser knows it is offline: the same core reason, said as what it is.
    await browser.setOffline(true);
    try {
      await page.waitForSelector('#net-label:text-is("You\'re offline")', { timeout: 10_000 });
      s = await shown(page);
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

    await waitForStatus(silent, 'disconnected', 'Connection timed out (no heartbeat)', 6000);
    let s = await shown(silent);
    assert.match(s.title, /not even a heartbeat/);
    distinct('the watchdog', s);

    await waitForStatus(slow, 'disconnected', 'Connection timed out', 6000);
    s = await shown(slow);
    assert.match(s.title, /did not answer in time/);
    distinct('the connect timeout', s);

    await waitForStatus(p503, 'disconnected', 'HTTP 503');
    s = await shown(p503);
    assert.equal(s.text, 'Server answered HTTP 503');
    assert.match(s.note, /^Not connected \(Server answered HTTP 503\)/);
    distinct('a 503', s);

    await waitForStatus(p404, 'disabled', 'HTTP 404');
    s = await shown(p404);
    assert.equal(s.text, 'Server answered HTTP 404');
    assert.match(s.note, /Reload the page/);
    distinct('a 404', s);
    for (const page of pages) assert.deepEqual(page.errors, []);
  } finally {
    for (const page of pages) await page.close().catch(() => {});
    await Promise.all([server.kill(), hang.close(), busy.close(), gone.close()]);
  }
});
