// Shared helpers for the browser tests: starting and killing `sse-host serve`, a tiny stand-in
// server for behaviours a real one does not show on demand, and the browser itself.
//
// Every process started here is tracked and killed when the test process exits, however it exits.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '../..');
const webDir = path.join(repoRoot, 'host/web');
export const screenshotDir = path.join(repoRoot, 'target/e2e-screenshots');
const hostBin = process.env.SSE_HOST_BIN ?? path.join(repoRoot, 'target/release/sse-host');

const children = new Set();
const tempDirs = new Set();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130));

/** A fresh temporary directory, removed at exit. */
export function tempDir(prefix = 'sse-e2e-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

/** A port nothing listens on right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns a truthy value, for at most `timeoutMs`. */
export async function waitFor(check, { timeoutMs = 10_000, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await check();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what} (last: ${last})`);
}

/**
 * Starts `sse-host serve` on 127.0.0.1:`port` with `args` and waits until it answers `GET /state`
 * (with `token`, when reads need one). Returns `{ url, port, kill(signal) }`; `kill` resolves
 * once the process has exited.
 */
export async function startServer({ port, args = [], token } = {}) {
  port ??= await freePort();
  const child = spawn(hostBin, ['serve', '--bind', `127.0.0.1:${port}`, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn' },
  });
  children.add(child);
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
    if (stderr.length > 20_000) stderr = stderr.slice(-10_000);
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  child.on('exit', () => children.delete(child));
  const url = `http://127.0.0.1:${port}/`;
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`sse-host exited early: ${stderr}`);
      const res = await fetch(`${url}state`, { headers: bearer(token) });
      return res.ok;
    },
    { timeoutMs: 15_000, what: `sse-host serve on port ${port}` },
  ).catch((e) => {
    child.kill('SIGKILL');
    throw new Error(`${e.message}\nargs: ${args.join(' ')}\nstderr: ${stderr}`);
  });
  return {
    url,
    port,
    async kill(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/** `Authorization` for `token`, if any. */
export const bearer = (token) => (token ? { authorization: `Bearer ${token}` } : {});

/** `GET /state` as JSON. */
export async function getState(url, token) {
  const res = await fetch(`${url}state`, { headers: bearer(token) });
  if (!res.ok) throw new Error(`GET state: HTTP ${res.status}`);
  return res.json();
}

/** `GET /messages?start=0&end=count` as an array. */
export async function getMessages(url, count, token) {
  const res = await fetch(`${url}messages?start=0&end=${count}`, { headers: bearer(token) });
  if (!res.ok) throw new Error(`GET messages: HTTP ${res.status}`);
  const body = await res.json();
  return Array.isArray(body) ? body : body.messages;
}

/** A conversation with every kind of entry the timeline draws. */
export const FIXTURE = [
  { type: 'user', content: 'Fix the <b>parser</b> <img src=x onerror="window.pwned=1">' },
  {
    type: 'agent',
    content: 'Looking at it.',
    tool_calls: [{ name: 'bash', input: '{"command":"cargo test"}' }],
    usage: { input_tokens: 1200, output_tokens: 80, cost_usd: 0.004 },
  },
  {
    type: 'tool',
    tool_name: 'bash',
    input: '{"command":"cargo test"}',
    tool_result: Array.from({ length: 300 }, (_, i) => `test case_${i} ... ok`).join('\n'),
    elapsed: 2_500_000_000,
  },
  { type: 'tool', tool_name: 'patch', input: '{"path":"core/src/parse.rs"}', tool_result: 'no such hunk', tool_error: true },
  { type: 'error', content: 'Model call failed: overloaded' },
  { type: 'agent', content: 'Done.', end_of_turn: true },
].map((m, idx) => ({ ...m, idx, timestamp: '2026-01-01T12:00:00Z' }));

/**
 * A stand-in server that serves the real UI files from host/web and answers `stream` as told:
 * `hang` (accepts, never answers: the client stays "connecting"), `status:N` (an HTTP error),
 * `fixture` (replays FIXTURE, then stays open), `end` (replays FIXTURE, then ends the body
 * cleanly: the server closed the stream) or `drop` (replays FIXTURE, then breaks the connection
 * mid-body). For states the real server cannot be made to show on demand.
 */
export async function startStandIn(mode, messages = FIXTURE) {
  const types = {
    '.html': 'text/html',
    '.js': 'text/javascript',
    '.css': 'text/css',
    '.wasm': 'application/wasm',
  };
  const sockets = new Set();
  let streamRequests = 0;
  const server = http.createServer((req, res) => {
    const { pathname } = new URL(req.url, 'http://x');
    if (pathname === '/stream') streamRequests += 1;
    let file = pathname === '/' ? 'index.html' : pathname.replace(/^\/web\//, '');
    if (file === 'markdown-it.js') file = 'vendor/markdown-it.esm.min.mjs'; // as host/src/web.rs
    if (pathname === '/' || (pathname.startsWith('/web/') && /^[a-z_/.-]+\.(m?js|css|wasm)$/.test(file) && !file.includes('..'))) {
      res.writeHead(200, { 'content-type': types[path.extname(file)] ?? 'text/javascript' });
      res.end(fs.readFileSync(path.join(webDir, file)));
    } else if (pathname === '/stream' && mode === 'hang') {
      // Say nothing, ever.
    } else if (pathname === '/stream' && mode.startsWith('status:')) {
      res.writeHead(Number(mode.slice(7)), { 'content-type': 'application/json' });
      res.end('{"error":"stand-in"}');
    } else if (pathname === '/stream' && ['fixture', 'end', 'drop'].includes(mode)) {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      const state = { message_count: messages.length, epoch: 'fixture', title: 'Fixture', agent_state: 'EndOfTurn' };
      res.write(`retry: 1000\n\nevent: state\ndata: ${JSON.stringify(state)}\n\n`);
      for (const m of messages) res.write(`event: message\nid: ${m.idx}\ndata: ${JSON.stringify(m)}\n\n`);
      // A reconnect gets the fixture again from 0: the session drops what it already has.
      if (mode === 'end') res.end();
      if (mode === 'drop') setTimeout(() => res.socket?.destroy(), 50);
    } else {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":"not found"}');
    }
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}/`,
    /** How many `GET /stream` requests it had. */
    streamRequests: () => streamRequests,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(r);
      }),
  };
}

/**
 * A reverse proxy that serves `target` under `prefix` (e.g. `/agent/`), as a user's front proxy
 * would; it streams responses through unbuffered. Returns `{ url, close() }`.
 */
export async function startPrefixProxy(target, prefix) {
  const upstream = new URL(target);
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    if (!req.url.startsWith(prefix)) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":"outside the prefix"}');
      return;
    }
    const forward = http.request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: `/${req.url.slice(prefix.length)}`,
        headers: req.headers,
      },
      (up) => {
        res.writeHead(up.statusCode, up.headers);
        up.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}${prefix}`,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(r);
      }),
  };
}

/** Launches Debian's Chromium headless with a fresh profile. */
export async function launchBrowser() {
  const userDataDir = tempDir('sse-e2e-chromium-');
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1100, height: 760 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return context;
}

/** Opens a page and records script errors so tests can assert there were none. */
export async function openPage(context, url) {
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource|net::ERR_/.test(m.text())) {
      page.errors.push(m.text());
    }
  });
  await page.goto(url);
  return page;
}

