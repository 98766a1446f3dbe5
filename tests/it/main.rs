//! The integration tests, one module per concern.

mod decode;
mod encode;
mod follow;
mod parse;
mod reconnect;
mod redis;
mod seq;
mod serve;
mod session;
mod tidy;
