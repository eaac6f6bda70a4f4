// Batches and entries: turning messages into SEND frames.
//
// A batch buffer starts with empty headroom; each message appends its
// 4-byte metadata size, its SingleMessageMetadata and its payload. When the
// batch closes (message count, byte size, publish delay, Flush, or a
// message that must travel alone), it is sealed: compressed if configured,
// then the entry's MessageMetadata, the SEND command and the frame header
// are written right-aligned into the headroom, so the frame is the buffer's
// tail and the payload is never copied. A batch of one message is sent as a
// plain message, as the Java client does, with that message's metadata
// moved from its SingleMessageMetadata into the MessageMetadata.
//
// A sealed entry keeps its frame until its receipt, so that a reconnect can
// write it again unchanged. Buffers and entries are pooled per engine.
package engine

import (
	"encoding/binary"
	"slices"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// Message is one message to publish. Only Payload is commonly set.
type Message struct {
	// Payload is the message body. It is copied by Send.
	Payload []byte
	// NullValue marks a tombstone: a message whose value is null, distinct
	// from an empty payload. Payload must be empty.
	NullValue bool
	// Key is the partition key: it picks the partition and is what
	// compaction and Key_Shared subscriptions group by. Empty means none,
	// unless HasKey is set.
	Key string
	// HasKey sends Key even when it is empty: an empty key is a key, as in
	// the Java client (it routes by its hash and compaction keeps it apart
	// from keyless messages). A non-empty Key is always sent.
	HasKey bool
	// OrderingKey, when set, replaces Key for Key_Shared ordering.
	OrderingKey []byte
	// Properties are string pairs attached to the message.
	Properties map[string]string
	// EventTime is an application timestamp. Zero means none.
	EventTime time.Time
	// DeliverAt delays delivery to Shared subscriptions until this time.
	// Such a message is never batched.
	DeliverAt time.Time
	// DeliverAfter delays delivery by this long from the send.
	DeliverAfter time.Duration
	// SequenceID overrides the automatic sequence ID; deduplication uses it.
	SequenceID *int64
	// ReplicationClusters restricts geo-replication to these clusters.
	ReplicationClusters []string
	// DisableReplication keeps the message in the local cluster.
	DisableReplication bool
	// Value, when set instead of Payload, is encoded by the producer's
	// schema (see EncodeValue); a SEPARATED KEY_VALUE value also sets the
	// key.
	Value any
	// KeyBase64 says Key is the base64 text of a binary key.
	KeyBase64 bool
	// Routed sends the message to Partition of a partitioned topic (0 of
	// a plain one), bypassing the routing mode. The runtimes set it from a
	// custom router, which they run outside their locks.
	Routed    bool
	Partition int32
}

// localCluster is the replicate_to value that disables replication.
const localCluster = "__local__"

// batchHeadroom is the room kept before a batch's payload for the header.
const batchHeadroom = 256

// entry is a sealed SEND frame and the messages in it.
type entry struct {
	seq     int64
	count   int
	batched bool
	tokens  []uint64
	frame   []byte // the whole frame, a tail of buf
	buf     []byte
	created time.Time // when its first message was sent
	bytes   int       // payload bytes, for the memory limit
	tooBig  *Error    // over the limit of the broker it was to be resent to
	chunk   *chunkInfo
}

// openBatch is the batch being filled.
type openBatch struct {
	buf      []byte
	count    int
	firstSeq int64
	lastSeq  int64
	tokens   []uint64
	created  time.Time
	deadline time.Time
	bytes    int
	clusters []string // replicate_to of every message in the batch
	start    int      // where the messages begin in buf (after the headroom)

	// keyBased batching: the batch's key, and the key fields its entry
	// carries (every message of the batch has them).
	keyID       string
	key         string
	hasKey      bool
	keyBase64   bool
	orderingKey []byte
}

func (b *openBatch) reset(e *Engine) {
	if b.buf != nil {
		e.putBuf(b.buf)
	}
	b.buf = nil
	b.count = 0
	b.tokens = b.tokens[:0]
	b.bytes = 0
	b.clusters = nil
}

func (e *Engine) newEntry() *entry {
	if n := len(e.entryPool); n > 0 {
		ent := e.entryPool[n-1]
		e.entryPool = e.entryPool[:n-1]
		return ent
	}
	return &entry{}
}

func (e *Engine) putEntry(ent *entry) {
	e.putBuf(ent.buf)
	tokens := ent.tokens[:0]
	*ent = entry{tokens: tokens}
	if len(e.entryPool) < 256 {
		e.entryPool = append(e.entryPool, ent)
	}
}

// clustersOf returns the replicate_to list of m.
func clustersOf(m *Message) []string {
	if m.DisableReplication {
		return []string{localCluster}
	}
	return m.ReplicationClusters
}

// payloadOnly reports whether m carries nothing but its payload: the
// common case, which addPayload handles without looking at any other field.
func (m *Message) payloadOnly() bool {
	return m.Key == "" && !m.HasKey && len(m.Properties) == 0 && len(m.OrderingKey) == 0 && m.EventTime.IsZero() &&
		!m.NullValue && m.DeliverAt.IsZero() && m.DeliverAfter == 0 && m.SequenceID == nil &&
		len(m.ReplicationClusters) == 0 && !m.DisableReplication
}

// addPayload batches a message that has only a payload. It does what add
// does for such a message, in fewer steps: under WASI every step counts.
func (pt *partition) addPayload(payload []byte, token uint64, now time.Time) {
	o := &pt.p.opts
	seq := pt.nextSeq
	pt.nextSeq++
	if seq > pt.lastSeq {
		pt.lastSeq = seq
	}
	size := len(payload)
	pt.p.accepted(size)
	pt.e.memUsed += int64(size)
	if o.BatcherType == KeyBasedBatcher {
		pt.useBatchFor("", nil)
	}
	b := &pt.batch
	if b.count > 0 && (len(b.clusters) > 0 || len(b.buf)-b.start+size > o.BatchingMaxBytes || pt.overflows(size+payloadOnlyMetaMax)) {
		pt.flushBatch(now)
	}
	if b.count == 0 {
		pt.openBatch(seq, nil, now)
	}
	// The 4-byte size, then SingleMessageMetadata{payload_size, sequence_id}.
	buf := append(b.buf, 0, 0, 0, 0, 3<<3|byte(protowire.VarintType))
	at := len(buf) - 5
	buf = appendVarint(buf, uint64(size))
	buf = append(buf, 8<<3|byte(protowire.VarintType))
	buf = appendVarint(buf, uint64(seq))
	binary.BigEndian.PutUint32(buf[at:], uint32(len(buf)-at-4))
	b.buf = append(buf, payload...)
	b.tokens = append(b.tokens, token)
	b.count++
	b.lastSeq = seq
	b.bytes += size
	if b.count >= o.BatchingMaxMessages || len(b.buf)-b.start >= o.BatchingMaxBytes {
		pt.flushBatch(now)
	}
}

// openBatch starts the open batch with its first message.
func (pt *partition) openBatch(seq int64, clusters []string, now time.Time) {
	b := &pt.batch
	b.buf = growTo(pt.e.getBuf(), batchHeadroom+len(pt.name))
	b.start = len(b.buf)
	b.created = now
	b.deadline = now.Add(pt.p.opts.BatchingMaxPublishDelay)
	b.firstSeq = seq
	b.clusters = nil
	if len(clusters) > 0 {
		b.clusters = slices.Clone(clusters)
	}
	pt.e.wake(b.deadline)
}

// add queues m in pt: into the open batch, or alone.
func (pt *partition) add(m *Message, token uint64, now time.Time) error {
	o := &pt.p.opts
	if !o.DisableBatching && m.payloadOnly() && !pt.needsChunks(m) {
		pt.addPayload(m.Payload, token, now)
		return nil
	}
	var deliverAt int64
	switch {
	case !m.DeliverAt.IsZero():
		deliverAt = m.DeliverAt.UnixMilli()
	case m.DeliverAfter > 0:
		deliverAt = now.Add(m.DeliverAfter).UnixMilli()
	}
	seq := pt.nextSeq
	if m.SequenceID != nil {
		seq = *m.SequenceID
	} else {
		pt.nextSeq++
	}
	pt.lastSeq = max(pt.lastSeq, seq)
	size := len(m.Payload)
	pt.p.accepted(size)
	pt.e.memUsed += int64(size)

	if pt.needsChunks(m) {
		pt.flushAll(now)
		return pt.sendChunked(m, token, seq, deliverAt, now)
	}
	if o.DisableBatching || deliverAt > 0 {
		// Alone, behind whatever is batched.
		pt.flushAll(now)
		pt.sendAlone(m, token, seq, deliverAt, now)
		return nil
	}
	if o.BatcherType == KeyBasedBatcher {
		pt.useBatchFor(batchKeyOf(m), m)
	}
	b := &pt.batch
	if b.count > 0 && (!slices.Equal(b.clusters, clustersOf(m)) || len(b.buf)-b.start+size > o.BatchingMaxBytes || pt.overflows(size+singleMetaMax(m))) {
		pt.flushBatch(now)
	}
	if b.count == 0 {
		pt.openBatch(seq, clustersOf(m), now)
	}
	at := len(b.buf)
	b.buf = append(b.buf, 0, 0, 0, 0)
	b.buf = appendSingleMeta(b.buf, m, size, seq)
	binary.BigEndian.PutUint32(b.buf[at:], uint32(len(b.buf)-at-4))
	b.buf = append(b.buf, m.Payload...)
	b.tokens = append(b.tokens, token)
	b.count++
	b.lastSeq = seq
	b.bytes += size
	if b.count >= o.BatchingMaxMessages || len(b.buf)-b.start >= o.BatchingMaxBytes {
		pt.flushBatch(now)
	}
	return nil
}

// sendAlone seals m as an entry of its own.
func (pt *partition) sendAlone(m *Message, token uint64, seq, deliverAt int64, now time.Time) {
	e := pt.e
	single := appendSingleMeta(e.metaScratch[:0], m, len(m.Payload), seq)
	e.metaScratch = single
	clusters := clustersOf(m)
	room := len(single) + 128 + len(pt.name)
	for _, c := range clusters {
		room += len(c) + 2
	}
	buf := growTo(e.getBuf(), room)
	buf = append(buf, m.Payload...)
	ent := e.newEntry()
	ent.seq = seq
	ent.count = 1
	ent.tokens = append(ent.tokens, token)
	ent.created = now
	ent.bytes = len(m.Payload)
	em := entryMeta{seq: seq, replicateTo: clusters, deliverAt: deliverAt}
	// single lives in metaScratch, which seal reuses: keep a copy.
	em.single = append(e.singleScratch[:0], single...)
	e.singleScratch = em.single
	pt.seal(ent, buf, room, &em, now)
}

// flushBatch seals the open batch, if any, and queues it.
func (pt *partition) flushBatch(now time.Time) {
	b := &pt.batch
	if b.count == 0 {
		return
	}
	e := pt.e
	ent := e.newEntry()
	ent.seq = b.firstSeq
	ent.count = b.count
	ent.batched = b.count > 1
	ent.tokens, b.tokens = b.tokens, ent.tokens[:0]
	ent.created = b.created
	ent.bytes = b.bytes
	buf := b.buf
	b.buf = nil
	em := entryMeta{seq: b.firstSeq, replicateTo: b.clusters, batchKey: b.key, batchHasKey: b.hasKey, batchKeyBase64: b.keyBase64, batchOrderingKey: b.orderingKey}
	payloadAt := b.start
	if b.count == 1 {
		// Send a batch of one as a plain message: its single metadata
		// becomes the entry's metadata.
		n := int(binary.BigEndian.Uint32(buf[b.start:]))
		em.single = append(e.singleScratch[:0], buf[b.start+4:b.start+4+n]...)
		e.singleScratch = em.single
		payloadAt = b.start + 4 + n
	} else {
		em.batchSize = b.count
		em.highestSeq = b.lastSeq
	}
	b.reset(e)
	pt.seal(ent, buf, payloadAt, &em, now)
}

// seal compresses the payload at buf[payloadAt:], writes the frame header
// in front of it, and queues the entry.
func (pt *partition) seal(ent *entry, buf []byte, payloadAt int, em *entryMeta, now time.Time) {
	e := pt.e
	o := &pt.p.opts
	if o.CompressionType != CompressionNone && !em.compressed {
		cbuf := growTo(e.getBuf(), payloadAt)
		if out, ok := e.codecs.compress(o.CompressionType, cbuf, buf[payloadAt:]); ok {
			em.compression = o.CompressionType
			em.uncompressedSize = len(buf) - payloadAt
			e.putBuf(buf)
			buf = out
		} else {
			e.putBuf(cbuf)
		}
	}
	em.producerName = pt.name
	em.schemaVersion = pt.schemaVersion
	em.publishTime = now.UnixMilli()
	meta := appendEntryMeta(e.metaScratch[:0], em)
	e.metaScratch = meta
	cmd := appendSendCommand(e.cmdScratch[:0], pt.wireID, em.seq, em.batchSize, em.highestSeq, em.numChunks > 0)
	e.cmdScratch = cmd
	start := payloadAt - sendFrameHeaderLen(len(cmd)) - len(meta)
	if start < 0 {
		grown := make([]byte, len(buf)-start)
		copy(grown[-start:], buf)
		e.putBuf(buf)
		buf = grown
		payloadAt -= start
		start = 0
	}
	writeSendFrame(buf, start, payloadAt, cmd, meta, e.opts.HostChecksums)
	ent.buf = buf
	ent.frame = buf[start:]
	if err := pt.checkFrame(ent); err != nil {
		pt.failEntry(ent, err)
		return
	}
	pt.enqueue(ent)
}

// The size limit. The broker announces maxMessageSize in CONNECTED and
// drops a frame larger than that plus some slack, closing the connection;
// writing it again after the reconnect would fail the same way, forever.
// So the engine counts the whole frame after its size prefix (command,
// checksum, metadata and payload) and never writes one larger than the
// limit: a message that cannot fit fails with MessageTooBig before anything
// is written, and a batch closes before the message that would overflow it.
// Closing batches uses upper bounds of the metadata (below); whether an
// entry fits is decided on its sealed frame, exactly.

// payloadOnlyMetaMax bounds what a payload-only message adds to a batch
// besides its payload: the size prefix and a SingleMessageMetadata of
// payload size and sequence ID.
const payloadOnlyMetaMax = 4 + 2*(1+10)

// entryOverheadMax bounds the frame of an entry besides its messages:
// size prefixes, the SEND command, magic and checksum, and the entry's
// MessageMetadata without the producer name and replication clusters.
const entryOverheadMax = 160

// overheadMax is entryOverheadMax with the partition's producer name and
// schema version.
func (pt *partition) overheadMax() int {
	return entryOverheadMax + len(pt.name) + 3 + len(pt.schemaVersion)
}

// singleMetaMax bounds what m adds to a batch besides its payload.
func singleMetaMax(m *Message) int {
	n := payloadOnlyMetaMax + 2*11 + 2*(6+len(m.Key)+len(m.OrderingKey))
	for k, v := range m.Properties {
		n += 3*6 + len(k) + len(v)
	}
	return n
}

// metaLowerBound is what m's metadata takes at the least: its key,
// ordering key and properties are written in full.
func metaLowerBound(m *Message) int {
	n := len(m.Key) + len(m.OrderingKey)
	for k, v := range m.Properties {
		n += len(k) + len(v)
	}
	return n
}

// overflows reports whether adding n more bytes to the open batch could
// make its frame larger than the broker's limit.
func (pt *partition) overflows(n int) bool {
	b := &pt.batch
	over := pt.overheadMax()
	for _, c := range b.clusters {
		over += len(c) + 2
	}
	return len(b.buf)-b.start+n+over > pt.maxMessageSize
}

// checkFrame refuses an entry whose frame is larger than the limit.
func (pt *partition) checkFrame(ent *entry) *Error {
	if size := len(ent.frame) - 4; size > pt.maxMessageSize {
		what := "a message"
		if ent.count > 1 {
			what = "a batch of " + itoa(int64(ent.count)) + " messages"
		}
		return Errorf(CodeMessageTooBig, "%s of %d bytes of payload makes a frame of %d bytes with its metadata, over the broker's limit of %d bytes",
			what, ent.bytes, size, pt.maxMessageSize)
	}
	return nil
}

// enqueue adds a sealed entry to the pending queue and writes it if the
// partition is registered.
func (pt *partition) enqueue(ent *entry) {
	pt.queue = append(pt.queue, ent)
	if pt.state == ptReady {
		c := pt.conn
		c.out = append(c.out, ent.frame...)
		pt.e.markDirty(c)
	}
	if t := pt.p.opts.SendTimeout; t > 0 && len(pt.queue)-pt.head == 1 {
		pt.e.wake(ent.created.Add(t))
	}
}

// transcodeSingle appends the fields of a lone message's
// SingleMessageMetadata to a MessageMetadata under their entry-level
// numbers. Payload size and sequence ID are dropped: the entry has its own.
func transcodeSingle(b, single []byte) []byte {
	r := reader{b: single}
	for r.more() {
		num, typ := r.tag()
		var to protowire.Number
		switch num {
		case 1:
			to = 4 // properties
		case 2:
			to = 6 // partition_key
		case 5:
			to = 12 // event_time
		case 6:
			to = 17 // partition_key_b64_encoded
		case 7:
			to = 18 // ordering_key
		case 9:
			to = 25 // null_value
		case 10:
			to = 30 // null_partition_key
		}
		switch typ {
		case protowire.VarintType:
			v := r.varint()
			if to != 0 {
				b = appendVarintField(b, to, v)
			}
		case protowire.BytesType:
			v := r.bytes()
			if to != 0 {
				b = appendBytesField(b, to, v)
			}
		default:
			r.skip(num, typ)
		}
	}
	return b
}
