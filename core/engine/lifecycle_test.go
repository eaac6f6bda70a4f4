// Lookups, registration, partitions, reconnects, timeouts and closing.
package engine

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/pulsar-producer/pulsar-producer/internal/pb"
)

func TestLookupFollowsRedirects(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	if _, err := h.e.CreateProducer(ProducerOptions{Topic: "persistent://a/b/c"}, h.now); err != nil {
		t.Fatal(err)
	}
	svc := h.connect()
	h.answerMetadata(svc, 0)
	req := h.expect(svc, pb.BaseCommand_LOOKUP).cmd.GetLookupTopic()
	if req.GetTopic() != "persistent://a/b/c" || req.GetAuthoritative() {
		t.Fatalf("first lookup %v", req)
	}
	h.reply(svc, &pb.BaseCommand{Type: pb.BaseCommand_LOOKUP_RESPONSE.Enum(), LookupTopicResponse: &pb.CommandLookupTopicResponse{
		RequestId: req.RequestId, Response: pb.CommandLookupTopicResponse_Redirect.Enum(),
		BrokerServiceUrl: proto.String("pulsar://other:6651"), Authoritative: proto.Bool(true)}})
	ev := h.expectEvent(EventConnect)
	if ev.Text != "other:6651" {
		t.Fatalf("redirected to %q", ev.Text)
	}
	h.events = append(h.events, ev) // let connect() take it
	other := h.connect()
	if req := h.answerLookup(other, "pulsar://other:6651"); !req.GetAuthoritative() {
		t.Fatal("the second lookup must carry the authoritative flag")
	}
	h.answerProducer(other, "p", -1)
	h.expectEvent(EventProducerReady)
}

func TestLookupHopLimit(t *testing.T) {
	h := newHarness(t, ClientOptions{MaxLookupRedirects: 2})
	h.e.CreateProducer(ProducerOptions{Topic: "t"}, h.now)
	svc := h.connect()
	h.answerMetadata(svc, 0)
	for range 3 {
		req := h.expect(svc, pb.BaseCommand_LOOKUP).cmd.GetLookupTopic()
		h.reply(svc, &pb.BaseCommand{Type: pb.BaseCommand_LOOKUP_RESPONSE.Enum(), LookupTopicResponse: &pb.CommandLookupTopicResponse{
			RequestId: req.RequestId, Response: pb.CommandLookupTopicResponse_Redirect.Enum(), BrokerServiceUrl: proto.String("pulsar://broker:6650")}})
	}
	fail := h.expectEvent(EventProducerFailed)
	if CodeOf(fail.Err) != CodeLookupError || !strings.Contains(fail.Err.Error(), "more than 2 times") {
		t.Fatalf("failure %v", fail.Err)
	}
}

func TestLookupFailureFailsCreation(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	h.e.CreateProducer(ProducerOptions{Topic: "t"}, h.now)
	svc := h.connect()
	h.answerMetadata(svc, 0)
	req := h.expect(svc, pb.BaseCommand_LOOKUP).cmd.GetLookupTopic()
	h.reply(svc, &pb.BaseCommand{Type: pb.BaseCommand_LOOKUP_RESPONSE.Enum(), LookupTopicResponse: &pb.CommandLookupTopicResponse{
		RequestId: req.RequestId, Response: pb.CommandLookupTopicResponse_Failed.Enum(),
		Error: pb.ServerError_TopicNotFound.Enum(), Message: proto.String("no such topic")}})
	if fail := h.expectEvent(EventProducerFailed); CodeOf(fail.Err) != CodeTopicNotFound {
		t.Fatalf("failure %v", fail.Err)
	}
}

func TestRequestTimeout(t *testing.T) {
	h := newHarness(t, ClientOptions{OperationTimeout: 5 * time.Second})
	h.e.CreateProducer(ProducerOptions{Topic: "t"}, h.now)
	svc := h.connect()
	h.expect(svc, pb.BaseCommand_PARTITIONED_METADATA)
	h.advance(5 * time.Second)
	if fail := h.expectEvent(EventProducerFailed); CodeOf(fail.Err) != CodeTimeout || !strings.Contains(fail.Err.Error(), "partitioned metadata") {
		t.Fatalf("failure %v", fail.Err)
	}
}

