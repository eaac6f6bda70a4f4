// The promises of the public API that need a broker to keep: Close sends
// what is pending first, contexts bound every wait, a full queue blocks or
// fails as configured, calls after Close fail cleanly, callbacks run in
// order and may send, names, counters and logs are right, host checksums
// are filled, and an engine driven through the Engine interface (as the
// WASI host does) gets the same service, failure included. The broker is
// internal/fakebroker.
package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pulsar-producer/pulsar-producer/core/engine"
	"github.com/pulsar-producer/pulsar-producer/internal/fakebroker"
)

func TestCloseSendsPendingFirst(t *testing.T) {
	fb := fakebroker.Start(t, fakebroker.Options{})
	_, p := newProducer(t, fb, ClientOptions{}, ProducerOptions{BatchingMaxPublishDelay: 10 * time.Second})
	fb.SetReceiptDelay(50 * time.Millisecond)
	ctx := testContext(t)
	var r results
	for range 5 {
		p.SendAsync(ctx, &Message{Payload: []byte("pending")}, r.cb)
	}
	if st := fb.Stats(); st.Messages != 0 {
		t.Fatalf("the batch left before Close: %+v", st)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// Every callback ran before Close returned.
	if ok, errs := r.counts(); ok != 5 {
		t.Fatalf("%d ok, errors %v", ok, errs)
	}
	if st := fb.Stats(); st.AckedMessages != 5 || st.LiveProducers != 0 {
		t.Fatalf("stats %+v", st)
	}
	if st := p.Stats(); st.MsgsAcked != 5 || st.PendingMsgs != 0 {
		t.Fatalf("the counters a closed producer keeps: %+v", st)
	}
}

// Close gives up when its context ends: what is pending fails with the
// context's error, and so does Close.
func TestCloseGivesUpWithItsContext(t *testing.T) {
	fb := fakebroker.Start(t, fakebroker.Options{})
	_, p := newProducer(t, fb, ClientOptions{}, ProducerOptions{})
	fb.SetReceiptDelay(time.Hour)
	var r results
	p.SendAsync(testContext(t), &Message{Payload: []byte("never acknowledged")}, r.cb)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	expectCode(t, p.Close(ctx), CodeTimeout, "closing producer")
	_, errs := r.snapshot()
	if len(errs) != 1 || CodeOf(errs[0]) != CodeTimeout {
		t.Fatalf("the pending message completed with %v", errs)
	}
}

// Client.Close bounds its wait for pending messages by operationTimeout.
func TestClientCloseBoundedByOperationTimeout(t *testing.T) {
	fb := fakebroker.Start(t, fakebroker.Options{})
	client, p := newProducer(t, fb, ClientOptions{OperationTimeout: 200 * time.Millisecond}, ProducerOptions{})
	fb.SetReceiptDelay(time.Hour)
	var r results
	p.SendAsync(testContext(t), &Message{Payload: []byte("never acknowledged")}, r.cb)
	start := time.Now()
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 200*time.Millisecond || d > 5*time.Second {
		t.Fatalf("Close took %v with an operation timeout of 200ms", d)
	}
	if _, errs := r.snapshot(); len(errs) != 1 || errs[0] == nil {
		t.Fatalf("the pending message completed with %v", errs)
	}
}

func TestSendWaitsForItsReceiptUntilContextEnds(t *testing.T) {
	fb := fakebroker.Start(t, fakebroker.Options{})
	// OperationTimeout bounds the client's Close at the end, which waits
	// for the message the broker never acknowledges.
	_, p := newProducer(t, fb, ClientOptions{OperationTimeout: 200 * time.Millisecond}, ProducerOptions{})
	fb.SetReceiptDelay(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := p.Send(ctx, &Message{Payload: []byte("slow")})
	expectCode(t, err, CodeTimeout, "waiting for the receipt")
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	expectCode(t, p.Flush(ctx), CodeInterrupted, "flushing")
}

func TestFullQueue(t *testing.T) {
	fb := fakebroker.Start(t, fakebroker.Options{})
	client, err := NewClient(ClientOptions{ServiceURL: fb.URL(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx := testContext(t)
	failing, err := client.CreateProducer(ctx, ProducerOptions{Topic: "failing", MaxPendingMessages: 1, DisableBatching: true})
	if err != nil {
		t.Fatal(err)
	}
	blocking, err := client.CreateProducer(ctx, ProducerOptions{Topic: "blocking", MaxPendingMessages: 1,
		DisableBatching: true, BlockIfQueueFull: true})
	if err != nil {
		t.Fatal(err)
	}
	fb.SetReceiptDelay(200 * time.Millisecond)

	var r results
	failing.SendAsync(ctx, &Message{Payload: []byte("1")}, r.cb)
	failing.SendAsync(ctx, &Message{Payload: []byte("2")}, r.cb)
	waitFor(t, 5*time.Second, "the refused send's callback", func() bool { _, errs := r.snapshot(); return len(errs) == 1 })
	if _, errs := r.snapshot(); len(errs) != 1 || !errors.Is(errs[0], ErrProducerQueueIsFull) {
		t.Fatalf("a send over the limit completed with %v", errs)
	}

	// A blocked send gives up when its context ends...
	blocking.SendAsync(ctx, &Message{Payload: []byte("1")}, nil)
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	var b results
	blocking.SendAsync(short, &Message{Payload: []byte("given up")}, b.cb)
	waitFor(t, 5*time.Second, "the given-up send's callback", func() bool { _, errs := b.snapshot(); return len(errs) == 1 })
	if _, errs := b.snapshot(); len(errs) != 1 || CodeOf(errs[0]) != CodeTimeout ||
		!strings.Contains(errs[0].Error(), "waiting for room") {
		t.Fatalf("a blocked send with a short context completed with %v", errs)
	}
	// ...and otherwise waits until the one in flight completes.
	blocking.SendAsync(ctx, &Message{Payload: []byte("2")}, b.cb)
	if st := blocking.Stats(); st.MsgsAcked != 1 {
		t.Fatalf("a send into a full queue returned before the message in flight was acknowledged: %+v", st)
	}
	if err := blocking.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, _ := b.counts(); ok != 1 {
		t.Fatalf("the blocked send: %d ok", ok)
	}
}

func TestCallsAfterClose(t *testing.T) {
	fb := fakebroker.Start(t, fakebroker.Options{})
	client, p := newProducer(t, fb, ClientOptions{}, ProducerOptions{})
	ctx := testContext(t)
	_, err := p.Send(ctx, nil)
	expectCode(t, err, CodeInvalidArgument, "nil")
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = p.Send(ctx, &Message{Payload: []byte("x")})
	expectCode(t, err, CodeAlreadyClosed, "closed")
	var r results
	p.SendAsync(ctx, &Message{Payload: []byte("x")}, r.cb)
	waitFor(t, 5*time.Second, "the callback", func() bool { _, errs := r.snapshot(); return len(errs) == 1 })
	if _, errs := r.snapshot(); len(errs) != 1 || !errors.Is(errs[0], ErrAlreadyClosed) {
		t.Fatalf("SendAsync after Close completed with %v", errs)
	}
	p.SendAsync(ctx, &Message{Payload: []byte("x")}, nil) // a nil callback is allowed
	expectCode(t, p.Flush(ctx), CodeAlreadyClosed, "closed")
	expectCode(t, p.Close(ctx), CodeAlreadyClosed, "already closed")
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
	expectCode(t, client.Close(), CodeAlreadyClosed, "already closed")
	_, err = client.CreateProducer(ctx, ProducerOptions{Topic: "t"})
	expectCode(t, err, CodeAlreadyClosed, "closed")
	if st := fb.Stats(); st.Producers != 1 || st.LiveProducers != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// Callbacks run one at a time, in send order, on one goroutine, and may
// send more messages.
func TestCallbacksInOrderAndMaySend(t *testing.T) {
	fb := fakebroker.Start(t, fakebroker.Options{})
	_, p := newProducer(t, fb, ClientOptions{}, ProducerOptions{BatchingMaxMessages: 7})
	ctx := testContext(t)
	const n = 200
	var (
		mu       sync.Mutex
		order    []int
		running  atomic.Int32
		overlaps atomic.Int32
		follow   results
	)
	for i := range n {
		p.SendAsync(ctx, &Message{Payload: []byte("m")}, func(_ MessageID, err error) {
			if running.Add(1) != 1 {
				overlaps.Add(1)
			}
			defer running.Add(-1)
			if err != nil {
				t.Errorf("message %d: %v", i, err)
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			p.SendAsync(ctx, &Message{Payload: []byte("follow-up")}, follow.cb)
		})
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(ctx); err != nil { // covers the follow-ups
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, got := range order {
		if got != i {
			t.Fatalf("callback %d ran in place %d", got, i)
		}
	}
	if ok, errs := follow.counts(); len(order) != n || ok != n || overlaps.Load() != 0 {
		t.Fatalf("%d callbacks, %d follow-ups ok (errors %v), %d overlapping", len(order), ok, errs, overlaps.Load())
	}
}

func TestNamesAndStats(t *testing.T) {
	fb := fakebroker.Start(t, fakebroker.Options{})
	client, named := newProducer(t, fb, ClientOptions{}, ProducerOptions{Topic: "named", ProducerName: "mine"})
	if named.Name() != "mine" || named.Topic() != "named" || named.NumPartitions() != 0 {
		t.Fatalf("name %q, topic %q, %d partitions", named.Name(), named.Topic(), named.NumPartitions())
	}
	anon, err := client.CreateProducer(testContext(t), ProducerOptions{Topic: "anonymous"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(anon.Name(), "fakebroker-") {
		t.Fatalf("the broker's name was not taken: %q", anon.Name())
	}
	ctx := testContext(t)
	for range 3 {
		if _, err := named.Send(ctx, &Message{Payload: []byte("12345")}); err != nil {
			t.Fatal(err)
		}
	}
	if st := named.Stats(); st.MsgsSent != 3 || st.MsgsAcked != 3 || st.BytesAcked != 15 || st.PendingMsgs != 0 {
		t.Fatalf("producer stats %+v", st)
	}
	if st := client.Stats(); st.Producers != 2 || st.Connections != 1 || st.Connects != 1 || st.MsgsAcked != 3 {
		t.Fatalf("client stats %+v", st)
	}
	if client.Options().OperationTimeout != 30*time.Second {
		t.Fatalf("defaults not filled in: %+v", client.Options())
	}
}

// logSink is a slog handler that keeps records.
type logSink struct {
	mu      sync.Mutex
	records []slog.Record
}

func (s *logSink) Enabled(context.Context, slog.Level) bool { return true }
func (s *logSink) WithAttrs([]slog.Attr) slog.Handler       { return s }
func (s *logSink) WithGroup(string) slog.Handler            { return s }
func (s *logSink) Handle(_ context.Context, r slog.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records = append(s.records, r.Clone())
	return nil
}

// find returns the attributes of the first record at level whose message
// contains text.
func (s *logSink) find(level slog.Level, text string) (map[string]string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.records {
		if r.Level == level && strings.Contains(r.Message, text) {
			attrs := map[string]string{}
			r.Attrs(func(a slog.Attr) bool {
				attrs[a.Key] = a.Value.String()
				return true
			})
			return attrs, true
		}
	}
	return nil, false
}

func TestLogger(t *testing.T) {
	fb := fakebroker.Start(t, fakebroker.Options{})
	var sink logSink
	_, p := newProducer(t, fb, ClientOptions{Logger: slog.New(&sink), LogLevel: LogDebug, InitialBackoff: 10 * time.Millisecond},
		ProducerOptions{Topic: "logged", ProducerName: "writer"})
	attrs, ok := sink.find(slog.LevelInfo, "connected to")
	if !ok || attrs["broker"] != fb.Addr() || attrs["conn"] == "" {
		t.Fatalf("no info record of the connection with its broker: %v, %v", attrs, ok)
	}
	fb.CloseConnections()
	if _, err := p.Send(testContext(t), &Message{Payload: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	attrs, ok = sink.find(slog.LevelWarn, "reconnects in")
	if !ok || attrs["topic"] != "persistent://public/default/logged" || attrs["producer"] != "writer" {
		t.Fatalf("no warning of the reconnect with topic and producer: %v, %v", attrs, ok)
	}
	var off logSink
	newProducer(t, fb, ClientOptions{Logger: slog.New(&off), LogLevel: LogOff}, ProducerOptions{})
	off.mu.Lock()
	defer off.mu.Unlock()
	if len(off.records) != 0 {
		t.Fatalf("LogOff logged %d records", len(off.records))
	}
}

// With HostChecksums the engine leaves SEND checksums zero and the runtime
// fills them: a broker that refuses bad checksums acknowledges everything.
func TestHostChecksums(t *testing.T) {
	fb := fakebroker.Start(t, fakebroker.Options{ReplyChecksumError: true})
	_, p := newProducer(t, fb, ClientOptions{HostChecksums: true}, ProducerOptions{BatchingMaxMessages: 10})
	ctx := testContext(t)
	var r results
	for range 100 {
		p.SendAsync(ctx, &Message{Payload: []byte("summed by the runtime")}, r.cb)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, errs := r.counts(); ok != 100 {
		t.Fatalf("%d ok, errors %v", ok, errs)
	}
	if st := fb.Stats(); st.ChecksumErrors != 0 || st.SendErrors != 0 || st.Connections != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// wrappedEngine is the native engine behind the Engine interface, as a
// WASI host's engine is, with a switch that makes it report failing as a
// whole (as a module that trapped does).
type wrappedEngine struct {
	*engine.Engine
	fail atomic.Pointer[engine.Error]
}

func (w *wrappedEngine) AppendEvents(dst []engine.Event) []engine.Event {
	dst = w.Engine.AppendEvents(dst)
	if err := w.fail.Swap(nil); err != nil {
		dst = append(dst, engine.Event{Kind: engine.EventEngineFailed, Err: err})
	}
	return dst
}

func TestEngineBehindTheInterface(t *testing.T) {
	fb := fakebroker.Start(t, fakebroker.Options{Record: true})
	e, err := engine.New(ClientOptions{ServiceURL: fb.URL(), Logger: quiet}, 1, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	w := &wrappedEngine{Engine: e}
	client, err := NewClientWithEngine(w)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx := testContext(t)
	p, err := client.CreateProducer(ctx, ProducerOptions{Topic: "t", DisableBatching: true})
	if err != nil {
		t.Fatal(err)
	}
	// Messages reach such an engine as copies: what arrives is what was
	// sent, though the caller reuses its message and buffer at once.
	var r results
	msg := &Message{}
	buf := make([]byte, 8)
	for i := range 20 {
		copy(buf, fmt.Sprintf("msg-%04d", i))
		msg.Payload, msg.Key = buf, fmt.Sprint(i)
		p.SendAsync(ctx, msg, r.cb)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	entries := fb.Entries()
	if ok, errs := r.counts(); ok != 20 || len(entries) != 20 {
		t.Fatalf("%d ok (errors %v), %d entries", ok, errs, len(entries))
	}
	for i, en := range entries {
		if string(en.Payload) != fmt.Sprintf("msg-%04d", i) || en.Metadata.GetPartitionKey() != fmt.Sprint(i) {
			t.Fatalf("entry %d: %q key %q", i, en.Payload, en.Metadata.GetPartitionKey())
		}
	}

	// The engine fails as a whole: what is pending fails with its error,
	// and the producer with it.
	fb.SetReceiptDelay(time.Hour)
	var pending results
	for range 3 {
		p.SendAsync(ctx, &Message{Payload: []byte("pending")}, pending.cb)
	}
	trap := engine.Errorf(engine.CodeUnknownError, "the module trapped")
	w.fail.Store(trap)
	client.Stats() // any call lets the runtime see the engine's events
	waitFor(t, 5*time.Second, "the pending callbacks", func() bool { _, errs := pending.snapshot(); return len(errs) == 3 })
	if _, errs := pending.snapshot(); !errors.Is(errs[0], trap) || !errors.Is(errs[2], trap) {
		t.Fatalf("pending messages failed with %v", errs)
	}
	expectCode(t, p.Flush(ctx), CodeAlreadyClosed, "closed")
	if err := p.Close(ctx); err != nil {
		t.Fatalf("Close of a producer of a failed engine: %v", err)
	}
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
}
