#!/usr/bin/env bash
# `sse-host follow` against the Node reference server (npm @durable-streams/server, pinned in
# package-lock.json) on 127.0.0.1: a text and a binary stream, appended to while followed, then
# closed. The output must be exactly the bytes appended and the exit status 0; a stream that
# does not exist must exit 4. The reference server sends one `data` event per message before
# each `control` event (sse-host sends one), so this checks the reader's batching too.
#
# Bounded: every follow by `timeout 30`, the whole script by the caller. Takes a few seconds.
# Usage: tests/durable/follow-interop.sh    Env: SSE_HOST_BIN (skip the build).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
command -v node >/dev/null || { echo "follow-interop: node is required" >&2; exit 1; }
if [ -z "${SSE_HOST_BIN:-}" ]; then
  (cd "$root" && cargo build --quiet --locked -p sse-host)
  SSE_HOST_BIN="$root/target/debug/sse-host"
fi
if [ ! -d "$here/node_modules/@durable-streams/server" ]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi

work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

(cd "$here" && exec node --input-type=module -e '
import { DurableStreamTestServer } from "@durable-streams/server"
const server = new DurableStreamTestServer({ port: 0, host: "127.0.0.1" })
console.log(await server.start())
process.on("SIGTERM", async () => { await server.stop(); process.exit(0) })
') >"$work/url" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 1 100); do
  [ -s "$work/url" ] && break
  sleep 0.1
done
base="$(head -1 "$work/url")"
[ -n "$base" ] || { echo "follow-interop: the reference server did not start" >&2; cat "$work/server.log" >&2; exit 1; }

fail=0
passed=0
check() { # name content-type
  local name="$1" type="$2" url="$base/v1/stream/interop-$1"
  curl -sf -X PUT -H "Content-Type: $type" "$url" -o /dev/null
  : >"$work/$name.want"
  timeout 30 "$SSE_HOST_BIN" follow --durable --retry-initial 250ms "$url" \
    >"$work/$name.got" 2>"$work/$name.err" &
  local follow_pid=$!
  for i in $(seq 1 20); do
    if [ "$type" = text/plain ]; then
      printf 'message %s: é\nsecond line\n' "$i" >"$work/chunk"
    else
      printf 'bytes %s:\r\n\000\377\n' "$i" >"$work/chunk"
    fi
    cat "$work/chunk" >>"$work/$name.want"
    curl -sf -X POST -H "Content-Type: $type" --data-binary @"$work/chunk" "$url" -o /dev/null
  done
  curl -sf -X POST -H "Content-Type: $type" -H 'Stream-Closed: true' "$url" -o /dev/null
  local code=0
  wait "$follow_pid" || code=$?
  if [ "$code" -ne 0 ] || ! cmp -s "$work/$name.want" "$work/$name.got"; then
    echo "follow-interop: $name: exit $code, output differs:" >&2
    cmp "$work/$name.want" "$work/$name.got" >&2 || true
    cat "$work/$name.err" >&2
    fail=$((fail + 1))
  else
    echo "follow-interop: $name: $(wc -c <"$work/$name.got") bytes exactly, exit 0"
    passed=$((passed + 1))
  fi
}
check text text/plain
check binary application/octet-stream

code=0
timeout 30 "$SSE_HOST_BIN" follow --durable "$base/v1/stream/interop-missing" \
  >/dev/null 2>&1 || code=$?
if [ "$code" -ne 4 ]; then
  echo "follow-interop: a missing stream exited $code, not 4" >&2
  fail=$((fail + 1))
else
  echo "follow-interop: missing stream: exit 4"
  passed=$((passed + 1))
fi
echo "$passed passed, $fail failed"
[ "$fail" -eq 0 ]
