// Package abi holds what the WASI module and its Go host must agree on
// (wasm/ABI.md), so that it is written once: the ABI version, the message
// metadata tags, and the layouts of the stats records, of a Log record's
// fields and of a chunked message's receipt fields.
//
// How this works: the records are written and read here field by field
// with encoding/binary (little-endian, as ABI.md says), so the guest and
// the host cannot disagree on an offset; tests pin every offset to what
// ABI.md documents.
package abi

import (
	"encoding/binary"
	"time"

	"github.com/pulsar-producer/pulsar-producer/core/engine"
)

// Version is what ppw_abi_version returns and the host requires. It
// changes whenever an export, a layout or a rule of ABI.md changes
// incompatibly.
const Version = 7

// Message metadata field tags (ABI.md, "Message metadata").
const (
	TagKey                = 1 // present: the message has a key, even an empty one
	TagOrderingKey        = 2
	TagProperty           = 3
	TagEventTime          = 4
	TagDeliverAt          = 5
	TagDeliverAfter       = 6
	TagSequenceID         = 7
	TagNullValue          = 8
	TagReplicationCluster = 9
	TagDisableReplication = 10
	TagKeyBase64          = 11 // no value: the key is the base64 text of a binary key
	TagPartition          = 12 // i32: the partition a custom router chose
	TagValueJSON          = 13 // string: the value as JSON text, encoded in the module by the producer's schema
)

// The stats records (ABI.md, "Stats records"): nine counters, the latency
// histogram's bucket counts, its maximum in nanoseconds; the client's
// record adds three counts.
const (
	numCounters       = 9
	NumLatencyBuckets = 19
	ProducerStatsSize = 8 * (numCounters + NumLatencyBuckets + 1)
	ClientStatsSize   = ProducerStatsSize + 8*3
)

// The layout is part of the ABI: if the engine's histogram changes, this
// fails to compile until the ABI (and its version) change with it.
var (
	_ [NumLatencyBuckets - len(engine.LatencyBuckets) - 1]struct{}
	_ [len(engine.LatencyBuckets) + 1 - NumLatencyBuckets]struct{}
)

// counters lists the counters in record order; the record, the reader and
// the writer all follow it.
func counters(s *engine.ProducerStats) [numCounters]*int64 {
	return [numCounters]*int64{&s.MsgsSent, &s.BytesSent, &s.MsgsAcked, &s.BytesAcked,
		&s.MsgsFailed, &s.BytesFailed, &s.PendingMsgs, &s.PendingBytes, &s.Reconnects}
}

// PutProducerStats writes s into b, which holds at least ProducerStatsSize
// bytes.
func PutProducerStats(b []byte, s *engine.ProducerStats) {
	le := binary.LittleEndian
	_ = b[ProducerStatsSize-1]
	for i, c := range counters(s) {
		le.PutUint64(b[8*i:], uint64(*c))
	}
	at := 8 * numCounters
	for _, n := range s.Latency.Counts {
		le.PutUint64(b[at:], uint64(n))
		at += 8
	}
	le.PutUint64(b[at:], uint64(s.Latency.Max))
}

// ProducerStatsOf reads a record PutProducerStats wrote.
func ProducerStatsOf(b []byte) engine.ProducerStats {
	le := binary.LittleEndian
	_ = b[ProducerStatsSize-1]
	var s engine.ProducerStats
	for i, c := range counters(&s) {
		*c = int64(le.Uint64(b[8*i:]))
	}
	at := 8 * numCounters
	for i := range s.Latency.Counts {
		s.Latency.Counts[i] = int64(le.Uint64(b[at:]))
		at += 8
	}
	s.Latency.Max = time.Duration(le.Uint64(b[at:]))
	return s
}

// PutClientStats writes s into b, which holds at least ClientStatsSize
// bytes.
func PutClientStats(b []byte, s *engine.ClientStats) {
	PutProducerStats(b, &s.ProducerStats)
	le := binary.LittleEndian
	le.PutUint64(b[ProducerStatsSize:], uint64(s.Producers))
	le.PutUint64(b[ProducerStatsSize+8:], uint64(s.Connections))
	le.PutUint64(b[ProducerStatsSize+16:], uint64(s.Connects))
}

