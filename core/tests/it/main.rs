//! sse-core's own integration and property tests: everything here tests the crate alone (no
//! host, no network), so `cargo test -p sse-core` runs it. The golden corpus shared with the
//! shells, and the end-to-end tests, stay in the workspace's `tests/` crate.
//!
//! Every time is a fake clock's (`support::clock`): nothing sleeps.

mod support;

mod encode;
mod reconnect;
mod roundtrip;
mod seq;
mod session;
