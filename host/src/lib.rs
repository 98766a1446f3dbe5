//! `sse-host`: the tokio shell over `sse-core`.
//!
//! It moves bytes; every SSE decision (framing, parsing, resume, backoff, heartbeat cadence)
//! comes from `sse-core`.

pub mod agent;
pub mod cli;
pub mod client;
pub mod decode;
pub mod durable;
pub mod follow_cmd;
pub mod frames;
pub mod hub;
pub mod inbox;
pub mod log;
pub mod model;
pub mod publish;
pub mod replies;
pub mod server;
pub mod web;
