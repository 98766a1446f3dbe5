//! The integration tests, one module per concern.

mod decode;
mod parse;
mod reconnect;
mod tidy;
