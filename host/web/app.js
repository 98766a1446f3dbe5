// The web UI shell: it moves bytes between EventSource, the DOM and the connection policy in
// reconnect.js. Every decision about when to (re)connect lives in that state machine; this file
// arms one timer for it, performs its actions and draws what it says.
//
// Resume and dedup: `nextIdx` is one past the last message shown. Each connection asks for
// `stream?from=nextIdx`; a message below it is a duplicate and dropped, one above it is a gap and
// makes us reconnect from `nextIdx`. A `reset` event or a new `epoch` in State means the server's
// log is not the one we copied: clear the timeline and start over from 0.

import { Disconnect, Kind, Reconnect, isFatalStatus } from './reconnect.js';
import { formatCost, formatCount, renderMessage } from './timeline.js';

const $ = (id) => document.getElementById(id);
const now = () => performance.now();

// ---------------------------------------------------------------------------------------------
// Configuration: tests shorten the timers with query parameters (e.g. `?watchdog_ms=1500`).

function policyFromQuery() {
  const params = new URLSearchParams(location.search);
  const ms = (name) => {
    const v = Number(params.get(name));
    return params.has(name) && Number.isFinite(v) && v > 0 ? v : undefined;
  };
  const policy = {
    idleTimeoutMs: ms('watchdog_ms'),
    initialBackoffMs: ms('backoff_ms'),
    connectTimeoutMs: ms('connect_timeout_ms'),
    healthyAfterMs: ms('healthy_ms'),
  };
  return Object.fromEntries(Object.entries(policy).filter(([, v]) => v !== undefined));
}

// ---------------------------------------------------------------------------------------------
// Session state.

// A server started with `--token` wants it on every request but the page's own files. Open the
// page as `…/#token=T`: the fragment never reaches the server or its logs; we keep it for this
// tab and hide it. EventSource cannot send headers, so the stream (and the download link) carry
// it as `access_token` (RFC 6750 §2.3); fetches send `Authorization`.
const token = (() => {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get('token');
  try {
    if (fromHash) sessionStorage.setItem('sse-token', fromHash);
    return fromHash ?? sessionStorage.getItem('sse-token');
  } catch {
    return fromHash; // storage disabled
  } finally {
    if (fromHash) history.replaceState(null, '', location.pathname + location.search);
  }
})();

/** Headers for a fetch: the token, when there is one. */
const authHeaders = () => (token ? { Authorization: `Bearer ${token}` } : {});
/** `url` with the token as `access_token`, for requests that cannot carry headers. */
const withToken = (url) =>
  token ? `${url}${url.includes('?') ? '&' : '?'}access_token=${encodeURIComponent(token)}` : url;

const conn = new Reconnect(policyFromQuery());
let source = null; // the open EventSource, if any
let generation = 0; // bumps on every (re)connect so late callbacks of old streams are ignored
let nextIdx = 0;
let epoch = null;
let lastState = null;
let ended = null; // the session_ended payload once the agent has ended the session
let timer = 0;
let sending = false; // a chat POST is in flight

// ---------------------------------------------------------------------------------------------
// Driving the connection state machine.

/** Perform the machine's actions, re-arm its timer and redraw. Call after every input. */
function drive() {
  for (let action = conn.pollAction(); action; action = conn.pollAction()) {
    if (action === 'close') closeStream();
    else if (action === 'connect') openStream();
  }
  clearTimeout(timer);
  const at = conn.pollTimeout();
  if (at !== undefined) {
    timer = setTimeout(() => {
      conn.handleTimeout(now());
      drive();
    }, Math.max(0, at - now()));
  }
  renderConnection();
}

let shownStatus = ''; // what renderConnection last drew, to skip redrawing on every event

function closeStream() {
  generation += 1;
  if (source) source.close();
  source = null;
}

