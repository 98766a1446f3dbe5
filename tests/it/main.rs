//! The integration tests, one module per concern.

mod bounds;
mod decode;
mod encode;
mod follow;
mod follow_cli;
mod fuzz_corpus;
mod golden_frames;
mod parse;
mod reconnect;
mod redis;
mod roundtrip;
mod seq;
mod serve;
mod session;
mod stream_fast_path;
mod tidy;
