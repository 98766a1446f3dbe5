//! Arbitrary `Reconnect` operation sequences: see `reconnect.rs` for the invariants checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "reconnect.rs"]
mod reconnect;

fuzz_target!(|input: reconnect::Input| reconnect::check(&input));
