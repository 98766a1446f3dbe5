// Browser security of `sse-host serve` in a real Chromium: a page of another origin cannot write
// (CSRF), and the UI itself still works when a token protects reads and writes.

import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';
import {
  bearer,
  getMessages,
  getState,
  indicator,
  launchBrowser,
  openPage,
  startServer,
  tempDir,
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

/** A page on another origin (another port of 127.0.0.1) that the attack runs from. */
async function startForeignSite() {
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>elsewhere</title><p>another site</p>');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}/`,
    close: () =>
      new Promise((r) => {
        server.close(r);
        server.closeAllConnections(); // the browser keeps its connection alive
      }),
  };
}

test('a page of another origin cannot chat, forge messages or cancel', async () => {
  const server = await startServer({ args: ['--memory'] });
  const site = await startForeignSite();
  try {
    const page = await openPage(browser, site.url);
    const target = server.url;
    // What a hostile page can send without a CORS preflight (no-cors, text/plain), and what it
    // could send if the server granted CORS (JSON, which needs a preflight we never grant).
    const outcomes = await page.evaluate(async (base) => {
      const out = [];
      const attempts = [
        ['chat', { message: 'pwned' }],
        ['api/messages', { type: 'agent', content: 'forged' }],
        ['cancel', {}],
        ['restart', {}],
      ];
      for (const [path, body] of attempts) {
        for (const contentType of ['text/plain', 'application/json']) {
          for (const mode of ['no-cors', 'cors']) {
            try {
              const res = await fetch(base + path, {
                method: 'POST',
                mode,
                headers: { 'Content-Type': contentType },
                body: JSON.stringify(body),
              });
              out.push(`${path} ${contentType} ${mode}: ${res.type} ${res.status}`);
            } catch (e) {
              out.push(`${path} ${contentType} ${mode}: ${e.name}`);
            }
          }
        }
      }
      return out;
    }, target);
    assert.equal(outcomes.length, 16, outcomes.join('\n'));
    // Nothing was written: no message, no inbox command.
    const state = await getState(target);
    assert.equal(state.message_count, 0, `written despite: ${outcomes.join('\n')}`);
    assert.deepEqual(await getMessages(target, 10), []);
    const inbox = await fetch(`${target}api/inbox`, { signal: AbortSignal.timeout(1000) })
      .then(async (res) => {
        const reader = res.body.getReader();
        const chunk = await Promise.race([
          reader.read(),
          new Promise((r) => setTimeout(() => r({ value: new Uint8Array() }), 500)),
        ]);
        reader.cancel().catch(() => {});
        return new TextDecoder().decode(chunk.value ?? new Uint8Array());
      })
      .catch(() => '');
    assert.ok(!/event: (chat|cancel|restart)/.test(inbox), `inbox got: ${inbox}`);

    // The same request from the server's own page is accepted.
    const own = await openPage(browser, target);
    const status = await own.evaluate(async () => {
      const res = await fetch('api/messages', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ type: 'agent', content: 'same origin' }),
      });
      return res.status;
    });
    assert.equal(status, 200);
    assert.equal((await getState(target)).message_count, 1);
  } finally {
    await site.close();
    await server.kill();
  }
});

test('the UI works with --token protecting reads: stream, chat and download', async () => {
  const token = 'e2e-s3cret';
  const server = await startServer({
    args: ['--demo', '--demo-step', '150ms', '--data-dir', tempDir(), '--token', token],
    token,
  });
  try {
    // Reads are closed without the token.
    assert.equal((await fetch(`${server.url}state`)).status, 401);
    assert.equal((await fetch(`${server.url}stream`)).status, 401);
    const page = await openPage(browser, `${server.url}#token=${token}`);
    await waitForStatus(page, 'connected');
    assert.ok(!page.url().includes(token), 'the token is hidden from the address bar');
    await page.fill('#composer-input', 'hello with a token');
    await page.press('#composer-input', 'Enter');
    await page
      .locator('#timeline > li[data-type="user"]', { hasText: 'hello with a token' })
      .waitFor({ timeout: 10_000 });
    await page.locator('#timeline > li.end-of-turn').first().waitFor({ timeout: 20_000 });
    const state = await getState(server.url, token);
    assert.ok(state.message_count >= 2, JSON.stringify(state));
    const href = await page.locator('#download').getAttribute('href');
    const download = await fetch(new URL(href, server.url));
    assert.equal(download.status, 200, href);
    // A page without the token loads but cannot read.
    const anonymous = await openPage(browser, server.url);
    await waitFor(
      async () => !['connected', 'connecting'].includes((await indicator(anonymous)).status),
      { what: 'the anonymous page giving up' },
    );
    const shown = await indicator(anonymous);
    assert.deepEqual([shown.status, shown.reason], ['disabled', 'HTTP 401'], JSON.stringify(shown));
    // Tabs share one stream only with tabs that hold the same token (web/share.js).
    const second = await openPage(browser, `${server.url}#token=${token}`);
    await waitForStatus(second, 'connected');
    const roles = await Promise.all([page, anonymous, second].map((p) => p.evaluate(() => window.sseUi.role)));
    assert.deepEqual(roles, ['leader', 'leader', 'follower']);
    await second.locator('#timeline > li[data-type="user"]', { hasText: 'hello with a token' }).waitFor();
    assert.equal((await fetch(`${server.url}messages`, { headers: bearer('wrong') })).status, 401);
    assert.deepEqual(page.errors, []);
  } finally {
    await server.kill();
  }
});
