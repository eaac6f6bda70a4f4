// Producers: the Go API over the engine's producers.
//
// Each accepted message takes a completion slot whose index is the token the
// engine hands back with the message's receipt or failure; the slot holds
// the callback. Flush and Close wait on barriers in the completion queue, so
// when they return, every callback of the messages they covered has run.
package driver

import (
	"context"
	"errors"

	"github.com/pulsar-producer/pulsar-producer/core/engine"
)

type producerState uint8

const (
	stateCreating producerState = iota
	stateReady
	stateClosing
	stateClosed
	stateFailed
)

// Producer publishes to one topic. It is safe for concurrent use.
//
// Ordering: messages sent from one goroutine are stored in the order sent
// (per partition, for a partitioned topic), and their callbacks run in that
// order. Callbacks of one client run one at a time, on a library goroutine,
// never while a library lock is held; they must not block, and must not
// call Send, Flush or Close, which wait for callbacks (SendAsync is fine).
type Producer struct {
	c          *Client
	id         engine.ProducerID
	topic      string
	blockFull  bool
	ready      chan struct{} // closed when registered
	done       chan struct{} // closed, in queue order, when closed or failed
	name       string        // set when ready
	partitions int
	hooks      hooks

	// Guarded by c.mu.
	state    producerState
	err      error // why creation or the producer failed
	slots    []slot
	free     []uint32
	gen      uint64         // flush generation of new sends
	genCount int            // outstanding sends of gen
	oldGens  map[uint64]int // outstanding sends of earlier generations
	flushers []flushWaiter
	// lastStats are the counters last read, kept for after the close.
	lastStats engine.ProducerStats
}

type slot struct {
	cb   func(MessageID, error)
	sink *Sink
	tag  Tag
	gen  uint64
}

type flushWaiter struct {
	gen uint64
	ch  chan struct{}
}

// CreateProducer registers a producer on opts.Topic and waits until it is
// ready, ctx is done, or creation fails. If ctx ends first, creation is
// abandoned (the broker is told) and its error returned.
func (c *Client) CreateProducer(ctx context.Context, opts ProducerOptions) (*Producer, error) {
	p, err := c.OpenProducer(opts)
	if err != nil {
		return nil, err
	}
	if err := p.WaitReady(ctx); err != nil {
		if ctx.Err() != nil {
			err = ctxError(ctx, "creating producer for "+opts.Topic)
			c.lock()
			c.eng.AbortProducer(p.id, err, c.now())
			c.unlock()
			<-p.done
		}
		p.forget()
		return nil, err
	}
	return p, nil
}

// OpenProducer starts creating a producer on opts.Topic and returns it at
// once; invalid options fail here. Sends fail with ProducerNotInitialized
// until it is ready; WaitReady waits for that, and Close cancels creation.
func (c *Client) OpenProducer(opts ProducerOptions) (*Producer, error) {
	c.lock()
	defer c.unlock()
	if c.closed || c.closing {
		return nil, errClientClosed
	}
	if c.broken != nil {
		return nil, c.broken
	}
	if c.setupErr != nil {
		return nil, c.setupErr
	}
	router, interceptors := opts.Router, opts.Interceptors
	opts.Router, opts.Interceptors = nil, nil // run here, outside the lock, not by the engine
	id, err := c.eng.CreateProducer(opts, c.now())
	if err != nil {
		return nil, err
	}
	p := &Producer{
		c:         c,
		id:        id,
		topic:     opts.Topic,
		blockFull: opts.BlockIfQueueFull,
		ready:     make(chan struct{}),
		done:      make(chan struct{}),
		oldGens:   make(map[uint64]int),
	}
	p.hooks = hooks{router: router, interceptors: interceptors, schema: opts.Schema}
	c.producers[id] = p
	return p, nil
}

// WaitReady waits until the producer is ready (nil), creation fails (its
// error), or ctx ends (ctx's error; creation goes on, and the caller may
// wait again or Close).
func (p *Producer) WaitReady(ctx context.Context) error {
	select {
	case <-p.ready:
		return nil
	case <-p.done:
		select {
		case <-p.ready:
			return nil // ready first, closed since
		default:
		}
		c := p.c
		c.lock()
		defer c.unlock()
		return p.err
	case <-ctx.Done():
		return ctxError(ctx, "waiting for producer for "+p.topic)
	}
}

// forget drops a producer whose creation failed.
func (p *Producer) forget() {
	c := p.c
	c.lock()
	_ = c.eng.CloseProducer(p.id, c.now())
	delete(c.producers, p.id)
	c.unlock()
}

// Topic is the topic the producer publishes to, as given.
func (p *Producer) Topic() string { return p.topic }

// Name is the producer's name, assigned by the broker unless given.
func (p *Producer) Name() string { return p.name }

// NumPartitions is the topic's partition count, 0 for a plain topic. It
// follows the topic as partitions are added (see
// partitionsAutoDiscoveryInterval).
func (p *Producer) NumPartitions() int {
	c := p.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := c.eng.NumPartitions(p.id); n > p.partitions {
		p.partitions = n
	}
	return p.partitions
}

