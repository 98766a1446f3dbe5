//! The integration tests, one module per concern.

mod decode;
mod encode;
mod follow;
mod parse;
mod reconnect;
mod seq;
mod serve;
mod session;
mod stream_fast_path;
mod tidy;
