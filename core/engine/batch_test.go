// Batching and metadata: what the engine writes for each way of sending.
package engine

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"google.golang.org/protobuf/proto"

	"github.com/pulsar-producer/pulsar-producer/internal/pb"
)

// splitBatch decodes a batch payload with the generated code.
func splitBatch(t *testing.T, payload []byte, n int) ([]*pb.SingleMessageMetadata, [][]byte) {
	t.Helper()
	var metas []*pb.SingleMessageMetadata
	var bodies [][]byte
	for range n {
		if len(payload) < 4 {
			t.Fatalf("batch payload truncated")
		}
		size := binary.BigEndian.Uint32(payload)
		m := &pb.SingleMessageMetadata{}
		if err := proto.Unmarshal(payload[4:4+size], m); err != nil {
			t.Fatal(err)
		}
		payload = payload[4+size:]
		body := payload[:m.GetPayloadSize()]
		payload = payload[m.GetPayloadSize():]
		metas = append(metas, m)
		bodies = append(bodies, body)
	}
	if len(payload) != 0 {
		t.Fatalf("%d bytes left after %d messages", len(payload), n)
	}
	return metas, bodies
}

func TestBatchClosesAtMessageCount(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	p, conn := h.ready(ProducerOptions{BatchingMaxMessages: 3, BatchingMaxPublishDelay: time.Second})
	for i := range 7 {
		h.send(p, &Message{Payload: []byte{byte('a' + i)}}, uint64(i))
	}
	for want := uint64(0); want < 6; want += 3 {
		s := h.expect(conn, pb.BaseCommand_SEND)
		send := s.cmd.GetSend()
		if send.GetNumMessages() != 3 || send.GetSequenceId() != want || send.GetHighestSequenceId() != want+2 {
			t.Fatalf("SEND %v", send)
		}
		if s.meta.GetNumMessagesInBatch() != 3 || s.meta.GetSequenceId() != want || s.meta.GetHighestSequenceId() != want+2 {
			t.Fatalf("batch metadata %v", s.meta)
		}
		if s.meta.GetProducerName() != "prod-1" || s.meta.GetPublishTime() != uint64(h.now.UnixMilli()) {
			t.Fatalf("batch metadata %v", s.meta)
		}
		metas, bodies := splitBatch(t, s.payload, 3)
		for i := range 3 {
			if metas[i].GetSequenceId() != want+uint64(i) || string(bodies[i]) != string(rune('a'+int(want)+i)) {
				t.Fatalf("message %d: %v %q", i, metas[i], bodies[i])
			}
		}
	}
	h.quiet(conn) // the seventh waits for the delay
	h.advance(time.Second)
	s := h.expect(conn, pb.BaseCommand_SEND)
	if s.meta.NumMessagesInBatch != nil || string(s.payload) != "g" || s.meta.GetSequenceId() != 6 {
		t.Fatalf("a batch of one must go out as a plain message: %v %q", s.meta, s.payload)
	}
}

func TestBatchClosesAtByteSize(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	p, conn := h.ready(ProducerOptions{BatchingMaxBytes: 100, BatchingMaxPublishDelay: time.Second})
	payload := bytes.Repeat([]byte("x"), 40)
	h.send(p, &Message{Payload: payload}, 1)
	h.send(p, &Message{Payload: payload}, 2)
	h.quiet(conn)
	h.send(p, &Message{Payload: payload}, 3) // would pass 100 bytes: the first two go
	s := h.expect(conn, pb.BaseCommand_SEND)
	if s.meta.GetNumMessagesInBatch() != 2 {
		t.Fatalf("batch of %d, want 2", s.meta.GetNumMessagesInBatch())
	}
	// A message larger than the limit on its own still goes, alone.
	big := bytes.Repeat([]byte("y"), 500)
	h.send(p, &Message{Payload: big}, 4)
	s = h.expect(conn, pb.BaseCommand_SEND)
	if s.meta.NumMessagesInBatch != nil || !bytes.Equal(s.payload, payload) {
		t.Fatalf("third message: %v", s.meta)
	}
	s = h.expect(conn, pb.BaseCommand_SEND)
	if !bytes.Equal(s.payload, big) {
		t.Fatalf("big message not sent alone")
	}
}

