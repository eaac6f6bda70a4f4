'use strict';
// helpers.js: shared by the tests: the broker's address, unique topics
// (and partitioned ones, topic policies and registered schemas, through the
// admin REST API), the independent consumers (tests/cmd/ppconsume, the
// official Go client; tests/javacheck/JavaCheck.java, the official Java
// client, which shows every field; test/pyconsume.py, the official Python
// client, for TLS and tokens, schemas and serialized IDs) and child Node
// processes.
//
// ppconsume: test/run.js builds it once per run and passes its path in
// PPCONSUME; without that (a bare `node --test`), the first use in each
// test file builds it into a temporary directory.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const { execFile, execFileSync, spawn } = require('node:child_process');

const SERVICE_URL = process.env.PULSAR_SERVICE_URL || 'pulsar://127.0.0.1:6650';
const ADMIN_URL = process.env.PULSAR_ADMIN_URL || `http://${new URL(SERVICE_URL).hostname}:8080`;
const PACKAGE_DIR = path.resolve(__dirname, '..');
const REPO_DIR = path.resolve(PACKAGE_DIR, '..', '..');
const TESTS_DIR = path.join(REPO_DIR, 'tests');

let topicSeq = 0;
/** A topic no other test (or run) uses. */
function uniqueTopic(prefix) {
  return `persistent://public/default/node-${prefix}-${process.pid}-${Date.now()}-${++topicSeq}`;
}

/** Creates topic (persistent://tenant/ns/name) with n partitions. */
async function createPartitionedTopic(topic, n) {
  const path = topic.replace(/^persistent:\/\//, '');
  const res = await fetch(`${ADMIN_URL}/admin/v2/persistent/${path}/partitions`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: String(n),
  });
  assert.ok(res.ok, `creating ${topic} with ${n} partitions: HTTP ${res.status} ${await res.text()}`);
}

/** Enables deduplication on an existing topic and waits until the broker applies it. */
async function enableDeduplication(topic) {
  const url = `${ADMIN_URL}/admin/v2/persistent/${topic.replace(/^persistent:\/\//, '')}/deduplicationEnabled`;
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'true' });
  assert.ok(res.ok, `enabling deduplication on ${topic}: HTTP ${res.status} ${await res.text()}`);
  for (let i = 0; i < 100; i++) {
    const r = await fetch(`${url}?applied=true`);
    if (r.ok && (await r.text()) === 'true') return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`deduplication on ${topic} was not applied`);
}

/** The schema the registry holds for topic ({ type, data, properties, version }), or null if none. */
async function registeredSchema(topic) {
  const res = await fetch(`${ADMIN_URL}/admin/v2/schemas/${topic.replace(/^persistent:\/\//, '')}/schema`);
  if (res.status === 404) return null;
  if (!res.ok) assert.fail(`reading the schema of ${topic}: HTTP ${res.status} ${await res.text()}`);
  return res.json();
}

// The official Python client, in the virtual environment tests/run.sh and
// test/run.js install it into.
const PYTHON = process.env.PP_PYTHON || path.join(REPO_DIR, 'build', 'pyenv', 'bin', 'python');
let pythonChecked = null;

/** Why the official Python client cannot be used, or null if it can. */
function pythonMissing() {
  if (pythonChecked === null) {
    try {
      execFileSync(PYTHON, ['-c', 'import pulsar'], { stdio: 'pipe' });
      pythonChecked = '';
    } catch (e) {
      pythonChecked = `the official Python client (pulsar-client) is not importable by ${PYTHON}: ${e.message.split('\n')[0]}`;
    }
  }
  return pythonChecked || null;
}

/**
 * Reads n messages of topic with the official Python client
 * (test/pyconsume.py): one object per message, payload as a Buffer, value
 * as the client's schema decoded it. Options: url (default SERVICE_URL),
 * schema ('bytes', 'string' or 'json'), ca, token, cert, key, timeoutMs.
 */
