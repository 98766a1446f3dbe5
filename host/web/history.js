// The timeline window: which messages are in the page, and fetching the others on demand.
//
// A long conversation (20 000 messages, 40 MB) cannot all be in the DOM: the page would take
// a minute to show and most of a gigabyte to hold. So the timeline holds one contiguous run of
// messages, `lo..hi`, never more than `cap` of them:
// - at boot the stream replays only the newest `window` messages (app.js asks sse-core's
//   session to resume there; the session decides what the server is asked for);
// - scrolling near the top fetches the page before `lo` from `GET messages?start=&end=`, with
//   the scroll position anchored on a message that stays, and drops the far (newest) side once
//   the run is longer than `cap`; scrolling back down fetches it again;
// - live messages are appended while the run reaches the newest one; while it does not (the
//   reader is far up) they are only counted ("3 new" on the jump button) and fetched when the
//   reader goes there.
// Every change to the run is one task of one queue, so a page that lands while live messages
// stream in can neither duplicate nor skip one. Indices come from the session (live messages)
// or the server (pages); this file only compares them with the ends of the run it holds.

import { renderMessage } from './timeline.js';

/** Sizes of the window: replayed at boot, most in the DOM, fetched per page. */
export const DEFAULT_SIZES = Object.freeze({ window: 200, cap: 400, page: 100 });

/** How far (px) outside the viewport a sentinel may be to fetch the next page already. */
const MARGIN_PX = 1200;
/** Distance (px) from the bottom within which the reader counts as "at the latest". */
const BOTTOM_PX = 120;
/** A page is drawn this many messages at a time, yielding in between, so that drawing 100
 *  messages (~60 ms of markdown, DOM and layout) never holds up a frame for long. */
const CHUNK = 20;

/** Lets the browser draw a frame and handle input before the next chunk. */
const yieldToBrowser = () => new Promise((resolve) => setTimeout(resolve, 0));

/** The message list from `GET messages?start=&end=`, or `null` when it could not be read. */
export async function fetchMessages(start, end, headers = {}) {
  try {
    const res = await fetch(`messages?start=${start}&end=${end}`, { cache: 'no-store', headers });
    if (!res.ok) return null;
    const body = await res.json();
    const list = Array.isArray(body) ? body : body?.messages;
    return Array.isArray(list) ? list.filter((m) => m && typeof m === 'object') : null;
  } catch {
    return null;
  }
}

export class Timeline {
  /**
   * `list`: the `<ol>`; `older`/`newer`: sentinels above and below it; `jump`: the
   * jump-to-latest button; `progress`/`progressLabel`: the loading indicator; `empty`: the
   * "no messages" note; `fetchRange(start, end)`: messages `start..end` (or null).
   */
  constructor({ list, older, newer, jump, progress, progressLabel, empty, fetchRange, sizes }) {
    Object.assign(this, { list, older, newer, jump, progress, progressLabel, empty, fetchRange });
    this.sizes = { ...DEFAULT_SIZES, ...sizes };
    this.scroller = document.scrollingElement ?? document.documentElement;
    this.queue = Promise.resolve();
    this.generation = 0; // bumps when the run is dropped, so late pages are ignored
    this.#clearState();
    this.booting = null; // the message count to reach before the boot's replay is over
    this.busy = 0; // pages in flight
    this.paging = false; // a page task is queued or running
    this.stick = true; // the reader is at the latest message: new ones scroll into view
    this.scrollQueued = false;

    window.addEventListener('scroll', () => this.#onScroll(), { passive: true });
    if (typeof IntersectionObserver === 'function') {
      const io = new IntersectionObserver(() => this.#checkEdges(), {
        rootMargin: `${MARGIN_PX}px 0px`,
      });
      io.observe(older);
      io.observe(newer);
    }
    jump.addEventListener('click', () => this.jumpToLatest());
  }

