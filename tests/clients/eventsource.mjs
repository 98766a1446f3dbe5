// npm `eventsource` 3 (the WHATWG EventSource for Node) against a running `sse-host serve`.
//
// Usage: node eventsource.mjs CHECK BASE_URL, CHECK one of:
//   first-event    the first event dispatched is `state` with JSON data; messages carry
//                  `<epoch>-<idx>` ids; no empty message from the opening `retry:`.
//   session-end    after PATCH /api/state {"session_ended":true} the client gets
//                  `session_ended`, reconnects at most once (answered 204) and then stops:
//                  at most 2 /stream requests in all over ~5 s.
// Exits 0 on success.

import { EventSource } from 'eventsource';

const [check, baseArg] = process.argv.slice(2);
const base = (baseArg ?? '').replace(/\/$/, '');
const watchdog = setTimeout(() => fail('watchdog: no verdict within 20 s'), 20_000);

function fail(why) {
  console.error(`${check}: FAILED: ${why}`);
  process.exit(1);
}

function pass() {
  clearTimeout(watchdog);
  console.log(`${check}: ok`);
  process.exit(0);
}

async function call(method, path, body) {
  const res = await fetch(base + path, {
    method,
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) fail(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function firstEvent() {
  for (const content of ['a', 'b']) await call('POST', '/api/messages', { type: 'agent', content });
  const seen = [];
  const es = new EventSource(`${base}/stream?from=0`);
  await new Promise((resolve) => {
    const record = (e) => {
      seen.push({ type: e.type, data: e.data, id: e.lastEventId });
      if (e.type === 'message' && JSON.parse(e.data).idx === 1) resolve();
    };
    es.addEventListener('state', record);
    es.addEventListener('message', record);
    es.onerror = (e) => fail(`error event: ${e.message ?? e.type}`);
  });
  es.close();
  if (seen[0].type !== 'state') fail(`first event ${JSON.stringify(seen[0])}`);
  const { epoch } = JSON.parse(seen[0].data);
  const ids = seen.filter((e) => e.type === 'message').map((e) => e.id);
  if (ids.join() !== `${epoch}-0,${epoch}-1`) fail(`ids ${ids}`);
  if (seen.some((e) => e.data === '')) fail(`an empty event: ${JSON.stringify(seen)}`);
}

async function sessionEnd() {
  await call('POST', '/api/messages', { type: 'agent', content: 'last' });
  let requests = 0;
  const countingFetch = (url, init) => {
    if (new URL(url).pathname === '/stream') requests += 1;
    return fetch(url, init);
  };
  const es = new EventSource(`${base}/stream`, { fetch: countingFetch });
  let ended = false;
  es.addEventListener('session_ended', () => { ended = true; });
  await new Promise((resolve) => es.addEventListener('message', resolve, { once: true }));
  await call('PATCH', '/api/state', { session_ended: true });
  await sleep(5000);
  const state = es.readyState;
  es.close();
  if (!ended) fail('no session_ended event');
  if (requests < 1) fail('the counting fetch saw no request');
  if (requests > 2) fail(`${requests} /stream requests in ~5 s after the session ended`);
  if (state !== EventSource.CLOSED) fail(`readyState ${state}, not CLOSED`);
  console.log(`${check}: ${requests} /stream request(s)`);
}

const checks = { 'first-event': firstEvent, 'session-end': sessionEnd };
if (!checks[check] || !base) fail('usage: node eventsource.mjs first-event|session-end BASE_URL');
checks[check]().then(pass, (e) => fail(e?.stack ?? e));
