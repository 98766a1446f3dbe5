// Appends/s and SSE fan-out: sse-host's /v1/stream/ against the Node reference server
// (@durable-streams/server, pinned), on the same load, from the same client. Rough: the client
// is Node's fetch on the same machine, so both servers share its overhead.
//
// Usage: node bench.mjs http://127.0.0.1:PORT   (an sse-host serve --memory)
import { DurableStreamTestServer } from "@durable-streams/server"

const WRITERS = 16
const APPENDS = 300 // per writer
const READERS = 50
const FANOUT_APPENDS = 200
const body = "x".repeat(64)

async function appends(base, tag) {
  const t0 = performance.now()
  await Promise.all(
    Array.from({ length: WRITERS }, async (_, w) => {
      const url = `${base}/v1/stream/bench-${tag}-${w}`
      await fetch(url, { method: "PUT", headers: { "content-type": "text/plain" } })
      for (let i = 0; i < APPENDS; i++) {
        const r = await fetch(url, { method: "POST", headers: { "content-type": "text/plain" }, body })
        if (r.status !== 204 && r.status !== 200) throw new Error(`append: ${r.status}`)
        await r.arrayBuffer()
      }
    })
  )
  return (WRITERS * APPENDS) / ((performance.now() - t0) / 1000)
}

async function fanout(base, tag) {
  const url = `${base}/v1/stream/fan-${tag}`
  await fetch(url, { method: "PUT", headers: { "content-type": "text/plain" } })
  const want = FANOUT_APPENDS * body.length
  const ctl = new AbortController()
  const done = Array.from({ length: READERS }, async () => {
    const r = await fetch(`${url}?offset=-1&live=sse`, { signal: ctl.signal })
    const reader = r.body.getReader()
    const dec = new TextDecoder()
    let seen = 0
    let text = ""
    while (seen < want) {
      const { value, done } = await reader.read()
      if (done) throw new Error("SSE ended early")
      text += dec.decode(value, { stream: true })
      // Count payload bytes of data events (text streams: the x's).
      const parts = text.split("\n")
      text = parts.pop()
      for (const line of parts) if (line.startsWith("data:") && !line.startsWith("data:{")) seen += line.replace(/^data: ?/, "").length
    }
  })
  await new Promise((r) => setTimeout(r, 300))
  const t0 = performance.now()
  for (let i = 0; i < FANOUT_APPENDS; i++) {
    const r = await fetch(url, { method: "POST", headers: { "content-type": "text/plain" }, body })
    await r.arrayBuffer()
  }
  await Promise.all(done)
  const secs = (performance.now() - t0) / 1000
  ctl.abort()
  return (READERS * FANOUT_APPENDS) / secs
}

const ours = process.argv[2]
const ref = new DurableStreamTestServer({ port: 0, host: "127.0.0.1" })
const refUrl = await ref.start()
const rows = []
for (const [name, base] of [["sse-host", ours], ["node reference", refUrl]]) {
  const a = await appends(base, name.replace(" ", "-"))
  const f = await fanout(base, name.replace(" ", "-"))
  rows.push({ name, a, f })
  console.log(`${name.padEnd(15)} ${a.toFixed(0).padStart(7)} appends/s  ${f.toFixed(0).padStart(8)} deliveries/s (SSE, ${READERS} readers)`)
}
console.log(`ratio sse-host/reference: appends ${(rows[0].a / rows[1].a).toFixed(2)}, SSE fan-out ${(rows[0].f / rows[1].f).toFixed(2)}`)
await ref.stop()
process.exit(0)
