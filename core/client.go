// Clients and producers: the public API over the runtime.
//
// Each method forwards to internal/driver, which holds the state; the types
// here only keep the C ABI's plumbing (tagged sends, sinks) out of the Go
// API.
package core

import (
	"context"

	"github.com/pulsar-producer/pulsar-producer/internal/driver"
)

// Client connects producers to one Pulsar cluster: its producers share its
// connections (one per broker), its memory limit and its deliverer of
// callbacks. It is safe for concurrent use.
type Client struct{ c *driver.Client }

// NewClient validates opts and creates a client. No connection is made
// until a producer is created.
func NewClient(opts ClientOptions) (*Client, error) {
	c, err := driver.NewClient(opts)
	if err != nil {
		return nil, err
	}
	return &Client{c}, nil
}

// NewClientWithEngine creates a client that drives eng, an engine the
// caller created (the WASI host passes one that lives in a module). It
// fails as NewClient does when the TLS or credential options cannot be
// used (a missing CA file, a key that does not match its certificate).
func NewClientWithEngine(eng Engine) (*Client, error) {
	c := driver.NewClientWithEngine(eng)
	if err := c.SetupError(); err != nil {
		c.Close()
		return nil, err
	}
	return &Client{c}, nil
}

// Options returns the client's options with defaults filled in.
func (c *Client) Options() ClientOptions { return c.c.Options() }

// Stats reports the client's counters: those of every producer it has had,
// and its connections.
func (c *Client) Stats() ClientStats { return c.c.Stats() }

// Close closes every producer, waiting up to the operation timeout for
// their pending messages (those still pending then fail), then closes all
// connections. Later calls return AlreadyClosed.
func (c *Client) Close() error { return c.c.Close() }

// Producer publishes to one topic. It is safe for concurrent use.
//
// Ordering: messages sent from one goroutine are stored in the order sent
// (per partition, for a partitioned topic), and their callbacks run in that
// order. Callbacks of one client run one at a time, on a library goroutine,
// never while a library lock is held; they must not block, and must not
// call Send, Flush or Close, which wait for callbacks (SendAsync is fine).
type Producer struct{ p *driver.Producer }

// CreateProducer registers a producer on opts.Topic and waits until it is
// ready, creation fails, or ctx ends (creation is then abandoned and the
// broker told so). Besides ctx, creation is bounded by opts.CreateTimeout
// when set, else by the client's connectionTimeout and operationTimeout
// for each step: a waitForExclusive producer waits for the topic until one
// of those ends.
func (c *Client) CreateProducer(ctx context.Context, opts ProducerOptions) (*Producer, error) {
	p, err := c.c.CreateProducer(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &Producer{p}, nil
}

// Topic is the topic the producer publishes to, as given.
func (p *Producer) Topic() string { return p.p.Topic() }

// Name is the producer's name, assigned by the broker unless given.
func (p *Producer) Name() string { return p.p.Name() }

// NumPartitions is the topic's partition count, 0 for a plain topic.
func (p *Producer) NumPartitions() int { return p.p.NumPartitions() }

// Send publishes msg and waits for its message ID. It sends the open batch
// at once rather than waiting for the batch to fill. If ctx ends first,
// Send returns its error; the message itself may still be stored.
func (p *Producer) Send(ctx context.Context, msg *Message) (MessageID, error) {
	return p.p.Send(ctx, msg)
}

// SendAsync publishes msg and calls cb exactly once with its message ID or
// an error. The payload is copied before SendAsync returns. ctx bounds only
// the wait for room when BlockIfQueueFull is set.
//
// A message written again after a reconnect, which the broker's
// deduplication recognises as already stored, completes with an ID for
// which IsDuplicate is true (-1:-1): it is stored once.
func (p *Producer) SendAsync(ctx context.Context, msg *Message, cb func(MessageID, error)) {
	p.p.SendAsync(ctx, msg, cb)
}

// Flush sends every open batch and waits until every message sent before
// the call has completed and its callback has run.
func (p *Producer) Flush(ctx context.Context) error { return p.p.Flush(ctx) }

// Close sends what is pending, waits for its receipts, and unregisters the
// producer. If ctx ends first, the remaining messages fail with the
// context's error and Close returns it. Closing twice is an error.
func (p *Producer) Close(ctx context.Context) error { return p.p.Close(ctx) }

// Stats reports the producer's counters since it was created; after it
// closed or failed, its last counters.
func (p *Producer) Stats() ProducerStats { return p.p.Stats() }
