#!/usr/bin/env node
'use strict';
// demo.js: publishes a few messages with pulsar-producer and prints their
// message IDs. Used by `make demo` (tests/demo.sh) as
// `node examples/node/demo.js [service_url] [topic] [native|wasi]`, once per
// backend; runs from a checkout (after `make node`) against a running broker.
const { Producer } = require('../../bindings/node');

async function main() {
  const serviceUrl = process.argv[2] || 'pulsar://127.0.0.1:6650';
  const topic = process.argv[3] || 'persistent://public/default/pp-demo';
  const backend = process.argv[4]; // undefined: the default (native where the library loads, else wasi)
  const producer = await Producer.create({ serviceUrl, topic, batchingMaxPublishDelay: 5, backend });
  console.log(`node producer:  ${producer.name} (${producer.partitions} partitions, ${producer.client.backend} backend)`);
  const id = await producer.send('hello from Node', { key: 'demo', properties: { lang: 'node' } });
  console.log(`node send:      ${id}`);
  const ids = await Promise.all([1, 2, 3].map((i) => producer.send(Buffer.from(`batched ${i}`))));
  for (const b of ids) console.log(`node batched:   ${b}`);
  await producer.close();
}

main().catch((e) => {
  console.error(`node demo: ${e.name}: ${e.message}`);
  process.exit(1);
});
