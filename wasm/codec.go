// The byte formats that cross the module boundary, host side: message
// values and metadata out, event records in (option JSON is the engine's
// own, engine.AppendOptionsJSON, and the stats records are package abi's).
// ABI.md defines them.
//
// How this works: a message's Value given as JSON text (engine.ValueJSON)
// crosses as metadata tag 13, and the module encodes it by the producer's
// schema, as the native engine does. Any other Value (a Go value) cannot
// cross, so the host encodes it with the engine's own EncodeMessage into
// the payload (and, for a SEPARATED KEY_VALUE schema, the base64 key)
// before the message goes over, and the module sees only bytes. So does a
// JSON value given with a payload or a null value, so that the mistake
// gets the engine's error, as natively, not the module's. Metadata is
// appended field by field into a reused buffer, only for messages that
// have any (a bare payload goes through ppw_send unencoded). Event records
// are decoded in bulk from the module's memory into engine.Events, with the
// tokens of receipts and failures copied into one reused slice that the
// events' Tokens alias. The rare records with fields of their own (a Log
// record's, a closed or failed producer's final stats) get them in a new
// allocation; a chunked message's receipt carries its first chunk's ID.
package wasm

import (
	"encoding/binary"
	"slices"
	"time"

	"github.com/pulsar-producer/pulsar-producer/core/engine"
	"github.com/pulsar-producer/pulsar-producer/wasm/internal/abi"
)

// hasMetadata reports whether m needs ppw_send_msg (or, with a Value, to
// be encoded first).
func hasMetadata(m *engine.Message) bool {
	return m.Key != "" || m.HasKey || m.OrderingKey != nil || len(m.Properties) > 0 || !m.EventTime.IsZero() ||
		!m.DeliverAt.IsZero() || m.DeliverAfter != 0 || m.SequenceID != nil || m.NullValue ||
		len(m.ReplicationClusters) > 0 || m.DisableReplication || m.KeyBase64 || m.Routed || m.Value != nil
}

// crossesAsJSON reports whether m's Value goes to the module as JSON text
// (tag 13) rather than encoded here.
func crossesAsJSON(m *engine.Message) bool {
	_, ok := m.Value.(engine.ValueJSON)
	return ok && len(m.Payload) == 0 && !m.NullValue
}

func appendBytesField(b []byte, tag byte, v []byte) []byte {
	b = append(b, tag)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(v)))
	return append(b, v...)
}

func appendStringField(b []byte, tag byte, v string) []byte {
	b = append(b, tag)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(v)))
	return append(b, v...)
}

func appendInt64Field(b []byte, tag byte, v int64) []byte {
	return binary.LittleEndian.AppendUint64(append(b, tag), uint64(v))
}

// appendMetadata encodes everything of m but its payload; a Value only as
// JSON text (Send has encoded any other).
func appendMetadata(b []byte, m *engine.Message) []byte {
	if m.Key != "" || m.HasKey {
		b = appendStringField(b, abi.TagKey, m.Key) // the tag says "has a key", even an empty one
	}
	if m.OrderingKey != nil {
		b = appendBytesField(b, abi.TagOrderingKey, m.OrderingKey)
	}
	for k, v := range m.Properties {
		b = appendStringField(b, abi.TagProperty, k)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(v)))
		b = append(b, v...)
	}
	if !m.EventTime.IsZero() {
		b = appendInt64Field(b, abi.TagEventTime, m.EventTime.UnixMilli())
	}
	if !m.DeliverAt.IsZero() {
		b = appendInt64Field(b, abi.TagDeliverAt, m.DeliverAt.UnixMilli())
	}
	if d := m.DeliverAfter; d != 0 {
		// Whole milliseconds, rounded away from zero so that a positive
		// delay stays positive and a negative one stays an error.
		ms := d / time.Millisecond
		if d%time.Millisecond > 0 {
			ms++
		} else if d%time.Millisecond < 0 {
			ms--
		}
		b = appendInt64Field(b, abi.TagDeliverAfter, int64(ms))
	}
	if m.SequenceID != nil {
		b = appendInt64Field(b, abi.TagSequenceID, *m.SequenceID)
	}
	if m.NullValue {
		b = append(b, abi.TagNullValue)
	}
	for _, c := range m.ReplicationClusters {
		b = appendStringField(b, abi.TagReplicationCluster, c)
	}
	if m.DisableReplication {
		b = append(b, abi.TagDisableReplication)
	}
	if m.KeyBase64 {
		b = append(b, abi.TagKeyBase64)
	}
	if m.Routed {
		b = binary.LittleEndian.AppendUint32(append(b, abi.TagPartition), uint32(m.Partition))
	}
	if j, ok := m.Value.(engine.ValueJSON); ok {
		b = appendBytesField(b, abi.TagValueJSON, j)
	}
	return b
}

