//go:build wasip1

// Tests and benchmarks of the exports as plain Go calls inside the module,
// run compiled to wasip1 under wazero (the same -exec command as the
// engine's tests; see wasm/ABI.md, "Testing"). A tiny broker written here
// answers the handshake, lookup and registration and acknowledges SENDs, so
// the benchmark measures the guest's cost per message without the host.
package main

import (
	"encoding/binary"
	"testing"
	"time"
	"unsafe"

	"google.golang.org/protobuf/proto"

	"github.com/pulsar-producer/pulsar-producer/core/engine"
	"github.com/pulsar-producer/pulsar-producer/core/pb"
)

// fakeHost plays the host and the broker at once.
type fakeHost struct {
	tb      testing.TB
	now     int64
	conn    uint64
	out     []byte // pp_alloc'd output buffer
	evs     []byte // pp_alloc'd event buffer
	in      []byte // pp_alloc'd receive buffer
	payload []byte // pp_alloc'd payload buffer
	wire    uint64 // the producer's protocol ID
}

func alloc(tb testing.TB, n int) []byte {
	p := ppAlloc(uint32(n))
	if p == 0 {
		tb.Fatalf("pp_alloc(%d): %s", n, lastErr)
	}
	b, err := hostBytes("test block", p, uint32(n))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func ptr(b []byte) uint32 { return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }

func newFakeHost(tb testing.TB, producerOpts string) (*fakeHost, uint64) {
	h := &fakeHost{tb: tb, now: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC).UnixNano()}
	h.out, h.evs, h.in, h.payload = alloc(tb, 1<<20), alloc(tb, 1<<20), alloc(tb, 64<<10), alloc(tb, 64<<10)
	if eng != nil {
		ppClientFree()
	}
	url := copy(h.payload, "pulsar://broker:6650")
	h.must(ppClientNew(ptr(h.payload), uint32(url), 0, 0, h.now, 1))
	n := copy(h.payload, "t")
	m := copy(h.payload[n:], producerOpts)
	h.must(ppProducerCreate(ptr(h.payload), uint32(n), ptr(h.payload)+uint32(n), uint32(m), h.now))
	id := status.Result[0]
	for i := 0; i < 10 && h.wire == 0; i++ {
		h.step()
	}
	if h.wire == 0 {
		tb.Fatal("the producer never registered")
	}
	return h, id
}

func (h *fakeHost) must(code int32) {
	if code != 0 {
		h.tb.Helper() // only here: it walks the stack, which is slow in wasm
		h.tb.Fatalf("code %d: %s", code, lastErr)
	}
}

// step drains events and output, answering the broker's part.
func (h *fakeHost) step() (receipts int) {
	for status.Events > 0 || status.Output != 0 {
		receipts += h.stepOnce()
	}
	return receipts
}

func (h *fakeHost) stepOnce() (receipts int) {
	for status.Events > 0 {
		h.must(ppNextEvents(ptr(h.evs), uint32(len(h.evs))))
		b := h.evs[:status.Result[1]]
		for len(b) > 0 {
			size := binary.LittleEndian.Uint32(b)
			switch engine.EventKind(b[4]) {
			case engine.EventConnect:
				h.conn = binary.LittleEndian.Uint64(b[16:])
				h.must(ppConnOpened(h.conn, h.now))
			case engine.EventReceipt:
				receipts++
			case engine.EventProducerFailed, engine.EventConnClosed:
				h.tb.Fatalf("event %v: %s", engine.EventKind(b[4]), b[72:72+binary.LittleEndian.Uint32(b[12:])])
			}
			b = b[size:]
		}
	}
	for status.Output != 0 {
		h.must(ppTakeOutput(ptr(h.out), uint32(len(h.out))))
		h.answer(h.out[:status.Result[1]])
	}
	return receipts
}

