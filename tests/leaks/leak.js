'use strict';
// @ts-check
// leak.js: the Node side of the leak check (tests/leaks/run.sh): publishes
// N messages of 100 bytes with producer.send() and prints the process's
// resident memory every N/10 messages.
//
// How it works: the package is required from bindings/node (after
// `make node`). One producer with batchingMaxMessages 1000,
// blockIfQueueFull and maxPendingMessages 10000, so the library holds back
// what does not fit and at most 10 batches await receipts. The loop keeps
// no promise: each settles into a counter (ok or failed), and the loop
// waits whenever 10,000 promises are unsettled until half of them have
// settled, so the messages staged in JavaScript stay bounded too. A
// promise that never settles leaves the loop waiting; the runner's time
// limit ends it (and it would count as missing). After every N/10 messages
// it reads VmRSS from /proc/self/status and prints
//   rss <messages sent> <KiB>
// and at the end, once every promise settled,
//   result node sent <N> ok <n> failed <n> missing <n> acked <n> seconds <s>
// (acked: the producer's msgsAcked). Exit status 1 if a message failed or
// a completion was missing.
//
// --retain K keeps a copy of every K-th payload until the end: a leak put
// in on purpose, to show that the runner's bound trips (run.sh --retain).
//
// Usage: node leak.js SERVICE_URL TOPIC [N] [--retain K]
const fs = require('node:fs');
const pp = require('../../bindings/node');

const WINDOW = 10000;

function rssKiB() {
  const m = /^VmRSS:\s+(\d+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) : -1;
}

function args() {
  const argv = process.argv.slice(2);
  const a = { url: argv[0], topic: argv[1], n: 10000000, retain: 0 };
  for (let i = 2; i < argv.length; i++) {
    if (argv[i] === '--retain') a.retain = Number(argv[++i]);
    else a.n = Number(argv[i]);
  }
  if (!a.url || !a.topic || !Number.isInteger(a.n) || a.n < 10 || !Number.isInteger(a.retain) || a.retain < 0) {
    throw new Error('usage: node leak.js SERVICE_URL TOPIC [N >= 10] [--retain K]');
  }
  return a;
}

async function main() {
  const a = args();
  const client = await pp.Client.create({ serviceUrl: a.url });
  const producer = await client.createProducer({
    topic: a.topic, batchingMaxMessages: 1000, blockIfQueueFull: true, maxPendingMessages: 10000,
  });
  const payload = Buffer.alloc(100, 'n');
  /** @type {Buffer[]} */
  const retained = [];
  let ok = 0;
  let failed = 0;
  /** @type {unknown} */
  let firstError = null;
  let unsettled = 0;
  /** @type {((value?: unknown) => void) | null} */
  let wake = null;
  const resolved = () => {
    ok++;
    if (--unsettled <= WINDOW >> 1 && wake !== null) wake(wake = null);
  };
  /** @param {unknown} e */
  const rejected = (e) => {
    if (failed++ === 0) firstError = e;
    if (--unsettled <= WINDOW >> 1 && wake !== null) wake(wake = null);
  };
  const step = Math.floor(a.n / 10);
  let nextSample = step;
  const t0 = process.hrtime.bigint();
  for (let sent = 0; sent < a.n;) {
    producer.send(payload).then(resolved, rejected);
    if (a.retain > 0 && sent % a.retain === 0) retained.push(Buffer.from(payload));
    sent++;
    if (++unsettled >= WINDOW) await new Promise((r) => { wake = r; });
    if (sent === nextSample) {
      console.log(`rss ${sent} ${rssKiB()}`);
      nextSample += step;
    }
  }
  while (unsettled > 0) await new Promise((r) => { wake = r; });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const acked = producer.stats().msgsAcked;
  await client.close();
  const missing = a.n - ok - failed;
  console.log(`result node sent ${a.n} ok ${ok} failed ${failed} missing ${missing} acked ${acked} seconds ${seconds.toFixed(1)}`);
  if (firstError !== null) console.error(`leak.js: first failure: ${firstError}`);
  if (a.retain > 0) console.error(`leak.js: kept ${retained.length} payloads on purpose (--retain ${a.retain})`);
  process.exitCode = failed || missing || acked !== a.n ? 1 : 0;
}

main().catch((e) => {
  console.error(`leak.js: ${e.stack || e}`);
  process.exit(1);
});
