// The engine's hot path: messages into 1000-message batches, frames out,
// receipts in, per-message receipt events out. One op is one message, so
// ns/op and allocs/op are per message.
package engine

import (
	"encoding/binary"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// appendReceiptFrame writes a SEND_RECEIPT frame by hand, so that the
// benchmark's broker side allocates nothing.
func appendReceiptFrame(b []byte, producerID uint64, seq, highest int64, ledger, entry uint64) []byte {
	var id, rc, cmd [64]byte
	idb := appendVarintField(id[:0], 1, ledger)
	idb = appendVarintField(idb, 2, entry)
	rcb := appendVarintField(rc[:0], 1, producerID)
	rcb = appendVarintField(rcb, 2, uint64(seq))
	rcb = appendBytesField(rcb, 3, idb)
	rcb = appendVarintField(rcb, 4, uint64(highest))
	cb := appendVarintField(cmd[:0], 1, uint64(cmdSendReceipt))
	cb = appendBytesField(cb, protowire.Number(cmdSendReceipt), rcb)
	b = binary.BigEndian.AppendUint32(b, uint32(4+len(cb)))
	b = binary.BigEndian.AppendUint32(b, uint32(len(cb)))
	return append(b, cb...)
}

func benchmarkBatches(b *testing.B, opts ProducerOptions, key string) {
	h := newHarness(b, ClientOptions{})
	opts.BatchingMaxMessages = 1000
	p, conn := h.ready(opts)
	wireID := h.e.producers[p].parts[0].wireID
	payload := make([]byte, 100)
	for i := range payload {
		payload[i] = byte(i)
	}
	msg := &Message{Payload: payload, Key: key}
	var spare, receipt []byte
	var seq int64
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := h.e.Send(p, msg, uint64(i), h.now); err != nil {
			b.Fatal(err)
		}
		if (i+1)%1000 == 0 || i == b.N-1 {
			h.e.Flush(p, h.now)
			for {
				id, data, ok := h.e.TakeOutput(spare)
				if !ok {
					break
				}
				if id != conn {
					b.Fatal("output on another connection")
				}
				spare = data
			}
			n := seq
			seq = int64(i) + 1
			receipt = appendReceiptFrame(receipt[:0], wireID, n, seq-1, 1, uint64(i))
			h.e.Receive(conn, receipt, h.now)
			for {
				ev, ok := h.e.NextEvent()
				if !ok {
					break
				}
				if ev.Kind != EventReceipt {
					b.Fatalf("unexpected %v: %v", ev.Kind, ev.Err)
				}
			}
		}
	}
	b.StopTimer()
	if h.e.Pending(p) != 0 {
		b.Fatalf("%d messages left pending", h.e.Pending(p))
	}
}

func BenchmarkEngineBatch1000x100B(b *testing.B) { benchmarkBatches(b, ProducerOptions{}, "") }

func BenchmarkEngineBatch1000x100BWithKey(b *testing.B) {
	benchmarkBatches(b, ProducerOptions{}, "order-12345")
}

func BenchmarkEngineBatch1000x100BLZ4(b *testing.B) {
	benchmarkBatches(b, ProducerOptions{CompressionType: CompressionLZ4}, "")
}