func ctxError(ctx context.Context, what string) *engine.Error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return engine.Errorf(engine.CodeTimeout, "%s: %v", what, ctx.Err())
	}
	return engine.Errorf(engine.CodeInterrupted, "%s: %v", what, ctx.Err())
}

// Send publishes msg and waits for its message ID. It sends the open batch
// at once rather than waiting for the batch to fill.
func (p *Producer) Send(ctx context.Context, msg *Message) (MessageID, error) {
	type result struct {
		id  MessageID
		err error
	}
	ch := make(chan result, 1)
	cb := func(id MessageID, err error) { ch <- result{id, err} }
	if msg != nil && p.needsCopy(msg, true) {
		m, err := p.prepare(msg, true)
		if err != nil {
			return MessageID{}, err
		}
		msg, cb = m, p.withOnAck(m, cb)
	}
	err := p.send(ctx, msg, cb, true)
	if err != nil {
		return MessageID{}, err
	}
	select {
	case r := <-ch:
		return r.id, r.err
	case <-ctx.Done():
		return MessageID{}, ctxError(ctx, "waiting for the receipt")
	}
}

// SendAsync publishes msg and calls cb exactly once with its message ID or
// an error. The payload is copied before SendAsync returns. ctx bounds only
// the wait for room when BlockIfQueueFull is set.
func (p *Producer) SendAsync(ctx context.Context, msg *Message, cb func(MessageID, error)) {
	if cb == nil {
		cb = func(MessageID, error) {}
	}
	if msg != nil && p.needsCopy(msg, true) {
		m, err := p.prepare(msg, true)
		if err != nil {
			c := p.c
			c.lock()
			c.enqueueDone(completion{cb: cb, err: err})
			c.unlock()
			return
		}
		msg, cb = m, p.withOnAck(m, cb)
	}
	if err := p.send(ctx, msg, cb, false); err != nil {
		c := p.c
		c.lock()
		c.enqueueDone(completion{cb: cb, err: err})
		c.unlock()
	}
}

// send hands msg to the engine, waiting for room if configured.
func (p *Producer) send(ctx context.Context, msg *Message, cb func(MessageID, error), flush bool) error {
	return p.sendSlot(ctx, msg, slot{cb: cb}, flush)
}

func (p *Producer) sendSlot(ctx context.Context, msg *Message, s slot, flush bool) error {
	if msg == nil {
		return engine.Errorf(engine.CodeInvalidArgument, "message is nil")
	}
	c := p.c
	c.lock()
	for {
		wait, err := p.offer(msg, s, flush)
		if err == nil {
			if flush {
				_ = c.eng.Flush(p.id, c.lastNow)
			}
			c.unlock()
			return nil
		}
		c.unlock()
		if wait == nil {
			return err
		}
		if err := waitForRoom(ctx, wait); err != nil {
			return err
		}
		c.lock()
	}
}

// offer hands one message to the engine; called with c.mu held, which it
// keeps. It returns nil if msg was accepted; otherwise the error, and, when
// the queue is full and the producer blocks, a channel that closes when
// there may be room to try again. The clock is read only when the engine
// needs it (or force is set): on some machines that costs as much as the
// rest of a send.
func (p *Producer) offer(msg *Message, s slot, force bool) (chan struct{}, error) {
	if p.state == stateClosing || p.state == stateClosed {
		return nil, engine.Errorf(engine.CodeAlreadyClosed, "producer for %s is closed", p.topic)
	}
	c := p.c
	token := p.takeSlot(s)
	err := c.send(p.id, msg, token, force)
	if err == nil {
		p.genCount++
		return nil, nil
	}
	p.dropSlot(token)
	if code := engine.CodeOf(err); p.blockFull && (code == engine.CodeProducerQueueIsFull || code == engine.CodeMemoryBufferIsFull) {
		return c.spaceSignal(), err
	}
	return nil, err
}

// waitForRoom waits for a signal from offer, or for ctx to end.
func waitForRoom(ctx context.Context, wait chan struct{}) error {
	select {
	case <-wait:
		return nil
	case <-ctx.Done():
		return ctxError(ctx, "waiting for room in the producer queue")
	}
}

// takeSlot allocates a completion slot. Called with c.mu held.
func (p *Producer) takeSlot(s slot) uint64 {
	var i uint32
	if n := len(p.free); n > 0 {
		i = p.free[n-1]
		p.free = p.free[:n-1]
	} else {
		i = uint32(len(p.slots))
		p.slots = append(p.slots, slot{})
	}
	s.gen = p.gen
	p.slots[i] = s
	return uint64(i)
}

func (p *Producer) dropSlot(token uint64) {
	p.slots[token] = slot{}
	p.free = append(p.free, uint32(token))
}

