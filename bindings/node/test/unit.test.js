'use strict';
// unit.test.js: what needs no broker: loading and the version check, the
// struct layouts against the C header, the generated result codes and
// errors, MessageId (also of chunked messages) against the library's own
// formatting and encoding, ESM import, and options and arguments refused
// before anything connects (names, types, ranges, scopes, NULs; schema,
// router, interceptors, auth), with Node's names in every message.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const pp = require('..');
const { nativeString, nativeSerialize } = require('../lib/message-id');
const native = require('../lib/native');
const { runChild, rejectsWith, PACKAGE_DIR } = require('./helpers');

const URL = 'pulsar://127.0.0.1:1'; // nothing is contacted in these tests

/** The package's source files under lib/, by path relative to it. */
function libSources() {
  const dir = path.join(PACKAGE_DIR, 'lib');
  return fs.readdirSync(dir, { recursive: true }).filter((f) => f.endsWith('.js'))
    .map((f) => [f, fs.readFileSync(path.join(dir, f), 'utf8')]);
}

test('exports and versions', () => {
  assert.equal(pp.version, require('../package.json').version);
  assert.equal(pp.libraryVersion.split('.')[0], '1');
  assert.equal(native.fn.versionStr(), pp.libraryVersion);
  assert.ok(fs.existsSync(pp.libraryPath), pp.libraryPath);
  assert.equal(typeof pp.Producer.create, 'function');
  assert.equal(typeof pp.Client.create, 'function');
});

test('the package\'s tables (lib/tables.json) are the native library\'s result and option tables', () => {
  const tables = require('../lib/tables.json');
  assert.deepEqual(tables.results, native.resultTable().map((r) => ({ ...r })));
  assert.deepEqual(tables.options, native.optionTable());
});

test('result codes and error classes come from the library table, by name', () => {
  const table = pp.resultTable();
  assert.ok(table.length > 30);
  assert.deepEqual(Object.keys(pp.Result), table.map((r) => r.name));
  for (const row of table) {
    assert.equal(pp.Result[row.name], row.result);
    assert.deepEqual(pp.resultInfo(row.result), row);
    if (row.result === 0) continue;
    const e = new pp.errors[row.name]('boom');
    assert.ok(e instanceof pp.PulsarError && e instanceof Error);
    assert.equal(e.name, row.name);
    assert.equal(e.code, row.result);
    assert.equal(e.kind, row.kind);
    assert.equal(e.retriable, row.retriable);
    assert.ok(e.stack.startsWith(`${row.name}: boom`), e.stack);
  }
  const bare = new pp.PulsarError(pp.Result.Timeout);
  assert.equal(bare.name, 'Timeout');
  assert.equal(bare.message, pp.resultInfo(pp.Result.Timeout).description);
  assert.equal(new pp.PulsarError(9999, 'x').name, 'Unknown');
  assert.equal(pp.resultInfo(9999), undefined);
  // No result number is written in the package: codes are looked up by name.
  for (const [f, src] of libSources()) {
    assert.doesNotMatch(src, /(rc|code|result) ?[!=]==? ?\d/, `${f} compares a result with a number`);
  }
});