function pyConsume(topic, n, { url = SERVICE_URL, schema = 'bytes', ca, token, cert, key, timeoutMs = 30000 } = {}) {
  const args = [path.join(__dirname, 'pyconsume.py'), '--url', url, '--topic', topic, '-n', String(n), '--timeout-ms', String(timeoutMs),
    '--schema', schema];
  for (const [flag, v] of [['--ca', ca], ['--token', token], ['--cert', cert], ['--key', key]]) if (v) args.push(flag, v);
  return new Promise((resolve, reject) => {
    execFile(PYTHON, args, { maxBuffer: 512 * 1024 * 1024, timeout: timeoutMs + 60000 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`pyconsume ${topic} failed: ${err.message}\n${stderr}`));
        return;
      }
      resolve(stdout.split('\n').filter((l) => l !== '').map((l) => {
        const r = JSON.parse(l);
        r.payload = Buffer.from(r.payload, 'base64');
        r.serializedId = Buffer.from(r.serializedId, 'base64');
        return r;
      }));
    });
  });
}

let builtConsumer = null;
function ppconsumeBin() {
  if (process.env.PPCONSUME) return process.env.PPCONSUME;
  if (builtConsumer === null) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ppconsume-'));
    const bin = path.join(dir, 'ppconsume');
    execFileSync('go', ['build', '-o', bin, './cmd/ppconsume'], { cwd: TESTS_DIR, stdio: 'inherit' });
    process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
    builtConsumer = bin;
  }
  return builtConsumer;
}

/**
 * Reads n messages of topic with the official Go client. Resolves with one
 * object per message (see tests/cmd/ppconsume), payload and orderingKey as
 * Buffers.
 */
function consume(topic, n, { shared = false, timeoutMs = 30000 } = {}) {
  const args = ['-url', SERVICE_URL, '-topic', topic, '-n', String(n), '-timeout', `${timeoutMs}ms`];
  if (shared) args.push('-shared');
  return new Promise((resolve, reject) => {
    execFile(ppconsumeBin(), args, { maxBuffer: 512 * 1024 * 1024, timeout: timeoutMs + 30000 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`ppconsume ${args.join(' ')} failed: ${err.message}\n${stderr}`));
        return;
      }
      const rows = stdout.split('\n').filter((l) => l !== '').map((l) => {
        const r = JSON.parse(l);
        r.payload = Buffer.from(r.payload, 'base64');
        r.orderingKey = Buffer.from(r.orderingKey, 'base64');
        return r;
      });
      resolve(rows);
    });
  });
}

/**
 * The Java checker (tests/javacheck/JavaCheck.java, run against the jars of
 * the broker's own distribution): compiled once into a jar in the cache
 * directory broker.sh uses, with a class-data-sharing archive recorded on
 * its first run (as tests/javacheck/javacheck.go does). Returns its path.
 */
function javaCheckJar() {
  const src = path.join(TESTS_DIR, 'javacheck', 'JavaCheck.java');
  const home = execFileSync('bash', [path.join(TESTS_DIR, 'broker', 'broker.sh'), 'home'], { encoding: 'utf8' }).trim();
  const hash = crypto.createHash('sha256').update(`${home}\0`).update(fs.readFileSync(src)).digest('hex').slice(0, 16);
  const dir = path.join(process.env.PP_CACHE || path.join(os.homedir(), '.cache', 'pulsar-producer'), 'javacheck-node', hash);
  const jar = path.join(dir, 'javacheck.jar');
  if (!fs.existsSync(jar)) {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'javacheck-'));
    execFileSync('javac', ['-nowarn', '-d', path.join(tmp, 'classes'), '-cp', path.join(home, 'lib', '*'), src], { stdio: 'pipe' });
    execFileSync('jar', ['cf', path.join(tmp, 'javacheck.jar'), '-C', path.join(tmp, 'classes'), '.']);
    fs.mkdirSync(dir, { recursive: true });
    fs.renameSync(path.join(tmp, 'javacheck.jar'), jar);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return { jar, home, jsa: path.join(dir, 'javacheck.jsa') };
}

/**
 * Reads n messages of topic with the official Java client: one object per
 * message (tests/javacheck/JavaCheck.java), payload and ordering key as
 * Buffers, sequenceId as a bigint (exact).
 */
