// The engine's hot path: messages into 1000-message batches, frames out,
// receipts in, per-message receipt events out. One op is one message, so
// ns/op and allocs/op are per message.
package engine

import (
	"testing"

	"github.com/pulsar-producer/pulsar-producer/internal/fakebroker"
)

// appendReceiptFrame writes a SEND_RECEIPT frame with the fake broker's
// hand-written encoder (checked against the generated code in its tests),
// so that the benchmark's broker side allocates nothing and shares no
// encoder with the engine.
func appendReceiptFrame(b []byte, producerID uint64, seq, highest int64, ledger, entry uint64) []byte {
	return fakebroker.AppendReceipt(b, producerID, uint64(seq), uint64(highest), ledger, entry)
}

// discardOutput takes every output of e, which must all be for conn, as the
// broker side of a benchmark would, handing the buffers back.
func discardOutput(b *testing.B, e *Engine, conn ConnID, spare []byte) []byte {
	for {
		id, data, ok := e.TakeOutput(spare)
		if !ok {
			return spare
		}
		if id != conn {
			b.Fatal("output on another connection")
		}
		spare = data
	}
}

// takeReceipts takes every event of e, which must all be receipts.
func takeReceipts(b *testing.B, e *Engine) {
	for {
		ev, ok := e.NextEvent()
		if !ok {
			return
		}
		if ev.Kind != EventReceipt {
			b.Fatalf("unexpected %v: %v", ev.Kind, ev.Err)
		}
	}
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
			spare = discardOutput(b, h.e, conn, spare)
			n := seq
			seq = int64(i) + 1
			receipt = appendReceiptFrame(receipt[:0], wireID, n, seq-1, 1, uint64(i))
			h.e.Receive(conn, receipt, h.now)
			takeReceipts(b, h.e)
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

// The same traffic through SendPayloads, 256 messages per call, as the WASI
// host hands them over.
func BenchmarkEngineSendPayloads1000x100B(b *testing.B) { benchmarkSendPayloads(b, false) }

// As the WASI host runs it: checksums left to the host.
func BenchmarkEngineSendPayloads1000x100BHostCRC(b *testing.B) { benchmarkSendPayloads(b, true) }

func benchmarkSendPayloads(b *testing.B, hostChecksums bool) {
	h := newHarness(b, ClientOptions{HostChecksums: hostChecksums})
	p, conn := h.ready(ProducerOptions{BatchingMaxMessages: 1000})
	wireID := h.e.producers[p].parts[0].wireID
	const chunk = 256
	data := make([]byte, chunk*100)
	lens := make([]uint32, chunk)
	tokens := make([]uint64, chunk)
	for i := range lens {
		lens[i] = 100
	}
	var spare, receipt []byte
	var acked int64
	b.ReportAllocs()
	b.SetBytes(100)
	b.ResetTimer()
	for sent := 0; sent < b.N; {
		n := min(chunk, b.N-sent)
		if k, err := h.e.SendPayloads(p, data[:n*100], lens[:n], tokens[:n], h.now); err != nil || k != n {
			b.Fatal(k, err)
		}
		sent += n
		spare = discardOutput(b, h.e, conn, spare)
		// Acknowledge every sealed batch of 1000.
		for acked+1000 <= int64(sent) {
			receipt = appendReceiptFrame(receipt[:0], wireID, acked, acked+999, 1, uint64(acked))
			h.e.Receive(conn, receipt, h.now)
			acked += 1000
			takeReceipts(b, h.e)
		}
	}
}
