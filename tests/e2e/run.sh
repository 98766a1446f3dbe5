#!/usr/bin/env bash
# Browser tests of the web UI: builds sse-host, installs playwright-core (pinned, no browser
# download: Debian's /usr/bin/chromium is used), runs every tests/e2e/*.test.js, and prints
# "N passed, N failed". Screenshots go to target/e2e-screenshots/.
#
# Usage: tests/e2e/run.sh [FILE...]    Env: SSE_HOST_BIN (skip the build), CHROMIUM.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

command -v node >/dev/null || { echo "e2e: node is required (apt-get install nodejs npm)" >&2; exit 1; }
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || { echo "e2e: ${CHROMIUM:-/usr/bin/chromium} not found (apt-get install chromium)" >&2; exit 1; }

if [ -z "${SSE_HOST_BIN:-}" ]; then
  # Release: the build the firmware end-to-end tests use too (one build, not a second dependency
  # graph in debug with sse-host's own features), and the one users run.
  (cd "$root" && cargo build --quiet --locked --release -p sse-host)
  export SSE_HOST_BIN="$root/target/release/sse-host"
fi

if [ ! -d "$here/node_modules/playwright-core" ] || [ ! -d "$here/node_modules/markdown-it" ]; then
  (cd "$here" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi

mkdir -p "$root/target/e2e-screenshots"
# The tests kill what they start; the process group kill below is a backstop for a crash, and
# `timeout` keeps the whole run bounded: 10 files, about 2 minutes on a loaded 2-core machine,
# so 300 s leaves room without letting a hang eat the CI budget.
cd "$here"
status=0
timeout --kill-after=10 300 node run.mjs "$@" || status=$?
if [ "$status" = 124 ]; then echo "e2e: timed out after 300 s" >&2; fi
exit "$status"
