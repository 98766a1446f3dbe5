#!/usr/bin/env python3
"""Prints the Parser table for docs/BENCHMARKS.md from criterion's results of
`cargo bench -p sse-tests --bench parse` (target/criterion/<group>/<contender>/<chunk>/new/)."""
import json, os, sys

root = sys.argv[1] if len(sys.argv) > 1 else "target/criterion"
groups = [("small", [1, 7, 4096, 65536]), ("large16", [1, 7]), ("large", [4096, 65536]),
          ("linear-16k", [7]), ("linear-64k", [7]), ("linear-256k", [7])]
who = ["sse-core", "sse-stream", "eventsource-stream", "memchr-lines", "least-work", "scan-join"]

def gib_s(group, name, chunk):
    base = os.path.join(root, group, name, str(chunk), "new")
    try:
        est = json.load(open(os.path.join(base, "estimates.json")))
        bench = json.load(open(os.path.join(base, "benchmark.json")))
    except FileNotFoundError:
        return None
    nbytes = bench["throughput"]["Bytes"]
    return nbytes / (est["median"]["point_estimate"] / 1e9) / 2**30

print("| input | chunk | sse-core ÷ best peer | sse-core ÷ memchr bound | sse-core | sse-stream | eventsource-stream | memchr-lines | least-work | scan-join |")
print("|---|---|---|---|---|---|---|---|---|---|")
for group, chunks in groups:
    for chunk in chunks:
        v = {w: gib_s(group, w, chunk) for w in who}
        if v["sse-core"] is None:
            continue
        peers = [x for x in (v["sse-stream"], v["eventsource-stream"]) if x]
        r_peer = f"{v['sse-core'] / max(peers):.2f}×" if peers else "–"
        r_bound = f"{v['sse-core'] / v['memchr-lines']:.2f}×" if v["memchr-lines"] else "–"
        cells = " | ".join(f"{v[w]:.2f}" if v[w] else "–" for w in who)
        print(f"| {group} | {chunk} | {r_peer} | {r_bound} | {cells} |")
