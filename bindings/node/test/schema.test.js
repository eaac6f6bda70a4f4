'use strict';
// schema.test.js: the schema option and values against the real broker.
// Every schema type's values are read back byte for byte by the official Go
// client (tests/cmd/ppconsume) and compared with the Java client's formats
// written out here; the registry (admin REST API) holds the schema each
// producer registered; STRING and JSON values are decoded by the official
// Python client's StringSchema and JsonSchema. Bad values are refused with
// InvalidMessage naming the problem, and nothing of them is sent.
const { test, before } = require('node:test');
const assert = require('node:assert/strict');
const pp = require('..');
const {
  SERVICE_URL, uniqueTopic, consume, requireBroker, rejectsWith, registeredSchema, pythonMissing, pyConsume,
} = require('./helpers');

const T = { timeout: 180000 };

before(requireBroker);

const USER = { type: 'record', name: 'User', fields: [{ name: 'age', type: ['null', 'int'] }, { name: 'name', type: ['null', 'string'] }] };

function be(bits, v) {
  const b = Buffer.alloc(bits / 8);
  if (bits === 8) b.writeInt8(v);
  else if (bits === 16) b.writeInt16BE(v);
  else if (bits === 32) b.writeInt32BE(v);
  else b.writeBigInt64BE(BigInt(v));
  return b;
}
const float = (v) => { const b = Buffer.alloc(4); b.writeFloatBE(v); return b; };
const double = (v) => { const b = Buffer.alloc(8); b.writeDoubleBE(v); return b; };
const cat = (...parts) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
const u32 = (n) => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };
const DAY = 86400000;
const eventDate = new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678));
const nanosOfDay = (h, m, s, ns) => BigInt((h * 3600 + m * 60 + s)) * 1000000000n + BigInt(ns);

// [schema, registered type, [value, the bytes the Java client writes, the message key (SEPARATED)]...]
const CASES = [
  ['STRING', 'STRING', [['grüße, 東京', Buffer.from('grüße, 東京')], ['', Buffer.alloc(0)]]],
  ['boolean', 'BOOLEAN', [[true, Buffer.from([1])], [false, Buffer.from([0])]]],
  ['INT8', 'INT8', [[-5, be(8, -5)], [127n, be(8, 127)]]],
  ['INT16', 'INT16', [[300, be(16, 300)], [-32768, be(16, -32768)]]],
  ['INT32', 'INT32', [[-2, be(32, -2)], [2 ** 31 - 1, be(32, 2 ** 31 - 1)]]],
  ['INT64', 'INT64', [[2n ** 62n + 1n, be(64, 2n ** 62n + 1n)], [Number.MIN_SAFE_INTEGER, be(64, Number.MIN_SAFE_INTEGER)]]],
  ['FLOAT', 'FLOAT', [[1.5, float(1.5)], [-0.25, float(-0.25)]]],
  ['DOUBLE', 'DOUBLE', [[0.1, double(0.1)], [12345678901234567890n, double(12345678901234567890)]]],
  ['DATE', 'DATE', [[eventDate, be(64, eventDate.getTime())], [86400000, be(64, DAY)]]],
  ['TIME', 'TIME', [['1970-01-01T13:45:30.5Z', be(64, (13 * 3600 + 45 * 60 + 30) * 1000 + 500)]]],
  ['TIMESTAMP', 'TIMESTAMP', [[1700000000123n, be(64, 1700000000123)], [eventDate, be(64, eventDate.getTime())]]],
  ['INSTANT', 'INSTANT', [
    [eventDate, cat(be(64, Math.floor(eventDate.getTime() / 1000)), u32(678000000))],
    ['2024-01-02T03:04:05.123456789Z', cat(be(64, Date.UTC(2024, 0, 2, 3, 4, 5) / 1000), u32(123456789))],
  ]],
  ['LOCAL_DATE', 'LOCAL_DATE', [['2024-01-31', be(64, Date.UTC(2024, 0, 31) / DAY)]]],
  ['LOCAL_TIME', 'LOCAL_TIME', [['13:45:30.5', be(64, nanosOfDay(13, 45, 30, 500000000))]]],
  ['LOCAL_DATE_TIME', 'LOCAL_DATE_TIME', [['2024-01-31T13:45:30.25', cat(be(64, Date.UTC(2024, 0, 31) / DAY), be(64, nanosOfDay(13, 45, 30, 250000000)))]]],
  ['BYTES', null, [[Buffer.from([0, 1, 255]), Buffer.from([0, 1, 255])], [new Uint16Array([0x0201]), Buffer.from([1, 2])],
    [new Uint8Array([7, 8, 9]).buffer, Buffer.from([7, 8, 9])]]],
  [{ type: 'AVRO', definition: JSON.stringify(USER) }, 'AVRO', [[Buffer.from([2, 6, 97, 110, 110]), Buffer.from([2, 6, 97, 110, 110])]]],
  [{ type: 'JSON', definition: USER, name: 'users', properties: { owner: 'node' } }, 'JSON', [
    [{ name: 'ann', age: 3 }, Buffer.from('{"name":"ann","age":3}')],
    [{ name: 'bö', age: null }, Buffer.from('{"name":"bö","age":null}')],
  ]],
  [{ type: 'KEY_VALUE', key: 'STRING', value: 'INT32' }, 'KEY_VALUE', [[{ key: 'k1', value: 7 }, cat(u32(2), 'k1', u32(4), be(32, 7))]]],
  [{ type: 'KEY_VALUE', key: 'INT64', value: { type: 'JSON', definition: USER }, keyValueEncoding: 'SEPARATED' }, 'KEY_VALUE', [
    [{ key: 42n, value: { name: 'kv' } }, Buffer.from('{"name":"kv"}'), be(64, 42).toString('base64')],
  ]],
];

