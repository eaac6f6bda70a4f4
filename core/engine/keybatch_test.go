package engine

import (
	"testing"
	"time"

	"github.com/pulsar-producer/pulsar-producer/internal/pb"
)

// TestKeyBasedBatching: each key gets batches of its own, the entry says
// the key, and order is kept per key.
func TestKeyBasedBatching(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	p, conn := h.ready(ProducerOptions{BatcherType: KeyBasedBatcher, BatchingMaxPublishDelay: time.Hour, BatchingMaxMessages: 3})
	send := func(tok uint64, m Message) { h.send(p, &m, tok) }
	send(1, Message{Payload: []byte("a1"), Key: "a"})
	send(2, Message{Payload: []byte("b1"), Key: "b"})
	send(3, Message{Payload: []byte("a2"), Key: "a"})
	send(4, Message{Payload: []byte("n1")})
	send(5, Message{Payload: []byte("o1"), Key: "a", OrderingKey: []byte{9}})
	send(6, Message{Payload: []byte("a3"), Key: "a"}) // fills a's batch: it goes
	first := h.expect(conn, pb.BaseCommand_SEND)
	if first.meta.GetPartitionKey() != "a" || first.meta.GetNumMessagesInBatch() != 3 {
		t.Fatalf("a's batch: key %q, %d messages", first.meta.GetPartitionKey(), first.meta.GetNumMessagesInBatch())
	}
	h.quiet(conn)
	send(7, Message{Payload: []byte("b2"), Key: "b"})
	h.e.Flush(p, h.now)
	want := map[string]int32{"b": 2}
	var rest []sent
	for {
		h.drain()
		if len(h.inbox[conn]) == 0 {
			break
		}
		rest = append(rest, h.expect(conn, pb.BaseCommand_SEND))
	}
	if len(rest) != 3 {
		t.Fatalf("%d more entries, want b's batch, the keyless one, the ordering key's", len(rest))
	}
	for _, s := range rest {
		md := s.meta
		switch {
		case md.GetPartitionKey() == "b":
			if md.GetNumMessagesInBatch() != want["b"] {
				t.Fatalf("b's batch holds %d", md.GetNumMessagesInBatch())
			}
		case len(md.GetOrderingKey()) == 1 && md.GetOrderingKey()[0] == 9:
		case md.PartitionKey == nil && md.OrderingKey == nil:
		default:
			t.Fatalf("an entry with metadata %v", md)
		}
	}
	// Receipts in order of the entries give every message its outcome.
	h.receipt(conn, first, 1, 0)
	for i, s := range rest {
		h.receipt(conn, s, 1, uint64(i+1))
	}
	got := map[uint64]bool{}
	for _, ev := range h.takeEvents() {
		if ev.Kind == EventReceipt {
			got[ev.Tokens[0]] = true
		}
	}
	if len(got) != 7 {
		t.Fatalf("%d of 7 messages completed: %v", len(got), got)
	}
}

func TestKeyBasedBatchesPublishOnTheirOwnDeadlines(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	p, conn := h.ready(ProducerOptions{BatcherType: KeyBasedBatcher, BatchingMaxPublishDelay: 10 * time.Millisecond})
	h.send(p, &Message{Payload: []byte("x"), Key: "x"}, 1)
	h.advance(5 * time.Millisecond)
	h.send(p, &Message{Payload: []byte("y"), Key: "y"}, 2)
	h.advance(5 * time.Millisecond)
	if s := h.expect(conn, pb.BaseCommand_SEND); s.meta.GetPartitionKey() != "x" {
		t.Fatalf("first due: %q", s.meta.GetPartitionKey())
	}
	h.quiet(conn)
	h.advance(5 * time.Millisecond)
	if s := h.expect(conn, pb.BaseCommand_SEND); s.meta.GetPartitionKey() != "y" {
		t.Fatalf("second due: %q", s.meta.GetPartitionKey())
	}
	// A send timeout fails parked batches too.
	h.send(p, &Message{Payload: []byte("z"), Key: "z"}, 3)
	h.send(p, &Message{Payload: []byte("w"), Key: "w"}, 4)
	h.e.AbortProducer(p, nil, h.now)
	fails := 0
	for _, ev := range h.takeEvents() {
		if ev.Kind == EventSendFailed {
			fails += len(ev.Tokens)
		}
	}
	if fails < 2 {
		t.Fatalf("%d failures after the abort, want the two open batches' messages", fails)
	}
}
