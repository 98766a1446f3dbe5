//! `sse-host`: the tokio shell over `sse-core`.
//!
//! It moves bytes; every SSE decision (framing, parsing, resume, backoff, heartbeat cadence)
//! comes from `sse-core`.

pub mod cli;
pub mod web;
