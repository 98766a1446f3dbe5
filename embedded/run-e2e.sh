#!/usr/bin/env bash
# End-to-end test of the status-light app on the emulated board (qemu) and/or the desktop runner,
# against the real `sse-host serve` (built here from the workspace). Creates a network namespace
# with a tap (192.168.69.100 is the server side, the app is .2), runs embedded/e2e/sse_e2e.py in
# it (server, publishing, scenarios and checks), and removes the namespace. Needs root.
# Usage: embedded/run-e2e.sh [qemu] [desktop]   (default: both). Exit 0 only if every check passed.
set -euo pipefail
cd "$(dirname "$0")"
EMB=$PWD
targets=("$@"); [ ${#targets[@]} -eq 0 ] && targets=(qemu desktop)
(cd .. && cargo build --release --locked -q -p sse-host)
host_bin="$EMB/../target/release/sse-host"
status=0 total_pass=0 total_fail=0
summary=()
for t in "${targets[@]}"; do
  ns="sse-e2e-$t-$$"
  case $t in
    qemu)
      (cd boards/qemu-mps2 && cargo build --release --locked -q --bin sse-qemu)
      tap=qtap0
      cmd=(timeout 150 qemu-system-arm -M mps2-an386 -nographic -monitor none -semihosting-config enable=on,target=native
           -nic "tap,ifname=$tap,script=no,downscript=no,model=lan9118"
           -kernel "$EMB/boards/target/thumbv7em-none-eabihf/release/sse-qemu") ;;
    desktop)
      (cd .. && cargo build --release --locked -q -p sse-desktop)
      tap=tap99
      cmd=(timeout 150 env TAP=$tap SSE_IDLE_TIMEOUT_MS=3000 "$EMB/../target/release/sse-desktop") ;;
    *) echo "unknown target $t"; exit 2 ;;
  esac
  ip netns add "$ns"
  trap 'ip netns del "$ns" 2>/dev/null || true' EXIT
  ip netns exec "$ns" ip link set lo up
  ip netns exec "$ns" ip tuntap add name "$tap" mode tap
  ip netns exec "$ns" ip link set "$tap" up
  ip netns exec "$ns" ip addr add 192.168.69.100/24 dev "$tap"
  echo "== e2e $t (sse-host serve)"
  log=$(mktemp)
  ip netns exec "$ns" timeout 240 python3 -u "$EMB/e2e/sse_e2e.py" "$t" "$host_bin" "${cmd[@]}" | tee "$log" || status=1
  ip netns del "$ns"
  trap - EXIT
  if line=$(grep -E "^$t: [0-9]+ passed, [0-9]+ failed$" "$log" | tail -1); then
    read -r p f < <(sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\1 \2/' <<< "$line")
  else
    p=0 f=1; status=1  # the scenario script died before counting
  fi
  rm -f "$log"
  total_pass=$((total_pass + p)) total_fail=$((total_fail + f))
  summary+=("$t: $p passed, $f failed")
done
printf '%s\n' "${summary[@]}"
echo "e2e total: $total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ] || status=1
exit $status
