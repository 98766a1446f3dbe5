// The web UI in a real browser (Debian's Chromium, headless) against the real `sse-host serve`.
//
// Each test starts the servers it needs on free 127.0.0.1 ports and kills them at its end.
// Screenshots of every indicator state land in target/e2e-screenshots/.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  FIXTURE,
  freePort,
  getMessages,
  getState,
  indicator,
  launchBrowser,
  openPage,
  screenshot,
  startPrefixProxy,
  startServer,
  startStandIn,
  tempDir,
  timeline,
  waitFor,
  waitForStatus,
  withCleanup,
} from './support.js';

/** The demo agent at a brisk pace (a turn takes about half a second). */
const FAST_DEMO = ['--demo', '--demo-step', '150ms'];

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

/** Sends a chat from the page and waits until the agent's turn has ended. */
async function chatTurn(page, text) {
  const turnsBefore = await page.locator('#timeline > li.end-of-turn').count();
  await page.fill('#composer-input', text);
  await page.press('#composer-input', 'Enter');
  await page.locator('#timeline > li[data-type="user"]', { hasText: text }).waitFor({ timeout: 5000 });
  await waitFor(async () => (await page.locator('#timeline > li.end-of-turn').count()) > turnsBefore, {
    timeoutMs: 20_000,
    what: `the agent's answer to "${text}"`,
  });
}

/** The timeline holds exactly the server's log: same indexes, in order, once each. */
async function assertMatchesServer(page, url) {
  const state = await getState(url);
  const serverMessages = await getMessages(url, state.message_count);
  const shown = await timeline(page);
  assert.deepEqual(
    shown.map((m) => m.idx),
    serverMessages.map((m) => m.idx),
    'the timeline shows every message of the log once, in order',
  );
  assert.deepEqual(
    shown.map((m) => m.idx),
    [...Array(state.message_count).keys()],
    'no duplicate, no gap',
  );
  for (const [i, m] of serverMessages.entries()) {
    if (m.type === 'user') assert.ok(shown[i].text.includes(m.content), `message ${i} is the server's`);
  }
  return shown;
}

test('the page loads against serve --demo and shows a live connection', async () => {
  await withCleanup(async (defer) => {
    const server = await startServer({ args: [...FAST_DEMO, '--data-dir', tempDir()] });
    defer(() => server.kill());
    const page = await openPage(browser, server.url);
    defer(() => page.close());

    await waitForStatus(page, 'connected', 'Connected');
    const ind = await indicator(page);
    assert.match(ind.label, /connected/i);
    assert.equal(ind.title, 'Connected');
    assert.ok(!(await page.title()).includes('Offline'));
    assert.equal(await page.isEnabled('#composer-input'), true);
    await assertMatchesServer(page, server.url);
    assert.deepEqual(page.errors, []);
    await screenshot(page, 'connected');
  });
});

test('a chat message streams a whole turn into the timeline', async () => {
  await withCleanup(async (defer) => {
    const server = await startServer({ args: [...FAST_DEMO, '--data-dir', tempDir()] });
    defer(() => server.kill());
    const page = await openPage(browser, server.url);
    defer(() => page.close());
    await waitForStatus(page, 'connected');

    // While the turn runs, the agent's activity is shown and Stop is offered.
    const sawWorking = page.waitForSelector('#agent[data-activity="model"], #agent[data-activity="tool"]');
    await chatTurn(page, 'Please refactor the parser');
    await sawWorking;
    assert.equal(await page.textContent('#agent-label'), 'Waiting for you');
    await chatTurn(page, 'Now run the tests');
    await chatTurn(page, 'And show me the sources'); // the demo's third turn has a long output
    await assertMatchesServer(page, server.url);
    const types = (await timeline(page)).map((m) => m.type);
    assert.ok(types.includes('agent') && types.includes('tool'), `types shown: ${types}`);

    // Usage and cost come from State.
    const { total_usage: usage } = await getState(server.url);
    assert.ok(usage.total_cost_usd > 0);
    assert.equal(await page.textContent('#usage-cost'), `$${usage.total_cost_usd.toFixed(2)}`);
    assert.notEqual(await page.textContent('#usage-in'), '0');

    // The long output is folded; open it for the picture.
    const long = page.locator('#timeline > li[data-type="tool"]').last();
    await long.locator('summary').click();
    assert.match(await long.locator('.fold-toggle').textContent(), /^Show all/);
    await page.setViewportSize({ width: 1100, height: 1040 });
    await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
    // The sticky bars cover the scrolled timeline: they must be opaque, or it shows through.
    for (const bar of ['.topbar', '.composer']) {
      const bg = await page.evaluate((sel) => getComputedStyle(document.querySelector(sel)).backgroundColor, bar);
      assert.match(bg, /^rgb\(/, `${bar} background ${bg} is not opaque`);
    }
    assert.deepEqual(page.errors, []);
    await screenshot(page, 'conversation');
  });
});

test('Stop cancels the running turn', async () => {
  await withCleanup(async (defer) => {
    const server = await startServer({ args: ['--demo', '--memory', '--demo-step', '3s'] });
    defer(() => server.kill());
    const page = await openPage(browser, server.url);
    defer(() => page.close());
    await waitForStatus(page, 'connected');
    assert.equal(await page.isDisabled('#stop'), true, 'nothing to stop yet');

    await page.fill('#composer-input', 'A long job');
    await page.press('#composer-input', 'Enter');
    await page.waitForSelector('#stop:not([disabled])');
    const [cancel] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/cancel') && r.request().method() === 'POST'),
      page.click('#stop'),
    ]);
    assert.equal(cancel.status(), 200);
    await page.locator('#timeline > li[data-type="error"]').waitFor({ timeout: 5000 });
    await page.waitForSelector('#agent[data-activity="waiting"]');
    assert.equal(await page.isDisabled('#stop'), true);
    await assertMatchesServer(page, server.url);
  });
});

