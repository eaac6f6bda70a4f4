'use strict';
// producer.js: Producer, the promise API over one producer of a Client.
//
// send() checks its arguments, gives the message a token (its user_data)
// and writes it into the staging Batch (the backend's: batch.js for the
// library, wasi/batch.js for the module); its promise waits in `_pending`.
// Batches are handed over in one call each (native: .async()), one call
// per producer at a time (so in send order), with PP_SEND_NONBLOCK: no
// thread waits for room. With blockIfQueueFull, a message refused for want
// of room stays first in line, its promise pending, until the client has
// taken completions (room appears only then); without, it is rejected. The
// client settles promises from its drained completions (client.js).
//
// A message object ({ data } or { value }), and every send of a producer
// with a router or interceptors, goes through _sendMessage: the
// interceptors (hooks.js), the value turned into pp_message.value_json for
// the schema (schema.js), and the router's partition, all before staging.
// Plain sends skip it, so they cost what they did.
const { makeError, codes, invalid } = require('./errors');
const { prepare, asBytes } = require('./message');
const { typeName } = require('./options');
const { Pending } = require('./pending');
const hooks = require('./hooks');
const { valueJson } = require('./schema');

const ERRLEN = 1024;
const NONBLOCK = 1; // PP_SEND_NONBLOCK
const POOL_MAX = 8; // idle batches kept per producer (about 150 KB each)
const DEFAULT_TIMEOUT_MS = 30000;
const PARTITIONS_EVERY_MS = 1000; // how stale the router's partition count may be
const EMPTY = new Uint8Array(0);

// Results that refuse one message; any other refusal fails the producer.
const PER_MESSAGE = new Set([codes.InvalidMessage, codes.InvalidArgument, codes.MessageTooBig,
  codes.ProducerQueueIsFull, codes.MemoryBufferIsFull]);

/** Calls a library function of backend b off the caller's turn (native: on a libuv thread); resolves with its result. */
function call(b, f, ...args) {
  return new Promise((resolve, reject) => {
    b.asyncCall(f, args, (err, rc) => (err ? reject(err) : resolve(rc)));
  });
}

/** The NUL-terminated text in buf. */
function text(buf) {
  const n = buf.indexOf(0);
  return buf.toString('utf8', 0, n < 0 ? buf.length : n);
}

/** The timeoutMs of flush/close options (default 30 s). */
function timeoutOf(options) {
  if (options === undefined || options === null) return DEFAULT_TIMEOUT_MS;
  if (typeof options !== 'object') throw invalid(`options must be an object, got ${typeName(options)}`);
  const t = options.timeoutMs;
  if (t === undefined) return DEFAULT_TIMEOUT_MS;
  if (!Number.isInteger(t) || t < 0 || t > 0x7fffffff) throw invalid(`timeoutMs must be an integer from 0 to 2^31-1, got ${String(t)}`);
  return t;
}

// One executor for every send's promise: no closure per send.
const captured = { resolve: null, reject: null };
function capture(resolve, reject) {
  captured.resolve = resolve;
  captured.reject = reject;
}

/** A send's data as bytes or a string, or null for a null value; else InvalidArgument. */
function payloadOf(data) {
  if (data instanceof Uint8Array || typeof data === 'string' || data === null) return data;
  const bytes = asBytes(data);
  if (bytes === null) throw invalid(`payload must be a Buffer, Uint8Array, string or null, got ${typeName(data)}`);
  return bytes;
}

const secret = Symbol('Producer');

class Producer {
  /** Use client.createProducer() or Producer.create(). */
  constructor(key, client, h, topic, name, partitions, block, { shape, router, interceptors }) {
    if (key !== secret) throw new TypeError('use client.createProducer() or Producer.create() to create a Producer');
    Object.assign(this, { _client: client, _b: client._b, _h: h, _topic: topic, _name: name, _partitions: partitions, _block: block });
    // The schema's types (null: BYTES), the router, the interceptors (null: none).
    Object.assign(this, { _shape: shape, _router: router, _interceptors: interceptors });
    this._hooked = router !== undefined || interceptors !== null; // sends go through _sendMessage
    this._partitionsAt = Date.now(); // when _partitions was read
    this._partitionsOut = [0];
    this._readingPartitions = false;
    this._owner = false; // from Producer.create: closing it closes its client
    this._pending = new Pending(); // promise functions of unsettled sends, by token
    this._unsettled = 0; // accepted by the library, completion not yet taken
    this._handedUpTo = -1; // every token up to this one was handed over (or refused)
    this._staging = null; // the batch being filled
    this._queue = []; // sealed batches, oldest first; the first may be partly handed over
    this._pool = [];
    this._calling = false; // a send call is in flight
    this._roomWait = false; // the first queued message waits for room
    this._turn = false; // the end-of-turn handover is scheduled
    this._closing = this._stopped = false; // close() was called; the handle is freed
    this._closePromise = this._failed = this._lastStats = null; // _failed: what failed the producer for good
    this._waiters = []; // of flush and close
    this._accepted = new BigUint64Array(1);
    this._err = Buffer.alloc(ERRLEN);
    this._turnEnd = () => {
      this._turn = false;
      this._seal();
      this._submit();
    };
    this._onSent = (err, rc) => this._sent(err, rc);
  }

