'use strict';
// producer.test.js: publishing to the real broker (tests/broker/broker.sh
// start; pulsar://127.0.0.1:6650), read back by independent clients: the
// official Go client (tests/cmd/ppconsume) and the official Java client
// (tests/javacheck, which shows every field). Payload kinds, every message
// field, order and message IDs (also partitioned), flush and close, queue
// limits, bad input with its error, clients with many producers, cancelled
// creation, logs, stats and deduplication.
const { test, before } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const pp = require('..');
const {
  SERVICE_URL, uniqueTopic, createPartitionedTopic, enableDeduplication, consume, javaConsume, assertSameId, requireBroker,
  rejectsWith,
} = require('./helpers');

const T = { timeout: 120000 };

before(requireBroker);

function create(topic, options = {}) {
  return pp.Producer.create({ serviceUrl: SERVICE_URL, topic, ...options });
}

test('payload kinds arrive byte for byte', T, async () => {
  const topic = uniqueTopic('payloads');
  const p = await create(topic);
  assert.equal(p.partitions, 0);
  assert.ok(typeof p.name === 'string' && p.name !== '', `name ${p.name}`);
  const backing = Buffer.from('..slice-of-a-larger-buffer..');
  const kinds = [
    [Buffer.from('a buffer'), Buffer.from('a buffer')],
    [new Uint8Array([0, 1, 2, 255]), Buffer.from([0, 1, 2, 255])],
    [backing.subarray(2, 26), Buffer.from('slice-of-a-larger-buffer')],
    [new Uint8Array(backing.buffer, backing.byteOffset + 2, 5), Buffer.from('slice')],
    ['text: grüße, 東京, 🎉', Buffer.from('text: grüße, 東京, 🎉', 'utf8')],
    [new Uint16Array([0x0201, 0x0403]), Buffer.from([1, 2, 3, 4])],
    [new ArrayBuffer(3), Buffer.alloc(3)],
    [Buffer.alloc(3 * 1024 * 1024, 7), Buffer.alloc(3 * 1024 * 1024, 7)],
    ['x'.repeat(200 * 1024), Buffer.from('x'.repeat(200 * 1024))],
    ['tail', Buffer.from('tail')],
  ];
  const ids = await Promise.all(kinds.map(([data]) => p.send(data)));
  await p.close();
  const got = await consume(topic, kinds.length);
  got.forEach((m, i) => {
    assert.ok(m.payload.equals(kinds[i][1]), `payload ${i}: got ${m.payload.length} bytes`);
    assert.equal(m.producerName, p.name);
    assertSameId(ids[i], m, `message ${i}`);
  });
});

