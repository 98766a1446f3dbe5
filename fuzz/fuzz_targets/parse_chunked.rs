//! Arbitrary bytes split at arbitrary points must parse exactly as the whole input does.
//! Input layout: see `common::check_chunked`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| common::check_chunked(data));
