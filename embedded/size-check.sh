#!/usr/bin/env bash
# Builds every board in release (the SSE firmware and its bare-stack baseline), prints flash and
# static RAM per binary, checks the app's share against embedded/size-budget.txt, and writes
# .uf2 files for the Pico boards into embedded/boards/target/ (the boards' shared target
# directory, set in each board's .cargo/config.toml). Exit 1 if over budget.
set -euo pipefail
cd "$(dirname "$0")"
EMB=$PWD
if [ -z "${CYW43_FIRMWARE_DIR:-}" ]; then
  for d in "$EMB/../../shared/firmware/cyw43" /work/shared/firmware/cyw43; do
    if [ -f "$d/43439A0.bin" ]; then export CYW43_FIRMWARE_DIR=$(cd "$d" && pwd); break; fi
  done
fi
[ -f "${CYW43_FIRMWARE_DIR:-/nonexistent}/43439A0.bin" ] || { echo "CYW43_FIRMWARE_DIR: no 43439A0.bin found"; exit 1; }

target_of() { case $1 in qemu-mps2) echo thumbv7em-none-eabihf;; rp2040) echo thumbv6m-none-eabi;; rp2350) echo thumbv8m.main-none-eabihf;; esac; }
fail=0
printf '%-10s %-12s %9s %9s   %s\n' board bin flash ram "build"
while read -r board app bare max_flash max_ram; do
  case "$board" in ''|'#'*) continue;; esac
  start=$(date +%s)
  (cd "boards/$board" && cargo build --release --locked -q)
  secs=$(( $(date +%s) - start ))
  dir="boards/target/$(target_of "$board")/release"
  declare -A F R
  for bin in "$app" "$bare"; do
    read -r text data bss _ < <(arm-none-eabi-size "$dir/$bin" | tail -1)
    F[$bin]=$((text + data)); R[$bin]=$((data + bss))
    printf '%-10s %-12s %9d %9d   %ss\n' "$board" "$bin" "${F[$bin]}" "${R[$bin]}" "$secs"
  done
  df=$(( F[$app] - F[$bare] )); dr=$(( R[$app] - R[$bare] ))
  verdict=ok
  if [ "$df" -gt "$max_flash" ] || [ "$dr" -gt "$max_ram" ]; then verdict="OVER BUDGET"; fail=1; fi
  printf '%-10s %-12s %+9d %+9d   budget %d / %d: %s\n' "$board" "app+core" "$df" "$dr" "$max_flash" "$max_ram" "$verdict"
  case $board in
    rp2040) python3 tools/uf2.py rp2040 "$dir/$app" "boards/target/$app.uf2" ;;
    rp2350) python3 tools/uf2.py rp2350 "$dir/$app" "boards/target/$app.uf2" ;;
  esac
  unset F R
done < size-budget.txt
exit $fail