  #clearState() {
    this.lo = null; // first message in the DOM
    this.hi = null; // one past the last message in the DOM
    this.end = null; // one past the newest message the session delivered
    this.floor = 0; // nothing older than this exists on the server
    this.unseen = 0; // messages delivered while the reader was not at the latest
  }

  /** Runs `task` after every earlier one; a task that throws does not stop the queue. */
  #enqueue(task) {
    const gen = this.generation;
    const run = this.queue.then(() => (gen === this.generation ? task() : undefined));
    this.queue = run.catch(() => {});
    return run;
  }

  get attached() {
    return this.hi === this.end;
  }

  get size() {
    return this.list.childElementCount;
  }

  // -------------------------------------------------------------------------------------------
  // Inputs.

  /** The boot replays the stream up to `count` messages: show progress until they are in. */
  expect(count) {
    if (Number.isInteger(count) && count > 0) {
      this.booting = count;
      this.#renderProgress();
    }
  }

  /** The boot's replay will not come (the stream failed, the session ended): stop waiting. */
  bootOver() {
    if (this.booting === null) return;
    this.booting = null;
    this.#renderProgress();
    // After the scroll to the latest (queued for this frame), not from the top of the page.
    requestAnimationFrame(() => this.#checkEdges());
  }

  /**
   * Message `idx` as the session delivered it (in order, once each). `get()` returns the
   * message object (or a promise of it); it is called only if the message is drawn now.
   * Resolves to its list item once drawn, or to null (not drawn: the reader is far up).
   */
  live(idx, get) {
    return this.#enqueue(async () => {
      let node = null;
      if (this.end === null || this.size === 0 || idx !== this.end) {
        // The first message (or one that does not follow the run: start a new run there).
        if (this.end !== null && this.size > 0) this.#dropAll();
        this.lo = idx;
        this.hi = idx;
        this.end = idx;
      }
      const draw = this.attached && (this.stick || this.size < this.sizes.cap);
      this.end = idx + 1;
      if (draw) {
        const gen = this.generation;
        const msg = await get();
        if (gen !== this.generation) return null; // started over meanwhile
        node = this.#render(msg, idx, this.booting === null);
        this.list.append(node);
        this.hi = this.end;
        this.empty.hidden = true;
        if (this.stick) this.#trim('top');
      }
      if (!this.stick) this.unseen += 1;
      this.#renderJump();
      if (this.stick) this.#scrollToBottom();
      if (this.booting !== null && this.end >= this.booting) this.bootOver();
      return node;
    });
  }

  /** The session started over (another epoch): forget the run. */
  reset() {
    this.generation += 1;
    this.queue = Promise.resolve();
    this.#dropAll();
    this.#clearState();
    this.busy = 0;
    this.paging = false;
    this.stick = true;
    this.booting = null;
    this.#renderProgress();
    this.#renderJump();
  }

  /**
   * Shows the newest `window` messages below `next` from `messages` (a tab that gets its live
   * messages from elsewhere: the live ones from `next` on are then appended by `live()`).
   */
  loadWindow(next) {
    return this.#enqueue(async () => {
      if (this.end !== null && this.end !== next) this.#dropAll();
      this.end = next;
      if (next === 0) this.lo = this.hi = 0;
      if (this.attached) return;
      await this.#loadLatest();
    });
  }

  /** Scrolls to the newest message, fetching it first if the run does not reach it. */
  jumpToLatest() {
    this.stick = true;
    this.unseen = 0;
    this.#renderJump();
    return this.#enqueue(async () => {
      this.stick = true;
      if (!this.attached && this.end !== null) await this.#loadLatest();
      this.unseen = 0;
      this.#renderJump();
      this.#scrollToBottom();
    });
  }

  // -------------------------------------------------------------------------------------------
  // Paging.

  /** Replaces the run by the newest `window` messages below `end`. */
  async #loadLatest() {
    const end = this.end;
    const start = Math.max(this.floor, end - this.sizes.window);
    const msgs = await this.#page(start, end, 'Loading the latest messages…');
    if (!msgs) return;
    this.#dropAll();
    this.lo = end;
    this.hi = end;
    const run = contiguousBefore(msgs, end);
    if (run.length < end - start) this.floor = run.length ? run[0].idx : end;
    const frag = document.createDocumentFragment();
    for (const m of run) frag.append(this.#render(m, m.idx, false));
    this.list.append(frag);
    if (run.length) this.lo = run[0].idx;
    this.empty.hidden = this.size > 0;
    this.#scrollToBottom();
  }

  /** Fetches `start..end`, showing progress meanwhile; null if it failed or the run changed. */
  async #page(start, end, label) {
    const gen = this.generation;
    this.busy += 1;
    this.progressLabel.textContent = label;
    this.#renderProgress();
    try {
      const msgs = await this.fetchRange(start, end);
      return gen === this.generation ? msgs : null;
    } finally {
      if (gen === this.generation) {
        this.busy -= 1;
        this.#renderProgress();
      }
    }
  }

  #loadOlder() {
    return this.#enqueue(async () => {
      if (this.lo === null || this.lo <= this.floor || this.size === 0) return;
      const lo = this.lo;
      const start = Math.max(this.floor, lo - this.sizes.page);
      const msgs = await this.#page(start, lo, 'Loading earlier messages…');
      if (!msgs || this.lo !== lo) return;
      const run = contiguousBefore(msgs, lo);
      if (run.length < lo - start) this.floor = run.length ? run[0].idx : lo;
      const gen = this.generation;
      // Newest first: the messages nearest to what the reader sees come first.
      for (let to = run.length; to > 0; to -= CHUNK) {
        if (to !== run.length) await yieldToBrowser();
        if (gen !== this.generation) return;
        const part = run.slice(Math.max(0, to - CHUNK), to);
        const anchor = this.list.firstElementChild;
        const before = anchor.getBoundingClientRect().top;
        const frag = document.createDocumentFragment();
        for (const m of part) frag.append(this.#render(m, m.idx, false));
        this.list.prepend(frag);
        this.lo = part[0].idx;
        this.#trim('bottom');
        this.#keep(anchor, before);
      }
    });
  }

  #loadNewer() {
    return this.#enqueue(async () => {
      if (this.attached || this.hi === null) return;
      const hi = this.hi;
      const msgs = await this.#page(hi, Math.min(this.end, hi + this.sizes.page), 'Loading later messages…');
      if (!msgs || this.hi !== hi) return;
      const run = contiguousFrom(msgs, hi);
      const gen = this.generation;
      for (let from = 0; from < run.length; from += CHUNK) {
        if (from !== 0) await yieldToBrowser();
        if (gen !== this.generation) return;
        const part = run.slice(from, from + CHUNK);
        const anchor = this.list.lastElementChild;
        const before = anchor.getBoundingClientRect().top;
        const frag = document.createDocumentFragment();
        for (const m of part) frag.append(this.#render(m, m.idx, false));
        this.list.append(frag);
        this.hi = part[part.length - 1].idx + 1;
        this.#trim('top');
        this.#keep(anchor, before);
      }
      if (this.attached) this.#onScroll();
    });
  }

  /** Drops messages from one side until the run is at most `cap` long. */
  #trim(side) {
    const extra = this.size - this.sizes.cap;
    if (extra <= 0) return;
    const anchor = side === 'top' && !this.stick ? this.list.lastElementChild : null;
    const before = anchor?.getBoundingClientRect().top;
    for (let i = 0; i < extra; i += 1) {
      if (side === 'top') {
        this.list.firstElementChild.remove();
        this.lo += 1;
      } else {
        this.list.lastElementChild.remove();
        this.hi -= 1;
      }
    }
    if (anchor) this.#keep(anchor, before);
  }

  /** Scrolls so that `anchor` is back where it was (`before`, its viewport top). */
  #keep(anchor, before) {
    if (!anchor?.isConnected) return;
    const delta = anchor.getBoundingClientRect().top - before;
    if (delta !== 0) this.scroller.scrollTop += delta;
  }

  #dropAll() {
    this.list.replaceChildren();
    this.empty.hidden = false;
    this.lo = this.hi = this.end;
  }

  /** Fetches a page when a sentinel is near the viewport (and nothing else is loading). */
  #checkEdges() {
    if (this.booting !== null || this.paging || this.size === 0) return;
    const view = window.innerHeight;
    const near = (node) => {
      const r = node.getBoundingClientRect();
      return r.bottom > -MARGIN_PX && r.top < view + MARGIN_PX;
    };
    const task =
      this.lo > this.floor && near(this.older)
        ? () => this.#loadOlder()
        : !this.attached && near(this.newer)
          ? () => this.#loadNewer()
          : null;
    if (!task) return;
    this.paging = true;
    task().finally(() => {
      this.paging = false;
      this.#checkEdges();
    });
  }

  // -------------------------------------------------------------------------------------------
  // Drawing.

  #render(msg, idx, animate) {
    const shown = msg && typeof msg === 'object' ? msg : { type: 'error', content: String(msg) };
    shown.idx = idx;
    const li = renderMessage(shown);
    if (!animate) li.classList.add('quiet');
    return li;
  }

  #onScroll() {
    if (this.scrollQueued) return; // our own scrolling
    const s = this.scroller;
    const atBottom = s.scrollHeight - s.scrollTop - s.clientHeight < BOTTOM_PX;
    this.stick = atBottom && this.attached;
    if (this.stick) this.unseen = 0;
    this.#renderJump();
  }

  #scrollToBottom() {
    if (this.scrollQueued) return;
    this.scrollQueued = true;
    requestAnimationFrame(() => {
      this.scrollQueued = false;
      if (this.stick) this.scroller.scrollTo({ top: this.scroller.scrollHeight });
    });
  }

  #renderJump() {
    const show = !this.stick && (this.unseen > 0 || !this.attached);
    this.jump.hidden = !show;
    const text = this.unseen > 0 ? `↓ ${this.unseen.toLocaleString()} new` : '↓ Latest';
    if (this.jump.textContent !== text) this.jump.textContent = text;
  }

  #renderProgress() {
    const loading = this.booting !== null || this.busy > 0;
    if (this.booting !== null && this.busy === 0) {
      this.progressLabel.textContent = 'Loading the conversation…';
    }
    this.progress.hidden = !loading;
  }
}

