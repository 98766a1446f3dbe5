#!/usr/bin/env bash
# Server fan-out benchmark: `sse-host serve --memory` against the naive axum + broadcast
# baseline (`sse-baseline`), in one run, on loopback. Prints a markdown table of absolute
# figures and the ratios against the targets (docs/BENCHMARKS.md, "Server fan-out").
#
#   tests/load/run.sh                      # full run, a few minutes
#   SIZES="1000" DURATION=5 tests/load/run.sh   # quick smoke run
#
# Knobs (environment):
#   SIZES       subscriber counts for the idle and load points   (default "1000 10000")
#   RATE        messages published per second under load         (default 10)
#   DURATION    seconds of publishing per load point             (default 20)
#   PAD         bytes of padding in each message's content       (default 200)
#   MAX_FDS     server fd limit for the "max subscribers" point  (default: hard limit - 3000)
#   THREADS     load generator subscriber threads                (default 1)
#   OUT         results directory                                (default target/load)
#   SSE_HOST    sse-host binary to measure (default: the one built here)
#
# Every point starts a fresh server (clean RSS, empty log) and stops it afterwards. Every wait
# is bounded (the load generator's timeouts; 10 s for a server to listen). Loopback only.
set -euo pipefail

cd "$(dirname "$0")/../.."
SIZES=${SIZES:-"1000 10000"}
RATE=${RATE:-10}
DURATION=${DURATION:-20}
PAD=${PAD:-200}
THREADS=${THREADS:-1}
OUT=${OUT:-target/load}
BIN=target/release
SSE_HOST=${SSE_HOST:-$BIN/sse-host}

mkdir -p "$OUT"
RESULTS="$OUT/results-$(date +%Y%m%d-%H%M%S).jsonl"

echo "== building (release)" >&2
cargo build --release --quiet -p sse-host -p sse-tests --bin sse-host --bin sse-loadgen --bin sse-baseline

# File descriptors: as many as we may have (root can raise the hard limit; a container
# without CAP_SYS_RESOURCE cannot, and keeps its hard limit).
ulimit -Hn 200000 2>/dev/null || true
ulimit -n "$(ulimit -Hn)"
HARD=$(ulimit -n)
# Ephemeral ports: widen the range if we may (each source address gives one range).
if [ -w /proc/sys/net/ipv4/ip_local_port_range ]; then
    echo "1024 65000" >/proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
fi
read -r PORT_LO PORT_HI </proc/sys/net/ipv4/ip_local_port_range
PORTS_PER_SRC=$((PORT_HI - PORT_LO - 1000))

SERVER_PID=""
stop_server() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
}
trap stop_server EXIT

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start_server ours|baseline FD_LIMIT -> sets SERVER_PID, SERVER_ADDR
start_server() {
    local kind=$1 fds=$2 port
    # A free port (other processes on this machine may hold fixed ones).
    for _ in $(seq 50); do
        port=$((20000 + RANDOM % 20000))
        listening "$port" || break
    done
    if [ "$kind" = ours ]; then
        (ulimit -n "$fds"; exec "$SSE_HOST" serve --memory --bind "127.0.0.1:$port" \
            --max-subscribers 1000000) >"$OUT/$kind.log" 2>&1 &
    else
        (ulimit -n "$fds"; exec "$BIN/sse-baseline" --bind "127.0.0.1:$port") >"$OUT/$kind.log" 2>&1 &
    fi
    SERVER_PID=$!
    SERVER_ADDR="127.0.0.1:$port"
    for _ in $(seq 100); do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            break
        fi
        if listening "$port"; then
            return 0
        fi
        sleep 0.1
    done
    echo "$kind did not start listening on $port; log:" >&2
    cat "$OUT/$kind.log" >&2
    exit 1
}

# point KIND FD_LIMIT LOADGEN_ARGS...
point() {
    local kind=$1 fds=$2
    shift 2
    start_server "$kind" "$fds"
    echo "== $kind $*  (load avg $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    "$BIN/sse-loadgen" run --addr "$SERVER_ADDR" --pid "$SERVER_PID" --label "$kind" \
        --threads "$THREADS" --pad "$PAD" --clk-tck "$(getconf CLK_TCK)" "$@" | tee -a "$RESULTS" >&2
    stop_server
}

START=$(date +%s)
for n in $SIZES; do
    for kind in ours baseline; do
        point "$kind" "$HARD" --subscribers "$n" --duration 0
    done
done
for n in $SIZES; do
    for kind in ours baseline; do
        point "$kind" "$HARD" --subscribers "$n" --rate "$RATE" --duration "$DURATION"
    done
done

# Max subscribers: the server gets MAX_FDS descriptors, the load generator (which keeps the
# whole hard limit) tries 1000 more; every subscriber the server holds must get the probe.
MAX_FDS=${MAX_FDS:-$((HARD - 3000))}
ATTEMPTS=$((MAX_FDS + 1000))
SRC=$(((ATTEMPTS + PORTS_PER_SRC - 1) / PORTS_PER_SRC))
for kind in ours baseline; do
    point "$kind" "$MAX_FDS" --max --subscribers "$ATTEMPTS" --duration 0 --src-addrs "$SRC" \
        --connect-timeout 3 --max-failures 300 --drain-timeout 20
done

{
    echo
    echo "### Server fan-out: results of $(date -u +%Y-%m-%dT%H:%MZ)"
    echo
    echo "Machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(free -g | awk '/Mem:/{print $2}') GiB RAM, $(uname -sr); fd hard limit $HARD; run took $(($(date +%s) - START)) s."
    echo "Load: $RATE msg/s × $DURATION s, content padded by $PAD B; load generator threads: $THREADS."
    echo
    "$BIN/sse-loadgen" report "$RESULTS"
    echo
    echo "Raw results: $RESULTS"
}
