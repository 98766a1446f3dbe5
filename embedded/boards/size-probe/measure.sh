#!/usr/bin/env bash
# Builds the size probe for thumbv6m-none-eabi (release, LTO, panic=abort) at opt-level "s" and
# "z", once per component set, and prints .text, .rodata and flash (text + data, as
# arm-none-eabi-size's Berkeley line counts it) in bytes, with the no-feature baseline subtracted;
# `step` is what the last component added.
# Exits 1 if everything together at opt-level "s" exceeds BUDGET bytes of flash over the baseline
# (a regression guard: 20,480 until 2026-12-02, raised to 22,528 when that day's protocol changes
# brought the four components to 21,762 B; docs/BENCHMARKS.md has the numbers).
# Usage: bash embedded/boards/size-probe/measure.sh   (needs binutils-arm-none-eabi)
set -euo pipefail
BUDGET=22528
cd "$(dirname "$0")"
target=thumbv6m-none-eabi
sets=("" "parser" "parser,encoder" "parser,encoder,reconnect" "parser,encoder,reconnect,follow")
printf '%-9s %-34s %8s %8s %8s %8s\n' profile components .text .rodata flash step
for profile in release release-z; do
  dir=target/$target/${profile}
  base=()
  prev=0
  for features in "${sets[@]}"; do
    cargo build -q --locked --profile "$profile" --target "$target" ${features:+--features "$features"}
    bin=$dir/size-probe
    sec() { arm-none-eabi-size -A "$bin" | awk -v s="$1" '$1 == s { print $2 }'; }
    text=$(sec .text); rodata=$(sec .rodata); rodata=${rodata:-0}
    read -r btext bdata _ < <(arm-none-eabi-size "$bin" | tail -1)
    flash=$((btext + bdata))
    if [ -z "$features" ]; then
      base=("$text" "$rodata" "$flash")
      printf '%-9s %-34s %8d %8d %8d\n' "$profile" "(baseline: entry + panic handler)" "$text" "$rodata" "$flash"
    else
      f=$((flash - base[2]))
      printf '%-9s %-34s %8d %8d %8d %+8d\n' "$profile" "+${features//,/ +}" \
        $((text - base[0])) $((rodata - base[1])) "$f" $((f - prev))
      prev=$f
    fi
  done
  if [ "$profile" = release ]; then all_s=$prev; fi
done
if [ "$all_s" -gt "$BUDGET" ]; then
  echo "sse-core on thumbv6m: $all_s B > budget $BUDGET B"
  exit 1
fi
echo "sse-core on thumbv6m (all four, opt-level s): $all_s B, budget $BUDGET B: ok"
