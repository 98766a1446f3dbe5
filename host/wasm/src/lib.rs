//! sse-core's client session for the browser: [`sse_core::agent::follow::Follow`] behind a C ABI, so
//! the web UI runs the same parser, resume tracker, backoff and heartbeat watchdog as `follow`
//! and the firmware, instead of hand copies in JavaScript.
//!
//! Built for `wasm32-unknown-unknown` by `host/wasm/build.sh` into `host/web/sse_core.wasm`
//! (committed; CI rebuilds it and fails if it differs). No allocator and no wasm-bindgen: the
//! page (`host/web/stream.js`) calls the exported `sse_*` functions with numbers, copies bytes
//! into [`sse_input`], and reads lent output bytes out of the module's memory by pointer.
//!
//! # Protocol with the shell
//! ```text
//! sse_init(seed_lo, seed_hi, initial_ms, max_ms, connect_ms, idle_ms, healthy_ms)
//! sse_resume(next)             before sse_start: continue from message index `next`
//! sse_start(now)               also "retry now" while backing off
//! loop after every input:      sse_poll_action() → 1 Connect (read sse_from / sse_last_event_id
//!                              / sse_resume_epoch) | 2 Close | 0 none;  sse_poll_timeout()
//! sse_response(now, status, is_event_stream)
//! sse_feed(len)                the chunk is in sse_input()[..len]; then
//! sse_next(now) → kind         until 0: each output's fields are read with sse_out_*()
//! sse_disconnected(now, why)   0 network error, 1 end of stream
//! sse_timeout(now)             when the time from sse_poll_timeout() is reached
//! ```
//! Times are milliseconds on any monotonic clock (`performance.now()`), as `f64`; indices are
//! `f64` (exact below 2⁵³). Strings are (pointer, length) pairs into this module's memory, valid
//! until the next call.
//!
//! # Bounds
//! An `event:`/`id:` value or a comment may be [`LINE`] bytes; one event's data [`DATA`] bytes
//! (a longer message arrives with the truncated flag: fetch it whole from `/messages`). A chunk
//! fed at once is at most [`INPUT`] bytes.
#![cfg_attr(target_arch = "wasm32", no_std)]
// The C ABI needs `#[unsafe(no_mangle)]`, and a `static` holding the session needs one
// `unsafe impl Sync`; sse-core itself stays `forbid(unsafe_code)`.
#![allow(unsafe_code)]

#[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
compile_error!("sse-wasm keeps its session in a single-threaded static: build without atomics");

use core::cell::RefCell;
use core::fmt::Write as _;

use sse_core::agent::follow::{Action, Follow, Output};
use sse_core::reconnect::{Disconnect, Policy, Reason, StatusKind};
use sse_core::seq::EventRef;
use sse_core::{Duration, Instant, Seq};

/// Bytes for an `event:`/`id:` value or a comment.
pub const LINE: usize = 1024;
/// Bytes of one event's data (a State, one message).
pub const DATA: usize = 256 * 1024;
/// Bytes the shell may copy in per [`sse_feed`].
pub const INPUT: usize = 64 * 1024;

/// What [`sse_next`] returns: the kind of output whose fields `sse_out_*` now hold.
pub mod kind {
    /// Nothing more for this chunk.
    pub const NONE: u32 = 0;
    /// A message: `idx`, `data`, `truncated`.
    pub const MESSAGE: u32 = 1;
    /// A State: `data`, `truncated`.
    pub const STATE: u32 = 2;
    /// A heartbeat: `data`.
    pub const HEARTBEAT: u32 = 3;
    /// Drop the copy: `data` is the `reset` event's data, or empty after a new epoch.
    pub const START_OVER: u32 = 4;
    /// The session ended: `data`.
    pub const SESSION_ENDED: u32 = 5;
    /// Another event: `event_type` in `text`, `data`, `truncated`.
    pub const OTHER: u32 = 6;
    /// A comment: `data`.
    pub const COMMENT: u32 = 7;
    /// An event was dropped (an over-long `event:`/`id:` value).
    pub const DROPPED: u32 = 8;
    /// The connection status changed: read it with `sse_status_*`.
    pub const STATUS: u32 = 9;
}

struct Session {
    follow: Follow<LINE, DATA>,
    /// The policy `follow` was made with (kept for [`sse_resume`]).
    policy: Policy,
    input: [u8; INPUT],
    /// The unread part of `input`: `pos..len`.
    pos: usize,
    len: usize,
    out: Out,
    /// Scratch for texts this module formats (a status reason).
    text: heapless::String<64>,
}

