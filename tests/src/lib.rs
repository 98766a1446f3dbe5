//! Shared helpers for the integration tests (h2-support style): golden loader, chunk splitter,
//! fake clock, spawning the real server.

pub mod chaos;
pub mod chunks;
pub mod clock;
pub mod frame_model;
pub mod golden;
pub mod host_bin;
pub mod redis;
pub mod scripted;
pub mod server;
pub mod tls;