function openStream() {
  closeStream();
  const gen = generation;
  const live = () => gen === generation;
  let opened = false;
  // The epoch our copy belongs to: a server whose log is another history answers `reset`
  // instead of replaying its own `from` (PROTOCOL.md §2).
  const ofEpoch = epoch ? `&epoch=${encodeURIComponent(epoch)}` : '';
  const url = withToken(`stream?from=${nextIdx}${ofEpoch}`);
  const es = new EventSource(url);
  source = es;

  es.onopen = () => {
    if (!live()) return;
    opened = true;
    conn.handleConnected(now());
    drive();
  };
  es.onerror = () => {
    if (!live()) return;
    // EventSource would retry on its own with its own timing; we own the policy, so close it.
    const failed = es.readyState === EventSource.CLOSED && !opened;
    closeStream();
    if (failed) {
      // The browser refused the response (not 200 or not text/event-stream) without saying
      // which; ask once so a 404 disables us while a 503 is retried.
      const closedAt = generation;
      classify(url).then((why) => {
        if (generation !== closedAt) return; // something else happened meanwhile
        conn.handleDisconnected(now(), why);
        drive();
      });
    } else {
      conn.handleDisconnected(now(), Disconnect.network());
      drive();
    }
  };

  const on = (type, handler) =>
    es.addEventListener(type, (ev) => {
      if (!live()) return;
      conn.handleBytes(now());
      handler(ev);
      drive();
    });
  on('state', (ev) => onState(parse(ev.data)));
  on('message', (ev) => onMessage(parse(ev.data), ev.lastEventId));
  on('heartbeat', () => {});
  // After `reset` the server goes on from its log's start on this same connection (and should
  // it not, the first message is a gap and we reconnect from 0).
  on('reset', (ev) => startOver(parse(ev.data)?.epoch, { reconnect: false }));
  on('session_ended', (ev) => onSessionEnded(parse(ev.data) ?? {}));
}

/** Why a stream request failed, for the cases EventSource does not tell us. */
async function classify(url) {
  const abort = new AbortController();
  try {
    const res = await fetch(url, { signal: abort.signal, cache: 'no-store', headers: authHeaders() });
    const type = res.headers.get('content-type') ?? '';
    if (res.status !== 200) return Disconnect.http(res.status);
    if (!type.startsWith('text/event-stream')) return Disconnect.notEventStream();
    return Disconnect.network();
  } catch {
    return Disconnect.network();
  } finally {
    abort.abort();
  }
}

