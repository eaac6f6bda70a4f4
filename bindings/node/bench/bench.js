#!/usr/bin/env node
'use strict';
// bench.js: throughput of Producer.send() against a real broker, next to
// the native Go producer's figure from the same run.
//
//   node bench/bench.js [--n 1000000] [--size 100] [--window 10000]
//                       [--url pulsar://127.0.0.1:6650] [--no-go]
//
// Node: one producer (batchingMaxMessages 1000, batchingMaxPublishDelay 10,
// blockIfQueueFull true, as the Go side), a 20,000-message warm-up, then n
// sends of one shared size-byte Buffer with at most `window` promises
// unsettled; the time runs from the first send until every promise has
// settled; cpu-s/Mmsg is the process's CPU time (JavaScript, koffi and the
// library's Go threads; not the broker's) per million messages, a figure
// less disturbed than msgs/s by other load on the machine. Go:
// tests/cmd/ppgobench (package core, SendAsync, the same
// settings), built and run with the Go toolchain. Prints one line each, the
// ratio and the load average before and after (the figures depend on what
// else the machine runs); exits non-zero if any message failed.
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const pp = require('..');

function args() {
  const a = { n: 1000000, size: 100, window: 10000, url: 'pulsar://127.0.0.1:6650', go: true };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (k === '--no-go') a.go = false;
    else if (['--n', '--size', '--window'].includes(k)) a[k.slice(2)] = Number(argv[++i]);
    else if (k === '--url') a.url = argv[++i];
    else throw new Error(`unknown argument ${k}`);
  }
  return a;
}

async function publish(producer, n, payload, window) {
  let unsettled = 0;
  let failed = 0;
  let firstError = null;
  let wake = null;
  const low = window >> 1;
  const done = () => {
    unsettled--;
    if (wake !== null && unsettled <= low) {
      const w = wake;
      wake = null;
      w();
    }
  };
  const fail = (e) => {
    failed++;
    if (firstError === null) firstError = e;
    done();
  };
  for (let i = 0; i < n; i++) {
    producer.send(payload).then(done, fail);
    if (++unsettled >= window) await new Promise((r) => { wake = r; });
  }
  while (unsettled > 0) {
    await new Promise((r) => { wake = r; });
  }
  if (failed > 0) throw new Error(`${failed} of ${n} sends failed; first: ${firstError}`);
}

async function nodeFigure(a) {
  const topic = `persistent://public/default/node-bench-${process.pid}-${Date.now()}`;
  const producer = await pp.Producer.create({
    serviceUrl: a.url,
    topic,
    batchingMaxMessages: 1000,
    batchingMaxPublishDelay: 10,
    blockIfQueueFull: true,
  });
  const payload = Buffer.alloc(a.size, 'x');
  await publish(producer, 20000, payload, a.window);
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await publish(producer, a.n, payload, a.window);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  await producer.close();
  return { secs, rate: a.n / secs, cpuPerM: (cpu.user + cpu.system) / 1e6 / (a.n / 1e6) };
}

function goFigure(a) {
  const testsDir = path.resolve(__dirname, '..', '..', '..', 'tests');
  let out;
  try {
    out = execFileSync('go', ['run', './cmd/ppgobench', '-url', a.url, '-n', String(a.n), '-size', String(a.size)],
      { cwd: testsDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  } catch (e) {
    throw new Error(`go run ./cmd/ppgobench (in ${testsDir}) failed with status ${e.status}`);
  }
  const m = /= (\d+) msgs\/s/.exec(out);
  if (!m) throw new Error(`unexpected ppgobench output: ${out}`);
  return { line: out.trim(), rate: Number(m[1]) };
}

function load() {
  return os.loadavg().map((l) => l.toFixed(2)).join(' ');
}

async function main() {
  const a = args();
  const before = load();
  const node = await nodeFigure(a);
  console.log(`node-send: ${a.n} msgs x ${a.size} B in ${node.secs.toFixed(2)} s = ${Math.round(node.rate)} msgs/s, ` +
    `${node.cpuPerM.toFixed(2)} cpu-s/Mmsg (window ${a.window})`);
  if (a.go) {
    const go = goFigure(a);
    console.log(go.line);
    console.log(`ratio node/native-go: ${(node.rate / go.rate).toFixed(2)}`);
  }
  console.log(`load average: ${before} before, ${load()} after (${os.cpus().length} cores)`);
}

main().catch((e) => {
  console.error(`bench: ${e.message}`);
  process.exit(1);
});