// answer plays the broker for the frames in b.
func (h *fakeHost) answer(b []byte) {
	var reply []byte
	for len(b) > 0 {
		total := binary.BigEndian.Uint32(b)
		cmdSize := binary.BigEndian.Uint32(b[4:])
		cmd := &pb.BaseCommand{}
		if err := proto.Unmarshal(b[8:8+cmdSize], cmd); err != nil {
			h.tb.Fatal(err)
		}
		b = b[4+total:]
		var r *pb.BaseCommand
		switch cmd.GetType() {
		case pb.BaseCommand_CONNECT:
			r = &pb.BaseCommand{Type: pb.BaseCommand_CONNECTED.Enum(), Connected: &pb.CommandConnected{ServerVersion: proto.String("fake"), ProtocolVersion: proto.Int32(21)}}
		case pb.BaseCommand_PARTITIONED_METADATA:
			r = &pb.BaseCommand{Type: pb.BaseCommand_PARTITIONED_METADATA_RESPONSE.Enum(), PartitionMetadataResponse: &pb.CommandPartitionedTopicMetadataResponse{
				RequestId: proto.Uint64(cmd.GetPartitionMetadata().GetRequestId()), Partitions: proto.Uint32(0)}}
		case pb.BaseCommand_LOOKUP:
			r = &pb.BaseCommand{Type: pb.BaseCommand_LOOKUP_RESPONSE.Enum(), LookupTopicResponse: &pb.CommandLookupTopicResponse{
				RequestId: proto.Uint64(cmd.GetLookupTopic().GetRequestId()), BrokerServiceUrl: proto.String("pulsar://broker:6650"),
				Response: pb.CommandLookupTopicResponse_Connect.Enum(), Authoritative: proto.Bool(true)}}
		case pb.BaseCommand_PRODUCER:
			h.wire = cmd.GetProducer().GetProducerId()
			r = &pb.BaseCommand{Type: pb.BaseCommand_PRODUCER_SUCCESS.Enum(), ProducerSuccess: &pb.CommandProducerSuccess{
				RequestId: proto.Uint64(cmd.GetProducer().GetRequestId()), ProducerName: proto.String("fake-0"), LastSequenceId: proto.Int64(-1)}}
		case pb.BaseCommand_SEND:
			s := cmd.GetSend()
			highest := s.GetSequenceId() + uint64(max(s.GetNumMessages(), 1)) - 1
			r = &pb.BaseCommand{Type: pb.BaseCommand_SEND_RECEIPT.Enum(), SendReceipt: &pb.CommandSendReceipt{
				ProducerId: proto.Uint64(s.GetProducerId()), SequenceId: proto.Uint64(s.GetSequenceId()), HighestSequenceId: proto.Uint64(highest),
				MessageId: &pb.MessageIdData{LedgerId: proto.Uint64(1), EntryId: proto.Uint64(s.GetSequenceId())}}}
		}
		if r != nil {
			cb, _ := proto.Marshal(r)
			reply = binary.BigEndian.AppendUint32(reply, uint32(4+len(cb)))
			reply = binary.BigEndian.AppendUint32(reply, uint32(len(cb)))
			reply = append(reply, cb...)
		}
	}
	if len(reply) > 0 {
		n := copy(h.in, reply)
		h.must(ppReceive(h.conn, ptr(h.in), uint32(n), h.now))
	}
}

func TestGuestSendsAndReceipts(t *testing.T) {
	h, id := newFakeHost(t, `{"batchingMaxMessages":10}`)
	meta := appendTestMeta(nil)
	copy(h.payload[100:], meta)
	receipts := 0
	for i := 0; i < 25; i++ {
		if i%2 == 0 {
			h.must(ppSend(id, ptr(h.payload), 100, uint64(i), h.now))
		} else {
			h.must(ppSendMsg(id, ptr(h.payload), 100, ptr(h.payload)+100, uint32(len(meta)), uint64(i), h.now))
		}
		receipts += h.step()
	}
	h.must(ppFlush(id, h.now))
	receipts += h.step()
	if receipts != 25 {
		t.Fatalf("%d receipts, want 25", receipts)
	}
}

func appendTestMeta(b []byte) []byte {
	b = append(b, tagKey, 3, 0, 0, 0, 'k', 'e', 'y')
	b = append(b, tagProperty, 1, 0, 0, 0, 'a', 1, 0, 0, 0, 'b')
	b = append(b, tagEventTime)
	return binary.LittleEndian.AppendUint64(b, 1_700_000_000_000)
}

// BenchmarkGuestSend is one message per op: pp_send, plus its share of
// sealing, receipts and events, in batches of 1000, all inside the module.
func BenchmarkGuestSend(b *testing.B) {
	h, id := newFakeHost(b, `{"batchingMaxMessages":1000}`)
	b.SetBytes(100)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h.must(ppSend(id, ptr(h.payload), 100, uint64(i), h.now))
		if status.Output != 0 {
			h.step()
		}
	}
	h.must(ppFlush(id, h.now))
	h.step()
}

// BenchmarkGuestEngineOnly is BenchmarkGuestSend calling the engine's Send
// directly instead of pp_send: the difference is the export's own cost.
func BenchmarkGuestEngineOnly(b *testing.B) {
	h, id := newFakeHost(b, `{"batchingMaxMessages":1000}`)
	m := &engine.Message{Payload: h.payload[:100]}
	b.SetBytes(100)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := eng.Send(engine.ProducerID(id), m, uint64(i), time.Unix(0, h.now)); err != nil {
			b.Fatal(err)
		}
		if eng.HasOutput() {
			status.Output = 1
			h.step()
		}
	}
	h.must(ppFlush(id, h.now))
	h.step()
}
