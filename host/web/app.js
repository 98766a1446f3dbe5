// The web UI shell: it moves bytes between fetch(), the DOM and sse-core's client session,
// which runs here compiled to wasm (web/sse_core.wasm through web/sse-wasm.js). Every decision
// about when to (re)connect, what to resume from, duplicates, gaps, epochs, `retry:` and the
// heartbeat watchdog is that session's; this file arms one timer for it, performs its actions
// and draws what it says. The tabs of one UI share one stream (web/share.js): the leader tab
// runs the session, the others draw what it relays through the same handle() and
// renderConnection().

import { announce, attention } from './attention.js';
import { fetchMessages, initTimeline, loadWindow, sizesFromQuery } from './history.js';
import { Share, canShare, shareKey, statusForWire, statusFromWire } from './share.js';
import { WasmFollow } from './sse-wasm.js';
import { formatCost, formatCount } from './timeline.js';

const $ = (id) => document.getElementById(id);
const now = () => performance.now();
/** A touch screen without a fine pointer: a phone or tablet. */
const touch = matchMedia('(pointer: coarse)');

// ---------------------------------------------------------------------------------------------
// Configuration: tests shorten the timers with query parameters (e.g. `?watchdog_ms=1500`).

function policyFromQuery() {
  const params = new URLSearchParams(location.search);
  const ms = (name) => {
    const v = Number(params.get(name));
    return params.has(name) && Number.isFinite(v) && v > 0 ? v : undefined;
  };
  return {
    idleTimeoutMs: ms('watchdog_ms'),
    initialBackoffMs: ms('backoff_ms'),
    connectTimeoutMs: ms('connect_timeout_ms'),
    healthyAfterMs: ms('healthy_ms'),
  };
}

// ---------------------------------------------------------------------------------------------
// Session state.

// A server started with `--token` wants it on every request but the page's own files. Open the
// page as `…/#token=T`: the fragment never reaches the server or its logs; we keep it for this
// tab and hide it. Fetches (the stream too) send it as `Authorization`; the download link, which
// cannot carry a header, as `access_token` (RFC 6750 §2.3).
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

/** The session, once its module is loaded (in the leader tab, or in every tab when they cannot
 *  share); `status()` before that says "connecting". */
let follow = null;
/** The tabs' shared stream (web/share.js), or null where the browser cannot share. */
let share = null;
/** In a follower tab: the status the leader relayed (`{kind, reason, retryAt, attempt}`). */
let remote = null;
/** In a follower tab: core's resume point and epoch after the last output drawn (from the
 *  leader's relays); where a promoted follower's own session resumes. `next` is undefined until
 *  the leader's snapshot came. */
const shared = { next: undefined, epoch: undefined };
/** The connection status for the indicator: what the session (ours or the leader's) says. */
const CONNECTING = { kind: 'connecting', reason: 'Connecting...', retryAt: undefined, attempt: 0 };
const current = () => (follow ? follow.status() : (remote ?? CONNECTING));
const conn = {
  status: () => (({ kind, reason }) => ({ kind, reason }))(current()),
  retryAt: () => current().retryAt,
  attempt: () => current().attempt ?? 0,
};
let abort = null; // the AbortController of the open stream request, if any
let generation = 0; // bumps on every (re)connect so late callbacks of old streams are ignored
let epoch = null;
let lastState = null;
let ended = null; // the session_ended payload once the agent has ended the session
let timer = 0;
let sending = false; // a chat POST is in flight
/**
 * Messages below this index are the backlog a stream replays (not news to announce); it is the
 * count of the first State of each stream (`undefined` until that State arrives).
 */
let backlogEnd = Infinity;
/**
 * A `reset` into a log longer than the window (the server came back with another, long
 * history): instead of replaying all of it, this tab's session starts again at the newest
 * window, as at boot. Set by fromSession, done by drive() once the current chunk is through.
 */
let restart = null;

// ---------------------------------------------------------------------------------------------
// Driving the session.

/** Perform the session's actions, hand its outputs to the app, re-arm its timer and redraw. */
function drive() {
  if (!follow) return;
  if (restart) restartAtWindow();
  for (let action = follow.pollAction(); action; action = follow.pollAction()) {
    if (action.kind === 'close') closeStream();
    else if (action.kind === 'connect') openStream(action);
  }
  for (const out of follow.poll(now())) fromSession(out);
  clearTimeout(timer);
  const at = follow.pollTimeout();
  if (at !== undefined) {
    timer = setTimeout(() => {
      follow.timeout(now());
      drive();
    }, Math.max(0, at - now()));
  }
  renderConnection();
  relayStatus();
}

