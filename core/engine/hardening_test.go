// Regression tests for defects found by trying the library as a new user
// would: the size limit, keepalive bounds, creation bounds, fencing,
// multi-host service URLs, HTTP ports, empty keys, logs and stats.
package engine

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/pulsar-producer/pulsar-producer/internal/pb"
)

// frameSize is the size a frame announces (everything after its prefix).
func frameSize(s sent) int {
	b, _ := proto.Marshal(s.cmd)
	m, _ := proto.Marshal(s.meta)
	return 4 + len(b) + 2 + 4 + 4 + len(m) + len(s.payload)
}

// TestFrameLimitCountsMetadataAtTheExactBoundary sends a lone message with
// a 20 KB key whose frame is exactly the broker's limit, then one byte
// more: the first is written, the second fails with MessageTooBig without
// a byte written, and the message after it is unaffected.
func TestFrameLimitCountsMetadataAtTheExactBoundary(t *testing.T) {
	const limit = 1 << 20
	h := newHarness(t, ClientOptions{})
	id, err := h.e.CreateProducer(ProducerOptions{Topic: "t", DisableBatching: true}, h.now)
	if err != nil {
		t.Fatal(err)
	}
	ev := h.expectEvent(EventConnect)
	h.e.ConnOpened(ev.Conn, h.now)
	h.expect(ev.Conn, pb.BaseCommand_CONNECT)
	h.reply(ev.Conn, &pb.BaseCommand{Type: pb.BaseCommand_CONNECTED.Enum(), Connected: &pb.CommandConnected{
		ServerVersion: proto.String("b"), ProtocolVersion: proto.Int32(21), MaxMessageSize: proto.Int32(limit)}})
	conn := ev.Conn
	h.answerMetadata(conn, 0)
	h.answerLookup(conn, "pulsar://broker:6650")
	h.answerProducer(conn, "prod-1", -1)
	h.expectEvent(EventProducerReady)

	key := strings.Repeat("k", 20000)
	// Probe the frame's overhead with a small message of the same shape.
	h.send(id, &Message{Payload: []byte("x"), Key: key}, 1)
	probe := h.expect(conn, pb.BaseCommand_SEND)
	overhead := frameSize(probe) - 1
	h.receipt(conn, probe, 1, 0)
	h.expectEvent(EventReceipt)

	fits := bytes.Repeat([]byte("p"), limit-overhead)
	h.send(id, &Message{Payload: fits, Key: key}, 2)
	s := h.expect(conn, pb.BaseCommand_SEND)
	if got := frameSize(s); got != limit {
		t.Fatalf("the boundary message made a frame of %d bytes, want exactly %d", got, limit)
	}
	h.receipt(conn, s, 1, 1)
	if r := h.expectEvent(EventReceipt); r.Tokens[0] != 2 {
		t.Fatalf("receipt %+v", r)
	}

	over := bytes.Repeat([]byte("p"), limit-overhead+1)
	if err := h.e.Send(id, &Message{Payload: over, Key: key}, 3, h.now); err == nil {
		fail := h.expectEvent(EventSendFailed)
		if fail.Tokens[0] != 3 || CodeOf(fail.Err) != CodeMessageTooBig || !strings.Contains(fail.Err.Error(), "limit of 1048576") {
			t.Fatalf("one byte over: %+v", fail)
		}
	} else if CodeOf(err) != CodeMessageTooBig {
		t.Fatalf("one byte over: %v", err)
	}
	h.quiet(conn)

	h.send(id, &Message{Payload: []byte("after")}, 4)
	after := h.expect(conn, pb.BaseCommand_SEND)
	h.receipt(conn, after, 1, 2)
	if r := h.expectEvent(EventReceipt); r.Tokens[0] != 4 {
		t.Fatalf("the message after the oversize one: %+v", r)
	}
	// Payload and key alone already over the limit: refused at once.
	if err := h.e.Send(id, &Message{Payload: make([]byte, limit), Key: "k"}, 5, h.now); CodeOf(err) != CodeMessageTooBig {
		t.Fatalf("payload and key over the limit: %v", err)
	}
}

