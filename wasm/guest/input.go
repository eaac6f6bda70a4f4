// What enters the module besides payloads: option JSON and per-message
// metadata, which may carry the message's value as JSON text for the
// engine to encode by the producer's schema.
//
// Options are the engine's JSON, read by engine.ParseOptionsJSON, which checks them
// as the engine does and also refuses a misplaced option (ppw_client_new
// takes only client options, ppw_producer_create only producer options)
// without linking encoding/json into the module. Message metadata is a compact tagged binary encoding (ABI.md,
// "Message metadata"), read with a sticky-error reader so a truncated or
// malformed block yields one InvalidArgument naming the byte offset.
package main

import (
	"encoding/binary"
	"time"

	"github.com/pulsar-producer/pulsar-producer/core/engine"
	"github.com/pulsar-producer/pulsar-producer/wasm/internal/abi"
)

var tagNames = [...]string{"", "key", "orderingKey", "property", "eventTime", "deliverAt",
	"deliverAfter", "sequenceId", "nullValue", "replicationCluster", "disableReplication", "keyBase64", "partition", "valueJson"}

// metaReader reads the metadata encoding; the first problem sticks.
type metaReader struct {
	b   []byte
	off int
	err error
}

func (r *metaReader) failf(format string, args ...any) {
	if r.err == nil {
		r.err = engine.Errorf(engine.CodeInvalidArgument, "message metadata: "+format, args...)
	}
}

func (r *metaReader) take(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b)-r.off {
		r.failf("%s at byte %d needs %d bytes, only %d remain", what, r.off, n, len(r.b)-r.off)
		return nil
	}
	v := r.b[r.off : r.off+n]
	r.off += n
	return v
}

func (r *metaReader) int64(what string) int64 {
	b := r.take(8, what)
	if b == nil {
		return 0
	}
	return int64(binary.LittleEndian.Uint64(b))
}

func (r *metaReader) int32(what string) int32 {
	b := r.take(4, what)
	if b == nil {
		return 0
	}
	return int32(binary.LittleEndian.Uint32(b))
}

func (r *metaReader) bytes(what string) []byte {
	b := r.take(4, what+" length")
	if b == nil {
		return nil
	}
	return r.take(int(binary.LittleEndian.Uint32(b)), what)
}

// decodeMetadata applies a metadata block to m.
func decodeMetadata(b []byte, m *engine.Message) error {
	r := metaReader{b: b}
	var seen [len(tagNames)]bool
	for r.err == nil && r.off < len(b) {
		at := r.off
		tag := int(b[at])
		r.off++
		if tag <= 0 || tag >= len(tagNames) {
			r.failf("unknown field tag %d at byte %d", tag, at)
			break
		}
		if seen[tag] && tag != abi.TagProperty && tag != abi.TagReplicationCluster {
			r.failf("field %s repeated at byte %d", tagNames[tag], at)
			break
		}
		seen[tag] = true
		switch tag {
		case abi.TagKey:
			// The tag itself says the message has a key: an empty one
			// is sent as empty, not left out.
			m.Key, m.HasKey = string(r.bytes("key")), true
		case abi.TagOrderingKey:
			m.OrderingKey = append([]byte{}, r.bytes("ordering key")...)
		case abi.TagProperty:
			k := string(r.bytes("property key"))
			v := string(r.bytes("property value"))
			if r.err != nil {
				break
			}
			if m.Properties == nil {
				m.Properties = make(map[string]string)
			}
			if _, dup := m.Properties[k]; dup {
				r.failf("property %q repeated at byte %d", k, at)
			}
			m.Properties[k] = v
		case abi.TagEventTime:
			m.EventTime = time.UnixMilli(r.int64("event time"))
		case abi.TagDeliverAt:
			m.DeliverAt = time.UnixMilli(r.int64("deliver-at time"))
		case abi.TagDeliverAfter:
			ms := r.int64("deliver-after delay")
			if ms > int64(time.Duration(1<<63-1)/time.Millisecond) || ms < -int64(time.Duration(1<<63-1)/time.Millisecond) {
				r.failf("deliver-after delay of %d ms at byte %d is out of range", ms, at)
			}
			m.DeliverAfter = time.Duration(ms) * time.Millisecond
		case abi.TagSequenceID:
			seq := r.int64("sequence ID")
			m.SequenceID = &seq
		case abi.TagNullValue:
			m.NullValue = true
		case abi.TagReplicationCluster:
			m.ReplicationClusters = append(m.ReplicationClusters, string(r.bytes("replication cluster")))
		case abi.TagDisableReplication:
			m.DisableReplication = true
		case abi.TagKeyBase64:
			m.KeyBase64 = true
		case abi.TagPartition:
			// The host ran a custom router; the engine checks the
			// partition against the topic's count.
			m.Routed, m.Partition = true, r.int32("partition")
		case abi.TagValueJSON:
			// Not copied: the engine encodes it during the send, into
			// a payload of its own.
			if v := r.bytes("value JSON"); r.err == nil {
				m.Value = engine.ValueJSON(v)
			}
		}
	}
	return r.err
}

// checkValueJSON refuses a message whose value JSON (tag 13) contradicts
// its payload or null value, as the C ABI refuses value_json with either:
// the engine's own check, at the send, would name Go fields. What the JSON
// holds is the engine's to check, by the producer's schema, at the send.
func checkValueJSON(m *engine.Message) error {
	if m.Value == nil {
		return nil
	}
	switch {
	case len(m.Payload) > 0:
		return engine.Errorf(engine.CodeInvalidMessage, "set the value JSON or a payload, not both")
	case m.NullValue:
		return engine.Errorf(engine.CodeInvalidMessage, "set the value JSON or a null value, not both")
	}
	return nil
}