  // The client; topic; producerName or the broker's name for it; partition count (0: not partitioned).
  get client() { return this._client; }
  get topic() { return this._topic; }
  get name() { return this._name; }
  get partitions() { return this._livePartitions(); }
  /** Sends whose promise has not settled yet. */
  get pendingCount() { return this._pending.size; }
  get closed() { return this._closing; }

  /**
   * Publishes one message: send(data, options?), or send(message), a
   * message object { data } or { value } with the send options in it.
   * Resolves with its MessageId once the broker stored it.
   */
  send(data, options) {
    if (this._closing || this._failed) {
      return Promise.reject(this._closing ? makeError(codes.AlreadyClosed, `producer for ${this._topic} is closed`) : this._failed);
    }
    if (data !== null && typeof data === 'object' && !ArrayBuffer.isView(data) && !(data instanceof ArrayBuffer)) {
      if (options !== undefined) return Promise.reject(invalid('send(message) takes no options argument: put the send options in the message'));
      return this._sendMessage({ ...data });
    }
    if (this._hooked) {
      if (options !== undefined && (options === null || typeof options !== 'object')) {
        return Promise.reject(invalid(`send options must be an object, got ${typeName(options)}`));
      }
      return this._sendMessage({ ...options, data });
    }
    let payload;
    let opts = null;
    try {
      payload = payloadOf(data);
      if (options !== undefined) opts = prepare(options);
    } catch (e) {
      return Promise.reject(e);
    }
    const promise = new Promise(capture);
    this._stage(payload, opts, captured.resolve, captured.reject);
    return promise;
  }

  /**
   * Sends a message object (a copy the caller does not hold): the
   * interceptors' beforeSend, the value converted for the schema, the
   * router; then the interceptors' onAck hear its outcome.
   */
  _sendMessage(m) {
    const ics = this._interceptors;
    try {
      if (ics !== null) {
        if (m.properties !== undefined && m.properties !== null && typeof m.properties === 'object') m.properties = { ...m.properties };
        hooks.beforeSend(ics, m);
      }
    } catch (e) {
      return Promise.reject(e); // refused by an interceptor: no onAck
    }
    let payload;
    let opts;
    try {
      const hasData = 'data' in m;
      const hasValue = 'value' in m;
      if (hasData === hasValue) throw invalid(`a message has ${hasData ? 'either data or a value, not both' : 'data (bytes, a string or null) or a value (for the schema)'}`);
      const { data, value, ...rest } = m;
      opts = prepare(rest, hasValue || this._router !== undefined);
      if (hasValue) {
        payload = EMPTY;
        const text = valueJson(this._shape, value);
        opts.valueJson = [text, Buffer.byteLength(text)];
        opts.bytes += opts.valueJson[1];
      } else {
        payload = payloadOf(data);
      }
      if (this._router !== undefined) {
        const n = this._livePartitions();
        if (n > 0) opts.partition = hooks.route(this._router, m, n);
      }
    } catch (e) {
      if (ics !== null) this._onAck(m, null, e);
      return Promise.reject(e);
    }
    const promise = new Promise(capture);
    if (ics === null) {
      this._stage(payload, opts, captured.resolve, captured.reject);
    } else {
      const [resolve, reject] = [captured.resolve, captured.reject];
      this._stage(payload, opts, (id) => {
        this._onAck(m, id, null);
        resolve(id);
      }, (e) => {
        this._onAck(m, null, e);
        reject(e);
      });
    }
    return promise;
  }

  _onAck(m, id, err) {
    hooks.onAck(this._interceptors, m, id, err, (message) => this._client._log({
      level: 'error', time: new Date(), message, topic: this._topic, producerName: this._name, broker: '', connection: 0,
    }));
  }