#[derive(Clone, Copy)]
struct Out {
    data: (u32, u32),
    text: (u32, u32),
    idx: f64,
    truncated: bool,
}

const NO_OUT: Out = Out {
    data: (0, 0),
    text: (0, 0),
    idx: -1.0,
    truncated: false,
};

/// The module's session, made by [`sse_init`]. `Empty` is tag 0 with the rest uninitialised,
/// so the static is all zeros and lives in `.bss`: the 300 KiB of buffers cost no bytes of the
/// `.wasm` file (a `Session` constant would be written out whole, as a data segment).
// Boxing `Ready` would need an allocator; the size difference is the point (see above).
#[allow(clippy::large_enum_variant)]
#[repr(u8)]
enum Slot {
    Empty = 0,
    Ready(Session),
}

/// The one session of this module instance.
struct Single(RefCell<Slot>);

// SAFETY: wasm32-unknown-unknown without the `atomics` target feature (refused above) runs one
// thread, so the `RefCell` is never reached from two threads. On the host (tests, clippy) the
// functions are only called from one test thread at a time (see `tests`).
unsafe impl Sync for Single {}

static SESSION: Single = Single(RefCell::new(Slot::Empty));

/// Runs `f` on the session. Before [`sse_init`], or on a re-entrant call (impossible from JS,
/// which is single-threaded and not called back from here), it returns `default`.
fn with<R>(default: R, f: impl FnOnce(&mut Session) -> R) -> R {
    match SESSION.0.try_borrow_mut() {
        Ok(mut slot) => match &mut *slot {
            Slot::Ready(s) => f(s),
            Slot::Empty => default,
        },
        Err(_) => default,
    }
}

fn ms(t: f64) -> u64 {
    // `as` saturates: NaN and negatives become 0, huge values u64::MAX.
    t as u64
}

fn at(t: f64) -> Instant {
    Instant::from_millis(ms(t))
}

fn span(s: &str) -> (u32, u32) {
    (s.as_ptr() as usize as u32, s.len() as u32)
}

/// Resets the session with this policy (milliseconds; 0 keeps the default) and jitter seed.
#[unsafe(no_mangle)]
pub extern "C" fn sse_init(
    seed_lo: u32,
    seed_hi: u32,
    initial_ms: f64,
    max_ms: f64,
    connect_ms: f64,
    idle_ms: f64,
    healthy_ms: f64,
) {
    let d = Policy::DEFAULT;
    let pick = |v: f64, def: Duration| {
        if v > 0.0 {
            Duration::from_millis(ms(v))
        } else {
            def
        }
    };
    let mut policy = d;
    policy.initial_backoff = pick(initial_ms, d.initial_backoff);
    policy.max_backoff = pick(max_ms, d.max_backoff);
    policy.connect_timeout = pick(connect_ms, d.connect_timeout);
    policy.idle_timeout = pick(idle_ms, d.idle_timeout);
    policy.healthy_after = pick(healthy_ms, d.healthy_after);
    let seed = (u64::from(seed_hi) << 32) | u64::from(seed_lo);
    if let Ok(mut slot) = SESSION.0.try_borrow_mut() {
        *slot = Slot::Ready(Session {
            follow: Follow::new(policy, seed),
            policy,
            input: [0; INPUT],
            pos: 0,
            len: 0,
            out: NO_OUT,
            text: heapless::String::new(),
        });
    }
}

/// Before [`sse_start`]: continue from message index `next` (the page already shows the
/// messages below it, e.g. fetched with `/messages`) in the log of `epoch` (the bytes at
/// `sse_input()[..epoch_len]`, empty if unknown). Returns 0, or 1 if the epoch is refused
/// (too long, or not a valid id part).
#[unsafe(no_mangle)]
pub extern "C" fn sse_resume(next: f64, epoch_len: u32) -> u32 {
    with(1, |s| {
        let next = ms(next);
        let policy = s.policy;
        s.follow = Follow::with_resume(policy, next ^ 0x9e37_79b9_7f4a_7c15, Seq(next));
        let epoch = s.input.get(..epoch_len as usize).unwrap_or(&[]);
        let Ok(epoch) = core::str::from_utf8(epoch) else {
            return 1;
        };
        if epoch.is_empty() || next == 0 {
            return 0;
        }
        // As EventSource would after a reconnect: the id of the last message shown, written as
        // the server writes ids (core's `EventRef`).
        let last = EventRef {
            epoch: Some(epoch),
            idx: Seq(next - 1),
        };
        s.text.clear();
        if write!(s.text, "{last}").is_err() {
            return 1;
        }
        match s.follow.set_last_event_id(&s.text) {
            Ok(()) => 0,
            Err(_) => 1,
        }
    })
}

