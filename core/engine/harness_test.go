// A broker played by the test: it reads the frames the engine writes and
// answers with frames built from the generated protobuf code, so every
// engine test runs on bytes alone, with a clock the test moves by hand.
//
// How this works: the broker's side frames and unframes with the codec of
// internal/fakebroker, the project's one way to build and read broker
// frames. The engine's output is read back with fakebroker.ReadFrame,
// which decodes commands and metadata with the generated code and checks
// every checksum itself, so no engine test reads the engine's bytes with
// the engine's own parser. The harness stays scripted: each test decides
// every reply and its moment (fakebroker's Conn would answer on its own,
// which would hide the steps these tests check).
package engine

import (
	"encoding/binary"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/pulsar-producer/pulsar-producer/internal/fakebroker"
	"github.com/pulsar-producer/pulsar-producer/internal/pb"
)

// appendCommand frames a command built with the generated code: the broker
// side of these tests shares no encoder with the engine.
var appendCommand = fakebroker.AppendCommand

// sent is one frame the engine wrote, decoded by the generated code.
type sent struct {
	cmd     *pb.BaseCommand
	meta    *pb.MessageMetadata
	payload []byte
}

type harness struct {
	t      testing.TB
	e      *Engine
	now    time.Time
	events []Event
	logs   []LogRecord // EventLog records, kept apart from the other events
	inbox  map[ConnID][]sent
}

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func newHarness(t testing.TB, opts ClientOptions) *harness {
	t.Helper()
	if opts.ServiceURL == "" {
		opts.ServiceURL = "pulsar://broker:6650"
	}
	e, err := New(opts, 42, t0)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &harness{t: t, e: e, now: t0, inbox: map[ConnID][]sent{}}
}

// advance moves the clock and ticks the engine if a deadline passed.
func (h *harness) advance(d time.Duration) {
	h.now = h.now.Add(d)
	if dl, ok := h.e.Deadline(); ok && !h.now.Before(dl) {
		h.e.Tick(h.now)
	}
	h.drain()
}

// drain collects events and output frames.
func (h *harness) drain() {
	for {
		ev, ok := h.e.NextEvent()
		if !ok {
			break
		}
		if ev.Kind == EventLog {
			h.logs = append(h.logs, *ev.Log)
			continue
		}
		if ev.Kind != EventReceipt && ev.Kind != EventSendFailed {
			h.events = append(h.events, ev)
			continue
		}
		// One event per message, so tests can check each.
		for i, tok := range ev.Tokens {
			one := ev
			one.Tokens = []uint64{tok}
			if ev.Kind == EventReceipt {
				one.ID = ev.MessageID(i)
			}
			h.events = append(h.events, one)
		}
	}
	for {
		id, data, ok := h.e.TakeOutput(nil)
		if !ok {
			break
		}
		for len(data) > 0 {
			f, n, err := fakebroker.ReadFrame(data)
			if err != nil || n == 0 {
				h.t.Fatalf("engine wrote an unreadable frame: n=%d err=%v", n, err)
			}
			if !f.ChecksumOK {
				h.t.Fatalf("engine wrote a %v frame with a wrong checksum", f.Command.GetType())
			}
			data = data[n:]
			s := sent{cmd: f.Command, meta: f.Metadata}
			if f.Metadata != nil {
				s.payload = append([]byte(nil), f.Payload...)
			}
			h.inbox[id] = append(h.inbox[id], s)
		}
	}
}

// takeEvents returns and forgets the events collected so far.
func (h *harness) takeEvents() []Event {
	h.drain()
	evs := h.events
	h.events = nil
	return evs
}

// expectEvent finds the first collected event of kind and removes it.
func (h *harness) expectEvent(kind EventKind) Event {
	h.t.Helper()
	h.drain()
	for i, ev := range h.events {
		if ev.Kind == kind {
			h.events = append(h.events[:i], h.events[i+1:]...)
			return ev
		}
	}
	h.t.Fatalf("no %v event; have %v", kind, h.events)
	return Event{}
}

// expect takes the oldest frame the engine wrote on conn and checks its type.
func (h *harness) expect(conn ConnID, typ pb.BaseCommand_Type) sent {
	h.t.Helper()
	h.drain()
	q := h.inbox[conn]
	if len(q) == 0 {
		h.t.Fatalf("conn %d: expected %v, engine wrote nothing", conn, typ)
	}
	s := q[0]
	h.inbox[conn] = q[1:]
	if s.cmd.GetType() != typ {
		h.t.Fatalf("conn %d: expected %v, got %v", conn, typ, s.cmd.GetType())
	}
	return s
}

// quiet checks the engine wrote nothing more on conn.
func (h *harness) quiet(conn ConnID) {
	h.t.Helper()
	h.drain()
	if q := h.inbox[conn]; len(q) > 0 {
		h.t.Fatalf("conn %d: unexpected %v", conn, q[0].cmd.GetType())
	}
}

// reply sends a command from the broker on conn.
func (h *harness) reply(conn ConnID, cmd *pb.BaseCommand) {
	h.e.Receive(conn, appendCommand(nil, cmd), h.now)
	h.drain()
}

