package bench

// Feature benchmarks: chunking, key-based batching and schema-encoded
// values, each measured for this project's producer and, where the
// official Go client has the feature, for it too, against the same
// in-process fake broker as Run.
//
// How this works: a Scenario says how to configure either producer and
// which message to send as the i-th; RunScenario opens a fresh fake
// broker, a client and a producer (untimed), then times sending n messages
// with SendAsync and a counting callback, and the Flush, reading wall
// clock, process CPU and allocations around it as Run does. The scenarios:
//
//   - Chunked: 10 MiB messages with chunking on (ours ChunkingEnabled, the
//     Go client's EnableChunking; batching off in both, as the Go client
//     requires), cut at the fake broker's 5 MiB maximum into 3 chunks each.
//     The figure to read is MB/s.
//   - KeyBased: 100-byte messages over 100 keys in turn, with key-based
//     batching (ours BatcherType keyBased, the Go client's
//     KeyBasedBatchBuilder), batches of up to 1000 messages or 10 ms.
//   - Schema*: ours only, 100-byte values sent as Value with a STRING
//     schema, as a Go struct with a JSON schema (marshaled per send), and
//     as raw Payload with no schema: the cost of encoding values.

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/apache/pulsar-client-go/pulsar/log"
	"github.com/sirupsen/logrus"

	"github.com/pulsar-producer/pulsar-producer/core"
	"github.com/pulsar-producer/pulsar-producer/core/engine"
	"github.com/pulsar-producer/pulsar-producer/internal/fakebroker"
)

// Scenario configures both producers and the messages they send.
type Scenario struct {
	Name string
	// Native and Go are the producers' options; Topic is filled in. Go is
	// nil where the Go client has no equivalent.
	Native core.ProducerOptions
	Go     *pulsar.ProducerOptions
	// NativeMsg and GoMsg build the i-th message; a scenario builds its
	// messages ahead, so that only sending is timed.
	NativeMsg func(i int) *core.Message
	GoMsg     func(i int) *pulsar.ProducerMessage
	// Bytes is the payload bytes of one message, for MB/s.
	Bytes int
}

// FeatureResult is one measured scenario run.
type FeatureResult struct {
	Result
	Scenario string
	Bytes    int64 // payload bytes sent
}

// MBPerSec is payload throughput in MB (10^6 bytes) per second.
func (r FeatureResult) MBPerSec() float64 { return float64(r.Bytes) / 1e6 / r.Elapsed.Seconds() }

// NsPerMsg is wall time per message.
func (r FeatureResult) NsPerMsg() float64 {
	return float64(r.Elapsed.Nanoseconds()) / float64(r.Messages)
}

func (r FeatureResult) String() string {
	return fmt.Sprintf("%-14s %-9s %7d msgs %9.0f msgs/s %8.1f MB/s %7.2f cpu-s/Mmsg %6.2f allocs/msg",
		r.Scenario, r.Client, r.Messages, r.MsgsPerSec(), r.MBPerSec(), r.CPUSecPerMillion(), r.AllocsPerMsg())
}

// ChunkSize is the message size of the Chunked scenario.
const ChunkSize = 10 << 20

// Chunked sends ChunkSize-byte messages with chunking on.
func Chunked() Scenario {
	payload := make([]byte, ChunkSize)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	return Scenario{
		Name:      "chunked-10MiB",
		Native:    core.ProducerOptions{ChunkingEnabled: true, DisableBatching: true, BlockIfQueueFull: true},
		Go:        &pulsar.ProducerOptions{EnableChunking: true, DisableBatching: true, MaxPendingMessages: GoClientMaxPendingMessages},
		NativeMsg: func(int) *core.Message { return &core.Message{Payload: payload} },
		GoMsg:     func(int) *pulsar.ProducerMessage { return &pulsar.ProducerMessage{Payload: payload} },
		Bytes:     ChunkSize,
	}
}

// KeyCount is the number of keys of the KeyBased scenario.
const KeyCount = 100

// KeyBased sends PayloadSize-byte messages over KeyCount keys in turn,
// batched by key.
func KeyBased() Scenario {
	payload := make([]byte, PayloadSize)
	for i := range payload {
		payload[i] = byte('a' + i%26)
	}
	keys := make([]string, KeyCount)
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%03d", i)
	}
	return Scenario{
		Name: "keyBased-100",
		Native: core.ProducerOptions{BatcherType: engine.KeyBasedBatcher, BatchingMaxMessages: BatchingMaxMessages,
			BatchingMaxPublishDelay: BatchingMaxPublishDelay, BlockIfQueueFull: true},
		Go: &pulsar.ProducerOptions{BatcherBuilderType: pulsar.KeyBasedBatchBuilder, BatchingMaxMessages: BatchingMaxMessages,
			BatchingMaxPublishDelay: BatchingMaxPublishDelay, MaxPendingMessages: GoClientMaxPendingMessages},
		NativeMsg: func(i int) *core.Message { return &core.Message{Key: keys[i%KeyCount], Payload: payload} },
		GoMsg: func(i int) *pulsar.ProducerMessage {
			return &pulsar.ProducerMessage{Key: keys[i%KeyCount], Payload: payload}
		},
		Bytes: PayloadSize,
	}
}

