// The WASI host against the native runtime, message features that cross
// the module boundary: the same sends, each side against its own fake
// broker (internal/fakebroker, recording), must store the same bytes and
// report the same message IDs and errors. Covered: values encoded by a
// schema (STRING; KEY_VALUE SEPARATED with Go values, whose key crosses as
// base64), a base64 key given directly, a custom Go router and a partition
// chosen directly, chunked messages (their IDs name the first chunk), and
// lazyStartPartitionedProducers. Real-broker checks of the same features,
// read back by the official Go client, are in tests/wasm.
package wasm

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/pulsar-producer/pulsar-producer/core"
	"github.com/pulsar-producer/pulsar-producer/internal/fakebroker"
	"github.com/pulsar-producer/pulsar-producer/internal/pb"
)

// twin is one side of a comparison: a producer and the broker it sends to.
type twin struct {
	name string
	p    *Producer
	srv  *fakebroker.Server
}

// twins creates the producer opts natively and through the module, each
// with a fake broker of its own made with bopts, so that their entry IDs
// count alike.
func twins(t *testing.T, bopts fakebroker.Options, opts ProducerOptions) []twin {
	t.Helper()
	srv := fakebroker.Start(t, bopts)
	nc, err := core.NewClient(core.ClientOptions{ServiceURL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = closeClient(nc) })
	wc, wsrv := fakeClient(t, bopts, ClientOptions{}, nil)
	return []twin{{"native", createProducer(t, nc, opts), srv}, {"wasi", createProducer(t, wc, opts), wsrv}}
}

// outcome is what a send reported.
type outcome struct {
	id  core.MessageID
	err string // "" for none
}

// sendAll sends msgs one at a time (each waits for its receipt, so that
// batches do not depend on timing) and returns their outcomes.
func sendAll(t *testing.T, p *Producer, msgs []*core.Message) []outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := make([]outcome, len(msgs))
	for i, m := range msgs {
		id, err := p.Send(ctx, m)
		out[i].id = id
		if err != nil {
			out[i].err = err.Error() // the code's name, then the message
		}
	}
	return out
}

// sameEntry reports whether two stored entries are alike in all but the
// clock: the SEND command, the metadata but its publish time, the payload.
func sameEntry(a, b fakebroker.Entry) bool {
	ma, mb := proto.Clone(a.Metadata).(*pb.MessageMetadata), proto.Clone(b.Metadata).(*pb.MessageMetadata)
	ma.PublishTime, mb.PublishTime = nil, nil
	return proto.Equal(a.Send, b.Send) && proto.Equal(ma, mb) && bytes.Equal(a.Payload, b.Payload)
}

// checkRefused checks that exactly want of the total messages were refused
// (alike by both twins: compareTwins checked that) and the rest stored.
func checkRefused(t *testing.T, outs []outcome, entries []fakebroker.Entry, total, want int) {
	t.Helper()
	refused := 0
	for i, o := range outs {
		if o.err != "" {
			refused++
			t.Logf("message %d refused as natively: %s", i, o.err)
		}
	}
	if refused != want || len(entries) != total-want {
		t.Fatalf("%d refused and %d stored; want %d refused", refused, len(entries), want)
	}
}

// compareTwins runs msgs on both sides and fails on any difference in
// outcomes or stored entries; it returns the outcomes and entries of the
// WASI side.
func compareTwins(t *testing.T, tw []twin, msgs []*core.Message) ([]outcome, []fakebroker.Entry) {
	t.Helper()
	var outs [2][]outcome
	for i, s := range tw {
		outs[i] = sendAll(t, s.p, msgs)
	}
	for i := range msgs {
		if outs[0][i] != outs[1][i] {
			t.Errorf("message %d: native %+v (%v), WASI %+v (%v)", i, outs[0][i], outs[0][i].id, outs[1][i], outs[1][i].id)
		}
	}
	native, wasi := tw[0].srv.Entries(), tw[1].srv.Entries()
	if len(native) != len(wasi) {
		t.Fatalf("native stored %d entries, WASI %d", len(native), len(wasi))
	}
	for i := range native {
		if !sameEntry(native[i], wasi[i]) {
			t.Errorf("entry %d differs:\nnative %v %v (%d payload bytes)\nWASI   %v %v (%d payload bytes)", i,
				native[i].Send, native[i].Metadata, len(native[i].Payload), wasi[i].Send, wasi[i].Metadata, len(wasi[i].Payload))
		}
	}
	return outs[1], wasi
}

// account is a Go value for a JSON schema: the runtime marshals it.
type account struct {
	Name    string `json:"name"`
	Balance int    `json:"balance"`
}

const accountDef = `{"type":"record","name":"Account","fields":[{"name":"name","type":"string"},{"name":"balance","type":"int"}]}`

