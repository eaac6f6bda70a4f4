'use strict';
// producer.js: Producer, the promise API over one pp_producer handle.
//
// How a send travels:
//   1. send() checks its arguments, gives the message a token (an integer,
//      passed to the library as user_data) and writes it into the staging
//      Batch (native memory, see batch.js); its promise waits in `pending`.
//   2. A microtask hands the staged batch to the library in one call
//      (pp_send_batch, or pp_send_messages if a message has options), run
//      with koffi's .async() on a libuv worker thread: the JavaScript thread
//      never blocks and keeps filling the next batch meanwhile. One such
//      call is in flight per producer, so messages reach the library in
//      send order. blockIfQueueFull is done here, not by the library: a send
//      refused for want of room is retried once completions have made some,
//      so no call ever waits on a full queue.
//   3. While accepted messages are unsettled, a drain loop keeps one
//      pp_drain call in flight (also .async(), waiting up to DRAIN_WAIT_MS
//      for the first completion, taking up to DRAIN_CAPACITY at once). Its
//      callback, on the JavaScript thread, resolves each promise with a
//      MessageId or rejects it with a PulsarError.
// The library never calls into JavaScript: no callback is registered.
//
// Closing: after pp_close the drain loop runs until pp_drain answers
// AlreadyClosed, which the library does at once when the producer is
// closed and every completion was taken; then pp_stop frees the handle.
//
// Event loop and exit: an .async() call keeps the event loop alive until
// its callback runs. Calls are only in flight while there is work (staged
// messages, unsettled messages, a flush or close), so a process whose
// producers are idle or closed exits by itself, and one with messages in
// flight stays until they settle (at most sendTimeout). A call holds its
// worker thread (and process.exit(), which waits for it) for at most
// DRAIN_WAIT_MS, except pp_start (the connection attempt) and pp_close
// (up to CLOSE_WAIT_MAX_MS).
// Each busy producer uses up to two libuv threadpool threads (four by
// default: set UV_THREADPOOL_SIZE when running many producers).
//
// A Producer that is garbage-collected without close() is stopped by a
// FinalizationRegistry.
const { isMainThread } = require('node:worker_threads');
const native = require('./native');
const { makeError, codes } = require('./errors');
const { MessageId } = require('./message-id');
const { Pending } = require('./pending');
const { Batch, prepareOptions, asBytes, bytesNeeded, typeName, invalid, DEFAULT_DATA } = require('./batch');

const fn = native.fn;
const C = native.layout.completion;
const MI = native.layout.messageId;
const TWO32 = 4294967296;
const DRAIN_CAPACITY = 4096;
const DRAIN_WAIT_MS = 100;
const POLL_MS = 1;
const ERRBUF = 1024;
const DEFAULT_TIMEOUT_MS = 30000;
const CLOSE_WAIT_MIN_MS = 1000;
const CLOSE_WAIT_MAX_MS = 5000;
const POOL_MAX = 3;
const ROOM_RETRY_MS = 20;

// On a worker thread the library is called directly (a call into Go costs
// a few microseconds there) and completions are polled with timers: koffi
// aborts the process if a worker is terminated while one of its .async()
// calls is in flight, so a worker never has one.
const SYNC = !isMainThread;

// Word offsets (32-bit) inside a pp_completion row.
const W_ROW = C.size >> 2;
const W_UD = C.user_data >> 2;
const W_RESULT = C.result >> 2;
const W_LEDGER = (C.id + MI.ledger_id) >> 2;
const W_ENTRY = (C.id + MI.entry_id) >> 2;
const W_PART = (C.id + MI.partition) >> 2;
const W_BINDEX = (C.id + MI.batch_index) >> 2;
const W_BSIZE = (C.id + MI.batch_size) >> 2;

/** The NUL-terminated text in buf. */
function cText(buf) {
  const n = buf.indexOf(0);
  return buf.toString('utf8', 0, n < 0 ? buf.length : n);
}

/**
 * Calls a library function and resolves with its result: with .async() on
 * the main thread, directly on a worker thread (see SYNC).
 */
function call(f, ...args) {
  if (SYNC) {
    try {
      return Promise.resolve(f(...args));
    } catch (e) {
      return Promise.reject(e);
    }
  }
  return new Promise((resolve, reject) => {
    f.async(...args, (err, rc) => (err ? reject(err) : resolve(rc)));
  });
}