function javaConsume(topic, n, { type = 'exclusive', timeoutMs = 30000 } = {}) {
  const { jar, home, jsa } = javaCheckJar();
  const cds = fs.existsSync(jsa) ? [`-XX:SharedArchiveFile=${jsa}`] : [`-XX:ArchiveClassesAtExit=${jsa}`];
  const args = ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', '-Xmx512m', '-Xlog:disable', '-Xlog:all=error:stderr',
    ...cds, '-cp', `${jar}:${path.join(home, 'lib', '*')}`, 'JavaCheck', SERVICE_URL, topic, String(n), String(timeoutMs), type];
  return new Promise((resolve, reject) => {
    execFile('java', args, { maxBuffer: 256 * 1024 * 1024, timeout: timeoutMs + 60000 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`JavaCheck ${topic} failed: ${err.message}\n${stderr}`));
        return;
      }
      const rows = stdout.split('\n').filter((l) => l.startsWith('{') && !l.includes('"done"')).map((l) => {
        const r = JSON.parse(l);
        r.sequenceId = BigInt(/"sequenceId":(-?\d+)/.exec(l)[1]);
        r.payload = Buffer.from(r.payloadBase64, 'base64');
        r.orderingKey = r.orderingKeyBase64 === null ? null : Buffer.from(r.orderingKeyBase64, 'base64');
        return r;
      });
      resolve(rows);
    });
  });
}

/**
 * Asserts that a MessageId we reported names the message the Go client
 * read. The Go client reports a message sent alone (our batch index -1,
 * batch size 0) as index 0 of a batch of 1, and partition 0 where we say
 * -1 for a non-partitioned topic.
 */
function assertSameId(ours, theirs, what = 'message id') {
  assert.equal(theirs.ledgerId, ours.ledgerId, `${what}: ledger`);
  assert.equal(theirs.entryId, ours.entryId, `${what}: entry`);
  assert.equal(theirs.partition, ours.partition < 0 ? 0 : ours.partition, `${what}: partition`);
  if (ours.batchIndex < 0) {
    assert.equal(ours.batchSize, 0, `${what}: a message sent alone has batch size 0`);
    assert.equal(theirs.batchIndex, 0, `${what}: Go batch index of a message sent alone`);
    assert.equal(theirs.batchSize, 1, `${what}: Go batch size of a message sent alone`);
  } else {
    assert.equal(theirs.batchIndex, ours.batchIndex, `${what}: batch index`);
    assert.equal(theirs.batchSize, ours.batchSize, `${what}: batch size`);
  }
}

/** Fails with a clear message unless a broker answers at SERVICE_URL. */
async function requireBroker() {
  const u = new URL(SERVICE_URL);
  const port = Number(u.port || 6650);
  const ok = await new Promise((resolve) => {
    const s = net.connect({ host: u.hostname, port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
    s.setTimeout(3000, () => {
      s.destroy();
      resolve(false);
    });
  });
  assert.ok(ok, `no broker at ${SERVICE_URL}: start one with tests/broker/broker.sh start`);
}

/**
 * Runs `code` in a child Node process (CommonJS, cwd = the package, so
 * require('..') style paths resolve from there). Resolves with its exit
 * code, signal, output and wall time; kills it after timeoutMs.
 */
function runChild(code, { timeoutMs = 60000, env = {}, args = [] } = {}) {
  return new Promise((resolve) => {
    const start = Date.now();
    const child = spawn(process.execPath, [...args, '-e', code], {
      cwd: PACKAGE_DIR,
      env: { ...process.env, PULSAR_SERVICE_URL: SERVICE_URL, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - start, killed });
    });
  });
}

/** Asserts that a promise rejects with a PulsarError of the named result, whose message matches re. */
async function rejectsWith(promise, name, re) {
  const pp = require('..');
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof pp.PulsarError, `expected a PulsarError, got ${err && err.stack}`);
    assert.ok(err instanceof Error);
    assert.equal(err.name, name, `error name (message: ${err.message})`);
    assert.equal(err.code, pp.Result[name], 'error code');
    if (re) assert.match(err.message, re);
    return true;
  });
}

module.exports = {
  SERVICE_URL, PACKAGE_DIR, REPO_DIR, TESTS_DIR,
  uniqueTopic, createPartitionedTopic, enableDeduplication, consume, javaConsume, assertSameId, requireBroker, runChild,
  rejectsWith, ppconsumeBin, registeredSchema, pythonMissing, pyConsume, PYTHON,
};