func TestBatchDelayCountsFromFirstMessage(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	p, conn := h.ready(ProducerOptions{BatchingMaxPublishDelay: 10 * time.Millisecond})
	h.send(p, &Message{Payload: []byte("1")}, 1)
	h.advance(6 * time.Millisecond)
	h.send(p, &Message{Payload: []byte("2")}, 2)
	h.advance(3 * time.Millisecond)
	h.quiet(conn)
	h.advance(time.Millisecond) // 10ms after the first message
	s := h.expect(conn, pb.BaseCommand_SEND)
	if s.meta.GetNumMessagesInBatch() != 2 {
		t.Fatalf("want the batch of 2 at 10ms, got %v", s.meta)
	}
	if dl, ok := h.e.Deadline(); ok && dl.Sub(h.now) < time.Second {
		t.Fatalf("a timer is still pending at %v with nothing batched", dl.Sub(h.now))
	}
}

func TestFlushSendsOpenBatch(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	p, conn := h.ready(ProducerOptions{BatchingMaxPublishDelay: time.Hour})
	h.send(p, &Message{Payload: []byte("1")}, 1)
	h.send(p, &Message{Payload: []byte("2")}, 2)
	h.quiet(conn)
	if err := h.e.Flush(p, h.now); err != nil {
		t.Fatal(err)
	}
	if s := h.expect(conn, pb.BaseCommand_SEND); s.meta.GetNumMessagesInBatch() != 2 {
		t.Fatalf("flush sent %v", s.meta)
	}
}

func TestBatchReceiptGivesEachMessageItsID(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	p, conn := h.ready(ProducerOptions{BatchingMaxMessages: 5})
	for i := range 5 {
		h.send(p, &Message{Payload: []byte{byte(i)}}, uint64(100+i))
	}
	s := h.expect(conn, pb.BaseCommand_SEND)
	h.receipt(conn, s, 77, 12)
	for i := range 5 {
		ev := h.expectEvent(EventReceipt)
		want := MessageID{LedgerID: 77, EntryID: 12, Partition: -1, BatchIndex: int32(i), BatchSize: 5}
		if ev.Tokens[0] != uint64(100+i) || ev.ID != want || ev.Producer != p {
			t.Fatalf("receipt %d: %+v, want token %d id %#v", i, ev, 100+i, want)
		}
	}
	if h.e.MemoryUsed() != 0 || h.e.Pending(p) != 0 {
		t.Fatalf("memory %d pending %d after the receipt", h.e.MemoryUsed(), h.e.Pending(p))
	}
}

func TestDelayedMessagesAreNeverBatched(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	p, conn := h.ready(ProducerOptions{BatchingMaxPublishDelay: time.Hour})
	h.send(p, &Message{Payload: []byte("a")}, 1)
	h.send(p, &Message{Payload: []byte("b")}, 2)
	h.send(p, &Message{Payload: []byte("late"), DeliverAfter: 5 * time.Second}, 3)
	at := h.now.Add(time.Minute)
	h.send(p, &Message{Payload: []byte("later"), DeliverAt: at}, 4)
	h.send(p, &Message{Payload: []byte("c")}, 5)
	if s := h.expect(conn, pb.BaseCommand_SEND); s.meta.GetNumMessagesInBatch() != 2 {
		t.Fatalf("the open batch must go first: %v", s.meta)
	}
	s := h.expect(conn, pb.BaseCommand_SEND)
	if s.meta.NumMessagesInBatch != nil || string(s.payload) != "late" || s.meta.GetDeliverAtTime() != h.now.Add(5*time.Second).UnixMilli() {
		t.Fatalf("deliverAfter message: %v %q", s.meta, s.payload)
	}
	s = h.expect(conn, pb.BaseCommand_SEND)
	if string(s.payload) != "later" || s.meta.GetDeliverAtTime() != at.UnixMilli() {
		t.Fatalf("deliverAt message: %v", s.meta)
	}
	h.quiet(conn) // "c" opened a new batch
	h.e.Flush(p, h.now)
	if s := h.expect(conn, pb.BaseCommand_SEND); string(s.payload) != "c" {
		t.Fatalf("last: %q", s.payload)
	}
}