let shownStatus = ''; // what renderConnection last drew, to skip redrawing on every event

function closeStream() {
  generation += 1;
  if (abort) abort.abort();
  abort = null;
}

/** Opens `GET stream?from=…` with fetch and feeds its body to the session. */
async function openStream({ from, lastEventId, epoch: ofEpoch }) {
  closeStream();
  const gen = generation;
  const live = () => gen === generation;
  const ctl = new AbortController();
  abort = ctl;
  // The epoch our copy belongs to: a server whose log is another history answers `reset`
  // instead of replaying its own `from` (PROTOCOL.md §2).
  const url = `stream?from=${from}${ofEpoch ? `&epoch=${encodeURIComponent(ofEpoch)}` : ''}`;
  const headers = { Accept: 'text/event-stream', ...authHeaders() };
  if (lastEventId !== undefined) headers['Last-Event-ID'] = lastEventId;
  let res;
  try {
    res = await fetch(url, { headers, signal: ctl.signal, cache: 'no-store' });
  } catch {
    if (!live()) return;
    follow.disconnected(now(), 'network');
    drive();
    return;
  }
  if (!live()) return;
  const type = res.headers.get('content-type') ?? '';
  follow.response(now(), res.status, type.toLowerCase().startsWith('text/event-stream'));
  drive();
  if (res.status !== 200 || !res.body) {
    ctl.abort();
    return;
  }
  const reader = res.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (!live()) return;
      if (done) {
        follow.disconnected(now(), 'end');
        drive();
        return;
      }
      for (const out of follow.feed(now(), value)) fromSession(out);
      drive();
    }
  } catch {
    if (!live()) return;
    follow.disconnected(now(), 'network');
    drive();
  }
}

/** The outputs a follower tab needs: what handle() acts on. */
const RELAYED = new Set(['message', 'state', 'start-over', 'session-ended', 'status']);

/** An output of this tab's own session: relayed to the other tabs (with core's resume point
 *  after it, read before the next output is made, and the status it came with), then handled
 *  here. */
function fromSession(out) {
  if (restart) return; // the rest of the old session's replay, which the restart replaces
  if (out.type === 'start-over' && out.reset) {
    const reset = parse(out.reset);
    const next = windowStart(reset);
    if (next !== undefined) {
      restart = { next, epoch: reset.epoch, count: reset.message_count, out };
      return;
    }
  }
  relayAndHandle(out);
}

function relayAndHandle(out) {
  if (share?.leader && RELAYED.has(out.type)) {
    const status = statusForWire(follow.status());
    share.post({ t: 'out', out, next: follow.next(), epoch: follow.epoch(), status });
  }
  handle(out);
}

/**
 * Where a session resumes to replay only the newest window of a log that `{message_count,
 * epoch}` (a State or a reset) describes; undefined when the log fits in the window.
 */
function windowStart(log) {
  const count = log?.message_count;
  const { window: size } = timelineWindow.sizes;
  return Number.isInteger(count) && count > size && typeof log.epoch === 'string'
    ? count - size
    : undefined;
}

/** The restart fromSession asked for: a new session resumed at the newest window. */
function restartAtWindow() {
  const { next, epoch: ofEpoch, count, out } = restart;
  restart = null;
  closeStream();
  follow.resume(next, ofEpoch);
  follow.start(now());
  // The start over, handled (and relayed to the other tabs) with the new session's resume point.
  relayAndHandle(out);
  timelineWindow.expect(count);
}

let relayedStatus = '';
/** The leader tells the other tabs when the connection status changes. */
function relayStatus() {
  if (!share?.leader || !follow) return;
  const status = follow.status();
  const key = `${status.kind}|${status.reason}|${status.retryAt}|${status.attempt}`;
  if (key === relayedStatus) return;
  relayedStatus = key;
  share.post({ t: 'status', status: statusForWire(status) });
}

