// The Node reference server (@durable-streams/server, pinned in package-lock.json) on
// 127.0.0.1, for benchmarks against the same load (bench.sh). Prints its base URL on one line,
// then serves until SIGTERM or SIGINT.
//
// Usage: node reference-server.mjs [--data-dir DIR]   (without: the memory store)
import { DurableStreamTestServer } from "@durable-streams/server"

const at = process.argv.indexOf("--data-dir")
const dataDir = at > 0 ? process.argv[at + 1] : undefined
if (at > 0 && !dataDir) {
  console.error("reference-server: --data-dir needs a directory")
  process.exit(2)
}
const server = new DurableStreamTestServer({ port: 0, host: "127.0.0.1", dataDir })
const url = await server.start()
console.log(url)
const stop = async () => {
  await server.stop()
  process.exit(0)
}
process.on("SIGTERM", stop)
process.on("SIGINT", stop)
