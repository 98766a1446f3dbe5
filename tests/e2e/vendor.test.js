// The vendored markdown-it in host/web/vendor is byte for byte the pinned npm package's file,
// so it cannot drift from the version package.json and package-lock.json name.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const FILE = 'markdown-it.esm.min.mjs';

test('host/web/vendor/markdown-it is the pinned npm package file', () => {
  const pinned = JSON.parse(fs.readFileSync(path.join(here, 'package.json'), 'utf8')).devDependencies['markdown-it'];
  const installed = JSON.parse(
    fs.readFileSync(path.join(here, 'node_modules/markdown-it/package.json'), 'utf8'),
  ).version;
  assert.equal(installed, pinned, 'run `npm ci` in tests/e2e');
  const vendored = fs.readFileSync(path.join(here, '../../host/web/vendor', FILE));
  const upstream = fs.readFileSync(path.join(here, 'node_modules/markdown-it/dist/browser', FILE));
  assert.ok(vendored.equals(upstream), `host/web/vendor/${FILE} differs from markdown-it ${pinned}`);
  assert.match(fs.readFileSync(path.join(here, '../../host/web/vendor/README.md'), 'utf8'), new RegExp(`markdown-it ${pinned.replaceAll('.', '\\.')}`));
});
