// Runs every *.test.js here with node:test, one file at a time, and ends with "N passed, N failed".
//
// Usage: node run.mjs [FILE...]   (run.sh builds sse-host first and is what CI calls)

import fs from 'node:fs';
import path from 'node:path';
import { run } from 'node:test';
import { spec } from 'node:test/reporters';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const files = process.argv.length > 2
  ? process.argv.slice(2).map((f) => path.resolve(f))
  : fs.readdirSync(here).filter((f) => f.endsWith('.test.js')).sort().map((f) => path.join(here, f));

let passed = 0;
let failed = 0;
const stream = run({ files, concurrency: 1, timeout: 60_000 });
stream.on('test:pass', (t) => {
  if (t.nesting === 0 && !t.skip && !t.todo) passed += 1;
});
stream.on('test:fail', (t) => {
  if (t.nesting === 0) failed += 1;
});
const report = stream.compose(spec);
report.pipe(process.stdout, { end: false });
report.on('end', () => {
  console.log(`\n${passed} passed, ${failed} failed`);
  process.exitCode = failed > 0 || passed === 0 ? 1 : 0;
});