test('every message field, order and IDs read back by the Go and the Java client', T, async () => {
  const topic = uniqueTopic('fields');
  const producerName = `node-fields-${process.pid}-${Date.now()}`;
  const p = await create(topic, { producerName, batchingMaxPublishDelay: 20 });
  const eventTime = new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678));
  const deliverAt = Date.now() + 2000;
  const sent = [
    ['plain', undefined],
    ['keyed', { key: 'user-42', properties: { a: '1', 'ü-key': 'välue', empty: '' } }],
    ['empty key', { key: '' }],
    ['nul in key', { key: 'a\0b' }],
    ['ordering', { orderingKey: Buffer.from([0, 1, 2, 250]), eventTime }],
    ['ordering-str', { orderingKey: 'ok', eventTime: 1700000000123, key: 'k2' }],
    ['seq', { sequenceId: 2n ** 62n + 1n }],
    ['replicated', { replicationClusters: ['standalone'] }],
    ['local', { disableReplication: true }],
    [null, { key: 'deleted', properties: { why: 'tombstone' } }],
    ['undefined options are ignored', { key: undefined, properties: undefined }],
    ['after', { deliverAfter: 2000 }],
    ['at', { deliverAt: new Date(deliverAt) }],
    [Buffer.from('last'), {}],
  ];
  const ids = await Promise.all(sent.map(([data, o]) => p.send(data, o)));
  const start = Date.now();
  await p.close();
  const payload = (d) => (d === null ? '' : String(d));
  // Go (an exclusive subscription, which ignores delivery times): order and IDs.
  const go = await consume(topic, sent.length);
  assert.deepEqual(go.map((m) => m.payload.toString()), sent.map(([d]) => payload(d)));
  go.forEach((m, i) => {
    assertSameId(ids[i], m, `message ${i}`);
    assert.equal(m.producerName, producerName);
  });
  assert.deepEqual(go[1].properties, { a: '1', 'ü-key': 'välue', empty: '' });
  assert.equal(go[1].key, 'user-42');
  assert.deepEqual(go[4].orderingKey, Buffer.from([0, 1, 2, 250]));
  assert.equal(go[4].eventTime, eventTime.getTime());
  assert.equal(go[5].orderingKey.toString(), 'ok');
  assert.equal(go[5].eventTime, 1700000000123);
  // Java (Shared, so delivery times apply): every field.
  const java = new Map((await javaConsume(topic, sent.length, { type: 'shared' })).map((m) => [m.payload.toString() || 'null', m]));
  const j = (i) => java.get(sent[i][0] === null ? 'null' : payload(sent[i][0]));
  sent.forEach((s, i) => {
    const m = j(i);
    assert.ok(m, `message ${i} read by Java`);
    for (const f of ['ledgerId', 'entryId', 'partition', 'batchIndex', 'batchSize']) assert.equal(m[f], ids[i][f], `message ${i}: ${f}`);
    assert.equal(m.producerName, producerName);
    assert.equal(m.nullValue, s[0] === null, `message ${i}: null value`);
    const key = s[1] && s[1].key;
    assert.equal(m.hasKey, key !== undefined, `message ${i}: hasKey`);
    if (key !== undefined) assert.equal(m.key, key, `message ${i}: key`);
  });
  assert.deepEqual(j(1).properties, { a: '1', 'ü-key': 'välue', empty: '' });
  assert.deepEqual(j(0).properties, {});
  assert.deepEqual(j(4).orderingKey, Buffer.from([0, 1, 2, 250]));
  assert.equal(j(4).eventTime, eventTime.getTime());
  assert.equal(j(0).hasOrderingKey, false);
  assert.equal(j(0).eventTime, 0);
  assert.equal(j(6).sequenceId, 2n ** 62n + 1n);
  assert.equal(j(0).sequenceId, 0n);
  assert.deepEqual(j(7).replicateTo, ['standalone']);
  assert.deepEqual(j(8).replicateTo, ['__local__']);
  assert.deepEqual(j(0).replicateTo, []);
  assert.deepEqual(j(9).properties, { why: 'tombstone' });
  assert.equal(j(9).payloadLength, 0);
  assert.equal(j(0).deliverAtTime, null);
  assert.ok(j(11).deliverAtTime >= start + 1900 && j(11).deliverAtTime <= start + 2500, `deliverAfter: ${j(11).deliverAtTime - start}`);
  assert.equal(j(12).deliverAtTime, deliverAt);
  for (const i of [11, 12]) assert.ok(j(i).receivedAtMillis >= j(i).deliverAtTime - 50, `message ${i} came before its time`);
});

test('many messages keep their order and batch positions', T, async () => {
  const topic = uniqueTopic('order');
  const n = 5000;
  const p = await create(topic, { batchingMaxMessages: 100, batchingMaxPublishDelay: 20 });
  const ids = [];
  for (let i = 0; i < n; i += 1000) {
    const chunk = [];
    for (let j = i; j < i + 1000; j++) {
      chunk.push(j % 3 === 0 ? p.send(`m-${j}`, { properties: { i: String(j) } }) : p.send(Buffer.from(`m-${j}`)));
    }
    ids.push(...(await Promise.all(chunk)));
  }
  await p.close();
  assert.ok(ids.some((id) => id.batchSize === 100), 'full batches were formed');
  for (let i = 1; i < n; i++) {
    const a = ids[i - 1];
    const b = ids[i];
    assert.ok(b.ledgerId > a.ledgerId || (b.ledgerId === a.ledgerId && (b.entryId > a.entryId ||
      (b.entryId === a.entryId && b.batchIndex === a.batchIndex + 1))), `ids in order at ${i}: ${a} then ${b}`);
  }
  const got = await consume(topic, n);
  got.forEach((m, i) => {
    assert.equal(m.payload.toString(), `m-${i}`);
    assert.deepEqual(m.properties, i % 3 === 0 ? { i: String(i) } : {});
    assertSameId(ids[i], m, `message ${i}`);
  });
});

