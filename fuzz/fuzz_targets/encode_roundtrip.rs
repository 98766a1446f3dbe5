//! Arbitrary frames → encode → parse gives back the same meaning; no panic for any input.
//! Input layout and checks: see `roundtrip.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "roundtrip.rs"]
mod roundtrip;

fuzz_target!(|data: &[u8]| roundtrip::check(data));