// Event record layout (ABI.md, "Event records").
const eventHeaderSize = 72

// decodeEvents decodes count records from b, appending them to dst; the
// tokens of receipts and failures go to e.tokens, which their Tokens alias.
func (e *Engine) decodeEvents(dst []engine.Event, b []byte, count int) ([]engine.Event, error) {
	le := binary.LittleEndian
	for i := range count {
		if len(b) < eventHeaderSize {
			return dst, engine.Errorf(engine.CodeProtocolError, "event record %d is cut short", i)
		}
		size := uint64(le.Uint32(b[0:]))
		textLen := uint64(le.Uint32(b[12:]))
		ntok := uint64(le.Uint32(b[32:]))
		extraLen := uint64(le.Uint32(b[36:]))
		extraAt := eventHeaderSize + 8*ntok
		textAt := extraAt + extraLen
		if size < textAt+textLen || size > uint64(len(b)) {
			return dst, engine.Errorf(engine.CodeProtocolError, "event record %d has a bad size %d", i, size)
		}
		ev := engine.Event{
			Kind:     engine.EventKind(b[4]),
			Conn:     engine.ConnID(le.Uint64(b[16:])),
			Producer: engine.ProducerID(le.Uint64(b[24:])),
		}
		if ntok > 0 {
			start := len(e.tokens)
			e.tokens = slices.Grow(e.tokens, int(ntok))
			for t := b[eventHeaderSize:extraAt]; len(t) > 0; t = t[8:] {
				e.tokens = append(e.tokens, le.Uint64(t))
			}
			ev.Tokens = e.tokens[start:len(e.tokens):len(e.tokens)]
		}
		extra := b[extraAt:textAt]
		if ev.Kind == engine.EventReceipt {
			ev.ID = engine.MessageID{
				LedgerID:   int64(le.Uint64(b[40:])),
				EntryID:    int64(le.Uint64(b[48:])),
				Partition:  int32(le.Uint32(b[56:])),
				BatchIndex: int32(le.Uint32(b[60:])),
				BatchSize:  int32(le.Uint32(b[64:])),
			}
			if b[abi.EventFlagsOffset]&abi.ReceiptChunked != 0 && !abi.ChunkFieldsOf(extra, &ev.ID) {
				return dst, engine.Errorf(engine.CodeProtocolError, "event record %d: a chunked receipt has %d bytes of fields, not %d", i, len(extra), abi.ChunkFieldsSize)
			}
		}
		var text string
		if textLen > 0 {
			text = string(b[textAt : textAt+textLen])
		}
		switch code := engine.Code(int32(le.Uint32(b[8:]))); {
		case ev.Kind == engine.EventLog:
			ev.Log = &engine.LogRecord{Msg: text, Conn: ev.Conn}
			ev.Conn = 0 // as the native engine's: the connection is the record's
			if !abi.LogFieldsOf(extra, ev.Log) {
				return dst, engine.Errorf(engine.CodeProtocolError, "event record %d: the log fields overrun their %d bytes", i, len(extra))
			}
		case code != engine.CodeOK:
			ev.Err = &engine.Error{Code: code, Msg: text}
		default:
			ev.Text = text
		}
		if (ev.Kind == engine.EventProducerClosed || ev.Kind == engine.EventProducerFailed) && len(extra) >= abi.ProducerStatsSize {
			s := abi.ProducerStatsOf(extra)
			ev.Stats = &s
		}
		e.note(&ev, int(int32(le.Uint32(b[68:]))))
		dst = append(dst, ev)
		b = b[size:]
	}
	return dst, nil
}
