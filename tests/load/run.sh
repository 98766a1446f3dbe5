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
#   IDLE, LOAD, MAX  set to 0 to skip the idle points, the load points, the fd-limit point
#   MAX_FDS     server fd limit for the "max subscribers" point  (default: hard limit - 3000)
#   THREADS     load generator subscriber threads                (default 1)
#   OUT         results directory                                (default target/load)
#   KINDS       servers for the idle and load points  (default "ours baseline ours-hyper floor";
#               "floor" is sse-floor: one write per event per socket and nothing else)
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
KINDS=${KINDS:-"ours baseline ours-hyper floor"}
OUT=${OUT:-target/load}
BIN=target/release
SSE_HOST=${SSE_HOST:-$BIN/sse-host}

mkdir -p "$OUT"
RESULTS="$OUT/results-$(date +%Y%m%d-%H%M%S).jsonl"

echo "== building (release)" >&2
cargo build --release --quiet -p sse-host -p sse-tests --bin sse-host --bin sse-loadgen --bin sse-baseline --bin sse-floor

# File descriptors: as many as we may have (root can raise the hard limit; a container
# without CAP_SYS_RESOURCE cannot, and keeps its hard limit).
ulimit -Hn 200000 2>/dev/null || true
ulimit -n "$(ulimit -Hn)"
HARD=$(ulimit -n)
# Ephemeral ports: left as they are (a machine-wide setting); beyond one range per source
# address the load generator spreads over 127.0.0.x sources.
read -r PORT_LO PORT_HI </proc/sys/net/ipv4/ip_local_port_range
if [ "$PORT_LO" -le 11000 ]; then
    echo "ephemeral ports start at $PORT_LO: no room below for the servers' ports" >&2
    exit 1
fi
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

# try_start ours|ours-hyper|baseline FD_LIMIT -> sets SERVER_PID, SERVER_ADDR; fails if the
# server does not listen within 10 s (e.g. its port was taken meanwhile).
try_start() {
    local kind=$1 fds=$2 port
    # A free port below the ephemeral range (other processes may hold fixed ones).
    for _ in $(seq 50); do
        port=$((10000 + RANDOM % (PORT_LO - 10000)))
        listening "$port" || break
    done
    if [ "$kind" = ours ] || [ "$kind" = ours-hyper ]; then
        # ours-hyper: the same server with every stream through hyper (A/B of fast_stream).
        (ulimit -n "$fds"; [ "$kind" = ours-hyper ] && export SSE_STREAM_VIA_HYPER=1
         exec "$SSE_HOST" serve --memory --bind "127.0.0.1:$port" \
            --max-subscribers 1000000) >"$OUT/$kind.log" 2>&1 &
    elif [ "$kind" = floor ]; then
        (ulimit -n "$fds"; exec "$BIN/sse-floor" --bind "127.0.0.1:$port") >"$OUT/$kind.log" 2>&1 &
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
    stop_server
    return 1
}

start_server() {
    for _ in 1 2 3 4 5; do
        try_start "$@" && return 0
    done
    echo "$1 did not start; log:" >&2
    cat "$OUT/$1.log" >&2
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
    [ "${IDLE:-1}" = 0 ] && break
    for kind in $KINDS; do
        point "$kind" "$HARD" --subscribers "$n" --duration 0
    done
done
for n in $SIZES; do
    [ "${LOAD:-1}" = 0 ] && break
    for kind in $KINDS; do
        point "$kind" "$HARD" --subscribers "$n" --rate "$RATE" --duration "$DURATION"
    done
done

# Max subscribers: the server gets MAX_FDS descriptors, the load generator (which keeps the
# whole hard limit) tries 1000 more; every subscriber the server holds must get the probe.
MAX_FDS=${MAX_FDS:-$((HARD - 3000))}
ATTEMPTS=$((MAX_FDS + 1000))
SRC=$(((ATTEMPTS + PORTS_PER_SRC - 1) / PORTS_PER_SRC))
for kind in ours baseline; do
    [ "${MAX:-1}" = 0 ] && break
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