test('killing the server turns the indicator red; a restart resumes with no duplicate and no gap', async () => {
  await withCleanup(async (defer) => {
    const dataDir = tempDir();
    const port = await freePort();
    let server = await startServer({ port, args: [...FAST_DEMO, '--data-dir', dataDir] });
    defer(() => server.kill());
    const page = await openPage(browser, server.url);
    defer(() => page.close());
    await waitForStatus(page, 'connected');
    await chatTurn(page, 'First question');
    const before = await assertMatchesServer(page, server.url);

    await server.kill('SIGKILL');
    // The broken stream is a lost connection; the attempts after it find nobody listening.
    await waitForStatus(page, 'disconnected');
    const ind = await indicator(page);
    assert.match(ind.label, /^Network status: Disconnected\. (Connection lost|Server unreachable)$/);
    assert.match(ind.title, /Connection lost|Server unreachable/);
    assert.match(await page.title(), /^⚠ Offline/);
    assert.match(await page.textContent('#net-countdown'), /^reconnecting in \d+s$/);
    assert.equal(await page.isVisible('#net-retry'), true);
    assert.equal(await page.isDisabled('#composer-input'), true);
    assert.match(await page.textContent('#composer-note'), /^Not connected \((Connection lost|Server unreachable)\)/);
    await screenshot(page, 'disconnected');

    server = await startServer({ port, args: [...FAST_DEMO, '--data-dir', dataDir] });
    // Do not wait out the backoff: "Retry now" (or the next attempt, if it came first).
    await page.click('#net-retry').catch(() => {});
    await waitForStatus(page, 'connected');
    assert.ok(!(await page.title()).includes('Offline'));
    const after = await assertMatchesServer(page, server.url);
    assert.deepEqual(after.slice(0, before.length), before, 'the timeline continued unchanged');

    await chatTurn(page, 'Second question');
    await assertMatchesServer(page, server.url);
    assert.deepEqual(page.errors, []);
  });
});

test('a restart with a new, shorter log clears the timeline and reloads it', async () => {
  await withCleanup(async (defer) => {
    const port = await freePort();
    let server = await startServer({ port, args: [...FAST_DEMO, '--data-dir', tempDir()] });
    defer(() => server.kill());
    const page = await openPage(browser, server.url);
    defer(() => page.close());
    await waitForStatus(page, 'connected');
    await chatTurn(page, 'A question for the old log');
    const oldEpoch = (await getState(server.url)).epoch;

    await server.kill('SIGKILL');
    await waitForStatus(page, 'disconnected');
    server = await startServer({ port, args: [...FAST_DEMO, '--memory'] });
    const { epoch } = await getState(server.url);
    assert.notEqual(epoch, oldEpoch);
    await page.click('#net-retry').catch(() => {});
    await waitForStatus(page, 'connected');
    await waitFor(async () => (await page.evaluate(() => window.sseUi.epoch)) === epoch, {
      what: 'the new epoch',
    });
    await assertMatchesServer(page, server.url);
    assert.equal(await page.locator('#timeline', { hasText: 'A question for the old log' }).count(), 0);
    assert.deepEqual(page.errors, []);
  });
});