/** The network indicator as the page shows it. */
export async function indicator(page) {
  return page.$eval('#net', (n) => ({
    status: n.dataset.status,
    reason: n.dataset.reason,
    label: n.getAttribute('aria-label'),
    title: n.title,
  }));
}

/** Waits until the indicator shows `status` (and `reason`, if given). */
export async function waitForStatus(page, status, reason, timeoutMs = 15_000) {
  const sel = reason
    ? `#net[data-status="${status}"][data-reason="${reason}"]`
    : `#net[data-status="${status}"]`;
  await page.waitForSelector(sel, { timeout: timeoutMs });
}

/** The timeline as `[{ idx, type, text }]`. */
export async function timeline(page) {
  return page.$$eval('#timeline > li', (items) =>
    items.map((li) => ({ idx: Number(li.dataset.idx), type: li.dataset.type, text: li.textContent })),
  );
}

/** Saves a screenshot under target/e2e-screenshots/. */
export async function screenshot(page, name) {
  fs.mkdirSync(screenshotDir, { recursive: true });
  await page.screenshot({ path: path.join(screenshotDir, `${name}.png`) });
}

/**
 * `n` messages of a realistic conversation, in turns of a user message, an agent answer in
 * markdown with tool calls, a tool run with its output and a closing agent answer. `size`
 * scales the text (1: about 2 KB a message on average, as the 20 000 in 40 MB).
 * Each message's content names its number (`#i`), so a test can tell them apart. `timestamp`
 * (i) → RFC 3339 gives each its time (default: one minute apart, ending now).
 */
