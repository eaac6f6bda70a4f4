// Tests of a whole WASI-hosted client (the core runtime driving the module
// through Engine) against the project's fake broker (internal/fakebroker),
// served on a local port: no real broker is needed. They cover what the module reports
// beyond receipts (log records, stats, room), what a message's metadata
// carries to the wire (an empty key), and what happens when the module
// itself fails.
package wasm

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulsar-producer/pulsar-producer/core"
	"github.com/pulsar-producer/pulsar-producer/core/engine"
	"github.com/pulsar-producer/pulsar-producer/internal/driver"
	"github.com/pulsar-producer/pulsar-producer/internal/fakebroker"
)

// fakeEngine starts a fake broker with bopts and an Engine for it.
func fakeEngine(t *testing.T, bopts fakebroker.Options, opts ClientOptions) (*Engine, *fakebroker.Server) {
	t.Helper()
	srv := fakebroker.Start(t, bopts)
	opts.ServiceURL = srv.URL()
	eng, err := testModule(t).NewEngine(opts)
	if err != nil {
		t.Fatal(err)
	}
	return eng, srv
}

// fakeClient starts a fake broker and a WASI-hosted client of it, driving
// what wrap makes of the Engine (a spy around it), or the Engine itself.
func fakeClient(t *testing.T, bopts fakebroker.Options, opts ClientOptions, wrap func(*Engine) core.Engine) (*Client, *fakebroker.Server) {
	t.Helper()
	eng, srv := fakeEngine(t, bopts, opts)
	var driven core.Engine = eng
	if wrap != nil {
		driven = wrap(eng)
	}
	c, err := core.NewClientWithEngine(driven)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = closeClient(c) })
	return c, srv
}

// closeClient closes c, or gives up after 30 s, so that a test that failed
// because something hangs reports it instead of hanging too.
func closeClient(c *Client) error {
	done := make(chan error, 1)
	go func() { done <- c.Close() }()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		return fmt.Errorf("closing the client did not finish in 30 s")
	}
}

func createProducer(t *testing.T, c *Client, opts ProducerOptions) *Producer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := c.CreateProducer(ctx, opts)
	if err != nil {
		t.Fatalf("CreateProducer(%s): %v", opts.Topic, err)
	}
	return p
}

// trapEngine makes the module fail in the middle of a send: the send of a
// message whose key is "trap" finds the module closed, as a trap leaves
// it. It also keeps gathered messages gathered (an hour's hold instead of a
// millisecond's), so that the failure finds some in the host's hands.
type trapEngine struct {
	*Engine
	gathered int // messages gathered in the host when the module failed
}

func (s *trapEngine) CreateProducer(opts engine.ProducerOptions, now time.Time) (engine.ProducerID, error) {
	id, err := s.Engine.CreateProducer(opts, now)
	if p := s.parts[id]; err == nil && p.hold > 0 {
		p.hold = time.Hour
	}
	return id, err
}

func (s *trapEngine) Send(id engine.ProducerID, msg *engine.Message, token uint64, now time.Time) error {
	if msg.Key == "trap" {
		s.gathered = len(s.stage.lens)
		_ = s.in.mod.Close(s.in.ctx) // every later call fails as after a trap
	}
	return s.Engine.Send(id, msg, token, now)
}

