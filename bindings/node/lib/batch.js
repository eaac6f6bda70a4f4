'use strict';
// batch.js: messages laid out in native memory, ready for the library.
//
// A Batch holds up to `max` messages for one library call. Payloads are
// written back to back into a data arena, their lengths into a size_t array
// and their send tokens into a user_data array: exactly what pp_send_batch
// reads. The first message with options (or a null value) makes the batch
// "structured": from then on every message also gets a pp_message struct
// (those before it are converted once), whose options point into the data
// arena after the payloads, and the batch goes out with pp_send_messages.
// Everything lives in koffi.alloc() memory, whose address never changes, so
// a library call can read a batch on a worker thread while JavaScript fills
// the next one. add() writes only if the whole message fits, so a failed add
// leaves the batch as it was.
const native = require('./native');
const { makeError, codes } = require('./errors');

const fn = native.fn;
const M = native.layout.message;
const P = native.layout.property;
const PTR = native.layout.pointerSize;
const MSG_SIZE = M.size;
const TWO32 = 4294967296;

const DEFAULT_MAX = 4096;
const DEFAULT_DATA = 512 * 1024;

function invalid(message) {
  return makeError(codes.invalidArgument, message);
}

function typeName(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v === 'object' ? (v.constructor && v.constructor.name) || 'object' : typeof v;
}

/** Bytes of a payload-like value: Buffer/Uint8Array as is, other views and ArrayBuffers wrapped. */
function asBytes(v) {
  if (v instanceof Uint8Array) return v;
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  return null;
}

/** Milliseconds since the epoch of a Date or a number, for an option. */
function millis(v, what) {
  const ms = v instanceof Date ? v.getTime() : v;
  if (typeof ms !== 'number' || !Number.isFinite(ms)) {
    throw invalid(`${what} must be a Date or a number of milliseconds, got ${typeName(v)}`);
  }
  return Math.trunc(ms);
}

function utf8Length(s) {
  return Buffer.byteLength(s, 'utf8');
}

function checkString(v, what) {
  if (typeof v !== 'string') throw invalid(`${what} must be a string, got ${typeName(v)}`);
  if (v.includes('\0')) throw invalid(`${what} must not contain a NUL character`);
  return v;
}

/**
 * The per-message options of a send, checked and measured: what add()
 * writes after the struct. Returns null for no options.
 */
function prepareOptions(opts) {
  if (opts === undefined || opts === null) return null;
  if (typeof opts !== 'object') throw invalid(`send options must be an object, got ${typeName(opts)}`);
  const o = { bytes: 0, key: null, orderingKey: null, props: null, clusters: null,
    eventTime: 0, deliverAt: 0, deliverAfter: 0, sequenceId: null, disableReplication: false };
  let used = false;
  for (const name of Object.keys(opts)) {
    const v = opts[name];
    if (v === undefined) continue;
    used = true;
    switch (name) {
      case 'key':
        o.key = checkString(v, 'key');
        o.bytes += utf8Length(o.key) + 1;
        break;
      case 'orderingKey':
        if (typeof v === 'string') o.orderingKey = Buffer.from(v, 'utf8');
        else if ((o.orderingKey = asBytes(v)) === null) {
          throw invalid(`orderingKey must be a string or bytes, got ${typeName(v)}`);
        }
        o.bytes += o.orderingKey.length;
        break;
      case 'properties': {
        if (typeof v !== 'object' || v === null || Array.isArray(v)) {
          throw invalid(`properties must be an object of strings, got ${typeName(v)}`);
        }
        const entries = Object.entries(v);
        o.props = entries;
        o.bytes += 8 + entries.length * P.size;
        for (const [k, val] of entries) {
          checkString(k, 'a property name');
          checkString(val, `property ${JSON.stringify(k)}`);
          o.bytes += utf8Length(k) + utf8Length(val) + 2;
        }
        break;
      }
      case 'eventTime': o.eventTime = millis(v, 'eventTime'); break;
      case 'deliverAt': o.deliverAt = millis(v, 'deliverAt'); break;
      case 'deliverAfter': o.deliverAfter = millis(v, 'deliverAfter'); break;
      case 'sequenceId':
        if (typeof v === 'bigint') o.sequenceId = v;
        else if (Number.isSafeInteger(v)) o.sequenceId = BigInt(v);
        else throw invalid(`sequenceId must be an integer or a bigint, got ${typeName(v)}`);
        break;
      case 'replicationClusters':
        if (!Array.isArray(v)) throw invalid(`replicationClusters must be an array of strings, got ${typeName(v)}`);
        o.clusters = v.map((c, i) => checkString(c, `replicationClusters[${i}]`));
        o.bytes += 8 + o.clusters.length * PTR;
        for (const c of o.clusters) o.bytes += utf8Length(c) + 1;
        break;
      case 'disableReplication':
        if (typeof v !== 'boolean') throw invalid(`disableReplication must be a boolean, got ${typeName(v)}`);
        o.disableReplication = v;
        break;
      default:
        throw invalid(`unknown send option ${JSON.stringify(name)}`);
    }
  }
  return used ? o : null;
}

