// The windowed timeline (host/web/history.js) against the real `sse-host serve`: a long
// conversation shows only its newest messages, older ones are paged in on scroll, in order,
// with no duplicate and no hole, and the DOM stays bounded; "N new", the progress indicator,
// sending scrolls to your own message, dates in timestamps.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  RECORDER,
  contiguous,
  conversation,
  getMessages,
  getState,
  idle,
  launchBrowser,
  openPage,
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

const window_ = (page) => page.evaluate(() => ({ lo: window.sseUi.timeline.lo, hi: window.sseUi.timeline.hi }));

test('2 000 messages: the newest 200 are shown, scrolling up pages in the rest in order, the DOM stays bounded', async () => {
  await withCleanup(async (defer) => {
    const N = 2000;
    const seeded = conversation(N, { size: 0.1 });
    const server = await startServerWith(seeded);
    defer(() => server.kill());
    const page = await browser.newPage();
    defer(() => page.close());
    page.errors = [];
    page.on('pageerror', (e) => page.errors.push(e.message));
    await page.addInitScript(RECORDER);
    const streams = [];
    page.on('request', (r) => {
      if (new URL(r.url()).pathname === '/stream') {
        streams.push({ query: new URL(r.url()).search, lastEventId: r.headers()['last-event-id'] });
      }
    });
    // Pages of 400 (default 100) keep the test short; the bound is 600 (default 400).
    const cap = 600;
    await page.goto(`${server.url}?page=400&cap=${cap}`);
    await waitForStatus(page, 'connected');
    await page.locator(`#timeline > li[data-idx="${N - 1}"]`).waitFor();
    await waitFor(async () => (await page.locator('#progress').isHidden()), { what: 'the progress to end' });
    assert.deepEqual(await contiguous(page), [...Array(200).keys()].map((i) => N - 200 + i), 'the newest 200');
    // The stream replays only the newest 200: the session resumes after message 1 799 of the
    // State's epoch.
    const { epoch } = await getState(server.url);
    assert.equal(streams[0].query, `?from=${N - 200}`);
    assert.equal(streams[0].lastEventId, `${epoch}-${N - 201}`);

    // Up to the first message, a page at a time, the reading position anchored on a message
    // that stays.
    let { lo } = await window_(page);
    for (let step = 0; lo > 0 && step < 40; step += 1) {
      const anchorIdx = lo;
      // Scroll and measure in one go, before the page can land.
      const before = await page.evaluate((i) => {
        window.scrollTo(0, 0);
        return document.querySelector(`#timeline > li[data-idx="${i}"]`).getBoundingClientRect().top;
      }, anchorIdx);
      await waitFor(async () => (await window_(page)).lo < anchorIdx && (await idle(page)), { what: `messages before ${anchorIdx}` });
      const afterTop = await page.locator(`#timeline > li[data-idx="${anchorIdx}"]`).evaluate((n) => n.getBoundingClientRect().top);
      assert.ok(Math.abs(afterTop - before) <= 2, `message ${anchorIdx} stayed in place (${before} → ${afterTop})`);
      const idx = await contiguous(page);
      assert.ok(idx.length <= cap, `${idx.length} messages in the DOM`);
      lo = idx[0];
    }
    assert.equal(lo, 0, 'the first message is reached');
    // What is shown is the server's, message by message.
    const all = await getMessages(server.url, N);
    for (const m of await timeline(page)) assert.ok(m.text.includes(`#${m.idx}`), `message ${m.idx} is the server's`);
    assert.equal(all[0].idx, 0);

    // Back down: the far side is fetched again, twice; the jump button says there is more
    // below and goes there.
    assert.equal(await page.isVisible('#jump'), true, 'the jump button is offered');
    let { hi } = await window_(page);
    for (let step = 0; hi < N && step < 2; step += 1) {
      const before = hi;
      await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
      await waitFor(async () => (await window_(page)).hi > before && (await idle(page)), { what: `messages after ${before}` });
      const idx = await contiguous(page);
      assert.ok(idx.length <= cap, `${idx.length} messages in the DOM`);
      hi = idx.at(-1) + 1;
    }
    assert.ok(hi < N, 'the newest are still out of the DOM');
    await page.click('#jump');
    await page.locator(`#timeline > li[data-idx="${N - 1}"]`).waitFor();
    await waitFor(() => idle(page), { what: 'the latest loaded' });
    assert.equal((await contiguous(page)).at(-1), N - 1, 'the newest message is reached again');
    await waitFor(() => page.isHidden('#jump'), { what: 'the jump button to go' });

    const { drawn, maxInDom } = await page.evaluate(() => ({ drawn: window.drawn, maxInDom: window.maxInDom }));
    assert.ok(maxInDom <= cap, `at most ${cap} messages were ever in the DOM (${maxInDom})`);
    assert.deepEqual([...new Set(drawn)].sort((a, b) => a - b), [...Array(N).keys()], 'every message was shown');
    assert.deepEqual(page.errors, []);
  });
});