// feed sends raw bytes from the broker.
func (h *harness) feed(conn ConnID, b []byte) {
	h.e.Receive(conn, b, h.now)
	h.drain()
}

// connect answers an EventConnect: open, CONNECT, CONNECTED.
func (h *harness) connect() ConnID {
	h.t.Helper()
	ev := h.expectEvent(EventConnect)
	h.e.ConnOpened(ev.Conn, h.now)
	c := h.expect(ev.Conn, pb.BaseCommand_CONNECT).cmd.GetConnect()
	if c.GetProtocolVersion() != protocolVersion || c.GetClientVersion() == "" {
		h.t.Fatalf("CONNECT: %v", c)
	}
	h.reply(ev.Conn, &pb.BaseCommand{Type: pb.BaseCommand_CONNECTED.Enum(), Connected: &pb.CommandConnected{
		ServerVersion: proto.String("test-broker"), ProtocolVersion: proto.Int32(21), MaxMessageSize: proto.Int32(5 << 20),
	}})
	return ev.Conn
}

// answerMetadata answers PARTITIONED_METADATA with n partitions.
func (h *harness) answerMetadata(conn ConnID, n uint32) {
	h.t.Helper()
	req := h.expect(conn, pb.BaseCommand_PARTITIONED_METADATA).cmd.GetPartitionMetadata()
	h.reply(conn, &pb.BaseCommand{Type: pb.BaseCommand_PARTITIONED_METADATA_RESPONSE.Enum(),
		PartitionMetadataResponse: &pb.CommandPartitionedTopicMetadataResponse{RequestId: req.RequestId, Partitions: proto.Uint32(n)}})
}

// answerLookup answers a LOOKUP with "connect to url".
func (h *harness) answerLookup(conn ConnID, url string) *pb.CommandLookupTopic {
	h.t.Helper()
	req := h.expect(conn, pb.BaseCommand_LOOKUP).cmd.GetLookupTopic()
	h.reply(conn, &pb.BaseCommand{Type: pb.BaseCommand_LOOKUP_RESPONSE.Enum(),
		LookupTopicResponse: &pb.CommandLookupTopicResponse{RequestId: req.RequestId, BrokerServiceUrl: proto.String(url),
			Response: pb.CommandLookupTopicResponse_Connect.Enum()}})
	return req
}

// answerProducer answers a PRODUCER with success.
func (h *harness) answerProducer(conn ConnID, name string, lastSeq int64) *pb.CommandProducer {
	h.t.Helper()
	req := h.expect(conn, pb.BaseCommand_PRODUCER).cmd.GetProducer()
	h.reply(conn, &pb.BaseCommand{Type: pb.BaseCommand_PRODUCER_SUCCESS.Enum(),
		ProducerSuccess: &pb.CommandProducerSuccess{RequestId: req.RequestId, ProducerName: proto.String(name), LastSequenceId: proto.Int64(lastSeq)}})
	return req
}

// ready creates a producer on a plain topic and walks it to ready.
func (h *harness) ready(opts ProducerOptions) (ProducerID, ConnID) {
	h.t.Helper()
	if opts.Topic == "" {
		opts.Topic = "t"
	}
	id, err := h.e.CreateProducer(opts, h.now)
	if err != nil {
		h.t.Fatalf("CreateProducer: %v", err)
	}
	conn := h.connect()
	h.answerMetadata(conn, 0)
	h.answerLookup(conn, "pulsar://broker:6650")
	h.answerProducer(conn, "prod-1", -1)
	ev := h.expectEvent(EventProducerReady)
	if ev.Producer != id || ev.Text != "prod-1" {
		h.t.Fatalf("ready event %+v", ev)
	}
	return id, conn
}

// receipt acknowledges a SEND with ledger/entry.
func (h *harness) receipt(conn ConnID, s sent, ledger, entry uint64) {
	send := s.cmd.GetSend()
	h.reply(conn, &pb.BaseCommand{Type: pb.BaseCommand_SEND_RECEIPT.Enum(), SendReceipt: &pb.CommandSendReceipt{
		ProducerId: send.ProducerId, SequenceId: send.SequenceId, HighestSequenceId: send.HighestSequenceId,
		MessageId: &pb.MessageIdData{LedgerId: proto.Uint64(ledger), EntryId: proto.Uint64(entry)},
	}})
}

// send queues a message with the given token and fails the test on error.
func (h *harness) send(p ProducerID, m *Message, token uint64) {
	h.t.Helper()
	if err := h.e.Send(p, m, token, h.now); err != nil {
		h.t.Fatalf("Send: %v", err)
	}
	h.drain()
}

// rawFrame builds a frame with a payload section, as a broker would send a
// MESSAGE; corrupt flips a bit of the checksum.
func rawFrame(cmd *pb.BaseCommand, meta, payload []byte, corrupt bool) []byte {
	b := fakebroker.AppendMessage(nil, cmd, meta, payload)
	if corrupt {
		// The checksum follows the command and the 2-byte magic.
		at := 8 + int(binary.BigEndian.Uint32(b[4:])) + 2
		b[at+3] ^= 1
	}
	return b
}
