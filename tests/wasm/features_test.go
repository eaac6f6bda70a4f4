// Message features that cross the module boundary, through the WASI host
// against the real broker, read back by the official Go client: a 20 MiB
// message in chunks (and its ID, as the native driver reports it), values
// encoded by a schema (STRING; KEY_VALUE SEPARATED with Go values, whose
// key crosses as base64), a Go router on a partitioned topic, and a topic
// that grows while a lazily started producer routes to it. Where the
// native driver is the reference, the same sends go through both, each to
// a topic of its own, and what the Go client reads of each must agree.
package wasm

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/pulsar-producer/pulsar-producer/core"
	ppwasm "github.com/pulsar-producer/pulsar-producer/wasm"

	"github.com/pulsar-producer/pulsar-producer/tests/broker"
	"github.com/pulsar-producer/pulsar-producer/tests/verify"
)

// nativeClient is a client of the native driver, the reference.
func nativeClient(t *testing.T) *core.Client {
	t.Helper()
	broker.Require(t)
	c, err := core.NewClient(core.ClientOptions{ServiceURL: broker.ServiceURL()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// sides are the two clients compared: the WASI host first.
func sides(t *testing.T) []struct {
	name string
	c    *core.Client
} {
	return []struct {
		name string
		c    *core.Client
	}{{"wasi", newClient(t)}, {"native", nativeClient(t)}}
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// sendEach sends msgs one at a time on p and returns their IDs.
func sendEach(t *testing.T, p *core.Producer, msgs []*core.Message) []core.MessageID {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ids := make([]core.MessageID, len(msgs))
	for i, m := range msgs {
		id, err := p.Send(ctx, m)
		if err != nil {
			t.Fatalf("message %d (%d bytes): %v", i, len(m.Payload), err)
		}
		ids[i] = id
	}
	return ids
}

// relative is id with its ledgers counted from base, so that IDs on two
// fresh topics compare.
func relative(id core.MessageID, base int64) core.MessageID {
	id.LedgerID -= base
	if id.Chunked {
		id.FirstChunkLedgerID -= base
	}
	return id
}

// TestChunkedMessageAsConsumed: a 20 MiB message (payload only, the
// ppw_send path) and a 6 MiB one with a key and properties (ppw_send_msg)
// go in chunks through the module; the Go client reads both back whole,
// where the module's IDs say (first and last chunk), and the IDs have the
// shape the native driver's have for the same sends on a topic of its own.
func TestChunkedMessageAsConsumed(t *testing.T) {
	big, mid := randomBytes(20<<20, 1), randomBytes(6<<20, 2)
	msgs := []*core.Message{
		{Payload: []byte("small-before")},
		{Payload: big},
		{Payload: mid, Key: "k", Properties: map[string]string{"part": "mid"}},
		{Payload: []byte("small-after"), Key: "k"},
	}
	var topics []string
	var ids [][]core.MessageID
	for _, s := range sides(t) {
		topic := broker.NewTopic(t, s.name+"-chunks")
		p := newProducer(t, s.c, ppwasm.ProducerOptions{Topic: topic, ChunkingEnabled: true, CompressionType: core.CompressionLZ4})
		topics, ids = append(topics, topic), append(ids, sendEach(t, p, msgs))
	}
	wasi, native := ids[0], ids[1]
	for i := range msgs {
		w, n := relative(wasi[i], wasi[0].LedgerID), relative(native[i], native[0].LedgerID)
		if w != n {
			t.Errorf("message %d: WASI ID %v (%+v), native %v (%+v), ledgers counted from the topic's first", i, wasi[i], w, native[i], n)
		}
		if chunked := len(msgs[i].Payload) > 5<<20; wasi[i].Chunked != chunked {
			t.Fatalf("message %d (%d bytes): ID %v, chunked %v", i, len(msgs[i].Payload), wasi[i], wasi[i].Chunked)
		}
	}
	got := verify.Consume(t, topics[0], len(msgs), verify.Options{Timeout: 90 * time.Second})
	for i, g := range got {
		want := wasi[i]
		if !bytes.Equal(g.Payload(), msgs[i].Payload) || g.Key() != msgs[i].Key {
			t.Fatalf("message %d: the Go client read %d bytes, key %q; we sent %d bytes, key %q", i, len(g.Payload()), g.Key(), len(msgs[i].Payload), msgs[i].Key)
		}
		if gid := verify.IDOf(g.ID()); gid.Ledger != want.LedgerID || gid.Entry != want.EntryID {
			t.Fatalf("message %d: the Go client found it at %d:%d, the module said %v", i, gid.Ledger, gid.Entry, want)
		}
		if want.Chunked {
			// The Go client prints a chunked ID as first chunk;last chunk.
			if first := fmt.Sprintf("%d:%d:", want.FirstChunkLedgerID, want.FirstChunkEntryID); !strings.HasPrefix(g.ID().String(), first) {
				t.Fatalf("message %d: the Go client's ID %s, the module's %v", i, g.ID(), want)
			}
			if _, err := pulsar.DeserializeMessageID(want.Serialize()); err != nil {
				t.Fatalf("the Go client refuses the serialized chunk ID %v: %v", want, err)
			}
		}
		t.Logf("message %d: %d bytes at %v (Go client: %s)", i, len(msgs[i].Payload), want, g.ID())
	}
}

// account is a Go value of a JSON schema.
type account struct {
	Name    string `json:"name"`
	Balance int    `json:"balance"`
}

const accountDef = `{"type":"record","name":"Account","fields":[{"name":"name","type":"string"},{"name":"balance","type":"int"}]}`

// TestSchemaValuesAsConsumed: a STRING producer and a KEY_VALUE SEPARATED
// one (STRING key, JSON value from Go structs) through the module register
// their schema, and the Go client reads the values the native driver's
// producer writes: STRING values decoded by the Go client's own string
// schema, KEY_VALUE payloads as JSON with the key in base64; payload, key
// and schema version equal to the native producer's on a topic of its own.
func TestSchemaValuesAsConsumed(t *testing.T) {
	long := strings.Repeat("long ", 1000)
	for _, c := range []struct {
		name     string
		schema   *core.Schema
		regType  string
		msgs     []*core.Message
		checkOne func(t *testing.T, i int, g pulsar.Message)
	}{
		{"STRING", &core.Schema{Type: core.SchemaString}, "STRING", []*core.Message{
			{Value: "héllo"},
			{Value: core.ValueJSON(`"from JSON text"`), Key: "k"},
			{Value: long},
		}, func(t *testing.T, i int, g pulsar.Message) {
			if got, want := string(g.Payload()), []string{"héllo", "from JSON text", long}[i]; got != want {
				t.Errorf("STRING value %d: %q, want %q", i, got, want)
			}
		}},
		{"KEY_VALUE SEPARATED", &core.Schema{Type: core.SchemaKeyValue, KeyValueEncoding: core.KeyValueSeparated,
			Key: &core.Schema{Type: core.SchemaString}, Value: &core.Schema{Type: core.SchemaJSON, Definition: accountDef}}, "KEY_VALUE", []*core.Message{
			{Value: core.KeyValue{Key: "user-1", Value: account{"ann", 30}}},
			{Value: core.KeyValue{Key: "user-2", Value: account{"bob", -5}}, Properties: map[string]string{"p": "2"}},
		}, func(t *testing.T, i int, g pulsar.Message) {
			want := []account{{"ann", 30}, {"bob", -5}}[i]
			var got account
			if err := json.Unmarshal(g.Payload(), &got); err != nil || got != want {
				t.Errorf("KEY_VALUE value %d: %q (%v), want %+v", i, g.Payload(), err, want)
			}
			if k, err := base64.StdEncoding.DecodeString(g.Key()); err != nil || string(k) != fmt.Sprintf("user-%d", i+1) {
				t.Errorf("KEY_VALUE key %d: %q (%v), want base64 of user-%d", i, g.Key(), err, i+1)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var read [][]pulsar.Message
			var topics []string
			for _, s := range sides(t) {
				topic := broker.NewTopic(t, s.name+"-schema")
				p := newProducer(t, s.c, ppwasm.ProducerOptions{Topic: topic, Schema: c.schema})
				sendEach(t, p, c.msgs)
				if err := p.Close(context.Background()); err != nil {
					t.Fatal(err)
				}
				reg := broker.CallJSON(t, http.MethodGet, schemaPath(t, topic)+"/schema", nil)
				if reg["type"] != c.regType {
					t.Errorf("%s: the registry has type %v, want %s", s.name, reg["type"], c.regType)
				}
				read = append(read, verify.Consume(t, topic, len(c.msgs), verify.Options{}))
				topics = append(topics, topic)
			}
			for i, g := range read[0] {
				n := read[1][i]
				c.checkOne(t, i, g)
				if !bytes.Equal(g.Payload(), n.Payload()) || g.Key() != n.Key() || !bytes.Equal(g.SchemaVersion(), n.SchemaVersion()) {
					t.Errorf("message %d: WASI stored %q key %q schema version %x; native %q key %q version %x",
						i, g.Payload(), g.Key(), g.SchemaVersion(), n.Payload(), n.Key(), n.SchemaVersion())
				}
				if len(g.SchemaVersion()) == 0 {
					t.Errorf("message %d carries no schema version", i)
				}
			}
			if c.regType == "STRING" {
				readStrings(t, topics[0], []string{"héllo", "from JSON text", long})
			}
		})
	}
}

// readStrings reads topic with the Go client's own string schema, which
// decodes each value, and compares them with want.
func readStrings(t *testing.T, topic string, want []string) {
	t.Helper()
	consumer, err := verify.NewClient(t).Subscribe(pulsar.ConsumerOptions{
		Topic: topic, SubscriptionName: "typed", Schema: pulsar.NewStringSchema(nil),
		SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest,
	})
	if err != nil {
		t.Fatalf("subscribing with the Go client's string schema: %v", err)
	}
	defer consumer.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, w := range want {
		g, err := consumer.Receive(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var v *string // the Go client's StringSchema decodes into a *string
		if err := g.GetSchemaValue(&v); err != nil || v == nil || *v != w {
			t.Errorf("value %d through the Go client's string schema: %v (%v), want %q", i, v, err, w)
		}
	}
}

// schemaPath is the admin path of topic's schema resources.
func schemaPath(t *testing.T, topic string) string {
	t.Helper()
	p, err := broker.TopicPath(topic)
	if err != nil {
		t.Fatal(err)
	}
	return "/admin/v2/schemas/" + strings.TrimPrefix(p, "persistent/")
}

// TestRouterAsConsumed: a Go router (ProducerOptions.Router), run by the
// runtime outside the module, picks the partition of every message of a
// 3-partition topic, keys notwithstanding; the Go client finds each message
// on the partition chosen, at the ID the module reported.
func TestRouterAsConsumed(t *testing.T) {
	c := newClient(t)
	topic := broker.NewTopic(t, "wasm-routed")
	broker.CreatePartitionedTopic(t, topic, 3)
	choose := func(i int) int { return (2 * i) % 3 }
	p := newProducer(t, c, ppwasm.ProducerOptions{Topic: topic, BatchingMaxPublishDelay: 5 * time.Millisecond,
		Router: func(m *core.Message, n int) int {
			var i int
			fmt.Sscanf(string(m.Payload), "routed-%d", &i)
			return choose(i) % n
		}})
	var msgs []*core.Message
	for i := range 30 {
		msgs = append(msgs, &core.Message{Payload: fmt.Appendf(nil, "routed-%d", i), Key: "one key for all"})
	}
	sent := publish(t, p, msgs)
	byPayload := map[string]core.MessageID{}
	for i, s := range sent {
		if s.id.Partition != int32(choose(i)) {
			t.Errorf("message %d: partition %d, the router chose %d", i, s.id.Partition, choose(i))
		}
		byPayload[string(s.msg.Payload)] = s.id
	}
	for _, g := range verify.Consume(t, topic, len(msgs), verify.Options{}) {
		want, ok := byPayload[string(g.Payload())]
		if !ok || verify.IDOf(g.ID()) != verify.GoView(want) || !strings.HasSuffix(g.Topic(), fmt.Sprintf("-partition-%d", want.Partition)) {
			t.Errorf("the Go client read %q at %+v on %s; the module said %v", g.Payload(), verify.IDOf(g.ID()), g.Topic(), want)
		}
		delete(byPayload, string(g.Payload()))
	}
	if len(byPayload) != 0 {
		t.Errorf("not read back: %v", byPayload)
	}
}

// TestGrowingTopicThroughTheModule: a lazily started producer
// (lazyStartPartitionedProducers) with a Go router that always picks the
// last partition, on a 2-partition topic that an admin grows to 4 while it
// publishes (partitionsAutoDiscoveryInterval 1 s): only the partitions
// used get a publisher, the producer and the router see the new count
// (ppw_partitions), and the Go client reads every message on the
// partition chosen.
func TestGrowingTopicThroughTheModule(t *testing.T) {
	c := newClient(t)
	topic := broker.NewTopic(t, "wasm-grow")
	broker.CreatePartitionedTopic(t, topic, 2)
	var seen atomic.Int32
	p := newProducer(t, c, ppwasm.ProducerOptions{Topic: topic, LazyStartPartitionedProducers: true,
		PartitionsAutoDiscoveryInterval: time.Second, DisableBatching: true,
		Router: func(_ *core.Message, n int) int { seen.Store(int32(n)); return n - 1 }})
	publishers := func(i int) int {
		pubs, _ := broker.GetStats(t, fmt.Sprintf("%s-partition-%d", topic, i))["publishers"].([]any)
		return len(pubs)
	}
	if n := p.NumPartitions(); n != 2 || publishers(0)+publishers(1) != 0 {
		t.Fatalf("%d partitions, %d and %d publishers before any message; want 2, 0 and 0", n, publishers(0), publishers(1))
	}
	ctx := context.Background()
	var ids []core.MessageID
	send := func() {
		id, err := p.Send(ctx, &core.Message{Payload: fmt.Appendf(nil, "grow-%d", len(ids))})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	for range 3 {
		send()
	}
	broker.UpdatePartitions(t, topic, 4)
	deadline := time.Now().Add(time.Minute)
	for p.NumPartitions() != 4 {
		if time.Now().After(deadline) {
			t.Fatalf("the producer still sees %d partitions a minute after the topic grew", p.NumPartitions())
		}
		time.Sleep(50 * time.Millisecond)
	}
	for range 3 {
		send()
	}
	if seen.Load() != 4 {
		t.Errorf("the router last saw %d partitions, want 4", seen.Load())
	}
	for i, want := range []int32{1, 1, 1, 3, 3, 3} {
		if ids[i].Partition != want {
			t.Errorf("message %d went to partition %d, want %d", i, ids[i].Partition, want)
		}
	}
	for i, want := range []int{0, 1, 0, 1} {
		if n := publishers(i); n != want {
			t.Errorf("partition %d has %d publishers, want %d", i, n, want)
		}
	}
	byPayload := map[string]core.MessageID{}
	for i, id := range ids {
		byPayload[fmt.Sprintf("grow-%d", i)] = id
	}
	for _, g := range verify.Consume(t, topic, len(ids), verify.Options{}) {
		want, ok := byPayload[string(g.Payload())]
		if !ok || verify.IDOf(g.ID()) != verify.GoView(want) || !strings.HasSuffix(g.Topic(), fmt.Sprintf("-partition-%d", want.Partition)) {
			t.Errorf("the Go client read %q at %+v on %s; the module said %v", g.Payload(), verify.IDOf(g.ID()), g.Topic(), want)
		}
	}
}