// complete queues the callback of a finished message. Called with c.mu held.
func (p *Producer) complete(token uint64, id MessageID, err error) {
	if token >= uint64(len(p.slots)) || (p.slots[token].cb == nil && p.slots[token].sink == nil) {
		return
	}
	s := p.slots[token]
	p.dropSlot(token)
	p.c.enqueueDone(completion{cb: s.cb, sink: s.sink, tag: s.tag, id: id, err: err})
	if s.gen == p.gen {
		p.genCount--
	} else if n := p.oldGens[s.gen] - 1; n > 0 {
		p.oldGens[s.gen] = n
	} else {
		delete(p.oldGens, s.gen)
		p.wakeFlushers()
	}
	p.c.signalSpace()
}

// wakeFlushers releases flushes whose messages are all complete.
func (p *Producer) wakeFlushers() {
	kept := p.flushers[:0]
	for _, w := range p.flushers {
		if p.outstandingUpTo(w.gen) {
			kept = append(kept, w)
			continue
		}
		p.c.enqueueDone(completion{wake: w.ch})
	}
	p.flushers = kept
}

func (p *Producer) outstandingUpTo(gen uint64) bool {
	for g := range p.oldGens {
		if g <= gen {
			return true
		}
	}
	return false
}

// Flush sends every open batch and waits until every message sent before
// the call has completed and its callback has run.
func (p *Producer) Flush(ctx context.Context) error {
	c := p.c
	c.lock()
	if p.state != stateReady {
		c.unlock()
		return engine.Errorf(engine.CodeAlreadyClosed, "producer for %s is closed", p.topic)
	}
	if err := c.eng.Flush(p.id, c.now()); err != nil {
		c.unlock()
		return err
	}
	g := p.gen
	if p.genCount > 0 {
		p.oldGens[g] = p.genCount
	}
	p.gen++
	p.genCount = 0
	var ch chan struct{}
	if p.outstandingUpTo(g) {
		ch = make(chan struct{})
		p.flushers = append(p.flushers, flushWaiter{gen: g, ch: ch})
	} else {
		ch = c.barrier()
	}
	c.unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctxError(ctx, "flushing "+p.topic)
	}
}

// Close sends what is pending, waits for its receipts, and unregisters the
// producer. If ctx ends first, the remaining messages fail with the
// context's error and Close returns it. Closing twice is an error.
func (p *Producer) Close(ctx context.Context) error {
	c := p.c
	c.lock()
	switch p.state {
	case stateClosing, stateClosed:
		c.unlock()
		return engine.Errorf(engine.CodeAlreadyClosed, "producer for %s is already closed", p.topic)
	case stateFailed:
		p.state = stateClosed
		_ = c.eng.CloseProducer(p.id, c.now())
		delete(c.producers, p.id)
		c.unlock()
		return nil
	}
	if p.state == stateCreating {
		// Cancel the creation: waiters learn it was cancelled.
		p.state = stateClosing
		c.eng.AbortProducer(p.id, engine.Errorf(engine.CodeInterrupted, "creation of the producer for %s was cancelled", p.topic), c.now())
		c.unlock()
		<-p.done
		c.lock()
		_ = c.eng.CloseProducer(p.id, c.now()) // the engine keeps a failed producer until closed
		c.unlock()
		return nil
	}
	p.state = stateClosing
	err := c.eng.CloseProducer(p.id, c.now())
	c.unlock()
	if err != nil && !isClosedErr(err) {
		return err
	}
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		cerr := ctxError(ctx, "closing producer for "+p.topic)
		c.lock()
		c.eng.AbortProducer(p.id, cerr, c.now())
		c.unlock()
		<-p.done
		return cerr
	}
}

// setFailed records that the producer failed. Called with c.mu held.
func (p *Producer) setFailed(err error) {
	p.err = err
	if p.state == stateClosing {
		p.setClosed()
		return
	}
	p.state = stateFailed
	p.c.enqueueDone(completion{wake: p.done})
}

// setClosed records that the producer closed. Called with c.mu held.
func (p *Producer) setClosed() {
	p.state = stateClosed
	delete(p.c.producers, p.id)
	for _, w := range p.flushers {
		p.c.enqueueDone(completion{wake: w.ch})
	}
	p.flushers = nil
	p.c.enqueueDone(completion{wake: p.done})
	p.c.signalSpace()
}

// Stats reports the producer's counters since it was created; after it
// closed, the last counters it had.
func (p *Producer) Stats() engine.ProducerStats {
	c := p.c
	c.lock()
	defer c.unlock()
	if s, ok := c.eng.ProducerStats(p.id); ok {
		p.lastStats = s
	}
	return p.lastStats
}

// Room reports how many more messages, and payload bytes, the producer
// takes before a send would block or fail with ProducerQueueIsFull or
// MemoryBufferIsFull; -1 means no limit. Closed or not ready: 0, 0.
func (p *Producer) Room() (messages int, bytes int64) {
	c := p.c
	c.lock()
	defer c.unlock()
	if p.state != stateReady {
		return 0, 0
	}
	return c.eng.Room(p.id)
}

// keepStats keeps the final counters an event carries. Called with c.mu
// held.
func (p *Producer) keepStats(s *engine.ProducerStats) {
	if s != nil {
		p.lastStats = *s
	}
}
