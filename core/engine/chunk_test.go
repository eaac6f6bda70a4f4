package engine

import (
	"bytes"
	"compress/zlib"
	"io"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/pulsar-producer/pulsar-producer/internal/pb"
)

// chunkSends collects the SEND frames on conn until there are none.
func chunkSends(h *harness, conn ConnID) []sent {
	var out []sent
	for {
		h.drain()
		if len(h.inbox[conn]) == 0 {
			return out
		}
		out = append(out, h.expect(conn, pb.BaseCommand_SEND))
	}
}

func TestChunkedMessage(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	p, conn := h.ready(ProducerOptions{ChunkingEnabled: true, ChunkMaxMessageSize: 4096, BatchingMaxPublishDelay: time.Hour})
	payload := bytes.Repeat([]byte("0123456789abcdef"), 1000) // 16000 bytes
	h.send(p, &Message{Payload: []byte("small-1")}, 1)
	h.send(p, &Message{Payload: payload, Key: "big", Properties: map[string]string{"p": "v"}}, 2)
	h.send(p, &Message{Payload: []byte("small-2")}, 3)
	h.e.Flush(p, h.now)
	sends := chunkSends(h, conn)
	if len(sends) < 6 {
		t.Fatalf("%d frames, want the batch before, at least 4 chunks, and the batch after", len(sends))
	}
	if string(sends[0].payload[len(sends[0].payload)-7:]) != "small-1" {
		t.Fatalf("first frame %q: the open batch must go before the chunks", sends[0].payload)
	}
	chunks := sends[1 : len(sends)-1]
	var joined []byte
	for i, s := range chunks {
		md := s.meta
		if frameSize(s) > 4096 {
			t.Errorf("chunk %d: frame of %d bytes, over 4096", i, frameSize(s))
		}
		if !s.cmd.GetSend().GetIsChunk() || s.cmd.GetSend().GetSequenceId() != 1 || md.GetChunkId() != int32(i) ||
			md.GetNumChunksFromMsg() != int32(len(chunks)) || md.GetTotalChunkMsgSize() != int32(len(payload)) ||
			md.GetUuid() != "prod-1-1" || md.GetPartitionKey() != "big" || len(md.GetProperties()) != 1 || md.NumMessagesInBatch != nil {
			t.Fatalf("chunk %d: send %v, metadata %v", i, s.cmd.GetSend(), md)
		}
		joined = append(joined, s.payload...)
	}
	if !bytes.Equal(joined, payload) {
		t.Fatal("the chunks do not make the payload")
	}
	// One receipt per entry; the message completes with the last chunk's,
	// carrying the first chunk's ID too.
	for i, s := range sends {
		h.receipt(conn, s, 7, uint64(i))
	}
	var got []Event
	for {
		found := false
		for _, ev := range h.takeEvents() {
			if ev.Kind == EventReceipt {
				got = append(got, ev)
				found = true
			}
		}
		if !found {
			break
		}
	}
	if len(got) != 3 || got[0].Tokens[0] != 1 || got[1].Tokens[0] != 2 || got[2].Tokens[0] != 3 {
		t.Fatalf("receipts %+v", got)
	}
	id := got[1].ID
	if !id.Chunked || id.FirstChunkEntryID != 1 || id.EntryID != int64(len(sends)-2) || id.BatchIndex != -1 {
		t.Fatalf("chunked ID %#v", id)
	}
	back, err := DeserializeMessageID(id.Serialize())
	if err != nil || back != id {
		t.Fatalf("serialized %#v, read back %#v (%v)", id, back, err)
	}
	var md pb.MessageIdData
	if err := proto.Unmarshal(id.Serialize(), &md); err != nil || md.GetFirstChunkMessageId().GetEntryId() != 1 || md.GetEntryId() != uint64(id.EntryID) {
		t.Fatalf("MessageIdData %v %v", &md, err)
	}
	if s := id.String(); s != "7:1:-1;7:"+itoa(id.EntryID)+":-1" {
		t.Fatalf("String() = %s", s)
	}
	if st, _ := h.e.ProducerStats(p); st.MsgsAcked != 3 || st.PendingMsgs != 0 || st.PendingBytes != 0 || h.e.MemoryUsed() != 0 {
		t.Fatalf("stats %+v, memory %d", st, h.e.MemoryUsed())
	}
}

func TestChunksAreCompressedFirst(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	p, conn := h.ready(ProducerOptions{ChunkingEnabled: true, ChunkMaxMessageSize: 2048, CompressionType: CompressionZLib, DisableBatching: true})
	// Random-ish text that compresses but not below one chunk.
	var payload []byte
	r := rng(7)
	for range 20000 {
		payload = append(payload, byte('a'+r.intn(16))) // 4 bits a byte: compresses by about half
	}
	h.send(p, &Message{Payload: payload}, 1)
	sends := chunkSends(h, conn)
	var joined []byte
	for _, s := range sends {
		if s.meta.GetCompression() != pb.CompressionType_ZLIB || s.meta.GetUncompressedSize() != uint32(len(payload)) {
			t.Fatalf("chunk metadata %v", s.meta)
		}
		joined = append(joined, s.payload...)
	}
	if len(sends) < 2 || int(sends[0].meta.GetTotalChunkMsgSize()) != len(joined) || len(joined) >= len(payload) {
		t.Fatalf("%d chunks of %d compressed bytes for %d", len(sends), len(joined), len(payload))
	}
	zr, err := zlib.NewReader(bytes.NewReader(joined))
	if err != nil {
		t.Fatal(err)
	}
	if out, err := io.ReadAll(zr); err != nil || !bytes.Equal(out, payload) {
		t.Fatalf("the chunks do not decompress to the payload: %v", err)
	}
}

