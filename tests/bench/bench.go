// Package bench measures end-to-end producer throughput and CPU cost of
// this project's native Go producer (package core) and of the official Go
// client (pulsar-client-go), both against the in-process fake broker.
//
// How this works: Run starts a fake broker (internal/fakebroker) that
// acknowledges every SEND at once, creates a client and a producer
// (untimed), then publishes n 100-byte messages with SendAsync and a
// callback that counts results, and Flushes; the timed part is the send
// loop plus the Flush. Both producers batch the same way (up to 1000
// messages or 10ms per batch) and wait when their queue is full instead of
// failing. Around the timed part Run reads the wall clock, the process's
// CPU time (getrusage RUSAGE_SELF, user + system) and the runtime's
// allocation count.
//
// The fake broker runs in the same process, so its CPU time (reading,
// checksumming and acknowledging every frame) is included in both clients'
// figures equally: the CPU figure is "client + broker", and a client that
// sends fewer, larger frames also saves broker CPU.
//
// bench_test.go wraps Run in Go benchmarks; cmd/ppbench prints a one-line
// comparison of the two.
package bench

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/apache/pulsar-client-go/pulsar/log"
	"github.com/sirupsen/logrus"

	"github.com/pulsar-producer/pulsar-producer/core"
	"github.com/pulsar-producer/pulsar-producer/internal/fakebroker"
)

// Settings shared by both producers.
const (
	PayloadSize             = 100
	BatchingMaxMessages     = 1000
	BatchingMaxPublishDelay = 10 * time.Millisecond
	// GoClientMaxPendingMessages lifts the Go client's default of 1000
	// pending messages (a single batch in flight); ours has no message
	// bound by default, only the 64 MiB memory limit.
	GoClientMaxPendingMessages = 10000
	topic                      = "persistent://public/default/bench"
)

// Client selects the producer under test.
type Client int

const (
	Native   Client = iota // this project's core producer
	GoClient               // pulsar-client-go
)

func (c Client) String() string {
	if c == Native {
		return "native"
	}
	return "go-client"
}

// Result is one measured run.
type Result struct {
	Client   Client
	Messages int
	Elapsed  time.Duration // wall time of the send loop and the Flush
	CPU      time.Duration // process user + system CPU time over the same span
	Allocs   uint64        // heap allocations over the same span
}

// MsgsPerSec is the throughput.
func (r Result) MsgsPerSec() float64 { return float64(r.Messages) / r.Elapsed.Seconds() }

// CPUSecPerMillion is the CPU-seconds spent per million messages.
func (r Result) CPUSecPerMillion() float64 { return r.CPU.Seconds() / (float64(r.Messages) / 1e6) }

// AllocsPerMsg is heap allocations per message.
func (r Result) AllocsPerMsg() float64 { return float64(r.Allocs) / float64(r.Messages) }

func (r Result) String() string {
	return fmt.Sprintf("%-9s %9d msgs  %8.0f msgs/s  %5.2f cpu-s/Mmsg  %5.2f allocs/msg",
		r.Client, r.Messages, r.MsgsPerSec(), r.CPUSecPerMillion(), r.AllocsPerMsg())
}

// Hooks run right before and right after the timed part (a benchmark
// passes b.ResetTimer and b.StopTimer). Either may be nil.
type Hooks struct {
	Start, Stop func()
}