func TestLoneMessageCarriesEveryField(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	p, conn := h.ready(ProducerOptions{DisableBatching: true})
	seq := int64(500)
	ev := time.UnixMilli(1_600_000_000_000)
	h.send(p, &Message{Payload: []byte("body"), Key: "pk", OrderingKey: []byte("ok"),
		Properties: map[string]string{"a": "1", "b": "2"}, EventTime: ev, SequenceID: &seq,
		ReplicationClusters: []string{"east", "west"}}, 1)
	s := h.expect(conn, pb.BaseCommand_SEND)
	want := &pb.MessageMetadata{
		ProducerName: proto.String("prod-1"), SequenceId: proto.Uint64(500), PublishTime: proto.Uint64(uint64(h.now.UnixMilli())),
		Properties:   []*pb.KeyValue{{Key: proto.String("a"), Value: proto.String("1")}, {Key: proto.String("b"), Value: proto.String("2")}},
		PartitionKey: proto.String("pk"), ReplicateTo: []string{"east", "west"}, EventTime: proto.Uint64(uint64(ev.UnixMilli())),
		OrderingKey: []byte("ok"),
	}
	if !proto.Equal(s.meta, want) || string(s.payload) != "body" || s.cmd.GetSend().GetSequenceId() != 500 {
		t.Fatalf("got %v\nwant %v", s.meta, want)
	}
	h.send(p, &Message{NullValue: true, Key: "gone", DisableReplication: true}, 2)
	s = h.expect(conn, pb.BaseCommand_SEND)
	if !s.meta.GetNullValue() || len(s.payload) != 0 || s.meta.GetPartitionKey() != "gone" ||
		len(s.meta.ReplicateTo) != 1 || s.meta.ReplicateTo[0] != "__local__" || s.meta.GetSequenceId() != 0 {
		t.Fatalf("tombstone: %v", s.meta)
	}
	h.send(p, &Message{Payload: []byte{}}, 3)
	if s = h.expect(conn, pb.BaseCommand_SEND); s.meta.GetNullValue() || s.meta.GetSequenceId() != 1 {
		t.Fatalf("an empty payload is not a null value: %v", s.meta)
	}
}

func TestBatchOfOneIsAPlainMessage(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	p, conn := h.ready(ProducerOptions{})
	h.send(p, &Message{Payload: []byte("solo"), Key: "k", Properties: map[string]string{"x": "y"}, NullValue: false}, 9)
	h.e.Flush(p, h.now)
	s := h.expect(conn, pb.BaseCommand_SEND)
	if s.meta.NumMessagesInBatch != nil || s.meta.GetPartitionKey() != "k" || len(s.meta.Properties) != 1 || string(s.payload) != "solo" {
		t.Fatalf("metadata %v payload %q", s.meta, s.payload)
	}
	h.receipt(conn, s, 3, 4)
	if ev := h.expectEvent(EventReceipt); ev.ID != (MessageID{LedgerID: 3, EntryID: 4, Partition: -1, BatchIndex: -1}) {
		t.Fatalf("id %#v", ev.ID)
	}
}

