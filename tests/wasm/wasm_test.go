// Package wasm checks the WASI build end to end: the producer engine runs as
// a wasm module under the wazero host (package .../wasm), publishes to the
// real broker (tests/broker), and an independent consumer, the official Go
// client (pulsar-client-go), reads back what was stored.
//
// How this works: TestMain builds the module from ../../wasm/guest (a no-op
// when it is up to date). Each test publishes with the wasm host, keeping
// every message ID its callback reports, then consumes the topic from the
// earliest position with the Go client and compares payload, key, ordering
// key, properties, event time and message ID, message by message.
package wasm

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/pulsar-producer/pulsar-producer/core"
	"github.com/pulsar-producer/pulsar-producer/core/engine"
	"github.com/pulsar-producer/pulsar-producer/internal/wasmtest"
	ppwasm "github.com/pulsar-producer/pulsar-producer/wasm"

	"github.com/pulsar-producer/pulsar-producer/tests/broker"
	"github.com/pulsar-producer/pulsar-producer/tests/verify"
)

func TestMain(m *testing.M) {
	path, err := wasmtest.BuildModule()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv(ppwasm.ModuleEnv, path)
	os.Exit(m.Run())
}

// sent is one message as published, with the ID its callback reported.
type sent struct {
	msg *core.Message
	id  core.MessageID
	err error
}

// publish sends msgs in order on p with SendAsync, flushes, and returns
// what each callback reported.
func publish(t *testing.T, p *ppwasm.Producer, msgs []*core.Message) []sent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := make([]sent, len(msgs))
	var wg sync.WaitGroup
	for i, m := range msgs {
		out[i].msg = m
		wg.Add(1)
		p.SendAsync(ctx, m, func(id core.MessageID, err error) {
			out[i].id, out[i].err = id, err
			wg.Done()
		})
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, s := range out {
		if s.err != nil {
			t.Fatalf("message %d: %v", i, s.err)
		}
	}
	return out
}

// compare checks that the consumed messages are exactly the sent ones.
func compare(t *testing.T, want []sent, got []pulsar.Message) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("consumed %d messages, sent %d", len(got), len(want))
	}
	for i, g := range got {
		w := want[i]
		if !bytes.Equal(g.Payload(), w.msg.Payload) {
			t.Fatalf("message %d: payload %q, sent %q", i, g.Payload(), w.msg.Payload)
		}
		if g.Key() != w.msg.Key {
			t.Errorf("message %d: key %q, sent %q", i, g.Key(), w.msg.Key)
		}
		if g.OrderingKey() != string(w.msg.OrderingKey) {
			t.Errorf("message %d: ordering key %q, sent %q", i, g.OrderingKey(), w.msg.OrderingKey)
		}
		if props := g.Properties(); !(len(props) == 0 && len(w.msg.Properties) == 0) && !maps.Equal(props, w.msg.Properties) {
			t.Errorf("message %d: properties %v, sent %v", i, props, w.msg.Properties)
		}
		if !w.msg.EventTime.IsZero() && !g.EventTime().Equal(w.msg.EventTime.Truncate(time.Millisecond)) {
			t.Errorf("message %d: event time %v, sent %v", i, g.EventTime(), w.msg.EventTime)
		}
		// The Go client shows "no event time" as the Unix epoch.
		if w.msg.EventTime.IsZero() && !g.EventTime().IsZero() && g.EventTime().UnixMilli() != 0 {
			t.Errorf("message %d: event time %v, sent none", i, g.EventTime())
		}
		if gid, wid := verify.IDOf(g.ID()), verify.GoView(w.id); gid != wid {
			t.Errorf("message %d: consumed ID %+v; the send reported %#v (%+v as the Go client shows it)", i, gid, w.id, wid)
		}
	}
}

