'use strict';
// auth.test.js: the `auth` function against the plain broker (which takes
// any credentials): the library calls it from one of its own threads and
// koffi runs it on the main thread, for every connection, also with a
// token larger than the library's first buffer; a function that throws,
// returns a Promise or returns no string fails creation with
// AuthenticationError naming why. That the broker accepts the token is
// shown by secure.test.js against the secured deployment.
const { test, before } = require('node:test');
const assert = require('node:assert/strict');
const pp = require('..');
const { SERVICE_URL, uniqueTopic, consume, requireBroker, rejectsWith, runChild } = require('./helpers');

const T = { timeout: 60000 };

before(requireBroker);

test('an auth function runs on the main thread for each connection; large tokens too', T, async () => {
  const calls = [];
  const big = `eyJ${'x'.repeat(40000)}`; // more than the library's first 16 KiB buffer
  const client = await pp.Client.create({
    serviceUrl: SERVICE_URL,
    auth: () => {
      calls.push(require('node:worker_threads').isMainThread);
      return calls.length === 1 ? big : 'a-token';
    },
  });
  const topic = uniqueTopic('authfn');
  const p = await client.createProducer({ topic });
  const id = await p.send('authenticated');
  await client.close();
  assert.ok(calls.length >= 1 && calls.every((m) => m === true), `calls: ${calls}`);
  const got = await consume(topic, 1);
  assert.equal(got[0].payload.toString(), 'authenticated');
  assert.equal(got[0].entryId, id.entryId);
});

test('an auth function that throws, returns a Promise or no string fails creation with AuthenticationError naming why', T, async () => {
  const cases = [
    [() => { throw new Error('vault is sealed'); }, /\(the auth function failed: vault is sealed\)$/],
    [async () => 'later', /the auth function failed: it returned a Promise, but the token is needed at once/],
    [() => 42, /the auth function failed: it returned a number, not a token/],
    [() => '  ', /the auth function failed: it returned an empty string, not a token/],
  ];
  for (const [auth, re] of cases) {
    const client = await pp.Client.create({ serviceUrl: SERVICE_URL, auth });
    const logs = [];
    client.on('log', (r) => logs.push(r));
    await rejectsWith(client.createProducer({ topic: uniqueTopic('authfail') }), 'AuthenticationError', re);
    await client.close();
    assert.ok(logs.some((r) => r.level === 'error' && /^the auth function failed: /.test(r.message)), JSON.stringify(logs));
  }
  // The exception itself is the error's cause.
  const boom = new Error('boom');
  const client = await pp.Client.create({ serviceUrl: SERVICE_URL, auth: () => { throw boom; } });
  client.on('log', () => {});
  await assert.rejects(client.createProducer({ topic: uniqueTopic('authcause') }), (e) => e.cause === boom);
  await client.close();
});

test('a process with an auth function exits by itself once its client is closed', T, async () => {
  const r = await runChild(`
    const pp = require('.');
    (async () => {
      const p = await pp.Producer.create({ serviceUrl: process.env.PULSAR_SERVICE_URL, topic: 'node-authexit-${process.pid}', auth: () => 't' });
      await p.send('x');
      await p.close();
      console.log('closed');
    })();`, { timeoutMs: 30000 });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'closed');
  assert.ok(!r.killed);
});
