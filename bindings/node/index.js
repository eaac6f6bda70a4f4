'use strict';
// pulsar-producer: an Apache Pulsar producer for Node.js over the C ABI of
// libpulsar_producer (loaded with koffi). See README.md for the API,
// lib/client.js and lib/producer.js for how sends, completions and the
// event loop interact.
//
// The native backend runs on the main thread only. koffi aborts the whole
// process (exit code 134) when worker.terminate() lands while the worker is
// inside koffi (loading it, declaring functions or types, decoding), and
// no koffi release avoids that; so this check runs before koffi is loaded.
const { isMainThread } = require('node:worker_threads');

if (!isMainThread) {
  const e = new Error('pulsar-producer cannot be used in a worker thread: its native backend (koffi) aborts the ' +
    'whole process (exit code 134) when a worker is terminated while inside a native call, so it refuses to ' +
    'load outside the main thread. Use it from the main thread, and pass messages to it (worker.postMessage).');
  e.code = 'ERR_PULSAR_PRODUCER_WORKER_THREAD';
  throw e;
}

const native = require('./lib/native');
const { PulsarError, errors, Result, resultInfo, resultTable, AbortError } = require('./lib/errors');
const { MessageId } = require('./lib/message-id');
const { Client, Producer } = require('./lib/client');

module.exports = {
  Client, Producer, MessageId, PulsarError, AbortError, errors, Result, resultInfo, resultTable,
  version: native.PACKAGE_VERSION, // this package's
  libraryVersion: native.version, // the loaded library's, "major.minor.patch"
  libraryPath: native.file,
};