export function conversation(n, { size = 1, timestamp } = {}) {
  const now = Date.now();
  const stamp = timestamp ?? ((i) => new Date(now - (n - i) * 60_000).toISOString());
  const words = 'the parser reads a line at a time and hands each field to the event builder'.split(' ');
  const prose = (i, len) => {
    let text = '';
    for (let k = 0; text.length < len; k += 1) text += `${words[(i + k) % words.length]} `;
    return text.trim();
  };
  const out = [];
  for (let i = 0; i < n; i += 1) {
    const base = { timestamp: stamp(i) };
    switch (i % 4) {
      case 0:
        out.push({ ...base, type: 'user', content: `#${i} ${prose(i, 400 * size)}` });
        break;
      case 1:
        out.push({
          ...base,
          type: 'agent',
          content: `#${i} Looking at it.\n\n## Plan\n\n- ${prose(i, 600 * size)}\n- **check** the \`Parser\`\n\n\`\`\`rust\nfn main() {\n    println!("${i}");\n}\n\`\`\`\n\n${prose(i + 1, 1400 * size)}`,
          tool_calls: [{ name: 'bash', input: `{"command":"cargo test -p sse-core ${i}"}` }],
          usage: { input_tokens: 1200 + i, output_tokens: 80, cost_usd: 0.004 },
        });
        break;
      case 2:
        out.push({
          ...base,
          type: 'tool',
          tool_name: 'bash',
          input: `{"command":"cargo test -p sse-core ${i}"}`,
          tool_result: `#${i}\n${Array.from({ length: Math.round(120 * size) }, (_, k) => `test case_${k} ... ok`).join('\n')}`,
          elapsed: 2_500_000_000,
        });
        break;
      default:
        out.push({ ...base, type: 'agent', content: `#${i} Done: ${prose(i, 2000 * size)}`, end_of_turn: true });
        break;
    }
  }
  return out;
}

/**
 * `sse-host serve` holding `messages` (in that order, so message i has index i), written by
 * an `--exec` agent that prints them and then idles. `args` are added (default `--memory`).
 * Resolves once the server's State counts them all.
 */
export async function startServerWith(messages, { args = ['--memory'], token } = {}) {
  const dir = tempDir('sse-e2e-seed-');
  const file = path.join(dir, 'seed.jsonl');
  fs.writeFileSync(file, messages.map((m) => JSON.stringify(m)).join('\n') + '\n');
  const server = await startServer({
    args: [...args, '--exec', `cat '${file}'; exec cat >/dev/null`],
    token,
  });
  await waitFor(async () => (await getState(server.url, token)).message_count >= messages.length, {
    timeoutMs: 60_000,
    what: `${messages.length} messages in the log`,
  });
  return server;
}

/** Runs `body(defer)`; what it deferred is stopped afterwards, last first, whatever happens. */
export async function withCleanup(body) {
  const cleanups = [];
  try {
    await body((fn) => cleanups.push(fn));
  } finally {
    for (const fn of cleanups.reverse()) await fn().catch(() => {});
  }
}

/** An init script: records every message index ever drawn (`window.drawn`) and the most list
 *  items the timeline held at once (`window.maxInDom`). */
export const RECORDER = () => {
  window.drawn = [];
  window.maxInDom = 0;
  new MutationObserver((records) => {
    const list = document.getElementById('timeline');
    for (const r of records) for (const n of r.addedNodes) if (n.dataset?.idx) window.drawn.push(Number(n.dataset.idx));
    window.maxInDom = Math.max(window.maxInDom, list?.childElementCount ?? 0);
  }).observe(document, { childList: true, subtree: true });
};

/** The timeline's indices; asserts they run without a hole or a duplicate. */
export async function contiguous(page) {
  const idx = (await timeline(page)).map((m) => m.idx);
  for (let i = 1; i < idx.length; i += 1) {
    assert.equal(idx[i], idx[i - 1] + 1, `the timeline runs without a hole or a duplicate: ${idx[i - 1]}, ${idx[i]}`);
  }
  return idx;
}

/** No page of history is being fetched or drawn. */
export const idle = (page) => page.evaluate(() => !window.sseUi.timeline.paging);