func TestProducerWaitsForExclusiveAccess(t *testing.T) {
	h := newHarness(t, ClientOptions{OperationTimeout: time.Second})
	id, _ := h.e.CreateProducer(ProducerOptions{Topic: "t", AccessMode: AccessWaitForExclusive}, h.now)
	conn := h.connect()
	h.answerMetadata(conn, 0)
	h.answerLookup(conn, "pulsar://broker:6650")
	req := h.expect(conn, pb.BaseCommand_PRODUCER).cmd.GetProducer()
	if req.GetProducerAccessMode() != pb.ProducerAccessMode_WaitForExclusive {
		t.Fatalf("access mode %v", req.GetProducerAccessMode())
	}
	h.reply(conn, &pb.BaseCommand{Type: pb.BaseCommand_PRODUCER_SUCCESS.Enum(), ProducerSuccess: &pb.CommandProducerSuccess{
		RequestId: req.RequestId, ProducerName: proto.String("p"), ProducerReady: proto.Bool(false)}})
	h.advance(10 * time.Second) // longer than the operation timeout: still waiting
	for _, ev := range h.takeEvents() {
		if ev.Kind == EventProducerReady || ev.Kind == EventProducerFailed {
			t.Fatalf("unexpected %v while waiting for exclusive access", ev.Kind)
		}
	}
	if err := h.e.Send(id, &Message{}, 1, h.now); CodeOf(err) != CodeProducerNotInitialized {
		t.Fatalf("send before ready: %v", err)
	}
	h.reply(conn, &pb.BaseCommand{Type: pb.BaseCommand_PRODUCER_SUCCESS.Enum(), ProducerSuccess: &pb.CommandProducerSuccess{
		RequestId: req.RequestId, ProducerName: proto.String("p"), TopicEpoch: proto.Uint64(7)}})
	h.expectEvent(EventProducerReady)
	// The topic epoch goes with every re-registration.
	h.e.ConnClosed(conn, nil, h.now)
	h.advance(time.Second)
	c2 := h.connect()
	h.answerLookup(c2, "pulsar://broker:6650")
	if req := h.answerProducer(c2, "p", -1); req.GetTopicEpoch() != 7 {
		t.Fatalf("re-registration topic epoch %d", req.GetTopicEpoch())
	}
}

func TestPartitionedProducer(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	id, _ := h.e.CreateProducer(ProducerOptions{Topic: "persistent://public/default/pt", DisableBatching: true}, h.now)
	conn := h.connect()
	h.answerMetadata(conn, 3)
	seen := map[string]bool{}
	for range 3 {
		seen[h.answerLookup(conn, "pulsar://broker:6650").GetTopic()] = true
	}
	for i := range 3 {
		if !seen[partitionTopic("persistent://public/default/pt", i)] {
			t.Fatalf("no lookup of partition %d: %v", i, seen)
		}
	}
	wire := map[uint64]string{}
	for range 3 {
		req := h.answerProducer(conn, "pp", -1)
		wire[req.GetProducerId()] = req.GetTopic()
	}
	if ev := h.expectEvent(EventProducerReady); ev.Producer != id || h.e.NumPartitions(id) != 3 {
		t.Fatal("not ready")
	}
	// Keyed messages follow Java's String.hashCode: "key" hashes to 106079.
	h.send(id, &Message{Payload: []byte("k"), Key: "key"}, 1)
	s := h.expect(conn, pb.BaseCommand_SEND)
	if got, want := wire[s.cmd.GetSend().GetProducerId()], partitionTopic("persistent://public/default/pt", 106079%3); got != want {
		t.Fatalf("keyed message went to %s, want %s", got, want)
	}
	h.receipt(conn, s, 5, 6)
	if ev := h.expectEvent(EventReceipt); ev.ID.Partition != 106079%3 {
		t.Fatalf("id %#v", ev.ID)
	}
	// Keyless messages without batching rotate over every partition.
	used := map[uint64]bool{}
	for i := range 3 {
		h.send(id, &Message{Payload: []byte("x")}, uint64(10+i))
		used[h.expect(conn, pb.BaseCommand_SEND).cmd.GetSend().GetProducerId()] = true
	}
	if len(used) != 3 {
		t.Fatalf("round robin used %d partitions", len(used))
	}
}