test('flush resolves after every earlier send settled; close waits, is idempotent, refuses later sends', T, async () => {
  const topic = uniqueTopic('flush');
  // A long publish delay: without flush the batch would wait 10 s.
  const p = await create(topic, { batchingMaxPublishDelay: 10000, batchingMaxMessages: 100000 });
  let settled = 0;
  const sends = [];
  for (let i = 0; i < 50; i++) sends.push(p.send(`f-${i}`).then((id) => { settled++; return id; }));
  const start = Date.now();
  await p.flush();
  assert.equal(settled, 50);
  assert.ok(Date.now() - start < 5000, `flush took ${Date.now() - start} ms`);
  assert.equal(p.pendingCount, 0);
  await p.flush(); // nothing pending
  const ids = await Promise.all(sends);
  assert.equal(new Set(ids.map((id) => `${id.ledgerId}:${id.entryId}`)).size, 1, 'one batch');
  for (let i = 0; i < 1000; i++) sends.push(p.send(`c-${i}`));
  const closing = p.close();
  assert.equal(p.closed, true);
  assert.equal(p.close(), closing, 'close() returns the same promise');
  await closing;
  assert.equal((await Promise.all(sends)).length, 1050);
  assert.equal(p.pendingCount, 0);
  await rejectsWith(p.send('late'), 'AlreadyClosed', /producer for .* is closed/);
  await rejectsWith(p.flush(), 'AlreadyClosed', /closed/);
  await rejectsWith(p.flush({ timeoutMs: -1 }), 'InvalidArgument', /timeoutMs/);
  const got = await consume(topic, 1050);
  assert.equal(got[1049].payload.toString(), 'c-999');
});

test('bad sends are refused with Node names: types, NaN, Infinity, unsafe and 64-bit overflow', T, async () => {
  const p = await create(uniqueTopic('badsend'));
  await rejectsWith(p.send(42), 'InvalidArgument', /payload must be a Buffer, Uint8Array, string or null, got a number/);
  await rejectsWith(p.send(undefined), 'InvalidArgument', /got undefined/);
  await rejectsWith(p.send('x', 'key'), 'InvalidArgument', /send options must be an object/);
  await rejectsWith(p.send('x', { colour: 'red' }), 'InvalidArgument', /unknown send option "colour"/);
  await rejectsWith(p.send('x', { key: 5 }), 'InvalidArgument', /key must be a string/);
  await rejectsWith(p.send('x', { properties: { a: 1 } }), 'InvalidArgument', /property "a" must be a string/);
  await rejectsWith(p.send('x', { eventTime: 'yesterday' }), 'InvalidArgument', /eventTime must be a Date, a number or a bigint/);
  await rejectsWith(p.send('x', { replicationClusters: ['a\0b'] }), 'InvalidArgument', /replicationClusters\[0\] must not contain a NUL/);
  await rejectsWith(p.send('x', { orderingKey: 7 }), 'InvalidArgument', /orderingKey must be a string or bytes/);
  // Values: every int64 field, with its Node name (never sequence_id, deliver_after_ms, ...).
  for (const f of ['sequenceId', 'eventTime', 'deliverAt', 'deliverAfter']) {
    await rejectsWith(p.send('x', { [f]: 2n ** 64n }), 'InvalidMessage', new RegExp(`^${f} is out of range: 18446744073709551616`));
    await rejectsWith(p.send('x', { [f]: 2n ** 63n }), 'InvalidMessage', new RegExp(`^${f} is out of range`));
    await rejectsWith(p.send('x', { [f]: -1 }), 'InvalidMessage', new RegExp(`^${f} is out of range: -1 \\(from 0 to`));
    await rejectsWith(p.send('x', { [f]: -5n }), 'InvalidMessage', new RegExp(`^${f} is out of range`));
    await rejectsWith(p.send('x', { [f]: NaN }), 'InvalidMessage', new RegExp(`^${f} is not a finite number`));
    await rejectsWith(p.send('x', { [f]: -Infinity }), 'InvalidMessage', new RegExp(`^${f} is not a finite number`));
    await rejectsWith(p.send('x', { [f]: 2 ** 64 }), 'InvalidMessage', new RegExp(`^${f} is out of range`));
    await rejectsWith(p.send('x', { [f]: 1.5 }), 'InvalidMessage', new RegExp(`^${f} must be an integer`));
  }
  await rejectsWith(p.send('x', { eventTime: new Date(NaN) }), 'InvalidMessage', /^eventTime is not a finite number/);
  await rejectsWith(p.send('x', { deliverAfter: 2 ** 50 }), 'InvalidMessage', /^deliverAfter is out of range/);
  await rejectsWith(p.send('x', { deliverAt: Date.now() + 1000, deliverAfter: 1000 }), 'InvalidMessage', /deliverAt or deliverAfter/);
  // A refused message does not disturb the ones around it.
  const [a, b, c] = await Promise.all([p.send('ok-1'), p.send('x', { sequenceId: -2 }).catch((e) => e), p.send('ok-2')]);
  assert.ok(a instanceof pp.MessageId && c instanceof pp.MessageId);
  assert.equal(b.name, 'InvalidMessage');
  await p.close();
});

