'use strict';
// native-backend.js: the native backend: libpulsar_producer loaded with
// koffi (native.js). client.js and producer.js make their library calls
// through a backend object; this one passes them to the C ABI: `fn` is the
// library's functions, calls that wait run with .async() on libuv threads,
// completions are drained as pp_completion rows when the client's event fd
// is readable, and an `auth` function becomes the library's token supplier
// (auth.js).
const native = require('./native');
const { Batch } = require('./batch');
const auth = require('./auth');
const { codes } = require('./errors');

const LEVELS = ['debug', 'info', 'warn', 'error']; // PP_LOG_*
const LOG_CAPACITY = 256;
const logRows = Buffer.alloc(LOG_CAPACITY * native.logRecordSize);

module.exports = {
  name: 'native',
  fn: native.fn,
  asyncCall: native.asyncCall,
  Batch,
  layout: native.layout,

  errorText: (ch, rows, at) => native.readCString(rows, at),

  drainError: () => null,

  /** A koffi poll handle on the client's event fd: onReadable runs while it is readable and the handle is started. */
  watch(ch, onReadable) {
    const fd = [0];
    const rc = native.fn.eventFd(ch, fd);
    if (rc !== codes.Ok) return null;
    const poll = native.koffi.node.poll(fd[0], { readable: true }, onReadable);
    return {
      start: () => poll.start({ readable: true }, onReadable),
      stop: () => poll.stop(),
      ref: () => poll.ref(),
      unref: () => poll.unref(),
      close: () => poll.close(),
    };
  },

  clientStats: (ch) => native.stats(native.fn.clientStats, ch),
  producerStats: (h) => native.stats(native.fn.producerStats, h),

  /** Log records waiting in the library, oldest first (null for none). */
  takeLogs(ch) {
    const count = [0];
    if (native.fn.logs(ch, logRows, LOG_CAPACITY, count) !== codes.Ok || Number(count[0]) === 0) return null;
    return native.logRecords(logRows, Number(count[0])).map((r) => ({
      level: LEVELS[r.level] || String(r.level), time: new Date(Number(r.time_ms)), message: r.message, topic: r.topic,
      producerName: r.producer_name, broker: r.broker, connection: Number(r.connection),
    }));
  },

  installAuth: auth.install,
  removeAuth: auth.remove,
};