test('every schema type: values in the Java client\'s byte formats, read back by the Go client; schemas in the registry', T, async () => {
  const client = await pp.Client.create({ serviceUrl: SERVICE_URL });
  const runs = await Promise.all(CASES.map(async ([schema, type, values], i) => {
    const topic = uniqueTopic(`schema-${i}`);
    const p = await client.createProducer({ topic, schema });
    const ids = await Promise.all(values.map(([value]) => p.send({ value, properties: { i: String(i) } })));
    return { topic, ids };
  }));
  await client.close();
  for (const [i, [schema, type, values]] of CASES.entries()) {
    const { topic, ids } = runs[i];
    const what = `${JSON.stringify(schema)}`;
    const got = await consume(topic, values.length);
    got.forEach((m, j) => {
      assert.deepEqual(m.payload, values[j][1], `${what} value ${j}: ${m.payload.toString('hex')}`);
      assert.equal(m.key, values[j][2] || '', `${what} value ${j}: message key`);
      assert.equal(m.entryId, ids[j].entryId, `${what} value ${j}: ID`);
    });
    const registered = await registeredSchema(topic);
    if (type === null) {
      assert.equal(registered, null, `${what}: a BYTES producer registers no schema`);
      continue;
    }
    assert.equal(registered.type, type, what);
    if (typeof schema === 'object' && schema.type !== 'KEY_VALUE') assert.deepEqual(JSON.parse(registered.data), USER, `${what}: definition`);
    if (typeof schema === 'object' && schema.type === 'JSON') {
      assert.deepEqual(JSON.parse(registered.data), USER, 'the definition object was registered as its JSON text');
      assert.deepEqual(registered.properties, { owner: 'node' });
    }
  }
});

test('STRING and JSON values decoded by the official Python client\'s StringSchema and JsonSchema', T, async (t) => {
  const missing = pythonMissing();
  if (missing) {
    t.skip(missing);
    return;
  }
  const strings = uniqueTopic('pystring');
  const json = uniqueTopic('pyjson');
  const s = await pp.Producer.create({ serviceUrl: SERVICE_URL, topic: strings, schema: 'string' });
  const j = await pp.Producer.create({ serviceUrl: SERVICE_URL, topic: json, schema: { type: 'JSON', definition: USER } });
  const sentStrings = ['héllo', '', 'third: 🎉'];
  const users = [{ name: 'ann', age: 31 }, { name: 'bob', age: null }, { name: null, age: 0 }];
  const sIds = await Promise.all(sentStrings.map((value, i) => s.send({ value, key: `s${i}` })));
  const jIds = await Promise.all(users.map((value) => j.send({ value })));
  await Promise.all([s.close(), j.close()]);
  const gotStrings = await pyConsume(strings, sentStrings.length, { schema: 'string' });
  assert.deepEqual(gotStrings.map((m) => m.value), sentStrings);
  assert.deepEqual(gotStrings.map((m) => m.key), ['s0', 's1', 's2']);
  gotStrings.forEach((m, i) => assert.ok(pp.MessageId.deserialize(m.serializedId).entryId === sIds[i].entryId));
  const gotUsers = await pyConsume(json, users.length, { schema: 'json' });
  assert.deepEqual(gotUsers.map((m) => m.value), users);
  gotUsers.forEach((m, i) => assert.equal(m.ledgerId, jIds[i].ledgerId));
});