  /**
   * The partition count, read again from the library (pp_producer_partitions,
   * in an .async() call: a call from the main thread costs far more) when
   * older than PARTITIONS_EVERY_MS. Partitions are only ever added, so a
   * count a moment old is never too high.
   */
  _livePartitions() {
    if (this._partitions > 0 && !this._readingPartitions && !this._stopped && Date.now() - this._partitionsAt >= PARTITIONS_EVERY_MS) {
      this._readingPartitions = true;
      this._b.asyncCall(this._b.fn.partitions, [this._h, this._partitionsOut], (err, rc) => {
        this._readingPartitions = false;
        this._partitionsAt = Date.now();
        if (!err && rc === codes.Ok && this._partitionsOut[0] > this._partitions) this._partitions = this._partitionsOut[0];
      });
    }
    return this._partitions;
  }

  /** Stages a checked message with its promise functions: handed over at the end of the turn, or now if the batch is full. */
  _stage(payload, opts, resolve, reject) {
    const token = this._pending.next; // add() below hands out this one
    let b;
    try { // memory for a large message may be refused: then that message fails, and nothing is staged
      b = this._staging || (this._staging = this._pool.pop() || new this._b.Batch());
      if (!b.add(payload, opts, token)) {
        this._seal();
        (b = this._staging = this._pool.pop() || new this._b.Batch()).add(payload, opts, token);
      }
    } catch (e) {
      reject(makeError(codes.MemoryBufferIsFull, `cannot stage a message of ${payload === null ? 0 : payload.length} bytes: ${e.message}`));
      return;
    }
    this._pending.add(resolve, reject);
    if (b.full) {
      this._seal();
      this._submit();
    } else if (!this._turn) {
      this._turn = true;
      queueMicrotask(this._turnEnd);
    }
  }

  /** Hands over what was sent before, sends open batches now, resolves once every earlier send settled. */
  async flush(options) {
    const timeoutMs = timeoutOf(options);
    if (this._closing) throw makeError(codes.AlreadyClosed, `producer for ${this._topic} is closed`);
    const upTo = this._pending.last;
    if (this._pending.min() > upTo) return;
    const deadline = Date.now() + timeoutMs;
    this._seal();
    this._submit();
    if (await this._wait(() => this._handedUpTo >= upTo || this._stopped, timeoutMs) && !this._stopped) {
      const err = Buffer.alloc(ERRLEN);
      const rc = await call(this._b, this._b.fn.flush, this._h, 0, err, ERRLEN);
      if (rc !== codes.Ok && rc !== codes.Timeout) throw makeError(rc, text(err));
    }
    if (!(await this._wait(() => this._pending.min() > upTo, Math.max(0, deadline - Date.now())))) {
      throw makeError(codes.Timeout, `flush timed out after ${timeoutMs} ms with ${this._pending.size} messages pending`);
    }
  }

  /**
   * Stops accepting sends, waits up to timeoutMs for the pending ones (the
   * rest fail with Timeout) and frees the producer (and the client of
   * Producer.create). Idempotent.
   */
  close(options) {
    let timeoutMs;
    try {
      timeoutMs = timeoutOf(options);
    } catch (e) {
      return Promise.reject(e);
    }
    return this._owner ? this._client.close({ timeoutMs }) : this._close(Date.now() + timeoutMs);
  }

  /** Counters of the producer (pp_producer_stats); after close(), the last ones. */
  stats() {
    if (this._lastStats) return { ...this._lastStats };
    const { rc, stats } = this._b.producerStats(this._h);
    if (rc !== codes.Ok) throw makeError(rc, `cannot read the stats of the producer for ${this._topic}`);
    return stats;
  }

  _close(deadline) {
    if (this._closePromise === null) {
      this._closing = true;
      this._closePromise = this._doClose(deadline);
    }
    return this._closePromise;
  }