class Batch {
  constructor(max = DEFAULT_MAX, dataSize = DEFAULT_DATA) {
    this.max = max;
    // One arena for the arrays: lens[max], user_data[max], pp_message[max].
    this.index = new native.Arena(max * (16 + MSG_SIZE));
    this.udOff = max * 8;
    this.msgOff = max * 16;
    this.dv = new DataView(this.index.u8.buffer);
    this.data = new native.Arena(dataSize);
    this.offs = new Float64Array(max); // where payload i starts in data
    this.count = 0; // messages added
    this.start = 0; // first message not yet handed to the library
    this.used = 0; // data bytes used
    this.structured = false; // the messages have pp_message structs
  }

  lensAddr(i) { return this.index.addr + i * 8; }
  udAddr(i) { return this.index.addr + this.udOff + i * 8; }
  structAddr(i) { return this.index.addr + this.msgOff + i * MSG_SIZE; }

  /** The token (user_data) of message i. */
  tokenAt(i) {
    const ud = (this.udOff >> 2) + i * 2;
    return this.index.u32[ud] + this.index.u32[ud + 1] * TWO32;
  }

  reset() {
    this.count = 0;
    this.start = 0;
    this.used = 0;
    this.structured = false;
  }

  free() {
    this.index.free();
    this.data.free();
  }

  /** Replaces the data arena with one of at least `size` bytes (batch must be empty). */
  growData(size) {
    let n = this.data.size;
    while (n < size) n *= 2;
    this.data.free();
    this.data = new native.Arena(n);
  }

  /** Allocates n bytes of data, aligned to `align`; returns the offset or -1. */
  alloc(n, align) {
    const off = align > 1 ? (this.used + align - 1) & ~(align - 1) : this.used;
    if (off + n > this.data.size) return -1;
    this.used = off + n;
    return off;
  }

  /**
   * Adds one message. `payload` is bytes, a string or null (a null value);
   * `opts` comes from prepareOptions(); `token` becomes its user_data.
   * Returns false, writing nothing, if the batch is full or the data does
   * not fit.
   */
  add(payload, opts, token) {
    const i = this.count;
    if (i >= this.max) return false;
    const data = this.data;
    const off = this.used;
    const room = data.size - off;
    let len = 0;
    if (typeof payload === 'string') {
      if (payload.length * 3 <= room) {
        len = data.buf.write(payload, off);
      } else {
        if ((len = utf8Length(payload)) > room) return false;
        data.buf.write(payload, off);
      }
    } else if (payload !== null) {
      if ((len = payload.length) > room) return false;
      data.u8.set(payload, off);
    }
    if (opts !== null && off + len + opts.bytes + 16 > data.size) return false;
    this.used = off + len;
    if (opts !== null || payload === null) {
      if (!this.structured) this.structure();
      this.writeStruct(i, off, len, payload === null);
      if (opts !== null) this.writeOptions(this.msgOff + i * MSG_SIZE, opts);
    } else if (this.structured) {
      this.writeStruct(i, off, len, false);
    }
    const u32 = this.index.u32;
    const w = i * 2;
    u32[w] = len >>> 0;
    u32[w + 1] = (len / TWO32) >>> 0;
    const ud = (this.udOff >> 2) + w;
    u32[ud] = token >>> 0;
    u32[ud + 1] = (token / TWO32) >>> 0;
    this.offs[i] = off;
    this.count = i + 1;
    return true;
  }

  /** Gives the messages added so far their pp_message structs. */
  structure() {
    const u32 = this.index.u32;
    for (let j = 0; j < this.count; j++) {
      this.writeStruct(j, this.offs[j], u32[j * 2] + u32[j * 2 + 1] * TWO32, false);
    }
    this.structured = true;
  }