test('bad values are refused with InvalidMessage naming the problem, and nothing of them is sent', T, async () => {
  const client = await pp.Client.create({ serviceUrl: SERVICE_URL });
  const topics = {};
  const make = async (name, schema) => {
    topics[name] = uniqueTopic(`badvalue-${name}`);
    return client.createProducer({ topic: topics[name], schema });
  };
  const json = await make('json', { type: 'JSON', definition: USER });
  const cycle = { name: 'loop' };
  cycle.self = cycle;
  const sends = [];
  const refused = (p, msg, name, re) => sends.push(rejectsWith(p.send(msg), name, re));
  refused(json, { value: cycle }, 'InvalidMessage', /^the value cannot be written as JSON: Converting circular structure/);
  refused(json, { value: { age: 1n } }, 'InvalidMessage', /^the value cannot be written as JSON: Do not know how to serialize a BigInt/);
  refused(json, { value: () => 1 }, 'InvalidMessage', /JSON.stringify gives nothing for a function/);
  refused(json, { value: undefined }, 'InvalidMessage', /^the value is missing \(undefined\)/);
  const int8 = await make('int8', 'INT8');
  refused(int8, { value: 128 }, 'InvalidMessage', /128 is out of the range of INT8/);
  refused(int8, { value: -129n }, 'InvalidMessage', /-129 is out of the range of INT8/);
  refused(int8, { value: '5' }, 'InvalidMessage', /^the value must be a number or a bigint for the INT8 schema, got a string/);
  refused(int8, { value: 1.5 }, 'InvalidMessage', /must be an integer for INT8, got 1.5/);
  refused(int8, { value: NaN }, 'InvalidMessage', /not a finite number/);
  const int64 = await make('int64', 'INT64');
  refused(int64, { value: 2 ** 60 }, 'InvalidMessage', /beyond the exact integers of a number: pass a bigint/);
  refused(int64, { value: 2n ** 63n }, 'InvalidMessage', /not an integer that fits INT64/);
  const dbl = await make('double', 'DOUBLE');
  refused(dbl, { value: Infinity }, 'InvalidMessage', /only finite numbers/);
  const float32 = await make('float', 'FLOAT');
  refused(float32, { value: 1e39 }, 'InvalidMessage', /out of the range of FLOAT/);
  const str = await make('string', 'STRING');
  refused(str, { value: Buffer.from('x') }, 'InvalidMessage', /must be a string for the STRING schema, got Buffer/);
  const bool = await make('boolean', 'BOOLEAN');
  refused(bool, { value: 1 }, 'InvalidMessage', /must be a boolean/);
  const ts = await make('timestamp', 'TIMESTAMP');
  refused(ts, { value: new Date(NaN) }, 'InvalidMessage', /is an invalid Date/);
  refused(ts, { value: 'yesterday' }, 'InvalidMessage', /"yesterday" is not a time of the form/);
  const day = await make('localdate', 'LOCAL_DATE');
  refused(day, { value: new Date() }, 'InvalidMessage', /a string such as '2024-01-31' \(a local time has no zone, so no Date\)/);
  refused(day, { value: '31/01/2024' }, 'InvalidMessage', /is not a time of the form 2006-01-02/);
  const bytes = await make('bytes', 'BYTES');
  refused(bytes, { value: 'text' }, 'InvalidMessage', /must be bytes/);
  const kv = await make('kv', { type: 'KEY_VALUE', key: 'STRING', value: 'INT32' });
  refused(kv, { value: { key: 'k' } }, 'InvalidMessage', /needs both its key and its value: value is missing/);
  refused(kv, { value: { value: 1 } }, 'InvalidMessage', /needs both its key and its value: key is missing/);
  refused(kv, { value: { key: null, value: null } }, 'InvalidMessage', /key and value are missing/);
  refused(kv, { value: 'k=1' }, 'InvalidMessage', /a KEY_VALUE value must be an object \{ key, value \}, got a string/);
  refused(kv, { value: { key: 'k', value: 1, extra: 2 } }, 'InvalidMessage', /only "key" and "value", not "extra"/);
  refused(kv, { value: { key: 5, value: 1 } }, 'InvalidMessage', /^the key must be a string for the STRING schema, got a number/);
  refused(kv, { value: { key: 'k', value: 2 ** 31 } }, 'InvalidMessage', /2147483648 is out of the range of INT32/);
  refused(str, { data: 'x', value: 'y' }, 'InvalidArgument', /either data or a value, not both/);
  refused(str, {}, 'InvalidArgument', /a message has data \(bytes, a string or null\) or a value/);
  refused(str, { value: 'x', colour: 'red' }, 'InvalidArgument', /unknown send option "colour"/);
  sends.push(rejectsWith(str.send({ value: 'x' }, { key: 'k' }), 'InvalidArgument', /takes no options argument/));
  // Good values around the bad ones go through, each once.
  const good = await Promise.all([json.send({ value: { name: 'ok', age: 1 } }), int8.send({ value: -128 }), kv.send({ value: { key: 'k', value: 2 } }),
    str.send({ value: 'fine' }), str.send({ data: 'raw bytes' })]);
  await Promise.all(sends);
  await client.close();
  assert.equal(good.length, 5);
  for (const [name, n] of [['json', 1], ['int8', 1], ['kv', 1], ['string', 2], ['double', 0], ['bytes', 0], ['localdate', 0]]) {
    const got = await consume(topics[name], n + 1, { timeoutMs: n === 0 ? 1500 : 3000 }).catch((e) => e);
    assert.ok(got instanceof Error && new RegExp(`got ${n} of ${n + 1} messages`).test(got.message), `${name}: ${got.message || got.length}`);
  }
});
