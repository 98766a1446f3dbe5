// What users of an agent UI expect beyond the stream itself: contrast in both themes, a phone
// layout, announcements for screen readers that carry news and not the backlog, and getting the
// reader's attention when the agent waits for them.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { contrastFailures } from './contrast.js';
import {
  bearer,
  launchBrowser,
  screenshot,
  startServer,
  startStandIn,
  tempDir,
  waitFor,
  waitForStatus,
} from './support.js';

const FAST_DEMO = ['--demo', '--demo-step', '100ms'];

let browser;
let server;
before(async () => {
  browser = await launchBrowser();
  server = await startServer({ args: [...FAST_DEMO, '--data-dir', tempDir()] });
  // A backlog: one whole demo turn before any page opens.
  await chat(server.url, 'a turn before the page opened');
  await waitFor(async () => (await (await fetch(`${server.url}state`)).json()).message_count >= 4, {
    what: 'the first turn in the log',
  });
});
after(async () => {
  await server?.kill();
  await browser?.close();
});

async function chat(url, message) {
  const res = await fetch(`${url}chat`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...bearer() },
    body: JSON.stringify({ message }),
  });
  assert.equal(res.status, 200, await res.text());
}

/** A page in its own context (so emulation and init scripts stay with it). */
async function newPage(options = {}, init) {
  const context = await browser.browser().newContext(options);
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  if (init) await page.addInitScript(init);
  page.done = () => context.close();
  return page;
}

test('text has at least 4.5:1 contrast in the light and the dark theme', async () => {
  const standIn = await startStandIn('status:503');
  try {
    for (const colorScheme of ['light', 'dark']) {
      // A conversation with every kind of entry and the agent at work, then the indicator when
      // the server is gone.
      // Reduced motion: a message fading in is not a contrast failure.
      const page = await newPage({ colorScheme, reducedMotion: 'reduce' });
      await page.goto(server.url);
      await waitForStatus(page, 'connected');
      await chat(server.url, `contrast in the ${colorScheme} theme`);
      await page.locator('#timeline > li.end-of-turn').nth(1).waitFor();
      assert.deepEqual(await contrastFailures(page), [], `${colorScheme}: connected`);
      await screenshot(page, `theme-${colorScheme}`);

      await page.goto(standIn.url);
      await waitForStatus(page, 'disconnected');
      assert.deepEqual(await contrastFailures(page), [], `${colorScheme}: disconnected`);
      assert.deepEqual(page.errors, []);
      await page.done();
    }
  } finally {
    await standIn.close();
  }
});

const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };

test('at phone width the header is compact, the countdown shows and targets fit a finger', async () => {
  const page = await newPage(PHONE);
  await page.goto(server.url);
  await waitForStatus(page, 'connected');
  const header = await page.$eval('header', (h) => h.getBoundingClientRect().height);
  assert.ok(header <= 110, `header is ${header} px tall at 390 px (was 238)`);
  const small = await page.$$eval('button, a[href], textarea, summary', (els) =>
    els
      .filter((e) => e.offsetParent && !e.classList.contains('skip-link'))
      .map((e) => ({ what: e.id || e.className || e.tagName, ...e.getBoundingClientRect().toJSON() }))
      .filter((r) => r.width < 44 || r.height < 44),
  );
  assert.deepEqual(small, [], 'every target is at least 44 × 44 px');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth > innerWidth);
  assert.equal(overflow, false, 'nothing is wider than the screen');

  // No keyboard hint on a touch screen, and Enter is a new line there (Send sends).
  assert.doesNotMatch(await page.textContent('#composer-note'), /Shift/);
  await page.fill('#composer-input', 'line one');
  await page.press('#composer-input', 'Enter');
  assert.equal(await page.inputValue('#composer-input'), 'line one\n');
  await screenshot(page, 'phone');
  await page.done();

  // Disconnected: the countdown to the next attempt is on screen.
  const standIn = await startStandIn('status:503');
  try {
    const down = await newPage(PHONE);
    await down.goto(`${standIn.url}?backoff_ms=5000`);
    await waitForStatus(down, 'disconnected');
    const box = await down.locator('#net-countdown').boundingBox();
    assert.ok(box && box.width > 0 && box.x + box.width <= 390, `countdown on screen: ${JSON.stringify(box)}`);
    assert.match(await down.textContent('#net-countdown'), /reconnecting in \d+s/);
    await screenshot(down, 'phone-disconnected');
    await down.done();
  } finally {
    await standIn.close();
  }
});

