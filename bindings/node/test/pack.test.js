'use strict';
// pack.test.js: the package as a user gets it: `npm pack`, installed into
// an empty project without its optional dependency (koffi) and with the
// native prebuilds removed, publishes on the wasi backend (the default
// when no native library loads), as read back by the official Go client;
// and the tarball holds the module and the JavaScript host.
const { test, before } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { uniqueTopic, consume, requireBroker, assertSameId, SERVICE_URL, PACKAGE_DIR } = require('./helpers');

before(requireBroker);

// Once is enough: the suite runs once per backend.
const ONCE = process.env.PULSAR_PRODUCER_BACKEND === 'native' ? 'backend-independent: runs in the wasi pass of test/run.js' : false;

test('npm pack, installed into an empty project with no native code, publishes on the wasi backend', { timeout: 180000, skip: ONCE }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pp-pack-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const npm = (args, cwd) => execFileSync('npm', [...args, '--no-audit', '--no-fund'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const tgz = path.join(dir, JSON.parse(npm(['pack', '--json', '--pack-destination', dir], PACKAGE_DIR))[0].filename);
  const listed = execFileSync('tar', ['-tzf', tgz], { encoding: 'utf8' }).split('\n');
  for (const f of ['package/wasm/pulsar_producer.wasm', 'package/lib/wasi/host.js', 'package/lib/tables.json', 'package/index.d.ts']) {
    assert.ok(listed.includes(f), `the tarball holds ${f}`);
  }
  assert.ok(!listed.some((f) => f.startsWith('package/test/')), 'no tests in the tarball');
  const app = path.join(dir, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true }));
  npm(['install', '--omit=optional', tgz], app);
  const installed = path.join(app, 'node_modules', 'pulsar-producer');
  fs.rmSync(path.join(installed, 'prebuilds'), { recursive: true, force: true });
  assert.equal(fs.existsSync(path.join(app, 'node_modules', 'koffi')), false, 'koffi is not installed');
  const topic = uniqueTopic('packed');
  fs.writeFileSync(path.join(app, 'main.js'), `
    const pp = require('pulsar-producer');
    (async () => {
      const p = await pp.Producer.create({ serviceUrl: process.argv[2], topic: process.argv[3] });
      const ids = await Promise.all(['one', 'two', 'three'].map((s) => p.send(s)));
      await p.close();
      console.log(JSON.stringify({ backend: pp.defaultBackend(), library: pp.libraryPath, used: p.client.backend, ids }));
    })().catch((e) => { console.error(e); process.exit(1); });
  `);
  const env = { ...process.env };
  for (const k of ['PULSAR_PRODUCER_LIB', 'PULSAR_PRODUCER_WASM', 'PULSAR_PRODUCER_BACKEND', 'NODE_PATH']) delete env[k];
  const out = JSON.parse(execFileSync(process.execPath, ['main.js', SERVICE_URL, topic], { cwd: app, env, encoding: 'utf8' }));
  assert.deepEqual([out.backend, out.library, out.used], ['wasi', null, 'wasi']);
  const got = await consume(topic, 3);
  assert.deepEqual(got.map((m) => m.payload.toString()), ['one', 'two', 'three']);
  got.forEach((m, i) => assertSameId(out.ids[i], m, `message ${i}`));
});
