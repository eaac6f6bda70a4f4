'use strict';
// message-id.js: MessageId, where a message was stored. Built from pp_drain
// rows without a native call per message; toString() formats as
// pp_message_id_str does; serialize()/deserialize() write and read the
// protocol's MessageIdData here, byte for byte as the library's
// pp_message_id_serialize (unit.test.js compares them), so both backends
// give the bytes the official clients read and write (for a chunked
// message, with first_chunk_message_id).
const { makeError, invalid, codes } = require('./errors');

const ID_DUPLICATE = 1; // PP_ID_DUPLICATE
const ID_CHUNKED = 2; // PP_ID_CHUNKED

class MessageId {
  constructor(ledgerId, entryId, partition = -1, batchIndex = -1, batchSize = 0, isDuplicate = false, firstChunkId = null) {
    if (firstChunkId !== null && !(firstChunkId instanceof MessageId)) {
      throw invalid('firstChunkId must be a MessageId or null');
    }
    this.ledgerId = ledgerId;
    this.entryId = entryId;
    this.partition = partition;
    this.batchIndex = batchIndex;
    this.batchSize = batchSize;
    // The broker's deduplication recognised a resent message as already
    // stored: it says so but not where, so ledgerId and entryId are -1.
    this.isDuplicate = isDuplicate;
    // A message sent in chunks (chunkingEnabled): ledgerId and entryId are
    // its last chunk's, firstChunkId where its first chunk is stored.
    this.isChunked = firstChunkId !== null;
    this.firstChunkId = firstChunkId;
  }

  toString() {
    const s = `${this.ledgerId}:${this.entryId}:${this.partition}`;
    if (this.firstChunkId !== null) return `${this.firstChunkId.ledgerId}:${this.firstChunkId.entryId}:${this.partition};${s}`;
    return this.batchIndex >= 0 ? `${s}:${this.batchIndex}` : s;
  }

  equals(other) {
    return other instanceof MessageId && other.ledgerId === this.ledgerId && other.entryId === this.entryId &&
      other.partition === this.partition && other.batchIndex === this.batchIndex &&
      (other.firstChunkId === null ? this.firstChunkId === null : other.firstChunkId.equals(this.firstChunkId));
  }

  /** The protocol's MessageIdData bytes, as the official clients read them (the library's pp_message_id_serialize). */
  serialize() {
    const out = [];
    writeId(out, this, this.firstChunkId);
    return Buffer.from(out);
  }

  static deserialize(data) {
    if (!(data instanceof Uint8Array)) throw invalid('MessageId.deserialize needs a Buffer or Uint8Array');
    const f = readId(data);
    if (typeof f === 'string') throw makeError(codes.InvalidArgument, `cannot deserialize a message ID from ${data.length} bytes: ${f}`);
    const first = f.first === null ? null : new MessageId(f.first.ledger, f.first.entry, f.partition);
    return new MessageId(f.ledger, f.entry, f.partition, f.batchIndex, f.batchSize, f.ledger === -1 && f.entry === -1, first);
  }
}

// MessageIdData (PulsarApi.proto): ledgerId 1, entryId 2, partition 3,
// batch_index 4, batch_size 6 (varints), first_chunk_message_id 7 (a nested
// MessageIdData). Fields at their defaults are left out, as the Go engine's
// MessageID.Serialize leaves them.

function varint(out, v) {
  let x = BigInt.asUintN(64, BigInt(v));
  while (x >= 0x80n) {
    out.push(Number(x & 0x7fn) | 0x80);
    x >>= 7n;
  }
  out.push(Number(x));
}

function writeId(out, id, first) {
  out.push(1 << 3);
  varint(out, id.ledgerId);
  out.push(2 << 3);
  varint(out, id.entryId);
  if (id.partition >= 0) {
    out.push(3 << 3);
    varint(out, id.partition);
  }
  if (id.batchIndex !== -1) {
    out.push(4 << 3);
    varint(out, id.batchIndex);
  }
  if (id.batchSize > 0) {
    out.push(6 << 3);
    varint(out, id.batchSize);
  }
  if (first !== null) {
    const inner = [];
    writeId(inner, { ledgerId: first.ledgerId, entryId: first.entryId, partition: id.partition, batchIndex: -1, batchSize: 0 }, null);
    out.push((7 << 3) | 2);
    varint(out, inner.length);
    out.push(...inner);
  }
}

/** The fields of MessageIdData bytes, or a string saying what is wrong. */
function readId(b) {
  const f = { ledger: null, entry: null, partition: -1, batchIndex: -1, batchSize: 0, first: null };
  let at = 0;
  const next = () => {
    let x = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (at >= b.length) throw new Error('a varint runs past the end');
      const c = b[at++];
      x |= BigInt(c & 0x7f) << shift;
      if (c < 0x80) return BigInt.asUintN(64, x);
    }
    throw new Error('a varint is too long');
  };
  const i32 = (x) => Number(BigInt.asIntN(32, x));
  const i64 = (x) => Number(BigInt.asIntN(64, x));
  try {
    while (at < b.length) {
      const tag = Number(next());
      const [num, typ] = [tag >>> 3, tag & 7];
      if (typ === 0) {
        const x = next();
        if (num === 1) f.ledger = i64(x);
        else if (num === 2) f.entry = i64(x);
        else if (num === 3) f.partition = i32(x);
        else if (num === 4) f.batchIndex = i32(x);
        else if (num === 6) f.batchSize = i32(x);
      } else if (typ === 2) {
        const n = Number(next());
        if (n > b.length - at) throw new Error('a field runs past the end');
        if (num === 7) {
          const first = readId(b.subarray(at, at + n));
          if (typeof first === 'string') return `a malformed first chunk ID: ${first}`;
          f.first = first;
        }
        at += n;
      } else if (typ === 1 || typ === 5) {
        at += typ === 1 ? 8 : 4;
        if (at > b.length) throw new Error('a field runs past the end');
      } else {
        throw new Error(`wire type ${typ} is not one a message ID has`);
      }
    }
  } catch (e) {
    return `the bytes are malformed: ${e.message}`;
  }
  if (f.ledger === null || f.entry === null) return 'the bytes lack the ledger or entry ID';
  return f;
}

function toC(id) {
  const first = id.firstChunkId;
  return {
    ledger_id: BigInt(id.ledgerId), entry_id: BigInt(id.entryId), partition: id.partition,
    batch_index: id.batchIndex, batch_size: id.batchSize,
    flags: (id.isDuplicate ? ID_DUPLICATE : 0) | (first !== null ? ID_CHUNKED : 0),
    first_chunk_ledger_id: first !== null ? BigInt(first.ledgerId) : -1n,
    first_chunk_entry_id: first !== null ? BigInt(first.entryId) : -1n,
  };
}

/** pp_message_id_str() of an id, straight from the library (for tests). */
function nativeString(id) {
  const out = Buffer.alloc(256);
  const n = Number(require('./native').fn.idStr(toC(id), out, out.length));
  return out.toString('utf8', 0, Math.min(n, out.length - 1));
}

/** pp_message_id_serialize() of an id, straight from the library (for tests). */
function nativeSerialize(id) {
  const out = Buffer.alloc(128);
  const needed = [0];
  const rc = require('./native').fn.idSerialize(toC(id), out, out.length, needed);
  if (rc !== codes.Ok) throw makeError(rc, `the library cannot serialize ${id}`);
  return out.subarray(0, Number(needed[0]));
}

module.exports = { MessageId, nativeString, nativeSerialize, ID_DUPLICATE, ID_CHUNKED };
