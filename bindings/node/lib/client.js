'use strict';
// client.js: Client (a connection pool to one cluster, whose producers share
// its memory limit and its completion queue) and Producer.create (a
// producer with a client of its own). A client runs on a backend
// (backend.js): its library calls go through the backend's `fn`, named as
// the C ABI's; the native backend passes them to the library, the wasi
// backend to the module's host (wasi/backend.js).
//
// Completions: the library keeps the client's event fd (a pipe it owns)
// readable while completions or log records wait. A libuv poll handle on
// the Node event loop (koffi.node.poll) watches it without reading it (the
// wasi backend's watch handle fires a turn after its host queued some);
// when it fires, the client stops watching, takes up to CAPACITY
// completions with one pp_drain .async() call that does not wait, settles
// their promises, and drains again at once if the array came back full,
// else watches again. The
// handle holds the event loop only while messages are unsettled or the
// client is closing; a busy client is also held in `active`, and an idle one
// dropped without close() is stopped when collected.
//
// Creation: pp_producer_open returns at once; pp_producer_wait then waits in
// .async() calls of at most WAIT_SLICE_MS (a call holds a libuv thread, and
// process.exit() waits for it), re-issued until the producer is ready or
// creation fails; an AbortSignal or close() cancels it with pp_stop.
//
// Credentials: an `auth` function becomes the client's token supplier
// (auth.js; the wasi host calls it itself) before any producer starts; its
// exceptions are logged and named in the error of a creation that fails to
// authenticate.
const EventEmitter = require('node:events');
const { makeError, codes, invalid, AbortError } = require('./errors');
const { optionsJson, scopeOf, typeName } = require('./options');
const { MessageId, ID_DUPLICATE, ID_CHUNKED } = require('./message-id');
const { Producer, secret, call, text, timeoutOf, ERRLEN } = require('./producer');
const hooks = require('./hooks');
const backends = require('./backend');
const { schemaShape } = require('./schema');

const CAPACITY = 4096;
const WAIT_SLICE_MS = 250;
const LOG_EVERY_MS = 1000;
const TWO32 = 4294967296;

/** Word (32-bit) offsets in a pp_completion row of a backend's layout. */
function rowWords(layout) {
  const [C, MI] = [layout.completion, layout.messageId];
  return Object.fromEntries(Object.entries({ producer: C.producer, ud: C.user_data, result: C.result, ledger: C.id + MI.ledger_id,
    entry: C.id + MI.entry_id, part: C.id + MI.partition, bindex: C.id + MI.batch_index, bsize: C.id + MI.batch_size,
    flags: C.id + MI.flags, firstLedger: C.id + MI.first_chunk_ledger_id, firstEntry: C.id + MI.first_chunk_entry_id,
    error: C.error, row: C.size }).map(([k, v]) => [k, v >> 2]));
}

const active = new Set(); // clients with work in flight
const registry = new FinalizationRegistry(({ b, h, poll }) => {
  poll.close();
  b.removeAuth(h);
  b.asyncCall(b.fn.clientStop, [h, 0, null, 0], () => {});
});

// Options of this package's own, not the library's.
const PRODUCER_OWN = ['topic', 'signal', 'router', 'interceptors'];
const CLIENT_OWN = ['serviceUrl', 'auth', 'backend'];

const OTHER_WAYS = ['authToken', 'authTokenFile', 'authOAuth2'];

/** Checks the auth option against the other credentials: returns 'token' (a string), 'function', or null. */
function authKind(options) {
  const v = options.auth;
  if (v === undefined) return null;
  const other = OTHER_WAYS.find((k) => options[k] !== undefined);
  if (other) throw makeError(codes.InvalidConfiguration, `set only one way to authenticate, not auth and ${other}`);
  if (typeof v === 'function') return 'function';
  if (typeof v !== 'string') throw makeError(codes.InvalidConfiguration, `option "auth" must be a token string or a function returning one, got ${typeName(v)}`);
  if (v.trim() === '') throw makeError(codes.InvalidConfiguration, 'option "auth" is an empty token');
  return 'token';
}

/** The library options of a client as JSON; a token string in `auth` is the authToken option. */
function clientJson(options, where, other) {
  const kind = authKind(options);
  const given = kind === 'token' ? { ...options, authToken: options.auth } : options;
  return optionsJson(given, 'client', CLIENT_OWN, where, other);
}

function need(v, name, code, where) {
  if (typeof v !== 'string' || v === '') throw makeError(code, `${name} is required and must be a non-empty string (${where})`);
  const b = Buffer.from(v); // passed with its exact length
  const nul = b.indexOf(0);
  if (nul >= 0) throw makeError(code, `${name} ${JSON.stringify(v)} contains a NUL character at byte ${nul}`);
  return b;
}

