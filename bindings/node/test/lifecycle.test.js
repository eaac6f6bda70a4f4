'use strict';
// lifecycle.test.js: how producers end with the process, each in a child
// process: exiting by itself once producers are closed or idle, staying
// until in-flight sends settle, process.exit() with sends, a flush or a
// close in flight (no crash, no hang), and producers inside worker_threads
// (including a worker terminated mid-send).
const { test, before } = require('node:test');
const assert = require('node:assert/strict');
const { uniqueTopic, consume, requireBroker, runChild, assertSameId } = require('./helpers');

const T = { timeout: 120000 };

before(requireBroker);

// Prepended to every child script.
const PRELUDE = `
const pp = require('.');
const url = process.env.PULSAR_SERVICE_URL;
const topic = process.env.TOPIC;
const create = (o = {}) => pp.Producer.create({ serviceUrl: url, topic, ...o });
`;

/** Runs a child; resolves with the result and how long the process lived after printing "END <ms>". */
async function child(code, topic, opts = {}) {
  const r = await runChild(PRELUDE + code, { ...opts, env: { TOPIC: topic, ...(opts.env || {}) } });
  const m = /END (\d+)/.exec(r.stdout);
  r.afterEnd = m ? Date.now() - Number(m[1]) : null;
  return r;
}

function assertClean(r) {
  assert.equal(r.killed, false, `the child hung and was killed; stdout: ${r.stdout}; stderr: ${r.stderr}`);
  assert.equal(r.signal, null, `the child died of ${r.signal}; stderr: ${r.stderr}`);
  assert.equal(r.code, 0, `exit code ${r.code}; stderr: ${r.stderr}`);
}

test('a process whose producer is closed exits by itself', T, async () => {
  const topic = uniqueTopic('exit-closed');
  const r = await child(`
    (async () => {
      const p = await create();
      await Promise.all(Array.from({ length: 100 }, (_, i) => p.send('m' + i)));
      await p.close();
      console.log('END ' + Date.now());
    })();
  `, topic);
  assertClean(r);
  assert.ok(r.afterEnd < 2000, `lived ${r.afterEnd} ms after its last line`);
});

test('a process that never closes an idle producer exits by itself', T, async () => {
  const topic = uniqueTopic('exit-idle');
  const r = await child(`
    (async () => {
      const p = await create();
      const ids = await Promise.all(Array.from({ length: 100 }, (_, i) => p.send('m' + i)));
      await p.send('last');
      console.log('END ' + Date.now());
    })();
  `, topic);
  assertClean(r);
  assert.ok(r.afterEnd < 2000, `lived ${r.afterEnd} ms after its last line`);
  assert.equal((await consume(topic, 101)).length, 101);
});

test('a process with unawaited sends stays until they settle, then exits', T, async () => {
  const topic = uniqueTopic('exit-inflight');
  const n = 20000;
  const r = await child(`
    let ok = 0, failed = 0;
    process.on('exit', () => console.log('SETTLED ' + ok + ' ' + failed));
    (async () => {
      const p = await create({ batchingMaxPublishDelay: 50 });
      for (let i = 0; i < ${n}; i++) p.send('m' + i).then(() => ok++, () => failed++);
      console.log('END ' + Date.now());
    })();
  `, topic);
  assertClean(r);
  assert.match(r.stdout, new RegExp(`SETTLED ${n} 0`));
  const got = await consume(topic, n);
  assert.equal(got[n - 1].payload.toString(), `m${n - 1}`);
});

test('process.exit() with sends in flight neither crashes nor hangs', T, async () => {
  const topic = uniqueTopic('exit-now');
  const r = await child(`
    (async () => {
      const p = await create({ batchingMaxPublishDelay: 100 });
      for (let i = 0; i < 50000; i++) p.send('m' + i).catch(() => {});
      // Let the first batches reach the library and the drain loop start.
      await new Promise((r) => setTimeout(r, 30));
      console.log('END ' + Date.now());
      process.exit(0);
    })();
  `, topic, { timeoutMs: 30000 });
  assertClean(r);
  assert.ok(r.afterEnd < 3000, `exit took ${r.afterEnd} ms`);
  assert.equal(r.stderr, '');
});

test('process.exit() during flush or close neither crashes nor hangs', T, async () => {
  for (const op of ['flush', 'close']) {
    const topic = uniqueTopic(`exit-${op}`);
    const r = await child(`
      (async () => {
        const p = await create({ batchingMaxPublishDelay: 5000, batchingMaxMessages: 100000 });
        for (let i = 0; i < 1000; i++) p.send('m' + i).catch(() => {});
        p.${op}().catch(() => {});
        await new Promise((r) => setTimeout(r, 5));
        console.log('END ' + Date.now());
        process.exit(0);
      })();
    `, topic, { timeoutMs: 30000 });
    assertClean(r);
    assert.ok(r.afterEnd < 3000, `${op}: exit took ${r.afterEnd} ms`);
  }
});

test('an uncaught exception with sends in flight ends the process normally', T, async () => {
  const topic = uniqueTopic('exit-throw');
  const r = await child(`
    (async () => {
      const p = await create();
      for (let i = 0; i < 10000; i++) p.send('m' + i).catch(() => {});
      setTimeout(() => { console.log('END ' + Date.now()); throw new Error('planned failure'); }, 20);
    })();
  `, topic, { timeoutMs: 30000 });
  assert.equal(r.killed, false);
  assert.equal(r.signal, null, r.stderr);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /planned failure/);
  assert.ok(r.afterEnd < 3000, `exit took ${r.afterEnd} ms`);
});

