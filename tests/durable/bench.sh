#!/usr/bin/env bash
# Durable Streams: appends/s and SSE fan-out of sse-host's /v1/stream/ against the Node
# reference server (@durable-streams/server, pinned in package-lock.json) under the same load
# from the same Rust load generator (`sse-loadgen durable`), on the memory stores and on the
# file stores (sse-host: fdatasync before every acknowledgement; the reference: LMDB plus
# append-only files, fdatasync shared by concurrent appends to one file), and sse-host on a
# private redis-server (no persistence; the reference has no shared store, so its row is
# compared with the reference's memory store). Each server runs alone, on a fresh store; the
# results go to a JSON-lines file and a markdown table with the ratios (docs/BENCHMARKS.md).
#
# Usage: tests/durable/bench.sh [RESULTS.jsonl]
# Env: BENCH_RUNS (3), BENCH_STORES ("memory file redis"), and the load: BENCH_WRITERS (16), BENCH_APPENDS (300 per writer),
# BENCH_READERS (100), BENCH_FANOUT (300 appends), BENCH_BODY (64 bytes).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
results="${1:-$(mktemp -t durable-bench.XXXXXX.jsonl)}"
: > "$results"
command -v node >/dev/null || { echo "bench: node is required" >&2; exit 1; }
(cd "$root" && cargo build --quiet --locked --release -p sse-host)
(cd "$root" && cargo build --quiet --locked --release -p sse-tests --bin sse-loadgen)
[ -d "$here/node_modules/@durable-streams/server" ] ||
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
host="$root/target/release/sse-host"
loadgen="$root/target/release/sse-loadgen"
load=(--writers "${BENCH_WRITERS:-16}" --appends "${BENCH_APPENDS:-300}"
  --readers "${BENCH_READERS:-100}" --fanout-appends "${BENCH_FANOUT:-300}"
  --body "${BENCH_BODY:-64}" --clk-tck "$(getconf CLK_TCK)")
work="$(mktemp -d)"
pid=
redis_pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
# Waits (at most 10 s) until 127.0.0.1:$1 accepts.
wait_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "bench: nothing listens on port $1" >&2
  return 1
}
stop() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pid=
}

for run in $(seq "${BENCH_RUNS:-3}"); do
  for store in ${BENCH_STORES:-memory file redis}; do
    dir="$work/host-$run-$store"
    mkdir -p "$dir"
    arg=memory
    [ "$store" = file ] && arg="$dir"
    if [ "$store" = redis ]; then
      command -v redis-server >/dev/null || { echo "bench: redis-server is required" >&2; exit 1; }
      rport="$(free_port)"
      redis-server --port "$rport" --bind 127.0.0.1 --dir "$dir" --save "" --appendonly no \
        > "$dir/redis.log" 2>&1 &
      redis_pid=$!
      wait_port "$rport"
      arg="redis://127.0.0.1:$rport"
    fi
    port="$(free_port)"
    "$host" serve --store "$arg" --bind "127.0.0.1:$port" > "$dir.log" 2>&1 &
    pid=$!
    wait_port "$port"
    "$loadgen" durable --addr "127.0.0.1:$port" --pid "$pid" --label "sse-host $store" "${load[@]}" >> "$results"
    stop
    if [ "$store" = redis ]; then
      kill "$redis_pid" 2>/dev/null || true
      wait "$redis_pid" 2>/dev/null || true
      redis_pid=
      echo "bench: run $run $store done" >&2
      continue
    fi

    dir="$work/ref-$run-$store"
    mkdir -p "$dir"
    opts=()
    [ "$store" = file ] && opts=(--data-dir "$dir")
    node "$here/reference-server.mjs" "${opts[@]}" > "$dir.url" 2> "$dir.log" &
    pid=$!
    for _ in $(seq 100); do [ -s "$dir.url" ] && break; sleep 0.1; done
    port="$(sed -n 's|^http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$dir.url")"
    [ -n "$port" ] || { echo "bench: the reference server did not start: $(cat "$dir.log")" >&2; exit 1; }
    wait_port "$port"
    "$loadgen" durable --addr "127.0.0.1:$port" --pid "$pid" --label "reference $store" "${load[@]}" >> "$results"
    stop
    echo "bench: run $run $store done" >&2
  done
done
node "$here/bench-report.mjs" "$results"
echo "results: $results" >&2
