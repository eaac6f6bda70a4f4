// Tests of the wazero host's own behaviour against the real broker
// (tests/broker): receipts, ordering, errors, and recovery from bad input.
// What the broker stored is checked with an independent consumer in
// wasm_test.go. Behaviour that needs no real broker (a failing module, logs,
// stats, empty keys) is tested at the root, in package wasm, against a fake
// broker.
package wasm

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pulsar-producer/pulsar-producer/core"
	"github.com/pulsar-producer/pulsar-producer/core/engine"
	ppwasm "github.com/pulsar-producer/pulsar-producer/wasm"

	"github.com/pulsar-producer/pulsar-producer/tests/broker"
)

func newTestClient(t *testing.T, opts ppwasm.ClientOptions) *ppwasm.Client {
	t.Helper()
	broker.Require(t)
	if opts.ServiceURL == "" {
		opts.ServiceURL = broker.ServiceURL()
	}
	c, err := ppwasm.NewClient(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func newTestProducer(t *testing.T, c *ppwasm.Client, opts ppwasm.ProducerOptions) *ppwasm.Producer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := c.CreateProducer(ctx, opts)
	if err != nil {
		t.Fatalf("CreateProducer(%s): %v", opts.Topic, err)
	}
	return p
}

func TestSendAndReceipts(t *testing.T) {
	c := newTestClient(t, ppwasm.ClientOptions{})
	topic := broker.NewTopic(t, "wasm-host")
	// Batches close by count or Flush only, never by the timer, so every
	// ID below is batched however slow the machine (a batch of one would go
	// out as a plain message).
	p := newTestProducer(t, c, ppwasm.ProducerOptions{Topic: topic, BatchingMaxMessages: 10, BatchingMaxPublishDelay: time.Hour})
	if p.Name() == "" || p.NumPartitions() != 0 {
		t.Fatalf("producer name %q, partitions %d", p.Name(), p.NumPartitions())
	}
	ctx := context.Background()
	first, err := p.Send(ctx, &core.Message{Payload: []byte("first"), Key: "k", Properties: map[string]string{"a": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var ids []core.MessageID
	const n = 95
	for i := range n {
		p.SendAsync(ctx, &core.Message{Payload: fmt.Appendf(nil, "m%d", i)}, func(id core.MessageID, err error) {
			if err != nil {
				t.Errorf("message %d: %v", i, err)
			}
			mu.Lock()
			ids = append(ids, id)
			mu.Unlock()
		})
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(ids) != n {
		t.Fatalf("%d callbacks after Flush, want %d", len(ids), n)
	}
	prev := first
	for i, id := range ids {
		if id.LedgerID < prev.LedgerID || (id.LedgerID == prev.LedgerID && id.EntryID < prev.EntryID) ||
			(id.EntryID == prev.EntryID && id.BatchIndex <= prev.BatchIndex) {
			t.Fatalf("callback %d: %v does not follow %v", i, id, prev)
		}
		if id.BatchSize <= 0 || id.BatchIndex < 0 || id.BatchIndex >= id.BatchSize {
			t.Fatalf("callback %d: batched ID %#v", i, id)
		}
		prev = id
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Send(ctx, &core.Message{Payload: []byte("late")}); engine.CodeOf(err) != engine.CodeAlreadyClosed {
		t.Fatalf("send after close: %v", err)
	}
}

func TestBadOptionsLeaveTheClientUsable(t *testing.T) {
	if _, err := ppwasm.NewClient(ppwasm.ClientOptions{ServiceURL: "pulsar://"}); engine.CodeOf(err) != engine.CodeInvalidURL {
		t.Fatalf("bad URL: %v", err)
	}
	if _, err := ppwasm.NewClient(ppwasm.ClientOptions{ServiceURL: broker.ServiceURL(), KeepAliveInterval: time.Microsecond}); engine.CodeOf(err) != engine.CodeInvalidConfiguration {
		t.Fatalf("sub-millisecond keepalive: %v", err)
	}
	c := newTestClient(t, ppwasm.ClientOptions{})
	topic := broker.NewTopic(t, "wasm-badopts")
	ctx := context.Background()
	for _, o := range []ppwasm.ProducerOptions{
		{Topic: topic, BatchingMaxMessages: -1},
		{Topic: topic, CompressionType: 42},
		{Topic: topic, Properties: map[string]string{"": "x"}},
		{Topic: topic, SendTimeout: time.Microsecond},
		{Topic: "persistent://no/such/namespace/or/topic/x"},
		{Topic: "persistent://public/no-such-namespace/x"}, // refused by the broker
	} {
		if _, err := c.CreateProducer(ctx, o); err == nil {
			t.Fatalf("CreateProducer(%s) succeeded", o.Topic)
		} else {
			t.Logf("refused: %v", err)
		}
	}
	p := newTestProducer(t, c, ppwasm.ProducerOptions{Topic: topic})
	if _, err := p.Send(ctx, &core.Message{Payload: []byte("still fine")}); err != nil {
		t.Fatal(err)
	}
}

func TestOversizeMessage(t *testing.T) {
	c := newTestClient(t, ppwasm.ClientOptions{})
	p := newTestProducer(t, c, ppwasm.ProducerOptions{Topic: broker.NewTopic(t, "wasm-big")})
	ctx := context.Background()
	big := make([]byte, 6<<20)
	if _, err := p.Send(ctx, &core.Message{Payload: big}); engine.CodeOf(err) != engine.CodeMessageTooBig {
		t.Fatalf("6 MiB message: %v, want MessageTooBig", err)
	} else {
		t.Log(err)
	}
	if _, err := p.Send(ctx, &core.Message{Payload: []byte("small")}); err != nil {
		t.Fatalf("a small message after the big one: %v", err)
	}
}

// spyEngine wraps the module's Engine for tests: it can corrupt the next
// bytes read from the broker, and it counts the events that tell what
// happened.
type spyEngine struct {
	*ppwasm.Engine
	garble    atomic.Bool // the next Receive gets garbage instead
	protoErrs atomic.Int32
	connects  atomic.Int32
}

// A frame header announcing 16 bytes, then junk: a bad command.
var garbage = append([]byte{0, 0, 0, 16, 0, 0, 0, 12}, bytes.Repeat([]byte{0xee}, 12)...)

func (s *spyEngine) Receive(id engine.ConnID, p []byte, now time.Time) {
	if s.garble.CompareAndSwap(true, false) {
		p = garbage
	}
	s.Engine.Receive(id, p, now)
}

func (s *spyEngine) AppendEvents(dst []engine.Event) []engine.Event {
	n := len(dst)
	dst = s.Engine.AppendEvents(dst)
	for _, ev := range dst[n:] {
		switch {
		case ev.Kind == engine.EventConnect:
			s.connects.Add(1)
		case ev.Kind == engine.EventConnClosed && engine.CodeOf(ev.Err) == engine.CodeProtocolError:
			s.protoErrs.Add(1)
		}
	}
	return dst
}

func newSpyClient(t *testing.T, opts ppwasm.ClientOptions) (*ppwasm.Client, *spyEngine) {
	t.Helper()
	broker.Require(t)
	opts.ServiceURL = broker.ServiceURL()
	m, err := ppwasm.DefaultModule()
	if err != nil {
		t.Fatal(err)
	}
	eng, err := m.NewEngine(opts)
	if err != nil {
		t.Fatal(err)
	}
	spy := &spyEngine{Engine: eng}
	c, err := core.NewClientWithEngine(spy)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, spy
}

// TestGarbageFromTheBrokerReconnects feeds bytes that break the protocol
// into the live connection, as if the broker had sent them: the module must
// close that connection cleanly, the runtime must drop the socket, and the
// producer must reconnect and go on sending.
func TestGarbageFromTheBrokerReconnects(t *testing.T) {
	c, spy := newSpyClient(t, ppwasm.ClientOptions{InitialBackoff: 10 * time.Millisecond})
	p := newTestProducer(t, c, ppwasm.ProducerOptions{Topic: broker.NewTopic(t, "wasm-garbage")})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	before, err := p.Send(ctx, &core.Message{Payload: []byte("before")})
	if err != nil {
		t.Fatal(err)
	}
	connects := spy.connects.Load()
	spy.garble.Store(true) // the receipt of "during" arrives as garbage
	during, err := p.Send(ctx, &core.Message{Payload: []byte("during")})
	if err != nil {
		t.Fatalf("send while the connection broke: %v", err)
	}
	after, err := p.Send(ctx, &core.Message{Payload: []byte("after")})
	if err != nil {
		t.Fatalf("send after the garbage: %v", err)
	}
	if spy.garble.Load() || spy.protoErrs.Load() == 0 {
		t.Fatalf("the garbage did not close the connection (pending %v, protocol errors %d)", spy.garble.Load(), spy.protoErrs.Load())
	}
	if spy.connects.Load() == connects {
		t.Fatal("no new connection after the garbage")
	}
	for _, id := range []core.MessageID{during, after} {
		if id.LedgerID == before.LedgerID && id.EntryID <= before.EntryID {
			t.Fatalf("%v is not stored after %v", id, before)
		}
	}
}

func TestSendAfterClientClose(t *testing.T) {
	c := newTestClient(t, ppwasm.ClientOptions{})
	p := newTestProducer(t, c, ppwasm.ProducerOptions{Topic: broker.NewTopic(t, "wasm-close")})
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Send(context.Background(), &core.Message{Payload: []byte("x")}); engine.CodeOf(err) != engine.CodeAlreadyClosed {
		t.Fatalf("send after client close: %v", err)
	}
	if err := c.Close(); engine.CodeOf(err) != engine.CodeAlreadyClosed {
		t.Fatalf("second close: %v", err)
	}
}
