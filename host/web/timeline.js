// The conversation timeline: turns AgentMessage JSON (PROTOCOL.md §4) into DOM nodes.
//
// Agent and user messages are markdown (render.js: escaped source HTML, safe links only) and are
// never folded. Everything else from the server is inserted as text (textContent), never as HTML;
// long tool output is folded behind a "Show all" button so that a 500 KB output does not freeze
// the page.

import { renderMarkdown } from './render.js';

/** Text longer than this many lines or characters is folded. */
const FOLD_LINES = 12;
const FOLD_CHARS = 4000;

const ROLE = {
  user: 'You',
  agent: 'Agent',
  tool: 'Tool',
  error: 'Error',
  budget: 'Budget',
  commit: 'Commit',
  auto: 'Auto',
};

/** Shorthand for creating an element with a class and optional text. */
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A `<pre>` that shows the first lines of `text`, with a button to show the rest. */
function foldedText(text, className = 'text') {
  const wrap = el('div', 'fold');
  const pre = el('pre', className);
  wrap.append(pre);
  const lines = text.split('\n');
  const tooLong = lines.length > FOLD_LINES || text.length > FOLD_CHARS;
  if (!tooLong) {
    pre.textContent = text;
    return wrap;
  }
  let head = lines.slice(0, FOLD_LINES).join('\n');
  if (head.length > FOLD_CHARS) head = head.slice(0, FOLD_CHARS);
  pre.textContent = head;
  wrap.classList.add('folded');
  const more = el('button', 'btn btn-link fold-toggle');
  more.type = 'button';
  const hidden = `${lines.length.toLocaleString()} lines, ${formatBytes(text.length)}`;
  more.textContent = `Show all (${hidden})`;
  more.setAttribute('aria-expanded', 'false');
  more.addEventListener('click', () => {
    const open = more.getAttribute('aria-expanded') === 'true';
    pre.textContent = open ? head : text;
    more.textContent = open ? `Show all (${hidden})` : 'Show less';
    more.setAttribute('aria-expanded', String(!open));
    wrap.classList.toggle('folded', open);
  });
  wrap.append(more);
  return wrap;
}

function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** 1234 → "1.2k". */
export function formatCount(n) {
  if (!Number.isFinite(n)) return '0';
  if (n < 1000) return String(n);
  if (n < 1e6) return `${(n / 1e3).toFixed(n < 1e4 ? 1 : 0)}k`;
  return `${(n / 1e6).toFixed(1)}M`;
}

