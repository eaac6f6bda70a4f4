'use strict';
// pulsar-producer: an Apache Pulsar producer for Node.js, on one of two
// backends with the same API (lib/backend.js): the C library
// libpulsar_producer loaded with koffi ('native'), or the WebAssembly build
// of the same engine under node:wasi with sockets in JavaScript ('wasi').
// See README.md for the API, lib/client.js and lib/producer.js for how
// sends, completions and the event loop interact.
//
// Nothing native is loaded here: the native backend loads on first use,
// and only on the main thread (koffi aborts the whole process when a
// worker is terminated inside it), so the package loads anywhere, and
// worker threads use the wasi backend.
const { PulsarError, errors, Result, resultInfo, resultTable, AbortError } = require('./lib/errors');
const { MessageId } = require('./lib/message-id');
const { Client, Producer } = require('./lib/client');
const { defaultBackend, load } = require('./lib/backend');
const { version } = require('./package.json');

/** The loaded native library's version and path, or null where it does not load. */
function nativeInfo() {
  try {
    load('native');
    return require('./lib/native');
  } catch {
    return null;
  }
}

module.exports = {
  Client, Producer, MessageId, PulsarError, AbortError, errors, Result, resultInfo, resultTable, defaultBackend,
  version, // this package's
};
Object.defineProperties(module.exports, {
  libraryVersion: { enumerable: true, get: () => nativeInfo()?.version ?? null }, // the native library's, "major.minor.patch"
  libraryPath: { enumerable: true, get: () => nativeInfo()?.file ?? null },
});
