// Throughput of the wasm-hosted producer against the native Go producer,
// on the same real broker in the same run:
//
//	cd tests && go test ./wasm -run '^$' -bench Throughput -benchtime 1000000x
//
// One op is one 100-byte message: the timed part is a single goroutine's
// SendAsync loop plus the final Flush (every receipt in). Both producers
// use the same options: BlockIfQueueFull, batches of up to 1000 messages or
// 10ms, no compression. Each run gets a fresh topic; client and producer
// creation are not timed. After both, the benchmark prints the ratio of
// the wasm producer's rate to the native one's.
package wasm

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pulsar-producer/pulsar-producer/core"
	"github.com/pulsar-producer/pulsar-producer/core/engine"
	ppwasm "github.com/pulsar-producer/pulsar-producer/wasm"

	"github.com/pulsar-producer/pulsar-producer/tests/broker"
)

const benchPayloadSize = 100

func benchProducerOptions(topic string) engine.ProducerOptions {
	return engine.ProducerOptions{
		Topic:                   topic,
		BlockIfQueueFull:        true,
		BatchingMaxMessages:     1000,
		BatchingMaxPublishDelay: 10 * time.Millisecond,
	}
}

// asyncProducer is what the two producers have in common.
type asyncProducer interface {
	SendAsync(ctx context.Context, msg *engine.Message, cb func(engine.MessageID, error))
	Flush(ctx context.Context) error
	Close(ctx context.Context) error
}

// runThroughput sends b.N messages on p and returns messages per second.
func runThroughput(b *testing.B, p asyncProducer) float64 {
	ctx := context.Background()
	msg := &engine.Message{Payload: make([]byte, benchPayloadSize)}
	var failed atomic.Int64
	var firstErr atomic.Value
	cb := func(_ engine.MessageID, err error) {
		if err != nil && failed.Add(1) == 1 {
			firstErr.Store(err)
		}
	}
	b.SetBytes(benchPayloadSize)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		p.SendAsync(ctx, msg, cb)
	}
	if err := p.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d of %d messages failed, the first with %v", n, b.N, firstErr.Load())
	}
	rate := float64(b.N) / elapsed.Seconds()
	b.ReportMetric(rate, "msgs/s")
	_ = p.Close(ctx)
	return rate
}

func BenchmarkThroughput(b *testing.B) {
	broker.Require(b)
	var native, hosted float64
	b.Run("native", func(b *testing.B) {
		c, err := core.NewClient(core.ClientOptions{ServiceURL: broker.ServiceURL()})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		p, err := c.CreateProducer(context.Background(), benchProducerOptions(broker.NewTopic(b, "bench-native")))
		if err != nil {
			b.Fatal(err)
		}
		native = runThroughput(b, p)
	})
	b.Run("wasm", func(b *testing.B) {
		c, err := ppwasm.NewClient(ppwasm.ClientOptions{ServiceURL: broker.ServiceURL()})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		p, err := c.CreateProducer(context.Background(), benchProducerOptions(broker.NewTopic(b, "bench-wasm")))
		if err != nil {
			b.Fatal(err)
		}
		hosted = runThroughput(b, p)
	})
	if native > 0 && hosted > 0 {
		fmt.Printf("wasm/native throughput: %.0f / %.0f msgs/s = %.2f\n", hosted, native, hosted/native)
	}
}
