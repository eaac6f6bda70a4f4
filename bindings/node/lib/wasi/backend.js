'use strict';
// wasi/backend.js: the WASI backend: the library calls client.js and
// producer.js make (the koffi backend's `fn`, with the same arguments,
// out-parameters and result codes), implemented over one module instance
// per client (host.js). So the public API, its checks and its promise
// bookkeeping are one code for both backends; only what lies under `fn`
// differs.
//
// Handles are numbers of this file's own, for clients and producers alike,
// never reused; a stale one gets InvalidHandle-like AlreadyClosed answers,
// as the library gives. A call returns its code (or a Promise of it, for
// the calls that wait: creation, close), and asyncCall runs it on the next
// microtask, so a caller's continuation never runs inside the call, as
// with a call on a libuv thread.
const { codes } = require('../errors');
const { Host, ROW } = require('./host');
const { nowNs } = require('./module');
const { functionSource } = require('./credentials');
const { WasiBatch, failInto } = require('./batch');
const { percentiles } = require('./stats');

const clients = new Map(); // handle -> Host
const producers = new Map(); // handle -> { host, id }
let nextHandle = 1;

const closedClient = { code: codes.AlreadyClosed, message: 'the client is closed' };
const closedProducer = { code: codes.AlreadyClosed, message: 'the producer is closed' };

function producerOf(h) {
  const p = producers.get(h);
  if (!p) return null;
  const state = p.host.producers.get(p.id);
  return state ? { ...p, state } : null;
}

const fn = {
  clientStart(url, urlLen, json, out, err, errLen) {
    let host;
    try {
      host = new Host(url.toString('utf8', 0, urlLen), json, JSON.parse(json), codes);
    } catch (e) {
      if (e.code !== undefined && typeof e.code === 'number') return failInto(err, e);
      if (e.pulsarCode !== undefined) return failInto(err, { code: e.pulsarCode, message: e.message });
      throw e; // the module cannot be loaded: the caller's error
    }
    const h = nextHandle++;
    clients.set(h, host);
    out[0] = BigInt(h);
    return codes.Ok;
  },

  clientClose(h, timeoutMs, err, errLen) {
    const host = clients.get(h);
    if (!host || host.closed) return failInto(err, closedClient);
    host.closed = true;
    const f = host.broken ? null : host.call('ppw_client_close', nowNs());
    return f ? failInto(err, f) : codes.Ok;
  },

  clientStop(h) {
    const host = clients.get(h);
    if (!host) return codes.AlreadyClosed;
    clients.delete(h);
    for (const [ph, p] of producers) if (p.host === host) producers.delete(ph);
    host.stop();
    return codes.Ok;
  },

  producerOpen(ch, topic, topicLen, json, out, err, errLen) {
    const host = clients.get(ch);
    if (!host || host.closed) return failInto(err, closedClient);
    if (host.broken) return failInto(err, { code: codes.UnknownError, message: host.broken.message });
    const [tptr, tlen] = host.in.putString(host.in.input, topic.toString('utf8', 0, topicLen));
    const [optr, olen] = host.in.putString(host.in.extra, json);
    let f;
    try {
      f = host.in.check('ppw_producer_create', tptr, tlen, optr, olen, nowNs());
    } catch (e) {
      f = host.trapped(e);
    }
    if (f) return failInto(err, f);
    const id = host.in.result(0);
    const h = nextHandle++;
    // Known to the host before it acts on the call's events, which may already name the producer.
    host.producers.set(id, { handle: h, state: 'creating', name: '', partitions: 0, error: null, stats: null, waiters: [] });
    host.drive();
    producers.set(h, { host, id });
    out[0] = BigInt(h);
    return codes.Ok;
  },

  async producerWait(h, timeoutMs, err, errLen) {
    let p = producerOf(h);
    if (!p) return failInto(err, closedProducer);
    if (p.state.state === 'creating') await p.host.waitFor(p.id, 'creating', timeoutMs);
    p = producerOf(h);
    if (!p) return failInto(err, closedProducer);
    switch (p.state.state) {
      case 'ready': return codes.Ok;
      case 'creating': return codes.ProducerNotInitialized;
      case 'failed': return failInto(err, p.state.error);
      default: return failInto(err, closedProducer);
    }
  },

  flush(h, timeoutMs, err, errLen) {
    const p = producerOf(h);
    if (!p) return failInto(err, closedProducer);
    const f = p.host.call('ppw_flush', BigInt(p.id), nowNs());
    return f ? failInto(err, f) : codes.Ok;
  },

  async close(h, timeoutMs, err, errLen) {
    const p = producerOf(h);
    if (!p) return failInto(err, closedProducer);
    const { host, id } = p;
    if (p.state.state === 'failed' || p.state.state === 'closed') {
      if (!host.broken) host.call('ppw_producer_close', BigInt(id), nowNs());
      return codes.Ok;
    }
    const f = host.call('ppw_producer_close', BigInt(id), nowNs());
    if (f && f.code !== codes.AlreadyClosed) return failInto(err, f);
    if (p.state.state === 'ready') await host.waitFor(id, 'ready', timeoutMs);
    if (p.state.state === 'ready') {
      const message = `closing the producer timed out after ${timeoutMs} ms`;
      host.abort(id, codes.Timeout, message);
      return failInto(err, { code: codes.Timeout, message });
    }
    return codes.Ok;
  },

  stop(h) {
    const p = producers.get(h);
    if (!p) return codes.AlreadyClosed;
    producers.delete(h);
    const { host, id } = p;
    const state = host.producers.get(id);
    if (state && state.state !== 'closed' && !host.broken && !host.stopped) {
      if (state.state === 'creating' || state.state === 'ready') host.abort(id, codes.AlreadyClosed, 'the producer was stopped');
      host.call('ppw_producer_close', BigInt(id), nowNs()); // the module keeps a failed producer until it is closed
    }
    if (state) host.settleProducer(state, 'closed', 0, null);
    host.producers.delete(id);
    return codes.Ok;
  },

  producerName(h, buf, size, needed) {
    const p = producerOf(h);
    if (!p) return codes.AlreadyClosed;
    const b = Buffer.from(p.state.name);
    needed[0] = b.length + 1;
    if (b.length + 1 > size) return codes.BufferTooSmall;
    b.copy(buf);
    buf[b.length] = 0;
    return codes.Ok;
  },

  partitions(h, out) {
    const p = producerOf(h);
    if (!p) return codes.AlreadyClosed;
    if (p.host.broken) return codes.UnknownError;
    try {
      if (p.host.in.call('ppw_partitions', BigInt(p.id)) === codes.Ok) out[0] = p.host.in.result(0);
    } catch (e) {
      return p.host.trapped(e).code;
    }
    return codes.Ok;
  },

  drain(ch, rows, capacity, timeoutMs, count) {
    const host = clients.get(ch);
    if (!host) return codes.AlreadyClosed;
    const n = host.drain(rows, capacity);
    count[0] = BigInt(n);
    if (n > 0) return codes.Ok;
    if (host.broken) return codes.UnknownError; // every message handed over fails with the trap's error
    return host.closed ? codes.AlreadyClosed : codes.Ok;
  },
};