test('blockIfQueueFull keeps sends waiting in order (queue and memory limits); without it they fail', T, async () => {
  for (const [options, n] of [[{ maxPendingMessages: 10 }, 2000], [{ memoryLimitBytes: 2000 }, 1000]]) {
    const topic = uniqueTopic('queue-full');
    const p = await create(topic, { ...options, blockIfQueueFull: true, batchingMaxPublishDelay: 5 });
    const ids = await Promise.all(Array.from({ length: n }, (_, i) => p.send(`q-${i}`.padEnd(100, '.'))));
    await p.close();
    const got = await consume(topic, n);
    got.forEach((m, i) => {
      assert.equal(m.payload.toString(), `q-${i}`.padEnd(100, '.'));
      assertSameId(ids[i], m);
    });
  }
  const failing = await create(uniqueTopic('queue-full-fail'), { maxPendingMessages: 10, batchingMaxPublishDelay: 50 });
  const results = await Promise.allSettled(Array.from({ length: 200 }, (_, i) => failing.send(`f-${i}`)));
  const refused = results.filter((r) => r.status === 'rejected');
  assert.ok(refused.length > 0 && refused.length < 200, `${refused.length} refused`);
  for (const r of refused) assert.equal(r.reason.name, 'ProducerQueueIsFull');
  await failing.close();
});

test('a client with many producers: shared connection, one drain, stats', T, async () => {
  const client = await pp.Client.create({ serviceUrl: SERVICE_URL });
  const topics = Array.from({ length: 5 }, (_, i) => uniqueTopic(`multi-${i}`));
  const producers = await Promise.all(topics.map((topic) => client.createProducer({ topic, batchingMaxPublishDelay: 5 })));
  const n = 300;
  const ids = await Promise.all(producers.map((p, i) => Promise.all(Array.from({ length: n }, (_, j) => p.send(`${i}-${j}`)))));
  for (const p of producers) {
    const s = p.stats();
    assert.equal(s.msgsSent, n);
    assert.equal(s.msgsAcked, n);
    assert.equal(s.pendingMsgs, 0);
    assert.ok(s.latencyCount === n && s.latencyMaxUs > 0, JSON.stringify(s));
  }
  const cs = client.stats();
  assert.equal(cs.msgsAcked, 5 * n);
  assert.equal(cs.producers, 5);
  assert.ok(cs.connections >= 1 && cs.connections < 5, `${cs.connections} connections for 5 producers`);
  await producers[0].close();
  assert.equal(producers[0].stats().msgsAcked, n, 'stats stay readable after close');
  assert.equal(client.stats().producers, 4);
  await client.close();
  await rejectsWith(producers[1].send('late'), 'AlreadyClosed');
  await rejectsWith(client.createProducer({ topic: topics[0] }), 'AlreadyClosed');
  for (let i = 0; i < topics.length; i++) {
    const got = await consume(topics[i], n);
    got.forEach((m, j) => {
      assert.equal(m.payload.toString(), `${i}-${j}`);
      assertSameId(ids[i][j], m);
    });
  }
});

test('logLevel info yields a "registered" record with its topic, producer, broker and connection', T, async () => {
  const client = await pp.Client.create({ serviceUrl: SERVICE_URL, logLevel: 'info' });
  const records = [];
  client.on('log', (r) => records.push(r));
  const topic = uniqueTopic('logs');
  const p = await client.createProducer({ topic });
  await p.send('x');
  const r = records.find((x) => /registered/.test(x.message));
  assert.ok(r, `records: ${JSON.stringify(records)}`);
  assert.equal(r.level, 'info');
  assert.equal(r.topic, topic);
  assert.equal(r.producerName, p.name);
  assert.equal(r.broker, new URL(SERVICE_URL).host);
  assert.ok(r.connection > 0 && r.time instanceof Date && Date.now() - r.time < 60000);
  await client.close();
  const quiet = await pp.Client.create({ serviceUrl: SERVICE_URL }); // default: warn
  const seen = [];
  quiet.on('log', (x) => seen.push(x));
  await (await quiet.createProducer({ topic })).send('y');
  await quiet.close();
  assert.deepEqual(seen.filter((x) => x.level === 'info' || x.level === 'debug'), []);
});

