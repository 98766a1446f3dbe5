//! This project's agent protocol (`docs/PROTOCOL.md`) on top of the generic SSE modules: what
//! the event names mean, how the `epoch` of a `state` event restarts the sequence, and the
//! State model a device shows.
//!
//! - [`follow`]: the client session, [`follow::Follow`]: parser, index tracker and reconnect
//!   machine driven together, with this protocol's events turned into [`follow::Output`]s.
//! - [`state`]: the agent's State read into a fixed-capacity [`state::DeviceState`], with the
//!   crate's one JSON reader (which `follow` also uses for the `epoch`).
//!
//! "Status" in this crate means one thing, a connection's status
//! ([`crate::reconnect::Status`], [`follow::Output::StatusChanged`]); the agent's is its
//! *state*.

pub mod follow;
pub mod state;
