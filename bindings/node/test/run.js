#!/usr/bin/env node
'use strict';
// run.js: the package's test runner (npm test). Builds the independent
// consumer (tests/cmd/ppconsume) once into a temporary directory, then runs
// `node --test` over test/*.test.js with PPCONSUME pointing at it, and exits
// with the test runner's status. The broker must be running
// (tests/broker/broker.sh start).
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync, spawnSync } = require('node:child_process');

const testsDir = path.resolve(__dirname, '..', '..', '..', 'tests');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pp-node-test-'));
let status = 1;
try {
  const bin = path.join(dir, 'ppconsume');
  execFileSync('go', ['build', '-o', bin, './cmd/ppconsume'], { cwd: testsDir, stdio: 'inherit' });
  const files = fs.readdirSync(__dirname).filter((f) => f.endsWith('.test.js')).sort()
    .map((f) => path.join(__dirname, f));
  const r = spawnSync(process.execPath, ['--test', ...process.argv.slice(2), ...files], {
    stdio: 'inherit',
    env: { ...process.env, PPCONSUME: bin },
  });
  status = r.status === null ? 1 : r.status;
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
process.exit(status);
