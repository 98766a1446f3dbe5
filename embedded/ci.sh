#!/usr/bin/env bash
# Firmware CI, called by .ci/test: lint every board workspace, build every board in release with
# its size budget and .uf2 files, then the end-to-end scenarios on the emulated MPS2-AN386 (QEMU)
# and on the desktop runner against the real `sse-host serve`.
# The app's unit tests and host-side clippy run with the root workspace.
set -euo pipefail
cd "$(dirname "$0")"
if [ -z "${CYW43_FIRMWARE_DIR:-}" ]; then
  for d in "$PWD/../../shared/firmware/cyw43" /work/shared/firmware/cyw43; do
    if [ -f "$d/43439A0.bin" ]; then export CYW43_FIRMWARE_DIR=$(cd "$d" && pwd); break; fi
  done
fi
echo "-- lint: cargo fmt --check and cargo clippy --release -D warnings per board workspace"
for board in qemu-mps2 rp2040 rp2350; do
  (cd "boards/$board" && cargo fmt --check && cargo clippy --release --locked -q -- -D warnings)
done
# pico-common is a path dependency of both Pico boards (clippy lints workspace members only), so it
# is linted on its own, for the RP2350 (the M0+ target needs portable-atomic's CAS emulation),
# in the boards' shared target directory.
(cd boards/pico-common && cargo fmt --check &&
  cargo clippy --release --locked -q --features rp235xa -- -D warnings)
echo "-- board builds and size budget"
bash size-check.sh
echo "-- end to end (QEMU mps2-an386, desktop tuntap)"
bash run-e2e.sh qemu desktop
