//! Arbitrary bytes through the parser in one push: no panic, every output within its bound.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| common::check_bytes(data));