// valueCase is a table row of the tests that send schema values on both
// twins: the messages, and how many of them both must refuse.
type valueCase struct {
	name    string
	schema  *core.Schema
	msgs    []*core.Message
	refused int
}

// TestSchemaValuesAsNative: values of a STRING and of KEY_VALUE schemas,
// given as Go values, JSON text or alongside a payload or key by mistake,
// are stored byte for byte as natively (payload, key, its base64 flag), and
// the refused ones fail with the engine's own code and message.
func TestSchemaValuesAsNative(t *testing.T) {
	when := time.UnixMilli(1_800_000_000_123)
	for _, c := range []valueCase{
		{"STRING", &core.Schema{Type: core.SchemaString}, []*core.Message{
			{Value: "héllo"},
			{Value: core.ValueJSON(`"from JSON text"`), Key: "k", Properties: map[string]string{"p": "1"}},
			{Value: "", EventTime: when},
			{Value: 42},
			{Value: "both", Payload: []byte("x")},
			{Value: core.ValueJSON(`{"not":"a string"}`)},
		}, 3},
		{"KEY_VALUE SEPARATED", &core.Schema{Type: core.SchemaKeyValue, KeyValueEncoding: core.KeyValueSeparated,
			Key: &core.Schema{Type: core.SchemaString}, Value: &core.Schema{Type: core.SchemaJSON, Definition: accountDef}}, []*core.Message{
			{Value: core.KeyValue{Key: "user-1", Value: account{"ann", 30}}},
			{Value: core.KeyValue{Key: "user-2", Value: account{"bob", -5}}, Properties: map[string]string{"p": "2"}},
			{Value: &core.KeyValue{Key: "user-3", Value: account{}}},
			{Value: core.KeyValue{Key: "k", Value: account{}}, Key: "mine"},
			{Value: core.KeyValue{Key: int64(7), Value: account{}}},
			{Value: core.KeyValue{Key: "no value"}},
		}, 3},
		{"KEY_VALUE SEPARATED binary key", &core.Schema{Type: core.SchemaKeyValue, KeyValueEncoding: core.KeyValueSeparated,
			Key: &core.Schema{Type: core.SchemaInt64}, Value: &core.Schema{Type: core.SchemaDouble}}, []*core.Message{
			{Value: core.KeyValue{Key: int64(7), Value: 2.5}},
			{Value: core.KeyValue{Key: int64(-1), Value: float64(0)}},
		}, 0},
		{"KEY_VALUE INLINE", &core.Schema{Type: core.SchemaKeyValue,
			Key: &core.Schema{Type: core.SchemaInt32}, Value: &core.Schema{Type: core.SchemaString}}, []*core.Message{
			{Value: core.KeyValue{Key: int32(3), Value: "three"}, Key: "routing key"},
		}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			tw := twins(t, fakebroker.Options{Record: true}, ProducerOptions{Topic: "values", DisableBatching: true, Schema: c.schema})
			outs, entries := compareTwins(t, tw, c.msgs)
			checkRefused(t, outs, entries, len(c.msgs), c.refused)
			if c.schema.KeyValueEncoding == core.KeyValueSeparated {
				for i, e := range entries {
					if !e.Metadata.GetPartitionKeyB64Encoded() || e.Metadata.PartitionKey == nil {
						t.Errorf("entry %d: key %v, base64 flag %v; a SEPARATED value's key is base64", i, e.Metadata.PartitionKey, e.Metadata.GetPartitionKeyB64Encoded())
					}
				}
			}
		})
	}
}

// TestBase64KeyAndChosenPartitionAsNative: Message.KeyBase64 and
// Message.Routed/Partition given by the caller cross as metadata; a
// partition outside the topic fails with the engine's error.
func TestBase64KeyAndChosenPartitionAsNative(t *testing.T) {
	tw := twins(t, fakebroker.Options{Partitions: 3, Record: true}, ProducerOptions{Topic: "chosen", DisableBatching: true})
	bin := base64.StdEncoding.EncodeToString([]byte{0, 1, 0xff})
	outs, entries := compareTwins(t, tw, []*core.Message{
		{Payload: []byte("a"), Key: bin, KeyBase64: true, Routed: true, Partition: 2},
		{Payload: []byte("b"), Routed: true, Partition: 0},
		{Payload: []byte("c"), Routed: true, Partition: 3},
		{Payload: []byte("d"), Routed: true, Partition: -1},
		{Payload: []byte("e"), Key: bin, KeyBase64: true},
	})
	for i, want := range []int32{2, 0, -2, -2} {
		if got := outs[i]; (want == -2) != strings.HasPrefix(got.err, "InvalidArgument: ") || want >= 0 && got.id.Partition != want {
			t.Errorf("message %d: %+v, want partition %d (-2: refused with InvalidArgument)", i, got, want)
		}
	}
	if len(entries) != 3 || entries[0].Metadata.GetPartitionKey() != bin || !entries[0].Metadata.GetPartitionKeyB64Encoded() {
		t.Fatalf("entries %v", entries)
	}
}