test('a restart with a new, longer log is noticed by its epoch and reloaded', async () => {
  await withCleanup(async (defer) => {
    // Prepare the replacement log first, with more messages than the page will have.
    const newDir = tempDir();
    let replacement = await startServer({ args: [...FAST_DEMO, '--data-dir', newDir] });
    defer(() => replacement.kill());
    const prep = await openPage(browser, replacement.url);
    await waitForStatus(prep, 'connected');
    for (const q of ['New log one', 'New log two', 'New log three']) await chatTurn(prep, q);
    await prep.close();
    const newState = await getState(replacement.url);
    await replacement.kill();

    const port = await freePort();
    const server = await startServer({ port, args: [...FAST_DEMO, '--memory'] });
    defer(() => server.kill());
    const page = await openPage(browser, server.url);
    defer(() => page.close());
    await waitForStatus(page, 'connected');
    await chatTurn(page, 'Old log question');
    const shownBefore = (await timeline(page)).length;
    assert.ok(shownBefore <= newState.message_count, 'the new log is the longer one');

    await server.kill('SIGKILL');
    await waitForStatus(page, 'disconnected');
    replacement = await startServer({ port, args: [...FAST_DEMO, '--data-dir', newDir] });
    await page.click('#net-retry').catch(() => {});
    await waitForStatus(page, 'connected');
    await waitFor(async () => (await page.evaluate(() => window.sseUi.epoch)) === newState.epoch, {
      what: 'the new epoch',
    });
    await waitFor(async () => (await timeline(page)).length === newState.message_count, {
      what: 'the new log in full',
    });
    await assertMatchesServer(page, replacement.url);
    assert.equal(await page.locator('#timeline', { hasText: 'Old log question' }).count(), 0);
    assert.deepEqual(page.errors, []);
  });
});

test('the UI works under a path prefix behind a proxy', async () => {
  await withCleanup(async (defer) => {
    const server = await startServer({ args: [...FAST_DEMO, '--memory'] });
    defer(() => server.kill());
    const proxy = await startPrefixProxy(server.url, '/team/agent-1/');
    defer(() => proxy.close());
    const page = await openPage(browser, proxy.url);
    defer(() => page.close());
    await waitForStatus(page, 'connected');
    await chatTurn(page, 'Hello through the proxy');
    await assertMatchesServer(page, server.url);
    assert.deepEqual(page.errors, []);
  });
});

test('a server that stops sending heartbeats trips the watchdog', async () => {
  await withCleanup(async (defer) => {
    const server = await startServer({ args: ['--demo', '--memory', '--heartbeat', '1h'] });
    defer(() => server.kill());
    const page = await openPage(browser, `${server.url}?watchdog_ms=1500`);
    defer(() => page.close());
    await waitForStatus(page, 'connected');
    await waitForStatus(page, 'disconnected', 'Connection timed out (no heartbeat)', 6000);
    const ind = await indicator(page);
    assert.equal(ind.label, 'Network status: Disconnected. Connection timed out (no heartbeat)');
    assert.match(await page.title(), /^⚠ Offline/);
    await screenshot(page, 'no-heartbeat');
    // It comes back by itself after the backoff.
    await waitForStatus(page, 'connected', 'Connected', 6000);
  });
});

test('a stream that never answers shows connecting, then times out', async () => {
  await withCleanup(async (defer) => {
    const standIn = await startStandIn('hang');
    defer(() => standIn.close());
    const page = await openPage(browser, `${standIn.url}?connect_timeout_ms=2000`);
    defer(() => page.close());
    await waitForStatus(page, 'connecting', 'Connecting...');
    assert.equal(await page.isDisabled('#composer-input'), true);
    assert.match(await page.textContent('#composer-note'), /connecting/i);
    await screenshot(page, 'connecting');
    await waitForStatus(page, 'disconnected', 'Connection timed out', 5000);
  });
});

test('an HTTP 404 on the stream disables the client; a 503 is retried', async () => {
  await withCleanup(async (defer) => {
    const gone = await startStandIn('status:404');
    defer(() => gone.close());
    const page = await openPage(browser, gone.url);
    defer(() => page.close());
    await waitForStatus(page, 'disabled', 'HTTP 404');
    assert.equal(await page.isVisible('#net-retry'), false);

    const busy = await startStandIn('status:503');
    defer(() => busy.close());
    const page2 = await openPage(browser, busy.url);
    defer(() => page2.close());
    await waitForStatus(page2, 'disconnected', 'HTTP 503');
    assert.equal(await page2.isVisible('#net-retry'), true);
  });
});

