'use strict';
// hooks.test.js: custom routers and interceptors against the real broker,
// read back by the official Go client (tests/cmd/ppconsume): the router
// picks each message's partition on a 3-partition topic (and sees
// partitions an admin adds), a throwing or out-of-range router fails only
// its message; an interceptor's trace-id property and key arrive, a
// throwing interceptor rejects only its message, onAck hears every outcome.
const { test, before } = require('node:test');
const assert = require('node:assert/strict');
const pp = require('..');
const {
  SERVICE_URL, uniqueTopic, createPartitionedTopic, consume, assertSameId, requireBroker, rejectsWith,
} = require('./helpers');

const T = { timeout: 120000 };
const ADMIN_URL = `http://${new URL(SERVICE_URL).hostname}:8080`;

before(requireBroker);

function create(topic, options = {}) {
  return pp.Producer.create({ serviceUrl: SERVICE_URL, topic, ...options });
}

test('a router picks every message\'s partition; the Go client finds each there', T, async () => {
  const topic = uniqueTopic('router');
  await createPartitionedTopic(topic, 3);
  const seen = [];
  const router = (m, n) => {
    seen.push([typeof m.data, m.key, n]);
    return Number(m.data.split('-')[1]) * 2 % n; // not what roundRobin or the key hash would pick
  };
  const p = await create(topic, { router, batchingMaxPublishDelay: 5 });
  assert.equal(p.partitions, 3);
  const n = 30;
  const ids = await Promise.all(Array.from({ length: n }, (_, i) => p.send(`m-${i}`, i % 3 ? { key: `k-${i}` } : undefined)));
  await p.close();
  assert.equal(seen.length, n);
  assert.deepEqual(seen[1], ['string', 'k-1', 3]);
  ids.forEach((id, i) => assert.equal(id.partition, i * 2 % 3, `message ${i}: ${id}`));
  const byPayload = new Map((await consume(topic, n)).map((m) => [m.payload.toString(), m]));
  ids.forEach((id, i) => {
    const m = byPayload.get(`m-${i}`);
    assert.equal(m.partition, i * 2 % 3, `message ${i} was read on partition ${m.partition}`);
    assertSameId(id, m, `message ${i}`);
  });
});

test('a router that throws or answers out of range fails only that message', T, async () => {
  const topic = uniqueTopic('router-bad');
  await createPartitionedTopic(topic, 3);
  const answers = { throw: () => { throw new RangeError('no partition for you'); }, three: () => 3, minus: () => -1, half: () => 1.5, text: () => '1' };
  const p = await create(topic, { router: (m) => (answers[m.data] ? answers[m.data]() : 1) });
  const results = await Promise.allSettled(['ok-1', 'throw', 'three', 'minus', 'half', 'text', 'ok-2'].map((d) => p.send(d)));
  await p.close();
  const reasons = results.map((r) => r.reason);
  assert.equal(results[0].value.partition, 1);
  assert.equal(results[6].value.partition, 1);
  assert.equal(reasons[1].name, 'InvalidArgument');
  assert.match(reasons[1].message, /^the router threw: no partition for you$/);
  assert.ok(reasons[1].cause instanceof RangeError);
  assert.equal(reasons[2].name, 'InvalidArgument');
  assert.match(reasons[2].message, /^the router returned 3, not a partition index \(0 to 2\)$/);
  assert.match(reasons[3].message, /^the router returned -1, not a partition index \(0 to 2\)$/);
  assert.match(reasons[4].message, /^the router returned 1.5, not a partition index/);
  assert.match(reasons[5].message, /^the router returned a string, not a partition index/);
  const got = await consume(topic, 2);
  assert.deepEqual(got.map((m) => m.payload.toString()).sort(), ['ok-1', 'ok-2']);
  assert.deepEqual(got.map((m) => m.partition), [1, 1]);
});