/** One output of the session (this tab's own, or the leader tab's, relayed). */
function handle(out) {
  switch (out.type) {
    case 'message':
      onMessage(out);
      break;
    case 'state':
      if (!out.truncated) onState(parse(out.data));
      break;
    case 'status':
      // A stream opens with a State counting the backlog it replays (PROTOCOL.md §3).
      if (conn.status().kind === Kind.Connected) backlogEnd = undefined;
      break;
    case 'start-over':
      startOver(out.reset ? parse(out.reset)?.epoch : undefined);
      break;
    case 'session-ended':
      onSessionEnded(parse(out.data) ?? {});
      break;
    default:
      break; // heartbeats, comments, status changes: drive() redraws
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
  if (backlogEnd === undefined) backlogEnd = state.message_count ?? 0;
  if (state.epoch) epoch = state.epoch;
  lastState = state;
  renderState();
}

/** Fetches message `idx` whole (one cut at the session's data bound). */
async function fetchWhole(idx) {
  const list = await fetchMessages(idx, idx + 1, authHeaders());
  return list?.find((m) => m.idx === idx) ?? null;
}

/** A message the session delivered: the next one, exactly once. */
function onMessage({ idx, data, truncated }) {
  const live = idx >= backlogEnd;
  timelineWindow
    .live(idx, async () => {
      const parsed = truncated ? null : parse(data);
      const msg = parsed && typeof parsed === 'object' ? parsed : null;
      return msg ?? (truncated ? await fetchWhole(idx) : null) ?? { type: 'error', content: data };
    })
    .then((node) => {
      if (live && node) announce(node.textContent.replace(/\s+/g, ' ').trim());
    });
}

function startOver(newEpoch) {
  timelineWindow.reset();
  if (newEpoch) epoch = newEpoch;
}

function onSessionEnded(payload) {
  ended = payload;
  closeStream();
  timelineWindow.bootOver();
  catchUp();
  renderState();
}

/**
 * After the stream stopped, fetch the messages the State says exist from the one the session
 * says comes next (`next()`: this tab's, or the leader's as relayed), and hand them to the
 * timeline as the session would have.
 */
async function catchUp() {
  const count = lastState?.message_count;
  const from = follow ? follow.next() : shared.next;
  if (!Number.isInteger(count) || !Number.isInteger(from) || count <= from) return;
  const list = await fetchMessages(from, count, authHeaders());
  // Best effort; the download still has everything.
  for (const m of list ?? []) {
    if (Number.isInteger(m.idx)) timelineWindow.live(m.idx, () => m);
  }
}

// ---------------------------------------------------------------------------------------------
// Timeline: history.js holds the window of messages in the DOM and pages the rest.

const timelineWindow = initTimeline({
  fetchRange: (start, end) => fetchMessages(start, end, authHeaders()),
  sizes: sizesFromQuery(),
});

// ---------------------------------------------------------------------------------------------
// Rendering the connection and the agent.

/** The four statuses every client shows (PROTOCOL.md §7). */
const Kind = Object.freeze({
  Connected: 'connected',
  Connecting: 'connecting',
  Disconnected: 'disconnected',
  Disabled: 'disabled',
});

const KIND_LABEL = {
  [Kind.Connected]: 'Connected',
  [Kind.Connecting]: 'Connecting…',
  [Kind.Disconnected]: 'Disconnected',
  [Kind.Disabled]: 'Disabled',
};

/** Sentences for the tooltip, by core's reason text (PROTOCOL.md §7). */
const REASON_DETAIL = {
  'Connection lost': 'The network connection to the server broke.',
  'Server closed the stream': 'The server ended the stream (it may be restarting).',
  'Server unreachable': 'The server could not be reached: it may be down, or the network may be.',
  'Connection timed out (no heartbeat)':
    'The server sent nothing, not even a heartbeat, for too long: the connection was presumed dead.',
  'Connection timed out': 'The server accepted the connection but did not answer in time.',
  'Not an event stream': 'The stream URL answered with something other than an event stream.',
};

/** What the indicator says for a status: a short label and a sentence for the tooltip. The
 *  reason is core's; the page adds only what the browser knows (that it is offline). */
function describe(kind, reason) {
  if (kind === Kind.Connected || kind === Kind.Connecting) {
    return { label: KIND_LABEL[kind], detail: '' };
  }
  if (reason === 'Server unreachable' && navigator.onLine === false) {
    return { label: "You're offline", detail: 'This device has no network connection.' };
  }
  const http = /^HTTP (\d+)$/.exec(reason);
  if (http) {
    return {
      label: `Server answered HTTP ${http[1]}`,
      detail: `The stream request was answered with HTTP status ${http[1]}.`,
    };
  }
  return { label: reason, detail: REASON_DETAIL[reason] ?? '' };
}

let countdownTimer = 0;

function renderConnection() {
  const { kind, reason } = conn.status();
  const retryAt = conn.retryAt();
  const key = `${kind}|${reason}|${retryAt}|${conn.attempt()}|${navigator.onLine}`;
  if (key === shownStatus) return;
  shownStatus = key;
  const net = $('net');
  const { label, detail } = describe(kind, reason);
  const said = kind === Kind.Connected || kind === Kind.Connecting ? reason : label;
  const description = `Network status: ${KIND_LABEL[kind].replace('…', '')}. ${said}`;
  net.dataset.status = kind;
  net.dataset.reason = reason;
  net.title =
    (said === KIND_LABEL[kind] ? said : `${KIND_LABEL[kind]}: ${said}`) + (detail ? `. ${detail}` : '');
  net.setAttribute('aria-label', description);
  $('net-label').textContent = label;

  $('net-retry').hidden = retryAt === undefined;
  clearInterval(countdownTimer);
  if (retryAt !== undefined) {
    const tick = () => {
      const secs = Math.max(0, Math.ceil((retryAt - now()) / 1000));
      $('net-countdown').textContent = `reconnecting in ${secs}s`;
      if (secs === 0) wakeLeader(retryAt);
    };
    tick();
    countdownTimer = setInterval(tick, 250);
  }
  $('net-countdown').hidden = retryAt === undefined;
  // The boot's replay will not come over a stream that is down.
  if (kind === Kind.Disconnected || kind === Kind.Disabled) timelineWindow.bootOver();

  renderTitle();
  renderControls();
}

function renderTitle() {
  const base = lastState?.title || 'Agent';
  const kind = conn.status().kind;
  const offline = kind === Kind.Disconnected || (kind === Kind.Connecting && conn.attempt() > 0);
  document.title = offline
    ? `⚠ Offline · ${base}`
    : attention.pending
      ? `● Waiting for you · ${base}`
      : base;
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

let shownActivity = null; // the activity last drawn, to announce changes only

function renderState() {
  const state = lastState;
  const act = activity(state);
  if (act.key !== shownActivity) {
    // The first state is what the page opened on, not news.
    if (shownActivity !== null && act.key !== 'unknown') announce(`Agent: ${act.label}`);
    if (shownActivity !== null && act.key === 'waiting') {
      attention.waiting(state?.title || 'Agent');
    }
    shownActivity = act.key;
  }
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

  // On a touch screen the keyboard's Enter is a new line and the Send button sends.
  let note = touch.matches ? '' : 'Enter to send, Shift+Enter for a new line.';
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
    const { label } = describe(kind, reason);
    note =
      kind === Kind.Connecting
        ? 'Connecting to the agent… You can send messages once the connection is up.'
        : label === "You're offline"
          ? "You're offline, so messages can't be sent. They'll be possible again once the connection is back."
          : `Not connected (${label}), so messages can't be sent. They'll be possible again once the connection is back.`;
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
  noteEl.hidden = !note;
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
  // Your own message is the next to arrive: be at the latest when it does.
  timelineWindow.jumpToLatest();
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
  if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing && !touch.matches) {
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

// "Retry now", the OS saying the network is back: skip the rest of the backoff (the session's
// start() does exactly that while it waits, and nothing while connected).
const retryNow = () => {
  if (!follow || follow.status().kind !== 'disconnected') return;
  follow.start(now());
  drive();
};
// In a follower tab the button asks the leader, whose session it is.
$('net-retry').addEventListener('click', () =>
  follow || !share ? retryNow() : share.post({ t: 'retry' }),
);
window.addEventListener('online', retryNow);
window.addEventListener('offline', renderConnection); // "You're offline" rather than unreachable
// Timers are throttled in background tabs; catch up when the tab is shown again.
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && follow) {
    follow.timeout(now());
    drive();
  } else if (document.visibilityState === 'visible') {
    wakeLeader();
  }
});