// TestModuleFailureFailsEveryMessageOnce makes the module fail while
// messages are pending in it (in an open batch), others are gathered in the
// host, and a second producer is still being created: every callback must
// run exactly once, with the one error that names the trap; creation must
// fail with it; nothing may hang; and every later call must fail with it.
func TestModuleFailureFailsEveryMessageOnce(t *testing.T) {
	var spy *trapEngine
	c, srv := fakeClient(t, fakebroker.Options{}, ClientOptions{}, func(e *Engine) core.Engine {
		spy = &trapEngine{Engine: e}
		return spy
	})
	srv.IgnoreProducers("never-ready")
	p := createProducer(t, c, ProducerOptions{Topic: "trap", BatchingMaxPublishDelay: time.Hour, BatchingMaxMessages: 10000})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var mu sync.Mutex
	calls := map[int][]error{}
	var wg sync.WaitGroup
	send := func(i int, m *core.Message) {
		wg.Add(1)
		p.SendAsync(ctx, m, func(_ core.MessageID, err error) {
			mu.Lock()
			calls[i] = append(calls[i], err)
			mu.Unlock()
			wg.Done()
		})
	}
	const pending, gathered = 5, 9
	for i := range pending { // with a key: straight into the module's open batch
		send(i, &core.Message{Payload: fmt.Appendf(nil, "pending-%d", i), Key: "k"})
	}
	for i := range gathered { // payload only: gathered by the host
		send(pending+i, &core.Message{Payload: fmt.Appendf(nil, "gathered-%d", i)})
	}
	creating := make(chan error, 1)
	go func() {
		_, err := c.CreateProducer(ctx, ProducerOptions{Topic: "never-ready"})
		creating <- err
	}()
	for srv.Stats().Registrations < 2 {
		if ctx.Err() != nil {
			t.Fatal("the second producer never asked to register")
		}
		time.Sleep(time.Millisecond)
	}
	send(pending+gathered, &core.Message{Payload: []byte("the last"), Key: "trap"})

	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		mu.Lock()
		ran := len(calls)
		mu.Unlock()
		t.Fatalf("only %d of %d callbacks ran after the module failed", ran, pending+gathered+1)
	}
	if spy.gathered != gathered {
		t.Fatalf("%d messages were gathered in the host when the module failed, want %d", spy.gathered, gathered)
	}
	var createErr error
	select {
	case createErr = <-creating:
	case <-ctx.Done():
		t.Fatal("creating a producer hangs after the module failed")
	}
	if err := spy.broken; engine.CodeOf(err) != engine.CodeUnknownError || !strings.Contains(fmt.Sprint(err), "WASI module failed") ||
		!strings.Contains(fmt.Sprint(err), "ppw_send_payloads trapped") {
		t.Fatalf("the module's failure: %v; want UnknownError naming the failed module and the export that trapped", err)
	}
	if createErr != spy.broken {
		t.Fatalf("the producer being created failed with %v, want %v", createErr, spy.broken)
	}
	if _, err := p.Send(ctx, &core.Message{Payload: []byte("x")}); err == nil {
		t.Fatal("a send after the failure succeeded")
	}
	if err := p.Flush(ctx); err == nil {
		t.Fatal("a flush after the failure succeeded")
	}
	if _, err := c.CreateProducer(ctx, ProducerOptions{Topic: "after"}); err == nil {
		t.Fatal("a producer was created after the failure")
	}
	if err := p.Close(ctx); err != nil {
		t.Fatalf("closing the failed producer: %v", err)
	}
	if err := closeClient(c); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for i := range pending + gathered + 1 {
		errs := calls[i]
		if len(errs) != 1 {
			t.Fatalf("message %d: %d callbacks, want exactly 1", i, len(errs))
		}
		if i < pending+gathered && errs[0] != spy.broken {
			t.Fatalf("message %d failed with %v, want the module's failure %v", i, errs[0], spy.broken)
		}
	}
	if err := calls[pending+gathered][0]; err != spy.broken {
		t.Fatalf("the send that found the module dead failed with %v, want %v", err, spy.broken)
	}
}

