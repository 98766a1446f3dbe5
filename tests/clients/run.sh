#!/usr/bin/env bash
# Third-party SSE clients against the real `sse-host serve --memory`: the Python clients
# httpx-sse and sseclient-py (pinned in requirements.txt, installed into a venv under target/)
# and npm `eventsource` 3 (pinned by package-lock.json). Each check gets a fresh server on a
# free 127.0.0.1 port. Prints "N passed, N failed"; exits non-zero on any failure.
#
# Usage: tests/clients/run.sh    Env: SSE_HOST_BIN (skip the build).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

command -v python3 >/dev/null || { echo "clients: python3 is required" >&2; exit 1; }
command -v node >/dev/null || { echo "clients: node is required (apt-get install nodejs npm)" >&2; exit 1; }

if [ -z "${SSE_HOST_BIN:-}" ]; then
  # Release, as the browser and firmware end-to-end tests use: one build for all three.
  (cd "$root" && cargo build --quiet --locked --release -p sse-host)
  SSE_HOST_BIN="$root/target/release/sse-host"
fi

venv="$root/target/clients-venv"
stamp="$venv/.requirements"
if ! cmp -s "$here/requirements.txt" "$stamp" 2>/dev/null; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
  cp "$here/requirements.txt" "$stamp"
fi
if [ ! -d "$here/node_modules/eventsource" ]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi

server_pid=""
stop_server() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
}
trap stop_server EXIT

# Starts a fresh server; sets $base.
start_server() {
  local port
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  "$SSE_HOST_BIN" serve --memory --bind "127.0.0.1:$port" >"$root/target/clients-serve.log" 2>&1 &
  server_pid=$!
  base="http://127.0.0.1:$port"
  python3 - "$port" <<'PY'
import socket, sys, time
for _ in range(200):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit("clients: sse-host serve did not start listening")
PY
}

passed=0
failed=0
check() {
  local name="$1"
  shift
  start_server
  echo "--- $name"
  if timeout --kill-after=5 60 "$@" "$base"; then
    passed=$((passed + 1))
  else
    echo "FAILED: $name" >&2
    failed=$((failed + 1))
  fi
  stop_server
}

check "httpx-sse: first event is state" "$venv/bin/python" "$here/python_clients.py" httpx-sse
check "sseclient-py: first event is state" "$venv/bin/python" "$here/python_clients.py" sseclient-py
check "eventsource 3: first event is state" node "$here/eventsource.mjs" first-event
check "eventsource 3: stops after session end" node "$here/eventsource.mjs" session-end

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