let wokenFor; // the retry time a follower last woke the leader for
/** The leader is often a background tab, whose timers the browser throttles (to once a minute
 *  after a while): a follower that sees the retry time pass, or is shown, tells it to look at
 *  its session's timer now (an early look is harmless: the session decides). */
function wakeLeader(retryAt) {
  if (follow || !share || (retryAt !== undefined && retryAt === wokenFor)) return;
  wokenFor = retryAt;
  share.post({ t: 'wake' });
}

// Exposed for debugging in the console and for the browser tests; not an API.
window.sseUi = {
  get follow() {
    return follow;
  },
  get timeline() {
    return timelineWindow;
  },
  get epoch() {
    return epoch;
  },
  /** 'leader' or 'follower' when the tabs share one stream, 'solo' when each has its own. */
  get role() {
    return share ? share.role : 'solo';
  },
};

attention.onChange = renderTitle;
attention.init();

// The download link cannot send a header.
if (token) $('download').href = withToken('download');

// ---------------------------------------------------------------------------------------------
// Sharing the stream with the other tabs of this UI (web/share.js).

/** Hellos that came before this leader's session was loaded: answered once it is. */
const waitingTabs = new Set();

/** `GET state`, or null: its message count and epoch say where a first stream should start. */
async function fetchState() {
  try {
    const res = await fetch('state', { cache: 'no-store', headers: authHeaders() });
    return res.ok ? await res.json() : null;
  } catch {
    return null;
  }
}