// TestBatchClosesBeforeTheMessageThatWouldOverflowIt fills a batch close to
// the limit; the next message goes into a batch of its own.
func TestBatchClosesBeforeTheMessageThatWouldOverflowIt(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	p, conn := h.ready(ProducerOptions{BatchingMaxBytes: 5 << 20, BatchingMaxMessages: 1000, BatchingMaxPublishDelay: time.Hour})
	big := make([]byte, 2<<20)
	h.send(p, &Message{Payload: big}, 1)
	h.send(p, &Message{Payload: big}, 2)
	h.quiet(conn) // 4 MiB batched: still open
	h.send(p, &Message{Payload: big, Key: strings.Repeat("k", 100)}, 3)
	first := h.expect(conn, pb.BaseCommand_SEND)
	if n := first.meta.GetNumMessagesInBatch(); n != 2 || frameSize(first) > 5<<20 {
		t.Fatalf("first entry: %d messages, frame of %d bytes", n, frameSize(first))
	}
	h.e.Flush(p, h.now)
	second := h.expect(conn, pb.BaseCommand_SEND)
	if second.cmd.GetSend().GetSequenceId() != 2 {
		t.Fatalf("second entry starts at sequence %d", second.cmd.GetSend().GetSequenceId())
	}
	h.receipt(conn, first, 1, 0)
	h.receipt(conn, second, 1, 1)
	for _, tok := range []uint64{1, 2, 3} {
		if r := h.expectEvent(EventReceipt); r.Tokens[0] != tok {
			t.Fatalf("receipt for %d: %+v", tok, r)
		}
	}
}

// TestKeepaliveDeclaresDeadAfterExactlyTwoSilentIntervals: a connection
// silent for just under two intervals lives; at two it is dead, wherever
// the last byte fell relative to the timer.
func TestKeepaliveDeclaresDeadAfterExactlyTwoSilentIntervals(t *testing.T) {
	for _, offset := range []time.Duration{0, time.Millisecond, 3 * time.Second, 9999 * time.Millisecond} {
		h := newHarness(t, ClientOptions{KeepAliveInterval: 10 * time.Second})
		_, conn := h.ready(ProducerOptions{})
		h.advance(offset)
		h.reply(conn, &pb.BaseCommand{Type: pb.BaseCommand_PONG.Enum(), Pong: &pb.CommandPong{}})
		last := h.now
		h.advance(10 * time.Second)
		h.expect(conn, pb.BaseCommand_PING)
		h.advance(last.Add(20*time.Second - time.Millisecond).Sub(h.now))
		for _, ev := range h.takeEvents() {
			if ev.Kind == EventConnClosed {
				t.Fatalf("offset %v: closed after %v of silence", offset, h.now.Sub(last))
			}
		}
		h.advance(time.Millisecond)
		expectClosed(t, h, conn, CodeDisconnected, "two keepAliveIntervals")
	}
}

func TestCreateTimeoutBoundsWaitForExclusive(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	id, _ := h.e.CreateProducer(ProducerOptions{Topic: "t", AccessMode: AccessWaitForExclusive, CreateTimeout: 2 * time.Second}, h.now)
	conn := h.connect()
	h.answerMetadata(conn, 0)
	h.answerLookup(conn, "pulsar://broker:6650")
	req := h.expect(conn, pb.BaseCommand_PRODUCER).cmd.GetProducer()
	h.reply(conn, &pb.BaseCommand{Type: pb.BaseCommand_PRODUCER_SUCCESS.Enum(), ProducerSuccess: &pb.CommandProducerSuccess{
		RequestId: req.RequestId, ProducerName: proto.String("p"), ProducerReady: proto.Bool(false)}})
	h.advance(1999 * time.Millisecond)
	for _, ev := range h.takeEvents() {
		t.Fatalf("unexpected %v before createTimeout", ev.Kind)
	}
	h.advance(time.Millisecond)
	fail := h.expectEvent(EventProducerFailed)
	if fail.Producer != id || CodeOf(fail.Err) != CodeTimeout || !strings.Contains(fail.Err.Error(), "exclusive access") {
		t.Fatalf("failure %+v", fail)
	}
	// The broker is told to forget the waiting producer.
	h.expect(conn, pb.BaseCommand_CLOSE_PRODUCER)
}