/** The messages of `list` that run without a hole up to `end` (exclusive), in order. */
function contiguousBefore(list, end) {
  const run = [];
  let want = end - 1;
  for (let i = list.length - 1; i >= 0 && Number.isInteger(list[i].idx); i -= 1) {
    if (list[i].idx !== want) break;
    run.push(list[i]);
    want -= 1;
  }
  return run.reverse();
}

/** The messages of `list` that run without a hole from `start`, in order. */
function contiguousFrom(list, start) {
  const run = [];
  let want = start;
  for (const m of list) {
    if (m.idx !== want) break;
    run.push(m);
    want += 1;
  }
  return run;
}

/** The page's timeline, once app.js has made it (see `initTimeline`). */
let current = null;

/** Makes the page's timeline from its elements (index.html's ids). */
export function initTimeline({ fetchRange, sizes }) {
  const $ = (id) => document.getElementById(id);
  current = new Timeline({
    list: $('timeline'),
    older: $('older'),
    newer: $('newer'),
    jump: $('jump'),
    progress: $('progress'),
    progressLabel: $('progress-label'),
    empty: $('empty'),
    fetchRange,
    sizes,
  });
  return current;
}

/**
 * For a tab whose live messages come from another tab: show the newest messages below `next`
 * (what the other tab's session says comes next) of `epoch`; the live ones follow through the
 * timeline's `live()`. A run of another epoch is dropped first.
 */
export function loadWindow(next, epoch) {
  if (!current) return Promise.resolve();
  if (epoch !== undefined && current.epoch !== undefined && epoch !== current.epoch) current.reset();
  current.epoch = epoch;
  return current.loadWindow(next);
}

/** The window's sizes from the page's query (`?window=50&cap=120&page=40`, for tests). */
export function sizesFromQuery(search = location.search) {
  const params = new URLSearchParams(search);
  const sizes = {};
  for (const name of Object.keys(DEFAULT_SIZES)) {
    const v = Number(params.get(name));
    if (params.has(name) && Number.isInteger(v) && v > 0) sizes[name] = v;
  }
  if (sizes.cap !== undefined && sizes.cap < (sizes.window ?? DEFAULT_SIZES.window)) {
    sizes.cap = sizes.window ?? DEFAULT_SIZES.window;
  }
  return sizes;
}
