// Chunking: a message too large for one frame, sent as several.
//
// With chunkingEnabled, a message whose frame would exceed the chunk limit
// (chunkMaxMessageSize, or the broker's maxMessageSize) is compressed
// first, if the producer compresses, and then cut into chunks. Each chunk
// is an entry of its own: the message's metadata (key, properties, times)
// plus the uuid, chunk_id, num_chunks_from_msg and total_chunk_msg_size
// that let consumers reassemble it, and every chunk carries the message's
// sequence ID, as in the Java client. The open batch is sent before the
// first chunk, so order is kept, and a chunked message is never batched.
//
// The chunks wait in the partition's queue like any entry, so a reconnect
// writes the ones not yet acknowledged again, with the same uuid and
// sequence ID. Only the last chunk holds the message's token: its receipt
// completes the message with an ID naming the last chunk and, from the
// first chunk's receipt, the first. A failure of any chunk fails the
// message once, and its remaining chunks go unsent.
package engine

import (
	"time"
)

// chunkInfo marks an entry as one chunk of a message.
type chunkInfo struct {
	id, num int
}

// chunkLimit is the frame size chunking aims under: chunkMaxMessageSize,
// capped at the broker's limit.
func (pt *partition) chunkLimit() int {
	if n := pt.p.opts.ChunkMaxMessageSize; n > 0 && n < pt.maxMessageSize {
		return n
	}
	return pt.maxMessageSize
}

// needsChunks reports whether m, sent alone, may not fit one frame, so
// that chunking decides (with compression, after compressing).
func (pt *partition) needsChunks(m *Message) bool {
	return pt.p.opts.ChunkingEnabled && len(m.Payload)+metaLowerBound(m)+pt.overheadMax() > pt.chunkLimit()
}

// sendChunked sends m alone, in chunks if it needs them. The open batch
// was sent already.
func (pt *partition) sendChunked(m *Message, token uint64, seq, deliverAt int64, now time.Time) error {
	e := pt.e
	o := &pt.p.opts
	payload := m.Payload
	em := entryMeta{seq: seq, replicateTo: clustersOf(m), deliverAt: deliverAt, compressed: true, uncompressedSize: len(payload)}
	if o.CompressionType != CompressionNone {
		if out, ok := e.codecs.compress(o.CompressionType, e.getBuf(), payload); ok {
			em.compression = o.CompressionType
			em.uncompressedSize = len(payload)
			payload = out
		}
	}
	single := appendSingleMeta(e.metaScratch[:0], m, len(m.Payload), seq)
	em.single = append([]byte(nil), single...)
	em.producerName = pt.name
	em.schemaVersion = pt.schemaVersion
	em.publishTime = now.UnixMilli()

	// The room a chunk's payload has: the limit less everything else in
	// its frame, measured with the widest chunk fields.
	em.uuid = pt.name + "-" + itoa(seq)
	em.numChunks, em.totalChunkSize, em.chunkID = 1<<31-1, len(payload), 1<<31-1
	overhead := 4 + len(appendSendCommand(nil, pt.wireID, seq, 1, 0, true)) + 2 + 4 + 4 + len(appendEntryMeta(nil, &em))
	room := pt.chunkLimit() - overhead
	if room < 1 {
		pt.p.completed(1, len(m.Payload), nil)
		e.memUsed -= int64(len(m.Payload))
		return Errorf(CodeInvalidConfiguration, "option chunkMaxMessageSize: %d bytes leave no room for a chunk's metadata (%d bytes)", pt.chunkLimit(), overhead)
	}
	num := (len(payload) + room - 1) / room
	if num <= 1 {
		// It fits after all (compressed): a lone message.
		if em.compression != CompressionNone {
			e.putBuf(payload)
		}
		pt.sendAlone(m, token, seq, deliverAt, now)
		return nil
	}
	em.numChunks, em.totalChunkSize = num, len(payload)
	for i := range num {
		part := payload[i*room : min(len(payload), (i+1)*room)]
		buf := append(growTo(e.getBuf(), 128+len(em.single)+len(pt.name)+len(em.uuid)), part...)
		ent := e.newEntry()
		ent.seq = seq
		ent.created = now
		ent.chunk = &chunkInfo{id: i, num: num}
		if i == num-1 {
			// The last chunk completes the message.
			ent.count = 1
			ent.bytes = len(m.Payload)
			ent.tokens = append(ent.tokens, token)
		}
		c := em
		c.chunkID = i
		pt.seal(ent, buf, len(buf)-len(part), &c, now)
	}
	if em.compression != CompressionNone {
		e.putBuf(payload)
	}
	return nil
}

// chunkReceipt handles the receipt of a chunk that is not the last: it
// keeps where the first is stored.
func (pt *partition) chunkReceipt(ent *entry, rc receipt) {
	if ent.chunk.id == 0 {
		pt.firstChunkLedger, pt.firstChunkEntry = rc.ledgerID, rc.entryID
	}
}

// failChunkRest fails the chunks behind a chunk that failed: they belong
// to the same message, which fails once, with the last.
func (pt *partition) failChunkRest(failed *chunkInfo, seq int64, err error) {
	if failed.id == failed.num-1 {
		return
	}
	for pt.head < len(pt.queue) {
		ent := pt.queue[pt.head]
		if ent.chunk == nil || ent.seq != seq || ent.chunk.id == 0 {
			return
		}
		pt.failEntry(pt.popHead(), err)
	}
}
