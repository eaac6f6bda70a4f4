// Package verify consumes messages with the official Go client
// (github.com/apache/pulsar-client-go), as an independent check of what a
// producer wrote.
//
// How this works: Consume opens a client on broker.ServiceURL() (or the
// URL, CA and token given, for a secured deployment) with a no-op
// logger (the client logs through logrus by default, which is noisy),
// subscribes from the earliest position, receives up to n messages within a
// timeout, acknowledges each one and closes everything before returning. The
// returned pulsar.Message values stay usable after the close.
//
// Batch index, batch size and partition of a message id, verified
// empirically against Pulsar 4.0.8 (TestBatchIndexReporting; non-partitioned
// topic):
//
//	what was written             Go client v0.19.0          Java client 4.0.8
//	                             (consumer and producer)    (consumer, MessageIdAdv)
//	non-batched entry            index 0,  size 1, part 0   index -1, size 0, part -1
//	batch of n, message k        index k,  size n, part 0   index k,  size n, part -1
//	batch of one (batch format)  index 0,  size 1, part 0   index 0,  size 1, part -1
//
// So the Go client never reports -1: a non-batched message looks exactly like
// the only message of a one-message batch, and a non-partitioned topic looks
// like partition 0. The Java client tells them apart (batch index -1, batch
// size 0, partition -1). On partitioned topics both report the partition
// index.
//
// The Java CLI `pulsar-client produce` sends synchronously, so even with
// batching on (no -db/--disable-batching) each message goes out alone, and
// the Java producer writes a one-message batch as a plain non-batched entry.
// The Go producer, with batching on, writes a one-message batch in batch
// format (Java then reports index 0, size 1).
package verify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/apache/pulsar-client-go/pulsar/log"

	"github.com/pulsar-producer/pulsar-producer/core"
	"github.com/pulsar-producer/pulsar-producer/tests/broker"
)

// Options tune Consume.
type Options struct {
	// Shared subscribes with a Shared subscription (needed for messages with
	// a delivery time); the default is Exclusive.
	Shared bool
	// Subscription is the subscription name; default a unique one.
	Subscription string
	// Timeout bounds how long to wait for the n messages (default 30 s).
	Timeout time.Duration
	// AllowFewer returns fewer than n messages instead of failing.
	AllowFewer bool
	// ServiceURL defaults to broker.ServiceURL() (started if need be).
	ServiceURL string
	// TLSTrustCertsFile, for a pulsar+ssl:// ServiceURL, is the CA the
	// broker's certificate must chain to (its host name is checked too).
	TLSTrustCertsFile string
	// Token, if set, authenticates the client with that token.
	Token string
	// NoMoreWithin, if set, waits that long after the n messages and fails
	// the test if one more arrives (a duplicate would).
	NoMoreWithin time.Duration
}

// ID is a message id as plain numbers.
type ID struct {
	Ledger     int64
	Entry      int64
	Partition  int32 // the Go client says 0 (not -1) for a non-partitioned topic
	BatchIndex int32 // 0 for a non-batched message (the Go client never says -1)
	BatchSize  int32 // 1 for a non-batched message, as for a batch of one
}

// IDOf converts a message id.
func IDOf(id pulsar.MessageID) ID {
	return ID{
		Ledger:     id.LedgerID(),
		Entry:      id.EntryID(),
		Partition:  id.PartitionIdx(),
		BatchIndex: id.BatchIdx(),
		BatchSize:  id.BatchSize(),
	}
}

// GoView is how the Go client reports a message ID of this project's
// producers: they follow the Java client (a message sent on its own has
// batch index -1 and batch size 0, a non-partitioned topic partition -1),
// while the Go client says index 0 of a batch of 1 and partition 0 (see the
// table above). Ledger and entry are the same.
func GoView(id core.MessageID) ID {
	v := ID{Ledger: id.LedgerID, Entry: id.EntryID, Partition: id.Partition, BatchIndex: id.BatchIndex, BatchSize: id.BatchSize}
	if v.Partition < 0 {
		v.Partition = 0
	}
	if v.BatchIndex < 0 {
		v.BatchIndex, v.BatchSize = 0, 1
	}
	return v
}

