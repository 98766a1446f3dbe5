//! The integration tests, one module per concern.

mod decode;
mod follow;
mod parse;
mod reconnect;
mod serve;
mod session;
mod tidy;
