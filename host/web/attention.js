// Getting the reader's attention, and telling assistive technology what changed.
//
// - `announce(text)`: a short line read out by screen readers (the #announce live region). Only
//   what happens live goes here: the backlog is never one long announcement.
// - `attention`: when the agent starts waiting for input while the tab is hidden, the tab's title
//   says so until the tab is shown again, and, if the reader asked for it with the bell button
//   (#notify), a desktop notification does too.

const $ = (id) => document.getElementById(id);

/** How many announcements the live region keeps (older ones are removed, never re-read). */
const KEEP = 5;
/** How much of a message is read out. */
const ANNOUNCE_CHARS = 200;

/** Reads `text` out once through the polite live region. */
export function announce(text) {
  const region = $('announce');
  if (!region || !text) return;
  const line = document.createElement('p');
  line.textContent = text.length > ANNOUNCE_CHARS ? `${text.slice(0, ANNOUNCE_CHARS)}…` : text;
  region.append(line);
  while (region.childElementCount > KEEP) region.firstElementChild.remove();
}

const STORAGE_KEY = 'sse-notify';

function stored() {
  try {
    return localStorage.getItem(STORAGE_KEY) === 'on';
  } catch {
    return false;
  }
}

function store(on) {
  try {
    localStorage.setItem(STORAGE_KEY, on ? 'on' : 'off');
  } catch {
    // storage disabled: the choice lasts for this page only
  }
}

const supported = () => typeof Notification === 'function';

export const attention = {
  /** True from the moment the agent started waiting in a hidden tab until the tab is shown. */
  pending: false,
  /** Whether the reader turned desktop notifications on (and the browser allows them). */
  notify: false,
  /** Called when `pending` changes, to redraw the title. */
  onChange: () => {},

  /** The agent now waits for input: `title` names the session. */
  waiting(title) {
    if (document.visibilityState !== 'hidden') return;
    this.pending = true;
    this.onChange();
    if (this.notify && supported() && Notification.permission === 'granted') {
      try {
        const n = new Notification(title, {
          body: 'The agent is waiting for your input.',
          tag: 'sse-agent-waiting', // one per session, however many tabs are open
        });
        n.onclick = () => {
          window.focus();
          n.close();
        };
      } catch {
        // Some browsers only allow notifications from a service worker: the title still says it.
      }
    }
  },

  /** Wires the bell button and the visibility listener. */
  init() {
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible' && this.pending) {
        this.pending = false;
        this.onChange();
      }
    });
    const button = $('notify');
    if (!button || !supported() || Notification.permission === 'denied') return;
    this.notify = stored() && Notification.permission === 'granted';
    const draw = () => {
      button.setAttribute('aria-pressed', String(this.notify));
      button.title = this.notify
        ? 'Notifications on: you are told when the agent waits for you (click to turn off)'
        : 'Notify me on this computer when the agent waits for me';
    };
    draw();
    button.hidden = false;
    button.addEventListener('click', async () => {
      if (this.notify) {
        this.notify = false;
      } else {
        const answer = await Notification.requestPermission().catch(() => 'denied');
        this.notify = answer === 'granted';
        if (answer === 'denied') button.hidden = true;
      }
      store(this.notify);
      draw();
    });
  },
};
