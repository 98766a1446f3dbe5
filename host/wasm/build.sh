#!/usr/bin/env bash
# Builds sse-core's client session for the browser into host/web/sse_core.wasm (committed, so
# that `cargo run` needs no wasm toolchain). `--check` rebuilds into target/ and fails if the
# committed file differs (CI), so the .wasm can never drift from the Rust it is built from.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
# Paths would otherwise differ between checkouts (panic locations are stripped, but be sure).
export RUSTFLAGS="--remap-path-prefix=$root=. --remap-path-prefix=${CARGO_HOME:-$HOME/.cargo}=cargo"
cargo rustc -q --locked -p sse-wasm --lib --crate-type cdylib --target wasm32-unknown-unknown --profile wasm
built="target/wasm32-unknown-unknown/wasm/sse_wasm.wasm"
size=$(stat -c %s "$built")
if [ "${1:-}" = "--check" ]; then
  if cmp -s "$built" host/web/sse_core.wasm; then
    echo "wasm: host/web/sse_core.wasm is up to date ($size bytes)"
  else
    echo "wasm: host/web/sse_core.wasm differs from a fresh build ($size bytes): run host/wasm/build.sh and commit it" >&2
    exit 1
  fi
else
  cp "$built" host/web/sse_core.wasm
  echo "wasm: host/web/sse_core.wasm ($size bytes)"
fi
