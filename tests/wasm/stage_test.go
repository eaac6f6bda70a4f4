// Gathering payload-only messages (wasm/stage.go) must not change what a
// send means: queue limits still block or fail the send itself, a lone
// message still goes out without a flush, and order holds. Against the real
// broker, whose receipts take real time, so the queue does fill.
package wasm

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pulsar-producer/pulsar-producer/core"
	"github.com/pulsar-producer/pulsar-producer/core/engine"
	ppwasm "github.com/pulsar-producer/pulsar-producer/wasm"

	"github.com/pulsar-producer/pulsar-producer/tests/broker"
)

// outcomes collects SendAsync results in completion order.
type outcomes struct {
	mu   sync.Mutex
	ids  []core.MessageID
	errs []error
	seen []int
	wg   sync.WaitGroup
}

func (o *outcomes) send(p *ppwasm.Producer, i int, payload []byte) {
	o.wg.Add(1)
	p.SendAsync(context.Background(), &core.Message{Payload: payload}, func(id core.MessageID, err error) {
		o.mu.Lock()
		o.ids, o.errs, o.seen = append(o.ids, id), append(o.errs, err), append(o.seen, i)
		o.mu.Unlock()
		o.wg.Done()
	})
}

func (o *outcomes) wait(t *testing.T) {
	t.Helper()
	done := make(chan struct{})
	go func() { o.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("outcomes missing after 60 s")
	}
}

func TestGatheredSendsBlockOnAFullQueue(t *testing.T) {
	c := newTestClient(t, ppwasm.ClientOptions{})
	p := newTestProducer(t, c, ppwasm.ProducerOptions{Topic: broker.NewTopic(t, "wasm-gather-block"),
		MaxPendingMessages: 40, BlockIfQueueFull: true, BatchingMaxMessages: 25})
	var o outcomes
	const n = 3000
	for i := range n {
		o.send(p, i, fmt.Appendf(nil, "m-%d", i))
	}
	o.wait(t)
	for k, err := range o.errs {
		if err != nil {
			t.Fatalf("message %d failed: %v (a full queue must block the send, not fail it)", o.seen[k], err)
		}
		if o.seen[k] != k {
			t.Fatalf("outcome %d is message %d: out of order", k, o.seen[k])
		}
		if k > 0 && o.ids[k].LedgerID == o.ids[k-1].LedgerID && o.ids[k].EntryID < o.ids[k-1].EntryID {
			t.Fatalf("message %d stored before message %d", k, k-1)
		}
	}
}

func TestGatheredSendsFailOnAFullQueue(t *testing.T) {
	c := newTestClient(t, ppwasm.ClientOptions{})
	p := newTestProducer(t, c, ppwasm.ProducerOptions{Topic: broker.NewTopic(t, "wasm-gather-full"),
		MaxPendingMessages: 10, BatchingMaxPublishDelay: time.Hour})
	var o outcomes
	for i := range 30 {
		o.send(p, i, []byte("x"))
	}
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	o.wait(t)
	full := 0
	for _, err := range o.errs {
		if engine.CodeOf(err) == engine.CodeProducerQueueIsFull {
			full++
		} else if err != nil {
			t.Fatalf("unexpected failure: %v", err)
		}
	}
	if len(o.errs) != 30 || full != 20 {
		t.Fatalf("%d outcomes, %d refused as full; want 30 and 20", len(o.errs), full)
	}
}

func TestALoneGatheredMessageGoesWithoutFlush(t *testing.T) {
	c := newTestClient(t, ppwasm.ClientOptions{})
	p := newTestProducer(t, c, ppwasm.ProducerOptions{Topic: broker.NewTopic(t, "wasm-gather-lone")})
	var o outcomes
	o.send(p, 0, []byte("warm up")) // the first send goes directly and learns the room
	o.wait(t)
	start := time.Now()
	o.send(p, 1, []byte("alone"))
	o.wait(t)
	if o.errs[1] != nil {
		t.Fatal(o.errs[1])
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("a lone message took %v without a flush", d)
	}
}
