// Regression tests against the real broker for defects found by trying the
// library as a new user would: the size limit at the broker's boundary,
// fencing, multi-host service URLs, HTTP ports, bounded and cancellable
// creation, and the logs and stats that make all of it visible.
package integration

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulsar-producer/pulsar-producer/core"
	"github.com/pulsar-producer/pulsar-producer/tests/broker"
	"github.com/pulsar-producer/pulsar-producer/tests/javacheck"
)

// TestFrameLimitAtTheBrokersBoundary finds the largest message with a
// 20 KB key that the producer accepts under the broker's 5 MiB limit: it is
// stored (the Java client reads it back), one byte more fails with
// MessageTooBig, nothing reconnects, and the messages around it succeed.
func TestFrameLimitAtTheBrokersBoundary(t *testing.T) {
	c := newClient(t)
	topic := broker.NewTopic(t, "limit")
	p := newProducer(t, c, core.ProducerOptions{Topic: topic, DisableBatching: true, SendTimeout: 20 * time.Second})
	ctx := context.Background()
	key := strings.Repeat("k", 20000)
	send := func(n int) error {
		_, err := p.Send(ctx, &core.Message{Payload: bytes.Repeat([]byte{'p'}, n), Key: key})
		return err
	}
	if err := send(1); err != nil {
		t.Fatal(err)
	}
	const limit = 5 << 20
	lo, hi := limit-64<<10, limit // lo fits, hi does not (the key alone takes 20 KB)
	if err := send(lo); err != nil {
		t.Fatalf("%d bytes: %v", lo, err)
	}
	if err := send(hi); !errors.Is(err, core.ErrMessageTooBig) {
		t.Fatalf("%d bytes: %v, want MessageTooBig", hi, err)
	}
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		switch err := send(mid); {
		case err == nil:
			lo = mid
		case errors.Is(err, core.ErrMessageTooBig):
			hi = mid
		default:
			t.Fatalf("%d bytes: %v", mid, err)
		}
	}
	t.Logf("largest payload with a 20000-byte key: %d bytes", lo)
	if err := send(lo + 1); !errors.Is(err, core.ErrMessageTooBig) || !strings.Contains(err.Error(), "5242880") {
		t.Fatalf("one byte over the boundary: %v", err)
	}
	id, err := p.Send(ctx, &core.Message{Payload: []byte("after")})
	if err != nil {
		t.Fatalf("the message after the oversize ones: %v", err)
	}
	if st := p.Stats(); st.Reconnects != 0 {
		t.Fatalf("%d reconnects: an oversize frame reached the broker", st.Reconnects)
	}
	// Read back: the boundary message is stored whole.
	var found bool
	for _, m := range javacheck.Consume(t, topic, 100, javacheck.Options{AllowFewer: true, Timeout: 5 * time.Second}) {
		if len(m.Payload) == lo && m.Key == key {
			found = true
		}
		if string(m.Payload) == "after" && (m.LedgerID != id.LedgerID || m.EntryID != id.EntryID) {
			t.Errorf("after: stored at %d:%d, receipt said %v", m.LedgerID, m.EntryID, id)
		}
	}
	if !found {
		t.Fatalf("the Java client did not find the %d-byte boundary message", lo)
	}
}

