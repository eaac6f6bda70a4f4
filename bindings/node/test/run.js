#!/usr/bin/env node
'use strict';
// run.js: the package's test runner (npm test). Builds the independent
// consumer (tests/cmd/ppconsume) once into a temporary directory, installs
// the official Python client into build/pyenv if it is not there yet (as
// tests/run.sh's Python suite does; tests reading with it are skipped if
// that fails), then runs `node --test` over test/*.test.js with PPCONSUME
// pointing at the consumer, once per backend, and exits with the first
// failing run's status (0 if none failed). The
// broker must be running (tests/broker/broker.sh start).
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync, spawnSync } = require('node:child_process');

const testsDir = path.resolve(__dirname, '..', '..', '..', 'tests');
const pyenv = path.resolve(testsDir, '..', 'build', 'pyenv');

function ensurePythonClient() {
  const python = process.env.PP_PYTHON || path.join(pyenv, 'bin', 'python');
  if (spawnSync(python, ['-c', 'import pulsar'], { stdio: 'ignore' }).status === 0) return;
  if (process.env.PP_PYTHON) return; // someone else's interpreter: not ours to install into
  try {
    if (!fs.existsSync(python)) execFileSync('python3', ['-m', 'venv', pyenv], { stdio: 'inherit' });
    execFileSync(path.join(pyenv, 'bin', 'pip'), ['install', '-q', 'pulsar-client==3.13.*'], { stdio: 'inherit' });
  } catch (e) {
    console.error(`run.js: cannot install the official Python client into ${pyenv}: ${e.message}; tests reading with it are skipped`);
  }
}
// The suite runs once per backend (PP_NODE_BACKENDS, default both), each
// time with PULSAR_PRODUCER_BACKEND set, so every client a test creates
// without naming a backend runs on that one.
const backends = (process.env.PP_NODE_BACKENDS || 'native,wasi').split(',');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pp-node-test-'));
let status = 1;
try {
  const bin = path.join(dir, 'ppconsume');
  execFileSync('go', ['build', '-o', bin, './cmd/ppconsume'], { cwd: testsDir, stdio: 'inherit' });
  ensurePythonClient();
  const files = fs.readdirSync(__dirname).filter((f) => f.endsWith('.test.js')).sort()
    .map((f) => path.join(__dirname, f));
  status = 0;
  for (const backend of backends) {
    console.log(`# backend: ${backend}`);
    const r = spawnSync(process.execPath, ['--test', ...process.argv.slice(2), ...files], {
      stdio: 'inherit',
      env: { ...process.env, PPCONSUME: bin, PULSAR_PRODUCER_BACKEND: backend },
    });
    if (r.status !== 0) status = r.status === null ? 1 : r.status;
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
process.exit(status);