// TestFencedProducerFailsPromptly: after the broker closes a shared
// producer because an exclusive one took the topic, re-registration is
// refused; pending and later sends fail with the broker's reason at once.
func TestFencedProducerFailsPromptly(t *testing.T) {
	for _, tc := range []struct {
		name     string
		se       pb.ServerError
		msg      string
		attempts int
		code     Code
	}{
		{"exclusive producer", pb.ServerError_ProducerBusy, "Topic has an existing exclusive producer: x", 1, CodeProducerBusy},
		{"fenced", pb.ServerError_ProducerFenced, "Producer was fenced", 1, CodeProducerFenced},
		{"busy", pb.ServerError_ProducerBusy, "Producer with name 'p' is already connected", maxBusyRetries, CodeProducerBusy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, ClientOptions{})
			p, conn := h.ready(ProducerOptions{SendTimeout: time.Hour})
			h.send(p, &Message{Payload: []byte("a")}, 1)
			h.e.Flush(p, h.now)
			h.expect(conn, pb.BaseCommand_SEND)
			h.reply(conn, &pb.BaseCommand{Type: pb.BaseCommand_CLOSE_PRODUCER.Enum(), CloseProducer: &pb.CommandCloseProducer{ProducerId: proto.Uint64(1), RequestId: proto.Uint64(0)}})
			for i := range tc.attempts {
				if i > 0 {
					dl, _ := h.e.Deadline()
					h.advance(dl.Sub(h.now))
				}
				h.answerLookup(conn, "pulsar://broker:6650")
				req := h.expect(conn, pb.BaseCommand_PRODUCER).cmd.GetProducer()
				h.reply(conn, &pb.BaseCommand{Type: pb.BaseCommand_ERROR.Enum(), Error: &pb.CommandError{
					RequestId: req.RequestId, Error: tc.se.Enum(), Message: proto.String(tc.msg)}})
			}
			fail := h.expectEvent(EventSendFailed)
			if CodeOf(fail.Err) != tc.code || !strings.Contains(fail.Err.Error(), tc.msg) {
				t.Fatalf("pending send failed with %v", fail.Err)
			}
			if ev := h.expectEvent(EventProducerFailed); CodeOf(ev.Err) != tc.code {
				t.Fatalf("producer failed with %v", ev.Err)
			}
			if err := h.e.Send(p, &Message{Payload: []byte("b")}, 2, h.now); CodeOf(err) != tc.code {
				t.Fatalf("a later send: %v", err)
			}
		})
	}
}

// TestServiceURLTriesEveryHost: with the first host of the service URL
// down, requests move on to the next one, whichever host is tried first.
func TestServiceURLTriesEveryHost(t *testing.T) {
	for seed := uint64(0); seed < 20; seed++ {
		e, err := New(ClientOptions{ServiceURL: "pulsar://down:1,up:6650"}, seed, t0)
		if err != nil {
			t.Fatal(err)
		}
		h := &harness{t: t, e: e, now: t0, inbox: map[ConnID][]sent{}}
		if _, err := e.CreateProducer(ProducerOptions{Topic: "t"}, h.now); err != nil {
			t.Fatal(err)
		}
		ev := h.expectEvent(EventConnect)
		if ev.Text == "down:1" {
			e.ConnFailed(ev.Conn, errRefused{}, h.now)
			ev = h.expectEvent(EventConnect)
		}
		if ev.Text != "up:6650" {
			t.Fatalf("seed %d: connected to %s", seed, ev.Text)
		}
		h.events = append(h.events, ev)
		conn := h.connect()
		h.answerMetadata(conn, 0)
		h.answerLookup(conn, "pulsar://up:6650")
		h.answerProducer(conn, "p", -1)
		h.expectEvent(EventProducerReady)
	}
	// Every host down: creation fails once each was tried.
	h := newHarness(t, ClientOptions{ServiceURL: "pulsar://a:1,b:1"})
	h.e.CreateProducer(ProducerOptions{Topic: "t"}, h.now)
	for range 2 {
		ev := h.expectEvent(EventConnect)
		h.e.ConnFailed(ev.Conn, errRefused{}, h.now)
	}
	if fail := h.expectEvent(EventProducerFailed); CodeOf(fail.Err) != CodeConnectError {
		t.Fatalf("failure %v", fail.Err)
	}
}