func TestReplicationGroupsBatches(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	p, conn := h.ready(ProducerOptions{BatchingMaxPublishDelay: time.Hour})
	h.send(p, &Message{Payload: []byte("1")}, 1)
	h.send(p, &Message{Payload: []byte("2"), ReplicationClusters: []string{"a"}}, 2)
	h.send(p, &Message{Payload: []byte("3"), ReplicationClusters: []string{"a"}}, 3)
	h.e.Flush(p, h.now)
	if s := h.expect(conn, pb.BaseCommand_SEND); len(s.meta.ReplicateTo) != 0 {
		t.Fatalf("first entry %v", s.meta)
	}
	if s := h.expect(conn, pb.BaseCommand_SEND); s.meta.GetNumMessagesInBatch() != 2 || len(s.meta.ReplicateTo) != 1 {
		t.Fatalf("second entry %v", s.meta)
	}
}

func TestSequenceIDs(t *testing.T) {
	t.Run("resume after the broker's last", func(t *testing.T) {
		h := newHarness(t, ClientOptions{})
		id, _ := h.e.CreateProducer(ProducerOptions{Topic: "t", DisableBatching: true}, h.now)
		conn := h.connect()
		h.answerMetadata(conn, 0)
		h.answerLookup(conn, "pulsar://broker:6650")
		h.answerProducer(conn, "p", 41)
		h.expectEvent(EventProducerReady)
		h.send(id, &Message{Payload: []byte("x")}, 1)
		if s := h.expect(conn, pb.BaseCommand_SEND); s.cmd.GetSend().GetSequenceId() != 42 {
			t.Fatalf("seq %d, want 42", s.cmd.GetSend().GetSequenceId())
		}
	})
	t.Run("initial sequence ID wins", func(t *testing.T) {
		h := newHarness(t, ClientOptions{})
		init := int64(100)
		id, _ := h.e.CreateProducer(ProducerOptions{Topic: "t", DisableBatching: true, InitialSequenceID: &init}, h.now)
		conn := h.connect()
		h.answerMetadata(conn, 0)
		h.answerLookup(conn, "pulsar://broker:6650")
		h.answerProducer(conn, "p", 41)
		h.expectEvent(EventProducerReady)
		h.send(id, &Message{Payload: []byte("x")}, 1)
		if s := h.expect(conn, pb.BaseCommand_SEND); s.cmd.GetSend().GetSequenceId() != 101 {
			t.Fatalf("seq %d, want 101", s.cmd.GetSend().GetSequenceId())
		}
	})
}

func TestCompressionCodecs(t *testing.T) {
	payload := bytes.Repeat([]byte("compress me please "), 40)
	decode := map[CompressionType]func([]byte, int) ([]byte, error){
		CompressionLZ4: func(b []byte, n int) ([]byte, error) {
			out := make([]byte, n)
			k, err := lz4.UncompressBlock(b, out)
			return out[:k], err
		},
		CompressionZLib: func(b []byte, _ int) ([]byte, error) {
			r, err := zlib.NewReader(bytes.NewReader(b))
			if err != nil {
				return nil, err
			}
			return io.ReadAll(r)
		},
		CompressionZSTD: func(b []byte, _ int) ([]byte, error) {
			d, _ := zstd.NewReader(nil)
			defer d.Close()
			return d.DecodeAll(b, nil)
		},
		CompressionSnappy: func(b []byte, _ int) ([]byte, error) { return snappy.Decode(nil, b) },
	}
	for ct, dec := range decode {
		t.Run(ct.String(), func(t *testing.T) {
			h := newHarness(t, ClientOptions{})
			p, conn := h.ready(ProducerOptions{CompressionType: ct, BatchingMaxMessages: 2})
			h.send(p, &Message{Payload: payload}, 1)
			h.send(p, &Message{Payload: payload}, 2)
			s := h.expect(conn, pb.BaseCommand_SEND)
			if s.meta.GetCompression() != pb.CompressionType(ct) || len(s.payload) >= len(payload) {
				t.Fatalf("compression %v, %d bytes", s.meta.GetCompression(), len(s.payload))
			}
			raw, err := dec(s.payload, int(s.meta.GetUncompressedSize()))
			if err != nil || len(raw) != int(s.meta.GetUncompressedSize()) {
				t.Fatalf("decompress: %v (%d bytes, metadata says %d)", err, len(raw), s.meta.GetUncompressedSize())
			}
			_, bodies := splitBatch(t, raw, 2)
			if !bytes.Equal(bodies[1], payload) {
				t.Fatal("payload changed")
			}
			// Incompressible input goes out plain.
			noise := make([]byte, 64)
			for i := range noise {
				noise[i] = byte(i*131 + 7)
			}
			h.send(p, &Message{Payload: noise}, 3)
			h.e.Flush(p, h.now)
			if s := h.expect(conn, pb.BaseCommand_SEND); s.meta.Compression != nil || !bytes.Equal(s.payload, noise) {
				t.Fatalf("incompressible entry: %v", s.meta)
			}
		})
	}
}