test('a producer inside a worker thread', T, async () => {
  const topic = uniqueTopic('worker');
  const r = await child(`
    const { Worker } = require('node:worker_threads');
    const code = \`
      const { parentPort, workerData } = require('node:worker_threads');
      const pp = require(workerData.dir);
      (async () => {
        // A small queue: sends also wait for room here.
        const p = await pp.Producer.create({ serviceUrl: workerData.url, topic: workerData.topic,
          maxPendingMessages: 20, blockIfQueueFull: true });
        // Every third message has a key: those batches go as pp_message structs.
        const ids = await Promise.all(Array.from({ length: 500 }, (_, i) =>
          p.send('w' + i, i % 3 === 0 ? { key: 'k' + i } : undefined)));
        const about = { name: p.name, partitions: p.partitions };
        await p.close();
        parentPort.postMessage({ about, ids: ids.map((id) => ({ ...id })) });
      })();
    \`;
    const w = new Worker(code, { eval: true, workerData: { dir: process.cwd(), url, topic } });
    w.on('message', (r) => {
      console.log('ABOUT ' + JSON.stringify(r.about));
      console.log('IDS ' + JSON.stringify(r.ids));
    });
    w.on('error', (e) => { console.error('worker error', e); process.exitCode = 1; });
    w.on('exit', (c) => console.log('WORKER EXIT ' + c + ' END ' + Date.now()));
  `, topic);
  assertClean(r);
  assert.match(r.stdout, /WORKER EXIT 0/);
  const ids = JSON.parse(/IDS (.*)/.exec(r.stdout)[1]);
  const about = JSON.parse(/ABOUT (.*)/.exec(r.stdout)[1]);
  assert.equal(ids.length, 500);
  assert.equal(about.partitions, 0);
  const got = await consume(topic, 500);
  got.forEach((m, i) => {
    assert.equal(m.payload.toString(), `w${i}`);
    assert.equal(m.key, i % 3 === 0 ? `k${i}` : '');
    assert.equal(m.producerName, about.name);
    assertSameId(ids[i], m);
  });
});

test('a worker that never closes its producer ends by itself', T, async () => {
  const topic = uniqueTopic('worker-idle');
  const r = await child(`
    const { Worker } = require('node:worker_threads');
    const code = \`
      const { workerData } = require('node:worker_threads');
      const pp = require(workerData.dir);
      (async () => {
        const p = await pp.Producer.create({ serviceUrl: workerData.url, topic: workerData.topic });
        await Promise.all(Array.from({ length: 100 }, (_, i) => p.send('w' + i)));
      })();
    \`;
    const w = new Worker(code, { eval: true, workerData: { dir: process.cwd(), url, topic } });
    w.on('exit', (c) => console.log('WORKER EXIT ' + c + ' END ' + Date.now()));
  `, topic);
  assertClean(r);
  assert.match(r.stdout, /WORKER EXIT 0/);
  assert.equal((await consume(topic, 100)).length, 100);
});

test('terminating a worker with sends in flight does not crash the process', T, async () => {
  const topic = uniqueTopic('worker-terminate');
  const r = await child(`
    const { Worker } = require('node:worker_threads');
    const code = \`
      const { parentPort, workerData } = require('node:worker_threads');
      const pp = require(workerData.dir);
      (async () => {
        const p = await pp.Producer.create({ serviceUrl: workerData.url, topic: workerData.topic, batchingMaxPublishDelay: 50 });
        for (let i = 0; i < 30000; i++) p.send('w' + i).catch(() => {});
        parentPort.postMessage('sending');
      })();
    \`;
    const w = new Worker(code, { eval: true, workerData: { dir: process.cwd(), url, topic } });
    w.on('message', () => setTimeout(() => w.terminate(), 20));
    w.on('exit', async (c) => {
      console.log('WORKER EXIT ' + c);
      // The main thread still works: publish from here too.
      const p = await create();
      await p.send('after the worker');
      await p.close();
      console.log('MAIN OK END ' + Date.now());
    });
  `, topic, { timeoutMs: 60000 });
  assertClean(r);
  assert.match(r.stdout, /WORKER EXIT 1/);
  assert.match(r.stdout, /MAIN OK/);
  assert.ok(r.afterEnd < 3000, `lived ${r.afterEnd} ms after its last line`);
});

test('a producer dropped without close() is stopped when collected', T, async () => {
  const topic = uniqueTopic('gc');
  const r = await child(`
    const native = require('./lib/native');
    (async () => {
      let p = await create();
      await p.send('before the drop');
      const handle = p._h;
      p = null;
      const pending = new BigUint64Array(1);
      for (let i = 0; i < 100; i++) {
        global.gc();
        await new Promise((r) => setTimeout(r, 20));
        const rc = native.fn.pending(handle, pending);
        if (rc === pp.Result.InvalidHandle) {
          console.log('STOPPED END ' + Date.now());
          return;
        }
      }
      console.log('still alive');
    })();
  `, topic, { args: ['--expose-gc'] });
  assertClean(r);
  assert.match(r.stdout, /STOPPED/);
});
