// FuzzDecodeEvents: whatever bytes a broken or hostile module leaves in its
// event buffer, the host's decoder returns events or a ProtocolError; it
// never panics, never reads past the records it was given, and never
// allocates more than the bytes it was given can describe.
package wasm

import (
	"encoding/binary"
	"testing"

	"github.com/pulsar-producer/pulsar-producer/core/engine"
	"github.com/pulsar-producer/pulsar-producer/wasm/internal/abi"
)

func FuzzDecodeEvents(f *testing.F) {
	le := binary.LittleEndian
	record := func(kind engine.EventKind, flags byte, code int32, tokens []uint64, extra, text []byte) []byte {
		b := make([]byte, eventHeaderSize, eventHeaderSize+8*len(tokens)+len(extra)+len(text))
		b[4], b[abi.EventFlagsOffset] = byte(kind), flags
		le.PutUint32(b[8:], uint32(code))
		le.PutUint32(b[12:], uint32(len(text)))
		le.PutUint64(b[24:], 1)
		le.PutUint32(b[32:], uint32(len(tokens)))
		le.PutUint32(b[36:], uint32(len(extra)))
		for _, t := range tokens {
			b = le.AppendUint64(b, t)
		}
		b = append(append(b, extra...), text...)
		le.PutUint32(b[0:], uint32(len(b)))
		return b
	}
	f.Add(record(engine.EventReceipt, 0, 0, []uint64{1, 2, 3}, nil, nil), uint8(1))
	f.Add(record(engine.EventReceipt, abi.ReceiptChunked, 0, []uint64{7}, make([]byte, 16), nil), uint8(1))
	f.Add(record(engine.EventSendFailed, 0, int32(engine.CodeTimeout), []uint64{4}, nil, []byte("timed out")), uint8(1))
	f.Add(record(engine.EventLog, 0, 0, nil, make([]byte, 8), []byte("a log line")), uint8(1))
	f.Add(record(engine.EventProducerClosed, 0, 0, nil, make([]byte, abi.ProducerStatsSize), nil), uint8(1))
	two := append(record(engine.EventProducerReady, 0, 0, nil, nil, []byte("name")), record(engine.EventReceipt, 0, 0, []uint64{9}, nil, nil)...)
	f.Add(two, uint8(2))
	f.Add([]byte{}, uint8(3))
	f.Fuzz(func(t *testing.T, b []byte, count uint8) {
		e := &Engine{parts: map[engine.ProducerID]*prodInfo{}}
		evs, err := e.decodeEvents(nil, b, int(count%8))
		if err != nil && engine.CodeOf(err) != engine.CodeProtocolError {
			t.Fatalf("error %v is no ProtocolError", err)
		}
		tokens := 0
		for _, ev := range evs {
			tokens += len(ev.Tokens)
		}
		if tokens*8 > len(b) || len(e.tokens)*8 > len(b) {
			t.Fatalf("%d tokens from %d bytes", tokens, len(b))
		}
	})
}