/// Starts connecting now; while backing off, skips the rest of the wait ("Retry now").
#[unsafe(no_mangle)]
pub extern "C" fn sse_start(now: f64) {
    with((), |s| s.follow.start(at(now)));
}

/// Closes any connection and stops reconnecting.
#[unsafe(no_mangle)]
pub extern "C" fn sse_stop() {
    with((), |s| s.follow.stop());
}

/// The next connection action: 0 none, 1 connect (see [`sse_from`], [`sse_last_event_id`],
/// [`sse_resume_epoch`]), 2 close.
#[unsafe(no_mangle)]
pub extern "C" fn sse_poll_action() -> u32 {
    with(0, |s| match s.follow.poll_action() {
        Some(Action::Connect { .. }) => {
            s.pos = 0;
            s.len = 0;
            1
        }
        Some(Action::Close) => {
            s.pos = 0;
            s.len = 0;
            2
        }
        Some(_) | None => 0,
    })
}

/// When to call [`sse_timeout`] next, or -1.
#[unsafe(no_mangle)]
pub extern "C" fn sse_poll_timeout() -> f64 {
    with(-1.0, |s| {
        s.follow
            .poll_timeout()
            .map_or(-1.0, |t| t.as_millis() as f64)
    })
}

/// The first message index the next connection asks for (`from=`).
#[unsafe(no_mangle)]
pub extern "C" fn sse_from() -> f64 {
    with(0.0, |s| s.follow.resume_from().0 as f64)
}

/// The `Last-Event-ID` to send, as text at `sse_out_text_ptr()` (length returned; 0: none).
#[unsafe(no_mangle)]
pub extern "C" fn sse_last_event_id() -> u32 {
    with(0, |s| {
        let id = s.follow.last_event_id().map_or((0, 0), span);
        s.out.text = id;
        id.1
    })
}

/// The epoch to send as `epoch=`, as text at `sse_out_text_ptr()` (length returned; 0: none).
#[unsafe(no_mangle)]
pub extern "C" fn sse_resume_epoch() -> u32 {
    with(0, |s| {
        let e = s.follow.resume_epoch().map_or((0, 0), span);
        s.out.text = e;
        e.1
    })
}

/// The response headers arrived.
#[unsafe(no_mangle)]
pub extern "C" fn sse_response(now: f64, status: u32, is_event_stream: u32) {
    let status = u16::try_from(status).unwrap_or(u16::MAX);
    with((), |s| {
        s.follow
            .handle_response(at(now), status, is_event_stream != 0)
    });
}

/// Where the shell copies a chunk of the body before [`sse_feed`]: [`INPUT`] bytes.
#[unsafe(no_mangle)]
pub extern "C" fn sse_input() -> *mut u8 {
    with(core::ptr::null_mut(), |s| s.input.as_mut_ptr())
}

/// [`INPUT`], the capacity of [`sse_input`].
#[unsafe(no_mangle)]
pub extern "C" fn sse_input_cap() -> u32 {
    INPUT as u32
}

/// The first `len` bytes of [`sse_input`] are the next chunk; drain it with [`sse_next`].
#[unsafe(no_mangle)]
pub extern "C" fn sse_feed(len: u32) {
    with((), |s| {
        s.pos = 0;
        s.len = (len as usize).min(INPUT);
    });
}

/// The next output of the chunk fed (or one that came without bytes: a status change, a start
/// over). Returns a [`kind`]; 0 means the chunk is used up. Its fields are read with the
/// `sse_out_*` functions before the next call.
#[unsafe(no_mangle)]
pub extern "C" fn sse_next(now: f64) -> u32 {
    with(kind::NONE, |s| {
        let Session {
            follow,
            input,
            policy: _,
            pos,
            len,
            out,
            text: _,
        } = s;
        *out = NO_OUT;
        loop {
            let mut rest = input.get(*pos..*len).unwrap_or(&[]);
            let before = rest.len();
            let output = if rest.is_empty() {
                follow.poll_output()
            } else {
                follow.handle_bytes(at(now), &mut rest)
            };
            *pos += before - rest.len();
            let Some(output) = output else {
                if *pos >= *len {
                    return kind::NONE;
                }
                continue;
            };
            return describe(output, out);
        }
    })
}