test('screen readers hear what arrives live, not the backlog, and state changes', async () => {
  const page = await newPage();
  await page.goto(server.url);
  await waitForStatus(page, 'connected');
  await page.locator('#timeline > li.end-of-turn').first().waitFor();
  // The timeline is not a live region (a backlog of thousands would be read out as one).
  const live = await page.$eval('#timeline', (t) => [t.getAttribute('aria-live'), t.getAttribute('role')]);
  assert.deepEqual(live, [null, null]);
  assert.equal(await page.$eval('#announce', (a) => a.getAttribute('aria-live')), 'polite');
  assert.equal(await page.textContent('#announce'), '', 'the backlog is not announced');

  await chat(server.url, 'announce this one');
  await waitFor(async () => (await page.textContent('#announce')).includes('announce this one'), {
    what: 'the live message announced',
  });
  await waitFor(async () => (await page.textContent('#announce')).includes('Agent: Waiting for you'), {
    what: 'the end of the turn announced',
  });
  const lines = await page.$$eval('#announce > p', (ps) => ps.map((p) => p.textContent));
  assert.ok(lines.length <= 5, `the region keeps a few lines: ${lines.length}`);
  assert.ok(lines.some((l) => /^Agent: (Working|Running)/.test(l)), `activity announced: ${lines}`);
  assert.deepEqual(page.errors, []);
  await page.done();
});

/** Stands in for the Notification API and page visibility, which headless Chromium lacks. */
function fakeNotificationsAndVisibility() {
  window.__notifications = [];
  window.Notification = class {
    static permission = 'default';
    static requestPermission() {
      window.Notification.permission = 'granted';
      return Promise.resolve('granted');
    }
    constructor(title, options) {
      window.__notifications.push({ title, ...options });
    }
    close() {}
  };
  let visibility = 'visible';
  Object.defineProperty(document, 'visibilityState', { get: () => visibility });
  window.__setVisibility = (v) => {
    visibility = v;
    document.dispatchEvent(new Event('visibilitychange'));
  };
}

test('when the agent waits for input in a hidden tab, the title and a notification say so', async () => {
  const page = await newPage({}, fakeNotificationsAndVisibility);
  await page.goto(server.url);
  await waitForStatus(page, 'connected');
  await page.locator('#timeline > li.end-of-turn').first().waitFor();
  const title = await page.title();
  assert.doesNotMatch(title, /Waiting/);

  // Opt in with the bell.
  assert.equal(await page.getAttribute('#notify', 'aria-pressed'), 'false');
  await page.click('#notify');
  await page.waitForSelector('#notify[aria-pressed="true"]');

  // The reader switches away; the agent finishes a turn.
  await page.evaluate(() => window.__setVisibility('hidden'));
  const turns = await page.locator('#timeline > li.end-of-turn').count();
  await chat(server.url, 'tell me when you are done');
  await waitFor(async () => (await page.locator('#timeline > li.end-of-turn').count()) > turns, {
    what: 'the turn to end',
  });
  await waitFor(async () => /^● Waiting for you · /.test(await page.title()), { what: 'the title' });
  const sent = await page.evaluate(() => window.__notifications);
  assert.equal(sent.length, 1, JSON.stringify(sent));
  assert.equal(sent[0].tag, 'sse-agent-waiting');

  // Back to the tab: the title is the session's again.
  await page.evaluate(() => window.__setVisibility('visible'));
  assert.equal(await page.title(), title);

  // A visible tab is not interrupted.
  await page.click('#notify');
  await page.waitForSelector('#notify[aria-pressed="false"]');
  await chat(server.url, 'one more');
  await waitFor(async () => (await page.locator('#timeline > li.end-of-turn').count()) > turns + 1, {
    what: 'the next turn to end',
  });
  assert.equal((await page.evaluate(() => window.__notifications)).length, 1);
  assert.equal(await page.title(), title);
  assert.deepEqual(page.errors, []);
  await page.done();
});
