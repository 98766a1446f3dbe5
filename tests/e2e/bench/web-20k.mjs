// Browser benchmark of the web UI on a long conversation (issue 13): not a test, it prints
// figures (written up in docs/BENCHMARKS.md, "Web UI, 20 000 messages").
//
//   cargo build --release -p sse-host
//   node tests/e2e/bench/web-20k.mjs [--bin target/release/sse-host] [--messages 20000]
//                                    [--size 1.1] [--timeout-s 120]
//
// A release `sse-host serve --memory` is given the messages by an `--exec` agent that prints
// them (about 2 KB each at --size 1.1: 20 000 make 40 MB of JSON); Debian's Chromium (headless,
// 1100×760) opens the page and this measures:
// - first: navigation start → the first message drawn, and → the newest message drawn;
// - typing: frames per second (requestAnimationFrame) while 150 characters are typed into the
//   chat box, and the longest frame;
// - scrolling: frames per second while the page scrolls up through history for 8 s (100 px a
//   frame, 6 000 px/s, from near the top of what the page holds, paging older messages in), and the longest frame;
// - live: `POST /api/messages` → the message in the DOM, measured on the one clock of this
//   machine (Date.now in Node and in the page), median and worst of 10;
// - memory: the tab's JS heap (CDP Performance.getMetrics), DOM nodes, and the renderer
//   process's RSS and PSS from /proc.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { chromium } from 'playwright-core';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
};
if (opt('bin')) process.env.SSE_HOST_BIN = opt('bin');
// After SSE_HOST_BIN is set: support.js reads it when loaded.
const { conversation, sleep, startServerWith } = await import('../support.js');
const N = Number(opt('messages', 20000));
const SIZE = Number(opt('size', 1.1));
const TIMEOUT_MS = Number(opt('timeout-s', 120)) * 1000;

const round = (x, d = 0) => (Number.isFinite(x) ? Number(x.toFixed(d)) : x);
const mb = (bytes) => round(bytes / 1024 / 1024, 1);

/** RSS and PSS (bytes) of the renderer processes under `pid` (this page is the only tab). */
function rendererMemory(pid) {
  const kids = new Map();
  for (const line of execFileSync('ps', ['-e', '-o', 'pid=,ppid=']).toString().trim().split('\n')) {
    const [p, pp] = line.trim().split(/\s+/).map(Number);
    if (!kids.has(pp)) kids.set(pp, []);
    kids.get(pp).push(p);
  }
  const all = [];
  const walk = (p) => {
    for (const k of kids.get(p) ?? []) {
      all.push(k);
      walk(k);
    }
  };
  walk(pid);
  let rss = 0;
  let pss = 0;
  let priv = 0;
  for (const p of all) {
    try {
      const cmd = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8');
      if (!cmd.includes('--type=renderer') || cmd.includes('--extension-process')) continue;
      const roll = fs.readFileSync(`/proc/${p}/smaps_rollup`, 'utf8');
      rss += Number(/^Rss:\s+(\d+)/m.exec(roll)?.[1] ?? 0) * 1024;
      pss += Number(/^Pss:\s+(\d+)/m.exec(roll)?.[1] ?? 0) * 1024;
      for (const k of ['Private_Clean', 'Private_Dirty']) {
        priv += Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(roll)?.[1] ?? 0) * 1024;
      }
    } catch {
      // gone meanwhile
    }
  }
  return { rss, pss, priv };
}

/** In the page from its start: when the first and the newest message were drawn. */
const PROBE = (newest) => {
  window.bench = { first: null, newest: null };
  const seen = (n) => {
    const t = performance.now();
    if (window.bench.first === null) requestAnimationFrame(() => (window.bench.first ??= performance.now()));
    if (n.dataset.idx === String(newest)) requestAnimationFrame(() => (window.bench.newest ??= performance.now()));
    return t;
  };
  new MutationObserver((records) => {
    for (const r of records) for (const n of r.addedNodes) if (n.dataset?.idx) seen(n);
  }).observe(document, { childList: true, subtree: true });
};