func TestPartialCreationFailureFailsAll(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	h.e.CreateProducer(ProducerOptions{Topic: "pt"}, h.now)
	conn := h.connect()
	h.answerMetadata(conn, 2)
	h.answerLookup(conn, "pulsar://broker:6650")
	h.answerLookup(conn, "pulsar://broker:6650")
	h.answerProducer(conn, "ok", -1)
	req := h.expect(conn, pb.BaseCommand_PRODUCER).cmd.GetProducer()
	h.reply(conn, &pb.BaseCommand{Type: pb.BaseCommand_ERROR.Enum(), Error: &pb.CommandError{
		RequestId: req.RequestId, Error: pb.ServerError_ProducerBusy.Enum(), Message: proto.String("busy")}})
	if fail := h.expectEvent(EventProducerFailed); CodeOf(fail.Err) != CodeProducerBusy {
		t.Fatalf("failure %v", fail.Err)
	}
	// The partition that did register is unregistered.
	h.expect(conn, pb.BaseCommand_CLOSE_PRODUCER)
}

func TestReconnectResendsEverythingInOrder(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	p, conn := h.ready(ProducerOptions{BatchingMaxMessages: 2})
	for i := range 5 {
		h.send(p, &Message{Payload: []byte{byte('0' + i)}}, uint64(i))
	}
	first := h.expect(conn, pb.BaseCommand_SEND)
	h.receipt(conn, first, 1, 1)
	h.expect(conn, pb.BaseCommand_SEND)
	h.e.ConnClosed(conn, errRefused{}, h.now)
	expectClosed(t, h, conn, CodeDisconnected, "refused")
	// Sends while disconnected queue up.
	h.send(p, &Message{Payload: []byte("5")}, 5)
	h.e.Flush(p, h.now)
	h.advance(time.Second)
	c2 := h.connect()
	h.answerLookup(c2, "pulsar://broker:6650")
	h.answerProducer(c2, "prod-1", -1)
	var seqs []uint64
	for {
		h.drain()
		if len(h.inbox[c2]) == 0 {
			break
		}
		seqs = append(seqs, h.expect(c2, pb.BaseCommand_SEND).cmd.GetSend().GetSequenceId())
	}
	if want := []uint64{2, 4}; len(seqs) != 2 || seqs[0] != want[0] || seqs[1] != want[1] {
		t.Fatalf("resent entries starting at %v, want %v", seqs, want)
	}
}

func TestBackoffGrowsAndResets(t *testing.T) {
	h := newHarness(t, ClientOptions{InitialBackoff: 100 * time.Millisecond, MaxBackoff: time.Second})
	_, conn := h.ready(ProducerOptions{})
	h.e.ConnClosed(conn, nil, h.now)
	h.takeEvents()
	var delays []time.Duration
	for range 5 {
		dl, _ := h.e.Deadline()
		delays = append(delays, dl.Sub(h.now))
		h.advance(dl.Sub(h.now))
		ev := h.expectEvent(EventConnect)
		h.e.ConnFailed(ev.Conn, errRefused{}, h.now)
		h.takeEvents()
	}
	for i, d := range delays {
		limit := min(100*time.Millisecond<<i, time.Second)
		if d > limit || d < limit*8/10 {
			t.Fatalf("delay %d is %v, want within 20%% below %v (all: %v)", i, d, limit, delays)
		}
	}
}

func TestSendTimeoutFailsAllPending(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	p, conn := h.ready(ProducerOptions{SendTimeout: 3 * time.Second, DisableBatching: true})
	h.send(p, &Message{Payload: []byte("a")}, 1)
	h.advance(time.Second)
	h.send(p, &Message{Payload: []byte("b")}, 2)
	first := h.expect(conn, pb.BaseCommand_SEND)
	h.expect(conn, pb.BaseCommand_SEND)
	h.advance(2 * time.Second)
	for _, tok := range []uint64{1, 2} {
		ev := h.expectEvent(EventSendFailed)
		if ev.Tokens[0] != tok || CodeOf(ev.Err) != CodeTimeout {
			t.Fatalf("want token %d timed out, got %+v", tok, ev)
		}
	}
	// A receipt arriving after the timeout is dropped, not an error.
	h.receipt(conn, first, 1, 1)
	for _, ev := range h.takeEvents() {
		t.Fatalf("unexpected %v after a late receipt", ev.Kind)
	}
	h.send(p, &Message{Payload: []byte("c")}, 3)
	s := h.expect(conn, pb.BaseCommand_SEND)
	if s.cmd.GetSend().GetSequenceId() != 2 {
		t.Fatalf("sequence IDs must not be reused: %d", s.cmd.GetSend().GetSequenceId())
	}
}

