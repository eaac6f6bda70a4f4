'use strict';
// message-id.js: MessageId, where a message was stored. Built from pp_drain
// rows without a native call per message; toString() formats as
// pp_message_id_str does; serialize()/deserialize() call the library, so the
// bytes are exactly those the official clients read and write (for a
// chunked message, MessageIdData with first_chunk_message_id).
const native = require('./native');
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

  /** The protocol's MessageIdData bytes, as the official clients read them. */
  serialize() {
    const out = Buffer.alloc(128);
    const needed = [0];
    const rc = native.fn.idSerialize(toC(this), out, out.length, needed);
    if (rc !== codes.Ok) throw makeError(rc, `cannot serialize message ID ${this}`);
    return out.subarray(0, Number(needed[0]));
  }

  static deserialize(data) {
    if (!(data instanceof Uint8Array)) throw invalid('MessageId.deserialize needs a Buffer or Uint8Array');
    const id = {};
    const rc = native.fn.idDeserialize(data.length ? data : Buffer.alloc(1), data.length, id);
    if (rc !== codes.Ok) throw makeError(rc, `cannot deserialize a message ID from ${data.length} bytes`);
    return fromC(id);
  }
}

/** A MessageId from a pp_message_id as koffi decodes it. */
function fromC(id) {
  const first = (id.flags & ID_CHUNKED) !== 0
    ? new MessageId(Number(id.first_chunk_ledger_id), Number(id.first_chunk_entry_id), id.partition) : null;
  return new MessageId(Number(id.ledger_id), Number(id.entry_id), id.partition, id.batch_index, id.batch_size,
    (id.flags & ID_DUPLICATE) !== 0, first);
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
  const n = Number(native.fn.idStr(toC(id), out, out.length));
  return out.toString('utf8', 0, Math.min(n, out.length - 1));
}

module.exports = { MessageId, nativeString, ID_DUPLICATE, ID_CHUNKED };
