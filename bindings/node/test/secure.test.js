'use strict';
// secure.test.js: TLS and credentials against the secured deployment of
// tests/broker/secure.sh (a broker with TLS, token authentication and
// authorization, and a Pulsar proxy requiring client certificates): a
// token given as `auth`, as authTokenFile, or by an auth function (asked
// again when the broker challenges an expiring token); OAuth2; through the
// proxy with mutual TLS; each publish read back by the official Python
// client (test/pyconsume.py) over TLS with the token, comparing payloads,
// keys, properties and IDs. Wrong credentials fail with a clear error.
//
// These tests are skipped unless PP_SECURE_URL is set, and fail instead
// when PP_SECURE_REQUIRED=1. To run them:
//   eval "$(tests/broker/secure.sh env | sed 's/^/export /')"
//   cd bindings/node && PP_SECURE_REQUIRED=1 node --test test/secure.test.js
const { test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const pp = require('..');
const { pythonMissing, pyConsume, rejectsWith } = require('./helpers');

const T = { timeout: 120000 };
const env = process.env;
const REQUIRED = env.PP_SECURE_REQUIRED === '1';

/** Skips t (or fails it, with PP_SECURE_REQUIRED=1) unless the secured deployment and the Python client are there. */
function unavailable(t) {
  let why = null;
  if (!env.PP_SECURE_URL) why = 'PP_SECURE_URL is not set (eval "$(tests/broker/secure.sh env | sed \'s/^/export /\')")';
  else if (pythonMissing()) why = pythonMissing();
  if (why === null) return false;
  if (REQUIRED) assert.fail(`PP_SECURE_REQUIRED=1, but ${why}`);
  t.skip(why);
  return true;
}

let seq = 0;
function secureTopic(name) {
  return `persistent://${env.PP_SECURE_NAMESPACE || 'pp/secure'}/node-${name}-${process.pid}-${Date.now()}-${++seq}`;
}

/** Sends a few messages and checks what the Python client reads over TLS with the token. */
async function publishAndVerify(producer, topic) {
  const tag = crypto.randomBytes(4).toString('hex');
  const sent = [['one', { key: 'k1', properties: { tag } }], [Buffer.from([0, 1, 2, 255]), { properties: { tag } }], ['three', { key: 'k3' }]];
  const ids = await Promise.all(sent.map(([d, o]) => producer.send(d, o)));
  await producer.close();
  const got = await pyConsume(topic, sent.length, { url: env.PP_SECURE_URL, ca: env.PP_SECURE_CA, token: env.PP_SECURE_TOKEN });
  got.forEach((m, i) => {
    assert.deepEqual(m.payload, Buffer.from(sent[i][0]), `message ${i}`);
    assert.equal(m.key, sent[i][1].key || '', `message ${i}: key`);
    assert.deepEqual(m.properties, sent[i][1].properties || {}, `message ${i}: properties`);
    assert.ok(pp.MessageId.deserialize(m.serializedId).ledgerId === ids[i].ledgerId && m.entryId === ids[i].entryId,
      `message ${i}: the Python client read ${m.ledgerId}:${m.entryId}, we reported ${ids[i]}`);
  });
}

test('TLS with a token as `auth`: read back over TLS by the Python client', T, async (t) => {
  if (unavailable(t)) return;
  const topic = secureTopic('tls-token');
  const p = await pp.Producer.create({ serviceUrl: env.PP_SECURE_URL, topic, tlsTrustCertsFilePath: env.PP_SECURE_CA, auth: env.PP_SECURE_TOKEN });
  await publishAndVerify(p, topic);
});

test('TLS with authTokenFile', T, async (t) => {
  if (unavailable(t)) return;
  const topic = secureTopic('tls-tokenfile');
  const client = await pp.Client.create({ serviceUrl: env.PP_SECURE_URL, tlsTrustCertsFilePath: env.PP_SECURE_CA, authTokenFile: env.PP_SECURE_TOKEN_FILE });
  await publishAndVerify(await client.createProducer({ topic }), topic);
  await client.close();
});

test('TLS with an auth function: the broker accepts the token it returns', T, async (t) => {
  if (unavailable(t)) return;
  const topic = secureTopic('tls-authfn');
  let calls = 0;
  const client = await pp.Client.create({
    serviceUrl: env.PP_SECURE_URL,
    tlsTrustCertsFilePath: env.PP_SECURE_CA,
    auth: () => {
      calls++;
      return env.PP_SECURE_TOKEN;
    },
  });
  await publishAndVerify(await client.createProducer({ topic }), topic);
  await client.close();
  assert.ok(calls >= 1, `the auth function was called ${calls} times`);
});

test('TLS with authOAuth2: tokens from the issuer (trusted through tlsTrustCertsFilePath)', T, async (t) => {
  if (unavailable(t)) return;
  const topic = secureTopic('oauth2');
  const client = await pp.Client.create({
    serviceUrl: env.PP_SECURE_URL,
    tlsTrustCertsFilePath: env.PP_SECURE_CA,
    authOAuth2: { issuerUrl: env.PP_SECURE_OAUTH2_ISSUER, privateKey: env.PP_SECURE_OAUTH2_CREDENTIALS },
  });
  await publishAndVerify(await client.createProducer({ topic }), topic);
  await client.close();
});

test('when its token expires, the broker challenges the connection and the auth function is asked again', { timeout: 90000 }, async (t) => {
  if (unavailable(t)) return;
  // A token that expires in 6 s; the broker checks every 5 s (authenticationRefreshCheckSeconds).
  const short = execFileSync(path.join(env.PP_SECURE_DIR, 'bin', 'ppsecure'), ['token', '-key', env.PP_SECURE_SECRET_KEY, '-ttl', '6s'],
    { encoding: 'utf8' }).trim();
  const topic = secureTopic('challenge');
  let calls = 0;
  const client = await pp.Client.create({
    serviceUrl: env.PP_SECURE_URL,
    tlsTrustCertsFilePath: env.PP_SECURE_CA,
    auth: () => (++calls === 1 ? short : env.PP_SECURE_TOKEN),
  });
  const p = await client.createProducer({ topic });
  const first = await p.send('before');
  const [callsBefore, connects] = [calls, client.stats().connects];
  const deadline = Date.now() + 40000;
  while (calls === callsBefore && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
  assert.ok(calls > callsBefore, 'the auth function was not asked again within 40 s');
  const second = await p.send('after');
  assert.equal(client.stats().connects, connects, 'the connection was refreshed, not replaced');
  await client.close();
  const got = await pyConsume(topic, 2, { url: env.PP_SECURE_URL, ca: env.PP_SECURE_CA, token: env.PP_SECURE_TOKEN });
  assert.deepEqual(got.map((m) => [m.payload.toString(), m.entryId]), [['before', first.entryId], ['after', second.entryId]]);
});

test('through the Pulsar proxy with a client certificate (mutual TLS) and a token', T, async (t) => {
  if (unavailable(t)) return;
  assert.ok(env.PP_SECURE_PROXY_URL && env.PP_SECURE_CLIENT_CERT && env.PP_SECURE_CLIENT_KEY, 'PP_SECURE_PROXY_URL, _CLIENT_CERT and _CLIENT_KEY');
  const topic = secureTopic('proxy');
  const p = await pp.Producer.create({
    serviceUrl: env.PP_SECURE_PROXY_URL,
    topic,
    tlsTrustCertsFilePath: env.PP_SECURE_CA,
    tlsCertificateFilePath: env.PP_SECURE_CLIENT_CERT,
    tlsKeyFilePath: env.PP_SECURE_CLIENT_KEY,
    auth: () => env.PP_SECURE_TOKEN,
  });
  await publishAndVerify(p, topic);
});

test('wrong credentials fail with a clear error: a bad token, an auth function that throws, an untrusted broker, no client certificate', T, async (t) => {
  if (unavailable(t)) return;
  const quiet = { logLevel: 'off', connectionTimeout: 5000, operationTimeout: 5000 };
  const create = (o) => pp.Producer.create({ serviceUrl: env.PP_SECURE_URL, topic: secureTopic('refused'), tlsTrustCertsFilePath: env.PP_SECURE_CA, ...quiet, ...o });
  await rejectsWith(create({ auth: 'not-a-token' }), 'AuthenticationError', /Failed to authenticate \(authentication method "token"\)/);
  await rejectsWith(create({}), 'AuthenticationError', /authentication method "none"/);
  await rejectsWith(create({ auth: () => { throw new Error('no token today'); } }), 'AuthenticationError', /the auth function failed: no token today/);
  await rejectsWith(create({ tlsTrustCertsFilePath: undefined, auth: env.PP_SECURE_TOKEN }), 'ConnectError',
    /signed by an authority this client does not trust \(set tlsTrustCertsFilePath\)/);
  await assert.rejects(pp.Producer.create({
    serviceUrl: env.PP_SECURE_PROXY_URL, topic: secureTopic('proxy-nocert'), tlsTrustCertsFilePath: env.PP_SECURE_CA, auth: env.PP_SECURE_TOKEN, ...quiet,
  }), (e) => {
    assert.ok(e instanceof pp.PulsarError && e.kind === 'network', e.stack);
    assert.match(e.message, /certificate required/);
    return true;
  });
});
