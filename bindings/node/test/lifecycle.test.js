'use strict';
// lifecycle.test.js: how producers end with the process, each in a child
// process: exiting by itself once producers are closed or idle, staying
// until in-flight sends settle, process.exit() with sends, a flush, a close
// or a creation in flight (no crash, no hang), worker threads publishing
// on the wasi backend and refusing the native one before koffi loads
// (workers terminated again and again while the main thread publishes),
// and clients collected without close().
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

// The worker test chooses backends itself (its main thread publishes on the
// default, native here): once is enough, in the wasi pass of test/run.js.
const WORKERS = { ...T, skip: process.env.PULSAR_PRODUCER_BACKEND === 'native' ? 'runs in the wasi pass of test/run.js' : false };

test('worker threads publish on the wasi backend, refuse the native one clearly, and survive terminate()', WORKERS, async () => {
  // koffi aborts the process (exit 134) when worker.terminate() lands while
  // a worker is inside koffi, so the native backend refuses workers before
  // koffi loads, and the default there is the wasi backend, which has no
  // native code. Workers publishing on it are terminated at varying moments
  // (mid-creation, mid-send, mid-close) while the main thread publishes too.
  const topic = uniqueTopic('workers');
  const r = await child(`
    const { Worker } = require('node:worker_threads');
    const worker = \`
      const { parentPort, workerData } = require('node:worker_threads');
      const pp = require(process.cwd());
      (async () => {
        if (workerData.native) {
          try { await pp.Client.create({ serviceUrl: workerData.url, backend: 'native' }); parentPort.postMessage({ loaded: true }); }
          catch (e) { parentPort.postMessage({ code: e.code, message: e.message,
            koffi: Object.keys(require.cache).some((k) => k.includes('koffi')) }); }
          return;
        }
        parentPort.postMessage('start');
        const p = await pp.Producer.create({ serviceUrl: workerData.url, topic: workerData.topic, batchingMaxPublishDelay: 2 });
        parentPort.postMessage({ backend: p.client.backend });
        const ids = [];
        for (let i = 0; i < workerData.rounds; i++) {
          const got = await Promise.all(Array.from({ length: 50 }, (_, j) => p.send(workerData.tag + '-' + i + '-' + j)));
          ids.push(...got.map((id) => ({ ledgerId: id.ledgerId, entryId: id.entryId, partition: id.partition, batchIndex: id.batchIndex, batchSize: id.batchSize })));
        }
        await p.close();
        parentPort.postMessage({ done: ids.length, tag: workerData.tag, ids });
      })().catch((e) => parentPort.postMessage({ error: String(e) }));
    \`;
    const once = (data, wait) => new Promise((resolve) => {
      const w = new Worker(worker, { eval: true, workerData: { url, topic, ...data } });
      const replies = [];
      w.on('message', (m) => { if (m === 'start' && wait !== null) setTimeout(() => w.terminate(), wait); else if (m !== 'start') replies.push(m); });
      w.on('error', (e) => replies.push({ error: String(e) }));
      w.on('exit', () => resolve(replies));
    });
    (async () => {
      const p = await create({ batchingMaxPublishDelay: 5 });
      let sent = 0, done = false, terminated = 0;
      const publishing = (async () => { while (!done) { await Promise.all(Array.from({ length: 200 }, () => p.send('m' + sent++))); } })();
      const refusals = [];
      for (let i = 0; i < 4; i++) refusals.push(...await once({ native: true }, null));
      const replies = [];
      for (let i = 0; i < 24; i++) {
        replies.push(...await once({ tag: 'w' + i, rounds: 1000 }, [0, 20, 60, 150, 300, 600][i % 6]));
        terminated++;
      }
      const finished = await once({ tag: 'last', rounds: 4, topic: topic + '-last' }, null);
      done = true;
      await publishing;
      await p.close();
      console.log('REFUSALS ' + JSON.stringify(refusals));
      console.log('REPLIES ' + JSON.stringify(replies));
      console.log('FINISHED ' + JSON.stringify(finished));
      console.log('TERMINATED ' + terminated + ' SENT ' + sent + ' END ' + Date.now());
    })();
  `, topic, { timeoutMs: 100000, env: { PULSAR_PRODUCER_BACKEND: '' } }); // workers get the default
  assertClean(r);
  const m = /TERMINATED (\d+) SENT (\d+)/.exec(r.stdout);
  assert.ok(m && Number(m[1]) >= 20 && Number(m[2]) > 0, r.stdout);
  const refusals = JSON.parse(/REFUSALS (.*)/.exec(r.stdout)[1]);
  assert.equal(refusals.length, 4, JSON.stringify(refusals));
  for (const x of refusals) {
    assert.equal(x.code, 'ERR_PULSAR_PRODUCER_WORKER_THREAD', JSON.stringify(x));
    assert.match(x.message, /native backend cannot be used in a worker thread: koffi aborts the whole process/);
    assert.equal(x.koffi, false, 'koffi was not loaded in the worker');
  }
  const replies = JSON.parse(/REPLIES (.*)/.exec(r.stdout)[1]);
  assert.deepEqual(replies.filter((x) => x.error), [], 'no worker failed before it was terminated');
  assert.ok(replies.filter((x) => x.backend === 'wasi').length >= 10, `${replies.length} replies: workers got producers on the wasi backend`);
  const finished = JSON.parse(/FINISHED (.*)/.exec(r.stdout)[1]);
  assert.equal(finished.length, 2, JSON.stringify(finished));
  assert.deepEqual([finished[0], finished[1].done, finished[1].tag], [{ backend: 'wasi' }, 200, 'last']);
  // What the last worker published is stored, read back by the official Go client.
  const got = await consume(`${topic}-last`, 200);
  assert.deepEqual(got.map((x) => x.payload.toString()), Array.from({ length: 200 }, (_, k) => `last-${Math.floor(k / 50)}-${k % 50}`));
  got.forEach((x, k) => assertSameId(finished[1].ids[k], x, `message ${k}`));
});

test('process.exit() while a producer is being created returns at once', T, async () => {
  const topic = uniqueTopic('exit-creating');
  const r = await child(`
    (async () => {
      await create({ accessMode: 'exclusive' });
      create({ accessMode: 'waitForExclusive' }).catch(() => {});
      setTimeout(() => { console.log('END ' + Date.now()); process.exit(0); }, 300);
    })();
  `, topic);
  assertClean(r);
  assert.ok(r.afterEnd < 1500, `exit took ${r.afterEnd} ms`);
});

test('a client dropped without close() is stopped when collected', T, async () => {
  const topic = uniqueTopic('gc');
  const r = await child(`
    const native = require('./lib/native');
    async function use() {
      const p = await create();
      await p.send('before the drop');
      return p.client._h;
    }
    (async () => {
      const handle = await use();
      for (let i = 0; i < 100; i++) {
        global.gc();
        await new Promise((r) => setTimeout(r, 20));
        if (native.fn.pending(handle, [0]) === pp.Result.InvalidHandle) {
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
