// Partitioned topics that change under a producer: partitions added by an
// admin are found by re-reading the partition count, and with
// lazyStartPartitionedProducers each partition registers on its first
// message.
package engine

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/pulsar-producer/pulsar-producer/internal/pb"
)

const ptTopic = "persistent://public/default/grow"

// readyPartitioned walks a producer on a topic of n partitions to ready,
// returning the wire producer ID of each partition's topic.
func readyPartitioned(h *harness, opts ProducerOptions, n int) (ProducerID, ConnID, map[uint64]string) {
	h.t.Helper()
	opts.Topic = ptTopic
	id, err := h.e.CreateProducer(opts, h.now)
	if err != nil {
		h.t.Fatalf("CreateProducer: %v", err)
	}
	conn := h.connect()
	h.answerMetadata(conn, uint32(n))
	for range n {
		h.answerLookup(conn, "pulsar://broker:6650")
	}
	wire := map[uint64]string{}
	for range n {
		req := h.answerProducer(conn, "pp", -1)
		wire[req.GetProducerId()] = req.GetTopic()
	}
	h.expectEvent(EventProducerReady)
	return id, conn, wire
}

func TestDiscoveryAddsPartitions(t *testing.T) {
	h := newHarness(t, ClientOptions{LogLevel: LogInfo})
	id, conn, wire := readyPartitioned(h, ProducerOptions{DisableBatching: true, PartitionsAutoDiscoveryInterval: 10 * time.Second}, 2)

	// Nothing is asked before the interval.
	h.advance(9 * time.Second)
	h.quiet(conn)
	h.advance(time.Second)
	h.answerMetadata(conn, 4)
	for range 2 {
		h.answerLookup(conn, "pulsar://broker:6650")
	}
	for range 2 {
		req := h.answerProducer(conn, "pp", -1)
		wire[req.GetProducerId()] = req.GetTopic()
	}
	if got := h.e.NumPartitions(id); got != 4 {
		t.Fatalf("NumPartitions after growth = %d, want 4", got)
	}
	if !hasLog(h, "grew from 2 to 4 partitions") {
		t.Fatalf("no log of the growth: %v", h.logs)
	}
	// A keyed message now hashes over 4 partitions: "key" hashes to 106079.
	h.send(id, &Message{Payload: []byte("k"), Key: "key"}, 1)
	s := h.expect(conn, pb.BaseCommand_SEND)
	if got, want := wire[s.cmd.GetSend().GetProducerId()], partitionTopic(ptTopic, 106079%4); got != want {
		t.Fatalf("keyed message went to %s, want %s", got, want)
	}
	h.receipt(conn, s, 9, 1)
	if ev := h.expectEvent(EventReceipt); ev.ID.Partition != 106079%4 {
		t.Fatalf("receipt id %+v", ev.ID)
	}
	// Keyless messages rotate over all four.
	used := map[string]bool{}
	for i := range 4 {
		h.send(id, &Message{Payload: []byte("x")}, uint64(10+i))
		used[wire[h.expect(conn, pb.BaseCommand_SEND).cmd.GetSend().GetProducerId()]] = true
	}
	if len(used) != 4 {
		t.Fatalf("round robin used %v", used)
	}

	// The count is read again every interval; a smaller count (which
	// Pulsar does not allow, but a broker could say) changes nothing.
	h.advance(10 * time.Second)
	h.answerMetadata(conn, 3)
	h.quiet(conn)
	if got := h.e.NumPartitions(id); got != 4 {
		t.Fatalf("NumPartitions after a smaller count = %d", got)
	}
}

func TestDiscoveryFailureIsRetriedNextInterval(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	id, conn, _ := readyPartitioned(h, ProducerOptions{PartitionsAutoDiscoveryInterval: 5 * time.Second}, 2)
	h.advance(5 * time.Second)
	req := h.expect(conn, pb.BaseCommand_PARTITIONED_METADATA).cmd.GetPartitionMetadata()
	h.reply(conn, &pb.BaseCommand{Type: pb.BaseCommand_PARTITIONED_METADATA_RESPONSE.Enum(),
		PartitionMetadataResponse: &pb.CommandPartitionedTopicMetadataResponse{RequestId: req.RequestId,
			Response: pb.CommandPartitionedTopicMetadataResponse_Failed.Enum(), Error: pb.ServerError_ServiceNotReady.Enum(), Message: proto.String("not ready")}})
	if !hasLog(h, "re-reading the partitions") {
		t.Fatalf("no warning for the failed re-read: %v", h.logs)
	}
	if ev := h.takeEvents(); len(ev) != 0 {
		t.Fatalf("a failed re-read produced events %v", ev)
	}
	h.advance(5 * time.Second)
	h.answerMetadata(conn, 3)
	h.answerLookup(conn, "pulsar://broker:6650")
	h.answerProducer(conn, "pp", -1)
	if got := h.e.NumPartitions(id); got != 3 {
		t.Fatalf("NumPartitions = %d, want 3", got)
	}
}

func TestDiscoveryDefaultsAndOff(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	_, conn, _ := readyPartitioned(h, ProducerOptions{}, 2)
	idle(h, conn, 59*time.Second)
	h.advance(time.Second)
	pong(h, conn)
	h.answerMetadata(conn, 2) // the default interval is 60 s

	h2 := newHarness(t, ClientOptions{})
	_, conn2, _ := readyPartitioned(h2, ProducerOptions{PartitionsAutoDiscoveryInterval: -1}, 2)
	idle(h2, conn2, 10*time.Minute)

	// A plain topic is never re-read.
	h3 := newHarness(t, ClientOptions{})
	_, conn3 := h3.ready(ProducerOptions{PartitionsAutoDiscoveryInterval: time.Second})
	idle(h3, conn3, time.Minute)
}