test('a router is not called on a topic without partitions; it sees partitions an admin adds', T, async () => {
  let calls = 0;
  const plain = await create(uniqueTopic('router-plain'), { router: () => { calls++; return 0; } });
  assert.equal((await plain.send('x')).partition, -1);
  await plain.close();
  assert.equal(calls, 0);

  const topic = uniqueTopic('router-grow');
  await createPartitionedTopic(topic, 2);
  let counts = new Set();
  const p = await create(topic, { router: (m, n) => { counts.add(n); return n - 1; }, partitionsAutoDiscoveryInterval: 1000 });
  const ids = [await p.send('m-0')];
  assert.equal(ids[0].partition, 1);
  const res = await fetch(`${ADMIN_URL}/admin/v2/persistent/${topic.replace(/^persistent:\/\//, '')}/partitions`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: '4',
  });
  assert.ok(res.ok, `adding partitions: HTTP ${res.status}`);
  const deadline = Date.now() + 30000;
  do {
    await new Promise((r) => setTimeout(r, 200));
    ids.push(await p.send(`m-${ids.length}`));
  } while (ids[ids.length - 1].partition !== 3 && Date.now() < deadline);
  assert.equal(ids[ids.length - 1].partition, 3, `the router saw counts ${[...counts]}`);
  assert.equal(p.partitions, 4);
  counts = [...counts];
  assert.deepEqual(counts, [2, 4]);
  await p.close();
  const byPayload = new Map((await consume(topic, ids.length)).map((m) => [m.payload.toString(), m]));
  ids.forEach((id, i) => assertSameId(id, byPayload.get(`m-${i}`), `message ${i}`));
});

class Tracer {
  constructor() {
    this.acks = [];
  }

  beforeSend(m) {
    if (m.data === 'secret') throw new Error('no secrets on this topic');
    m.properties = { ...m.properties, 'trace-id': `t-${m.data}` };
    m.key = 'traced';
  }

  onAck(m, id, err) {
    this.acks.push([m.properties['trace-id'], id && String(id), err && err.name]);
  }
}

test('interceptors: a trace-id property and key arrive; a throwing interceptor rejects only its message; onAck hears every outcome', T, async () => {
  const topic = uniqueTopic('intercept');
  const tracer = new Tracer();
  const broken = { onAck() { throw new Error('onAck bug'); } };
  const p = await create(topic, { interceptors: [tracer, broken], logLevel: 'error' });
  const logs = [];
  p.client.on('log', (r) => logs.push(r));
  const mine = { mine: '1' };
  let heardBeforeSettled = false;
  const results = await Promise.allSettled([
    p.send('a', { properties: mine }).then((id) => {
      heardBeforeSettled = tracer.acks.some(([trace, ack]) => trace === 't-a' && ack === String(id));
      return id;
    }),
    p.send('secret'),
    p.send('b', { sequenceId: -5 }), // refused after the interceptors accepted it
    p.send({ data: 'c', key: 'replaced' }),
  ]);
  await p.close();
  assert.deepEqual(mine, { mine: '1' }, 'the caller\'s properties object is not changed');
  assert.ok(heardBeforeSettled, 'onAck runs before the send\'s promise settles');
  const refused = results[1].reason;
  assert.equal(refused.name, 'InvalidMessage');
  assert.match(refused.message, /^interceptors\[0\] \(Tracer\) rejected the message in beforeSend: no secrets on this topic$/);
  assert.equal(refused.cause.message, 'no secrets on this topic');
  assert.equal(results[2].reason.name, 'InvalidMessage');
  const [a, , , c] = results.map((r) => r.value);
  // b failed at once, before a and c were stored.
  assert.deepEqual(tracer.acks, [['t-b', null, 'InvalidMessage'], ['t-a', String(a), null], ['t-c', String(c), null]]);
  assert.equal(logs.filter((r) => /interceptors\[1\] threw in onAck: onAck bug/.test(r.message)).length, 3, JSON.stringify(logs));
  const got = await consume(topic, 2);
  assert.deepEqual(got.map((m) => [m.payload.toString(), m.key, m.properties]),
    [['a', 'traced', { mine: '1', 'trace-id': 't-a' }], ['c', 'traced', { 'trace-id': 't-c' }]]);
  assertSameId(a, got[0]);
  assertSameId(c, got[1]);
});

test('interceptors and a router together: the router sees the intercepted message; value messages too', T, async () => {
  const topic = uniqueTopic('intercept-route');
  await createPartitionedTopic(topic, 3);
  const p = await create(topic, {
    schema: 'INT32',
    interceptors: [{ beforeSend(m) { m.properties = { part: String(m.value % 3) }; } }],
    router: (m) => Number(m.properties.part),
  });
  const ids = await Promise.all([4, 5, 6].map((value) => p.send({ value })));
  await rejectsWith(p.send({ value: 'x' }), 'InvalidMessage', /must be a number or a bigint for the INT32 schema/);
  await p.close();
  assert.deepEqual(ids.map((id) => id.partition), [1, 2, 0]);
  const got = await consume(topic, 3);
  for (const m of got) assert.equal(m.partition, m.payload.readInt32BE() % 3);
});
