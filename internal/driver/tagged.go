// Tagged sends: the C ABI's way of sending.
//
// A caller that sends millions of messages across an FFI boundary cannot
// afford a closure per message. A tagged send carries two words of the
// caller's data (the C ABI: a callback pointer and a user-data pointer)
// and reports its outcome to a Sink, many outcomes per call, in send order.
// SendTaggedBatch queues many messages under one acquisition of the client
// lock; a panic in the caller's fill function cannot leave that lock held.
package driver

import (
	"context"
)

// Tag is two words of caller data carried with a message sent by SendTagged
// and handed back with its outcome.
type Tag struct{ A, B uint64 }

// Completed is the outcome of one message sent with SendTagged.
type Completed struct {
	Tag Tag
	ID  MessageID
	Err error
}

// Sink receives the outcomes of messages sent with SendTagged, in send
// order, many at a time: a caller that queues them for another thread (the
// C ABI) takes its lock once per batch, not once per message.
type Sink struct{ fn func([]Completed) }

// NewSink makes a Sink calling fn; fn runs on the client's deliverer, like
// callbacks, and must not keep the slice it is given.
func NewSink(fn func([]Completed)) *Sink { return &Sink{fn: fn} }

// SendFlags change how a tagged batch is sent.
type SendFlags uint8

const (
	// NoBlock never waits for room, even with BlockIfQueueFull: a full
	// queue ends the batch with ProducerQueueIsFull or MemoryBufferIsFull.
	NoBlock SendFlags = 1
	// FlushAfter sends the open batch once the messages are queued.
	FlushAfter SendFlags = 2
)

// SendTagged publishes msg like SendAsync, but reports the outcome to sink
// with tag. An error returned here means msg was not accepted and sink
// hears nothing of it.
func (p *Producer) SendTagged(ctx context.Context, msg *Message, tag Tag, sink *Sink) error {
	if msg != nil && p.needsCopy(msg, false) {
		m, err := p.prepare(msg, false)
		if err != nil {
			return err
		}
		msg = m
	}
	return p.sendSlot(ctx, msg, slot{sink: sink, tag: tag}, false)
}

// SendTaggedBatch queues n messages under one acquisition of the client
// lock. fill(i, m) sets message i into m, which is reused (the engine copies
// what it keeps), and returns its tag, or an error that ends the batch; it
// may be called again for the same i, runs under the client lock and must
// not call into the client. Messages are accepted in order until the first
// one that is not: SendTaggedBatch returns how many were (each gets exactly
// one completion) and the error of the next. A custom router runs for each
// message with the lock released.
func (p *Producer) SendTaggedBatch(ctx context.Context, n int, fill func(i int, m *Message) (Tag, error), sink *Sink, flags SendFlags) (done int, err error) {
	c := p.c
	msg := new(Message)
	locked := false
	defer func() {
		if locked { // fill panicked: release the lock before the panic goes on
			c.mu.Unlock()
		}
	}()
	c.lock()
	locked = true
	for i := 0; i < n; {
		*msg = Message{}
		tag, err := fill(i, msg)
		if err == nil {
			err = p.routeLocked(msg) // a router runs with the lock released
		}
		if err != nil {
			locked = false
			c.unlock()
			return i, err
		}
		wait, err := p.offer(msg, slot{sink: sink, tag: tag}, false)
		if err == nil {
			i++
			continue
		}
		locked = false
		c.unlock()
		if wait == nil || flags&NoBlock != 0 {
			return i, err
		}
		if err := waitForRoom(ctx, wait); err != nil {
			return i, err
		}
		c.lock()
		locked = true
	}
	if flags&FlushAfter != 0 && p.state == stateReady {
		_ = c.eng.Flush(p.id, c.now())
	}
	locked = false
	c.unlock()
	return n, nil
}
