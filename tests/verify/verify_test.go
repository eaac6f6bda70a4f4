package verify

// Tests of the Go-client consumer against the real broker, including the
// empirical batch index / batch size facts recorded in verify.go.

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/pulsar-producer/pulsar-producer/tests/broker"
	"github.com/pulsar-producer/pulsar-producer/tests/javacheck"
)

func TestConsumeExclusiveAndShared(t *testing.T) {
	client := NewClient(t)
	topic := broker.NewTopic(t, "verify")
	producer, err := client.CreateProducer(pulsar.ProducerOptions{Topic: topic})
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	for i := 0; i < 5; i++ {
		if _, err := producer.Send(context.Background(), &pulsar.ProducerMessage{Payload: []byte(fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
	msgs := Consume(t, topic, 5, Options{Subscription: "s1"})
	for i, m := range msgs {
		if string(m.Payload()) != fmt.Sprint(i) {
			t.Errorf("message %d: payload %q", i, m.Payload())
		}
	}
	// Acked on s1: nothing more there; a new Shared subscription sees all.
	if more := Consume(t, topic, 1, Options{Subscription: "s1", Timeout: time.Second, AllowFewer: true}); len(more) != 0 {
		t.Fatalf("s1 redelivered %d messages after ack", len(more))
	}
	if got := Consume(t, topic, 5, Options{Shared: true}); len(got) != 5 {
		t.Fatalf("shared: %d messages", len(got))
	}
}

// TestBatchIndexReporting produces
//
//  1. one message with the Java CLI with batching disabled (-db),
//  2. one message with the Java CLI with batching left on,
//  3. one message with the Go client with batching disabled,
//  4. a batch of 3 with the Go client,
//  5. a batch of 1 with the Go client (batching on, flushed after one send),
//
// and checks how the Go and Java consumers report batch index and size.
func TestBatchIndexReporting(t *testing.T) {
	client := NewClient(t)
	topic := broker.NewTopic(t, "batchidx")
	broker.RunTool(t, "pulsar-client", "produce", "-m", "cli-nobatch", "-n", "1", "-db", topic)
	broker.RunTool(t, "pulsar-client", "produce", "-m", "cli-batching-on", "-n", "1", topic)

	plain, err := client.CreateProducer(pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	// What the Go PRODUCER reports in its send receipts, by payload.
	sendIDs := map[string]ID{}
	plainID, err := plain.Send(context.Background(), &pulsar.ProducerMessage{Payload: []byte("go-nobatch")})
	if err != nil {
		t.Fatal(err)
	}
	sendIDs["go-nobatch"] = IDOf(plainID)
	batching, err := client.CreateProducer(pulsar.ProducerOptions{Topic: topic, BatchingMaxPublishDelay: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer batching.Close()
	sendBatch := func(payloads ...string) {
		done := make(chan error, len(payloads))
		ids := make([]pulsar.MessageID, len(payloads))
		for i, p := range payloads {
			batching.SendAsync(context.Background(), &pulsar.ProducerMessage{Payload: []byte(p)},
				func(id pulsar.MessageID, _ *pulsar.ProducerMessage, err error) { ids[i] = id; done <- err })
		}
		if err := batching.Flush(); err != nil {
			t.Fatal(err)
		}
		for range payloads {
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
		for i, p := range payloads {
			sendIDs[p] = IDOf(ids[i])
		}
	}
	sendBatch("go-batch-0", "go-batch-1", "go-batch-2")
	sendBatch("go-batch-of-one")

	type idx struct{ index, size int32 }
	// The Go consumer reports a non-batched message as batch index 0 of a
	// batch of 1, exactly like a real batch of one, and partition 0 on a
	// non-partitioned topic.
	wantGo := map[string]idx{
		"cli-nobatch": {0, 1}, "cli-batching-on": {0, 1}, "go-nobatch": {0, 1},
		"go-batch-0": {0, 3}, "go-batch-1": {1, 3}, "go-batch-2": {2, 3},
		"go-batch-of-one": {0, 1},
	}
	// The Java consumer says -1/0 for a non-batched message, -1 for the
	// partition of a non-partitioned topic, and tells a batch of one apart.
	wantJava := map[string]idx{
		"cli-nobatch": {-1, 0}, "cli-batching-on": {-1, 0}, "go-nobatch": {-1, 0},
		"go-batch-0": {0, 3}, "go-batch-1": {1, 3}, "go-batch-2": {2, 3},
		"go-batch-of-one": {0, 1},
	}

	goMsgs := Consume(t, topic, len(wantGo), Options{})
	for _, m := range goMsgs {
		id := IDOf(m.ID())
		got := idx{id.BatchIndex, id.BatchSize}
		t.Logf("Go client:   %-16s ledger %d entry %d partition %d batchIndex %d batchSize %d",
			m.Payload(), id.Ledger, id.Entry, id.Partition, id.BatchIndex, id.BatchSize)
		if want := wantGo[string(m.Payload())]; got != want || id.Partition != 0 {
			t.Errorf("Go client: %s: got %+v partition %d, want %+v", m.Payload(), got, id.Partition, want)
		}
	}
	for _, p := range []string{"go-nobatch", "go-batch-0", "go-batch-1", "go-batch-2", "go-batch-of-one"} {
		id := sendIDs[p]
		t.Logf("Go producer: %-16s ledger %d entry %d partition %d batchIndex %d batchSize %d",
			p, id.Ledger, id.Entry, id.Partition, id.BatchIndex, id.BatchSize)
		// The producer's receipts use the same convention as the consumer.
		if want := wantGo[p]; (idx{id.BatchIndex, id.BatchSize}) != want || id.Partition != 0 {
			t.Errorf("Go producer: %s: got %+v, want %+v partition 0", p, id, want)
		}
	}
	javaMsgs := javacheck.Consume(t, topic, len(wantJava), javacheck.Options{})
	for _, m := range javaMsgs {
		got := idx{m.BatchIndex, m.BatchSize}
		t.Logf("Java client: %-16s ledger %d entry %d partition %d batchIndex %d batchSize %d",
			m.Payload, m.LedgerID, m.EntryID, m.Partition, m.BatchIndex, m.BatchSize)
		if want := wantJava[string(m.Payload)]; got != want || m.Partition != -1 {
			t.Errorf("Java client: %s: got %+v partition %d, want %+v", m.Payload, got, m.Partition, want)
		}
	}
}

func TestIDOf(t *testing.T) {
	client := NewClient(t)
	topic := broker.NewTopic(t, "idof")
	broker.CreatePartitionedTopic(t, topic, 2)
	producer, err := client.CreateProducer(pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	sent := map[ID]bool{}
	for i := 0; i < 4; i++ {
		id, err := producer.Send(context.Background(), &pulsar.ProducerMessage{Payload: []byte{byte(i)}, Key: fmt.Sprint(i)})
		if err != nil {
			t.Fatal(err)
		}
		sent[IDOf(id)] = true
	}
	for _, m := range Consume(t, topic, 4, Options{}) {
		id := IDOf(m.ID())
		if !sent[id] {
			t.Errorf("received id %+v not among sent ids %v", id, sent)
		}
		if id.Partition < 0 || id.Partition > 1 {
			t.Errorf("partition %d", id.Partition)
		}
	}
}
