// Package core is the native Go Pulsar producer: the sans-I/O engine driven
// by sockets, one timer and a few goroutines.
//
// How it works: a Client owns one engine.Engine behind one mutex. Every
// call (a user's Send, bytes read by a connection's reader goroutine, the
// timer firing) takes the mutex, hands the engine the current time and the
// input, then "pumps": it starts dials the engine asked for, moves output
// to the connections' writer goroutines, re-arms the timer at the engine's
// deadline, and turns receipts and failures into completions. Completions
// are run after the mutex is released, by whichever goroutine finds no one
// else delivering, one at a time and in the engine's order, so callbacks
// never run under a library lock and never run concurrently.
package core

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/pulsar-producer/pulsar-producer/core/engine"
)

// Re-exported engine types: the option structs, messages, IDs and errors
// are the engine's own, so every layer agrees on them.
type (
	ClientOptions   = engine.ClientOptions
	ProducerOptions = engine.ProducerOptions
	Message         = engine.Message
	MessageID       = engine.MessageID
	Error           = engine.Error
	Code            = engine.Code
	CompressionType = engine.CompressionType
	RoutingMode     = engine.RoutingMode
	HashingScheme   = engine.HashingScheme
	AccessMode      = engine.AccessMode
)

// Client connects producers to one Pulsar cluster. It is safe for
// concurrent use.
type Client struct {
	// mu guards every field below and the engine.
	mu        sync.Mutex
	eng       *engine.Engine
	opts      engine.ClientOptions
	conns     map[engine.ConnID]*netConn
	producers map[engine.ProducerID]*Producer
	timer     *time.Timer
	timerAt   time.Time // when the timer fires; zero if stopped
	closed    bool
	closing   bool

	// The completion queue: filled under mu, run by one goroutine at a
	// time outside it (see deliver).
	doneQ      []completion
	spareQ     []completion
	delivering bool

	spare   [][]byte // written output buffers, for the engine to refill
	evs     []engine.Event
	spaceCh chan struct{} // closed when messages complete, for blocked senders
}

// completion is one callback to run, or a waiter to wake, in order.
type completion struct {
	cb     func(MessageID, error)
	tagged CompletionFunc
	tag    Tag
	id     MessageID
	err    error
	wake   chan struct{} // closed when this point of the queue is reached
}

// NewClient validates opts and creates a client. No connection is made
// until a producer is created.
func NewClient(opts ClientOptions) (*Client, error) {
	eng, err := engine.New(opts, rand.Uint64(), time.Now())
	if err != nil {
		return nil, err
	}
	c := &Client{
		eng:       eng,
		opts:      eng.Options(),
		conns:     make(map[engine.ConnID]*netConn),
		producers: make(map[engine.ProducerID]*Producer),
	}
	c.timer = time.AfterFunc(time.Hour, c.onTimer)
	c.timer.Stop()
	return c, nil
}

// Options returns the client's options with defaults filled in.
func (c *Client) Options() ClientOptions { return c.opts }

// lock takes the client mutex.
func (c *Client) lock() { c.mu.Lock() }

// unlock pumps the engine, releases the mutex and runs completions.
func (c *Client) unlock() {
	c.pump()
	if c.delivering || len(c.doneQ) == 0 {
		c.mu.Unlock()
		return
	}
	c.deliver()
}

// deliver runs queued completions; called with mu held, returns with it
// released. Only one goroutine delivers at a time, so completions run in
// queue order; a callback that sends adds to the queue and the same
// deliverer runs those too. A panicking callback is not recovered: as
// anywhere in Go, it ends the program with its own stack trace.
func (c *Client) deliver() {
	c.delivering = true
	for len(c.doneQ) > 0 {
		batch := c.doneQ
		c.doneQ = c.spareQ[:0]
		c.mu.Unlock()
		for i := range batch {
			d := &batch[i]
			switch {
			case d.wake != nil:
				close(d.wake)
			case d.cb != nil:
				d.cb(d.id, d.err)
			case d.tagged != nil:
				d.tagged(d.tag, d.id, d.err)
			}
			batch[i] = completion{}
		}
		c.mu.Lock()
		c.spareQ = batch[:0]
		c.pump()
	}
	c.delivering = false
	c.mu.Unlock()
}