function timeoutOf(options, what) {
  if (options === undefined || options === null) return DEFAULT_TIMEOUT_MS;
  if (typeof options !== 'object') throw invalid(`${what} options must be an object, got ${typeName(options)}`);
  const t = options.timeoutMs;
  if (t === undefined) return DEFAULT_TIMEOUT_MS;
  if (typeof t !== 'number' || !(t >= 0) || t > 0x7fffffff) {
    throw invalid(`timeoutMs must be a number of milliseconds from 0 to 2^31-1, got ${t}`);
  }
  return Math.floor(t);
}

function checkCString(v, what, code) {
  if (typeof v !== 'string' || v === '') throw makeError(code, `${what} is required and must be a non-empty string`);
  if (v.includes('\0')) throw makeError(code, `${what} must not contain a NUL character`);
  return v;
}

/** The name and partition count of a started producer (they do not change later). */
async function describe(h) {
  const needed = new BigUint64Array(1);
  let buf = Buffer.alloc(128);
  let rc = await call(fn.producerName, h, buf, buf.length, needed);
  if (rc === codes.bufferTooSmall) {
    buf = Buffer.alloc(Number(needed[0]));
    rc = await call(fn.producerName, h, buf, buf.length, needed);
  }
  if (rc !== 0) throw makeError(rc, 'cannot read the producer name');
  const partitions = new Int32Array(1);
  rc = await call(fn.producerPartitions, h, partitions);
  if (rc !== 0) throw makeError(rc, 'cannot read the partition count');
  return { name: cText(buf), partitions: partitions[0] };
}

/** Removes (in place) the waiters of list that ready() accepts, and wakes them. */
function release(list, ready) {
  let j = 0;
  for (let i = 0; i < list.length; i++) {
    const w = list[i];
    if (ready(w)) w.done();
    else list[j++] = w;
  }
  list.length = j;
}

/** Native resources of a producer; what the finalizer needs, without the producer itself. */
class Resources {
  constructor(handle) {
    this.handle = handle;
    this.batches = new Set();
    this.stopped = false;
  }

  freeBatches() {
    for (const b of this.batches) b.free();
    this.batches.clear();
  }
}

const registry = new FinalizationRegistry((res) => {
  if (res.stopped) return;
  res.stopped = true;
  try {
    if (SYNC) {
      fn.stop(res.handle, 0, null, 0);
      res.freeBatches();
    } else {
      fn.stop.async(res.handle, 0, null, 0, () => res.freeBatches());
    }
  } catch {
    // The async queue is full or the environment is going away: the
    // process is ending, which frees everything anyway.
  }
});

class Producer {
  /** Use Producer.create(). */
  constructor(handle, info, secret) {
    if (secret !== constructorKey) throw new TypeError('use Producer.create() to create a Producer');
    this._h = handle;
    this._topic = info.topic;
    this._serviceUrl = info.serviceUrl;
    this._name = info.name;
    this._partitions = info.partitions;
    this._block = info.block; // blockIfQueueFull, done here rather than by blocking a thread
    this._res = new Resources(handle);
    this._pending = new Pending(); // the promise functions of unsettled sends, by token
    this._unsettled = 0; // accepted by the library, completion not yet taken
    this._submittedUpTo = this._pending.last; // every token up to this one was handed to the library
    this._staging = null;
    this._sealed = [];
    this._pool = [];
    this._inflight = null;
    this._submitScheduled = false;
    this._calling = false; // a send call is in flight
    this._draining = false; // a drain call is in flight (or, in a worker, scheduled)
    this._settleWaiters = [];
    this._submitWaiters = [];
    this._closeWait = null; // what close() waits for: { cond, resolve }
    this._closing = false; // close() was called: no more sends
    this._libClosed = false; // pp_close returned: drain until AlreadyClosed
    this._finished = false; // pp_drain said every completion was taken (or the loop failed)
    this._stopping = false; // no more library calls: the handle is being freed
    this._closePromise = null;
    this._refused = null; // the error of a send refused because the producer is closed
    this._roomWait = false; // waiting for room to retry the send at _inflight.start
    this._roomTimer = null;
    this._sendErr = Buffer.alloc(ERRBUF);
    this._acceptedArr = new BigUint64Array(1);
    this._rows = Buffer.allocUnsafeSlow(DRAIN_CAPACITY * C.size);
    this._rowsU32 = new Uint32Array(this._rows.buffer, this._rows.byteOffset, this._rows.length >> 2);
    this._rowsI32 = new Int32Array(this._rows.buffer, this._rows.byteOffset, this._rows.length >> 2);
    this._countArr = new BigUint64Array(1);
    this._submitBound = () => this._submit();
    this._onSentBound = (err, rc) => this._onSent(err, rc);
    this._onDrainedBound = (err, rc) => this._onDrained(err, rc);
    this._pollBound = () => this._poll();
    this._retryRoomBound = () => this._retryRoom();
    registry.register(this, this._res, this);
  }

