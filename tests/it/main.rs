//! The integration tests, one module per concern.

mod decode;
mod session;
mod parse;
mod reconnect;
mod tidy;
