#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 20), seeded from fuzz/corpus/<target>/.
# Needs nightly and cargo-fuzz (`cargo install cargo-fuzz --locked`). Exits non-zero on a crash;
# the reproducer is left in fuzz/artifacts/<target>/. The committed seeds are also replayed as a
# normal test (tests/it/fuzz_corpus.rs).
set -euo pipefail
seconds="${1:-20}"
cd "$(dirname "$0")"
scratch=""
trap 'rm -rf "$scratch"' EXIT
for target in parse_bytes parse_chunked encode_roundtrip reconnect_ops http_response status_json; do
    mkdir -p "corpus/$target"
    # New inputs found during this run go to a scratch dir so the committed seeds stay small.
    scratch="$(mktemp -d)"
    dict=()
    if [ -f "$target.dict" ]; then dict=(-dict="$target.dict"); fi
    echo "-- fuzz $target (${seconds}s)"
    cargo +nightly fuzz run "$target" "$scratch" "corpus/$target" -- \
        -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 "${dict[@]}"
    rm -rf "$scratch"
done