function optionsObject(o, where, what) {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) {
    throw makeError(codes.InvalidConfiguration, `${where} needs an options object with ${what}, got ${typeName(o)}`);
  }
  return o;
}

// The poll callback holds its client weakly (made outside the constructor,
// whose closures share a context that holds `this`).
function onReadable(weak) {
  return () => {
    const c = weak.deref();
    if (c !== undefined) c._drain();
  };
}

const abortError = (signal) => new AbortError('producer creation was aborted', { cause: signal.reason });
const key = Symbol('Client');

class Client extends EventEmitter {
  /** Starts a client (connecting lazily, when a producer needs it). */
  static async create(options) {
    optionsObject(options, 'Client.create', 'serviceUrl');
    return Client._start(options, 'Client.create', clientJson(options, 'Client.create', 'createProducer'));
  }

  static _start(options, where, json) {
    const url = need(options.serviceUrl, 'serviceUrl', codes.InvalidUrl, where);
    const b = backends.choose(options.backend, where);
    const out = new BigUint64Array(1);
    const err = Buffer.alloc(ERRLEN);
    const rc = b.fn.clientStart(url, url.length, json, out, err, ERRLEN);
    if (rc !== codes.Ok) throw makeError(rc, text(err));
    const client = new Client(key, b, Number(out[0]), options.serviceUrl);
    if (typeof options.auth === 'function') {
      const weak = new WeakRef(client);
      try {
        b.installAuth(client._h, options.auth, (e) => weak.deref()?._authFailed(e));
      } catch (e) {
        registry.unregister(client);
        client._poll.close();
        b.fn.clientStop(client._h, 0, null, 0);
        throw e;
      }
    }
    return client;
  }

  constructor(k, b, h, serviceUrl) {
    if (k !== key) throw new TypeError('use Client.create() to create a Client');
    super();
    this._b = b; // the backend (backend.js)
    this._W = rowWords(b.layout);
    this._h = h;
    this._serviceUrl = serviceUrl;
    this._producers = new Map(); // handle -> Producer, until its last completion was taken
    this._creating = new Set(); // cancel functions of creations in progress
    this._roomWaiters = new Set(); // producers whose next message waits for room
    this._unsettled = 0; // messages accepted by the library whose completion was not taken
    this._rows = Buffer.allocUnsafeSlow(CAPACITY * this._W.row * 4);
    [this._u32, this._i32] = [Uint32Array, Int32Array].map((T) => new T(this._rows.buffer, this._rows.byteOffset, this._rows.length >> 2));
    this._count = new BigUint64Array(1);
    this._logsAt = Date.now();
    this._draining = false;
    this._finished = false; // pp_drain said the closed client has no completion left
    this._closing = this._ref = false;
    this._closePromise = this._lastStats = this._onFinished = null;
    this._failure = null; // what ended the client, if it failed (the WASI module trapped)
    this._authError = null; // the last exception of the auth function
    this._authFailures = 0; // how many times it threw
    this._onReadable = onReadable(new WeakRef(this));
    this._onDrained = (err, rc) => this._drained(err, rc);
    this._poll = b.watch(h, this._onReadable);
    if (this._poll === null) {
      b.fn.clientStop(h, 0, null, 0);
      throw makeError(codes.UnknownError, 'cannot watch the completions of the client');
    }
    this._poll.unref();
    registry.register(this, { b, h, poll: this._poll }, this);
  }

  get serviceUrl() { return this._serviceUrl; }
  /** The backend the client runs on: 'native' or 'wasi'. */
  get backend() { return this._b.name; }
  get closed() { return this._closing; }

  /** Creates a producer ({ topic, signal?, ...options }); resolves once it is registered. */
  async createProducer(options) {
    optionsObject(options, 'createProducer', 'topic');
    return this._createProducer(options, 'createProducer', undefined);
  }

