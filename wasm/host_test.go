// Tests of the wazero host against the real broker (tests/broker/broker.sh;
// a missing broker fails the test). What the broker stored is checked with
// an independent consumer in the tests module (tests/wasm); these tests
// check the host's own behaviour: receipts, ordering, errors, and recovery
// from bad input.
package wasm

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pulsar-producer/pulsar-producer/core/engine"
	"github.com/pulsar-producer/pulsar-producer/wasm/wasmtest"
)

func newTestClient(t *testing.T, opts ClientOptions) *Client {
	t.Helper()
	wasmtest.RequireBroker(t)
	if opts.ServiceURL == "" {
		opts.ServiceURL = wasmtest.ServiceURL()
	}
	c, err := NewClient(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func newTestProducer(t *testing.T, c *Client, opts ProducerOptions) *Producer {
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
	c := newTestClient(t, ClientOptions{})
	topic := wasmtest.Topic(t, "wasm-host")
	p := newTestProducer(t, c, ProducerOptions{Topic: topic, BatchingMaxMessages: 10})
	if p.Name() == "" || p.NumPartitions() != 0 {
		t.Fatalf("producer name %q, partitions %d", p.Name(), p.NumPartitions())
	}
	ctx := context.Background()
	first, err := p.Send(ctx, &Message{Payload: []byte("first"), Key: "k", Properties: map[string]string{"a": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var ids []MessageID
	const n = 95
	for i := range n {
		p.SendAsync(ctx, &Message{Payload: fmt.Appendf(nil, "m%d", i)}, func(id MessageID, err error) {
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
	if _, err := p.Send(ctx, &Message{Payload: []byte("late")}); engine.CodeOf(err) != engine.CodeAlreadyClosed {
		t.Fatalf("send after close: %v", err)
	}
}

func TestBadOptionsLeaveTheClientUsable(t *testing.T) {
	if _, err := NewClient(ClientOptions{ServiceURL: "pulsar://"}); engine.CodeOf(err) != engine.CodeInvalidURL {
		t.Fatalf("bad URL: %v", err)
	}
	if _, err := NewClient(ClientOptions{ServiceURL: wasmtest.ServiceURL(), KeepAliveInterval: time.Microsecond}); engine.CodeOf(err) != engine.CodeInvalidConfiguration {
		t.Fatalf("sub-millisecond keepalive: %v", err)
	}
	c := newTestClient(t, ClientOptions{})
	topic := wasmtest.Topic(t, "wasm-badopts")
	ctx := context.Background()
	for _, o := range []ProducerOptions{
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
	p := newTestProducer(t, c, ProducerOptions{Topic: topic})
	if _, err := p.Send(ctx, &Message{Payload: []byte("still fine")}); err != nil {
		t.Fatal(err)
	}
}

func TestOversizeMessage(t *testing.T) {
	c := newTestClient(t, ClientOptions{})
	p := newTestProducer(t, c, ProducerOptions{Topic: wasmtest.Topic(t, "wasm-big")})
	ctx := context.Background()
	big := make([]byte, 6<<20)
	if _, err := p.Send(ctx, &Message{Payload: big}); engine.CodeOf(err) != engine.CodeMessageTooBig {
		t.Fatalf("6 MiB message: %v, want MessageTooBig", err)
	} else {
		t.Log(err)
	}
	if _, err := p.Send(ctx, &Message{Payload: []byte("small")}); err != nil {
		t.Fatalf("a small message after the big one: %v", err)
	}
}

// TestGarbageFromTheBrokerReconnects feeds bytes that break the protocol
// into the live connection, as if the broker had sent them: the module must
// close that connection cleanly, the host must drop the socket, and the
// producer must reconnect and go on sending.
func TestGarbageFromTheBrokerReconnects(t *testing.T) {
	c := newTestClient(t, ClientOptions{InitialBackoff: 10 * time.Millisecond})
	p := newTestProducer(t, c, ProducerOptions{Topic: wasmtest.Topic(t, "wasm-garbage")})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	before, err := p.Send(ctx, &Message{Payload: []byte("before")})
	if err != nil {
		t.Fatal(err)
	}
	c.lock()
	var old []engine.ConnID
	for id := range c.conns {
		old = append(old, id)
	}
	if len(old) == 0 {
		c.unlock()
		t.Fatal("no connection")
	}
	// A frame header announcing 16 bytes, then junk: a bad command.
	garbage := append([]byte{0, 0, 0, 16, 0, 0, 0, 12}, bytes.Repeat([]byte{0xee}, 12)...)
	for _, id := range old {
		if err := c.in.receive(id, garbage, time.Now()); err != nil {
			t.Errorf("pp_receive: %v", err)
		}
	}
	c.unlock() // the pump sees the connection closed and shuts the socket

	after, err := p.Send(ctx, &Message{Payload: []byte("after")})
	if err != nil {
		t.Fatalf("send after garbage: %v", err)
	}
	c.lock()
	for _, id := range old {
		if c.conns[id] != nil {
			t.Errorf("connection %d is still open after the garbage", id)
		}
	}
	reconnected := len(c.conns) > 0
	c.unlock()
	if !reconnected {
		t.Fatal("no connection after the reconnect")
	}
	if after.LedgerID == before.LedgerID && after.EntryID <= before.EntryID {
		t.Fatalf("after %v is not stored after before %v", after, before)
	}
}

func TestSendAfterClientClose(t *testing.T) {
	c := newTestClient(t, ClientOptions{})
	p := newTestProducer(t, c, ProducerOptions{Topic: wasmtest.Topic(t, "wasm-close")})
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Send(context.Background(), &Message{Payload: []byte("x")}); engine.CodeOf(err) != engine.CodeAlreadyClosed {
		t.Fatalf("send after client close: %v", err)
	}
	if err := c.Close(); engine.CodeOf(err) != engine.CodeAlreadyClosed {
		t.Fatalf("second close: %v", err)
	}
}
