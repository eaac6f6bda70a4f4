'use strict';
// wasi.test.js: what only the wasi backend has, and where it must answer as
// the native one does: a module that traps mid-stream fails every message
// it held exactly once and the client with it; socket failures (refused,
// closed at once, garbage mid-frame, TLS to a plaintext port, silence) fail
// creation with the same codes on both backends. The rest of the suite runs
// on both backends (test/run.js).
const { test, before } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const pp = require('..');
const { uniqueTopic, requireBroker, SERVICE_URL } = require('./helpers');

const T = { timeout: 120000 };

before(requireBroker);

// Once is enough: the suite runs once per backend.
const ONCE = process.env.PULSAR_PRODUCER_BACKEND === 'native' ? 'names its backends itself: runs in the wasi pass of test/run.js' : false;

/** Makes every later call into the client's module throw as a trap does (a RuntimeError from inside the module). */
function trapFromNowOn(client) {
  const host = require('../lib/wasi/backend').hostForTests(client._h);
  const exports = host.in.x; // frozen: replaced by a copy whose functions trap
  const trap = () => { throw new WebAssembly.RuntimeError('unreachable'); };
  host.in.x = Object.fromEntries(Object.keys(exports).map((k) => [k, typeof exports[k] === 'function' ? trap : exports[k]]));
}

test('a module that traps mid-stream fails every message it held, once, and the client with it', { ...T, skip: ONCE }, async () => {
  const client = await pp.Client.create({ serviceUrl: SERVICE_URL, backend: 'wasi' });
  const logs = [];
  client.on('log', (r) => logs.push(r));
  const topic = uniqueTopic('trap');
  const p = await client.createProducer({ topic, batchingMaxPublishDelay: 3600000, batchingMaxMessages: 100000 });
  const holder = await client.createProducer({ topic: `${topic}-x`, accessMode: 'exclusive' });
  const waiting = client.createProducer({ topic: `${topic}-x`, accessMode: 'waitForExclusive' }).then(() => null, (e) => e);
  const outcomes = [];
  const sends = Array.from({ length: 300 }, (_, i) => p.send(`m${i}`).then((id) => outcomes.push(['ok', i, id]), (e) => outcomes.push(['error', i, e])));
  await new Promise((r) => setTimeout(r, 200)); // handed over: pending in the module's open batch
  assert.equal(p.stats().pendingMsgs, 300);
  trapFromNowOn(client);
  await assert.rejects(p.flush(), /WebAssembly module failed/);
  const later = p.send('after the trap').then(() => 'ok', (e) => e);
  await Promise.all(sends);
  assert.equal(outcomes.length, 300, 'every send settled exactly once');
  for (const [kind, i, e] of outcomes) {
    assert.equal(kind, 'error', `message ${i} settled ${kind}`);
    assert.equal(e.name, 'UnknownError');
    assert.match(e.message, /the WebAssembly module failed in ppw_flush: unreachable/);
  }
  const e = await later;
  assert.match(e.message, /WebAssembly module failed/);
  assert.match(String(await waiting), /WebAssembly module failed/); // it was being created
  await assert.rejects(client.createProducer({ topic }), /the WebAssembly module failed in ppw_flush/);
  assert.ok(logs.some((r) => r.level === 'error' && /the client has failed/.test(r.message)), JSON.stringify(logs));
  await holder.close().catch(() => {});
  await client.close().catch(() => {});
});

/** A TCP server on a free port of 127.0.0.1 doing onConnection(socket); resolves with { port, close }. */
function server(onConnection) {
  return new Promise((resolve) => {
    const sockets = new Set();
    const s = net.createServer((sock) => {
      sockets.add(sock);
      sock.on('error', () => {});
      onConnection(sock);
    });
    s.listen(0, '127.0.0.1', () => resolve({
      port: s.address().port,
      close: () => new Promise((r) => { for (const x of sockets) x.destroy(); s.close(r); }),
    }));
  });
}

test('socket failures fail creation with the same codes on both backends', { ...T, skip: ONCE }, async () => {
  const refused = await server(() => {});
  const refusedPort = refused.port;
  await refused.close(); // nothing listens there now
  const closing = await server((s) => s.destroy());
  const garbage = await server((s) => s.end(Buffer.from([0, 0, 0, 40, 0, 0, 0, 30, 8, 2, 26]))); // half a frame, then EOF
  const silent = await server(() => {});
  const cases = [
    ['refused', `pulsar://127.0.0.1:${refusedPort}`],
    ['closed at once', `pulsar://127.0.0.1:${closing.port}`],
    ['garbage mid-frame', `pulsar://127.0.0.1:${garbage.port}`],
    ['TLS to a plaintext port', SERVICE_URL.replace('pulsar://', 'pulsar+ssl://')],
    ['silent', `pulsar://127.0.0.1:${silent.port}`],
  ];
  try {
    for (const [what, serviceUrl] of cases) {
      const got = {};
      for (const backend of ['native', 'wasi']) {
        const e = await pp.Producer.create({ serviceUrl, topic: uniqueTopic('fail'), backend, connectionTimeout: 1000, operationTimeout: 1500, logLevel: 'off' })
          .then(() => null, (x) => x);
        assert.ok(e instanceof pp.PulsarError, `${what} (${backend}): ${e}`);
        got[backend] = e;
      }
      assert.equal(got.wasi.name, got.native.name, `${what}: native said ${got.native.message}; wasi said ${got.wasi.message}`);
      assert.equal(got.wasi.code, got.native.code);
      const host = new URL(serviceUrl).host;
      assert.ok(got.wasi.message.includes(host), `${what}: ${got.wasi.message}`);
    }
  } finally {
    await Promise.all([closing.close(), garbage.close(), silent.close()]);
  }
});

test('ppw_producer_abort forgets an open producer at once; one being created fails and stays until ppw_producer_close (ABI.md)', { ...T, skip: ONCE }, async () => {
  const { nowNs } = require('../lib/wasi/module');
  const client = await pp.Client.create({ serviceUrl: SERVICE_URL, backend: 'wasi', logLevel: 'off' });
  const host = require('../lib/wasi/backend').hostForTests(client._h);
  const openProducers = () => host.in.stats(null)[29]; // the client stats record's "producers open now"
  const call = (name, ...args) => {
    assert.equal(host.in.check(name, ...args), null, name);
    host.drive();
  };
  const topic = uniqueTopic('abort');
  await client.createProducer({ topic, accessMode: 'exclusive' });
  const waiting = client.createProducer({ topic, accessMode: 'waitForExclusive' }).then(() => null, (e) => e);
  const open = [...host.producers.keys()][0];
  let creating;
  for (let i = 0; i < 100 && creating === undefined; i++) {
    await new Promise((r) => setTimeout(r, 20));
    creating = [...host.producers.entries()].find(([, p]) => p.state === 'creating')?.[0];
  }
  assert.equal(openProducers(), 2);
  call('ppw_producer_abort', BigInt(creating), 0, 0, 0, nowNs());
  assert.equal(host.producers.get(creating).state, 'failed'); // a ProducerFailed event came
  assert.equal(openProducers(), 2);
  assert.notEqual(host.in.stats(creating), null);
  call('ppw_producer_close', BigInt(creating), nowNs());
  assert.equal(openProducers(), 1);
  assert.equal(host.in.stats(creating), null);
  call('ppw_producer_abort', BigInt(open), 0, 0, 0, nowNs());
  assert.equal(openProducers(), 0);
  assert.equal(host.in.stats(open), null);
  assert.ok(await waiting instanceof pp.PulsarError);
  await client.close().catch(() => {});
});
