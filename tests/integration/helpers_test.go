// Helpers for the real-broker integration tests: a producer that records
// every outcome, and comparisons of what we sent with what the official
// Java and Go clients consumed.
package integration

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/pulsar-producer/pulsar-producer/core"
	"github.com/pulsar-producer/pulsar-producer/tests/broker"
	"github.com/pulsar-producer/pulsar-producer/tests/javacheck"
	"github.com/pulsar-producer/pulsar-producer/tests/verify"
)

// sentMsg is one message we published and what the producer said of it.
type sentMsg struct {
	msg    core.Message
	seq    int64 // the sequence ID we expect the broker to store
	id     core.MessageID
	err    error
	sentAt time.Time
}

// recorder collects outcomes of SendAsync in send order.
type recorder struct {
	mu   sync.Mutex
	msgs []*sentMsg
	wg   sync.WaitGroup
}

func (r *recorder) send(ctx context.Context, p *core.Producer, m core.Message, seq int64) {
	s := &sentMsg{msg: m, seq: seq, sentAt: time.Now()}
	r.mu.Lock()
	r.msgs = append(r.msgs, s)
	r.mu.Unlock()
	r.wg.Add(1)
	p.SendAsync(ctx, &s.msg, func(id core.MessageID, err error) {
		s.id, s.err = id, err
		r.wg.Done()
	})
}

// wait waits for every outcome and fails the test on any error.
func (r *recorder) wait(t *testing.T) []*sentMsg {
	t.Helper()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("outcomes missing after 60s")
	}
	for i, s := range r.msgs {
		if s.err != nil {
			t.Fatalf("message %d failed: %v", i, s.err)
		}
	}
	return r.msgs
}

func newClient(t *testing.T) *core.Client {
	t.Helper()
	broker.Require(t)
	c, err := core.NewClient(core.ClientOptions{ServiceURL: broker.ServiceURL()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func newProducer(t *testing.T, c *core.Client, opts core.ProducerOptions) *core.Producer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := c.CreateProducer(ctx, opts)
	if err != nil {
		t.Fatalf("CreateProducer(%s): %v", opts.Topic, err)
	}
	return p
}

// checkJava compares one message consumed by the Java client with what we
// sent: every metadata field, and the message ID exactly (the Java client
// numbers batch indexes and partitions as we do).
func checkJava(t *testing.T, i int, got javacheck.Message, want *sentMsg, producerName string) {
	t.Helper()
	m := want.msg
	fail := func(field string, g, w any) {
		t.Errorf("message %d (%q): %s is %v, sent %v", i, m.Payload, field, g, w)
	}
	if !bytes.Equal(got.Payload, m.Payload) && !(len(got.Payload) == 0 && len(m.Payload) == 0) {
		fail("payload", got.Payload, m.Payload)
	}
	if got.NullValue != m.NullValue {
		fail("null value", got.NullValue, m.NullValue)
	}
	if len(got.Properties) != len(m.Properties) {
		fail("properties", got.Properties, m.Properties)
	}
	for k, v := range m.Properties {
		if got.Properties[k] != v {
			fail("property "+k, got.Properties[k], v)
		}
	}
	if got.HasKey != (m.Key != "" || m.HasKey) || got.Key != m.Key {
		fail("key", got.Key, m.Key)
	}
	if got.HasOrderingKey != (len(m.OrderingKey) > 0) || !bytes.Equal(got.OrderingKey, m.OrderingKey) {
		fail("ordering key", got.OrderingKey, m.OrderingKey)
	}
	if want := m.EventTime; (want.IsZero() && got.EventTime != 0) || (!want.IsZero() && got.EventTime != want.UnixMilli()) {
		fail("event time", got.EventTime, want)
	}
	if got.SequenceID != want.seq {
		fail("sequence ID", got.SequenceID, want.seq)
	}
	if got.ProducerName != producerName {
		fail("producer name", got.ProducerName, producerName)
	}
	if pt := time.UnixMilli(got.PublishTime); pt.Before(want.sentAt.Add(-time.Second)) || pt.After(want.sentAt.Add(time.Minute)) {
		fail("publish time", pt, want.sentAt)
	}
	wantClusters := m.ReplicationClusters
	if m.DisableReplication {
		wantClusters = []string{"__local__"}
	}
	if fmt.Sprint(got.ReplicateTo) != fmt.Sprint(wantClusters) && !(len(got.ReplicateTo) == 0 && len(wantClusters) == 0) {
		fail("replicate_to", got.ReplicateTo, wantClusters)
	}
	var wantDeliver int64
	switch {
	case !m.DeliverAt.IsZero():
		wantDeliver = m.DeliverAt.UnixMilli()
	case m.DeliverAfter > 0:
		wantDeliver = want.sentAt.Add(m.DeliverAfter).UnixMilli()
	}
	switch {
	case wantDeliver == 0 && got.DeliverAtTime != nil:
		fail("deliver-at", *got.DeliverAtTime, "none")
	case wantDeliver != 0 && got.DeliverAtTime == nil:
		fail("deliver-at", "none", wantDeliver)
	case wantDeliver != 0 && (*got.DeliverAtTime < wantDeliver-1000 || *got.DeliverAtTime > wantDeliver+1000):
		fail("deliver-at", *got.DeliverAtTime, wantDeliver)
	case wantDeliver != 0 && got.ReceivedAtMillis < *got.DeliverAtTime:
		fail("delivery time (delivered early)", got.ReceivedAtMillis, *got.DeliverAtTime)
	}
	gotID := core.MessageID{LedgerID: got.LedgerID, EntryID: got.EntryID, Partition: got.Partition, BatchIndex: got.BatchIndex, BatchSize: got.BatchSize}
	if gotID != want.id {
		fail("message ID", gotID.GoString(), want.id.GoString())
	}
}

// checkGo compares one message consumed by the Go client with what we sent.
func checkGo(t *testing.T, i int, got pulsar.Message, want *sentMsg, producerName string) {
	t.Helper()
	m := want.msg
	if !bytes.Equal(got.Payload(), m.Payload) && !(len(got.Payload()) == 0 && len(m.Payload) == 0) {
		t.Errorf("message %d: Go client read payload %q, sent %q", i, got.Payload(), m.Payload)
	}
	if got.Key() != m.Key || got.OrderingKey() != string(m.OrderingKey) {
		t.Errorf("message %d: Go client read key %q ordering key %q, sent %q %q", i, got.Key(), got.OrderingKey(), m.Key, m.OrderingKey)
	}
	if len(got.Properties()) != len(m.Properties) {
		t.Errorf("message %d: Go client read properties %v, sent %v", i, got.Properties(), m.Properties)
	}
	for k, v := range m.Properties {
		if got.Properties()[k] != v {
			t.Errorf("message %d: Go client read property %s=%q, sent %q", i, k, got.Properties()[k], v)
		}
	}
	if !m.EventTime.IsZero() && !got.EventTime().Equal(m.EventTime.Truncate(time.Millisecond)) {
		t.Errorf("message %d: Go client read event time %v, sent %v", i, got.EventTime(), m.EventTime)
	}
	if got.ProducerName() != producerName {
		t.Errorf("message %d: Go client read producer %q, want %q", i, got.ProducerName(), producerName)
	}
	if g, w := verify.IDOf(got.ID()), verify.GoView(want.id); g != w {
		t.Errorf("message %d: Go client read ID %+v, our receipt said %+v (%v)", i, g, w, want.id)
	}
}