func TestChunksResumeAfterAReconnect(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	p, conn := h.ready(ProducerOptions{ChunkingEnabled: true, ChunkMaxMessageSize: 1024, DisableBatching: true})
	payload := bytes.Repeat([]byte("x"), 5000)
	h.send(p, &Message{Payload: payload}, 9)
	sends := chunkSends(h, conn)
	h.receipt(conn, sends[0], 3, 10)
	h.receipt(conn, sends[1], 3, 11)
	h.e.ConnClosed(conn, errRefused{}, h.now)
	h.advance(time.Second)
	c2 := h.connect()
	h.answerLookup(c2, "pulsar://broker:6650")
	h.answerProducer(c2, "prod-1", -1)
	again := chunkSends(h, c2)
	if len(again) != len(sends)-2 {
		t.Fatalf("resent %d chunks, want the %d not acknowledged", len(again), len(sends)-2)
	}
	for i, s := range again {
		if s.meta.GetUuid() != sends[0].meta.GetUuid() || s.meta.GetChunkId() != int32(i+2) || s.cmd.GetSend().GetSequenceId() != sends[0].cmd.GetSend().GetSequenceId() {
			t.Fatalf("resent chunk %d: %v", i, s.meta)
		}
		h.receipt(c2, s, 4, uint64(i))
	}
	ev := h.expectEvent(EventReceipt)
	if ev.Tokens[0] != 9 || !ev.ID.Chunked || ev.ID.FirstChunkLedgerID != 3 || ev.ID.FirstChunkEntryID != 10 || ev.ID.LedgerID != 4 {
		t.Fatalf("receipt %+v %#v", ev, ev.ID)
	}
}

func TestAFailedChunkFailsItsMessageOnce(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	p, conn := h.ready(ProducerOptions{ChunkingEnabled: true, ChunkMaxMessageSize: 1024, DisableBatching: true})
	h.send(p, &Message{Payload: bytes.Repeat([]byte("x"), 4000)}, 1)
	h.send(p, &Message{Payload: []byte("after")}, 2)
	sends := chunkSends(h, conn)
	h.receipt(conn, sends[0], 1, 0)
	h.reply(conn, &pb.BaseCommand{Type: pb.BaseCommand_SEND_ERROR.Enum(), SendError: &pb.CommandSendError{
		ProducerId: proto.Uint64(1), SequenceId: sends[1].cmd.GetSend().SequenceId, Error: pb.ServerError_NotAllowedError.Enum(), Message: proto.String("no")}})
	fails := 0
	for _, ev := range h.takeEvents() {
		if ev.Kind == EventSendFailed {
			fails++
			if ev.Tokens[0] != 1 {
				t.Fatalf("failed %+v", ev)
			}
		}
	}
	if fails != 1 {
		t.Fatalf("%d failure events, want 1", fails)
	}
	h.receipt(conn, sends[len(sends)-1], 1, 9)
	if ev := h.expectEvent(EventReceipt); ev.Tokens[0] != 2 {
		t.Fatalf("the message after: %+v", ev)
	}
}

func TestChunkLimitsAreChecked(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	p, _ := h.ready(ProducerOptions{ChunkingEnabled: true, ChunkMaxMessageSize: 64, DisableBatching: true})
	err := h.e.Send(p, &Message{Payload: make([]byte, 1000), Key: strings.Repeat("k", 100)}, 1, h.now)
	if CodeOf(err) != CodeInvalidConfiguration || !strings.Contains(err.Error(), "no room for a chunk's metadata") {
		t.Fatalf("a chunk size smaller than the metadata: %v", err)
	}
	if h.e.Pending(p) != 0 || h.e.MemoryUsed() != 0 {
		t.Fatal("the refused message is still counted")
	}
	// A chunk size over the broker's limit fails the producer, naming both.
	h2 := newHarness(t, ClientOptions{})
	h2.e.CreateProducer(ProducerOptions{Topic: "t", ChunkingEnabled: true, ChunkMaxMessageSize: 10 << 20}, h2.now)
	conn := h2.connect()
	h2.answerMetadata(conn, 0)
	h2.answerLookup(conn, "pulsar://broker:6650")
	h2.answerProducer(conn, "p", -1)
	if fail := h2.expectEvent(EventProducerFailed); CodeOf(fail.Err) != CodeInvalidConfiguration || !strings.Contains(fail.Err.Error(), "5242880") {
		t.Fatalf("failure %v", fail.Err)
	}
	// Without chunking, a payload over the limit is refused as before.
	h3 := newHarness(t, ClientOptions{})
	p3, _ := h3.ready(ProducerOptions{})
	if err := h3.e.Send(p3, &Message{Payload: make([]byte, 6<<20)}, 1, h3.now); CodeOf(err) != CodeMessageTooBig {
		t.Fatalf("6 MiB without chunking: %v", err)
	}
	// With it, 6 MiB goes in chunks under the broker's limit.
	h4 := newHarness(t, ClientOptions{})
	p4, c4 := h4.ready(ProducerOptions{ChunkingEnabled: true})
	h4.send(p4, &Message{Payload: make([]byte, 6<<20)}, 1)
	if sends := chunkSends(h4, c4); len(sends) != 2 || frameSize(sends[0]) > 5<<20 {
		t.Fatalf("6 MiB made %d chunks", len(sends))
	}
}