// ClientStatsOf reads a record PutClientStats wrote.
func ClientStatsOf(b []byte) engine.ClientStats {
	le := binary.LittleEndian
	_ = b[ClientStatsSize-1]
	return engine.ClientStats{
		ProducerStats: ProducerStatsOf(b),
		Producers:     int(le.Uint64(b[ProducerStatsSize:])),
		Connections:   int(le.Uint64(b[ProducerStatsSize+8:])),
		Connects:      int64(le.Uint64(b[ProducerStatsSize+16:])),
	}
}

// The fields of a Log event record besides its message (ABI.md, "Event
// records"): the level and the lengths of three strings, then the strings.
const logFieldsHeader = 16

// LogFieldsSize is the size of r's fields in a Log record, padded to 8.
func LogFieldsSize(r *engine.LogRecord) int {
	return (logFieldsHeader + len(r.Topic) + len(r.ProducerName) + len(r.Addr) + 7) &^ 7
}

// PutLogFields writes r's level, topic, producer name and address into b,
// which is exactly LogFieldsSize(r) bytes.
func PutLogFields(b []byte, r *engine.LogRecord) {
	le := binary.LittleEndian
	le.PutUint32(b[0:], uint32(r.Level))
	le.PutUint32(b[4:], uint32(len(r.Topic)))
	le.PutUint32(b[8:], uint32(len(r.ProducerName)))
	le.PutUint32(b[12:], uint32(len(r.Addr)))
	n := logFieldsHeader
	n += copy(b[n:], r.Topic)
	n += copy(b[n:], r.ProducerName)
	n += copy(b[n:], r.Addr)
	clear(b[n:])
}

// LogFieldsOf reads what PutLogFields wrote into r; ok is false if b is
// too short for the lengths it states.
func LogFieldsOf(b []byte, r *engine.LogRecord) (ok bool) {
	if len(b) < logFieldsHeader {
		return false
	}
	le := binary.LittleEndian
	lens := [3]uint64{uint64(le.Uint32(b[4:])), uint64(le.Uint32(b[8:])), uint64(le.Uint32(b[12:]))}
	if logFieldsHeader+lens[0]+lens[1]+lens[2] > uint64(len(b)) {
		return false
	}
	r.Level = engine.LogLevel(int32(le.Uint32(b[0:])))
	s := b[logFieldsHeader:]
	r.Topic, s = string(s[:lens[0]]), s[lens[0]:]
	r.ProducerName, s = string(s[:lens[1]]), s[lens[1]:]
	r.Addr = string(s[:lens[2]])
	return true
}

// The fields of a Receipt record of a chunked message (ABI.md, "Event
// records"): the header's flags byte has ReceiptChunked set, and the
// record's fields are where the first chunk is stored, the header's ledger
// and entry IDs being the last chunk's.
const (
	ReceiptChunked   = 1 << 0 // in the header's flags byte (offset 5)
	ChunkFieldsSize  = 16
	EventFlagsOffset = 5
)

// PutChunkFields writes the first chunk's ledger and entry IDs of id into
// b, which holds at least ChunkFieldsSize bytes.
func PutChunkFields(b []byte, id *engine.MessageID) {
	le := binary.LittleEndian
	_ = b[ChunkFieldsSize-1]
	le.PutUint64(b[0:], uint64(id.FirstChunkLedgerID))
	le.PutUint64(b[8:], uint64(id.FirstChunkEntryID))
}

// ChunkFieldsOf reads what PutChunkFields wrote into id, marking it
// chunked; ok is false if b is too short.
func ChunkFieldsOf(b []byte, id *engine.MessageID) (ok bool) {
	if len(b) < ChunkFieldsSize {
		return false
	}
	le := binary.LittleEndian
	id.Chunked = true
	id.FirstChunkLedgerID = int64(le.Uint64(b[0:]))
	id.FirstChunkEntryID = int64(le.Uint64(b[8:]))
	return true
}
