// Command ppconsume reads messages from a topic with the official Go client
// (github.com/apache/pulsar-client-go) and prints each as one JSON line: an
// independent check, for tests in any language, of what a producer wrote.
//
// Usage (from tests/):
//
//	go run ./cmd/ppconsume -topic T -n N [-timeout 30s] [-url pulsar://127.0.0.1:6650]
//	                       [-shared] [-subscription NAME]
//
// It subscribes from the earliest position (Exclusive, or Shared with
// -shared, which messages with a delivery time need), receives and acks up
// to n messages, and prints for each:
//
//	{"payload": base64, "properties": {..}, "key": "..", "orderingKey": base64,
//	 "eventTime": ms or 0, "publishTime": ms, "producerName": "..",
//	 "ledgerId": .., "entryId": .., "partition": .., "batchIndex": .., "batchSize": ..}
//
// It exits 0 once n messages were printed, and 1 (saying how many arrived)
// if fewer arrive within the timeout.
//
// Message IDs are as the Go client reports them, which differs from this
// project's C and Node APIs for a message sent alone on a non-partitioned
// topic: the Go client says batch index 0, batch size 1 and partition 0
// where this project says -1, 0 and -1 (see tests/verify/verify.go).
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/apache/pulsar-client-go/pulsar/log"
)

// record is one printed line.
type record struct {
	Payload      string            `json:"payload"`
	Properties   map[string]string `json:"properties"`
	Key          string            `json:"key"`
	OrderingKey  string            `json:"orderingKey"`
	EventTime    int64             `json:"eventTime"`
	PublishTime  int64             `json:"publishTime"`
	ProducerName string            `json:"producerName"`
	LedgerID     int64             `json:"ledgerId"`
	EntryID      int64             `json:"entryId"`
	Partition    int32             `json:"partition"`
	BatchIndex   int32             `json:"batchIndex"`
	BatchSize    int32             `json:"batchSize"`
}

func main() {
	url := flag.String("url", "pulsar://127.0.0.1:6650", "service URL of the broker")
	topic := flag.String("topic", "", "topic to read (required)")
	n := flag.Int("n", 1, "messages to read")
	timeout := flag.Duration("timeout", 30*time.Second, "how long to wait for the n messages")
	shared := flag.Bool("shared", false, "subscribe with a Shared subscription (needed for delayed delivery)")
	sub := flag.String("subscription", "", "subscription name (default: a fresh one)")
	flag.Parse()
	if *topic == "" || *n < 0 {
		fmt.Fprintln(os.Stderr, "ppconsume: -topic is required and -n must not be negative")
		flag.Usage()
		os.Exit(2)
	}
	if *sub == "" {
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		*sub = "ppconsume-" + hex.EncodeToString(b)
	}
	got, err := consume(*url, *topic, *sub, *n, *timeout, *shared)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ppconsume: %v\n", err)
		os.Exit(1)
	}
	if got < *n {
		fmt.Fprintf(os.Stderr, "ppconsume: got %d of %d messages from %s within %v\n", got, *n, *topic, *timeout)
		os.Exit(1)
	}
}

// consume prints up to n messages and returns how many it printed.
func consume(url, topic, sub string, n int, timeout time.Duration, shared bool) (int, error) {
	client, err := pulsar.NewClient(pulsar.ClientOptions{
		URL:               url,
		Logger:            log.DefaultNopLogger(),
		OperationTimeout:  30 * time.Second,
		ConnectionTimeout: 10 * time.Second,
	})
	if err != nil {
		return 0, fmt.Errorf("connecting to %s: %w", url, err)
	}
	defer client.Close()
	subType := pulsar.Exclusive
	if shared {
		subType = pulsar.Shared
	}
	consumer, err := client.Subscribe(pulsar.ConsumerOptions{
		Topic:                       topic,
		SubscriptionName:            sub,
		Type:                        subType,
		SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest,
	})
	if err != nil {
		return 0, fmt.Errorf("subscribing to %s: %w", topic, err)
	}
	defer consumer.Close()

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	enc := json.NewEncoder(os.Stdout)
	got := 0
	for got < n {
		msg, err := consumer.Receive(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return got, nil
			}
			return got, fmt.Errorf("receiving from %s after %d messages: %w", topic, got, err)
		}
		if err := enc.Encode(toRecord(msg)); err != nil {
			return got, err
		}
		got++
		if err := consumer.Ack(msg); err != nil {
			return got, fmt.Errorf("acking %v: %w", msg.ID(), err)
		}
	}
	return got, nil
}

func toRecord(msg pulsar.Message) record {
	id := msg.ID()
	r := record{
		Payload:      base64.StdEncoding.EncodeToString(msg.Payload()),
		Properties:   msg.Properties(),
		Key:          msg.Key(),
		OrderingKey:  base64.StdEncoding.EncodeToString([]byte(msg.OrderingKey())),
		PublishTime:  msg.PublishTime().UnixMilli(),
		ProducerName: msg.ProducerName(),
		LedgerID:     id.LedgerID(),
		EntryID:      id.EntryID(),
		Partition:    id.PartitionIdx(),
		BatchIndex:   id.BatchIdx(),
		BatchSize:    id.BatchSize(),
	}
	if r.Properties == nil {
		r.Properties = map[string]string{}
	}
	if t := msg.EventTime(); !t.IsZero() {
		r.EventTime = t.UnixMilli()
	}
	return r
}