function parse(data) {
  try {
    return JSON.parse(data);
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Events.

function onState(state) {
  if (!state || typeof state !== 'object') return;
  if (epoch !== null && state.epoch && state.epoch !== epoch) {
    // A different log (the server lost or replaced its history): our copy is not of it.
    startOver(state.epoch);
  }
  if (state.epoch) epoch = state.epoch;
  lastState = state;
  renderState();
}

function onMessage(msg, lastEventId) {
  if (!msg || typeof msg !== 'object') return;
  const idx = Number.isInteger(msg.idx) ? msg.idx : Number.parseInt(lastEventId, 10);
  if (!Number.isInteger(idx) || idx < nextIdx) return; // duplicate (or unusable): drop
  if (idx > nextIdx) {
    // A gap: never show messages out of order; resume from what we have.
    conn.restart(now());
    return;
  }
  msg.idx = idx;
  appendMessage(msg);
  nextIdx = idx + 1;
}

function startOver(newEpoch, { reconnect = true } = {}) {
  clearTimeline();
  nextIdx = 0;
  if (newEpoch) epoch = newEpoch;
  if (reconnect) conn.restart(now());
}

function onSessionEnded(payload) {
  ended = payload;
  conn.handleDisconnected(now(), Disconnect.sessionEnded());
  closeStream();
  catchUp();
  renderState();
}

/** After the stream stopped, fetch any messages the State says exist but we have not shown. */
async function catchUp() {
  const count = lastState?.message_count;
  if (!Number.isInteger(count) || count <= nextIdx) return;
  try {
    const res = await fetch(`messages?start=${nextIdx}&end=${count}`, {
      cache: 'no-store',
      headers: authHeaders(),
    });
    if (!res.ok) return;
    const body = await res.json();
    const list = Array.isArray(body) ? body : body?.messages;
    if (!Array.isArray(list)) return;
    const start = nextIdx;
    list.forEach((m, i) => onMessage(m, String(start + i)));
  } catch {
    // Best effort; the download still has everything.
  }
}

// ---------------------------------------------------------------------------------------------
// Timeline.

const timeline = $('timeline');
const main = document.scrollingElement ?? document.documentElement;

// Whether new messages should scroll into view: true while the reader is at the bottom. Kept up
// to date from scroll events, so that appending (thousands of messages on a long backlog) never
// forces a layout; the scrolling itself happens at most once a frame.
let stickToBottom = true;
let scrollQueued = false;

function appendMessage(msg) {
  timeline.append(renderMessage(msg));
  $('empty').hidden = true;
  if (!stickToBottom) {
    $('jump').hidden = false;
  } else if (!scrollQueued) {
    scrollQueued = true;
    requestAnimationFrame(() => {
      scrollQueued = false;
      main.scrollTo({ top: main.scrollHeight });
    });
  }
}

function clearTimeline() {
  timeline.replaceChildren();
  $('empty').hidden = false;
  $('jump').hidden = true;
  stickToBottom = true;
}

$('jump').addEventListener('click', () => {
  stickToBottom = true;
  main.scrollTo({ top: main.scrollHeight, behavior: 'smooth' });
  $('jump').hidden = true;
});
window.addEventListener(
  'scroll',
  () => {
    if (scrollQueued) return; // our own scrolling
    stickToBottom = main.scrollHeight - main.scrollTop - main.clientHeight < 120;
    if (stickToBottom) $('jump').hidden = true;
  },
  { passive: true },
);

// ---------------------------------------------------------------------------------------------
// Rendering the connection and the agent.

const KIND_LABEL = {
  [Kind.Connected]: 'Connected',
  [Kind.Connecting]: 'Connecting…',
  [Kind.Disconnected]: 'Disconnected',
  [Kind.Disabled]: 'Disabled',
};

let countdownTimer = 0;

function renderConnection() {
  const { kind, reason } = conn.status();
  const retryAt = conn.retryAt();
  const key = `${kind}|${reason}|${retryAt}|${conn.attempt()}`;
  if (key === shownStatus) return;
  shownStatus = key;
  const net = $('net');
  const label =
    kind === Kind.Disconnected
      ? reason
      : kind === Kind.Disabled
        ? reason
        : KIND_LABEL[kind];
  const description = `Network status: ${KIND_LABEL[kind].replace('…', '')}. ${reason}`;
  net.dataset.status = kind;
  net.dataset.reason = reason;
  net.title = reason === KIND_LABEL[kind] ? reason : `${KIND_LABEL[kind]}: ${reason}`;
  net.setAttribute('aria-label', description);
  $('net-label').textContent = label;

  $('net-retry').hidden = retryAt === undefined;
  clearInterval(countdownTimer);
  if (retryAt !== undefined) {
    const tick = () => {
      const secs = Math.max(0, Math.ceil((retryAt - now()) / 1000));
      $('net-countdown').textContent = `reconnecting in ${secs}s`;
    };
    tick();
    countdownTimer = setInterval(tick, 250);
  }
  $('net-countdown').hidden = retryAt === undefined;

  renderTitle();
  renderControls();
}

function renderTitle() {
  const base = lastState?.title || 'Agent';
  const kind = conn.status().kind;
  const offline = kind === Kind.Disconnected || (kind === Kind.Connecting && conn.attempt() > 0);
  document.title = offline ? `⚠ Offline · ${base}` : base;
}

/** What the agent is doing, from State (PROTOCOL.md §4). */
function activity(state) {
  if (ended || state?.session_ended) return { key: 'ended', label: 'Session ended' };
  if (!state) return { key: 'unknown', label: 'Not known yet' };
  const tools = Array.isArray(state.outstanding_tool_calls) ? state.outstanding_tool_calls : [];
  switch (state.agent_state) {
    case 'RunningTool':
    case 'ToolUseRequested':
      return { key: 'tool', label: tools.length ? `Running ${tools.join(', ')}` : 'Running a tool' };
    case 'SendingToLLM':
    case 'ProcessingLLMResponse':
      return { key: 'model', label: 'Working on a model call' };
    case 'WaitingForUserInput':
    case 'EndOfTurn':
      return { key: 'waiting', label: 'Waiting for you' };
    case 'Cancelled':
      return { key: 'idle', label: 'Cancelled' };
    case 'BudgetExceeded':
      return { key: 'error', label: 'Budget exceeded' };
    case 'Error':
      return { key: 'error', label: 'Error' };
    default:
      break;
  }
  if (tools.length) return { key: 'tool', label: `Running ${tools.join(', ')}` };
  if (state.outstanding_llm_calls > 0) return { key: 'model', label: 'Working on a model call' };
  return { key: 'idle', label: 'Idle' };
}

function renderState() {
  const state = lastState;
  const act = activity(state);
  $('agent').dataset.activity = act.key;
  $('agent-label').textContent = act.label;

  if (state) {
    $('title').textContent = state.title || 'Agent';
    const meta = [state.hostname, state.working_dir].filter(Boolean).join(' · ');
    $('session-meta').textContent = meta;
    const u = state.total_usage ?? {};
    $('usage-in').textContent = formatCount(u.input_tokens ?? 0);
    $('usage-out').textContent = formatCount(u.output_tokens ?? 0);
    $('usage-cache').textContent = formatCount(
      (u.cache_read_input_tokens ?? 0) + (u.cache_creation_input_tokens ?? 0),
    );
    $('usage-cost').textContent = formatCost(u.total_cost_usd ?? 0);
  }
  renderTitle();
  renderControls();
}

/** The chat box and the stop button, which depend on both the connection and the agent. */
function renderControls() {
  const { kind, reason } = conn.status();
  const act = activity(lastState);
  // While the link is down the agent's state shown is only the last one we heard.
  const stale = kind !== Kind.Connected && act.key !== 'ended';
  $('agent').classList.toggle('stale', stale);
  $('agent').title = stale ? 'Last known state (not connected)' : '';
  $('stop').disabled = !(act.key === 'model' || act.key === 'tool') || kind !== Kind.Connected;

  let note = 'Enter to send, Shift+Enter for a new line.';
  let disabled = false;
  if (ended || lastState?.session_ended) {
    disabled = true;
    note = ended?.message
      ? `The session has ended: ${ended.message}`
      : 'The session has ended. You can still read and download the conversation.';
  } else if (kind === Kind.Disabled) {
    disabled = true;
    note = `Not connected: ${reason}. Reload the page to try again.`;
  } else if (kind !== Kind.Connected) {
    disabled = true;
    note =
      kind === Kind.Connecting
        ? 'Connecting to the agent… You can send messages once the connection is up.'
        : "You're offline, so messages can't be sent. They'll be possible again once the connection is back.";
  } else if (lastState && lastState.can_send_messages === false) {
    disabled = true;
    note = 'The agent is not accepting messages right now.';
  }
  $('empty').textContent = !lastState
    ? 'Loading the conversation…'
    : ended || lastState.session_ended
      ? 'This session ended without any messages.'
      : 'No messages yet. Say something to the agent below.';
  $('composer-input').disabled = disabled;
  $('send').disabled = disabled || sending;
  const noteEl = $('composer-note');
  noteEl.textContent = note;
  noteEl.classList.toggle('warn', disabled);
  $('composer').classList.toggle('disabled', disabled);
}

// ---------------------------------------------------------------------------------------------
// Actions: chat, stop, retry.

function showBanner(text) {
  const banner = $('banner');
  banner.textContent = text;
  banner.hidden = !text;
}

async function postJson(path, body) {
  const headers = { 'Content-Type': 'application/json', ...authHeaders() };
  const res = await fetch(path, { method: 'POST', headers, body: JSON.stringify(body) });
  if (!res.ok) {
    const err = await res.json().catch(() => null);
    if (res.status === 401) {
      throw new Error('this server needs a token: open the page as …/#token=YOUR_TOKEN');
    }
    throw new Error(err?.error ?? `HTTP ${res.status}`);
  }
}

$('composer').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const input = $('composer-input');
  const message = input.value.trim();
  if (!message || sending || input.disabled) return;
  sending = true;
  renderControls();
  try {
    await postJson('chat', { message });
    input.value = '';
    autosize();
    showBanner('');
  } catch (e) {
    showBanner(`Could not send the message: ${e.message}`);
  } finally {
    sending = false;
    renderControls();
    input.focus();
  }
});

