'use strict';
// batch.js: sends gathered in native memory for one library call, and the
// checking of per-message options.
//
// Gathering (the algorithm shared with the Python binding and the WASI
// host): a handover carries up to MAX_MESSAGES messages or MAX_BYTES bytes;
// it goes when full, when the current turn of the event loop ends, and
// before anything that must keep order with it (flush, close). Never on a
// timer.
//
// A Batch lays payloads back to back in a data arena, their lengths in a
// size_t array and their tokens (user_data) in another: exactly what
// pp_send_batch reads. The first message with options (or a null value)
// makes the batch "structured": every message then also has a pp_message
// (those before it are converted once), whose option bytes live in the data
// arena after its payload, and the batch goes with pp_send_messages. All of
// it is koffi.alloc() memory, whose address never changes, so a call can
// read a batch on a libuv thread while JavaScript fills the next.
const native = require('./native');
const { makeError, codes, invalid } = require('./errors');
const { int64, typeName } = require('./options');

const M = native.layout.message;
const P = native.layout.property;
const MAX_MESSAGES = 1000;
const MAX_BYTES = 128 * 1024;
const DATA_SIZE = MAX_BYTES + 8192;
const TWO32 = 4294967296;
const MAX_DELAY_MS = 9223372036854; // the longest delay the library takes (a Go duration)

/** Bytes of a payload-like value: Uint8Array as is, other views and ArrayBuffers wrapped; else null. */
function asBytes(v) {
  if (v instanceof Uint8Array) return v;
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  return null;
}

/** A 64-bit field: a number or bigint (or a Date for times) from 0 to max (default 2^63-1). */
function int64Field(v, name, dates, max = Infinity) {
  const t = dates && v instanceof Date ? v.getTime() : v;
  if (typeof t !== 'number' && typeof t !== 'bigint') {
    throw invalid(`${name} must be ${dates ? 'a Date, ' : ''}a number or a bigint, got ${typeName(v)}`);
  }
  const range = `from 0 to ${max === Infinity ? '2^63-1' : max}`;
  return int64(t, (why) => makeError(codes.InvalidMessage, `${name} ${why}: ${String(t)} (${range})`), 0, max);
}

function str(v, name) {
  if (typeof v !== 'string') throw invalid(`${name} must be a string, got ${typeName(v)}`);
  return [v, Buffer.byteLength(v)];
}

/** Checks and measures the per-message options of a send; null for none. */
function prepare(opts) {
  if (typeof opts !== 'object' || opts === null) throw invalid(`send options must be an object, got ${typeName(opts)}`);
  const o = { bytes: 16, key: null, orderingKey: null, props: null, clusters: null, eventTime: 0, deliverAt: 0,
    deliverAfter: 0, sequenceId: -1, disableReplication: false };
  let used = false;
  for (const name of Object.keys(opts)) {
    const v = opts[name];
    if (v === undefined) continue;
    used = true;
    switch (name) {
      case 'key': // '' is an empty key (Java semantics), undefined none
        o.key = str(v, 'key');
        o.bytes += o.key[1];
        break;
      case 'orderingKey':
        o.orderingKey = typeof v === 'string' ? Buffer.from(v) : asBytes(v);
        if (o.orderingKey === null) throw invalid(`orderingKey must be a string or bytes, got ${typeName(v)}`);
        o.bytes += o.orderingKey.length;
        break;
      case 'properties':
        if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid(`properties must be an object of strings, got ${typeName(v)}`);
        o.props = Object.entries(v).map(([k, s]) => [str(k, 'a property name'), str(s, `property ${JSON.stringify(k)}`)]);
        o.bytes += 8 + o.props.length * P.size + o.props.reduce((n, [k, s]) => n + k[1] + s[1], 0);
        break;
      case 'replicationClusters':
        if (!Array.isArray(v)) throw invalid(`replicationClusters must be an array of strings, got ${typeName(v)}`);
        o.clusters = v.map((c, i) => {
          const s = str(c, `replicationClusters[${i}]`);
          if (c.includes('\0')) throw invalid(`replicationClusters[${i}] must not contain a NUL character`);
          return s;
        });
        o.bytes += 8 + o.clusters.reduce((n, c) => n + 9 + c[1], 0);
        break;
      case 'eventTime': o.eventTime = int64Field(v, name, true); break;
      case 'deliverAt': o.deliverAt = int64Field(v, name, true); break;
      case 'deliverAfter': o.deliverAfter = int64Field(v, name, false, MAX_DELAY_MS); break;
      case 'sequenceId': o.sequenceId = int64Field(v, name, false); break;
      case 'disableReplication':
        if (typeof v !== 'boolean') throw invalid(`disableReplication must be a boolean, got ${typeName(v)}`);
        o.disableReplication = v;
        break;
      default:
        throw invalid(`unknown send option ${JSON.stringify(name)}`);
    }
  }
  if (opts.deliverAt !== undefined && opts.deliverAfter !== undefined) {
    throw makeError(codes.InvalidMessage, 'set deliverAt or deliverAfter, not both');
  }
  return used ? o : null;
}