  /**
   * Connects and registers a producer; resolves when it is ready.
   * @param {object} options serviceUrl, topic, and library options (camelCase)
   */
  static async create(options) {
    if (options === null || typeof options !== 'object' || Array.isArray(options)) {
      throw makeError(codes.invalidConfiguration, 'Producer.create needs an options object with serviceUrl and topic');
    }
    const { serviceUrl, topic, ...rest } = options;
    checkCString(serviceUrl, 'serviceUrl', codes.invalidUrl);
    checkCString(topic, 'topic', codes.invalidTopicName);
    // blockIfQueueFull is implemented here: a send waiting for room waits in
    // JavaScript, never in a library call that would hold a thread (and
    // process exit) for as long as the broker takes.
    const block = rest.blockIfQueueFull === true;
    if (block) rest.blockIfQueueFull = false;
    let json;
    try {
      json = JSON.stringify(rest);
    } catch (e) {
      throw makeError(codes.invalidConfiguration, `options cannot be written as JSON: ${e.message}`);
    }
    const out = new BigUint64Array(1);
    const err = Buffer.alloc(ERRBUF);
    const rc = await call(fn.start, serviceUrl, topic, json, out, err, ERRBUF);
    if (rc !== 0) throw makeError(rc, cText(err));
    const h = out[0] <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(out[0]) : out[0];
    let info;
    try {
      info = await describe(h);
    } catch (e) {
      await call(fn.stop, h, 0, null, 0);
      throw e;
    }
    return new Producer(h, { topic, serviceUrl, block, ...info }, constructorKey);
  }

  /** The topic, as given to create(). */
  get topic() { return this._topic; }

  /** The service URL, as given to create(). */
  get serviceUrl() { return this._serviceUrl; }

  /** The producer's name: the producerName option, or the one the broker assigned. */
  get name() { return this._name; }

  /** The topic's partition count: 0 for a topic that is not partitioned. */
  get partitions() { return this._partitions; }

  /** Sends whose promise has not settled yet. */
  get pendingCount() { return this._pending.size; }

  /** True once close() was called. */
  get closed() { return this._closing; }

  /**
   * Publishes one message; resolves with its MessageId once the broker has
   * stored it.
   */
  send(data, options) {
    if (this._closing) {
      return Promise.reject(makeError(codes.alreadyClosed, `producer for ${this._topic} is closed`));
    }
    let payload = data;
    if (!(data instanceof Uint8Array) && typeof data !== 'string' && data !== null) {
      payload = asBytes(data);
      if (payload === null) {
        return Promise.reject(invalid(`payload must be a Buffer, Uint8Array, string or null, got ${typeName(data)}`));
      }
    }
    let opts = null;
    if (options !== undefined) {
      try {
        opts = prepareOptions(options);
      } catch (e) {
        return Promise.reject(e);
      }
    }
    const promise = new Promise(capture);
    const token = this._pending.add(captured.resolve, captured.reject);
    try {
      this._stage(payload, opts, token);
    } catch (e) {
      this._pending.reject(token, e);
    }
    return promise;
  }