// TestRouterAsNative: a Go router (ProducerOptions.Router), which the
// runtime runs outside the module, decides the partition of every message,
// with a key (ignored by a custom router), batched or not; its mistakes
// fail their message as natively.
func TestRouterAsNative(t *testing.T) {
	router := func(m *core.Message, n int) int {
		if string(m.Payload) == "out of range" {
			return n
		}
		return (len(m.Payload) + 1) % n
	}
	for _, batching := range []bool{false, true} {
		t.Run(fmt.Sprintf("batching %v", batching), func(t *testing.T) {
			tw := twins(t, fakebroker.Options{Partitions: 3, Record: true},
				ProducerOptions{Topic: "routed", Router: router, DisableBatching: !batching})
			var msgs []*core.Message
			for i := range 7 {
				msgs = append(msgs, &core.Message{Payload: bytes.Repeat([]byte("x"), i), Key: "same key"})
			}
			msgs = append(msgs, &core.Message{Payload: []byte("out of range")})
			outs, _ := compareTwins(t, tw, msgs)
			for i, o := range outs[:7] {
				if o.err != "" || o.id.Partition != int32((i+1)%3) {
					t.Errorf("message %d: %+v, want partition %d", i, o, (i+1)%3)
				}
			}
			if outs[7].err == "" {
				t.Errorf("a partition out of range was accepted: %+v", outs[7])
			}
			for _, s := range tw {
				if n := s.p.NumPartitions(); n != 3 {
					t.Errorf("%s: NumPartitions %d", s.name, n)
				}
			}
		})
	}
}

// TestChunkedIDsAsNative: with chunkingEnabled and a broker limit of 64 KiB,
// messages of 200 KiB go in chunks through the module, stored as natively,
// and their IDs carry the first chunk's ledger and entry as the native
// driver's do.
func TestChunkedIDsAsNative(t *testing.T) {
	big := make([]byte, 200<<10)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range big {
		big[i] = byte(r.Uint32())
	}
	tw := twins(t, fakebroker.Options{Record: true, MaxMessageSize: 64 << 10}, ProducerOptions{Topic: "chunks", ChunkingEnabled: true})
	outs, _ := compareTwins(t, tw, []*core.Message{
		{Payload: []byte("small")},
		{Payload: big},
		{Payload: big[:150<<10], Key: "k", Properties: map[string]string{"p": "v"}},
		{Payload: []byte("small again")},
	})
	for i, chunked := range []bool{false, true, true, false} {
		id := outs[i].id
		if outs[i].err != "" || id.Chunked != chunked {
			t.Fatalf("message %d: %+v, want chunked %v", i, outs[i], chunked)
		}
		if chunked && (id.FirstChunkLedgerID != id.LedgerID || id.FirstChunkEntryID >= id.EntryID || id.BatchIndex != -1 || id.BatchSize != 0) {
			t.Fatalf("message %d: first chunk %d:%d, last %d:%d", i, id.FirstChunkLedgerID, id.FirstChunkEntryID, id.LedgerID, id.EntryID)
		}
		t.Logf("message %d: %v", i, id)
	}
}

// TestLazyStartAsNative: with lazyStartPartitionedProducers the module
// registers only the partitions that get messages: none at creation, then
// the one a router picks.
func TestLazyStartAsNative(t *testing.T) {
	tw := twins(t, fakebroker.Options{Partitions: 4, Record: true},
		ProducerOptions{Topic: "lazy", LazyStartPartitionedProducers: true, DisableBatching: true,
			Router: func(*core.Message, int) int { return 2 }})
	for _, s := range tw {
		if st := s.srv.Stats(); st.Registrations != 0 || s.p.NumPartitions() != 4 {
			t.Fatalf("%s: %d registrations before any message, %d partitions; want 0 and 4", s.name, st.Registrations, s.p.NumPartitions())
		}
	}
	outs, _ := compareTwins(t, tw, []*core.Message{{Payload: []byte("a")}, {Payload: []byte("b")}, {Payload: []byte("c")}})
	for i, o := range outs {
		if o.err != "" || o.id.Partition != 2 {
			t.Errorf("message %d: %+v, want partition 2", i, o)
		}
	}
	for _, s := range tw {
		if st := s.srv.Stats(); st.Registrations != 1 {
			t.Errorf("%s: %d registrations after sending to one partition, want 1", s.name, st.Registrations)
		}
	}
}
