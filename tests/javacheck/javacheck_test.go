package javacheck

// Tests of the Java consumer against the real broker: messages are produced
// with the official Go client and read back with JavaCheck.

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/pulsar-producer/pulsar-producer/tests/broker"
	"github.com/pulsar-producer/pulsar-producer/tests/verify"
)

func sendAsync(t *testing.T, p pulsar.Producer, msgs []*pulsar.ProducerMessage) []pulsar.MessageID {
	t.Helper()
	ids := make([]pulsar.MessageID, len(msgs))
	errs := make(chan error, len(msgs))
	for i, m := range msgs {
		p.SendAsync(context.Background(), m, func(id pulsar.MessageID, _ *pulsar.ProducerMessage, err error) {
			ids[i] = id
			errs <- err
		})
	}
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	for range msgs {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

func TestParse(t *testing.T) {
	out := "[warning][cds] noise\n" +
		`{"topic":"persistent://public/default/x","ledgerId":1,"entryId":2,"partition":-1,"batchIndex":-1,"batchSize":0,"payloadBase64":"aGk=","payloadLength":2,"nullValue":false,"properties":{"a":"b"},"hasKey":true,"key":"k","deliverAtTime":null,"orderingKeyBase64":null}` + "\n" +
		`{"done":true,"count":1}` + "\n"
	msgs, n, err := parse([]byte(out))
	if err != nil || n != 1 || len(msgs) != 1 {
		t.Fatalf("parse: %v %d %v", msgs, n, err)
	}
	m := msgs[0]
	if string(m.Payload) != "hi" || m.Key != "k" || m.Properties["a"] != "b" || m.DeliverAtTime != nil || m.OrderingKey != nil || m.BatchIndex != -1 {
		t.Fatalf("parse: %+v", m)
	}
	if _, _, err := parse([]byte(`{"done":true,"count":2}`)); err == nil {
		t.Fatal("parse: count mismatch not detected")
	}
	if _, _, err := parse([]byte("")); err == nil {
		t.Fatal("parse: missing done line not detected")
	}
}

// TestNonBatchedFields produces 10 non-batched messages with every metadata
// field the Go client can set and checks what the Java client reports. It
// also reports how long JVM start + consume takes.
func TestNonBatchedFields(t *testing.T) {
	client := verify.NewClient(t)
	topic := broker.NewTopic(t, "jc-fields")
	producer, err := client.CreateProducer(pulsar.ProducerOptions{Topic: topic, Name: "jc-producer", DisableBatching: true})
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	eventTime := time.UnixMilli(1700000000123)
	var ids []pulsar.MessageID
	for i := 0; i < 10; i++ {
		id, err := producer.Send(context.Background(), &pulsar.ProducerMessage{
			Payload:            []byte(fmt.Sprintf("payload-%d", i)),
			Key:                fmt.Sprintf("key-%d", i),
			OrderingKey:        "ok",
			Properties:         map[string]string{"i": fmt.Sprint(i), "unicode": "é✓"},
			EventTime:          eventTime,
			DisableReplication: i == 0,
		})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}

	for run := 1; run <= 2; run++ {
		start := time.Now()
		msgs := Consume(t, topic, 10, Options{})
		t.Logf("run %d: JVM start + consume 10 messages: %v", run, time.Since(start).Round(time.Millisecond))
		if len(msgs) != 10 {
			t.Fatalf("got %d messages", len(msgs))
		}
		for i, m := range msgs {
			id := verify.IDOf(ids[i])
			if m.Topic != topic || m.LedgerID != id.Ledger || m.EntryID != id.Entry || m.Partition != -1 ||
				m.BatchIndex != -1 || m.BatchSize != 0 {
				t.Errorf("message %d: %v; Go send id %+v", i, m, id)
			}
			if string(m.Payload) != fmt.Sprintf("payload-%d", i) || m.PayloadLength != len(m.Payload) || m.NullValue {
				t.Errorf("message %d: payload %q len %d null %v", i, m.Payload, m.PayloadLength, m.NullValue)
			}
			if !m.HasKey || m.Key != fmt.Sprintf("key-%d", i) || m.KeyBase64Encoded {
				t.Errorf("message %d: key %v %q %v", i, m.HasKey, m.Key, m.KeyBase64Encoded)
			}
			if !m.HasOrderingKey || string(m.OrderingKey) != "ok" {
				t.Errorf("message %d: ordering key %v %q", i, m.HasOrderingKey, m.OrderingKey)
			}
			if m.Properties["i"] != fmt.Sprint(i) || m.Properties["unicode"] != "é✓" || len(m.Properties) != 2 {
				t.Errorf("message %d: properties %v", i, m.Properties)
			}
			if m.EventTime != eventTime.UnixMilli() || m.SequenceID != int64(i) || m.ProducerName != "jc-producer" {
				t.Errorf("message %d: eventTime %d seq %d producer %q", i, m.EventTime, m.SequenceID, m.ProducerName)
			}
			if m.PublishTime <= 0 || m.ReceivedAtMillis < m.PublishTime || m.DeliverAtTime != nil || m.RedeliveryCount != 0 {
				t.Errorf("message %d: publish %d received %d deliverAt %v redelivery %d", i, m.PublishTime, m.ReceivedAtMillis, m.DeliverAtTime, m.RedeliveryCount)
			}
			wantRepl := ""
			if i == 0 {
				wantRepl = "__local__"
			}
			if strings.Join(m.ReplicateTo, ",") != wantRepl {
				t.Errorf("message %d: replicateTo %q, want %q", i, m.ReplicateTo, wantRepl)
			}
			if m.Compression != "NONE" {
				t.Errorf("message %d: compression %q", i, m.Compression)
			}
		}
	}
}

func TestBatchedCompressed(t *testing.T) {
	client := verify.NewClient(t)
	topic := broker.NewTopic(t, "jc-batch")
	producer, err := client.CreateProducer(pulsar.ProducerOptions{
		Topic:                   topic,
		BatchingMaxPublishDelay: time.Second,
		BatchingMaxMessages:     100,
		CompressionType:         pulsar.LZ4,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	var pm []*pulsar.ProducerMessage
	for i := 0; i < 5; i++ {
		pm = append(pm, &pulsar.ProducerMessage{Payload: []byte(strings.Repeat("x", 100+i)), Key: fmt.Sprint(i)})
	}
	ids := sendAsync(t, producer, pm)
	msgs := Consume(t, topic, 5, Options{SubscriptionType: "shared", Subscription: "named"})
	for i, m := range msgs {
		id := verify.IDOf(ids[i])
		if m.EntryID != id.Entry || m.BatchIndex != int32(i) || m.BatchSize != 5 || m.Compression != "LZ4" ||
			m.PayloadLength != 100+i || m.Key != fmt.Sprint(i) {
			t.Errorf("message %d: %v compression %s; Go send id %+v", i, m, m.Compression, id)
		}
	}
	// The subscription "named" acknowledged everything.
	if more := Consume(t, topic, 1, Options{Subscription: "named", Timeout: time.Second, AllowFewer: true}); len(more) != 0 {
		t.Fatalf("redelivered after ack: %v", more)
	}
}

func TestPartitioned(t *testing.T) {
	client := verify.NewClient(t)
	topic := broker.NewTopic(t, "jc-part")
	broker.CreatePartitionedTopic(t, topic, 3)
	producer, err := client.CreateProducer(pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	byPayload := map[string]verify.ID{}
	for i := 0; i < 12; i++ {
		p := fmt.Sprintf("m%d", i)
		id, err := producer.Send(context.Background(), &pulsar.ProducerMessage{Payload: []byte(p), Key: fmt.Sprintf("k%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		byPayload[p] = verify.IDOf(id)
	}
	msgs := Consume(t, topic, 12, Options{})
	seen := map[int32]bool{}
	for _, m := range msgs {
		id, ok := byPayload[string(m.Payload)]
		if !ok {
			t.Fatalf("unexpected message %v", m)
		}
		want := fmt.Sprintf("%s-partition-%d", topic, id.Partition)
		if m.Partition != id.Partition || m.Topic != want || m.LedgerID != id.Ledger || m.EntryID != id.Entry || m.BatchIndex != -1 {
			t.Errorf("%s: %v; Go send id %+v (want topic %s)", m.Payload, m, id, want)
		}
		seen[m.Partition] = true
	}
	if len(seen) < 2 {
		t.Errorf("12 keyed messages all went to partitions %v", seen)
	}
}

func TestDeliverAfter(t *testing.T) {
	client := verify.NewClient(t)
	topic := broker.NewTopic(t, "jc-delay")
	producer, err := client.CreateProducer(pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	// Delayed delivery only applies to Shared subscriptions, and only to
	// subscriptions that exist when the message is dispatched: create one first.
	sub := "delayed"
	Consume(t, topic, 1, Options{SubscriptionType: "shared", Subscription: sub, Timeout: 100 * time.Millisecond, AllowFewer: true})
	sent := time.Now()
	if _, err := producer.Send(context.Background(), &pulsar.ProducerMessage{Payload: []byte("later"), DeliverAfter: 3 * time.Second}); err != nil {
		t.Fatal(err)
	}
	msgs := Consume(t, topic, 1, Options{SubscriptionType: "shared", Subscription: sub})
	m := msgs[0]
	if m.DeliverAtTime == nil {
		t.Fatalf("no deliverAtTime: %v", m)
	}
	if d := time.UnixMilli(*m.DeliverAtTime).Sub(sent); d < 2500*time.Millisecond || d > 10*time.Second {
		t.Errorf("deliverAtTime is %v after send", d)
	}
	if m.ReceivedAtMillis < *m.DeliverAtTime {
		t.Errorf("received at %d before deliverAt %d", m.ReceivedAtMillis, *m.DeliverAtTime)
	}
}

func TestBadTopic(t *testing.T) {
	broker.Require(t)
	_, err := Run(context.Background(), "persistent://no-such-tenant/ns/x", 1, Options{Timeout: time.Second})
	if err == nil || !strings.Contains(err.Error(), "stderr") {
		t.Fatalf("want an error with stderr, got %v", err)
	}
}