// pump carries out what the engine asked for. Called with mu held.
func (c *Client) pump() {
	c.evs = c.eng.AppendEvents(c.evs[:0])
	for i := range c.evs {
		c.handleEvent(&c.evs[i])
		c.evs[i] = engine.Event{}
	}
	for {
		var spare []byte
		if n := len(c.spare); n > 0 {
			spare = c.spare[n-1]
			c.spare = c.spare[:n-1]
		}
		id, data, ok := c.eng.TakeOutput(spare)
		if !ok {
			if spare != nil {
				c.spare = append(c.spare, spare)
			}
			break
		}
		if nc := c.conns[id]; nc != nil {
			nc.enqueue(data)
		}
	}
	if d, ok := c.eng.Deadline(); ok {
		if c.timerAt.IsZero() || d.Before(c.timerAt) {
			c.timerAt = d
			c.timer.Reset(max(time.Until(d), 0))
		}
	}
}

func (c *Client) handleEvent(ev *engine.Event) {
	switch ev.Kind {
	case engine.EventConnect:
		nc := &netConn{c: c, id: ev.Conn, addr: ev.Text, wake: make(chan struct{}, 1)}
		c.conns[ev.Conn] = nc
		go nc.dial(c.opts.ConnectionTimeout)
	case engine.EventConnClosed:
		if nc := c.conns[ev.Conn]; nc != nil {
			delete(c.conns, ev.Conn)
			nc.shut()
		}
	case engine.EventReceipt, engine.EventSendFailed:
		if p := c.producers[ev.Producer]; p != nil {
			p.complete(ev.Token, ev.ID, ev.Err)
		}
	case engine.EventProducerReady:
		if p := c.producers[ev.Producer]; p != nil {
			p.name = ev.Text
			p.partitions = c.eng.NumPartitions(ev.Producer)
			close(p.ready)
		}
	case engine.EventProducerFailed:
		if p := c.producers[ev.Producer]; p != nil {
			p.setFailed(ev.Err)
		}
	case engine.EventProducerClosed:
		if p := c.producers[ev.Producer]; p != nil {
			p.setClosed()
		}
	}
}

func (c *Client) onTimer() {
	c.lock()
	c.timerAt = time.Time{}
	if !c.closed {
		c.eng.Tick(time.Now())
	}
	c.unlock()
}

// enqueueDone adds a completion to the queue. Called with mu held.
func (c *Client) enqueueDone(d completion) { c.doneQ = append(c.doneQ, d) }

// spaceSignal returns a channel closed when some pending message
// completes. Called with mu held.
func (c *Client) spaceSignal() chan struct{} {
	if c.spaceCh == nil {
		c.spaceCh = make(chan struct{})
	}
	return c.spaceCh
}

func (c *Client) signalSpace() {
	if c.spaceCh != nil {
		close(c.spaceCh)
		c.spaceCh = nil
	}
}

// barrier returns a channel closed once every completion queued before it
// has run. Called with mu held.
func (c *Client) barrier() chan struct{} {
	ch := make(chan struct{})
	c.enqueueDone(completion{wake: ch})
	return ch
}

// Close closes every producer, waiting up to the operation timeout for
// their pending messages, then closes all connections. Later calls return
// AlreadyClosed.
func (c *Client) Close() error {
	c.lock()
	if c.closed || c.closing {
		c.unlock()
		return engine.Errorf(engine.CodeAlreadyClosed, "client is already closed")
	}
	c.closing = true
	producers := make([]*Producer, 0, len(c.producers))
	for _, p := range c.producers {
		producers = append(producers, p)
	}
	c.unlock()
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.OperationTimeout)
	defer cancel()
	for _, p := range producers {
		_ = p.Close(ctx)
	}
	c.lock()
	c.closed = true
	c.eng.Close(time.Now())
	c.timer.Stop()
	done := c.barrier()
	c.unlock()
	<-done
	return nil
}

// dialer is shared; its timeout comes from each call's context.
var dialer net.Dialer

// errClientClosed is returned by calls on a closed client.
var errClientClosed = engine.Errorf(engine.CodeAlreadyClosed, "client is closed")

func isClosedErr(err error) bool { return errors.Is(err, engine.ErrAlreadyClosed) }