test('MessageId formats like pp_message_id_str and round-trips as MessageIdData', () => {
  for (const id of [new pp.MessageId(1, 2), new pp.MessageId(123456789012, 98765, 3, 999, 1000), new pp.MessageId(2 ** 40 + 7, -1)]) {
    assert.equal(id.toString(), nativeString(id));
    const back = pp.MessageId.deserialize(id.serialize());
    assert.deepEqual({ ...back }, { ...id });
    assert.ok(back.equals(id));
  }
  // The bytes are the library's, written and read here without it (the wasi backend has no library).
  const first = new pp.MessageId(2 ** 53 - 1, 0, 7);
  for (const id of [new pp.MessageId(0, 0), new pp.MessageId(-1, -1), new pp.MessageId(1, 2, 0, 0, 1), new pp.MessageId(9, 9, 2147483647, 65535, 65536),
    new pp.MessageId(2 ** 53 - 1, 2 ** 40, -1, 3, 4), new pp.MessageId(5, 6, 7, -1, 0, false, first)]) {
    assert.deepEqual(id.serialize(), nativeSerialize(id), `${id}`);
    assert.ok(pp.MessageId.deserialize(nativeSerialize(id)).equals(id), `${id}`);
  }
  assert.equal(String(new pp.MessageId(123456789012, 98765, 3, 999, 1000)), '123456789012:98765:3:999');
  assert.deepEqual(new pp.MessageId(1, 2).serialize(), Buffer.from([0x08, 0x01, 0x10, 0x02]));
  assert.ok(!new pp.MessageId(1, 2).equals(new pp.MessageId(1, 3)));
  assert.throws(() => pp.MessageId.deserialize(Buffer.from([0xff, 0xff])), (e) => e.name === 'InvalidArgument');
  assert.throws(() => pp.MessageId.deserialize('08011002'), (e) => e.name === 'InvalidArgument');
});

test('a chunked message\'s ID names its first chunk: formatted and serialized as the library does', () => {
  const first = new pp.MessageId(4480, 1, 2);
  const id = new pp.MessageId(4480, 5, 2, -1, 0, false, first);
  assert.equal(id.isChunked, true);
  assert.equal(id.firstChunkId, first);
  assert.equal(String(id), '4480:1:2;4480:5:2');
  assert.equal(String(id), nativeString(id));
  const back = pp.MessageId.deserialize(id.serialize());
  assert.ok(back.isChunked && back.firstChunkId.equals(first), `${back}`);
  assert.equal(back.firstChunkId.partition, 2);
  assert.ok(back.equals(id));
  assert.equal(String(back), String(id));
  // The bytes carry first_chunk_message_id (field 7): longer than the plain ID's.
  assert.ok(id.serialize().length > new pp.MessageId(4480, 5, 2).serialize().length);
  assert.ok(!id.equals(new pp.MessageId(4480, 5, 2)), 'a chunked ID is not its last chunk\'s plain ID');
  assert.ok(!id.equals(new pp.MessageId(4480, 5, 2, -1, 0, false, new pp.MessageId(4480, 2, 2))));
  const plain = new pp.MessageId(7, 8);
  assert.equal(plain.isChunked, false);
  assert.equal(plain.firstChunkId, null);
  assert.equal(pp.MessageId.deserialize(plain.serialize()).isChunked, false);
  assert.throws(() => new pp.MessageId(1, 2, -1, -1, 0, false, { ledgerId: 1 }), (e) => e.name === 'InvalidArgument');
});

test('the struct layouts the package reads and writes in raw memory are the C header\'s', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pp-layout-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const bin = path.join(dir, 'layout');
  try {
    execFileSync('cc', ['-Wall', '-Wextra', '-Werror', '-I', path.join(PACKAGE_DIR, '..', '..', 'include'), '-o', bin,
      path.join(__dirname, 'fixtures', 'layout.c')], { stdio: 'pipe' });
  } catch (e) {
    if (e.code === 'ENOENT') {
      t.skip('no C compiler');
      return;
    }
    assert.fail(`compiling the layout probe: ${e.stderr}`);
  }
  const header = JSON.parse(execFileSync(bin, { encoding: 'utf8' }));
  assert.deepEqual(native.layout, header);
  // The WASI backend writes completion rows in the same layout, so one loop settles both backends' sends.
  const wasiLayout = require('../lib/wasi/backend').layout;
  assert.deepEqual(wasiLayout.completion, header.completion);
  assert.deepEqual(wasiLayout.messageId, header.messageId);
});

test('a deduplicated resend\'s ID (-1:-1) is flagged isDuplicate (PP_ID_DUPLICATE)', () => {
  const dup = pp.MessageId.deserialize(new pp.MessageId(-1, -1).serialize());
  assert.equal(dup.isDuplicate, true);
  assert.equal(dup.ledgerId, -1);
  assert.equal(pp.MessageId.deserialize(new pp.MessageId(5, 6).serialize()).isDuplicate, false);
  assert.equal(new pp.MessageId(5, 6).isDuplicate, false);
});