test('scrolled up: live messages count on the jump button, which goes to the latest', async () => {
  await withCleanup(async (defer) => {
    const server = await startServerWith(conversation(40, { size: 0.3 }));
    defer(() => server.kill());
    const page = await openPage(browser, server.url);
    defer(() => page.close());
    await waitForStatus(page, 'connected');
    await page.locator('#timeline > li[data-idx="39"]').waitFor();
    await page.evaluate(() => window.scrollTo(0, 0));
    await waitFor(() => page.evaluate(() => !window.sseUi.timeline.stick), { what: 'the reader scrolled up' });
    for (let i = 0; i < 3; i += 1) {
      const res = await fetch(`${server.url}api/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'agent', content: `live ${i}` }),
      });
      assert.equal(res.status, 200);
    }
    await waitFor(async () => (await page.textContent('#jump')) === '↓ 3 new', { what: '"3 new"' });
    assert.equal(await page.isVisible('#jump'), true);
    await page.click('#jump');
    await page.locator('#timeline > li[data-idx="42"]').waitFor();
    await waitFor(() => page.locator('#timeline > li[data-idx="42"]').isVisible() && page.evaluate(() => {
      const r = document.querySelector('#timeline > li[data-idx="42"]').getBoundingClientRect();
      return r.bottom <= window.innerHeight && r.top >= 0;
    }), { what: 'the latest message in view' });
    await waitFor(() => page.isHidden('#jump'), { what: 'the jump button to go' });
    assert.deepEqual(page.errors, []);
  });
});

test('a progress indicator shows while history loads, at boot and for older pages', async () => {
  await withCleanup(async (defer) => {
    const server = await startServerWith(conversation(600, { size: 0.3 }));
    defer(() => server.kill());
    const page = await browser.newPage();
    defer(() => page.close());
    // Hold the stream, then the pages, until the indicator has been seen.
    let releaseStream;
    const streamHeld = new Promise((r) => {
      releaseStream = r;
    });
    await page.route('**/stream?*', async (route) => {
      await streamHeld;
      await route.continue();
    });
    await page.goto(server.url);
    await page.locator('#progress').waitFor({ state: 'visible' });
    assert.match(await page.textContent('#progress'), /Loading the conversation/);
    releaseStream();
    await page.locator('#timeline > li[data-idx="599"]').waitFor();
    await page.locator('#progress').waitFor({ state: 'hidden' });

    let releasePage;
    const pageHeld = new Promise((r) => {
      releasePage = r;
    });
    await page.route('**/messages?*', async (route) => {
      await pageHeld;
      await route.continue();
    });
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.locator('#progress').waitFor({ state: 'visible' });
    assert.match(await page.textContent('#progress'), /Loading earlier messages/);
    releasePage();
    await page.locator('#timeline > li[data-idx="399"]').waitFor({ state: 'attached' });
    await page.locator('#progress').waitFor({ state: 'hidden' });
  });
});

test('sending a message from far up scrolls to your own message', async () => {
  await withCleanup(async (defer) => {
    const server = await startServerWith(conversation(300, { size: 0.3 }));
    defer(() => server.kill());
    // A small cap, so that reading the first messages drops the newest from the DOM.
    const page = await openPage(browser, `${server.url}?window=100&cap=150&page=100`);
    defer(() => page.close());
    await waitForStatus(page, 'connected');
    await page.locator('#timeline > li[data-idx="299"]').waitFor();
    await page.evaluate(() => window.scrollTo(0, 0));
    await waitFor(async () => (await window_(page)).hi < 300, { what: 'the newest to leave the DOM' });
    await page.fill('#composer-input', 'my own words');
    await page.press('#composer-input', 'Enter');
    const own = page.locator('#timeline > li[data-type="user"]', { hasText: 'my own words' });
    await own.waitFor();
    await waitFor(() => own.evaluate((n) => {
      const r = n.getBoundingClientRect();
      return r.top >= 0 && r.bottom <= window.innerHeight;
    }), { what: 'your message in view' });
    await contiguous(page);
    assert.deepEqual(page.errors, []);
  });
});

test('timestamps show the date when not today, and the full date and time as a tooltip', async () => {
  await withCleanup(async (defer) => {
    const old = new Date(Date.now() - 400 * 86_400_000);
    const messages = [
      { type: 'agent', content: 'long ago', timestamp: old.toISOString() },
      { type: 'agent', content: 'just now', timestamp: new Date().toISOString() },
    ];
    const server = await startServerWith(messages);
    defer(() => server.kill());
    const page = await openPage(browser, server.url);
    defer(() => page.close());
    await page.locator('#timeline > li[data-idx="1"]').waitFor();
    const times = await page.$$eval('#timeline > li time', (ts) => ts.map((t) => ({ text: t.textContent, title: t.title, dateTime: t.dateTime })));
    assert.equal(times.length, 2);
    const [then, today] = times;
    assert.ok(then.text.includes(String(old.getFullYear())), `an older message shows its date: ${then.text}`);
    assert.ok(!today.text.includes(String(new Date().getFullYear())), `today's shows the time only: ${today.text}`);
    for (const t of times) {
      assert.match(t.title, /\d{4}/, 'the tooltip has the year');
      assert.match(t.title, /\d{1,2}:\d{2}/, 'and the time');
    }
    assert.equal(then.dateTime, old.toISOString());
  });
});

test('a follower tab loads the newest window below the leader\'s resume point, then pages older ones', async () => {
  await withCleanup(async (defer) => {
    const N = 600;
    const server = await startServerWith(conversation(N, { size: 0.1 }));
    defer(() => server.kill());
    // Tabs of one browser context share a stream (web/share.js): the first leads.
    const leader = await openPage(browser, server.url);
    defer(() => leader.close());
    await waitForStatus(leader, 'connected');
    await leader.locator(`#timeline > li[data-idx="${N - 1}"]`).waitFor();
    const follower = await openPage(browser, server.url);
    defer(() => follower.close());
    await waitFor(async () => (await follower.evaluate(() => window.sseUi.role)) === 'follower', { what: 'a follower tab' });
    await follower.locator(`#timeline > li[data-idx="${N - 1}"]`).waitFor();
    await waitFor(() => idle(follower), { what: 'the window loaded' });
    assert.deepEqual(await contiguous(follower), [...Array(200).keys()].map((i) => N - 200 + i), 'the newest 200');

    // Live messages follow the window, then older ones page in on scroll.
    const res = await fetch(`${server.url}api/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'agent', content: 'live after the window' }),
    });
    assert.equal(res.status, 200);
    await follower.locator(`#timeline > li[data-idx="${N}"]`).waitFor();
    // The append's scroll to the bottom runs on the next frame: scroll up after it, not before.
    await follower.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    await follower.evaluate(() => window.scrollTo(0, 0));
    await waitFor(async () => (await window_(follower)).lo < N - 200 && (await idle(follower)), { what: 'older messages' });
    const idx = await contiguous(follower);
    assert.equal(idx.at(-1), N, 'still reaching the live message');
    assert.deepEqual([...follower.errors, ...leader.errors], []);
  });
});