class Batch {
  constructor() {
    this.index = new native.Arena(MAX_MESSAGES * 16); // lens[], then user_data[]
    this.structs = null; // pp_message[], on first need
    this.data = new native.Arena(DATA_SIZE);
    this.offs = new Float64Array(MAX_MESSAGES); // where payload i starts in data
    this.reset();
  }

  reset() {
    this.count = 0; // messages added
    this.start = 0; // first message not yet handed over
    this.used = 0; // data bytes used
    this.structured = false;
  }

  free() {
    this.index.free();
    this.data.free();
    if (this.structs) this.structs.free();
  }

  get full() { return this.count === MAX_MESSAGES || this.used >= MAX_BYTES; }

  tokenAt(i) {
    const u32 = this.index.u32;
    return u32[(MAX_MESSAGES + i) * 2] + u32[(MAX_MESSAGES + i) * 2 + 1] * TWO32;
  }

  /**
   * Adds a message (payload: bytes, a string or null; opts from prepare())
   * with its token. Returns false, writing nothing, if it does not fit; an
   * empty batch grows to fit any message.
   */
  add(payload, opts, token) {
    const i = this.count;
    if (i === MAX_MESSAGES) return false;
    let off = this.used;
    let len = 0;
    const extra = opts === null ? 0 : opts.bytes;
    if (typeof payload === 'string') {
      if (payload.length * 3 + extra > this.data.size - off) {
        len = Buffer.byteLength(payload);
        if (!this.room(len + extra)) return false;
        off = this.used;
      }
      len = this.data.buf.write(payload, off);
    } else if (payload !== null) {
      len = payload.length;
      if (len + extra > this.data.size - off) {
        if (!this.room(len + extra)) return false;
        off = this.used;
      }
      this.data.u8.set(payload, off);
    } else if (extra > this.data.size - off && !this.room(extra)) {
      return false;
    }
    this.used = off + len;
    if (opts !== null || payload === null || this.structured) {
      if (!this.structured) this.structure();
      this.writeStruct(i, off, len, payload === null, opts);
    }
    const u32 = this.index.u32;
    u32[i * 2] = len;
    u32[i * 2 + 1] = 0;
    u32[(MAX_MESSAGES + i) * 2] = token >>> 0;
    u32[(MAX_MESSAGES + i) * 2 + 1] = (token / TWO32) >>> 0;
    this.offs[i] = off;
    this.count = i + 1;
    return true;
  }

  /** Whether n bytes that do not fit the arena may go in: only into an empty batch, which grows. */
  room(n) {
    if (this.count > 0) return false;
    if (n > this.data.size) {
      this.data.free();
      this.data = new native.Arena(n + 64);
    }
    return true;
  }

  /** Gives the messages added so far their pp_message structs. */
  structure() {
    if (this.structs === null) this.structs = new native.Arena(MAX_MESSAGES * M.size);
    const u32 = this.index.u32;
    for (let j = 0; j < this.count; j++) this.writeStruct(j, this.offs[j], u32[j * 2], false, null);
    this.structured = true;
  }