func TestCloseWaitsForPendingThenUnregisters(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	p, conn := h.ready(ProducerOptions{BatchingMaxPublishDelay: time.Hour})
	h.send(p, &Message{Payload: []byte("a")}, 1)
	h.send(p, &Message{Payload: []byte("b")}, 2)
	if err := h.e.CloseProducer(p, h.now); err != nil {
		t.Fatal(err)
	}
	s := h.expect(conn, pb.BaseCommand_SEND) // the open batch goes at once
	h.quiet(conn)                            // no CLOSE_PRODUCER before the receipt
	if err := h.e.Send(p, &Message{}, 3, h.now); CodeOf(err) != CodeAlreadyClosed {
		t.Fatalf("send while closing: %v", err)
	}
	if err := h.e.CloseProducer(p, h.now); CodeOf(err) != CodeAlreadyClosed {
		t.Fatalf("second close: %v", err)
	}
	h.receipt(conn, s, 1, 1)
	h.expectEvent(EventReceipt)
	h.expectEvent(EventReceipt)
	cl := h.expect(conn, pb.BaseCommand_CLOSE_PRODUCER).cmd.GetCloseProducer()
	h.reply(conn, &pb.BaseCommand{Type: pb.BaseCommand_SUCCESS.Enum(), Success: &pb.CommandSuccess{RequestId: cl.RequestId}})
	if ev := h.expectEvent(EventProducerClosed); ev.Producer != p {
		t.Fatalf("closed %+v", ev)
	}
	if err := h.e.Send(p, &Message{}, 4, h.now); CodeOf(err) != CodeAlreadyClosed {
		t.Fatalf("send after close: %v", err)
	}
}

func TestAbortFailsPending(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	p, conn := h.ready(ProducerOptions{})
	h.send(p, &Message{Payload: []byte("a")}, 1)
	h.e.AbortProducer(p, nil, h.now)
	if ev := h.expectEvent(EventSendFailed); ev.Tokens[0] != 1 || CodeOf(ev.Err) != CodeAlreadyClosed {
		t.Fatalf("abort: %+v", ev)
	}
	h.expectEvent(EventProducerClosed)
	h.expect(conn, pb.BaseCommand_CLOSE_PRODUCER)
	if h.e.MemoryUsed() != 0 {
		t.Fatal("memory not released")
	}
}

func TestBrokerClosesProducer(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	p, conn := h.ready(ProducerOptions{DisableBatching: true})
	h.send(p, &Message{Payload: []byte("a")}, 1)
	h.expect(conn, pb.BaseCommand_SEND)
	id := h.e.producers[p].parts[0].wireID
	h.reply(conn, &pb.BaseCommand{Type: pb.BaseCommand_CLOSE_PRODUCER.Enum(), CloseProducer: &pb.CommandCloseProducer{
		ProducerId: proto.Uint64(id), RequestId: proto.Uint64(99)}})
	// An immediate new lookup on the same (still open) connection.
	h.answerLookup(conn, "pulsar://broker:6650")
	if req := h.answerProducer(conn, "prod-1", -1); req.GetEpoch() != 1 {
		t.Fatalf("epoch %d", req.GetEpoch())
	}
	if s := h.expect(conn, pb.BaseCommand_SEND); string(s.payload) != "a" {
		t.Fatal("pending message not resent")
	}
}

func TestSendErrors(t *testing.T) {
	t.Run("topic terminated fails the producer", func(t *testing.T) {
		h := newHarness(t, ClientOptions{})
		p, conn := h.ready(ProducerOptions{DisableBatching: true})
		h.send(p, &Message{Payload: []byte("a")}, 1)
		s := h.expect(conn, pb.BaseCommand_SEND)
		h.reply(conn, &pb.BaseCommand{Type: pb.BaseCommand_SEND_ERROR.Enum(), SendError: &pb.CommandSendError{
			ProducerId: s.cmd.GetSend().ProducerId, SequenceId: s.cmd.GetSend().SequenceId,
			Error: pb.ServerError_TopicTerminatedError.Enum(), Message: proto.String("terminated")}})
		if ev := h.expectEvent(EventSendFailed); CodeOf(ev.Err) != CodeTopicTerminated {
			t.Fatalf("%+v", ev)
		}
		h.expectEvent(EventProducerFailed)
		if err := h.e.Send(p, &Message{}, 2, h.now); CodeOf(err) != CodeTopicTerminated {
			t.Fatalf("send after termination: %v", err)
		}
	})
	t.Run("a transient error reconnects and resends", func(t *testing.T) {
		h := newHarness(t, ClientOptions{})
		p, conn := h.ready(ProducerOptions{DisableBatching: true})
		h.send(p, &Message{Payload: []byte("m0")}, 1)
		s := h.expect(conn, pb.BaseCommand_SEND)
		h.reply(conn, &pb.BaseCommand{Type: pb.BaseCommand_SEND_ERROR.Enum(), SendError: &pb.CommandSendError{
			ProducerId: s.cmd.GetSend().ProducerId, SequenceId: s.cmd.GetSend().SequenceId,
			Error: pb.ServerError_PersistenceError.Enum(), Message: proto.String("bookie down")}})
		expectClosed(t, h, conn, CodeBrokerPersistenceError, "bookie down")
		expectResend(t, h, 0, "m0")
	})
}