test('options are checked against the library option table, with Node names', async () => {
  const bad = (o) => pp.Producer.create({ serviceUrl: URL, topic: 't', ...o });
  await rejectsWith(bad({ batchingMaxMesages: 5 }), 'InvalidConfiguration', /option "batchingMaxMesages" is unknown/);
  await rejectsWith(bad({ batchingMaxMessages: 'many' }), 'InvalidConfiguration', /"batchingMaxMessages" must be a number/);
  await rejectsWith(bad({ batchingMaxMessages: 0 }), 'InvalidConfiguration', /"batchingMaxMessages" is out of range: 0 \(from 1 to 1048576\)/);
  await rejectsWith(bad({ batchingMaxMessages: NaN }), 'InvalidConfiguration', /"batchingMaxMessages" is not a finite number/);
  await rejectsWith(bad({ sendTimeout: Infinity }), 'InvalidConfiguration', /"sendTimeout" is not a finite number/);
  await rejectsWith(bad({ sendTimeout: 1.5 }), 'InvalidConfiguration', /"sendTimeout" must be an integer/);
  await rejectsWith(bad({ memoryLimitBytes: 2 ** 60 }), 'InvalidConfiguration', /"memoryLimitBytes" is out of range/);
  await rejectsWith(bad({ initialSequenceId: 2n ** 63n }), 'InvalidConfiguration', /"initialSequenceId" is out of range/);
  await rejectsWith(bad({ initialSequenceId: -2 }), 'InvalidConfiguration', /"initialSequenceId" is out of range/);
  await rejectsWith(bad({ compressionType: 'gzip' }), 'InvalidConfiguration', /"compressionType" must be one of none, lz4/);
  await rejectsWith(bad({ blockIfQueueFull: 1 }), 'InvalidConfiguration', /"blockIfQueueFull" must be a boolean/);
  await rejectsWith(bad({ properties: { a: 1 } }), 'InvalidConfiguration', /"properties": property "a" must be a string/);
  await rejectsWith(bad({ logLevel: 'loud' }), 'InvalidConfiguration', /"logLevel" must be one of warn, error, info, debug, off/);
  // Negative values where the option gives them a meaning.
  const c = await pp.Client.create({ serviceUrl: URL, memoryLimitBytes: -1, logLevel: 'off', connectionTimeout: 100n });
  await rejectsWith(c.createProducer({ topic: 't', sendTimeout: -5, memoryLimitBytes: 5 }), 'InvalidConfiguration',
    /option "memoryLimitBytes" is a client option: give it to Client.create, not createProducer/);
  await rejectsWith(c.createProducer({ topic: 't', batchingMaxMessages: -1 }), 'InvalidConfiguration', /batchingMaxMessages/);
  await rejectsWith(c.createProducer({ topic: 't', signal: 'stop' }), 'InvalidArgument', /signal must be an AbortSignal/);
  await rejectsWith(c.createProducer({ topic: '' }), 'InvalidTopicName', /topic is required/);
  await rejectsWith(c.createProducer(), 'InvalidConfiguration', /options object/);
  await c.close();
  await rejectsWith(c.createProducer({ topic: 't' }), 'AlreadyClosed');
  await rejectsWith(pp.Client.create({ serviceUrl: URL, batchingMaxMessages: 5 }), 'InvalidConfiguration',
    /option "batchingMaxMessages" is a producer option: give it to createProducer, not Client.create/);
  for (const [o, re] of [[{ topic: 't' }, /serviceUrl is required/], [{ serviceUrl: URL }, /topic is required/]]) {
    await rejectsWith(pp.Producer.create(o), re.source.startsWith('topic') ? 'InvalidTopicName' : 'InvalidUrl', re);
  }
  await rejectsWith(pp.Producer.create('pulsar://x'), 'InvalidConfiguration', /options object/);
  await rejectsWith(pp.Producer.create({ serviceUrl: 'http//nowhere', topic: 't' }), 'InvalidUrl');
  assert.throws(() => new pp.Client(), TypeError);
  assert.throws(() => new pp.Producer(), TypeError);
});

