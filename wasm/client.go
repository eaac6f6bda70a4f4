// The client: one module instance driven by sockets, one timer and a few
// goroutines, exactly as core/client.go drives the native engine.
//
// How this works: a Client owns one module instance behind one mutex. Every
// call (a user's Send, bytes read by a connection's reader goroutine, the
// timer firing) takes the mutex, makes one call into the module with the
// current time, then "pumps": it reads the module's status block and, only
// if it says so, drains events (starting dials, closing sockets, turning
// receipts and failures into completions) and output (queued to the
// connections' writer goroutines), then re-arms the timer at the module's
// deadline. Completions run after the mutex is released, by whichever
// goroutine finds no one else delivering, one at a time and in the
// engine's order, so callbacks never run under a library lock and never run
// concurrently. If the module itself fails (a trap), the client fails every
// pending message and producer with that error and refuses further calls.
package wasm

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/pulsar-producer/pulsar-producer/core/engine"
)

// The engine's types, as in package core: options, messages, IDs, errors.
type (
	ClientOptions   = engine.ClientOptions
	ProducerOptions = engine.ProducerOptions
	Message         = engine.Message
	MessageID       = engine.MessageID
	Error           = engine.Error
	Code            = engine.Code
)

// Client connects producers to one Pulsar cluster through one module
// instance. It is safe for concurrent use.
type Client struct {
	// mu guards every field below and the module instance.
	mu        sync.Mutex
	in        *instance
	opts      ClientOptions
	conns     map[engine.ConnID]*netConn
	producers map[engine.ProducerID]*Producer
	timer     *time.Timer
	timerAt   time.Time // when the timer fires; zero if stopped
	closed    bool
	closing   bool
	broken    error // set when the module failed; every later call returns it

	// The completion queue: filled under mu, run by one goroutine at a
	// time outside it (see deliver).
	doneQ      []completion
	spareQ     []completion
	delivering bool

	spare   [][]byte // written output buffers, for the next output
	evs     []event
	spaceCh chan struct{} // closed when messages complete, for blocked senders
}

// completion is one callback to run, or a waiter to wake, in order.
type completion struct {
	cb   func(MessageID, error)
	id   MessageID
	err  error
	wake chan struct{} // closed when this point of the queue is reached
}

// NewClient validates opts and creates a client on the default module
// (DefaultModulePath). No connection is made until a producer is created.
func NewClient(opts ClientOptions) (*Client, error) {
	m, err := DefaultModule()
	if err != nil {
		return nil, err
	}
	return m.NewClient(opts)
}

// NewClient validates opts and creates a client in a new instance of m.
func (m *Module) NewClient(opts ClientOptions) (*Client, error) {
	// The host needs the resolved options (dial and close timeouts); the
	// engine's own validation gives them, and the same errors as native.
	resolved, err := engine.New(opts, 0, time.Now())
	if err != nil {
		return nil, err
	}
	js, err := optionsJSON(&opts, "client")
	if err != nil {
		return nil, err
	}
	in, err := newInstance(m)
	if err != nil {
		return nil, err
	}
	if err := in.clientNew(opts.ServiceURL, js, time.Now(), rand.Uint64()); err != nil {
		in.close()
		return nil, err
	}
	c := &Client{
		in:        in,
		opts:      resolved.Options(),
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

// unlock pumps the module, releases the mutex and runs completions.
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

// check turns the result of a module call into the error the caller sees.
// A trap breaks the client for good. Called with mu held.
func (c *Client) check(err error) error {
	var te *trapError
	if errors.As(err, &te) {
		c.breakDown(err)
		return c.broken
	}
	return err
}

// pump carries out what the module asked for. Called with mu held.
func (c *Client) pump() {
	if c.broken != nil || c.in.closed {
		return
	}
	st := c.in.readStatus()
	for st.events > 0 {
		var err error
		c.evs, err = c.in.nextEvents(c.evs[:0])
		if err != nil {
			c.check(err)
			return
		}
		for i := range c.evs {
			c.handleEvent(&c.evs[i])
			c.evs[i] = event{}
		}
		st = c.in.readStatus()
	}
	for st.output {
		var spare []byte
		if n := len(c.spare); n > 0 {
			spare = c.spare[n-1]
			c.spare = c.spare[:n-1]
		}
		id, data, ok, err := c.in.takeOutput(spare[:0])
		if err != nil {
			c.check(err)
			return
		}
		if !ok {
			if spare != nil {
				c.spare = append(c.spare, spare)
			}
			break
		}
		if nc := c.conns[id]; nc != nil {
			nc.enqueue(data)
		} else {
			c.spare = append(c.spare, data[:0])
		}
		st = c.in.readStatus()
	}
	if st.deadline >= 0 {
		d := time.Unix(0, st.deadline)
		if c.timerAt.IsZero() || d.Before(c.timerAt) {
			c.timerAt = d
			c.timer.Reset(max(time.Until(d), 0))
		}
	}
}

func (c *Client) handleEvent(ev *event) {
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
			p.partitions = ev.partitions
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

// breakDown fails everything after the module itself failed. Called with
// mu held.
func (c *Client) breakDown(cause error) {
	if c.broken != nil {
		return
	}
	c.broken = engine.Errorf(engine.CodeUnknownError, "the WASI module failed; the client is unusable: %v", cause)
	for id, nc := range c.conns {
		delete(c.conns, id)
		nc.shut()
	}
	for _, p := range c.producers {
		p.failAllSlots(c.broken)
		if p.state == stateCreating {
			p.setFailed(c.broken)
		} else {
			p.setClosed()
		}
	}
	c.timer.Stop()
	c.in.close()
}

func (c *Client) onTimer() {
	c.lock()
	c.timerAt = time.Time{}
	if !c.closed && c.broken == nil {
		c.check(c.in.tick(time.Now()))
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
// their pending messages, then closes all connections and frees the module
// instance. Later calls return AlreadyClosed.
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
	if c.broken == nil {
		c.check(c.in.do(fnClientClose, nowNs(time.Now())))
		c.pump() // the engine's last events close the sockets
	}
	for id, nc := range c.conns {
		delete(c.conns, id)
		nc.shut()
	}
	c.timer.Stop()
	c.in.close()
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
