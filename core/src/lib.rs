//! Server-Sent Events for `no_std`: the `text/event-stream` framing encoder, an incremental
//! WHATWG-conformant parser, the event sequence index (resume, duplicate and gap detection) and
//! the client's reconnect and heartbeat state machine.
//!
//! # What this crate does not do
//! It performs no I/O, reads no clock, never allocates and never logs. Bytes and `now` go in,
//! values come out; the shells (`sse-host` on tokio, `sse-embedded-app` on embassy) move bytes
//! and arm one timer. It is `#![no_std]` without `alloc` and builds for `thumbv6m-none-eabi`.
//!
//! # Two layers
//! **Generic SSE**, for any server or client of `text/event-stream`: [`event`] (validated
//! fields, [`event::Frame`]), [`encode`], [`parse`] (the WHATWG parser), [`seq`] (message
//! indices, resume decisions, duplicate and gap tracking, the [`seq::EventLog`] ring),
//! [`reconnect`] (backoff, connect timeout, heartbeat watchdog: the connection's status),
//! [`heartbeat`] (the server's schedule), [`io`] (embedded-io adapters) and [`time`].
//!
//! **This project's agent protocol** (`docs/PROTOCOL.md`), built on them in [`agent`]: the
//! event names (`message`, `state`, `reset`, `heartbeat`, `session_ended`), the `epoch` a
//! `state` carries, and the agent's State model. [`agent::follow`] is the client session that
//! follows one such stream; [`agent::state`] reads the State into a device's fixed-size view.
//! Nothing in the generic layer depends on `agent`.
//!
//! **Durable Streams** (the other HTTP protocol the host speaks) in [`durable`]: offsets, read
//! decisions and producer fencing for a server, and [`durable::follow`], the SSE-mode client.
//!
//! # Where to start
//! A client drives one [`agent::follow::Follow`] session; a server encodes [`event::Frame`]s
//! and decides resumes with [`seq::ResumeRequest`]. The crate's `examples/` are whole programs:
//! `follow_tcp` (the client loop over `std::net::TcpStream`, feature `std`), `device_loop`
//! (fixed buffers, a simulated clock) and `encode_frames`.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::todo)
)]

#[cfg(any(test, feature = "std"))]
extern crate std;

// Generic SSE.
pub mod durable;
pub mod encode;
pub mod event;
pub mod heartbeat;
pub mod io;
pub mod parse;
mod rand;
pub mod reconnect;
pub mod seq;
pub mod time;

// This project's agent protocol, on top of the generic layer.
pub mod agent;

pub use seq::Seq;
pub use time::{Duration, Instant};
