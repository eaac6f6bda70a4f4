#!/usr/bin/env node
'use strict';
// bench.js: throughput of Producer.send() against a real broker, next to
// the native Go producer's figure from the same run.
//
//   node bench/bench.js [--n 1000000] [--size 100] [--window 10000]
//                       [--producers 50] [--url pulsar://127.0.0.1:6650] [--no-go]
//                       [--backends native,wasi]
//
// Node: one producer (batchingMaxMessages 1000, batchingMaxPublishDelay 10,
// blockIfQueueFull, as tests/cmd/ppgobench on the Go side), a 20,000-message
// warm-up, then n sends of one size-byte Buffer with at most `window`
// promises unsettled, timed until all settled; cpu-s/Mmsg is the process's
// CPU time per million messages (less disturbed by other load than msgs/s).
// Then the ratio to Go, and the same n sends spread round-robin over
// --producers producers of one client (0 skips it; native backend only).
// Each backend's figure is taken in a process of its own (so that its peak
// RSS is its own), the wasi backend's next to the native one's as a ratio,
// with the resident memory each more client costs (the wasi backend gives
// every client a module instance of its own).
// Exits non-zero if any message failed.
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const pp = require('..');

function args() {
  const a = { n: 1000000, size: 100, window: 10000, producers: 50, url: 'pulsar://127.0.0.1:6650', go: true,
    backends: 'native,wasi', child: null };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (k === '--no-go') a.go = false;
    else if (['--n', '--size', '--window', '--producers'].includes(k)) a[k.slice(2)] = Number(argv[++i]);
    else if (k === '--url') a.url = argv[++i];
    else if (k === '--backends') a.backends = argv[++i];
    else if (k === '--child') a.child = argv[++i];
    else throw new Error(`unknown argument ${k}`);
  }
  return a;
}

async function publish(producers, n, payload, window) {
  let unsettled = 0;
  let failed = 0;
  let firstError = null;
  let wake = null;
  const settled = (e) => {
    if (e instanceof Error && failed++ === 0) firstError = e;
    if (--unsettled <= window >> 1 && wake !== null) wake(wake = null);
  };
  for (let i = 0; i < n; i++) {
    producers[i % producers.length].send(payload).then(settled, settled);
    if (++unsettled >= window) await new Promise((r) => { wake = r; });
  }
  while (unsettled > 0) await new Promise((r) => { wake = r; });
  if (failed > 0) throw new Error(`${failed} of ${n} sends failed; first: ${firstError}`);
}

async function nodeFigure(a, count, backend) {
  const client = await pp.Client.create({ serviceUrl: a.url, backend });
  const topic = `persistent://public/default/node-bench-${process.pid}-${Date.now()}`;
  const producers = await Promise.all(Array.from({ length: count }, (_, i) => client.createProducer({
    topic: count === 1 ? topic : `${topic}-${i}`,
    batchingMaxMessages: 1000,
    batchingMaxPublishDelay: 10,
    blockIfQueueFull: true,
  })));
  const payload = Buffer.alloc(a.size, 'x');
  await publish(producers, 20000, payload, a.window);
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await publish(producers, a.n, payload, a.window);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  await client.close();
  return { secs, rate: a.n / secs, cpuPerM: (cpu.user + cpu.system) / 1e6 / (a.n / 1e6), rssMiB: process.resourceUsage().maxRSS / 1024 };
}

/** The resident memory one more client costs: ten clients with a producer each, one message sent, in MiB per client. */
async function clientCost(a, backend) {
  const before = process.memoryUsage().rss;
  const clients = [];
  for (let i = 0; i < 10; i++) {
    const c = await pp.Client.create({ serviceUrl: a.url, backend });
    await (await c.createProducer({ topic: `persistent://public/default/node-bench-rss-${process.pid}-${i}` })).send('x');
    clients.push(c);
  }
  const perClient = (process.memoryUsage().rss - before) / 1048576 / 10;
  await Promise.all(clients.map((c) => c.close()));
  return perClient;
}

/** A backend's figure, from a child process running only it: { secs, rate, cpuPerM, rssMiB, clientMiB }. */
function backendFigure(a, backend) {
  const argv = [__filename, '--child', backend, '--n', String(a.n), '--size', String(a.size), '--window', String(a.window), '--url', a.url];
  let out;
  try {
    out = execFileSync(process.execPath, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  } catch (e) {
    throw new Error(`the ${backend} backend's run failed with status ${e.status}`);
  }
  return JSON.parse(out);
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
  if (a.child !== null) {
    const clientMiB = await clientCost(a, a.child);
    console.log(JSON.stringify({ ...await nodeFigure(a, 1, a.child), clientMiB }));
    return;
  }
  const before = load();
  const figures = {};
  for (const backend of a.backends.split(',')) {
    const f = figures[backend] = backendFigure(a, backend);
    console.log(`node-send (${backend} backend): ${a.n} msgs x ${a.size} B in ${f.secs.toFixed(2)} s = ${Math.round(f.rate)} msgs/s, ` +
      `${f.cpuPerM.toFixed(2)} cpu-s/Mmsg, peak RSS ${f.rssMiB.toFixed(0)} MiB (window ${a.window}); ` +
      `${f.clientMiB.toFixed(1)} MiB of RSS per client (10 clients, a producer each)`);
  }
  if (figures.native && figures.wasi) {
    console.log(`ratio node wasi/native backend: ${(figures.wasi.rate / figures.native.rate).toFixed(2)} msgs/s, ` +
      `${(figures.wasi.cpuPerM / figures.native.cpuPerM).toFixed(2)}x the CPU per message, ` +
      `${(figures.wasi.rssMiB / figures.native.rssMiB).toFixed(2)}x the peak RSS`);
  }
  if (a.go) {
    const go = goFigure(a);
    console.log(go.line);
    for (const [backend, f] of Object.entries(figures)) console.log(`ratio node (${backend} backend)/native-go: ${(f.rate / go.rate).toFixed(2)}`);
  }
  if (a.producers > 0 && figures.native) {
    const many = await nodeFigure(a, a.producers, 'native');
    console.log(`node-send-${a.producers}-producers: ${a.n} msgs x ${a.size} B over ${a.producers} producers of one client ` +
      `in ${many.secs.toFixed(2)} s = ${Math.round(many.rate)} msgs/s, ${many.cpuPerM.toFixed(2)} cpu-s/Mmsg`);
  }
  console.log(`load average: ${before} before, ${load()} after (${os.cpus().length} cores)`);
}

main().catch((e) => {
  console.error(`bench: ${e.message}`);
  process.exit(1);
});
