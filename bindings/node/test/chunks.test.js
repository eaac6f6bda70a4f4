'use strict';
// chunks.test.js: chunkingEnabled from Node against the real broker: a
// 20 MiB message among small ones is sent in chunks and read back whole,
// byte for byte, by the official Go client (tests/cmd/ppconsume), at the
// ID we reported (its last chunk); the official Python client's serialized
// ID of it is ours byte for byte, naming the first chunk too.
const { test, before } = require('node:test');
const assert = require('node:assert/strict');
const pp = require('..');
const { SERVICE_URL, uniqueTopic, consume, assertSameId, requireBroker, pythonMissing, pyConsume } = require('./helpers');

const T = { timeout: 180000 };

before(requireBroker);

function pattern(n) {
  const b = Buffer.alloc(n);
  for (let i = 0; i + 4 <= n; i += 4) b.writeUInt32LE((i * 2654435761) >>> 0, i);
  return b;
}

test('a 20 MiB message is sent in chunks and read back whole by the Go and the Python client, IDs compared', T, async (t) => {
  const topic = uniqueTopic('chunks');
  const p = await pp.Producer.create({ serviceUrl: SERVICE_URL, topic, chunkingEnabled: true, compressionType: 'lz4' });
  const big = pattern(20 << 20);
  const sent = [Buffer.from('small-before'), big, Buffer.from('small-after')];
  const ids = await Promise.all(sent.map((d, i) => p.send(d, { properties: { i: String(i) } })));
  await p.close();
  assert.deepEqual(ids.map((id) => id.isChunked), [false, true, false]);
  const chunked = ids[1];
  assert.ok(chunked.firstChunkId.entryId < chunked.entryId, `${chunked}`);
  assert.equal(chunked.firstChunkId.ledgerId, chunked.ledgerId);
  assert.match(String(chunked), /^\d+:\d+:-1;\d+:\d+:-1$/);

  const got = await consume(topic, sent.length, { timeoutMs: 90000 });
  got.forEach((m, i) => {
    assert.ok(m.payload.equals(sent[i]), `message ${i}: the Go client read ${m.payload.length} bytes, we sent ${sent[i].length}`);
    assert.equal(m.properties.i, String(i));
    assert.equal(m.ledgerId, ids[i].ledgerId, `message ${i}: ledger`);
    assert.equal(m.entryId, ids[i].entryId, `message ${i}: entry (the last chunk's)`);
    if (i !== 1) assertSameId(ids[i], m, `message ${i}`);
  });

  const missing = pythonMissing();
  if (missing) {
    t.diagnostic(`the Python check is skipped: ${missing}`);
    return;
  }
  const py = await pyConsume(topic, sent.length, { timeoutMs: 90000 });
  assert.ok(py[1].payload.equals(big), `the Python client read ${py[1].payload.length} bytes`);
  assert.deepEqual(py[1].serializedId, chunked.serialize(), 'the Python client serializes the chunked ID as we do');
  const theirs = pp.MessageId.deserialize(py[1].serializedId);
  assert.ok(theirs.equals(chunked) && theirs.isChunked, `Python's ID ${theirs}, ours ${chunked}`);
});

test('chunkMaxMessageSize bounds the chunks: 3 MiB in chunks of at most 1 MiB', T, async () => {
  const topic = uniqueTopic('chunksize');
  const p = await pp.Producer.create({ serviceUrl: SERVICE_URL, topic, chunkingEnabled: true, chunkMaxMessageSize: 1 << 20 });
  const data = pattern(3 << 20);
  const id = await p.send(data);
  await p.close();
  assert.ok(id.isChunked);
  assert.ok(id.entryId - id.firstChunkId.entryId + 1 >= 4, `chunks from ${id.firstChunkId} to ${id}: 3 MiB (and metadata) need at least 4`);
  const [m] = await consume(topic, 1, { timeoutMs: 60000 });
  assert.ok(m.payload.equals(data));
  assert.equal(m.entryId, id.entryId);
});

test('without chunkingEnabled a message over the broker\'s limit is refused with MessageTooBig', T, async () => {
  const p = await pp.Producer.create({ serviceUrl: SERVICE_URL, topic: uniqueTopic('nochunks') });
  const [small, big] = await Promise.allSettled([p.send('fits'), p.send(Buffer.alloc(6 << 20))]);
  await p.close();
  assert.equal(small.status, 'fulfilled');
  assert.equal(big.reason.name, 'MessageTooBig');
});