  /**
   * Sends every open batch now and resolves when every message sent before
   * the call has settled (its promise resolved or rejected).
   */
  async flush(options) {
    const timeoutMs = timeoutOf(options, 'flush');
    if (this._closing) throw makeError(codes.alreadyClosed, `producer for ${this._topic} is closed`);
    const deadline = Date.now() + timeoutMs;
    const upTo = this._pending.last;
    if (!(await this._waitSubmitted(upTo, timeoutMs))) throw this._timeoutError('flush', timeoutMs);
    if (this._res.stopped) return;
    const err = Buffer.alloc(ERRBUF);
    // Timeout 0: send the open batches and return; the wait is ours.
    const rc = await call(fn.flush, this._h, 0, err, ERRBUF);
    if (rc !== 0 && rc !== codes.timeout) throw makeError(rc, cText(err));
    if (!(await this._waitSettled(upTo, deadline - Date.now()))) throw this._timeoutError('flush', timeoutMs);
  }

  /**
   * Stops accepting sends, waits up to timeoutMs for the pending ones,
   * closes the producer and frees it. Later calls return the same promise.
   */
  close(options) {
    if (this._closePromise === null) {
      let timeoutMs;
      try {
        timeoutMs = timeoutOf(options, 'close');
      } catch (e) {
        return Promise.reject(e);
      }
      this._closing = true;
      this._closePromise = this._doClose(timeoutMs);
    }
    return this._closePromise;
  }

  async _doClose(timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    const remaining = () => Math.max(0, deadline - Date.now());
    const upTo = this._pending.last;
    const h = this._h;
    let rc = 0;
    const err = Buffer.alloc(ERRBUF);
    try {
      if (await this._waitSubmitted(upTo, remaining())) {
        await call(fn.flush, h, 0, null, 0);
        await this._waitSettled(upTo, remaining());
      }
      // Whatever is still pending now fails when pp_close gives up. When
      // nothing is, the wait is only the broker's answer to the close.
      const wait = Math.min(Math.max(remaining(), CLOSE_WAIT_MIN_MS), CLOSE_WAIT_MAX_MS);
      rc = await call(fn.close, h, wait, err, ERRBUF);
      // Take the remaining completions: the drain loop ends when the
      // library says there are no more.
      this._libClosed = true;
      this._pump();
      await this._until(() => this._finished);
    } finally {
      this._stopping = true;
      if (this._roomWait) {
        this._roomWait = false;
        clearTimeout(this._roomTimer);
      }
      // No library call may still read the batches when they are freed.
      await this._until(() => !this._calling && !this._draining);
      if (!this._res.stopped) {
        this._res.stopped = true;
        registry.unregister(this);
        await call(fn.stop, h, 0, null, 0);
        this._res.freeBatches();
        this._staging = null;
        this._sealed.length = 0;
        this._pool.length = 0;
      }
      this._pending.rejectAll(() => makeError(codes.alreadyClosed,
        `producer for ${this._topic} was closed before the message completed`));
      this._checkWaiters();
    }
    if (rc !== 0) throw makeError(rc, cText(err));
  }

  _timeoutError(what, timeoutMs) {
    return makeError(codes.timeout, `${what} timed out after ${timeoutMs} ms with ${this._pending.size} messages pending`);
  }

  // ---- staging and submission ------------------------------------------

  _takeBatch() {
    const b = this._pool.pop();
    if (b !== undefined) return b;
    const nb = new Batch();
    this._res.batches.add(nb);
    return nb;
  }

  _recycle(b) {
    b.reset();
    if (this._pool.length < POOL_MAX && !this._res.stopped) {
      if (b.data.size > DEFAULT_DATA * 4) {
        b.data.free();
        b.data = new native.Arena(DEFAULT_DATA);
      }
      this._pool.push(b);
    } else {
      b.free();
      this._res.batches.delete(b);
    }
  }

  _stage(payload, opts, token) {
    let b = this._staging;
    if (b === null) b = this._staging = this._takeBatch();
    if (!b.add(payload, opts, token)) {
      if (b.count > 0) {
        this._sealed.push(b);
        b = this._staging = this._takeBatch();
      }
      if (!b.add(payload, opts, token)) {
        b.growData(bytesNeeded(payload, opts));
        if (!b.add(payload, opts, token)) throw new Error('pulsar-producer: internal error: a message does not fit an empty batch');
      }
    }
    if (!this._submitScheduled) {
      this._submitScheduled = true;
      queueMicrotask(this._submitBound);
    }
  }

