//! Helpers of the core tests.

/// Cutting input into chunks (shared with the workspace's tests and the fuzz targets).
#[path = "../../../../tests/src/chunks.rs"]
pub mod chunks;
pub mod clock;
pub mod frame_model;
