#!/usr/bin/env bash
# Firmware CI, called by .ci/test: every board in release with its size budget and .uf2 files,
# then the end-to-end scenarios on the emulated MPS2-AN386 (QEMU) and on the desktop runner.
# The app's unit tests run with the workspace (`cargo test --workspace`).
set -euo pipefail
cd "$(dirname "$0")"
echo "-- board builds and size budget"
bash size-check.sh
echo "-- end to end (QEMU mps2-an386, desktop tuntap)"
bash run-e2e.sh qemu desktop