func TestMessageValidation(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	p, _ := h.ready(ProducerOptions{})
	neg := int64(-5)
	cases := []struct {
		msg  Message
		code Code
		text string
	}{
		{Message{NullValue: true, Payload: []byte("x")}, CodeInvalidMessage, "null-value"},
		{Message{DeliverAfter: -time.Second}, CodeInvalidMessage, "deliverAfter"},
		{Message{DeliverAfter: time.Second, DeliverAt: h.now}, CodeInvalidMessage, "not both"},
		{Message{SequenceID: &neg}, CodeInvalidMessage, "sequenceId"},
		{Message{ReplicationClusters: []string{"a"}, DisableReplication: true}, CodeInvalidMessage, "not both"},
		{Message{Properties: map[string]string{"": "v"}}, CodeInvalidMessage, "key is empty"},
		{Message{Payload: make([]byte, 5<<20+1)}, CodeMessageTooBig, "exceeds the broker's limit"},
		{Message{Key: "a\xffb"}, CodeInvalidMessage, "not valid UTF-8"},
		{Message{Properties: map[string]string{"k": "\xc3"}}, CodeInvalidMessage, "not valid UTF-8"},
		{Message{ReplicationClusters: []string{"\xfe"}}, CodeInvalidMessage, "not valid UTF-8"},
	}
	for _, c := range cases {
		err := h.e.Send(p, &c.msg, 1, h.now)
		if CodeOf(err) != c.code || !bytes.Contains([]byte(err.Error()), []byte(c.text)) {
			t.Errorf("Send(%+v) = %v, want %v containing %q", c.msg.Payload != nil, err, c.code, c.text)
		}
	}
	if h.e.Pending(p) != 0 || h.e.MemoryUsed() != 0 {
		t.Fatal("a refused message was queued")
	}
}

func TestQueueLimits(t *testing.T) {
	h := newHarness(t, ClientOptions{MemoryLimitBytes: 100})
	p, conn := h.ready(ProducerOptions{MaxPendingMessages: 3, DisableBatching: true})
	h.send(p, &Message{Payload: make([]byte, 60)}, 1)
	if err := h.e.Send(p, &Message{Payload: make([]byte, 60)}, 2, h.now); CodeOf(err) != CodeMemoryBufferIsFull {
		t.Fatalf("over the memory limit: %v", err)
	}
	h.send(p, &Message{Payload: make([]byte, 10)}, 3)
	h.send(p, &Message{Payload: make([]byte, 10)}, 4)
	if err := h.e.Send(p, &Message{}, 5, h.now); CodeOf(err) != CodeProducerQueueIsFull {
		t.Fatalf("over maxPendingMessages: %v", err)
	}
	s := h.expect(conn, pb.BaseCommand_SEND)
	h.receipt(conn, s, 1, 1)
	h.send(p, &Message{}, 6) // room again
	// A message larger than the whole limit still goes when nothing else is pending.
	h2 := newHarness(t, ClientOptions{MemoryLimitBytes: 10})
	p2, _ := h2.ready(ProducerOptions{})
	h2.send(p2, &Message{Payload: make([]byte, 50)}, 1)
}