  /** Writes struct i as pp_message_init() would, with its payload at data offset off and its options. */
  writeStruct(i, off, len, nullValue, o) {
    const u32 = this.structs.u32;
    const w = (i * M.size) >> 2;
    u32.fill(0, w, w + (M.size >> 2));
    u32[w + (M.struct_size >> 2)] = M.size;
    u32.fill(0xffffffff, w + (M.key_len >> 2), w + (M.key_len >> 2) + 2); // PP_NTS
    u32.fill(0xffffffff, w + (M.sequence_id >> 2), w + (M.sequence_id >> 2) + 2); // -1: automatic
    if (len > 0) {
      this.ptr(w + (M.payload >> 2), this.data.addr + off);
      u32[w + (M.payload_len >> 2)] = len;
    }
    if (nullValue) u32[w + (M.null_value >> 2)] = 1;
    if (o === null) return;
    if (o.key !== null) {
      this.ptr(w + (M.key >> 2), this.putString(o.key));
      u32[w + (M.key_len >> 2)] = o.key[1];
      u32[w + (M.key_len >> 2) + 1] = 0;
    }
    if (o.orderingKey !== null && o.orderingKey.length > 0) {
      this.ptr(w + (M.ordering_key >> 2), this.data.addr + this.used);
      this.data.u8.set(o.orderingKey, this.used);
      this.used += o.orderingKey.length;
      u32[w + (M.ordering_key_len >> 2)] = o.orderingKey.length;
    }
    if (o.props !== null && o.props.length > 0) {
      const arr = this.align8();
      this.used += o.props.length * P.size;
      o.props.forEach(([k, v], j) => {
        const pw = (arr + j * P.size) >> 2;
        this.ptr(pw + (P.key >> 2), this.putString(k), this.data.u32);
        this.data.u32[pw + (P.key_len >> 2)] = k[1];
        this.ptr(pw + (P.value >> 2), this.putString(v), this.data.u32);
        this.data.u32[pw + (P.value_len >> 2)] = v[1];
      });
      this.ptr(w + (M.properties >> 2), this.data.addr + arr);
      u32[w + (M.property_count >> 2)] = o.props.length;
    }
    if (o.clusters !== null && o.clusters.length > 0) {
      const arr = this.align8();
      this.used += o.clusters.length * 8;
      o.clusters.forEach((c, j) => {
        this.ptr((arr >> 2) + j * 2, this.putString(c), this.data.u32);
        this.data.u8[this.used++] = 0;
      });
      this.ptr(w + (M.replication_clusters >> 2), this.data.addr + arr);
      u32[w + (M.replication_cluster_count >> 2)] = o.clusters.length;
    }
    const i64 = this.structs.i64;
    i64[(w >> 1) + (M.event_time_ms >> 3)] = BigInt(o.eventTime);
    i64[(w >> 1) + (M.deliver_at_ms >> 3)] = BigInt(o.deliverAt);
    i64[(w >> 1) + (M.deliver_after_ms >> 3)] = BigInt(o.deliverAfter);
    i64[(w >> 1) + (M.sequence_id >> 3)] = BigInt(o.sequenceId);
    if (o.disableReplication) u32[w + (M.disable_replication >> 2)] = 1;
  }

  /** Stores an address at word w of u32 (the structs by default). */
  ptr(w, addr, u32 = this.structs.u32) {
    u32[w] = addr >>> 0;
    u32[w + 1] = (addr / TWO32) >>> 0;
  }

  align8() {
    this.used = (this.used + 7) & ~7;
    return this.used;
  }

  /** Writes a [string, byteLength] into the data arena; returns its address. */
  putString([s, n]) {
    const off = this.used;
    this.data.buf.write(s, off, n);
    this.used = off + n;
    return this.data.addr + off;
  }

  /** Hands messages start.. over in one .async() call; done(err, rc) follows. */
  send(h, flags, accepted, errbuf, done) {
    const s = this.start;
    const n = this.count - s;
    const ud = this.index.addr + (MAX_MESSAGES + s) * 8;
    if (this.structured) {
      native.fn.sendMessages.async(h, this.structs.addr + s * M.size, n, flags, null, ud, accepted, errbuf, errbuf.length, done);
    } else {
      native.fn.sendBatch.async(h, this.data.addr + this.offs[s], this.index.addr + s * 8, n, flags, null, ud,
        accepted, errbuf, errbuf.length, done);
    }
  }
}

module.exports = { Batch, prepare, asBytes, MAX_MESSAGES, MAX_BYTES };