// Logger is the no-op logger the helpers give the Go client.
func Logger() log.Logger { return log.DefaultNopLogger() }

// NewClient opens a quiet Go client on broker.ServiceURL() (after
// broker.Require) and closes it when the test ends.
func NewClient(t testing.TB) pulsar.Client {
	t.Helper()
	broker.Require(t)
	c, err := newClient(broker.ServiceURL(), "", "")
	if err != nil {
		t.Fatalf("verify: pulsar.NewClient(%s): %v", broker.ServiceURL(), err)
	}
	t.Cleanup(c.Close)
	return c
}

// newClient opens a quiet Go client on url; with a CA over TLS (host name
// checked), with a token authenticated.
func newClient(url, trustCerts, token string) (pulsar.Client, error) {
	o := pulsar.ClientOptions{
		URL:               url,
		Logger:            Logger(),
		OperationTimeout:  30 * time.Second,
		ConnectionTimeout: 10 * time.Second,
	}
	if trustCerts != "" {
		o.TLSTrustCertsFilePath, o.TLSValidateHostname = trustCerts, true
	}
	if token != "" {
		o.Authentication = pulsar.NewAuthenticationToken(token)
	}
	return pulsar.NewClient(o)
}

// Consume reads up to n messages of topic with the Go client, subscribing
// from the earliest position, and returns them in arrival order, acked. It
// fails the test if fewer than n arrive within the timeout (unless
// opts.AllowFewer).
func Consume(t testing.TB, topic string, n int, opts Options) []pulsar.Message {
	t.Helper()
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.ServiceURL == "" { // the standalone broker; another deployment is the caller's to start
		broker.Require(t)
		opts.ServiceURL = broker.ServiceURL()
	}
	if opts.Subscription == "" {
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		opts.Subscription = "verify-" + hex.EncodeToString(b)
	}
	subType := pulsar.Exclusive
	if opts.Shared {
		subType = pulsar.Shared
	}

	client, err := newClient(opts.ServiceURL, opts.TLSTrustCertsFile, opts.Token)
	if err != nil {
		t.Fatalf("verify: pulsar.NewClient(%s): %v", opts.ServiceURL, err)
	}
	defer client.Close()
	consumer, err := client.Subscribe(pulsar.ConsumerOptions{
		Topic:                       topic,
		SubscriptionName:            opts.Subscription,
		Type:                        subType,
		SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest,
	})
	if err != nil {
		t.Fatalf("verify: subscribing to %s: %v", topic, err)
	}
	// Close flushes the grouped acknowledgments.
	defer consumer.Close()

	ctx, cancel := context.WithTimeout(context.Background(), opts.Timeout)
	defer cancel()
	msgs := make([]pulsar.Message, 0, n)
	for len(msgs) < n {
		msg, err := consumer.Receive(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			t.Fatalf("verify: receiving from %s after %d messages: %v", topic, len(msgs), err)
		}
		msgs = append(msgs, msg)
		if err := consumer.Ack(msg); err != nil {
			t.Fatalf("verify: acking %v on %s: %v", msg.ID(), topic, err)
		}
	}
	if len(msgs) < n && !opts.AllowFewer {
		t.Fatalf("verify: got %d of %d messages from %s within %v", len(msgs), n, topic, opts.Timeout)
	}
	if opts.NoMoreWithin > 0 {
		extra, cancelExtra := context.WithTimeout(context.Background(), opts.NoMoreWithin)
		defer cancelExtra()
		if m, err := consumer.Receive(extra); err == nil {
			t.Errorf("verify: an extra message %q (%v) in %s after the %d expected", m.Payload(), m.ID(), topic, n)
		}
	}
	return msgs
}