func newClient(t *testing.T) *ppwasm.Client {
	t.Helper()
	broker.Require(t)
	c, err := ppwasm.NewClient(ppwasm.ClientOptions{ServiceURL: broker.ServiceURL()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func newProducer(t *testing.T, c *ppwasm.Client, opts ppwasm.ProducerOptions) *ppwasm.Producer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := c.CreateProducer(ctx, opts)
	if err != nil {
		t.Fatalf("CreateProducer(%s): %v", opts.Topic, err)
	}
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p
}

// messages returns n messages with varied metadata: every third keyed,
// every fourth with properties, every fifth with an event time, every
// seventh with an ordering key.
func messages(n int, prefix string) []*core.Message {
	base := time.Date(2026, 11, 27, 12, 0, 0, 123_456_789, time.UTC)
	out := make([]*core.Message, n)
	for i := range out {
		m := &core.Message{Payload: fmt.Appendf(nil, "%s-%d", prefix, i)}
		if i%3 == 0 {
			m.Key = fmt.Sprintf("key-%d", i%11)
		}
		if i%4 == 0 {
			m.Properties = map[string]string{"i": fmt.Sprint(i), "kind": "wasm"}
		}
		if i%5 == 0 {
			m.EventTime = base.Add(time.Duration(i) * time.Second)
		}
		if i%7 == 0 {
			m.OrderingKey = fmt.Appendf(nil, "ok-%d", i)
		}
		out[i] = m
	}
	return out
}

func TestBatchedMessagesAsConsumed(t *testing.T) {
	c := newClient(t)
	topic := broker.NewTopic(t, "wasm-batched")
	p := newProducer(t, c, ppwasm.ProducerOptions{Topic: topic, BatchingMaxMessages: 7, BatchingMaxPublishDelay: 50 * time.Millisecond})
	want := publish(t, p, messages(50, "b"))
	batched := 0
	for _, s := range want {
		if s.id.BatchSize > 1 {
			batched++
		}
	}
	if batched == 0 {
		t.Fatal("no message went out in a batch of more than one")
	}
	compare(t, want, verify.Consume(t, topic, len(want), verify.Options{}))
}

func TestNonBatchedMessagesAsConsumed(t *testing.T) {
	c := newClient(t)
	topic := broker.NewTopic(t, "wasm-single")
	p := newProducer(t, c, ppwasm.ProducerOptions{Topic: topic, DisableBatching: true})
	want := publish(t, p, messages(12, "s"))
	for i, s := range want {
		if s.id.BatchIndex != -1 || s.id.BatchSize != 0 || s.id.Partition != -1 {
			t.Fatalf("message %d: non-batched ID %#v", i, s.id)
		}
	}
	compare(t, want, verify.Consume(t, topic, len(want), verify.Options{}))
}

func TestSyncSendAsConsumed(t *testing.T) {
	c := newClient(t)
	topic := broker.NewTopic(t, "wasm-sync")
	p := newProducer(t, c, ppwasm.ProducerOptions{Topic: topic})
	var want []sent
	for _, m := range messages(5, "sync") {
		id, err := p.Send(context.Background(), m)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, sent{msg: m, id: id})
	}
	compare(t, want, verify.Consume(t, topic, len(want), verify.Options{}))
}

func TestPartitionedTopicAsConsumed(t *testing.T) {
	c := newClient(t)
	topic := broker.NewTopic(t, "wasm-parts")
	broker.CreatePartitionedTopic(t, topic, 3)
	p := newProducer(t, c, ppwasm.ProducerOptions{Topic: topic, BatchingMaxMessages: 4})
	if p.NumPartitions() != 3 {
		t.Fatalf("NumPartitions %d, want 3", p.NumPartitions())
	}
	msgs := messages(30, "p")
	for i, m := range msgs {
		m.Key = fmt.Sprintf("k%d", i%6) // keyed: the module picks the partition by hash
	}
	want := publish(t, p, msgs)
	// A partitioned topic is consumed partition by partition; order is
	// kept only within one, so match by payload.
	got := verify.Consume(t, topic, len(want), verify.Options{})
	byPayload := map[string]pulsar.Message{}
	for _, g := range got {
		byPayload[string(g.Payload())] = g
	}
	ordered := make([]pulsar.Message, 0, len(want))
	for _, w := range want {
		g, ok := byPayload[string(w.msg.Payload)]
		if !ok {
			t.Fatalf("%q was not consumed", w.msg.Payload)
		}
		ordered = append(ordered, g)
	}
	compare(t, want, ordered)
	for i, w := range want {
		if w.id.Partition < 0 || w.id.Partition > 2 {
			t.Fatalf("message %d: partition %d", i, w.id.Partition)
		}
	}
}

func TestFailedSendsKeepTheClientUsable(t *testing.T) {
	c := newClient(t)
	topic := broker.NewTopic(t, "wasm-errors")
	p := newProducer(t, c, ppwasm.ProducerOptions{Topic: topic})
	ctx := context.Background()
	for _, bad := range []*core.Message{
		{Payload: make([]byte, 6<<20)},
		{Payload: []byte("x"), NullValue: true},
		{Payload: []byte("x"), Properties: map[string]string{"": "empty key"}},
		{Payload: []byte("x"), DeliverAfter: -time.Second},
	} {
		if _, err := p.Send(ctx, bad); err == nil {
			t.Fatal("a bad message was accepted")
		} else if code := engine.CodeOf(err); code != engine.CodeMessageTooBig && code != engine.CodeInvalidMessage {
			t.Fatalf("bad message: %v", err)
		}
	}
	want := publish(t, p, messages(3, "ok"))
	compare(t, want, verify.Consume(t, topic, len(want), verify.Options{}))
}