/** Starts this tab's own session; `from` is where a shared stream was (a promoted follower). */
function startSession(from) {
  const resumed = from?.next !== undefined;
  Promise.all([WasmFollow.load(fetch('web/sse_core.wasm'), policyFromQuery()), resumed ? null : fetchState()])
    .then(([f, state]) => {
      if (resumed) {
        f.resume(from.next, from.epoch ?? '');
      } else {
        // A long conversation: replay only the newest window; older pages come from
        // `messages` as the reader scrolls up. The session decides what that means on the wire.
        const next = windowStart(state);
        if (next !== undefined) f.resume(next, state.epoch);
        timelineWindow.expect(state?.message_count);
      }
      follow = f;
      follow.start(now());
      drive();
      for (const to of waitingTabs) sendSnapshot(to);
      waitingTabs.clear();
    })
    .catch((e) => {
      showBanner(`This browser could not start the stream client: ${e.message}`);
    });
}

function sendSnapshot(to) {
  const status = follow ? follow.status() : (remote ?? CONNECTING);
  share.post({
    t: 'snapshot',
    to,
    next: follow ? follow.next() : shared.next,
    epoch: follow ? follow.epoch() : shared.epoch,
    status: statusForWire(status),
    state: lastState,
    ended,
    backlogEnd, // which relayed messages are news to announce
  });
}

/** This tab leads: at start, or because the leader tab went away. */
function lead() {
  // The session is over: nothing will come any more, and a new stream would only hear so. The
  // last status relayed stays (and is what tabs joining now are told).
  if (ended) return;
  remote = null;
  // A follower that never had its snapshot holds nothing yet: it starts like a first tab.
  startSession(shared.next === undefined ? undefined : shared);
}

let helloTimer = 0;
let hellos = 0;
/** Asks the leader for a snapshot until one comes (the leader may still be starting). */
function hello() {
  clearTimeout(helloTimer);
  if (follow || shared.next !== undefined || hellos >= 60) return;
  hellos += 1;
  share.post({ t: 'hello' });
  helloTimer = setTimeout(hello, 1000);
}

/** The leader's snapshot: the state, the history below core's resume point, the status. */
function onSnapshot(msg) {
  if (follow || shared.next !== undefined) return;
  clearTimeout(helloTimer);
  shared.next = msg.next;
  shared.epoch = msg.epoch;
  remote = statusFromWire(msg.status);
  if (msg.state) onState(msg.state);
  backlogEnd = msg.backlogEnd;
  // The newest messages below the leader's resume point; older ones page in on scroll, and
  // the relayed ones follow from `next` on.
  if (Number.isInteger(msg.next)) loadWindow(msg.next, msg.epoch);
  if (msg.ended) onSessionEnded(msg.ended);
  renderConnection();
}

/** A message from another tab of this UI. */
function onShareMessage(msg) {
  switch (msg.t) {
    case 'hello':
      if (!share.leader) break;
      if (follow || ended) sendSnapshot(msg.from);
      else waitingTabs.add(msg.from);
      break;
    case 'retry':
      if (share.leader) retryNow();
      break;
    case 'wake':
      if (follow) {
        follow.timeout(now());
        drive();
      }
      break;
    case 'leader':
      hello(); // a tab still waiting for a snapshot asks the new leader
      break;
    case 'snapshot':
      if (!share.leader) onSnapshot(msg);
      break;
    case 'status':
      if (share.leader) break; // late news from a leader that left: our session speaks now
      remote = statusFromWire(msg.status);
      renderConnection();
      break;
    case 'out': {
      if (share.leader || shared.next === undefined) break;
      // Draw the message core said comes next, and no other: after a handover the new
      // leader's session may repeat what the old one relayed last.
      if (msg.out.type === 'message' && msg.out.idx !== shared.next) break;
      shared.next = msg.next;
      shared.epoch = msg.epoch;
      remote = statusFromWire(msg.status); // handle() reads the status as the leader's did
      handle(msg.out);
      if (msg.out.type === 'status') renderConnection();
      break;
    }
    default:
      break;
  }
}

renderConnection();
if (canShare()) {
  shareKey(location.pathname, token)
    .then((key) => {
      share = new Share(key, {
        lead,
        follow: hello,
        message: onShareMessage,
        alone: () => startSession(),
      });
    })
    .catch(() => startSession());
} else {
  startSession();
}
