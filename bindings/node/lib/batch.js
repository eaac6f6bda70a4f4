'use strict';
// batch.js: the native backend's Batch: sends gathered in native memory for
// one library call (a handover: up to MAX_MESSAGES messages or MAX_BYTES
// bytes, the algorithm shared with the Python binding and the WASI host;
// message.js checks each send's options). Payloads lie back to back in a data arena, their
// lengths and tokens (user_data) in arrays: what pp_send_batch reads. The
// first message with options (or a null value) makes the batch
// "structured": every message then also gets a pp_message (those before
// are converted once) and the batch goes with pp_send_messages. It is all
// koffi.alloc() memory, so a call can read a batch on a libuv thread while
// JavaScript fills the next.
const native = require('./native');
const { MAX_MESSAGES, MAX_BYTES } = require('./message');

const M = native.layout.message;
const P = native.layout.property;
const DATA_SIZE = MAX_BYTES + 8192;
const TWO32 = 4294967296;

/** Stores a 64-bit value (a number or bigint) at byte offset at (8-aligned) of an arena. */
function set64(arena, at, v) {
  arena.i64[at >> 3] = BigInt(v);
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
    if (this.data.size > DATA_SIZE) { // grown for one large message
      this.data.free();
      this.data = new native.Arena(DATA_SIZE);
    }
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
    const extra = opts === null ? 0 : opts.bytes;
    const str = typeof payload === 'string';
    let len = payload === null ? 0 : str ? payload.length * 3 : payload.length; // a string's bound, first
    if (len + extra > this.data.size - this.used) {
      if (str) len = Buffer.byteLength(payload);
      if (len + extra > this.data.size - this.used && !this.room(len + extra)) return false;
    }
    const off = this.used;
    if (str) len = this.data.buf.write(payload, off);
    else if (payload !== null) this.data.u8.set(payload, off);
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
      const grown = new native.Arena(n + 64); // first: if it cannot be had, the batch stays usable
      this.data.free();
      this.data = grown;
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

  /** Writes struct i as pp_message_init() would, with its payload at data offset off, and its options. */
  writeStruct(i, off, len, nullValue, o) {
    const b = i * M.size;
    const st = this.structs;
    st.u8.fill(0, b, b + M.size);
    set64(st, b + M.struct_size, M.size);
    set64(st, b + M.key_len, -1); // PP_NTS
    set64(st, b + M.sequence_id, -1); // automatic
    set64(st, b + M.value_json_len, -1); // PP_NTS
    st.i32[(b + M.partition) >> 2] = o === null ? -1 : o.partition; // -1: routed by the library
    if (len > 0) {
      set64(st, b + M.payload, this.data.addr + off);
      set64(st, b + M.payload_len, len);
    }
    if (nullValue) st.u32[(b + M.null_value) >> 2] = 1;
    if (o === null) return;
    if (o.key !== null) {
      set64(st, b + M.key, this.put(o.key));
      set64(st, b + M.key_len, o.key[1]);
    }
    if (o.orderingKey !== null && o.orderingKey.length > 0) {
      set64(st, b + M.ordering_key, this.put(o.orderingKey));
      set64(st, b + M.ordering_key_len, o.orderingKey.length);
    }
    if (o.props !== null && o.props.length > 0) {
      const arr = this.align8(o.props.length * P.size);
      o.props.forEach(([k, v], j) => {
        const at = arr + j * P.size;
        for (const [f, fl, s] of [[P.key, P.key_len, k], [P.value, P.value_len, v]]) {
          set64(this.data, at + f, this.put(s));
          set64(this.data, at + fl, s[1]);
        }
      });
      set64(st, b + M.properties, this.data.addr + arr);
      set64(st, b + M.property_count, o.props.length);
    }
    if (o.clusters !== null && o.clusters.length > 0) {
      const arr = this.align8(o.clusters.length * 8);
      o.clusters.forEach((c, j) => {
        set64(this.data, arr + j * 8, this.put(c));
        this.data.u8[this.used++] = 0; // NUL-terminated
      });
      set64(st, b + M.replication_clusters, this.data.addr + arr);
      set64(st, b + M.replication_cluster_count, o.clusters.length);
    }
    for (const f of ['event_time_ms', 'deliver_at_ms', 'deliver_after_ms', 'sequence_id']) set64(st, b + M[f], o[f]);
    if (o.disableReplication) st.u32[(b + M.disable_replication) >> 2] = 1;
    if (o.valueJson !== null) {
      set64(st, b + M.value_json, this.put(o.valueJson));
      set64(st, b + M.value_json_len, o.valueJson[1]);
    }
  }

  /** Reserves n bytes of the data arena, 8-aligned; returns their offset. */
  align8(n) {
    const at = (this.used + 7) & ~7;
    this.used = at + n;
    return at;
  }

  /** Copies bytes, or a [string, byteLength], into the data arena; returns the address. */
  put(v) {
    const at = this.used;
    if (Array.isArray(v)) this.used += this.data.buf.write(v[0], at, v[1]);
    else this.used += (this.data.u8.set(v, at), v.length);
    return this.data.addr + at;
  }

  /** Hands messages start.. over in one .async() call; done(err, rc) follows. */
  send(h, flags, accepted, errbuf, done) {
    const s = this.start;
    const n = this.count - s;
    const ud = this.index.addr + (MAX_MESSAGES + s) * 8;
    if (this.structured) {
      native.asyncCall(native.fn.sendMessages, [h, this.structs.addr + s * M.size, n, flags, null, ud, accepted, errbuf, errbuf.length], done);
    } else {
      native.asyncCall(native.fn.sendBatch, [h, this.data.addr + this.offs[s], this.index.addr + s * 8, n, flags, null, ud,
        accepted, errbuf, errbuf.length], done);
    }
  }
}

module.exports = { Batch };
