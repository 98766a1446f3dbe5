#!/usr/bin/env bash
# The Durable Streams conformance suite (npm @durable-streams/server-conformance-tests, pinned
# in package-lock.json) against a real `sse-host serve` on 127.0.0.1, on the memory store,
# (`--store dir`) on a fresh temporary directory (the file store), or (`--store redis`) on a
# private `redis-server` (127.0.0.1, a free port, a temporary directory; the Redis store).
# Prints the count per suite group and "N passed, N failed"; exits non-zero when any test fails.
#
# The whole suite takes about 45 s (long-poll timeouts dominate: the server is started with
# --durable-long-poll 2s). Bounded by a 300 s timeout.
#
# Usage: tests/durable/run.sh [--store memory|dir|redis] [-t PATTERN]
# Env: SSE_HOST_BIN (skip the build), DURABLE_DETAIL=1 (list failures), DURABLE_KEEP=1 (keep
# the server log and vitest output; their directory is printed).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
store=memory
if [ "${1:-}" = "--store" ]; then
  store="${2:-}"
  shift 2 || { echo "durable: --store needs memory, dir or redis" >&2; exit 2; }
fi
case "$store" in
  memory | dir) ;;
  redis) command -v redis-server >/dev/null || { echo "durable: redis-server is required" >&2; exit 1; } ;;
  *) echo "durable: --store $store: give memory, dir or redis" >&2; exit 2 ;;
esac
command -v node >/dev/null || { echo "durable: node is required" >&2; exit 1; }

if [ -z "${SSE_HOST_BIN:-}" ]; then
  # Release: the build tests/e2e/run.sh makes too, so .ci/test builds it once.
  (cd "$root" && cargo build --quiet --locked --release -p sse-host)
  export SSE_HOST_BIN="$root/target/release/sse-host"
fi
if [ ! -d "$here/node_modules/@durable-streams/server-conformance-tests" ]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi

# A free port: bind 0, read it, close (a race with another process is possible but harmless:
# the server then fails to start and this script says so).
free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
# Waits (at most 10 s) until 127.0.0.1:$1 accepts connections.
wait_port() {
  for _ in $(seq 1 100); do
    if node -e 'require("net").connect(+process.argv[1],"127.0.0.1").on("connect",()=>process.exit(0)).on("error",()=>process.exit(1))' "$1"; then
      return 0
    fi
    sleep 0.1
  done
  return 1
}
port="$(free_port)"
work="$(mktemp -d)"
server=""
redis=""
cleanup() {
  for pid in $server $redis; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ -n "${DURABLE_KEEP:-}" ]; then echo "durable: logs kept in $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
case "$store" in
  dir) store_arg="$work/data" ;;
  redis)
    redis_port="$(free_port)"
    mkdir "$work/redis"
    redis-server --bind 127.0.0.1 --port "$redis_port" --dir "$work/redis" --save "" \
      --appendonly no >"$work/redis.log" 2>&1 &
    redis=$!
    wait_port "$redis_port" || { tail -20 "$work/redis.log" >&2; echo "durable: redis-server did not start" >&2; exit 1; }
    store_arg="redis://127.0.0.1:$redis_port/0"
    ;;
  *) store_arg=memory ;;
esac
echo "durable: store $store"
"$SSE_HOST_BIN" serve --store "$store_arg" --bind "127.0.0.1:$port" --durable-long-poll 2s \
  >"$work/server.log" 2>&1 &
server=$!
wait_port "$port" || { tail -20 "$work/server.log" >&2; echo "durable: the server did not start" >&2; exit 1; }

status=0
(cd "$here" && CONFORMANCE_TEST_URL="http://127.0.0.1:$port" timeout --kill-after=10 300 \
  "$here/node_modules/.bin/vitest" run conformance.test.mjs --no-coverage \
  --reporter=json --outputFile="$work/result.json" "$@" >"$work/vitest.log" 2>&1) || status=$?
if [ ! -s "$work/result.json" ]; then
  tail -50 "$work/vitest.log" >&2
  echo "durable: the suite produced no result (exit $status)" >&2
  exit 1
fi
node "$here/summary.mjs" "$work/result.json" "${DURABLE_DETAIL:-}"