test('a session that ended disables the client and the chat box', async () => {
  await withCleanup(async (defer) => {
    const server = await startServer({ args: [...FAST_DEMO, '--memory'] });
    defer(() => server.kill());
    const page = await openPage(browser, server.url);
    defer(() => page.close());
    await waitForStatus(page, 'connected');
    await chatTurn(page, 'One last thing');

    // The agent ends the session (through the agent API).
    const res = await fetch(`${server.url}api/state`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ session_ended: true, session_ended_message: 'The agent finished.' }),
    });
    assert.equal(res.status, 200);
    await waitForStatus(page, 'disabled', 'Session ended');
    assert.equal((await indicator(page)).label, 'Network status: Disabled. Session ended');
    assert.equal(await page.isDisabled('#composer-input'), true);
    assert.match(await page.textContent('#composer-note'), /The agent finished/);
    assert.equal(await page.textContent('#agent-label'), 'Session ended');
    assert.ok(!(await page.title()).includes('Offline'));
    assert.equal(await page.isVisible('#net-retry'), false);
    await assertMatchesServer(page, server.url);
    await screenshot(page, 'session-ended');

    // It stays stopped, and a page opened now still gets the whole conversation.
    await page.waitForTimeout(1500);
    assert.equal((await indicator(page)).status, 'disabled');
    const late = await openPage(browser, server.url);
    defer(() => late.close());
    await waitForStatus(late, 'disabled', 'Session ended');
    await assertMatchesServer(late, server.url);
    assert.deepEqual([...page.errors, ...late.errors], []);
  });
});

test('the timeline folds tool runs and long output, and shows text as text', async () => {
  await withCleanup(async (defer) => {
    const standIn = await startStandIn('fixture');
    defer(() => standIn.close());
    const page = await openPage(browser, standIn.url);
    defer(() => page.close());
    await page.locator('#timeline > li').nth(FIXTURE.length - 1).waitFor();
    assert.deepEqual(
      (await timeline(page)).map((m) => m.type),
      FIXTURE.map((m) => m.type),
    );

    // Server text is never markup.
    const user = page.locator('#timeline > li[data-type="user"]');
    assert.match(await user.textContent(), /<img src=x onerror=/);
    assert.equal(await user.locator('img, b').count(), 0);
    assert.equal(await page.evaluate(() => window.pwned), undefined);

    // Tool runs start collapsed; the failed one says so.
    const [ok, failed] = [0, 1].map((i) => page.locator('#timeline > li[data-type="tool"]').nth(i));
    assert.equal(await ok.locator('details').getAttribute('open'), null);
    assert.equal(await ok.locator('.badge').textContent(), 'done');
    assert.equal(await failed.locator('.badge').textContent(), 'failed');
    assert.match(await failed.getAttribute('class'), /failed/);

    // Long output is folded until asked for.
    await ok.locator('summary').click();
    const output = ok.locator('.fold').last();
    const shownLines = async () => (await output.locator('pre').textContent()).split('\n').length;
    assert.ok((await shownLines()) < 300);
    const toggle = output.locator('.fold-toggle');
    assert.match(await toggle.textContent(), /Show all \(300 lines/);
    assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
    await toggle.click();
    assert.equal(await shownLines(), 300);
    assert.equal(await toggle.getAttribute('aria-expanded'), 'true');

    const error = page.locator('#timeline > li[data-type="error"]');
    assert.match(await error.textContent(), /overloaded/);
    assert.deepEqual(page.errors, []);
  });
});

test('download saves the whole conversation', async () => {
  await withCleanup(async (defer) => {
    const server = await startServer({ args: [...FAST_DEMO, '--memory'] });
    defer(() => server.kill());
    const page = await openPage(browser, server.url);
    defer(() => page.close());
    await waitForStatus(page, 'connected');
    await chatTurn(page, 'Something worth keeping');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    const file = await download.path();
    const { readFile } = await import('node:fs/promises');
    const body = JSON.parse(await readFile(file, 'utf8'));
    const messages = Array.isArray(body) ? body : body.messages;
    assert.ok(Array.isArray(messages), 'the download holds the messages');
    assert.equal(messages.length, (await timeline(page)).length);
  });
});
