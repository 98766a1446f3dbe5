//! Server-Sent Events for `no_std`: the `text/event-stream` framing encoder, an incremental
//! WHATWG-conformant parser, the event sequence index (resume, duplicate and gap detection) and
//! the client's reconnect and heartbeat state machine.
//!
//! # What this crate does not do
//! It performs no I/O, reads no clock, never allocates and never logs. Bytes and `now` go in,
//! values come out; the shells (`sse-host` on tokio, `sse-embedded-app` on embassy) move bytes
//! and arm one timer. It is `#![no_std]` without `alloc` and builds for `thumbv6m-none-eabi`.
//!
//! # Where to start
//! A client drives one [`follow::Follow`] session; a server encodes [`event::Frame`]s and
//! decides resumes with [`seq::ResumeRequest`]. The crate's `examples/` are whole programs:
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

pub mod durable;
pub mod encode;
pub mod event;
pub mod follow;
pub mod heartbeat;
pub mod io;
pub mod parse;
mod rand;
pub mod reconnect;
pub mod seq;
pub mod status;
pub mod time;

pub use seq::Seq;
pub use time::{Duration, Instant};