$('composer-input').addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
    ev.preventDefault();
    $('composer').requestSubmit();
  }
});

function autosize() {
  const input = $('composer-input');
  input.style.height = 'auto';
  input.style.height = `${Math.min(input.scrollHeight, 240)}px`;
}
$('composer-input').addEventListener('input', autosize);

$('stop').addEventListener('click', async () => {
  $('stop').disabled = true;
  try {
    await postJson('cancel', { reason: 'user requested cancellation' });
    showBanner('');
  } catch (e) {
    showBanner(`Could not stop the agent: ${e.message}`);
    renderState();
  }
});

$('net-retry').addEventListener('click', () => {
  conn.retryNow(now());
  drive();
});

// The OS says the network is back: no point waiting out the backoff.
window.addEventListener('online', () => {
  conn.retryNow(now());
  drive();
});
// Timers are throttled in background tabs; catch up when the tab is shown again.
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') {
    conn.handleTimeout(now());
    drive();
  }
});

// Exposed for debugging in the console and for the browser tests; not an API.
window.sseUi = {
  conn,
  get nextIdx() {
    return nextIdx;
  },
  get epoch() {
    return epoch;
  },
  isFatalStatus,
};

// The download link cannot send a header either.
if (token) $('download').href = withToken('download');

conn.start(now());
drive();
