//! The committed fuzz seeds (`fuzz/corpus/<target>/`) replayed through the fuzz targets' own
//! checks, so every `cargo test` runs them on stable without cargo-fuzz.

use std::path::Path;

use arbitrary::{Arbitrary, Unstructured};

#[path = "../../fuzz/fuzz_targets/http.rs"]
mod http;
#[path = "../../fuzz/fuzz_targets/reconnect.rs"]
mod reconnect;
#[path = "../../fuzz/fuzz_targets/roundtrip.rs"]
mod roundtrip;
// Also the differential check of `status_json.rs`.
#[path = "../../fuzz/fuzz_targets/status.rs"]
pub(crate) mod status;

// The parser checks, through the copy `roundtrip.rs` already loads.
use roundtrip::common;

/// Keeps the committed corpora small: seeds, not a fuzzer's whole output.
const MAX_SEEDS: usize = 64;

/// Every seed of `target`, by name (dot files are the fuzzer's scratch and are skipped).
fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut seeds: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), p))
        .filter(|(name, _)| !name.starts_with('.'))
        .map(|(name, p)| (name, std::fs::read(p).unwrap()))
        .collect();
    seeds.sort();
    assert!(
        (4..=MAX_SEEDS).contains(&seeds.len()),
        "{target}: {} seeds; commit a few dozen (cargo fuzz cmin, then pick)",
        seeds.len()
    );
    seeds
}

/// Runs `check` on every seed, naming the seed that fails.
fn replay(target: &str, check: impl Fn(&[u8])) {
    for (name, data) in seeds(target) {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&data)));
        assert!(outcome.is_ok(), "fuzz/corpus/{target}/{name} fails");
    }
}

#[test]
fn parse_bytes_seeds() {
    replay("parse_bytes", common::check_bytes);
}

#[test]
fn parse_chunked_seeds() {
    replay("parse_chunked", common::check_chunked);
}

#[test]
fn encode_roundtrip_seeds() {
    replay("encode_roundtrip", roundtrip::check);
}

#[test]
fn http_response_seeds() {
    replay("http_response", http::check);
}

#[test]
fn status_json_seeds() {
    replay("status_json", status::check);
}

#[test]
fn reconnect_ops_seeds() {
    let decoded = std::cell::Cell::new(0);
    replay("reconnect_ops", |data| {
        // As libfuzzer-sys decodes a target's input.
        if let Ok(input) = reconnect::Input::arbitrary_take_rest(Unstructured::new(data)) {
            reconnect::check(&input);
            decoded.set(decoded.get() + 1);
        }
    });
    assert!(decoded.get() >= 16, "only {} seeds decode", decoded.get());
}
