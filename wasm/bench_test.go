// Benchmarks of the host without a network: what one export call costs
// through wazero, and what a message costs through Engine (host and module
// together) when a broker in process answers, without sockets, the core
// runtime or a real broker. With the guest's own benchmark (the module
// alone, wasm/guest) and tests/wasm (everything, against the native
// producer), they show where the time of a WASI-hosted send goes:
//
//	go test ./wasm -run '^$' -bench . -benchtime 1000000x
package wasm

import (
	"testing"
	"time"

	"github.com/pulsar-producer/pulsar-producer/core/engine"
	"github.com/pulsar-producer/pulsar-producer/internal/fakebroker"
)

// BenchmarkExportCall is one call of an export that does nothing
// (ppw_abi_version): wazero's cost of crossing into the module and back.
func BenchmarkExportCall(b *testing.B) {
	in, err := newInstance(testModule(b))
	if err != nil {
		b.Fatal(err)
	}
	defer in.close()
	b.ResetTimer()
	for range b.N {
		if err := in.call(fnABIVersion); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEngineSend is one 100-byte message per op through Engine.Send
// in batches of 1000, plus its share of what the runtime does after each
// call (AppendEvents, TakeOutput and FillChecksums, Deadline) and of the
// broker's receipts.
func BenchmarkEngineSend(b *testing.B) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	e, err := testModule(b).NewEngine(ClientOptions{ServiceURL: "pulsar://broker:6650"})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close(now)
	id, err := e.CreateProducer(ProducerOptions{Topic: "t", BatchingMaxMessages: 1000}, now)
	if err != nil {
		b.Fatal(err)
	}
	var (
		broker fakebroker.Conn // a connection of a broker of its own
		conn   engine.ConnID
		evs    []engine.Event
		spare  []byte
		ready  bool
	)
	pump := func() {
		evs = e.AppendEvents(evs[:0])
		for _, ev := range evs {
			switch ev.Kind {
			case engine.EventConnect:
				conn = ev.Conn
				e.ConnOpened(conn, now)
			case engine.EventProducerReady:
				ready = true
			case engine.EventReceipt:
			default:
				b.Fatalf("%v: %v", ev.Kind, ev.Err)
			}
		}
		for {
			_, data, ok := e.TakeOutput(spare)
			if !ok {
				break
			}
			if err := engine.FillChecksums(data); err != nil {
				b.Fatal(err)
			}
			reply, err := broker.Answer(data, now)
			if err != nil {
				b.Fatal(err)
			}
			e.Receive(conn, reply, now)
			spare = data
		}
		e.Deadline()
	}
	for i := 0; i < 10 && !ready; i++ {
		pump()
	}
	if !ready {
		b.Fatal("the producer never became ready")
	}
	msg := &engine.Message{Payload: make([]byte, 100)}
	b.SetBytes(int64(len(msg.Payload)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := e.Send(id, msg, uint64(i&0xffff), now); err != nil {
			b.Fatal(err)
		}
		pump()
	}
	if err := e.Flush(id, now); err != nil {
		b.Fatal(err)
	}
	pump()
}
