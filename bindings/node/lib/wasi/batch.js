'use strict';
// wasi/batch.js: the WASI backend's Batch: messages gathered for one hand-
// over (the limits of the koffi backend's batch.js), with the same
// interface producer.js uses. Payloads lie back to back in a JavaScript
// buffer; a message with send options (or a null value) also gets its
// metadata in the module's tagged encoding (wasm/ABI.md, "Message
// metadata"), which makes the batch "structured". A hand-over copies the
// batch into the module's memory: payload-only messages with one
// ppw_send_payloads call, structured ones with one ppw_send_msg each,
// stopping at the first the module refuses.
const { nowNs } = require('./module');
const { MAX_MESSAGES, MAX_BYTES } = require('../message');
const { codes } = require('../errors');

const DATA_SIZE = MAX_BYTES + 8192;
const TWO32 = 4294967296;
const TAG = { key: 1, orderingKey: 2, property: 3, eventTime: 4, deliverAt: 5, deliverAfter: 6, sequenceId: 7,
  nullValue: 8, cluster: 9, disableReplication: 10, partition: 12, valueJson: 13 };

/** Appends one message's metadata fields to a growable buffer; returns the new length. */
class Meta {
  constructor() {
    this.buf = Buffer.alloc(4096);
    this.used = 0;
  }

  room(n) {
    if (this.used + n <= this.buf.length) return;
    const b = Buffer.alloc(Math.max(this.buf.length * 2, this.used + n));
    this.buf.copy(b, 0, 0, this.used);
    this.buf = b;
  }

  tag(t) {
    this.room(1);
    this.buf[this.used++] = t;
  }

  /** A string field: the tag, then the string ([text, byteLength] or bytes). */
  str(t, v) {
    this.tag(t);
    this.bytes(v);
  }

  /** A u32 length and the bytes of [text, byteLength] or a Uint8Array. */
  bytes(v) {
    const n = Array.isArray(v) ? v[1] : v.length;
    this.room(4 + n);
    this.buf.writeUInt32LE(n, this.used);
    this.used += 4;
    if (Array.isArray(v)) this.buf.write(v[0], this.used, n, 'utf8');
    else this.buf.set(v, this.used);
    this.used += n;
  }

  i64(t, v) {
    this.room(9);
    this.buf[this.used] = t;
    this.buf.writeBigInt64LE(BigInt(v), this.used + 1);
    this.used += 9;
  }

  write(o, nullValue) {
    if (nullValue) this.tag(TAG.nullValue);
    if (o === null) return;
    if (o.key !== null) this.str(TAG.key, o.key);
    if (o.orderingKey !== null && o.orderingKey.length > 0) this.str(TAG.orderingKey, o.orderingKey);
    if (o.props !== null) {
      for (const [k, v] of o.props) {
        this.str(TAG.property, k);
        this.bytes(v);
      }
    }
    if (Number(o.event_time_ms) > 0) this.i64(TAG.eventTime, o.event_time_ms);
    if (Number(o.deliver_at_ms) > 0) this.i64(TAG.deliverAt, o.deliver_at_ms);
    if (Number(o.deliver_after_ms) > 0) this.i64(TAG.deliverAfter, o.deliver_after_ms);
    if (Number(o.sequence_id) >= 0) this.i64(TAG.sequenceId, o.sequence_id);
    if (o.clusters !== null) for (const c of o.clusters) this.str(TAG.cluster, c);
    if (o.disableReplication) this.tag(TAG.disableReplication);
    if (o.partition >= 0) {
      this.room(5);
      this.buf[this.used] = TAG.partition;
      this.buf.writeInt32LE(o.partition, this.used + 1);
      this.used += 5;
    }
    if (o.valueJson !== null) this.str(TAG.valueJson, o.valueJson);
  }
}

class WasiBatch {
  constructor() {
    this.data = Buffer.allocUnsafe(DATA_SIZE);
    this.offs = new Float64Array(MAX_MESSAGES + 1);
    this.tokens = new Float64Array(MAX_MESSAGES);
    this.metaOffs = new Float64Array(MAX_MESSAGES + 1);
    this.meta = null;
    this.reset();
  }

  reset() {
    if (this.data.length > DATA_SIZE) this.data = Buffer.allocUnsafe(DATA_SIZE);
    this.count = 0;
    this.start = 0;
    this.used = 0;
    this.structured = false;
    if (this.meta !== null) this.meta.used = 0;
  }

  free() {}

  get full() { return this.count === MAX_MESSAGES || this.used >= MAX_BYTES; }

