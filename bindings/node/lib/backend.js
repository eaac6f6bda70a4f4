'use strict';
// backend.js: which backend runs a client: 'native' (libpulsar_producer
// through koffi: the leaner, on the platforms with a prebuilt library) or
// 'wasi' (pulsar_producer.wasm under node:wasi, sockets and TLS in
// JavaScript: no native code, so nothing built for the platform, and it
// runs in worker threads). A client's `backend` option chooses, else the
// PULSAR_PRODUCER_BACKEND environment variable, else 'native' where the
// library loads and 'wasi' where it does not (or in a worker thread, where
// the native backend refuses to load: koffi aborts the process when a
// worker is terminated). Each backend is loaded on first use.
const { isMainThread } = require('node:worker_threads');
const { makeError, codes } = require('./errors');

const NAMES = ['native', 'wasi'];
const loaded = new Map(); // name -> backend, or the Error its loading threw

function workerError() {
  const e = new Error('pulsar-producer: the native backend cannot be used in a worker thread: koffi aborts the ' +
    'whole process (exit code 134) when a worker is terminated while inside a native call. Use the wasi backend ' +
    "there (backend: 'wasi', the default in workers), or use the package from the main thread.");
  e.code = 'ERR_PULSAR_PRODUCER_WORKER_THREAD';
  return e;
}

function load(name) {
  if (!loaded.has(name)) {
    try {
      if (name === 'native') {
        if (!isMainThread) throw workerError();
        loaded.set(name, require('./native-backend'));
      } else {
        require('./wasi/module').load(); // a missing or corrupt module is an error now
        loaded.set(name, require('./wasi/backend'));
      }
    } catch (e) {
      loaded.set(name, e);
    }
  }
  const b = loaded.get(name);
  if (b instanceof Error) throw b;
  return b;
}

/** The backend a client runs on, from its `backend` option (undefined: the environment's, else automatic). */
function choose(option, where) {
  let name = option;
  let from = 'option "backend"';
  if (name === undefined) [name, from] = [process.env.PULSAR_PRODUCER_BACKEND || undefined, 'PULSAR_PRODUCER_BACKEND'];
  if (name === undefined || name === 'auto') {
    if (isMainThread) {
      try {
        return load('native');
      } catch { /* no library here: the module runs anywhere */ }
    }
    return load('wasi');
  }
  if (!NAMES.includes(name)) {
    throw makeError(codes.InvalidConfiguration, `${from} must be one of ${NAMES.join(', ')} (or auto), got ${JSON.stringify(name)} (${where})`);
  }
  return load(name);
}

/** The backend `choose(undefined)` gives here, by name, without creating anything: 'native' or 'wasi'. */
function defaultBackend() {
  return choose(undefined, 'defaultBackend').name;
}

module.exports = { choose, load, defaultBackend, NAMES };