/** Counts frames in the page while `action` runs; returns fps and the longest frame (ms). */
async function frames(page, action) {
  await page.evaluate(() => {
    window.frameLog = [];
    window.counting = true;
    const tick = (t) => {
      window.frameLog.push(t);
      if (window.counting) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  await action();
  return page.evaluate(() => {
    window.counting = false;
    const f = window.frameLog;
    const span = f.at(-1) - f[0];
    let longest = 0;
    for (let i = 1; i < f.length; i += 1) longest = Math.max(longest, f[i] - f[i - 1]);
    return { fps: ((f.length - 1) * 1000) / span, longestMs: longest, seconds: span / 1000 };
  });
}

async function main() {
  const seedStart = Date.now();
  console.error(`seeding ${N} messages…`);
  const server = await startServerWith(conversation(N, { size: SIZE }));
  const bytes = JSON.stringify(conversation(N, { size: SIZE })).length;
  const seedS = (Date.now() - seedStart) / 1000;

  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const result = {};
  try {
    const context = await browser.newContext({ viewport: { width: 1100, height: 760 } });
    const page = await context.newPage();
    await page.addInitScript(PROBE, N - 1);
    const cdp = await context.newCDPSession(page);
    await cdp.send('Performance.enable');

    await page.goto(server.url);
    const loaded = await page
      .waitForFunction(() => window.bench?.newest !== null, null, { timeout: TIMEOUT_MS, polling: 50 })
      .then(() => true)
      .catch(() => false);
    const b = await page.evaluate(() => window.bench);
    result.first = { firstMessageMs: round(b.first), newestMessageMs: round(b.newest), loaded };
    if (!loaded) throw new Error(`the newest message was not drawn in ${TIMEOUT_MS / 1000} s`);
    await page.waitForFunction(() => document.getElementById('progress')?.hidden !== false, null, { timeout: TIMEOUT_MS });
    await sleep(500);

    // Typing into the chat box.
    await page.waitForSelector('#composer-input:not([disabled])', { timeout: TIMEOUT_MS });
    await page.focus('#composer-input');
    const text = 'Please look at the parser again and tell me why the test fails. '.repeat(3).slice(0, 150);
    result.typing = await frames(page, () => page.keyboard.type(text, { delay: 15 }));
    await page.fill('#composer-input', '');

    // Scrolling up through history, 100 px a frame for 8 s, from 1 500 px below the top of
    // what the page holds (so that older pages are fetched and drawn during the run).
    await page.evaluate(() => window.scrollTo(0, 1500));
    await sleep(1000);
    const lo0 = await page.evaluate(() => window.sseUi.timeline?.lo ?? null);
    result.scrolling = await frames(page, () =>
      page.evaluate(
        () =>
          new Promise((resolve) => {
            const until = performance.now() + 8000;
            const step = () => {
              window.scrollBy(0, -100);
              if (performance.now() < until) requestAnimationFrame(step);
              else resolve();
            };
            requestAnimationFrame(step);
          }),
      ),
    );
    result.scrolling.pagedFrom = lo0;
    result.scrolling.pagedTo = await page.evaluate(() => window.sseUi.timeline?.lo ?? null);
    result.scrolling.inDom = await page.evaluate(() => document.querySelectorAll('#timeline > li').length);

    // Live messages: back to the latest, then publish and watch the DOM.
    await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
    await page.click('#jump').catch(() => {});
    await sleep(1000);
    const lat = [];
    for (let i = 0; i < 10; i += 1) {
      const marker = `live-bench-${i}-${Date.now()}`;
      const seen = page.evaluate(
        (m) =>
          new Promise((resolve) => {
            const obs = new MutationObserver(() => {
              for (const li of document.querySelectorAll('#timeline > li:last-child')) {
                if (li.textContent.includes(m)) {
                  obs.disconnect();
                  resolve(Date.now());
                }
              }
            });
            obs.observe(document.getElementById('timeline'), { childList: true });
          }),
        marker,
      );
      await sleep(50); // the observer is in place
      const t0 = Date.now();
      const res = await fetch(`${server.url}api/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'agent', content: marker }),
      });
      if (!res.ok) throw new Error(`publish: HTTP ${res.status}`);
      lat.push((await seen) - t0);
      await sleep(200);
    }
    lat.sort((x, y) => x - y);
    result.live = { medianMs: lat[Math.floor(lat.length / 2)], worstMs: lat.at(-1), samples: lat };

    // Memory, after a collection.
    await cdp.send('HeapProfiler.collectGarbage').catch(() => {});
    await sleep(500);
    const { metrics } = await cdp.send('Performance.getMetrics');
    const m = Object.fromEntries(metrics.map((x) => [x.name, x.value]));
    const proc = rendererMemory(process.pid); // Chromium runs under this process
    result.memory = {
      jsHeapUsedMB: mb(m.JSHeapUsedSize),
      jsHeapTotalMB: mb(m.JSHeapTotalSize),
      domNodes: m.Nodes,
      rendererRssMB: mb(proc.rss),
      rendererPssMB: mb(proc.pss),
      rendererPrivateMB: mb(proc.priv),
    };
  } catch (e) {
    result.error = String(e.message ?? e);
  } finally {
    await browser.close().catch(() => {});
    await server.kill();
  }
  const cpu = os.cpus();
  console.log(
    JSON.stringify(
      {
        messages: N,
        jsonMB: mb(bytes),
        seedS: round(seedS, 1),
        machine: `${cpu[0]?.model} ×${cpu.length}, ${mb(os.totalmem())} MB, ${os.type()} ${os.release()}`,
        chromium: execFileSync(process.env.CHROMIUM ?? '/usr/bin/chromium', ['--version']).toString().trim(),
        bin: process.env.SSE_HOST_BIN ?? 'target/release/sse-host',
        ...result,
      },
      null,
      2,
    ),
  );
  if (result.error) process.exitCode = 1;
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (e) => {
    console.error(`bench: ${e.stack ?? e}`);
    process.exit(1);
  },
);
