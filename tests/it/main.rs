//! The integration tests, one module per concern.

mod bounds;
mod decode;
mod durable;
mod durable_crash;
mod file_log;
mod follow;
mod follow_cli;
mod follow_durable;
mod fuzz_corpus;
mod golden_frames;
mod loadgen;
mod parse;
mod redis;
mod security;
mod serve;
mod sketch_compat;
mod state_schema;
mod status_json;
mod stream_fast_path;
mod tidy;
