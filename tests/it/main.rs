//! The integration tests, one module per concern.

mod reconnect;
mod tidy;
