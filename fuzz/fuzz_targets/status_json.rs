//! The device's JSON reader (`sse_core::agent::state`) on arbitrary bytes, against serde_json.
//! Invariants: see `status.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "status.rs"]
mod status;

fuzz_target!(|data: &[u8]| status::check(data));