  async _doClose(deadline) {
    const left = () => Math.max(0, Math.min(deadline - Date.now(), 0x7fffffff));
    const upTo = this._pending.last;
    this._seal();
    this._submit();
    if (!(await this._wait(() => this._handedUpTo >= upTo || this._failed !== null, left()))) {
      this._fail(makeError(codes.Timeout, `close timed out before every message was handed to the library`));
    }
    await this._wait(() => !this._calling); // no call reads the batches any more
    if (this._unsettled > 0) { // wait here, not in pp_close: no thread (nor process.exit) waits on the broker
      await call(this._b, this._b.fn.flush, this._h, 0, null, 0);
      await this._wait(() => this._unsettled === 0, left());
    }
    const err = Buffer.alloc(ERRLEN);
    const rc = await call(this._b, this._b.fn.close, this._h, left(), err, ERRLEN);
    const closeErr = rc === codes.Ok || rc === codes.AlreadyClosed ? null : makeError(rc, text(err));
    this._lastStats = this._b.producerStats(this._h).stats;
    await this._wait(() => this._unsettled === 0); // every completion was taken
    await call(this._b, this._b.fn.stop, this._h, 0, null, 0);
    this._stopped = true;
    this._client._producers.delete(this._h);
    for (const b of [...this._pool, ...this._queue, this._staging]) if (b) b.free();
    [this._pool, this._queue, this._staging] = [[], [], null];
    this._check();
    if (closeErr) throw closeErr;
  }

  // ---- handing over ------------------------------------------------------

  _seal() {
    if (this._staging !== null && this._staging.count > 0) {
      this._queue.push(this._staging);
      this._staging = null;
    }
  }

  _submit() {
    if (this._calling || this._roomWait || this._stopped || this._queue.length === 0) return;
    if (this._failed) {
      this._rejectQueued();
      return;
    }
    this._calling = true;
    this._queue[0].send(this._h, NONBLOCK, this._accepted, this._err, this._onSent);
  }

  _sent(err, rc) {
    this._calling = false;
    const b = this._queue[0];
    const n = err ? 0 : Number(this._accepted[0]);
    b.start += n;
    this._unsettled += n;
    this._client._accepted(n);
    if (err || rc !== codes.Ok) {
      const e = err ? makeError(codes.UnknownError, `the library call failed: ${err.message}`) : makeError(rc, text(this._err));
      if (!err && this._block && (rc === codes.ProducerQueueIsFull || rc === codes.MemoryBufferIsFull) &&
          this._client._unsettled > 0) {
        this._roomWait = true; // completions will make room: _retry() follows
        this._client._roomWaiters.add(this);
      } else {
        this._pending.reject(b.tokenAt(b.start++), e);
        if (err || !PER_MESSAGE.has(rc)) this._failed = e;
      }
    }
    if (b.start > 0) this._handedUpTo = b.tokenAt(b.start - 1);
    if (b.start === b.count) this._recycle(this._queue.shift());
    if (this._failed) this._rejectQueued();
    this._check();
    this._submit();
  }

  /** Completions made room: the message waiting for it is tried again. */
  _retry() {
    this._roomWait = false;
    this._submit();
  }

  _recycle(b) {
    b.reset();
    if (this._pool.length < POOL_MAX && !this._stopped) this._pool.push(b);
    else b.free();
  }

  _fail(e) {
    if (this._failed === null) this._failed = e;
    this._roomWait = false;
    this._client._roomWaiters.delete(this);
    this._rejectQueued();
  }

  /** Rejects every message not yet handed over with the error that failed the producer. */
  _rejectQueued() {
    this._seal();
    const start = this._calling ? 1 : 0; // the batch in flight is settled by _sent()
    for (const b of this._queue.splice(start)) {
      while (b.start < b.count) this._pending.reject(b.tokenAt(b.start++), this._failed);
      this._handedUpTo = b.tokenAt(b.count - 1);
      this._recycle(b);
    }
    this._check();
  }

  /** The client ended: nothing more will complete. */
  _abandon(e) {
    this._unsettled = 0;
    this._pending.rejectAll(e);
    this._fail(e);
  }

  // ---- waiting for flush and close -----------------------------------------

  /** Resolves true once cond() holds (checked when state changes), false after ms. */
  _wait(cond, ms = Infinity) {
    if (cond()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const w = { cond, resolve, timer: null };
      if (ms !== Infinity) {
        w.timer = setTimeout(() => {
          this._waiters.splice(this._waiters.indexOf(w), 1);
          resolve(false);
        }, ms);
        w.timer.unref(); // a deadline, not work: the calls in flight keep the process alive
      }
      this._waiters.push(w);
    });
  }

  _check() {
    if (this._waiters.length === 0) return;
    this._waiters = this._waiters.filter((w) => {
      if (!w.cond()) return true;
      clearTimeout(w.timer);
      w.resolve(true);
      return false;
    });
  }
}

module.exports = { Producer, secret, call, text, timeoutOf, ERRLEN };