// TestFencedSharedProducerFailsPromptly: once an exclusiveWithFencing
// producer takes the topic, the shared producer's pending and later sends
// fail within seconds with the broker's reason, not after sendTimeout.
func TestFencedSharedProducerFailsPromptly(t *testing.T) {
	c := newClient(t)
	topic := broker.NewTopic(t, "fenced")
	shared := newProducer(t, c, core.ProducerOptions{Topic: topic, SendTimeout: time.Minute})
	ctx := context.Background()
	if _, err := shared.Send(ctx, &core.Message{Payload: []byte("before")}); err != nil {
		t.Fatal(err)
	}
	c2 := newClient(t)
	newProducer(t, c2, core.ProducerOptions{Topic: topic, AccessMode: core.AccessExclusiveWithFencing})
	start := time.Now()
	var err error
	for time.Since(start) < 20*time.Second {
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		_, err = shared.Send(sctx, &core.Message{Payload: []byte("after")})
		cancel()
		if err != nil {
			break
		}
		time.Sleep(50 * time.Millisecond) // the broker may still take a send just before it fences
	}
	took := time.Since(start)
	code := core.CodeOf(err)
	if code != core.CodeProducerFenced && code != core.CodeProducerBusy {
		t.Fatalf("after fencing: %v (%v), want ProducerFenced or ProducerBusy", err, code)
	}
	if took > 10*time.Second {
		t.Fatalf("the fenced producer learned it only after %v", took)
	}
	t.Logf("fenced after %v: %v", took.Round(time.Millisecond), err)
	done := make(chan error, 1)
	shared.SendAsync(ctx, &core.Message{Payload: []byte("later")}, func(_ core.MessageID, err error) { done <- err })
	select {
	case err := <-done:
		if core.CodeOf(err) != code {
			t.Fatalf("a later send: %v, want %v", err, code)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("a later send did not fail promptly")
	}
}

// TestServiceURLFailsOver: with the first host down, every start reaches
// the second host.
func TestServiceURLFailsOver(t *testing.T) {
	broker.Require(t)
	u := "pulsar://127.0.0.1:1," + strings.TrimPrefix(broker.ServiceURL(), "pulsar://")
	topic := broker.NewTopic(t, "failover")
	for i := range 20 {
		c, err := core.NewClient(core.ClientOptions{ServiceURL: u})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		p, err := c.CreateProducer(ctx, core.ProducerOptions{Topic: topic})
		cancel()
		if err != nil {
			t.Fatalf("start %d of 20: %v", i+1, err)
		}
		p.Close(context.Background())
		c.Close()
	}
}

func TestHTTPPortIsNamed(t *testing.T) {
	broker.Require(t)
	u := "pulsar://" + strings.TrimPrefix(broker.AdminURL(), "http://")
	c, err := core.NewClient(core.ClientOptions{ServiceURL: u})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err = c.CreateProducer(ctx, core.ProducerOptions{Topic: "t"})
	if core.CodeOf(err) != core.CodeConnectError || !strings.Contains(err.Error(), "points at an HTTP port") {
		t.Fatalf("creating on the HTTP port: %v", err)
	}
}

// TestCreationIsBoundedAndCancellable: a waitForExclusive producer waits
// behind an exclusive one until createTimeout, or until its context ends,
// and gets the topic once the owner leaves.
func TestCreationIsBoundedAndCancellable(t *testing.T) {
	c := newClient(t)
	topic := broker.NewTopic(t, "wait-excl")
	owner := newProducer(t, c, core.ProducerOptions{Topic: topic, AccessMode: core.AccessExclusive})
	start := time.Now()
	_, err := c.CreateProducer(context.Background(), core.ProducerOptions{Topic: topic, AccessMode: core.AccessWaitForExclusive, CreateTimeout: time.Second})
	if !errors.Is(err, core.ErrTimeout) || !strings.Contains(err.Error(), "createTimeout") || time.Since(start) > 5*time.Second {
		t.Fatalf("createTimeout: %v after %v", err, time.Since(start))
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(300 * time.Millisecond); cancel() }()
	start = time.Now()
	_, err = c.CreateProducer(ctx, core.ProducerOptions{Topic: topic, AccessMode: core.AccessWaitForExclusive})
	if core.CodeOf(err) != core.CodeInterrupted || time.Since(start) > 3*time.Second {
		t.Fatalf("cancelled creation: %v after %v", err, time.Since(start))
	}
	type result struct {
		p   *core.Producer
		err error
	}
	got := make(chan result, 1)
	go func() {
		p, err := c.CreateProducer(context.Background(), core.ProducerOptions{Topic: topic, AccessMode: core.AccessWaitForExclusive})
		got <- result{p, err}
	}()
	time.Sleep(300 * time.Millisecond)
	if err := owner.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-got:
		if r.err != nil {
			t.Fatalf("waiting producer: %v", r.err)
		}
		if _, err := r.p.Send(context.Background(), &core.Message{Payload: []byte("mine now")}); err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the waiting producer did not get the topic")
	}
}

// recordHandler keeps slog records.
type recordHandler struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.recs = append(h.recs, r)
	h.mu.Unlock()
	return nil
}
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordHandler) WithGroup(string) slog.Handler      { return h }

// TestLogsAndStats: a client's log records reach its slog.Logger with their
// fields, at the chosen level, and stats count what was sent.
func TestLogsAndStats(t *testing.T) {
	broker.Require(t)
	h := &recordHandler{}
	c, err := core.NewClient(core.ClientOptions{ServiceURL: broker.ServiceURL(), LogLevel: core.LogInfo, Logger: slog.New(h)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	topic := broker.NewTopic(t, "logs")
	p := newProducer(t, c, core.ProducerOptions{Topic: topic})
	for range 100 {
		p.SendAsync(context.Background(), &core.Message{Payload: []byte("x")}, nil)
	}
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	var found bool
	for _, r := range h.recs {
		if r.Level == slog.LevelInfo && strings.Contains(r.Message, "registered") {
			attrs := map[string]string{}
			r.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.String(); return true })
			found = attrs["topic"] == topic && attrs["producer"] == p.Name() && attrs["broker"] != ""
		}
	}
	h.mu.Unlock()
	if !found {
		t.Fatalf("no registration record with topic, producer and broker among %d records", len(h.recs))
	}
	st := p.Stats()
	if st.MsgsSent != 100 || st.MsgsAcked != 100 || st.PendingMsgs != 0 || st.Latency.Count() != 100 || st.Latency.Percentile(0.5) <= 0 {
		t.Fatalf("producer stats %+v", st)
	}
	if cs := c.Stats(); cs.MsgsAcked != 100 || cs.Connections != 1 || cs.Producers != 1 {
		t.Fatalf("client stats %+v", cs)
	}
}