test('schema, router, interceptors and auth are checked before anything connects', async () => {
  const bad = (o) => pp.Producer.create({ serviceUrl: URL, topic: 't', ...o });
  await rejectsWith(bad({ schema: 'STRINGS' }), 'InvalidConfiguration', /schema: unknown schema type "STRINGS"/);
  await rejectsWith(bad({ schema: { type: 'JSON' } }), 'InvalidConfiguration', /a JSON schema needs a definition/);
  await rejectsWith(bad({ schema: { type: 'AVRO', definition: '{"type": "record"' } }), 'InvalidConfiguration', /definition is not valid JSON/);
  await rejectsWith(bad({ schema: { type: 'AVRO', definition: { type: 'record', big: 1n } } }), 'InvalidConfiguration',
    /option "schema": the definition cannot be written as JSON: Do not know how to serialize a BigInt/);
  await rejectsWith(bad({ schema: { type: 'KEY_VALUE', key: 'STRING' } }), 'InvalidConfiguration', /KEY_VALUE/);
  await rejectsWith(bad({ schema: { type: 'KEY_VALUE', key: 'STRING', value: { type: 'JSON', definition: { a: 1n } } } }),
    'InvalidConfiguration', /option "schema".value: the definition cannot be written as JSON/);
  await rejectsWith(bad({ schema: { type: 'STRING', nmae: 'x' } }), 'InvalidConfiguration', /unknown member "nmae"/);
  await rejectsWith(bad({ schema: 5 }), 'InvalidConfiguration', /schema must be a schema type name or an object/);
  await rejectsWith(bad({ router: 3 }), 'InvalidConfiguration', /option "router" must be a function/);
  await rejectsWith(bad({ interceptors: {} }), 'InvalidConfiguration', /option "interceptors" must be an array/);
  await rejectsWith(bad({ interceptors: [{}] }), 'InvalidConfiguration', /interceptors\[0\] has neither beforeSend nor onAck/);
  await rejectsWith(bad({ interceptors: [{ onAck() {} }, { beforeSend: 'x' }] }), 'InvalidConfiguration',
    /interceptors\[1\].beforeSend must be a function/);
  await rejectsWith(bad({ auth: 5 }), 'InvalidConfiguration', /option "auth" must be a token string or a function/);
  await rejectsWith(bad({ auth: ' ' }), 'InvalidConfiguration', /option "auth" is an empty token/);
  await rejectsWith(bad({ auth: 'x', authToken: 'y' }), 'InvalidConfiguration', /set only one way to authenticate, not auth and authToken/);
  await rejectsWith(pp.Client.create({ serviceUrl: URL, auth: () => 'x', authTokenFile: '/t' }), 'InvalidConfiguration',
    /not auth and authTokenFile/);
  const c = await pp.Client.create({ serviceUrl: URL });
  await rejectsWith(c.createProducer({ topic: 't', auth: 'x' }), 'InvalidConfiguration', /option "auth" is a client option: give it to Client.create, not createProducer/);
  await rejectsWith(pp.Client.create({ serviceUrl: URL, router: () => 0 }), 'InvalidConfiguration',
    /option "router" is a producer option: give it to createProducer, not Client.create/);
  await c.close();
});

test('values for schemas whose bytes the caller encodes go to the library as base64 text', () => {
  const { valueJson, schemaShape } = require('../lib/schema');
  for (const type of ['BYTES', 'AVRO', 'PROTOBUF', 'protobuf_native']) {
    assert.equal(valueJson(schemaShape(type), Buffer.from([0, 255])), '"AP8="', type);
    assert.equal(valueJson(schemaShape({ type }), new Uint8Array([1, 2, 3]).buffer), '"AQID"', type);
    assert.throws(() => valueJson(schemaShape(type), 'text'), (e) => e.name === 'InvalidMessage' && /must be bytes/.test(e.message), type);
  }
  assert.equal(valueJson(null, new Uint16Array([0x0201])), '"AQI="', 'no schema: BYTES');
});

