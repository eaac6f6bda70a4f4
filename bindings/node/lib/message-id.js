'use strict';
// message-id.js: MessageId, where a message was stored.
//
// A plain object of numbers, built by the producer from pp_drain rows (no
// native call per message). toString() formats as pp_message_id_str does
// ("ledger:entry:partition[:batchIndex]"), in JavaScript; serialize() and
// deserialize() call the library (pp_message_id_serialize/deserialize), so
// the bytes are exactly those the official clients read and write.
const native = require('./native');
const { makeError, codes } = require('./errors');

const L = native.layout.messageId;
const TWO32 = 4294967296;

function writeId(buf, id) {
  buf.fill(0, 0, L.size);
  buf.writeBigInt64LE(BigInt(id.ledgerId), L.ledger_id);
  buf.writeBigInt64LE(BigInt(id.entryId), L.entry_id);
  buf.writeInt32LE(id.partition, L.partition);
  buf.writeInt32LE(id.batchIndex, L.batch_index);
  buf.writeInt32LE(id.batchSize, L.batch_size);
}

function readInt64(buf, off) {
  return buf.readInt32LE(off + 4) * TWO32 + buf.readUInt32LE(off);
}

class MessageId {
  /**
   * @param {number} ledgerId
   * @param {number} entryId
   * @param {number} [partition] -1 for a non-partitioned topic
   * @param {number} [batchIndex] -1 when the message was sent alone
   * @param {number} [batchSize] 0 when the message was sent alone
   */
  constructor(ledgerId, entryId, partition = -1, batchIndex = -1, batchSize = 0) {
    this.ledgerId = ledgerId;
    this.entryId = entryId;
    this.partition = partition;
    this.batchIndex = batchIndex;
    this.batchSize = batchSize;
  }

  /** "ledger:entry:partition", plus ":batchIndex" for a batched message. */
  toString() {
    const s = `${this.ledgerId}:${this.entryId}:${this.partition}`;
    return this.batchIndex >= 0 ? `${s}:${this.batchIndex}` : s;
  }

  /** True if other names the same message. */
  equals(other) {
    return other instanceof MessageId && other.ledgerId === this.ledgerId &&
      other.entryId === this.entryId && other.partition === this.partition &&
      other.batchIndex === this.batchIndex;
  }

  /** The protocol's MessageIdData bytes, as the official clients read them. */
  serialize() {
    const id = Buffer.alloc(L.size);
    writeId(id, this);
    const out = Buffer.alloc(64);
    const needed = new BigUint64Array(1);
    const rc = native.fn.idSerialize(id, out, out.length, needed);
    if (rc !== 0) throw makeError(rc, `cannot serialize message ID ${this}`);
    return out.subarray(0, Number(needed[0]));
  }

  /**
   * Reads MessageIdData bytes (from serialize() or an official client).
   * @param {Uint8Array} data
   */
  static deserialize(data) {
    if (!(data instanceof Uint8Array)) {
      throw makeError(codes.invalidArgument, 'MessageId.deserialize needs a Buffer or Uint8Array');
    }
    const out = Buffer.alloc(L.size);
    const rc = native.fn.idDeserialize(data.length ? data : Buffer.alloc(1), data.length, out);
    if (rc !== 0) throw makeError(rc, `cannot deserialize a message ID from ${data.length} bytes`);
    return new MessageId(readInt64(out, L.ledger_id), readInt64(out, L.entry_id),
      out.readInt32LE(L.partition), out.readInt32LE(L.batch_index), out.readInt32LE(L.batch_size));
  }
}

/** pp_message_id_str() of an id, straight from the library (for tests). */
function nativeString(id) {
  const buf = Buffer.alloc(L.size);
  writeId(buf, id);
  const out = Buffer.alloc(128);
  const n = Number(native.fn.idStr(buf, out, out.length));
  return out.toString('utf8', 0, Math.min(n, out.length - 1));
}

module.exports = { MessageId, nativeString };
