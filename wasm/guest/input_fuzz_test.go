// A fuzz target for the module's input decoder: the per-message metadata a
// WASI host passes to ppw_send_msg (ABI.md, "Message metadata").
//
// How this works: every input must decode or fail with InvalidArgument,
// never panic; a length field claiming more than the block holds must cost
// no allocation of that size (the heap is measured around the call with
// runtime.MemStats); and what decodes must survive a round trip through
// encodeMetadata, an encoder written here from ABI.md alone, so that the
// decoder and the document agree. It has no build constraint: it runs
// natively (go test -fuzz) and, as a plain test of its seeds, under wasip1.
package main

import (
	"encoding/binary"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/pulsar-producer/pulsar-producer/core/engine"
	"github.com/pulsar-producer/pulsar-producer/wasm/internal/abi"
)

// encodeMetadata writes m as ABI.md describes: a tag byte, then u32
// little-endian length and bytes for strings, i64 (i32 for the partition)
// little-endian for integers, nothing for flags. A field added to the
// decoder must be added here too: the round trip below fails until it is.
func encodeMetadata(m *engine.Message) []byte {
	var b []byte
	str := func(tag byte, v []byte) {
		if tag != 0 {
			b = append(b, tag)
		}
		b = binary.LittleEndian.AppendUint32(b, uint32(len(v)))
		b = append(b, v...)
	}
	i64 := func(tag byte, v int64) {
		b = append(b, tag)
		b = binary.LittleEndian.AppendUint64(b, uint64(v))
	}
	if m.HasKey {
		str(abi.TagKey, []byte(m.Key))
	}
	if m.OrderingKey != nil {
		str(abi.TagOrderingKey, m.OrderingKey)
	}
	for k, v := range m.Properties {
		str(abi.TagProperty, []byte(k))
		str(0, []byte(v))
	}
	if !m.EventTime.IsZero() {
		i64(abi.TagEventTime, m.EventTime.UnixMilli())
	}
	if !m.DeliverAt.IsZero() {
		i64(abi.TagDeliverAt, m.DeliverAt.UnixMilli())
	}
	if m.DeliverAfter != 0 {
		i64(abi.TagDeliverAfter, m.DeliverAfter.Milliseconds())
	}
	if m.SequenceID != nil {
		i64(abi.TagSequenceID, *m.SequenceID)
	}
	if m.NullValue {
		b = append(b, abi.TagNullValue)
	}
	for _, c := range m.ReplicationClusters {
		str(abi.TagReplicationCluster, []byte(c))
	}
	if m.DisableReplication {
		b = append(b, abi.TagDisableReplication)
	}
	if m.KeyBase64 {
		b = append(b, abi.TagKeyBase64)
	}
	if m.Routed {
		b = append(b, abi.TagPartition)
		b = binary.LittleEndian.AppendUint32(b, uint32(m.Partition))
	}
	if v, ok := m.Value.(engine.ValueJSON); ok {
		str(abi.TagValueJSON, v)
	}
	return b
}

func FuzzDecodeMetadata(f *testing.F) {
	seq := int64(42)
	for _, m := range []engine.Message{
		{},
		{Key: "k", HasKey: true},
		{HasKey: true}, // an empty key is a key
		{OrderingKey: []byte{1, 2, 0}, Properties: map[string]string{"a": "b", "": "x"}},
		{EventTime: time.UnixMilli(1700000000000), DeliverAfter: 5 * time.Second, SequenceID: &seq},
		{DeliverAt: time.UnixMilli(1800000000000), NullValue: true, ReplicationClusters: []string{"c1", "c2"}, DisableReplication: true},
		{Key: "AAE=", HasKey: true, KeyBase64: true, Routed: true, Partition: 3},
		{Value: engine.ValueJSON(`{"key":"k","value":[1,2]}`), Properties: map[string]string{"p": "v"}},
		{Value: engine.ValueJSON{}}, // empty: still a value, which the engine refuses
	} {
		f.Add(encodeMetadata(&m))
	}
	f.Add([]byte{abi.TagValueJSON, 0xff, 0xff, 0xff, 0xff, '1'})                       // a value claiming 4 GiB
	f.Add([]byte{abi.TagKey, 0xff, 0xff, 0xff, 0xff, 'k'})                             // a key claiming 4 GiB
	f.Add([]byte{abi.TagProperty, 1, 0, 0, 0, 'a', 0xf0, 0xff, 0xff, 0xff})            // a value claiming almost 4 GiB
	f.Add([]byte{abi.TagSequenceID, 1, 2, 3})                                          // cut short
	f.Add([]byte{abi.TagNullValue, abi.TagNullValue})                                  // repeated
	f.Add([]byte{0})                                                                   // tag 0
	f.Add([]byte{abi.TagDeliverAfter, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}) // out of range
	f.Add([]byte{abi.TagProperty, 1, 0, 0, 0, 'a', 0, 0, 0, 0, abi.TagProperty, 1, 0, 0, 0, 'a', 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		var m engine.Message
		var err error
		least := uint64(1<<64 - 1)
		for i := range 3 {
			// The least of three runs: a fuzzing worker's own goroutines
			// allocate now and then.
			var mi engine.Message
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			e := decodeMetadata(data, &mi)
			runtime.ReadMemStats(&after)
			least = min(least, after.TotalAlloc-before.TotalAlloc)
			if i == 0 {
				m, err = mi, e
			}
		}
		// Strings are copied out of the block: never more than a few
		// times its size, whatever a length field claims.
		if limit := uint64(8*len(data)) + 4<<10; least > limit {
			t.Fatalf("decoding %d bytes allocated %d bytes", len(data), least)
		}
		if err != nil {
			if engine.CodeOf(err) != engine.CodeInvalidArgument {
				t.Fatalf("error of code %v: %v", engine.CodeOf(err), err)
			}
			return
		}
		var again engine.Message
		if err := decodeMetadata(encodeMetadata(&m), &again); err != nil {
			t.Fatalf("%x decoded to %+v, which does not encode and decode again: %v", data, m, err)
		}
		if !reflect.DeepEqual(m, again) {
			t.Fatalf("round trip changed the metadata:\n%+v\n%+v", m, again)
		}
	})
}