// TestEngineFailedIsOneEvent checks the Engine's side of a failure: the
// failing call's error, Deadline now while the one EngineFailed event
// waits, exactly one such event, and the same error from every later call.
func TestEngineFailedIsOneEvent(t *testing.T) {
	now := time.Now()
	e, err := testModule(t).NewEngine(ClientOptions{ServiceURL: "pulsar://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	id, err := e.CreateProducer(ProducerOptions{Topic: "t"}, now)
	if err != nil {
		t.Fatal(err)
	}
	e.AppendEvents(nil) // the Connect event
	_ = e.in.mod.Close(e.in.ctx)
	ferr := e.Flush(id, now)
	if ferr == nil || ferr != e.broken || !strings.Contains(ferr.Error(), "ppw_flush trapped") {
		t.Fatalf("the failing flush returned %v", ferr)
	}
	if d, ok := e.Deadline(); !ok || time.Since(d) > time.Minute || time.Until(d) > 0 {
		t.Fatalf("Deadline %v, %v while the EngineFailed event waits; want now", d, ok)
	}
	evs := e.AppendEvents(nil)
	if len(evs) != 1 || evs[0].Kind != engine.EventEngineFailed || evs[0].Err != ferr {
		t.Fatalf("events after the failure: %+v; want one EngineFailed with %v", evs, ferr)
	}
	if evs := e.AppendEvents(nil); len(evs) != 0 {
		t.Fatalf("more events: %+v", evs)
	}
	if d, ok := e.Deadline(); ok {
		t.Fatalf("Deadline %v after the event was taken; want none", d)
	}
	_, cerr := e.CreateProducer(ProducerOptions{Topic: "t2"}, now)
	for what, err := range map[string]error{
		"Send":           e.Send(id, &engine.Message{Payload: []byte("x")}, 1, now),
		"Send with key":  e.Send(id, &engine.Message{Payload: []byte("x"), Key: "k"}, 2, now),
		"Flush":          e.Flush(id, now),
		"CloseProducer":  e.CloseProducer(id, now),
		"CreateProducer": cerr,
	} {
		if err != ferr {
			t.Errorf("%s after the failure: %v, want %v", what, err, ferr)
		}
	}
	if _, ok := e.ProducerStats(id); ok {
		t.Error("ProducerStats answered after the failure")
	}
	if m, b := e.Room(id); m != 0 || b != 0 {
		t.Errorf("Room %d, %d after the failure, want 0, 0", m, b)
	}
}

// recordHandler is a slog.Handler that keeps every record.
type recordHandler struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *recordHandler) WithGroup(string) slog.Handler            { return h }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.records = append(h.records, r)
	h.mu.Unlock()
	return nil
}

// find returns the attributes of the first record whose message contains
// fragment, and whether there is one.
func (h *recordHandler) find(fragment string) (slog.Level, map[string]string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.records {
		if strings.Contains(r.Message, fragment) {
			attrs := map[string]string{}
			r.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.String(); return true })
			return r.Level, attrs, true
		}
	}
	return 0, nil, false
}

// TestLogRecordsReachTheLogger: with logLevel info (which reaches the
// module in its options JSON; the default, warn, would make neither
// record), the module's records of the connection and the registration
// come out of the host's Engine as Log events and reach the Logger of the
// client options with every field.
func TestLogRecordsReachTheLogger(t *testing.T) {
	h := &recordHandler{}
	logger := slog.New(h)
	c, srv := fakeClient(t, fakebroker.Options{}, ClientOptions{LogLevel: core.LogInfo, Logger: logger}, nil)
	if c.Options().Logger != logger {
		t.Fatal("the client's options lost the Logger")
	}
	p := createProducer(t, c, ProducerOptions{Topic: "logs"})
	addr := strings.TrimPrefix(srv.URL(), "pulsar://")
	level, attrs, ok := h.find("connected to " + addr)
	if !ok || level != slog.LevelInfo || attrs["broker"] != addr || attrs["conn"] == "" || attrs["conn"] == "0" {
		t.Fatalf("connection record: %v, level %v, attributes %v", ok, level, attrs)
	}
	level, attrs, ok = h.find("registered")
	want := map[string]string{"topic": "persistent://public/default/logs", "producer": p.Name(), "broker": addr, "conn": attrs["conn"]}
	if !ok || level != slog.LevelInfo || fmt.Sprint(attrs) != fmt.Sprint(want) || attrs["conn"] == "" {
		t.Fatalf("registration record: %v, level %v, attributes %v; want %v", ok, level, attrs, want)
	}
}

