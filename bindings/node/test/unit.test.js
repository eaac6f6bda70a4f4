'use strict';
// unit.test.js: what needs no broker: loading and the version check, the
// generated result codes and errors, MessageId against the library's own
// formatting and encoding, ESM import, and arguments rejected before any
// connection is made.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const pp = require('..');
const { nativeString } = require('../lib/message-id');
const native = require('../lib/native');
const { runChild, rejectsWith, PACKAGE_DIR } = require('./helpers');

test('exports and versions', () => {
  assert.equal(pp.version, require('../package.json').version);
  assert.equal(pp.libraryVersion, pp.version);
  assert.equal(native.fn.versionStr(), pp.version);
  assert.ok(fs.existsSync(pp.libraryPath), pp.libraryPath);
  assert.equal(typeof pp.Producer.create, 'function');
});

test('result codes and error classes come from the library table', () => {
  const table = pp.resultTable();
  assert.ok(table.length > 30);
  assert.deepEqual(Object.keys(pp.Result), table.map((r) => r.name));
  for (const row of table) {
    assert.equal(pp.Result[row.name], row.result);
    assert.deepEqual(pp.resultInfo(row.result), row);
    if (row.result === 0) continue;
    const Cls = pp.errors[row.name];
    const e = new Cls('boom');
    assert.ok(e instanceof pp.PulsarError && e instanceof Error);
    assert.equal(e.name, row.name);
    assert.equal(e.code, row.result);
    assert.equal(e.kind, row.kind);
    assert.equal(e.retriable, row.retriable);
    assert.ok(e.stack.startsWith(`${row.name}: boom`), e.stack);
  }
  // Spot checks against the header's numbers.
  assert.equal(pp.Result.AlreadyClosed, 15);
  assert.equal(pp.Result.InvalidArgument, 101);
  const bare = new pp.PulsarError(3);
  assert.equal(bare.name, 'Timeout');
  assert.equal(bare.message, pp.resultInfo(3).description);
  assert.equal(new pp.PulsarError(9999, 'x').name, 'Unknown');
  assert.equal(pp.resultInfo(9999), undefined);
});

test('MessageId formats like pp_message_id_str', () => {
  const ids = [
    new pp.MessageId(1, 2),
    new pp.MessageId(1, 2, -1, 0, 1),
    new pp.MessageId(123456789012, 98765, 3, 999, 1000),
    new pp.MessageId(0, 0, 0, -1, 0),
    new pp.MessageId(2 ** 40 + 7, -1, -1, -1, 0),
  ];
  for (const id of ids) assert.equal(id.toString(), nativeString(id));
  assert.equal(String(ids[0]), '1:2:-1');
  assert.equal(String(ids[2]), '123456789012:98765:3:999');
});

test('MessageId serializes as MessageIdData and round-trips', () => {
  // Field 1 (ledger) = 1, field 2 (entry) = 2; absent fields omitted.
  assert.deepEqual(new pp.MessageId(1, 2).serialize(), Buffer.from([0x08, 0x01, 0x10, 0x02]));
  for (const id of [
    new pp.MessageId(1, 2),
    new pp.MessageId(77, 88, -1, 5, 10),
    new pp.MessageId(2 ** 45, 2 ** 33, 12, 0, 1),
  ]) {
    const back = pp.MessageId.deserialize(id.serialize());
    assert.deepEqual({ ...back }, { ...id });
    assert.ok(back.equals(id));
  }
  assert.ok(!new pp.MessageId(1, 2).equals(new pp.MessageId(1, 3)));
  assert.throws(() => pp.MessageId.deserialize(Buffer.from([0xff, 0xff])),
    (e) => e.name === 'InvalidArgument' && e.code === 101);
  assert.throws(() => pp.MessageId.deserialize(Buffer.alloc(0)), (e) => e.name === 'InvalidArgument');
  assert.throws(() => pp.MessageId.deserialize('08011002'), (e) => e.name === 'InvalidArgument');
});

test('Producer.create rejects bad arguments before connecting', async () => {
  await rejectsWith(pp.Producer.create({ serviceUrl: 'pulsar://127.0.0.1:1' }), 'InvalidTopicName', /topic is required/);
  await rejectsWith(pp.Producer.create({ topic: 't' }), 'InvalidUrl', /serviceUrl is required/);
  await rejectsWith(pp.Producer.create(), 'InvalidConfiguration', /options object/);
  await rejectsWith(pp.Producer.create('pulsar://x'), 'InvalidConfiguration', /options object/);
  await rejectsWith(pp.Producer.create({ serviceUrl: 'pulsar://127.0.0.1:1', topic: 't', batchingMaxMesages: 5 }),
    'InvalidConfiguration', /batchingMaxMesages/);
  await rejectsWith(pp.Producer.create({ serviceUrl: 'pulsar://127.0.0.1:1', topic: 't', batchingMaxMessages: 'many' }),
    'InvalidConfiguration', /batchingMaxMessages/);
  await rejectsWith(pp.Producer.create({ serviceUrl: 'pulsar://127.0.0.1:1', topic: 't', sendTimeout: 10n }),
    'InvalidConfiguration', /JSON/);
  await rejectsWith(pp.Producer.create({ serviceUrl: 'http//nowhere', topic: 't' }), 'InvalidUrl');
  assert.throws(() => new pp.Producer(), TypeError);
});

test('ESM import by package name', async () => {
  const r = await runChild('', { args: [path.join(__dirname, 'fixtures', 'esm.mjs')] });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), {
    producer: 'function', id: '1:2:-1:3', same: true, error: true, timeout: 3, version: pp.version,
  });
});

test('a missing library is a clear error', async () => {
  const r = await runChild("require('.')", { env: { PULSAR_PRODUCER_LIB: '/nonexistent/libpulsar_producer.so' } });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /cannot find libpulsar_producer\.so/);
  assert.match(r.stderr, /\/nonexistent\/libpulsar_producer\.so \(PULSAR_PRODUCER_LIB\)/);
});

test('a library of another version is a clear error', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pp-stub-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const so = path.join(dir, 'libpulsar_producer.so');
  try {
    execFileSync('cc', ['-shared', '-fPIC', '-o', so, path.join(__dirname, 'fixtures', 'stub.c')], { stdio: 'pipe' });
  } catch (e) {
    t.skip(`no C compiler to build the stub library: ${e.message}`);
    return;
  }
  const r = await runChild("require('.')", { env: { PULSAR_PRODUCER_LIB: so } });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, new RegExp(`${so.replace(/[.]/g, '\\.')} is version 0\\.2\\.7, but this package ` +
    `\\(pulsar-producer ${pp.version.replace(/[.]/g, '\\.')}\\) needs version`));
});

test('the package loads the library found next to it, else the repository build', () => {
  const prebuilt = path.join(PACKAGE_DIR, 'prebuilds', `${process.platform}-${process.arch}`, 'libpulsar_producer.so');
  const repoBuild = path.resolve(PACKAGE_DIR, '..', '..', 'build', 'lib', 'libpulsar_producer.so');
  if (process.env.PULSAR_PRODUCER_LIB) {
    assert.equal(pp.libraryPath, path.resolve(process.env.PULSAR_PRODUCER_LIB));
  } else {
    assert.equal(pp.libraryPath, fs.existsSync(prebuilt) ? prebuilt : repoBuild);
  }
});
