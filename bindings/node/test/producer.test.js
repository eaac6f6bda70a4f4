'use strict';
// producer.test.js: publishing to the real broker (tests/broker/broker.sh
// start; pulsar://127.0.0.1:6650) and reading back with the official Go
// client (tests/cmd/ppconsume): payload kinds, message options, order and
// message IDs (also on a partitioned topic), batches with and without
// options, flush and close, and every bad input with its error.
const { test, before } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const pp = require('..');
const {
  SERVICE_URL, uniqueTopic, createPartitionedTopic, consume, assertSameId, requireBroker, rejectsWith,
} = require('./helpers');

const T = { timeout: 120000 };

before(requireBroker);

function create(topic, options = {}) {
  return pp.Producer.create({ serviceUrl: SERVICE_URL, topic, ...options });
}

test('payload kinds arrive byte for byte, with and without a null value in the batch', T, async () => {
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
    ['', Buffer.alloc(0)],
    [Buffer.alloc(0), Buffer.alloc(0)],
    [new Uint16Array([0x0201, 0x0403]), Buffer.from([1, 2, 3, 4])],
    [new ArrayBuffer(3), Buffer.alloc(3)],
    [Buffer.alloc(3 * 1024 * 1024, 7), Buffer.alloc(3 * 1024 * 1024, 7)],
    ['tail', Buffer.from('tail')],
  ];
  // Payloads only: one pp_send_batch call per batch. Then the same with a
  // null value in the middle, which needs pp_message structs.
  const sent = [...kinds, ...kinds.slice(0, 5), [null, Buffer.alloc(0)], ...kinds.slice(5)];
  const ids = await Promise.all(kinds.map(([data]) => p.send(data)));
  ids.push(...(await Promise.all(sent.slice(kinds.length).map(([data]) => p.send(data)))));
  await p.close();
  const got = await consume(topic, sent.length);
  assert.equal(got.length, sent.length);
  got.forEach((m, i) => {
    assert.ok(m.payload.equals(sent[i][1]), `payload ${i}: got ${m.payload.length} bytes`);
    assert.equal(m.producerName, p.name);
    assertSameId(ids[i], m, `message ${i}`);
  });
});

test('message options reach the consumer', T, async () => {
  const topic = uniqueTopic('options');
  const producerName = `node-options-${process.pid}-${Date.now()}`;
  const p = await create(topic, { producerName });
  assert.equal(p.name, producerName);
  const eventTime = new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678));
  const ids = await Promise.all([
    p.send('keyed', { key: 'user-42', properties: { a: '1', 'ü-key': 'välue', empty: '' } }),
    p.send('ordering', { orderingKey: Buffer.from([0, 1, 2, 250]), eventTime }),
    p.send('ordering-str', { orderingKey: 'ok', eventTime: 1700000000123, key: 'k2' }),
    p.send('seq', { sequenceId: 1000 }),
    p.send('seq-big', { sequenceId: 1001n, disableReplication: true }),
    p.send('undefined options are ignored', { key: undefined, properties: undefined }),
    p.send(Buffer.from('plain')),
  ]);
  await p.close();
  const got = await consume(topic, ids.length);
  assert.deepEqual(got.map((m) => m.payload.toString()),
    ['keyed', 'ordering', 'ordering-str', 'seq', 'seq-big', 'undefined options are ignored', 'plain']);
  assert.equal(got[0].key, 'user-42');
  assert.deepEqual(got[0].properties, { a: '1', 'ü-key': 'välue', empty: '' });
  assert.deepEqual(got[1].orderingKey, Buffer.from([0, 1, 2, 250]));
  assert.equal(got[1].eventTime, eventTime.getTime());
  assert.equal(got[2].orderingKey.toString(), 'ok');
  assert.equal(got[2].eventTime, 1700000000123);
  assert.equal(got[2].key, 'k2');
  assert.equal(got[6].key, '');
  assert.deepEqual(got[6].properties, {});
  assert.equal(got[6].eventTime, 0);
  for (const m of got) assert.equal(m.producerName, producerName);
  got.forEach((m, i) => assertSameId(ids[i], m, `message ${i}`));
});