// TestStatsAndRoom: a WASI-hosted producer's stats count what it sent and
// what was acknowledged, gathered messages included; Room reports the
// maxPendingMessages room; the final stats come with the close; and the
// client's stats survive the client.
func TestStatsAndRoom(t *testing.T) {
	// The runtime itself: its producers have Room.
	eng, _ := fakeEngine(t, fakebroker.Options{}, ClientOptions{MemoryLimitBytes: 1 << 20})
	c := driver.NewClientWithEngine(eng)
	defer c.Close()
	const limit = 500
	ctx := context.Background()
	p, err := c.CreateProducer(ctx, ProducerOptions{Topic: "stats", MaxPendingMessages: limit, BatchingMaxPublishDelay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if m, b := p.Room(); m != limit || b != 1<<20 {
		t.Fatalf("Room of an idle producer: %d messages, %d bytes; want %d, %d", m, b, limit, 1<<20)
	}
	const n, size = 300, 10
	payload := make([]byte, size)
	for range n {
		p.SendAsync(ctx, &core.Message{Payload: payload}, nil)
	}
	if m, b := p.Room(); m != limit-n || b != 1<<20-n*size {
		t.Fatalf("Room with %d messages pending: %d messages, %d bytes; want %d, %d", n, m, b, limit-n, 1<<20-n*size)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	s := p.Stats()
	if s.MsgsSent != n || s.MsgsAcked != n || s.BytesSent != n*size || s.BytesAcked != n*size ||
		s.MsgsFailed != 0 || s.PendingMsgs != 0 || s.Latency.Count() != n || s.Latency.Max <= 0 {
		t.Fatalf("stats after %d messages acknowledged: %+v", n, s)
	}
	if m, _ := p.Room(); m != limit {
		t.Fatalf("Room after the flush: %d messages, want %d", m, limit)
	}
	cs := c.Stats()
	if cs.Producers != 1 || cs.Connections != 1 || cs.Connects != 1 || cs.MsgsAcked != n {
		t.Fatalf("client stats: %+v", cs)
	}
	// More messages, then the close: the module forgets the producer, so
	// the counters that include them can only come with its closing event.
	const more = 7
	for range more {
		p.SendAsync(ctx, &core.Message{Payload: payload}, nil)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if s := p.Stats(); s.MsgsSent != n+more || s.MsgsAcked != n+more {
		t.Fatalf("stats after the close: %d sent, %d acknowledged; want %d", s.MsgsSent, s.MsgsAcked, n+more)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if cs := c.Stats(); cs.MsgsAcked != n+more || cs.Producers != 0 || cs.Connects != 1 {
		t.Fatalf("client stats after the close: %+v", cs)
	}
}

// TestEmptyKeyIsSent: HasKey sends an empty partition key; without it no
// key goes out.
func TestEmptyKeyIsSent(t *testing.T) {
	c, srv := fakeClient(t, fakebroker.Options{Record: true}, ClientOptions{}, nil)
	p := createProducer(t, c, ProducerOptions{Topic: "keys", DisableBatching: true})
	ctx := context.Background()
	for _, m := range []*core.Message{
		{Payload: []byte("empty key"), HasKey: true},
		{Payload: []byte("no key")},
		{Payload: []byte("key"), Key: "k"},
	} {
		if _, err := p.Send(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	es := srv.Entries()
	if len(es) != 3 {
		t.Fatalf("%d SENDs, want 3", len(es))
	}
	if k := es[0].Metadata.PartitionKey; k == nil || *k != "" {
		t.Errorf("HasKey with an empty key: partition key %v, want present and empty", k)
	}
	if k := es[1].Metadata.PartitionKey; k != nil {
		t.Errorf("no key: partition key %q, want none", *k)
	}
	if k := es[2].Metadata.GetPartitionKey(); k != "k" {
		t.Errorf("key k: partition key %q", k)
	}
}