func TestCreateProducerValidation(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	cases := []struct {
		opts ProducerOptions
		code Code
		text string
	}{
		{ProducerOptions{}, CodeInvalidTopicName, "empty"},
		{ProducerOptions{Topic: "a/b"}, CodeInvalidTopicName, "short name"},
		{ProducerOptions{Topic: "persistent://a//c"}, CodeInvalidTopicName, "empty"},
		{ProducerOptions{Topic: "kafka://a/b/c"}, CodeInvalidTopicName, "domain"},
		{ProducerOptions{Topic: "has space"}, CodeInvalidTopicName, "space"},
		{ProducerOptions{Topic: "t", BatchingMaxMessages: -1}, CodeInvalidConfiguration, "batchingMaxMessages"},
		{ProducerOptions{Topic: "t", BatchingMaxBytes: 6 << 20}, CodeInvalidConfiguration, "batchingMaxBytes"},
		{ProducerOptions{Topic: "t", BatchingMaxPublishDelay: -time.Second}, CodeInvalidConfiguration, "batchingMaxPublishDelay"},
		{ProducerOptions{Topic: "t", MaxPendingMessages: -1}, CodeInvalidConfiguration, "maxPendingMessages"},
		{ProducerOptions{Topic: "t", CompressionType: 9}, CodeInvalidConfiguration, "compressionType"},
		{ProducerOptions{Topic: "t", AccessMode: 9}, CodeInvalidConfiguration, "accessMode"},
		{ProducerOptions{Topic: "t", SendTimeout: time.Microsecond}, CodeInvalidConfiguration, "sendTimeout"},
	}
	for _, c := range cases {
		_, err := h.e.CreateProducer(c.opts, h.now)
		if CodeOf(err) != c.code || !strings.Contains(err.Error(), c.text) {
			t.Errorf("CreateProducer(%+v) = %v, want %v containing %q", c.opts, err, c.code, c.text)
		}
	}
	if evs := h.takeEvents(); len(evs) != 0 {
		t.Fatalf("a refused producer caused events: %v", evs)
	}
}

// After the broker closes a producer (a topic unload), receipts for entries
// it was still storing may follow on the same connection: they carry the
// real IDs and complete the messages, and the receipts of the resent copies
// are then ignored.
func TestLateReceiptsAfterBrokerClose(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	p, conn := h.ready(ProducerOptions{DisableBatching: true})
	h.send(p, &Message{Payload: []byte("a")}, 1)
	h.send(p, &Message{Payload: []byte("b")}, 2)
	first := h.expect(conn, pb.BaseCommand_SEND)
	second := h.expect(conn, pb.BaseCommand_SEND)
	id := h.e.producers[p].parts[0].wireID
	h.reply(conn, &pb.BaseCommand{Type: pb.BaseCommand_CLOSE_PRODUCER.Enum(), CloseProducer: &pb.CommandCloseProducer{
		ProducerId: proto.Uint64(id), RequestId: proto.Uint64(99)}})
	h.receipt(conn, first, 7, 70) // late, before re-registration
	if ev := h.expectEvent(EventReceipt); ev.Tokens[0] != 1 || ev.ID.LedgerID != 7 || ev.ID.EntryID != 70 {
		t.Fatalf("late receipt: %+v", ev)
	}
	h.answerLookup(conn, "pulsar://broker:6650")
	h.answerProducer(conn, "prod-1", -1)
	resent := h.expect(conn, pb.BaseCommand_SEND)
	if string(resent.payload) != "b" {
		t.Fatalf("resent %q, want only the unacknowledged b", resent.payload)
	}
	h.receipt(conn, second, 7, 71) // the original, late
	h.receipt(conn, resent, ^uint64(0), ^uint64(0))
	if ev := h.expectEvent(EventReceipt); ev.Tokens[0] != 2 || ev.ID.EntryID != 71 {
		t.Fatalf("second: %+v", ev)
	}
	for _, ev := range h.takeEvents() {
		t.Fatalf("unexpected %v", ev.Kind)
	}
}