// schemaRecord is the Go value of the SchemaJSON scenario: about
// PayloadSize bytes as JSON.
type schemaRecord struct {
	Name  string  `json:"name"`
	Count int64   `json:"count"`
	Ratio float64 `json:"ratio"`
	OK    bool    `json:"ok"`
	Note  string  `json:"note"`
}

const schemaRecordDefinition = `{"type":"record","name":"Rec","fields":[` +
	`{"name":"name","type":"string"},{"name":"count","type":"long"},{"name":"ratio","type":"double"},` +
	`{"name":"ok","type":"boolean"},{"name":"note","type":"string"}]}`

// Schema scenarios: the same messages as raw payloads, STRING values and
// JSON-schema Go values.
func SchemaRaw() Scenario { return schemaScenario("schema-raw", nil) }
func SchemaString() Scenario {
	return schemaScenario("schema-string", &core.Schema{Type: core.SchemaString})
}
func SchemaJSON() Scenario {
	return schemaScenario("schema-json", &core.Schema{Type: core.SchemaJSON, Definition: schemaRecordDefinition})
}

func schemaScenario(name string, s *core.Schema) Scenario {
	text := strings.Repeat("abcdefghijklmnopqrstuvwxyz", 4)[:PayloadSize]
	rec := schemaRecord{Name: "reading", Count: 123456789, Ratio: 0.25, OK: true, Note: text[:38]}
	var msg func(int) *core.Message
	switch {
	case s == nil:
		payload := []byte(text)
		msg = func(int) *core.Message { return &core.Message{Payload: payload} }
	case s.Type == core.SchemaString:
		msg = func(int) *core.Message { return &core.Message{Value: text} }
	default:
		msg = func(int) *core.Message { return &core.Message{Value: rec} }
	}
	return Scenario{
		Name: name,
		Native: core.ProducerOptions{Schema: s, BatchingMaxMessages: BatchingMaxMessages,
			BatchingMaxPublishDelay: BatchingMaxPublishDelay, BlockIfQueueFull: true},
		NativeMsg: msg,
		Bytes:     PayloadSize,
	}
}

// RunScenario publishes n messages of sc with the given client against a
// fresh fake broker and measures it.
func RunScenario(kind Client, sc Scenario, n int, h Hooks) (FeatureResult, error) {
	res := FeatureResult{Scenario: sc.Name, Bytes: int64(n) * int64(sc.Bytes), Result: Result{Client: kind, Messages: n}}
	if kind == GoClient && sc.Go == nil {
		return res, fmt.Errorf("%s: the Go client has no equivalent", sc.Name)
	}
	fb, err := fakebroker.Listen(fakebroker.Options{})
	if err != nil {
		return res, err
	}
	defer fb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	var (
		cnt   Counter
		send  func(i int)
		flush func() error
	)
	switch kind {
	case Native:
		client, err := core.NewClient(core.ClientOptions{ServiceURL: fb.URL()})
		if err != nil {
			return res, err
		}
		defer client.Close()
		opts := sc.Native
		opts.Topic = topic
		p, err := client.CreateProducer(ctx, opts)
		if err != nil {
			return res, err
		}
		cb := func(_ core.MessageID, err error) { cnt.Done(err) }
		send = func(i int) { p.SendAsync(ctx, sc.NativeMsg(i), cb) }
		flush = func() error { return p.Flush(ctx) }
	default:
		lg := logrus.New()
		lg.SetOutput(io.Discard)
		client, err := pulsar.NewClient(pulsar.ClientOptions{URL: fb.URL(), Logger: log.NewLoggerWithLogrus(lg)})
		if err != nil {
			return res, err
		}
		defer client.Close()
		opts := *sc.Go
		opts.Topic = topic
		p, err := client.CreateProducer(opts)
		if err != nil {
			return res, err
		}
		defer p.Close()
		cb := func(_ pulsar.MessageID, _ *pulsar.ProducerMessage, err error) { cnt.Done(err) }
		send = func(i int) { p.SendAsync(ctx, sc.GoMsg(i), cb) }
		flush = func() error { return p.FlushWithCtx(ctx) }
	}

	if h.Start != nil {
		h.Start()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	allocs0 := ms.Mallocs
	cpu0 := CPUTime()
	t0 := time.Now()
	for i := range n {
		send(i)
	}
	ferr := flush()
	res.Elapsed = time.Since(t0)
	res.CPU = CPUTime() - cpu0
	runtime.ReadMemStats(&ms)
	res.Allocs = ms.Mallocs - allocs0
	if h.Stop != nil {
		h.Stop()
	}
	if ferr != nil {
		return res, fmt.Errorf("%s %v: flush: %w", sc.Name, kind, ferr)
	}
	if ok, failed, firstErr := cnt.Results(); ok != int64(n) || failed != 0 {
		return res, fmt.Errorf("%s %v: %d of %d messages acknowledged, %d failed (first error: %v)", sc.Name, kind, ok, n, failed, firstErr)
	}
	return res, nil
}