test('a NUL inside the service URL or the topic is refused, not cut short', async () => {
  await rejectsWith(pp.Client.create({ serviceUrl: 'pulsar://127.0.0.1:6650\0/evil' }), 'InvalidUrl', /NUL character at byte 23/);
  await rejectsWith(pp.Producer.create({ serviceUrl: 'pulsar://127.0.0.1:6650\0', topic: 't' }), 'InvalidUrl', /NUL/);
  const c = await pp.Client.create({ serviceUrl: URL });
  await rejectsWith(c.createProducer({ topic: 'good\0bad' }), 'InvalidTopicName', /NUL character at byte 4/);
  await rejectsWith(pp.Producer.create({ serviceUrl: URL, topic: 'a\0' }), 'InvalidTopicName', /NUL/);
  await c.close();
});

test('an aborted signal refuses creation at once', async () => {
  const c = await pp.Client.create({ serviceUrl: URL });
  const ac = new AbortController();
  ac.abort(new Error('why'));
  await assert.rejects(c.createProducer({ topic: 't', signal: ac.signal }), (e) => {
    assert.ok(e instanceof pp.AbortError);
    assert.equal(e.name, 'AbortError');
    assert.equal(e.code, 'ABORT_ERR');
    assert.equal(e.cause.message, 'why');
    return true;
  });
  await assert.rejects(pp.Producer.create({ serviceUrl: URL, topic: 't', signal: ac.signal }), pp.AbortError);
  await c.close();
});