  /** Writes struct i as pp_message_init() would, plus the payload at data offset `off`. */
  writeStruct(i, off, len, nullValue) {
    const u32 = this.index.u32;
    const w = (this.msgOff + i * MSG_SIZE) >> 2;
    u32.fill(0, w, w + (MSG_SIZE >> 2));
    u32[w + (M.struct_size >> 2)] = MSG_SIZE;
    u32[w + (M.sequence_id >> 2)] = 0xffffffff;
    u32[w + (M.sequence_id >> 2) + 1] = 0xffffffff;
    if (len > 0) {
      const addr = this.data.addr + off;
      u32[w + (M.payload >> 2)] = addr >>> 0;
      u32[w + (M.payload >> 2) + 1] = (addr / TWO32) >>> 0;
      u32[w + (M.payload_len >> 2)] = len >>> 0;
      u32[w + (M.payload_len >> 2) + 1] = (len / TWO32) >>> 0;
    }
    if (nullValue) u32[w + (M.null_value >> 2)] = 1;
  }

  /**
   * Hands messages start.. to the library in one call: pp_send_messages if
   * the batch is structured, else pp_send_batch. With `done`, the call runs
   * with .async() and `done(err, rc)` follows; without, it runs here and
   * its result is returned. *accepted and errbuf receive the outcome.
   */
  send(h, accepted, errbuf, done) {
    const s = this.start;
    const n = this.count - s;
    const f = this.structured ? fn.sendMessages : fn.sendBatch;
    const args = this.structured
      ? [h, this.structAddr(s), n, null, this.udAddr(s), accepted, errbuf, errbuf.length]
      : [h, this.data.addr + this.offs[s], this.lensAddr(s), n, null, this.udAddr(s), accepted, errbuf, errbuf.length];
    if (done === null) return f(...args);
    f.async(...args, done);
    return 0;
  }

  setPtr(structOff, field, addr) {
    this.dv.setBigUint64(structOff + field, BigInt(addr), true);
  }

  /** Writes a NUL-terminated string into the data arena; returns its address. */
  putString(s) {
    const data = this.data;
    const off = this.used;
    const n = data.buf.write(s, off);
    data.u8[off + n] = 0;
    this.used = off + n + 1;
    return data.addr + off;
  }

  writeOptions(so, o) {
    const dv = this.dv;
    const data = this.data;
    if (o.key !== null) this.setPtr(so, M.key, this.putString(o.key));
    if (o.orderingKey !== null && o.orderingKey.length > 0) {
      const off = this.alloc(o.orderingKey.length, 1);
      data.u8.set(o.orderingKey, off);
      this.setPtr(so, M.ordering_key, data.addr + off);
      dv.setBigUint64(so + M.ordering_key_len, BigInt(o.orderingKey.length), true);
    }
    if (o.props !== null && o.props.length > 0) {
      const arr = this.alloc(o.props.length * P.size, 8);
      o.props.forEach(([k, v], j) => {
        const kAddr = this.putString(k);
        const vAddr = this.putString(v);
        data.buf.writeBigUInt64LE(BigInt(kAddr), arr + j * P.size + P.key);
        data.buf.writeBigUInt64LE(BigInt(vAddr), arr + j * P.size + P.value);
      });
      this.setPtr(so, M.properties, data.addr + arr);
      dv.setBigUint64(so + M.property_count, BigInt(o.props.length), true);
    }
    if (o.clusters !== null) {
      if (o.clusters.length > 0) {
        const arr = this.alloc(o.clusters.length * PTR, 8);
        o.clusters.forEach((c, j) => {
          data.buf.writeBigUInt64LE(BigInt(this.putString(c)), arr + j * PTR);
        });
        this.setPtr(so, M.replication_clusters, data.addr + arr);
        dv.setBigUint64(so + M.replication_cluster_count, BigInt(o.clusters.length), true);
      }
    }
    dv.setBigInt64(so + M.event_time_ms, BigInt(o.eventTime), true);
    dv.setBigInt64(so + M.deliver_at_ms, BigInt(o.deliverAt), true);
    dv.setBigInt64(so + M.deliver_after_ms, BigInt(o.deliverAfter), true);
    if (o.sequenceId !== null) dv.setBigInt64(so + M.sequence_id, BigInt.asIntN(64, o.sequenceId), true);
    if (o.disableReplication) dv.setInt32(so + M.disable_replication, 1, true);
  }
}

/**
 * Bytes a message needs in an empty batch, to size a data arena for a
 * message larger than the default.
 */
function bytesNeeded(payload, opts) {
  let n = 16 + (opts ? opts.bytes : 0);
  if (typeof payload === 'string') n += utf8Length(payload);
  else if (payload !== null) n += payload.length;
  return n;
}

module.exports = { Batch, prepareOptions, asBytes, bytesNeeded, typeName, invalid, DEFAULT_DATA };