  async _createProducer(options, where, json) {
    const { topic, signal } = options;
    const t = need(topic, 'topic', codes.InvalidTopicName, where);
    if (json === undefined) json = optionsJson(options, 'producer', PRODUCER_OWN, where, 'Client.create');
    const userHooks = { router: hooks.checkRouter(options.router), interceptors: hooks.checkInterceptors(options.interceptors) };
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalid(`signal must be an AbortSignal, got ${typeName(signal)}`);
    if (signal && signal.aborted) throw abortError(signal);
    if (this._failure) throw this._failure;
    if (this._closing) throw makeError(codes.AlreadyClosed, 'the client is closed');
    const { fn } = this._b;
    const out = new BigUint64Array(1);
    const err = Buffer.alloc(ERRLEN);
    const authFailures = this._authFailures;
    let rc = fn.producerOpen(this._h, t, t.length, json, out, err, ERRLEN);
    if (rc !== codes.Ok) throw makeError(rc, text(err));
    const h = Number(out[0]);
    let cancelled = null;
    const cancel = (e) => {
      if (cancelled !== null) return;
      cancelled = e;
      this._b.asyncCall(fn.stop, [h, 0, null, 0], () => {});
    };
    const onAbort = () => cancel(abortError(signal));
    if (signal) signal.addEventListener('abort', onAbort, { once: true });
    this._creating.add(cancel);
    try {
      for (;;) {
        rc = await call(this._b, fn.producerWait, h, WAIT_SLICE_MS, err, ERRLEN);
        if (cancelled !== null) throw cancelled;
        if (rc === codes.Ok) break;
        if (rc === codes.ProducerNotInitialized) continue; // still being created
        cancelled = this._creationError(rc, text(err), authFailures);
        await call(this._b, fn.stop, h, 0, null, 0);
        throw cancelled;
      }
    } finally {
      if (signal) signal.removeEventListener('abort', onAbort);
      this._creating.delete(cancel);
    }
    const [needed, partitions] = [[0], [0]];
    let name = Buffer.alloc(256);
    if (fn.producerName(h, name, 256, needed) === codes.BufferTooSmall) fn.producerName(h, name = Buffer.alloc(Number(needed[0])), name.length, needed);
    fn.partitions(h, partitions);
    const p = new Producer(secret, this, h, topic, text(name), partitions[0], options.blockIfQueueFull === true,
      { shape: schemaShape(options.schema), ...userHooks });
    this._producers.set(h, p);
    return p;
  }

  /** Why creation failed; an authentication failure names the auth function's exception, if it threw since `since`. */
  _creationError(rc, message, since) {
    const e = this._authError;
    if (rc !== codes.AuthenticationError || this._authFailures === since) return makeError(rc, message);
    const err = makeError(rc, `${message} (the auth function failed: ${e instanceof Error ? e.message : String(e)})`);
    err.cause = e;
    return err;
  }

  /** The auth function threw: remembered for creation errors, and logged. */
  _authFailed(e) {
    this._authError = e;
    this._authFailures++;
    this._log({ level: 'error', time: new Date(), message: `the auth function failed: ${e instanceof Error ? e.message : String(e)}`,
      topic: '', producerName: '', broker: '', connection: 0 });
  }

  /** Counters of the client: sums over its producers, and its connections. */
  stats() {
    if (this._lastStats) return { ...this._lastStats };
    const { rc, stats } = this._b.clientStats(this._h);
    if (rc !== codes.Ok) throw makeError(rc, 'cannot read the stats of the client');
    return stats;
  }

  /** Closes every producer (waiting up to timeoutMs in all), cancels creations, frees the client. Idempotent. */
  close(options) {
    if (this._closePromise === null) {
      let timeoutMs;
      try {
        timeoutMs = timeoutOf(options);
      } catch (e) {
        return Promise.reject(e);
      }
      this._closing = true;
      this._closePromise = this._doClose(Date.now() + timeoutMs);
    }
    return this._closePromise;
  }

  async _doClose(deadline) {
    this._update(); // closing holds the event loop
    for (const cancel of this._creating) cancel(makeError(codes.AlreadyClosed, 'the client was closed while the producer was being created'));
    const closed = await Promise.allSettled([...this._producers.values()].map((p) => p._close(deadline)));
    const err = Buffer.alloc(ERRLEN);
    const { fn } = this._b;
    const rc = await call(this._b, fn.clientClose, this._h, Math.max(0, Math.min(deadline - Date.now(), 0x7fffffff)), err, ERRLEN);
    this._lastStats = this._b.clientStats(this._h).stats;
    this._update();
    if (!this._finished) {
      await new Promise((resolve) => {
        this._onFinished = resolve;
        this._drain();
      });
    }
    this._poll.close(); // before the library closes the fd
    registry.unregister(this);
    await call(this._b, fn.clientStop, this._h, 0, null, 0);
    this._b.removeAuth(this._h);
    const failed = closed.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    if (rc !== codes.Ok && rc !== codes.AlreadyClosed) throw makeError(rc, text(err));
  }

  // ---- completions ---------------------------------------------------------

  /** Counts messages a producer handed over; the poll handle holds the loop while any is unsettled. */
  _accepted(n) {
    this._unsettled += n;
    if (n > 0 && !this._ref) this._update();
  }

  _update() {
    const busy = (this._unsettled > 0 || this._closing) && !this._finished;
    if (busy === this._ref) return;
    this._ref = busy;
    if (busy) this._poll.ref();
    else this._poll.unref();
    active[busy ? 'add' : 'delete'](this);
  }

