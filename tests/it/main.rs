//! The integration tests, one module per concern.

mod decode;
mod encode;
mod follow;
mod follow_cli;
mod parse;
mod reconnect;
mod seq;
mod serve;
mod session;
mod tidy;