// Run publishes n messages with the given client against a fresh fake
// broker and measures it.
func Run(kind Client, n int, h Hooks) (Result, error) {
	fb, err := fakebroker.Listen(fakebroker.Options{})
	if err != nil {
		return Result{}, err
	}
	defer fb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var p producer
	switch kind {
	case Native:
		p, err = newNative(ctx, fb.URL())
	default:
		p, err = newGoClient(fb.URL())
	}
	if err != nil {
		return Result{}, err
	}
	defer p.close()

	payload := make([]byte, PayloadSize)
	for i := range payload {
		payload[i] = byte('a' + i%26)
	}
	res := Result{Client: kind, Messages: n}
	if h.Start != nil {
		h.Start()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	allocs0 := ms.Mallocs
	cpu0 := CPUTime()
	t0 := time.Now()
	p.send(ctx, n, payload)
	ferr := p.flush(ctx)
	res.Elapsed = time.Since(t0)
	res.CPU = CPUTime() - cpu0
	runtime.ReadMemStats(&ms)
	res.Allocs = ms.Mallocs - allocs0
	if h.Stop != nil {
		h.Stop()
	}
	if ferr != nil {
		return res, fmt.Errorf("%v: flush: %w", kind, ferr)
	}
	ok, failed, firstErr := p.Results()
	if ok != int64(n) || failed != 0 {
		return res, fmt.Errorf("%v: %d of %d messages acknowledged, %d failed (first error: %v)", kind, ok, n, failed, firstErr)
	}
	if got := fb.Stats().AckedMessages; got < int64(n) {
		return res, fmt.Errorf("%v: the broker acknowledged %d of %d messages", kind, got, n)
	}
	return res, nil
}

// producer is what Run needs of either client.
type producer interface {
	send(ctx context.Context, n int, payload []byte)
	flush(ctx context.Context) error
	Results() (ok, failed int64, firstErr error)
	close()
}

type nativeProducer struct {
	Counter
	client *core.Client
	p      *core.Producer
	cb     func(core.MessageID, error)
}

func newNative(ctx context.Context, url string) (*nativeProducer, error) {
	client, err := core.NewClient(core.ClientOptions{ServiceURL: url})
	if err != nil {
		return nil, err
	}
	p, err := client.CreateProducer(ctx, core.ProducerOptions{
		Topic:                   topic,
		BatchingMaxMessages:     BatchingMaxMessages,
		BatchingMaxPublishDelay: BatchingMaxPublishDelay,
		BlockIfQueueFull:        true,
	})
	if err != nil {
		_ = client.Close()
		return nil, err
	}
	np := &nativeProducer{client: client, p: p}
	np.cb = func(_ core.MessageID, err error) { np.Done(err) }
	return np, nil
}

func (np *nativeProducer) send(ctx context.Context, n int, payload []byte) {
	for range n {
		np.p.SendAsync(ctx, &core.Message{Payload: payload}, np.cb)
	}
}

func (np *nativeProducer) flush(ctx context.Context) error { return np.p.Flush(ctx) }

func (np *nativeProducer) close() { _ = np.client.Close() }

type goProducer struct {
	Counter
	client pulsar.Client
	p      pulsar.Producer
	cb     func(pulsar.MessageID, *pulsar.ProducerMessage, error)
	sent   int64 // messages sent so far, for flush to wait for their callbacks
}

func newGoClient(url string) (*goProducer, error) {
	lg := logrus.New()
	lg.SetOutput(io.Discard)
	client, err := pulsar.NewClient(pulsar.ClientOptions{URL: url, Logger: log.NewLoggerWithLogrus(lg)})
	if err != nil {
		return nil, err
	}
	p, err := client.CreateProducer(pulsar.ProducerOptions{
		Topic:                   topic,
		BatchingMaxMessages:     BatchingMaxMessages,
		BatchingMaxPublishDelay: BatchingMaxPublishDelay,
		MaxPendingMessages:      GoClientMaxPendingMessages,
		DisableBlockIfQueueFull: false,
	})
	if err != nil {
		client.Close()
		return nil, err
	}
	gp := &goProducer{client: client, p: p}

	gp.cb = func(_ pulsar.MessageID, _ *pulsar.ProducerMessage, err error) { gp.Done(err) }
	return gp, nil
}

func (gp *goProducer) send(ctx context.Context, n int, payload []byte) {
	gp.sent += int64(n)
	for range n {
		gp.p.SendAsync(ctx, &pulsar.ProducerMessage{Payload: payload}, gp.cb)
	}
}

// flush flushes, then waits for the callbacks: the Go client's Flush can
// return before the last of them has run (ours returns after).
func (gp *goProducer) flush(ctx context.Context) error {
	if err := gp.p.FlushWithCtx(ctx); err != nil {
		return err
	}
	for gp.ok.Load()+gp.failed.Load() < gp.sent {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(100 * time.Microsecond)
	}
	return nil
}

func (gp *goProducer) close() {
	gp.p.Close()
	gp.client.Close()
}