test('the package polls on no timer', () => {
  const src = Object.fromEntries(libSources());
  const shared = Object.entries(src).filter(([f]) => !f.startsWith('wasi')).map(([, s]) => s).join('\n');
  assert.doesNotMatch(shared, /setInterval|setImmediate|\bsleep\b/);
  // The one timer is the deadline of a flush or close wait.
  assert.equal(shared.match(/setTimeout\(/g).length, 1);
  // The WASI host's timers are deadlines too: the module's next timer, a connect's limit, a creation or close wait.
  // Its one interval never fires (2^30 ms): a handle that holds the event loop while messages are in flight.
  const wasi = Object.entries(src).filter(([f]) => f.startsWith('wasi')).map(([, s]) => s).join('\n');
  assert.equal(wasi.match(/setTimeout\(/g).length, 3);
  assert.deepEqual(wasi.match(/setInterval\([^;]*/g), ['setInterval(() => {}, 2 ** 30)']);
  assert.deepEqual(wasi.match(/setImmediate\([^;]*/g), ['setImmediate(fire)']); // completions are handed to the client a turn later
  assert.doesNotMatch(wasi, /\bsleep\b/);
});

test('ESM import by package name', async () => {
  const r = await runChild('', { args: [path.join(__dirname, 'fixtures', 'esm.mjs')] });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), {
    producer: 'function', client: 'function', id: '1:2:-1:3', same: true, error: true, timeout: pp.Result.Timeout, version: pp.version,
  });
});

// Asks for the native backend in a child: prints its error and exits 1 if it cannot be had.
const NATIVE_CHILD = "require('.').Client.create({ serviceUrl: 'pulsar://127.0.0.1:1', backend: 'native' })" +
  '.then(() => process.exit(0), (e) => { console.error(e.message); process.exit(1); })';

test('a missing library is a clear error for the native backend; by default the package runs on WASI then', async () => {
  const env = { PULSAR_PRODUCER_LIB: '/nonexistent/libpulsar_producer.so', PULSAR_PRODUCER_BACKEND: '' };
  const r = await runChild(NATIVE_CHILD, { env });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /cannot find libpulsar_producer\.so/);
  assert.match(r.stderr, /\/nonexistent\/libpulsar_producer\.so \(PULSAR_PRODUCER_LIB\)/);
  const auto = await runChild("const pp = require('.'); pp.Client.create({ serviceUrl: 'pulsar://127.0.0.1:1' })" +
    '.then((c) => { console.log(pp.defaultBackend(), c.backend, pp.libraryPath); return c.close(); })', { env });
  assert.equal(auto.code, 0, auto.stderr);
  assert.equal(auto.stdout.trim(), 'wasi wasi null');
  assert.equal(auto.stderr, '', 'no warning is printed');
});

test('the backend option and PULSAR_PRODUCER_BACKEND choose the backend; other names are refused', async () => {
  for (const b of ['native', 'wasi']) {
    const c = await pp.Client.create({ serviceUrl: URL, backend: b });
    assert.equal(c.backend, b);
    await c.close();
  }
  await rejectsWith(pp.Client.create({ serviceUrl: URL, backend: 'wasm' }), 'InvalidConfiguration',
    /option "backend" must be one of native, wasi \(or auto\), got "wasm"/);
  await rejectsWith(pp.Producer.create({ serviceUrl: URL, topic: 't', backend: 7 }), 'InvalidConfiguration', /option "backend" must be one of/);
  for (const b of ['native', 'wasi']) {
    const r = await runChild("const pp = require('.'); pp.Client.create({ serviceUrl: 'pulsar://127.0.0.1:1' })" +
      '.then((c) => { console.log(c.backend); return c.close(); })', { env: { PULSAR_PRODUCER_BACKEND: b } });
    assert.equal(r.stdout.trim(), b, r.stderr);
  }
  const bad = await runChild(NATIVE_CHILD.replace(", backend: 'native'", ''), { env: { PULSAR_PRODUCER_BACKEND: 'fast' } });
  assert.match(bad.stderr, /PULSAR_PRODUCER_BACKEND must be one of native, wasi \(or auto\), got "fast"/);
});

test('a missing or corrupt WebAssembly module is a clear error at create time', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pp-wasm-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const cases = [
    ['/nonexistent/pulsar_producer.wasm', /cannot find pulsar_producer\.wasm; looked in:\n {2}\/nonexistent\/pulsar_producer\.wasm \(PULSAR_PRODUCER_WASM\)/],
    [path.join(dir, 'garbage.wasm'), /garbage\.wasm \(PULSAR_PRODUCER_WASM\) is not a valid WebAssembly module/],
    [path.join(dir, 'other.wasm'), /other\.wasm \(PULSAR_PRODUCER_WASM\) is not pulsar_producer\.wasm: it lacks the exports _initialize/],
  ];
  fs.writeFileSync(cases[1][0], 'not a module at all');
  fs.writeFileSync(cases[2][0], Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0])); // an empty, valid module
  for (const [file, re] of cases) {
    const r = await runChild(NATIVE_CHILD.replace("'native'", "'wasi'"), { env: { PULSAR_PRODUCER_WASM: file } });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, re);
  }
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
  const r = await runChild(NATIVE_CHILD, { env: { PULSAR_PRODUCER_LIB: so } });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, new RegExp(`${so.replace(/[.]/g, '\\.')} is version 0\\.2\\.7, but this package ` +
    `\\(pulsar-producer ${pp.version.replace(/[.]/g, '\\.')}\\) needs version 1\\.x`));
});

test('the package loads the library found next to it, else the repository build', () => {
  const prebuilt = path.join(PACKAGE_DIR, 'prebuilds', `${process.platform}-${process.arch}`, 'libpulsar_producer.so');
  const repoBuild = path.resolve(PACKAGE_DIR, '..', '..', 'build', 'lib', 'libpulsar_producer.so');
  if (process.env.PULSAR_PRODUCER_LIB) assert.equal(pp.libraryPath, path.resolve(process.env.PULSAR_PRODUCER_LIB));
  else assert.equal(pp.libraryPath, fs.existsSync(prebuilt) ? prebuilt : repoBuild);
});
