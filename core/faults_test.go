// The runtime against a broker that misbehaves: connections cut, receipts
// late or refused, producers unloaded or refused, a silent broker, an HTTP
// port, a small message size limit. Each test drives the public API
// against internal/fakebroker, which reads our frames with the generated
// protocol code, and checks what the application sees (results, errors,
// callbacks) and, through the broker's counters and recorded entries, what
// went over the wire.
package core

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/pulsar-producer/pulsar-producer/internal/fakebroker"
	"github.com/pulsar-producer/pulsar-producer/internal/pb"
)

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var quiet = slog.New(slog.DiscardHandler)

// newProducer creates a client on fb and a producer on a topic named after
// the test; the client is closed when the test ends.
func newProducer(t *testing.T, fb *fakebroker.Server, copts ClientOptions, popts ProducerOptions) (*Client, *Producer) {
	t.Helper()
	copts.ServiceURL = fb.URL()
	if copts.Logger == nil {
		copts.Logger = quiet // the faults are on purpose: their warnings are noise
	}
	client, err := NewClient(copts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	if popts.Topic == "" {
		popts.Topic = "persistent://public/default/" + t.Name()
	}
	p, err := client.CreateProducer(testContext(t), popts)
	if err != nil {
		t.Fatal(err)
	}
	return client, p
}

// results collects SendAsync outcomes in the order the callbacks ran.
type results struct {
	mu   sync.Mutex
	ids  []MessageID
	errs []error // one per callback, nil for a success
}

func (r *results) cb(id MessageID, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ids = append(r.ids, id)
	r.errs = append(r.errs, err)
}

// counts returns how many callbacks succeeded, and the errors of the rest.
func (r *results) counts() (ok int, errs []error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, err := range r.errs {
		if err == nil {
			ok++
		} else {
			errs = append(errs, err)
		}
	}
	return ok, errs
}

func (r *results) snapshot() ([]MessageID, []error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]MessageID(nil), r.ids...), append([]error(nil), r.errs...)
}

