// Counts a vitest JSON report per top-level suite group; prints failures when asked.
import { readFileSync } from "node:fs"

const [file, detail] = process.argv.slice(2)
const report = JSON.parse(readFileSync(file, "utf8"))
const groups = new Map()
let passed = 0
let failed = 0
for (const result of report.testResults) {
  for (const t of result.assertionResults) {
    const group = t.ancestorTitles.slice(1, 2).join("") || t.ancestorTitles.join(" > ")
    const g = groups.get(group) ?? { passed: 0, failed: 0, failures: [] }
    if (t.status === "passed") {
      g.passed++
      passed++
    } else if (t.status === "failed") {
      g.failed++
      failed++
      g.failures.push(`${t.title}: ${(t.failureMessages[0] ?? "").split("\n")[0]}`)
    }
    groups.set(group, g)
  }
}
for (const [name, g] of groups) {
  console.log(`${String(g.passed).padStart(4)} passed ${String(g.failed).padStart(4)} failed  ${name}`)
  if (detail) for (const f of g.failures) console.log(`        - ${f}`)
}
console.log(`${passed} passed, ${failed} failed`)
process.exit(failed === 0 ? 0 : 1)