test('creation waiting for exclusive access is cancelled by an AbortSignal, or bounded by createTimeout', T, async () => {
  const topic = uniqueTopic('exclusive');
  const client = await pp.Client.create({ serviceUrl: SERVICE_URL, logLevel: 'off' });
  const holder = await client.createProducer({ topic, accessMode: 'exclusive' });
  const ac = new AbortController();
  const start = Date.now();
  const waiting = client.createProducer({ topic, accessMode: 'waitForExclusive', signal: ac.signal });
  setTimeout(() => ac.abort(), 500);
  await assert.rejects(waiting, (e) => e instanceof pp.AbortError && e.name === 'AbortError');
  const took = Date.now() - start;
  assert.ok(took >= 450 && took < 2000, `aborted after ${took} ms`);
  const t0 = Date.now();
  await rejectsWith(client.createProducer({ topic, accessMode: 'waitForExclusive', createTimeout: 700 }), 'Timeout', /createTimeout/);
  assert.ok(Date.now() - t0 >= 650 && Date.now() - t0 < 3000, `createTimeout ended after ${Date.now() - t0} ms`);
  // Neither waiter is left in the client. (The broker may still grant one of them the
  // topic later, a race outside this package: not checked here.)
  assert.equal(client.stats().producers, 1);
  await holder.close();
  // Closing its client cancels a creation in progress.
  const c2 = await pp.Client.create({ serviceUrl: SERVICE_URL, logLevel: 'off' });
  const held = await c2.createProducer({ topic: `${topic}-2`, accessMode: 'exclusive' });
  const blocked = c2.createProducer({ topic: `${topic}-2`, accessMode: 'waitForExclusive' }).catch((e) => e);
  await new Promise((r) => setTimeout(r, 300));
  await c2.close();
  const e = await blocked;
  assert.equal(held.closed, true);
  assert.equal(e.name, 'AlreadyClosed');
  assert.match(e.message, /closed while the producer was being created/);
  await client.close();
});

test('deduplicated resends complete with ID -1:-1 and messageId.isDuplicate', T, async () => {
  const topic = uniqueTopic('dedup');
  await (await create(topic)).close();
  await enableDeduplication(topic);
  const p = await create(topic);
  const first = await p.send('once', { sequenceId: 7 });
  const again = await p.send('once again', { sequenceId: 7 });
  await p.close();
  assert.equal(first.isDuplicate, false);
  assert.ok(first.ledgerId >= 0);
  assert.equal(again.isDuplicate, true);
  assert.equal(String(again), '-1:-1:-1');
  const got = await javaConsume(topic, 2, { timeoutMs: 1500 });
  assert.deepEqual(got.map((m) => m.payload.toString()), ['once'], 'the broker stored it once');
});

test('a partitioned topic: partitions, and IDs on every partition', T, async () => {
  const topic = uniqueTopic('partitioned');
  await createPartitionedTopic(topic, 3);
  const p = await create(topic, { batchingMaxPublishDelay: 5 });
  assert.equal(p.partitions, 3);
  const n = 60;
  const ids = await Promise.all(Array.from({ length: n }, (_, i) => (i % 2 ? p.send(`pt-${i}`, { key: `key-${i}` }) : p.send(`pt-${i}`))));
  await p.close();
  assert.deepEqual([...new Set(ids.map((id) => id.partition))].sort(), [0, 1, 2]);
  const byPayload = new Map((await consume(topic, n)).map((m) => [m.payload.toString(), m]));
  ids.forEach((id, i) => {
    const m = byPayload.get(`pt-${i}`);
    assert.equal(m.key, i % 2 ? `key-${i}` : '');
    assertSameId(id, m, `message ${i}`);
  });
});

test('an unreachable broker fails within the connect timeout', T, async (t) => {
  const silent = net.createServer(() => {});
  await new Promise((r) => silent.listen(0, '127.0.0.1', r));
  const sockets = new Set();
  silent.on('connection', (s) => sockets.add(s));
  t.after(() => {
    for (const s of sockets) s.destroy();
    silent.close();
  });
  const start = Date.now();
  await rejectsWith(pp.Producer.create({ serviceUrl: `pulsar://127.0.0.1:${silent.address().port}`, topic: 'never', connectionTimeout: 500 }),
    'ConnectError', /no handshake within/);
  const took = Date.now() - start;
  assert.ok(took >= 400 && took < 3000, `failed after ${took} ms`);
});