func TestHTTPReplyIsNamed(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	h.e.CreateProducer(ProducerOptions{Topic: "t"}, h.now)
	ev := h.expectEvent(EventConnect)
	h.e.ConnOpened(ev.Conn, h.now)
	h.expect(ev.Conn, pb.BaseCommand_CONNECT)
	h.feed(ev.Conn, []byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"))
	fail := h.expectEvent(EventProducerFailed)
	if CodeOf(fail.Err) != CodeConnectError || !strings.Contains(fail.Err.Error(), "points at an HTTP port") {
		t.Fatalf("failure %v", fail.Err)
	}
}

// TestEmptyKeyIsAKey: HasKey sends an empty partition key, which routes
// by its hash (partition 0); no key routes round robin.
func TestEmptyKeyIsAKey(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	p, conn := h.ready(ProducerOptions{DisableBatching: true})
	h.send(p, &Message{Payload: []byte("a"), HasKey: true}, 1)
	h.send(p, &Message{Payload: []byte("b")}, 2)
	if s := h.expect(conn, pb.BaseCommand_SEND); s.meta.PartitionKey == nil || s.meta.GetPartitionKey() != "" {
		t.Fatalf("empty key sent as %v", s.meta.PartitionKey)
	}
	if s := h.expect(conn, pb.BaseCommand_SEND); s.meta.PartitionKey != nil {
		t.Fatalf("no key sent as %q", s.meta.GetPartitionKey())
	}
	// Batched, the key sits in the single metadata.
	b := appendSingleMeta(nil, &Message{HasKey: true}, 0, 0)
	var single pb.SingleMessageMetadata
	if err := proto.Unmarshal(b, &single); err != nil || single.PartitionKey == nil {
		t.Fatalf("batched empty key: %v %v", single.PartitionKey, err)
	}
	var r rng = 1
	for _, scheme := range []HashingScheme{JavaStringHash, Murmur3Hash} {
		rt := newRouter(&ProducerOptions{HashingScheme: scheme, DisableBatching: true}, &r, 7)
		for range 3 {
			if i, _ := rt.pick(&Message{HasKey: true}, 7, t0); i != 0 {
				t.Fatalf("%v: an empty key routed to %d", scheme, i)
			}
		}
	}
}

func TestLogRecords(t *testing.T) {
	h := newHarness(t, ClientOptions{LogLevel: LogInfo})
	_, conn := h.ready(ProducerOptions{})
	h.e.ConnClosed(conn, errRefused{}, h.now)
	h.takeEvents()
	var saw []string
	for _, r := range h.logs {
		saw = append(saw, r.Level.String()+": "+r.Msg)
	}
	all := strings.Join(saw, "\n")
	for _, want := range []string{
		"info: connecting to broker:6650",
		"info: connected to broker:6650 (test-broker, protocol version 21",
		"info: producer prod-1 registered on persistent://public/default/t at broker:6650",
		"warn: connection to broker:6650 closed: Disconnected",
		"warn: producer on persistent://public/default/t reconnects in",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("no log %q in:\n%s", want, all)
		}
	}
	for _, r := range h.logs {
		if strings.Contains(r.Msg, "reconnects in") && (r.Topic != "persistent://public/default/t" || r.ProducerName != "prod-1") {
			t.Errorf("reconnect record without its fields: %+v", r)
		}
	}
	// The default level keeps only warnings and errors.
	h2 := newHarness(t, ClientOptions{})
	h2.ready(ProducerOptions{})
	if len(h2.logs) != 0 {
		t.Fatalf("info records at the default level: %+v", h2.logs)
	}
}

func TestStats(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	p, conn := h.ready(ProducerOptions{DisableBatching: true, SendTimeout: time.Second})
	h.send(p, &Message{Payload: []byte("aa")}, 1)
	h.send(p, &Message{Payload: []byte("bbb")}, 2)
	s1 := h.expect(conn, pb.BaseCommand_SEND)
	h.expect(conn, pb.BaseCommand_SEND)
	if st, _ := h.e.ProducerStats(p); st.MsgsSent != 2 || st.BytesSent != 5 || st.PendingMsgs != 2 || st.PendingBytes != 5 {
		t.Fatalf("after sending: %+v", st)
	}
	h.advance(3 * time.Millisecond)
	h.receipt(conn, s1, 1, 1)
	h.advance(time.Second) // the second times out
	h.takeEvents()
	h.e.ConnClosed(conn, nil, h.now)
	st, _ := h.e.ProducerStats(p)
	if st.MsgsAcked != 1 || st.BytesAcked != 2 || st.MsgsFailed != 1 || st.BytesFailed != 3 || st.PendingMsgs != 0 || st.Reconnects != 1 {
		t.Fatalf("after a receipt, a timeout and a reconnect: %+v", st)
	}
	if st.Latency.Count() != 1 || st.Latency.Percentile(0.99) != 3*time.Millisecond || st.Latency.Max != 3*time.Millisecond {
		t.Fatalf("latency: %+v p99 %v", st.Latency, st.Latency.Percentile(0.99))
	}
	cs := h.e.ClientStats()
	if cs.MsgsSent != 2 || cs.Producers != 1 || cs.Connects != 1 {
		t.Fatalf("client stats %+v", cs)
	}
}

func TestLatencyPercentiles(t *testing.T) {
	var l Latency
	if l.Percentile(0.5) != 0 {
		t.Fatal("empty histogram")
	}
	l.add(150*time.Microsecond, 90)
	l.add(40*time.Millisecond, 9)
	l.add(7*time.Second, 1)
	for q, want := range map[float64]time.Duration{0.5: 200 * time.Microsecond, 0.9: 200 * time.Microsecond, 0.95: 50 * time.Millisecond, 0.999: 7 * time.Second} {
		if got := l.Percentile(q); got != want {
			t.Errorf("p%v = %v, want %v", q*100, got, want)
		}
	}
}

func TestDuplicateMessageID(t *testing.T) {
	if !(MessageID{LedgerID: -1, EntryID: -1, Partition: -1, BatchIndex: -1}).IsDuplicate() {
		t.Fatal("-1:-1 is a duplicate")
	}
	if (MessageID{LedgerID: 0, EntryID: 0}).IsDuplicate() {
		t.Fatal("0:0 is not a duplicate")
	}
}