  /**
   * Hands the sealed and staged batches to the library, in order: one
   * .async() call at a time on the main thread (_onSent continues), a loop
   * of direct calls on a worker thread. Stops while waiting for room.
   */
  _submit() {
    this._submitScheduled = false;
    while (!this._calling && !this._roomWait && !this._stopping) {
      let b = this._inflight;
      if (b === null) {
        b = this._sealed.length > 0 ? this._sealed.shift() : null;
        if (b === null) {
          b = this._staging;
          if (b === null || b.count === 0) return;
          this._staging = null;
        }
        this._inflight = b;
      }
      if (this._refused !== null) this._refuseRest(b);
      if (b.start >= b.count) {
        this._inflight = null;
        this._recycle(b);
        this._checkWaiters();
        continue;
      }
      if (SYNC) {
        this._afterSend(b, null, b.send(this._h, this._acceptedArr, this._sendErr, null));
        continue;
      }
      this._calling = true;
      try {
        b.send(this._h, this._acceptedArr, this._sendErr, this._onSentBound);
      } catch {
        // Koffi refused to queue the call (too many async calls): retry soon.
        this._calling = false;
        setTimeout(this._submitBound, 1);
      }
      return;
    }
  }

  _onSent(err, rc) {
    this._calling = false;
    this._afterSend(this._inflight, err, rc);
    this._submit();
    this._wakeClose();
  }

  /** Called when room may have been made: the waiting send is retried. */
  _retryRoom() {
    if (!this._roomWait) return;
    this._roomWait = false;
    clearTimeout(this._roomTimer);
    this._roomTimer = null;
    this._submit();
  }

  /** Accounts for one send call on batch b: accepted messages, and the one refused. */
  _afterSend(b, err, rc) {
    const accepted = err ? 0 : Number(this._acceptedArr[0]);
    b.start += accepted;
    this._unsettled += accepted;
    if (!err && this._block && (rc === codes.queueFull || rc === codes.memoryFull) && this._unsettled > 0) {
      // blockIfQueueFull: wait for completions to make room, then retry.
      this._roomWait = true;
      this._roomTimer = setTimeout(this._retryRoomBound, ROOM_RETRY_MS);
    } else if (err || rc !== 0) {
      // Message b.start was refused: it will have no completion.
      const error = err ? makeError(codes.unknown, `the library call failed: ${err.message}`)
        : makeError(rc, cText(this._sendErr));
      if (b.start < b.count) this._pending.reject(b.tokenAt(b.start++), error);
      if (rc === codes.alreadyClosed || rc === codes.invalidHandle) {
        // The producer is closed: so would every later message be.
        this._refused = error;
        this._refuseRest(b);
      }
    }
    if (b.start > 0) this._submittedUpTo = b.tokenAt(b.start - 1);
    if (accepted > 0) this._pump();
    this._checkWaiters();
  }

  /** Rejects the unsent messages of b with the error that closed the producer. */
  _refuseRest(b) {
    while (b.start < b.count) this._pending.reject(b.tokenAt(b.start++), this._refused);
    this._submittedUpTo = b.tokenAt(b.count - 1);
  }

  // ---- the drain loop ---------------------------------------------------

  /** True if a drain call should be made: completions are due, or pp_close ran and the end is not yet seen. */
  _shouldDrain() {
    return !this._draining && !this._finished && !this._stopping && (this._unsettled > 0 || this._libClosed);
  }

  _pump() {
    if (!this._shouldDrain()) return;
    this._draining = true;
    if (SYNC) {
      setImmediate(this._pollBound);
      return;
    }
    try {
      fn.drain.async(this._h, this._rows, DRAIN_CAPACITY, DRAIN_WAIT_MS, this._countArr, this._onDrainedBound);
    } catch {
      this._draining = false;
      setTimeout(() => this._pump(), 1);
    }
  }

  _onDrained(err, rc) {
    this._draining = false;
    this._took(err, rc);
    this._pump();
    this._wakeClose();
  }

  /**
   * The drain loop of a worker thread: pp_drain without waiting, again at
   * once while completions come, else after POLL_MS.
   */
  _poll() {
    this._draining = false;
    if (!this._stopping) {
      const n = this._took(null, fn.drain(this._h, this._rows, DRAIN_CAPACITY, 0, this._countArr));
      if (n === 0 && this._shouldDrain()) {
        this._draining = true;
        setTimeout(this._pollBound, POLL_MS);
      } else {
        this._pump();
      }
    }
    this._wakeClose();
  }