  _drain() {
    if (this._draining || this._finished) return;
    this._draining = true;
    this._poll.stop();
    this._b.asyncCall(this._b.fn.drain, [this._h, this._rows, CAPACITY, 0, this._count], this._onDrained);
  }

  _drained(err, rc) {
    this._draining = false;
    let n = 0;
    if (!err && rc === codes.Ok) {
      n = Number(this._count[0]);
      if (n > 0) this._settle(n);
    } else {
      // AlreadyClosed: the client is closed and every completion was taken.
      this._finished = true;
      this._update();
      const why = err ? `pp_drain failed: ${err.message}` : this._b.drainError(this._h) || 'the client was stopped';
      this._failure = rc === codes.AlreadyClosed && !err ? null : makeError(err ? codes.UnknownError : rc, why);
      for (const p of this._producers.values()) p._abandon(this._failure || makeError(rc, why));
      for (const r of this._takeLogs() || []) this._log(r); // the last records, such as why the client failed
      if (this._onFinished) this._onFinished();
      return;
    }
    for (const p of this._roomWaiters) if (n > 0) p._retry();
    if (n > 0) this._roomWaiters.clear();
    this._update();
    const logs = n === 0 || Date.now() - this._logsAt >= LOG_EVERY_MS ? this._takeLogs() : null;
    if (n === CAPACITY) this._drain();
    else this._poll.start();
    if (logs) for (const r of logs) this._log(r);
  }

  /** Settles the promises of the first n rows of the drain array. */
  _settle(n) {
    const u32 = this._u32;
    const i32 = this._i32;
    const W = this._W;
    let lastH = -1;
    let p;
    for (let i = 0, w = 0; i < n; i++, w += W.row) {
      const h = u32[w + W.producer] + u32[w + W.producer + 1] * TWO32;
      if (h !== lastH) {
        if (p !== undefined) p._check();
        p = this._producers.get(h);
        lastH = h;
      }
      if (p === undefined) continue; // cannot happen: a producer stays until its last completion
      const token = u32[w + W.ud] + u32[w + W.ud + 1] * TWO32;
      const rc = i32[w + W.result];
      if (rc === codes.Ok) {
        const flags = i32[w + W.flags];
        const part = i32[w + W.part];
        const first = (flags & ID_CHUNKED) === 0 ? null : new MessageId(i32[w + W.firstLedger + 1] * TWO32 + u32[w + W.firstLedger],
          i32[w + W.firstEntry + 1] * TWO32 + u32[w + W.firstEntry], part);
        p._pending.resolve(token, new MessageId(i32[w + W.ledger + 1] * TWO32 + u32[w + W.ledger],
          i32[w + W.entry + 1] * TWO32 + u32[w + W.entry], part, i32[w + W.bindex], i32[w + W.bsize],
          (flags & ID_DUPLICATE) !== 0, first));
      } else {
        p._pending.reject(token, makeError(rc, this._b.errorText(this._h, this._rows, (w + W.error) * 4) || undefined));
      }
      p._unsettled--;
    }
    if (p !== undefined) p._check();
    this._unsettled -= n;
  }

  _takeLogs() {
    this._logsAt = Date.now();
    return this._b.takeLogs(this._h);
  }

  /** Emits a log record as 'log'; with no listener, writes it to stderr. */
  _log(r) {
    if (this.emit('log', r)) return;
    const where = ['topic', 'producerName', 'broker'].filter((k) => r[k]).map((k) => `${k}=${r[k]}`);
    process.stderr.write(`pulsar-producer ${r.level}: ${r.message}${where.length ? ` (${where.join(', ')})` : ''}\n`);
  }
}

/** The one-producer convenience: a client of its own, closed with the producer. */
Producer.create = async function create(options) {
  optionsObject(options, 'Producer.create', 'serviceUrl and topic');
  need(options.topic, 'topic', codes.InvalidTopicName, 'Producer.create');
  const split = { client: {}, producer: {} };
  for (const [k, v] of Object.entries(options)) split[scopeOf(k) === 'client' || CLIENT_OWN.includes(k) ? 'client' : 'producer'][k] = v;
  const producerJson = optionsJson(split.producer, 'producer', ['serviceUrl', ...PRODUCER_OWN], 'Producer.create');
  const client = Client._start(options, 'Producer.create', clientJson(split.client, 'Producer.create'));
  try {
    const p = await client._createProducer(options, 'Producer.create', producerJson);
    p._owner = true;
    return p;
  } catch (e) {
    await client.close().catch(() => {});
    throw e;
  }
};

module.exports = { Client, Producer };