/** Calls f(...args), on the next microtask; done(err, rc) follows once its result (or Promise) settles. */
function asyncCall(f, args, done) {
  queueMicrotask(() => {
    let r;
    try {
      r = f(...args);
    } catch (e) {
      done(e);
      return;
    }
    if (r && typeof r.then === 'function') r.then((rc) => done(null, rc), (e) => done(e));
    else done(null, r);
  });
}

const STAT_NAMES = ['msgsSent', 'bytesSent', 'msgsAcked', 'bytesAcked', 'msgsFailed', 'bytesFailed', 'pendingMsgs', 'pendingBytes', 'reconnects'];

/** A stats record (host.js) as the koffi backend reports pp_stats. */
function statsObject(r) {
  const s = {};
  STAT_NAMES.forEach((n, i) => { s[n] = r[i]; });
  Object.assign(s, percentiles(r.subarray(9, 28), r[28]));
  s.producers = r.length > 29 ? r[29] : 0;
  s.connections = r.length > 30 ? r[30] : 0;
  s.connects = r.length > 31 ? r[31] : 0;
  return s;
}

const backend = {
  name: 'wasi',
  fn,
  asyncCall,
  Batch: WasiBatch,
  layout: { completion: { size: ROW, producer: 0, user_data: 8, result: 16, id: 24, error: 72 },
    messageId: { size: 48, ledger_id: 0, entry_id: 8, partition: 16, batch_index: 20, batch_size: 24, flags: 28,
      first_chunk_ledger_id: 32, first_chunk_entry_id: 40 } },

  /** The text of the error in a drained row (its error field holds an ID of host.js). */
  errorText(ch, rows, at) {
    const host = clients.get(ch);
    return host ? host.errors.get(rows.readUInt32LE(at)) : undefined;
  },

  /** Why draining ended: the trap that broke the module, or null for an orderly end. */
  drainError(ch) {
    const host = clients.get(ch);
    return host && host.broken ? host.broken.message : null;
  },

  /** A handle like koffi's poll handle: onReadable runs (once per start) after completions or logs were queued. */
  watch(ch, onReadable) {
    const host = clients.get(ch);
    let started = true;
    let scheduled = false;
    const hold = setInterval(() => {}, 2 ** 30);
    const fire = () => {
      scheduled = false;
      if (started) onReadable();
    };
    host.notify = () => {
      if (started && !scheduled) {
        scheduled = true;
        setImmediate(fire);
      }
    };
    return {
      start() {
        started = true;
        if (host.count > 0 || host.logs.length > 0 || (host.closed && !scheduled)) host.notify();
      },
      stop() { started = false; },
      ref() { hold.ref(); },
      unref() { hold.unref(); },
      close() {
        started = false;
        clearInterval(hold);
        host.notify = () => {};
      },
    };
  },

  clientStats(ch) {
    const host = clients.get(ch);
    const r = host && !host.broken ? host.in.stats(null) : null;
    return r === null ? { rc: codes.AlreadyClosed, stats: null } : { rc: codes.Ok, stats: statsObject(r) };
  },

  producerStats(h) {
    const p = producers.get(h);
    if (!p) return { rc: codes.AlreadyClosed, stats: null };
    const state = p.host.producers.get(p.id);
    let r = state && state.stats;
    if (!r && !p.host.broken) {
      try {
        r = p.host.in.stats(p.id);
      } catch (e) {
        p.host.trapped(e);
      }
    }
    // A producer's record has no client fields: they read 0, as in the library's pp_producer_stats.
    return r ? { rc: codes.Ok, stats: statsObject(r) } : { rc: codes.AlreadyClosed, stats: null };
  },

  /** Log records waiting, oldest first (null for none). */
  takeLogs(ch) {
    const host = clients.get(ch);
    if (!host || host.logs.length === 0) return null;
    const logs = host.logs;
    host.logs = [];
    return logs;
  },

  /** Makes fn the source of client ch's tokens; failed(e) hears its exceptions. */
  installAuth(ch, authFn, failed) {
    const host = clients.get(ch);
    host.credentials = functionSource(authFn, codes, failed);
  },

  removeAuth() {},
};

WasiBatch.hostOf = (h) => producers.get(h) || null;

/** The host of client handle ch (for tests that reach into the module). */
backend.hostForTests = (ch) => clients.get(ch);

module.exports = backend;