func TestSendPayloads(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	p, conn := h.ready(ProducerOptions{BatchingMaxMessages: 3, MaxPendingMessages: 5, BatchingMaxPublishDelay: time.Hour})
	data := []byte("aabbbcccc")
	n, err := h.e.SendPayloads(p, data, []uint32{2, 3, 4}, []uint64{10, 11, 12}, h.now)
	if n != 3 || err != nil {
		t.Fatalf("SendPayloads: %d %v", n, err)
	}
	s := h.expect(conn, pb.BaseCommand_SEND)
	metas, bodies := splitBatch(t, s.payload, 3)
	for i, want := range []string{"aa", "bbb", "cccc"} {
		if string(bodies[i]) != want || metas[i].GetSequenceId() != uint64(i) {
			t.Fatalf("message %d: %q seq %d", i, bodies[i], metas[i].GetSequenceId())
		}
	}
	// The queue holds 5: the third of these is refused, the first two go in.
	n, err = h.e.SendPayloads(p, []byte("xyz"), []uint32{1, 1, 1}, []uint64{13, 14, 15}, h.now)
	if n != 2 || CodeOf(err) != CodeProducerQueueIsFull {
		t.Fatalf("over the limit: %d %v", n, err)
	}
	if _, err := h.e.SendPayloads(p, []byte("x"), []uint32{2}, []uint64{16}, h.now); CodeOf(err) != CodeInvalidArgument {
		t.Fatalf("lengths past the data: %v", err)
	}
	if _, err := h.e.SendPayloads(p, nil, []uint32{0}, nil, h.now); CodeOf(err) != CodeInvalidArgument {
		t.Fatalf("lengths without tokens: %v", err)
	}
	h.receipt(conn, s, 1, 1)
	for _, tok := range []uint64{10, 11, 12} {
		if ev := h.expectEvent(EventReceipt); ev.Tokens[0] != tok {
			t.Fatalf("receipt for %d, want %d", ev.Tokens[0], tok)
		}
	}
	if h.e.Pending(p) != 2 {
		t.Fatalf("%d pending", h.e.Pending(p))
	}
}

func TestSendPayloadsWithoutBatching(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	p, conn := h.ready(ProducerOptions{DisableBatching: true})
	if n, err := h.e.SendPayloads(p, []byte("ab"), []uint32{1, 1}, []uint64{1, 2}, h.now); n != 2 || err != nil {
		t.Fatal(n, err)
	}
	for _, want := range []string{"a", "b"} {
		if s := h.expect(conn, pb.BaseCommand_SEND); string(s.payload) != want || s.meta.NumMessagesInBatch != nil {
			t.Fatalf("%q %v", s.payload, s.meta)
		}
	}
}

func TestRoom(t *testing.T) {
	h := newHarness(t, ClientOptions{MemoryLimitBytes: 1000})
	p, _ := h.ready(ProducerOptions{MaxPendingMessages: 3})
	if m, b := h.e.Room(p); m != 3 || b != 1000 {
		t.Fatalf("empty: %d %d", m, b)
	}
	h.send(p, &Message{Payload: make([]byte, 100)}, 1)
	if m, b := h.e.Room(p); m != 2 || b != 900 {
		t.Fatalf("after one: %d %d", m, b)
	}
	h2 := newHarness(t, ClientOptions{MemoryLimitBytes: -1})
	p2, _ := h2.ready(ProducerOptions{})
	if m, b := h2.e.Room(p2); m != -1 || b != -1 {
		t.Fatalf("unlimited: %d %d", m, b)
	}
	if m, b := h2.e.Room(p2 + 1); m != 0 || b != 0 {
		t.Fatalf("no producer: %d %d", m, b)
	}
}