export function formatCost(usd) {
  if (!Number.isFinite(usd)) return '$0.00';
  return usd > 0 && usd < 0.01 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(2)}`;
}

// Formatters are made once: making one per message is most of the cost of a timestamp.
const TIME = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' });
const DATE_TIME = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const FULL = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'long' });

/** `<time>` for an RFC 3339 timestamp: the time today, the date too on other days, and the
 *  full date and time as its tooltip. Null when there is no valid timestamp. */
function timeElement(ts, today = new Date()) {
  if (typeof ts !== 'string' || !ts) return null;
  const d = new Date(ts);
  if (Number.isNaN(d.getTime())) return null;
  const sameDay = d.toDateString() === today.toDateString();
  const node = el('time', 'msg-time', (sameDay ? TIME : DATE_TIME).format(d));
  node.dateTime = d.toISOString();
  node.title = FULL.format(d);
  return node;
}

/** A `.msg-meta` span of `parts` (text or nodes, empty ones left out) joined by " · ". */
function metaSpan(parts) {
  const shown = parts.filter(Boolean);
  if (!shown.length) return null;
  const span = el('span', 'msg-meta');
  shown.forEach((part, i) => {
    if (i > 0) span.append(' · ');
    span.append(part);
  });
  return span;
}

/** Durations in `elapsed` are nanoseconds. */
function formatElapsed(ns) {
  if (!Number.isFinite(ns) || ns <= 0) return '';
  const ms = ns / 1e6;
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** Tool input arrives as a JSON string; show it pretty-printed when it parses. */
function prettyInput(input) {
  if (input === undefined || input === null || input === '') return '';
  if (typeof input !== 'string') return JSON.stringify(input, null, 2);
  try {
    return JSON.stringify(JSON.parse(input), null, 2);
  } catch {
    return input;
  }
}

/** A one-line summary of a tool's input for the collapsed row. */
function inputPreview(input) {
  let value = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input);
    } catch {
      value = input;
    }
  }
  if (value && typeof value === 'object') {
    const first = Object.values(value).find((v) => typeof v === 'string');
    value = first ?? JSON.stringify(value);
  }
  const line = String(value ?? '').replace(/\s+/g, ' ').trim();
  return line.length > 90 ? `${line.slice(0, 89)}…` : line;
}

function usageLine(usage) {
  if (!usage) return '';
  const parts = [];
  if (usage.input_tokens) parts.push(`${formatCount(usage.input_tokens)} in`);
  if (usage.output_tokens) parts.push(`${formatCount(usage.output_tokens)} out`);
  if (usage.cost_usd) parts.push(formatCost(usage.cost_usd));
  return parts.join(' · ');
}

function header(msg) {
  const head = el('div', 'msg-head');
  head.append(el('span', 'msg-role', ROLE[msg.type] ?? String(msg.type ?? 'Message')));
  const meta = metaSpan([timeElement(msg.timestamp), formatElapsed(msg.elapsed), usageLine(msg.usage)]);
  if (meta) head.append(meta);
  return head;
}

function renderTool(msg, li) {
  const failed = Boolean(msg.tool_error);
  li.classList.toggle('failed', failed);
  const details = el('details', 'tool');
  const summary = el('summary', 'tool-summary');
  summary.append(el('span', 'tool-name', msg.tool_name || 'tool'));
  const preview = inputPreview(msg.input);
  if (preview) summary.append(el('span', 'tool-preview', preview));
  const badge = el('span', `badge ${failed ? 'badge-error' : 'badge-ok'}`, failed ? 'failed' : 'done');
  summary.append(badge);
  const meta = metaSpan([formatElapsed(msg.elapsed), timeElement(msg.timestamp)]);
  if (meta) summary.append(meta);
  details.append(summary);

  const body = el('div', 'tool-body');
  const input = prettyInput(msg.input);
  if (input) {
    body.append(el('h3', 'tool-heading', 'Input'), foldedText(input, 'code'));
  }
  const result = typeof msg.tool_result === 'string' ? msg.tool_result : msg.content ?? '';
  body.append(el('h3', 'tool-heading', failed ? 'Error' : 'Output'));
  body.append(result ? foldedText(result, 'code') : el('p', 'muted', '(no output)'));
  details.append(body);
  li.append(details);
}

/** A list item for one AgentMessage. `msg.idx` must be set. */
export function renderMessage(msg) {
  const type = typeof msg.type === 'string' ? msg.type : 'agent';
  const li = el('li', `msg msg-${type}`);
  li.dataset.idx = String(msg.idx);
  li.dataset.type = type;

  if (type === 'tool') {
    renderTool(msg, li);
    return li;
  }

  li.append(header(msg));
  const content = typeof msg.content === 'string' ? msg.content : '';
  if (content) {
    li.append(type === 'agent' || type === 'user' ? renderMarkdown(content) : foldedText(content));
  }

  if (Array.isArray(msg.tool_calls) && msg.tool_calls.length > 0) {
    const calls = el('ul', 'tool-calls');
    calls.setAttribute('aria-label', 'Tool calls');
    for (const call of msg.tool_calls) {
      const item = el('li', 'chip');
      item.append(el('span', 'chip-name', call.name ?? 'tool'));
      const preview = inputPreview(call.input);
      if (preview) item.append(el('span', 'chip-preview', preview));
      calls.append(item);
    }
    li.append(calls);
  }
  if (!content && !li.querySelector('.tool-calls')) li.append(el('p', 'muted', '(empty)'));
  if (msg.end_of_turn && type === 'agent') li.classList.add('end-of-turn');
  return li;
}
