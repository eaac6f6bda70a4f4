// Chunked messages against the real broker, reassembled by the official Go
// client: 20 MiB and 50 MiB messages among small ones, byte for byte, on a
// plain topic with batching on and on a partitioned topic, and the IDs the
// producer reported match where the consumer found them.
package integration

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/pulsar-producer/pulsar-producer/core"
	"github.com/pulsar-producer/pulsar-producer/tests/broker"
	"github.com/pulsar-producer/pulsar-producer/tests/verify"
)

func bigPayload(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

func TestChunkedMessagesReassembled(t *testing.T) {
	for _, tc := range []struct {
		name       string
		partitions int
		opts       core.ProducerOptions
	}{
		{"batched topic", 0, core.ProducerOptions{ChunkingEnabled: true, CompressionType: core.CompressionLZ4}},
		{"partitioned topic", 3, core.ProducerOptions{ChunkingEnabled: true, DisableBatching: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t)
			topic := broker.NewTopic(t, "chunks")
			if tc.partitions > 0 {
				broker.CreatePartitionedTopic(t, topic, tc.partitions)
			}
			tc.opts.Topic = topic
			p := newProducer(t, c, tc.opts)
			ctx := context.Background()
			type sent struct {
				payload []byte
				id      core.MessageID
			}
			var msgs []sent
			send := func(b []byte) {
				id, err := p.Send(ctx, &core.Message{Payload: b, Key: "k"}) // one key: one partition, in order
				if err != nil {
					t.Fatalf("sending %d bytes: %v", len(b), err)
				}
				msgs = append(msgs, sent{b, id})
			}
			send([]byte("small-before"))
			send(bigPayload(20<<20, 1))
			send([]byte("small-between"))
			send(bigPayload(50<<20, 2))
			send([]byte("small-after"))
			for i, m := range msgs {
				if chunked := len(m.payload) > 5<<20; m.id.Chunked != chunked {
					t.Fatalf("message %d (%d bytes): ID %v, chunked %v", i, len(m.payload), m.id, m.id.Chunked)
				}
			}
			got := verify.Consume(t, topic, len(msgs), verify.Options{Timeout: 90 * time.Second})
			for i, g := range got {
				if !bytes.Equal(g.Payload(), msgs[i].payload) {
					t.Fatalf("message %d: the Go client read %d bytes, we sent %d (or other bytes)", i, len(g.Payload()), len(msgs[i].payload))
				}
				want := msgs[i].id
				// The Go client names a chunked message by its last chunk, and
				// prints both, as we do.
				gid := verify.IDOf(g.ID())
				if gid.Ledger != want.LedgerID || gid.Entry != want.EntryID {
					t.Fatalf("message %d: the Go client found it at %d:%d, the producer said %v", i, gid.Ledger, gid.Entry, want)
				}
				if want.Chunked && !strings.HasPrefix(g.ID().String(), fmt.Sprintf("%d:%d:", want.FirstChunkLedgerID, want.FirstChunkEntryID)) {
					t.Fatalf("message %d: the Go client's ID %s, the producer's %v", i, g.ID(), want)
				}
			}
			// The serialized chunk ID is one the Go client accepts.
			for _, m := range msgs {
				if m.id.Chunked {
					if _, err := pulsar.DeserializeMessageID(m.id.Serialize()); err != nil {
						t.Fatalf("the Go client refuses our chunked ID %v: %v", m.id, err)
					}
				}
			}
		})
	}
}