func TestLazyStartRegistersOnFirstMessage(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	id, err := h.e.CreateProducer(ProducerOptions{Topic: ptTopic, DisableBatching: true, LazyStartPartitionedProducers: true,
		RoutingMode: SinglePartition}, h.now)
	if err != nil {
		t.Fatal(err)
	}
	conn := h.connect()
	h.answerMetadata(conn, 3)
	// Ready with no partition registered.
	h.expectEvent(EventProducerReady)
	h.quiet(conn)
	if got := h.e.NumPartitions(id); got != 3 {
		t.Fatalf("NumPartitions = %d", got)
	}
	// A keyed message registers only its own partition.
	h.send(id, &Message{Payload: []byte("k"), Key: "key"}, 1)
	want := partitionTopic(ptTopic, 106079%3)
	if got := h.answerLookup(conn, "pulsar://broker:6650").GetTopic(); got != want {
		t.Fatalf("lookup of %s, want %s", got, want)
	}
	if got := h.answerProducer(conn, "pp", -1).GetTopic(); got != want {
		t.Fatalf("registered %s, want %s", got, want)
	}
	s := h.expect(conn, pb.BaseCommand_SEND)
	h.quiet(conn)
	h.receipt(conn, s, 3, 4)
	if ev := h.expectEvent(EventReceipt); ev.ID.Partition != 106079%3 || ev.Tokens[0] != 1 {
		t.Fatalf("receipt %+v", ev)
	}
	// A second message to the same partition needs no registration.
	h.send(id, &Message{Payload: []byte("k2"), Key: "key"}, 2)
	h.expect(conn, pb.BaseCommand_SEND)
	h.quiet(conn)
}

func TestLazyPartitionFailureFailsOnlyItsMessages(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	id, _ := h.e.CreateProducer(ProducerOptions{Topic: ptTopic, DisableBatching: true, LazyStartPartitionedProducers: true}, h.now)
	conn := h.connect()
	h.answerMetadata(conn, 2)
	h.expectEvent(EventProducerReady)

	h.send(id, &Message{Payload: []byte("a"), Key: "key"}, 1) // partition 106079%2 = 1
	h.answerLookup(conn, "pulsar://broker:6650")
	req := h.expect(conn, pb.BaseCommand_PRODUCER).cmd.GetProducer()
	h.reply(conn, &pb.BaseCommand{Type: pb.BaseCommand_ERROR.Enum(), Error: &pb.CommandError{
		RequestId: req.RequestId, Error: pb.ServerError_AuthorizationError.Enum(), Message: proto.String("not allowed on this partition")}})
	fail := h.expectEvent(EventSendFailed)
	if fail.Tokens[0] != 1 || CodeOf(fail.Err) != CodeAuthorizationError {
		t.Fatalf("send failure %+v", fail)
	}
	for _, ev := range h.takeEvents() {
		if ev.Kind == EventProducerFailed {
			t.Fatalf("the producer failed with its partition: %v", ev.Err)
		}
	}
	// The next message to that partition tries again, and succeeds.
	h.send(id, &Message{Payload: []byte("b"), Key: "key"}, 2)
	h.answerLookup(conn, "pulsar://broker:6650")
	h.answerProducer(conn, "pp", -1)
	s := h.expect(conn, pb.BaseCommand_SEND)
	h.receipt(conn, s, 1, 1)
	if ev := h.expectEvent(EventReceipt); ev.Tokens[0] != 2 {
		t.Fatalf("receipt %+v", ev)
	}
}

func TestLazyStartWithDiscoveredPartition(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	id, _ := h.e.CreateProducer(ProducerOptions{Topic: ptTopic, LazyStartPartitionedProducers: true, PartitionsAutoDiscoveryInterval: time.Second}, h.now)
	conn := h.connect()
	h.answerMetadata(conn, 1)
	h.expectEvent(EventProducerReady)
	h.advance(time.Second)
	h.answerMetadata(conn, 2)
	h.quiet(conn) // the new partition waits for its first message too
	if got := h.e.NumPartitions(id); got != 2 {
		t.Fatalf("NumPartitions = %d", got)
	}
}

// idle moves the clock by d a second at a time, answering the keepalive
// PINGs on conn, and fails on any other frame.
func idle(h *harness, conn ConnID, d time.Duration) {
	h.t.Helper()
	for end := h.now.Add(d); h.now.Before(end); {
		h.advance(time.Second)
		pong(h, conn)
		h.quiet(conn)
	}
}

// pong answers the PINGs at the head of conn's output.
func pong(h *harness, conn ConnID) {
	h.drain()
	for len(h.inbox[conn]) > 0 && h.inbox[conn][0].cmd.GetType() == pb.BaseCommand_PING {
		h.inbox[conn] = h.inbox[conn][1:]
		h.reply(conn, &pb.BaseCommand{Type: pb.BaseCommand_PONG.Enum(), Pong: &pb.CommandPong{}})
	}
}

func hasLog(h *harness, sub string) bool {
	h.drain()
	for _, l := range h.logs {
		if strings.Contains(l.Msg, sub) {
			return true
		}
	}
	return false
}
