//! The integration tests, one module per concern.

mod decode;
mod encode;
mod follow;
mod parse;
mod reconnect;
mod seq;
mod session;
mod tidy;