test('delayed delivery options are accepted and delay the message', T, async () => {
  const topic = uniqueTopic('delayed');
  const p = await create(topic);
  const start = Date.now();
  const ids = await Promise.all([
    p.send('after', { deliverAfter: 1500 }),
    p.send('at', { deliverAt: new Date(start + 1500) }),
  ]);
  await p.close();
  // Delayed messages reach Shared subscriptions only, and not before their time.
  const got = await consume(topic, 2, { shared: true });
  assert.ok(Date.now() - start >= 1400, `delivered after ${Date.now() - start} ms`);
  assert.deepEqual(got.map((m) => m.payload.toString()).sort(), ['after', 'at']);
  for (const m of got) assertSameId(ids[m.payload.toString() === 'after' ? 0 : 1], m);
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

test('flush resolves after every earlier send settled', T, async () => {
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
  await p.close();
  await rejectsWith(p.flush(), 'AlreadyClosed', /closed/);
});

test('close waits for pending sends, is idempotent, and rejects later sends', T, async () => {
  const topic = uniqueTopic('close');
  const p = await create(topic, { batchingMaxPublishDelay: 200 });
  const sends = [];
  for (let i = 0; i < 1000; i++) sends.push(p.send(`c-${i}`));
  const closing = p.close();
  assert.equal(p.closed, true);
  assert.equal(p.close(), closing, 'close() returns the same promise');
  await closing;
  const ids = await Promise.all(sends);
  assert.equal(ids.length, 1000);
  assert.equal(p.pendingCount, 0);
  await rejectsWith(p.send('late'), 'AlreadyClosed', /producer for .* is closed/);
  await p.close();
  const got = await consume(topic, 1000);
  assert.equal(got[999].payload.toString(), 'c-999');
});

test('bad sends are rejected with InvalidArgument or InvalidMessage', T, async () => {
  const p = await create(uniqueTopic('badsend'));
  await rejectsWith(p.send(42), 'InvalidArgument', /payload must be a Buffer, Uint8Array, string or null, got number/);
  await rejectsWith(p.send(undefined), 'InvalidArgument', /got undefined/);
  await rejectsWith(p.send({ a: 1 }), 'InvalidArgument', /got Object/);
  await rejectsWith(p.send('x', 'key'), 'InvalidArgument', /send options must be an object/);
  await rejectsWith(p.send('x', { colour: 'red' }), 'InvalidArgument', /unknown send option "colour"/);
  await rejectsWith(p.send('x', { key: 5 }), 'InvalidArgument', /key must be a string/);
  await rejectsWith(p.send('x', { key: 'a\0b' }), 'InvalidArgument', /NUL/);
  await rejectsWith(p.send('x', { properties: { a: 1 } }), 'InvalidArgument', /property "a" must be a string/);
  await rejectsWith(p.send('x', { properties: 'a=1' }), 'InvalidArgument', /properties must be an object/);
  await rejectsWith(p.send('x', { eventTime: 'yesterday' }), 'InvalidArgument', /eventTime must be a Date or a number/);
  await rejectsWith(p.send('x', { sequenceId: 1.5 }), 'InvalidArgument', /sequenceId must be an integer/);
  await rejectsWith(p.send('x', { replicationClusters: 'east' }), 'InvalidArgument', /replicationClusters must be an array/);
  await rejectsWith(p.send('x', { orderingKey: 7 }), 'InvalidArgument', /orderingKey must be a string or bytes/);
  // Checked by the library.
  await rejectsWith(p.send('x', { deliverAt: Date.now() + 1000, deliverAfter: 1000 }), 'InvalidMessage');
  await rejectsWith(p.send('x', { deliverAfter: -5 }), 'InvalidMessage');
  await rejectsWith(p.send('x', { eventTime: -1 }), 'InvalidMessage');
  await rejectsWith(p.send('x', { sequenceId: -2 }), 'InvalidMessage');
  // A refused message does not disturb the ones around it.
  const [a, b] = await Promise.all([p.send('ok-1'), p.send('x', { deliverAfter: -1 }).catch((e) => e), p.send('ok-2')]);
  assert.ok(a instanceof pp.MessageId);
  assert.equal(b.name, 'InvalidMessage');
  await rejectsWith(p.flush({ timeoutMs: -1 }), 'InvalidArgument', /timeoutMs/);
  await p.close();
});

test('a missing topic and unknown options are rejected by create', T, async () => {
  await rejectsWith(pp.Producer.create({ serviceUrl: SERVICE_URL }), 'InvalidTopicName', /topic is required/);
  await rejectsWith(pp.Producer.create({ serviceUrl: SERVICE_URL, topic: '' }), 'InvalidTopicName', /topic is required/);
  await rejectsWith(create(uniqueTopic('opt'), { noSuchOption: true }), 'InvalidConfiguration', /noSuchOption/);
  await rejectsWith(create(uniqueTopic('opt'), { compressionType: 'gzip' }), 'InvalidConfiguration', /compressionType/);
  await rejectsWith(create('persistent://public/default/bad/name/with/slashes'), 'InvalidTopicName');
});

test('compression and producer properties are accepted', T, async () => {
  const topic = uniqueTopic('lz4');
  const p = await create(topic, { compressionType: 'lz4', properties: { app: 'node-test' }, sendTimeout: 10000 });
  const text = 'compressible '.repeat(1000);
  const id = await p.send(text);
  await p.close();
  const [m] = await consume(topic, 1);
  assert.equal(m.payload.toString(), text);
  assertSameId(id, m);
});

test('an unreachable broker fails within the connect timeout', T, async (t) => {
  // A listener that never answers: the TCP connect succeeds, the protocol
  // handshake never comes.
  const silent = net.createServer(() => {});
  await new Promise((r) => silent.listen(0, '127.0.0.1', r));
  const sockets = new Set();
  silent.on('connection', (s) => sockets.add(s));
  t.after(() => {
    for (const s of sockets) s.destroy();
    silent.close();
  });
  const url = `pulsar://127.0.0.1:${silent.address().port}`;
  const start = Date.now();
  await rejectsWith(pp.Producer.create({ serviceUrl: url, topic: 'never', connectionTimeout: 500 }),
    'ConnectError', /no handshake within/);
  const took = Date.now() - start;
  assert.ok(took >= 400 && took < 3000, `failed after ${took} ms`);

  // Nothing listening at all.
  const closed = net.createServer();
  await new Promise((r) => closed.listen(0, '127.0.0.1', r));
  const port = closed.address().port;
  await new Promise((r) => closed.close(r));
  await rejectsWith(pp.Producer.create({ serviceUrl: `pulsar://127.0.0.1:${port}`, topic: 't', connectionTimeout: 500 }),
    'ConnectError');
});

test('producers on several topics at once', T, async () => {
  const topics = [uniqueTopic('multi-a'), uniqueTopic('multi-b'), uniqueTopic('multi-c')];
  const producers = await Promise.all(topics.map((t) => create(t)));
  const ids = await Promise.all(producers.map((p, i) => Promise.all(
    Array.from({ length: 300 }, (_, j) => p.send(`${i}-${j}`)))));
  await Promise.all(producers.map((p) => p.close()));
  for (let i = 0; i < topics.length; i++) {
    const got = await consume(topics[i], 300);
    got.forEach((m, j) => {
      assert.equal(m.payload.toString(), `${i}-${j}`);
      assertSameId(ids[i][j], m);
    });
  }
});

test('blockIfQueueFull makes sends wait for room; without it they fail', T, async () => {
  const topic = uniqueTopic('queue-full');
  const blocking = await create(topic, { maxPendingMessages: 10, blockIfQueueFull: true, batchingMaxPublishDelay: 5 });
  const n = 2000;
  const ids = await Promise.all(Array.from({ length: n }, (_, i) => blocking.send(`q-${i}`)));
  await blocking.close();
  const got = await consume(topic, n);
  got.forEach((m, i) => {
    assert.equal(m.payload.toString(), `q-${i}`);
    assertSameId(ids[i], m);
  });

  const failing = await create(uniqueTopic('queue-full-fail'), { maxPendingMessages: 10, batchingMaxPublishDelay: 50 });
  const results = await Promise.allSettled(Array.from({ length: 200 }, (_, i) => failing.send(`f-${i}`)));
  const refused = results.filter((r) => r.status === 'rejected');
  assert.ok(refused.length > 0 && refused.length < 200, `${refused.length} refused`);
  for (const r of refused) {
    assert.equal(r.reason.name, 'ProducerQueueIsFull');
    assert.equal(r.reason.code, pp.Result.ProducerQueueIsFull);
  }
  await failing.close();
});

test('one batch mixing payload-only messages with messages that have options', T, async () => {
  const topic = uniqueTopic('mixed');
  const p = await create(topic, { batchingMaxPublishDelay: 20 });
  // Sent in one synchronous run: they share staging batches, which start
  // payload-only and turn to pp_message structs at the first key.
  const n = 3000;
  const keyOf = (i) => (i === 1500 || (i > 2500 && i % 7 === 0) ? `k${i}` : '');
  const sends = [];
  for (let i = 0; i < n; i++) {
    const key = keyOf(i);
    sends.push(key ? p.send(`x-${i}`, { key }) : p.send(i % 2 ? `x-${i}` : Buffer.from(`x-${i}`)));
  }
  const ids = await Promise.all(sends);
  await p.close();
  const got = await consume(topic, n);
  got.forEach((m, i) => {
    assert.equal(m.payload.toString(), `x-${i}`);
    assert.equal(m.key, keyOf(i), `key of message ${i}`);
    assertSameId(ids[i], m, `message ${i}`);
  });
});

test('a partitioned topic: partitions, and IDs on every partition', T, async () => {
  const topic = uniqueTopic('partitioned');
  await createPartitionedTopic(topic, 3);
  const p = await create(topic, { batchingMaxPublishDelay: 5 });
  assert.equal(p.partitions, 3);
  const n = 60;
  const ids = await Promise.all(Array.from({ length: n }, (_, i) =>
    (i % 2 ? p.send(`pt-${i}`, { key: `key-${i}` }) : p.send(`pt-${i}`))));
  await p.close();
  assert.deepEqual([...new Set(ids.map((id) => id.partition))].sort(), [0, 1, 2]);
  const got = await consume(topic, n);
  const byPayload = new Map(got.map((m) => [m.payload.toString(), m]));
  ids.forEach((id, i) => {
    const m = byPayload.get(`pt-${i}`);
    assert.ok(m, `pt-${i} was read`);
    assert.equal(m.key, i % 2 ? `key-${i}` : '');
    assertSameId(id, m, `message ${i}`);
  });
});
