//! The integration tests, one module per concern.

mod follow;
mod reconnect;
mod tidy;
