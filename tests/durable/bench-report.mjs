// Markdown tables of `sse-loadgen durable` results (bench.sh): per run and store, sse-host
// against the reference server, with the ratios (higher is better for sse-host, but for the
// CPU and latency columns, where lower is).
//
// Usage: node bench-report.mjs RESULTS.jsonl
import { readFileSync } from "node:fs"

const rows = readFileSync(process.argv[2], "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l))
const fmt = (x, d = 0) => (x == null ? "–" : Number(x).toLocaleString("en-US", { maximumFractionDigits: d }).replace(/,/g, " "))
const ratio = (a, b) => (a == null || b == null || b === 0 ? "–" : (a / b).toFixed(2))
const load = rows[0]
console.log(
  `Load: ${load.writers} writers × ${load.appends / load.writers} appends of ${load.body} bytes; ` +
    `${load.readers} SSE readers × ${load.fanout_appends} appends. Load average at the start of each run: ` +
    [...new Set(rows.map((r) => r.loadavg.split(" ")[0]))].join(", ") + ".\n",
)
console.log("| store | run | appends/s sse-host | reference | ratio | deliveries/s sse-host | reference | ratio | CPU µs/append sse-host | reference | CPU µs/delivery sse-host | reference | delivery p50 / p99 ms sse-host | reference |")
console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
const ms = (h) => (h ? `${(h.p50 / 1000).toFixed(1)} / ${(h.p99 / 1000).toFixed(1)}` : "–")
let bad = 0
// The reference has no shared store: sse-host on Redis is compared with its memory store.
for (const [store, theirs] of [["memory", "memory"], ["file", "file"], ["redis", "memory"]]) {
  const ours = rows.filter((r) => r.label === `sse-host ${store}`)
  const ref = rows.filter((r) => r.label === `reference ${theirs}`)
  ours.forEach((o, i) => {
    const r = ref[i] ?? {}
    for (const x of [o, r]) if (x.label && (!x.drained || x.reader_errors > 0)) bad++
    console.log(
      `| ${store === theirs ? store : `${store} (reference: ${theirs})`} | ${i + 1} | ${fmt(o.appends_per_s)} | ${fmt(r.appends_per_s)} | ${ratio(o.appends_per_s, r.appends_per_s)} ` +
        `| ${fmt(o.deliveries_per_s)} | ${fmt(r.deliveries_per_s)} | ${ratio(o.deliveries_per_s, r.deliveries_per_s)} ` +
        `| ${fmt(o.server_cpu_us_per_append)} | ${fmt(r.server_cpu_us_per_append)} ` +
        `| ${fmt(o.server_cpu_us_per_delivery, 1)} | ${fmt(r.server_cpu_us_per_delivery, 1)} ` +
        `| ${ms(o.latency_us)} | ${ms(r.latency_us)} |`,
    )
  })
}
if (bad > 0) console.log(`\n**${bad} run(s) did not deliver every byte** (see the JSON lines).`)