fn describe(output: Output<'_>, out: &mut Out) -> u32 {
    match output {
        Output::Message {
            idx,
            data,
            truncated,
        } => {
            out.idx = idx.0 as f64;
            out.data = span(data);
            out.truncated = truncated;
            kind::MESSAGE
        }
        Output::State { data, truncated } => {
            out.data = span(data);
            out.truncated = truncated;
            kind::STATE
        }
        Output::Heartbeat(data) => {
            out.data = span(data);
            kind::HEARTBEAT
        }
        Output::StartOver { reset } => {
            out.data = span(reset.unwrap_or(""));
            kind::START_OVER
        }
        Output::SessionEnded(data) => {
            out.data = span(data);
            kind::SESSION_ENDED
        }
        Output::Other {
            event_type,
            data,
            truncated,
            ..
        } => {
            out.text = span(event_type);
            out.data = span(data);
            out.truncated = truncated;
            kind::OTHER
        }
        Output::Comment(c) => {
            out.data = span(c);
            kind::COMMENT
        }
        Output::Dropped(_) => kind::DROPPED,
        Output::StatusChanged(_) => kind::STATUS,
        _ => kind::OTHER,
    }
}

/// The connection ended: 0 a network error, 1 the body ended.
#[unsafe(no_mangle)]
pub extern "C" fn sse_disconnected(now: f64, why: u32) {
    let why = if why == 1 {
        Disconnect::EndOfStream
    } else {
        Disconnect::Network
    };
    with((), |s| s.follow.handle_disconnected(at(now), why));
}

/// The time from [`sse_poll_timeout`] was reached (early calls are harmless).
#[unsafe(no_mangle)]
pub extern "C" fn sse_timeout(now: f64) {
    with((), |s| s.follow.handle_timeout(at(now)));
}

/// The status now: 0 connected, 1 connecting, 2 disconnected (retry scheduled), 3 disabled.
#[unsafe(no_mangle)]
pub extern "C" fn sse_status_kind() -> u32 {
    with(3, |s| match s.follow.status().kind {
        StatusKind::Connected => 0,
        StatusKind::Connecting => 1,
        StatusKind::Disconnected => 2,
        StatusKind::Disabled => 3,
    })
}

/// The status's reason text (PROTOCOL.md §7), at `sse_out_text_ptr()`; returns its length.
#[unsafe(no_mangle)]
pub extern "C" fn sse_status_reason() -> u32 {
    with(0, |s| {
        let reason: Reason = s.follow.status().reason;
        s.text.clear();
        // 64 bytes hold every reason ("Connection timed out (no heartbeat)" is the longest).
        let _ = write!(s.text, "{reason}");
        s.out.text = span(&s.text);
        s.out.text.1
    })
}

/// When the next attempt starts while backing off, or -1.
#[unsafe(no_mangle)]
pub extern "C" fn sse_retry_at() -> f64 {
    with(-1.0, |s| {
        s.follow.retry_at().map_or(-1.0, |t| t.as_millis() as f64)
    })
}

/// Consecutive failed attempts.
#[unsafe(no_mangle)]
pub extern "C" fn sse_attempt() -> u32 {
    with(0, |s| s.follow.attempt())
}

/// The last output's (or text query's) data: pointer.
#[unsafe(no_mangle)]
pub extern "C" fn sse_out_data_ptr() -> u32 {
    with(0, |s| s.out.data.0)
}

/// The last output's data: length in bytes.
#[unsafe(no_mangle)]
pub extern "C" fn sse_out_data_len() -> u32 {
    with(0, |s| s.out.data.1)
}

/// The last text (event type, reason, id, epoch): pointer.
#[unsafe(no_mangle)]
pub extern "C" fn sse_out_text_ptr() -> u32 {
    with(0, |s| s.out.text.0)
}

/// The last text: length in bytes.
#[unsafe(no_mangle)]
pub extern "C" fn sse_out_text_len() -> u32 {
    with(0, |s| s.out.text.1)
}

/// The last message's index, or -1.
#[unsafe(no_mangle)]
pub extern "C" fn sse_out_idx() -> f64 {
    with(-1.0, |s| s.out.idx)
}

/// 1 if the last output's data was cut at [`DATA`] bytes.
#[unsafe(no_mangle)]
pub extern "C" fn sse_out_truncated() -> u32 {
    with(0, |s| u32::from(s.out.truncated))
}

#[cfg(target_arch = "wasm32")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}