  /**
   * Accounts for one pp_drain call: settles the rows it took (returns how
   * many), or sees the end of a closed producer's completions.
   */
  _took(err, rc) {
    if (!err && rc === 0) {
      const n = Number(this._countArr[0]);
      if (n > 0) this._settle(n);
      return n;
    }
    if (!err && rc === codes.alreadyClosed && this._libClosed) {
      this._finished = true;
    } else if (!this._stopping) {
      // Cannot happen with a live handle; fail loudly rather than spin.
      this._fail(err ? makeError(codes.unknown, `pp_drain failed: ${err.message}`) : makeError(rc, 'pp_drain failed'));
    }
    return 0;
  }

  /** Settles the promises of the first n rows of the drain buffer. */
  _settle(n) {
    const u32 = this._rowsU32;
    const i32 = this._rowsI32;
    const pending = this._pending;
    for (let i = 0, w = 0; i < n; i++, w += W_ROW) {
      const token = u32[w + W_UD] + u32[w + W_UD + 1] * TWO32;
      const rc = i32[w + W_RESULT];
      if (rc === 0) {
        pending.resolve(token, new MessageId(
          i32[w + W_LEDGER + 1] * TWO32 + u32[w + W_LEDGER],
          i32[w + W_ENTRY + 1] * TWO32 + u32[w + W_ENTRY],
          i32[w + W_PART], i32[w + W_BINDEX], i32[w + W_BSIZE]));
      } else {
        const msg = native.readCStringAt(this._rows, w * 4 + C.error);
        pending.reject(token, makeError(rc, msg || undefined));
      }
    }
    this._unsettled -= n;
    if (this._roomWait) this._retryRoom();
    this._checkWaiters();
  }

  /** Gives up on the producer: rejects every pending send and ends the drain loop. */
  _fail(error) {
    this._closing = true;
    this._finished = true;
    this._unsettled = 0;
    this._pending.rejectAll(() => error);
    this._checkWaiters();
  }

  // ---- waiting for flush and close -------------------------------------

  _checkWaiters() {
    if (this._settleWaiters.length > 0) {
      const min = this._pending.min();
      release(this._settleWaiters, (w) => w.upTo < min);
    }
    if (this._submitWaiters.length > 0) {
      const upTo = this._res.stopped ? Infinity : this._submittedUpTo;
      release(this._submitWaiters, (w) => w.upTo <= upTo);
    }
  }

  /** Resolves true once every token <= upTo is settled, false after timeoutMs. */
  _waitSettled(upTo, timeoutMs) {
    if (this._pending.min() > upTo) return Promise.resolve(true);
    return this._wait(this._settleWaiters, upTo, timeoutMs);
  }

  /** Resolves true once every token <= upTo was handed to the library. */
  _waitSubmitted(upTo, timeoutMs) {
    if (this._submittedUpTo >= upTo || this._res.stopped) return Promise.resolve(true);
    return this._wait(this._submitWaiters, upTo, timeoutMs);
  }

  _wait(list, upTo, timeoutMs) {
    return new Promise((resolve) => {
      const w = { upTo, timer: null, done: null };
      w.done = () => {
        clearTimeout(w.timer);
        resolve(true);
      };
      // Unreferenced: the calls in flight keep the process alive while
      // there is anything to wait for.
      w.timer = setTimeout(() => {
        const i = list.indexOf(w);
        if (i >= 0) list.splice(i, 1);
        resolve(false);
      }, timeoutMs);
      w.timer.unref();
      list.push(w);
    });
  }

  /**
   * Resolves once cond() holds, checked each time a library call of the
   * producer returns (close() is the only waiter).
   */
  _until(cond) {
    if (cond()) return Promise.resolve();
    return new Promise((resolve) => {
      this._closeWait = { cond, resolve };
    });
  }

  _wakeClose() {
    const w = this._closeWait;
    if (w !== null && w.cond()) {
      this._closeWait = null;
      w.resolve();
    }
  }
}

const constructorKey = Symbol('Producer');

// One executor for every send's promise: it hands out the promise's
// functions without allocating a closure per send.
const captured = { resolve: null, reject: null };
function capture(resolve, reject) {
  captured.resolve = resolve;
  captured.reject = reject;
}

module.exports = { Producer };
