//! The device's HTTP response reader on arbitrary bytes split at arbitrary points.
//! Input layout and invariants: see `http.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;
#[path = "http.rs"]
mod http;

fuzz_target!(|data: &[u8]| http::check(data));
