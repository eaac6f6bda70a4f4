// Throughput of the wasm-hosted producer against the native Go producer,
// on the same real broker in the same run:
//
//	cd tests && go test ./wasm -run '^$' -bench Throughput -benchtime 1000000x
//
// One op is one 100-byte message: the timed part is a single goroutine's
// SendAsync loop plus the final Flush (every receipt in). Both producers
// use the same options: BlockIfQueueFull, batches of up to 1000 messages or
// 10ms, no compression. Both are core.Client: the wasm one drives the
// engine in the module (wasm.Engine) instead of the native engine, so the
// difference is the module's alone. Each run gets a fresh topic; client and
// producer creation are not timed. The two alternate, three times; after
// each pair the benchmark prints the ratio of the wasm producer's rate to
// the native one's, with the load average (on a shared machine, compare
// only runs of one pair).
package wasm

import (
	"context"
	"fmt"
	"os"
	"strings"
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

// runThroughput sends b.N messages on a new producer of c to a new topic
// and returns messages per second.
func runThroughput(b *testing.B, c *core.Client, prefix string) float64 {
	ctx := context.Background()
	p, err := c.CreateProducer(ctx, benchProducerOptions(broker.NewTopic(b, prefix)))
	if err != nil {
		b.Fatal(err)
	}
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

// throughputRounds is how many native/wasm pairs one run measures,
// alternating, so that each ratio compares runs seconds apart.
const throughputRounds = 3

func BenchmarkThroughput(b *testing.B) {
	broker.Require(b)
	opts := core.ClientOptions{ServiceURL: broker.ServiceURL()}
	for range throughputRounds {
		native := measure(b, "native", func() (*core.Client, error) { return core.NewClient(opts) })
		hosted := measure(b, "wasm", func() (*core.Client, error) { return ppwasm.NewClient(opts) })
		if native > 0 && hosted > 0 {
			fmt.Printf("wasm/native throughput: %.0f / %.0f msgs/s = %.2f (load average %s)\n",
				hosted, native, hosted/native, loadAverage())
		}
	}
}

// measure runs the sub-benchmark name on a client from newClient and
// returns its rate.
func measure(b *testing.B, name string, newClient func() (*core.Client, error)) (rate float64) {
	b.Run(name, func(b *testing.B) {
		c, err := newClient()
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		rate = runThroughput(b, c, "bench-"+name)
	})
	return rate
}

// loadAverage is the 1, 5 and 15 minute load averages, or "?".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "?"
}