  tokenAt(i) { return this.tokens[i]; }

  add(payload, opts, token) {
    const i = this.count;
    if (i === MAX_MESSAGES) return false;
    const str = typeof payload === 'string';
    const len = payload === null ? 0 : str ? Buffer.byteLength(payload) : payload.length;
    if (len > this.data.length - this.used) {
      if (this.count > 0) return false;
      this.data = Buffer.allocUnsafe(len + 64); // an empty batch grows to fit any message
    }
    if (str) this.data.write(payload, this.used, len, 'utf8');
    else if (len > 0) this.data.set(payload, this.used);
    this.offs[i] = this.used;
    this.used += len;
    this.offs[i + 1] = this.used;
    if (opts !== null || payload === null || this.structured) {
      if (this.meta === null) this.meta = new Meta();
      if (!this.structured) {
        for (let j = 0; j <= i; j++) this.metaOffs[j] = 0; // the messages before have no fields
        this.structured = true;
      }
      this.metaOffs[i] = this.meta.used;
      this.meta.write(opts, payload === null);
      this.metaOffs[i + 1] = this.meta.used;
    }
    this.tokens[i] = token;
    this.count = i + 1;
    return true;
  }

  /** Hands messages start.. to the module; done(err, rc) follows on a microtask, with accepted[0] set. */
  send(h, flags, accepted, errbuf, done) {
    const p = WasiBatch.hostOf(h);
    let rc = 0;
    let n = 0;
    if (p === null) {
      rc = failInto(errbuf, { code: codes.AlreadyClosed, message: 'the producer is closed' });
    } else if (p.host.broken) {
      rc = failInto(errbuf, { code: codes.UnknownError, message: p.host.broken.message });
    } else {
      const f = this.structured ? this.sendEach(p) : this.sendPayloads(p);
      n = f.accepted;
      if (f.failure) rc = failInto(errbuf, f.failure);
    }
    accepted[0] = BigInt(n);
    queueMicrotask(() => done(null, rc));
  }

  sendPayloads({ host, id }) {
    const inst = host.in;
    const s = this.start;
    const n = this.count - s;
    const from = this.offs[s];
    const dataPtr = inst.put(inst.input, this.data.subarray(from, this.used));
    const tokensAt = (n * 4 + 7) & ~7;
    inst.extra.reserve(tokensAt + n * 8);
    inst.views();
    const base = inst.extra.ptr;
    const dv = inst.dv;
    for (let i = 0; i < n; i++) {
      dv.setUint32(base + i * 4, this.offs[s + i + 1] - this.offs[s + i], true);
      const t = this.tokens[s + i];
      dv.setUint32(base + tokensAt + i * 8, t % TWO32, true);
      dv.setUint32(base + tokensAt + i * 8 + 4, Math.floor(t / TWO32), true);
    }
    let failure = null;
    let accepted = 0;
    try {
      failure = inst.check('ppw_send_payloads', BigInt(id), dataPtr, this.used - from, base, base + tokensAt, n, nowNs());
      accepted = failure ? inst.result(0) : n;
      host.drive();
    } catch (e) {
      failure = host.trapped(e);
    }
    return { accepted, failure };
  }

  sendEach({ host, id }) {
    const inst = host.in;
    const big = BigInt(id);
    let i = this.start;
    let failure = null;
    try {
      for (; i < this.count; i++) {
        const pptr = inst.put(inst.input, this.data.subarray(this.offs[i], this.offs[i + 1]));
        const mptr = inst.put(inst.extra, this.meta.buf.subarray(this.metaOffs[i], this.metaOffs[i + 1]));
        failure = inst.check('ppw_send_msg', big, pptr, this.offs[i + 1] - this.offs[i], mptr, this.metaOffs[i + 1] - this.metaOffs[i],
          BigInt(this.tokens[i]), nowNs());
        if (failure) break;
      }
      host.drive();
    } catch (e) {
      failure = host.trapped(e);
    }
    return { accepted: i - this.start, failure };
  }
}

/** Writes a failure's text into a koffi-style error buffer (NUL-terminated, cut to fit; none: null); returns its code. */
function failInto(errbuf, f) {
  if (errbuf && errbuf.length > 0) {
    const n = errbuf.write(f.message, 0, errbuf.length - 1);
    errbuf[n] = 0;
  }
  return f.code;
}

WasiBatch.hostOf = null; // set by backend.js: a producer handle's { host, id }, or null

module.exports = { WasiBatch, failInto };