// Batching end to end: every callback runs once, in send order, with the
// broker's message ID, and checksums computed by the engine are right.
func TestBatchedSendAsync(t *testing.T) {
	fb := fakebroker.Start(t, fakebroker.Options{LedgerID: 7})
	_, p := newProducer(t, fb, ClientOptions{}, ProducerOptions{BatchingMaxMessages: 100})
	ctx := testContext(t)
	const n = 10000
	var r results
	payload := make([]byte, 100)
	for range n {
		p.SendAsync(ctx, &Message{Payload: payload}, r.cb)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	ids, errs := r.snapshot()
	if len(ids) != n {
		t.Fatalf("%d callbacks for %d messages", len(ids), n)
	}
	for i, id := range ids {
		if errs[i] != nil || id.LedgerID != 7 {
			t.Fatalf("message %d: %+v, %v", i, id, errs[i])
		}
		if i > 0 {
			prev := ids[i-1]
			if id.EntryID < prev.EntryID || (id.EntryID == prev.EntryID && id.BatchIndex <= prev.BatchIndex) {
				t.Fatalf("callback %d ran after %+v with %+v: out of send order", i, prev, id)
			}
		}
	}
	id, err := p.Send(ctx, &Message{Payload: payload})
	if err != nil || id.LedgerID != 7 {
		t.Fatalf("Send: %+v, %v", id, err)
	}
	st := fb.Stats()
	if st.Messages != n+1 || st.AckedMessages != n+1 || st.Frames != st.Receipts || st.ChecksumErrors != 0 || st.SendErrors != 0 {
		t.Fatalf("stats %+v", st)
	}
	if st.Frames < n/100 || st.Frames > n/10 {
		t.Fatalf("%d frames for %d messages in batches of up to 100", st.Frames, n)
	}
	if st.Producers != 1 || st.LiveProducers != 1 {
		t.Fatalf("producers: %d registered, %d live", st.Producers, st.LiveProducers)
	}
}

func TestPartitionedProducer(t *testing.T) {
	fb := fakebroker.Start(t, fakebroker.Options{Partitions: 3})
	_, p := newProducer(t, fb, ClientOptions{}, ProducerOptions{})
	if p.NumPartitions() != 3 {
		t.Fatalf("NumPartitions = %d", p.NumPartitions())
	}
	ctx := testContext(t)
	parts := map[int32]int{}
	byKey := map[string]int32{}
	for i := range 60 {
		key := string(rune('a' + i%30))
		id, err := p.Send(ctx, &Message{Payload: []byte("x"), Key: key})
		if err != nil {
			t.Fatal(err)
		}
		if was, seen := byKey[key]; seen && was != id.Partition {
			t.Fatalf("key %q went to partitions %d and %d", key, was, id.Partition)
		}
		byKey[key] = id.Partition
		parts[id.Partition]++
	}
	if len(parts) != 3 || parts[-1] != 0 {
		t.Fatalf("messages by partition: %v", parts)
	}
	if got := fb.Stats().LiveProducers; got != 3 {
		t.Fatalf("%d producers registered, want one per partition", got)
	}
}

func TestReconnectAfterConnectionsClose(t *testing.T) {
	fb := fakebroker.Start(t, fakebroker.Options{})
	client, p := newProducer(t, fb, ClientOptions{InitialBackoff: 10 * time.Millisecond}, ProducerOptions{})
	ctx := testContext(t)
	if _, err := p.Send(ctx, &Message{Payload: []byte("before")}); err != nil {
		t.Fatal(err)
	}
	if n := fb.CloseConnections(); n != 1 {
		t.Fatalf("closed %d connections", n)
	}
	if _, err := p.Send(ctx, &Message{Payload: []byte("after")}); err != nil {
		t.Fatal(err)
	}
	if st := fb.Stats(); st.Connections != 2 || st.OpenConnections != 1 || st.Producers != 2 {
		t.Fatalf("stats %+v", st)
	}
	if st := p.Stats(); st.Reconnects != 1 || st.MsgsAcked != 2 {
		t.Fatalf("producer stats %+v", st)
	}
	if st := client.Stats(); st.Connects != 2 || st.Connections != 1 {
		t.Fatalf("client stats %+v", st)
	}
}

// A connection lost with messages in flight: every message completes once,
// and whatever is written again carries its original sequence ID and
// payload, so that a deduplicating broker would store it once.
func TestDropAfterSendsResendsUnchanged(t *testing.T) {
	fb := fakebroker.Start(t, fakebroker.Options{Record: true})
	_, p := newProducer(t, fb, ClientOptions{InitialBackoff: 10 * time.Millisecond}, ProducerOptions{DisableBatching: true})
	ctx := testContext(t)
	fb.DropAfterSends(3)
	var r results
	for i := range 10 {
		p.SendAsync(ctx, &Message{Payload: fmt.Appendf(nil, "m%d", i)}, r.cb)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, errs := r.counts(); ok != 10 {
		t.Fatalf("%d ok, errors %v", ok, errs)
	}
	if st := fb.Stats(); st.Connections != 2 {
		t.Fatalf("stats %+v", st)
	}
	entries := fb.Entries()
	payloads := map[uint64]string{}
	for _, e := range entries {
		seq, body := e.Send.GetSequenceId(), string(e.Payload)
		if was, seen := payloads[seq]; seen && was != body {
			t.Fatalf("sequence ID %d sent as %q and as %q", seq, was, body)
		}
		if body != fmt.Sprintf("m%d", seq) || e.Metadata.GetSequenceId() != seq {
			t.Fatalf("entry %+v", e)
		}
		payloads[seq] = body
	}
	if len(payloads) != 10 || len(entries) <= 3 {
		t.Fatalf("%d entries over %d sequence IDs", len(entries), len(payloads))
	}
}

func TestReceiptDelay(t *testing.T) {
	fb := fakebroker.Start(t, fakebroker.Options{})
	_, p := newProducer(t, fb, ClientOptions{}, ProducerOptions{})
	ctx := testContext(t)
	fb.SetReceiptDelay(150 * time.Millisecond)
	var r results
	start := time.Now()
	for range 5 {
		p.SendAsync(ctx, &Message{Payload: []byte("slow")}, r.cb)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("Flush returned after %v with a 150ms receipt delay", d)
	}
	if ok, errs := r.counts(); ok != 5 {
		t.Fatalf("%d ok, errors %v", ok, errs)
	}
	fb.SetReceiptDelay(0)
	start = time.Now()
	if _, err := p.Send(ctx, &Message{Payload: []byte("fast")}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d >= 150*time.Millisecond {
		t.Fatalf("a send took %v after the delay was lifted", d)
	}
}

func TestFailNextSend(t *testing.T) {
	fb := fakebroker.Start(t, fakebroker.Options{})
	_, p := newProducer(t, fb, ClientOptions{}, ProducerOptions{})
	ctx := testContext(t)
	fb.FailNextSend(pb.ServerError_NotAllowedError)
	_, err := p.Send(ctx, &Message{Payload: []byte("refused")})
	expectCode(t, err, CodeNotAllowedError, "NotAllowedError")
	if _, err := p.Send(ctx, &Message{Payload: []byte("accepted")}); err != nil {
		t.Fatal(err)
	}
	if st := fb.Stats(); st.SendErrors != 1 || st.Receipts != 1 || st.Connections != 1 {
		t.Fatalf("stats %+v", st)
	}
	if st := p.Stats(); st.MsgsFailed != 1 || st.MsgsAcked != 1 {
		t.Fatalf("producer stats %+v", st)
	}
}

// A transient send error (storage failed) is not the message's fault: the
// runtime reconnects and writes it again, and the application sees success.
func TestTransientSendErrorResends(t *testing.T) {
	fb := fakebroker.Start(t, fakebroker.Options{})
	_, p := newProducer(t, fb, ClientOptions{InitialBackoff: 10 * time.Millisecond}, ProducerOptions{})
	fb.FailNextSend(pb.ServerError_PersistenceError)
	if _, err := p.Send(testContext(t), &Message{Payload: []byte("m")}); err != nil {
		t.Fatal(err)
	}
	if st := fb.Stats(); st.SendErrors != 1 || st.Receipts != 1 || st.Connections != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestUnloadProducers(t *testing.T) {
	fb := fakebroker.Start(t, fakebroker.Options{})
	_, p := newProducer(t, fb, ClientOptions{InitialBackoff: 10 * time.Millisecond}, ProducerOptions{})
	ctx := testContext(t)
	if n := fb.UnloadProducers(); n != 1 {
		t.Fatalf("unloaded %d producers", n)
	}
	waitFor(t, 5*time.Second, "the producer to register again", func() bool { return fb.Stats().Producers == 2 })
	if _, err := p.Send(ctx, &Message{Payload: []byte("after unload")}); err != nil {
		t.Fatal(err)
	}
	if st := fb.Stats(); st.Connections != 1 || st.LiveProducers != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// A broker that stops answering, PINGs included: keepalive declares the
// connection dead (after two intervals of the shortest allowed, 1 s),
// reconnects time out too, and once the broker answers again the pending
// message goes through.
func TestSilence(t *testing.T) {
	fb := fakebroker.Start(t, fakebroker.Options{})
	_, p := newProducer(t, fb, ClientOptions{
		KeepAliveInterval: time.Second,
		ConnectionTimeout: 200 * time.Millisecond,
		InitialBackoff:    10 * time.Millisecond,
		MaxBackoff:        50 * time.Millisecond,
	}, ProducerOptions{})
	ctx := testContext(t)
	fb.SetSilent(true)
	var r results
	p.SendAsync(ctx, &Message{Payload: []byte("unanswered")}, r.cb)
	waitFor(t, 5*time.Second, "the client to give up on the silent connection", func() bool { return fb.Stats().Connections >= 2 })
	if st := fb.Stats(); st.Receipts != 0 || st.Frames != 0 {
		t.Fatalf("stats while silent %+v", st)
	}
	fb.SetSilent(false)
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, errs := r.counts(); ok != 1 {
		t.Fatalf("%d ok, errors %v", ok, errs)
	}
}

// A broker that refuses the first registration fails CreateProducer with
// the broker's code and message.
func TestRefusedRegistration(t *testing.T) {
	fb := fakebroker.Start(t, fakebroker.Options{})
	fb.RefuseProducers(1, pb.ServerError_AuthorizationError, "role tester may not produce")
	client, err := NewClient(ClientOptions{ServiceURL: fb.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	_, err = client.CreateProducer(testContext(t), ProducerOptions{Topic: "t"})
	expectCode(t, err, CodeAuthorizationError, "role tester may not produce")
	if st := client.Stats(); st.Producers != 0 {
		t.Fatalf("a refused producer is counted: %+v", st)
	}
	// The refusal was for one registration only.
	p, err := client.CreateProducer(testContext(t), ProducerOptions{Topic: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Send(testContext(t), &Message{Payload: []byte("x")}); err != nil {
		t.Fatal(err)
	}
}

// A registered producer whose re-registration is fenced fails for good:
// sends fail with ProducerFenced, Close releases it, and a second Close is
// an error.
func TestFencedReRegistration(t *testing.T) {
	fb := fakebroker.Start(t, fakebroker.Options{})
	_, p := newProducer(t, fb, ClientOptions{InitialBackoff: 10 * time.Millisecond}, ProducerOptions{})
	ctx := testContext(t)
	fb.RefuseProducers(1, pb.ServerError_ProducerFenced, "fenced by an exclusive producer")
	fb.UnloadProducers()
	waitFor(t, 5*time.Second, "the re-registration", func() bool { return fb.Stats().RefusedProducers == 1 })
	var err error
	waitFor(t, 5*time.Second, "sends to fail", func() bool {
		_, err = p.Send(ctx, &Message{Payload: []byte("x")})
		return err != nil
	})
	expectCode(t, err, CodeProducerFenced, "fenced by an exclusive producer")
	if err := p.Flush(ctx); CodeOf(err) != CodeAlreadyClosed {
		t.Fatalf("Flush of a failed producer: %v", err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatalf("Close of a failed producer: %v", err)
	}
	expectCode(t, p.Close(ctx), CodeAlreadyClosed, "already closed")
	if st := fb.Stats(); st.Producers != 1 || st.LiveProducers != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// A refusal that may clear (the topic is moving) is retried with backoff.
func TestRetriableRefusalIsRetried(t *testing.T) {
	fb := fakebroker.Start(t, fakebroker.Options{})
	_, p := newProducer(t, fb, ClientOptions{InitialBackoff: 10 * time.Millisecond}, ProducerOptions{})
	fb.RefuseProducers(2, pb.ServerError_ServiceNotReady, "the topic is moving")
	fb.UnloadProducers()
	waitFor(t, 5*time.Second, "the registration to succeed again", func() bool { return fb.Stats().Producers == 2 })
	if _, err := p.Send(testContext(t), &Message{Payload: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if st := fb.Stats(); st.RefusedProducers != 2 || st.Producers != 2 || st.Receipts != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// A service URL that names an HTTP port fails at once with an error that
// says so, rather than waiting for a handshake timeout.
func TestHTTPPort(t *testing.T) {
	fb := fakebroker.Start(t, fakebroker.Options{HTTP: true})
	client, err := NewClient(ClientOptions{ServiceURL: fb.URL(), ConnectionTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	start := time.Now()
	_, err = client.CreateProducer(testContext(t), ProducerOptions{Topic: "t"})
	expectCode(t, err, CodeConnectError, "answered in HTTP")
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("failed after %v", d)
	}
}

// The broker's announced maxMessageSize bounds single messages and caps
// batches, which would otherwise grow to batchingMaxBytes (128 KiB).
func TestAnnouncedMaxMessageSize(t *testing.T) {
	const limit = 10 << 10
	fb := fakebroker.Start(t, fakebroker.Options{MaxMessageSize: limit, Record: true})
	_, p := newProducer(t, fb, ClientOptions{}, ProducerOptions{BatchingMaxPublishDelay: time.Second})
	ctx := testContext(t)
	_, err := p.Send(ctx, &Message{Payload: make([]byte, 2*limit)})
	expectCode(t, err, CodeMessageTooBig, fmt.Sprint(limit))
	var r results
	for range 50 {
		p.SendAsync(ctx, &Message{Payload: make([]byte, 1000)}, r.cb)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, errs := r.counts(); ok != 50 {
		t.Fatalf("%d ok, errors %v", ok, errs)
	}
	for _, e := range fb.Entries() {
		if len(e.Payload) > limit {
			t.Fatalf("an entry of %d bytes over a limit of %d", len(e.Payload), limit)
		}
	}
	if st := fb.Stats(); st.Connections != 1 || st.Frames < 5 {
		t.Fatalf("stats %+v", st)
	}
}
