// Package driver is the native runtime behind package core and the C ABI:
// the sans-I/O engine driven by sockets, one timer and a few goroutines.
// Package core is its public face; this package also offers what only the
// C ABI needs (tagged sends delivered to sinks, the producer's room).
//
// How it works: a Client owns one engine.Engine behind one mutex. Every
// call (a user's Send, bytes read by a connection's reader goroutine, the
// timer firing) takes the mutex, hands the engine the current time and the
// input, then "pumps": it starts dials the engine asked for, moves output
// to the connections' writer goroutines, re-arms the timer at the engine's
// deadline, and turns receipts and failures into completions. Completions
// are run by the client's deliverer goroutine, after the mutex is released,
// one at a time and in the engine's order: callbacks never run under a
// library lock, never run concurrently, and never hold up the goroutines
// that read sockets or send.
package driver

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/pulsar-producer/pulsar-producer/core/engine"
)

// The engine's types are the runtime's: every layer agrees on them.
type (
	ClientOptions   = engine.ClientOptions
	ProducerOptions = engine.ProducerOptions
	Message         = engine.Message
	MessageID       = engine.MessageID
)

// Client connects producers to one Pulsar cluster. It is safe for
// concurrent use.
type Client struct {
	// mu guards every field below and the engine.
	mu        sync.Mutex
	eng       Engine
	opts      engine.ClientOptions
	conns     map[engine.ConnID]*netConn
	producers map[engine.ProducerID]*Producer
	timer     *time.Timer
	timerAt   time.Time // when the timer fires; zero if stopped
	closed    bool
	closing   bool

	// The completion queue: filled under mu, run outside it by the
	// deliverer goroutine, or inline once the client is closed (see
	// deliver).
	doneQ      []completion
	spareQ     []completion
	delivering bool
	wake       chan struct{} // capacity 1: the deliverer has work
	retired    bool          // the deliverer has exited; deliver inline

	sinkBuf  []Completed    // reused by the deliverer for sink batches
	scratch  engine.Message // what a non-native engine is handed (see send)
	lastNow  time.Time      // the last time read from the clock
	lastProd *Producer      // the producer of the last event, a cache

	spare   [][]byte // written output buffers, for the engine to refill
	evs     []engine.Event
	spaceCh chan struct{} // closed when messages complete, for blocked senders

	log    *slog.Logger // where the engine's log records go
	broken error        // the engine failed as a whole (EventEngineFailed)

	// Set at creation, read-only after.
	tls      *tls.Config // for pulsar+ssl:// connections; nil for plaintext
	tlsConf  *tls.Config // trust settings, also for the OAuth2 issuer
	setupErr error       // why TLS or credentials could not be set up

	credsMu sync.Mutex  // guards creds
	creds   credentials // where tokens come from; nil for none
}

// completion is one callback to run, or a waiter to wake, in order.
type completion struct {
	cb   func(MessageID, error)
	sink *Sink
	tag  Tag
	id   MessageID
	err  error
	wake chan struct{} // closed when this point of the queue is reached
}

// NewClient validates opts and creates a client. No connection is made
// until a producer is created.
func NewClient(opts ClientOptions) (*Client, error) {
	eng, err := engine.New(opts, rand.Uint64(), time.Now())
	if err != nil {
		return nil, err
	}
	c := NewClientWithEngine(eng)
	if c.setupErr != nil {
		c.Close()
		return nil, c.setupErr
	}
	return c, nil
}

// SetupError reports why the client's TLS or credential options could not
// be used; producers of such a client fail with it.
func (c *Client) SetupError() error { return c.setupErr }

// NewClientWithEngine creates a client that drives eng, an engine the
// caller created (the WASI host passes one that lives in a module).
func NewClientWithEngine(eng Engine) *Client {
	c := &Client{
		eng:       eng,
		opts:      eng.Options(),
		log:       cmp.Or(eng.Options().Logger, slog.Default()),
		conns:     make(map[engine.ConnID]*netConn),
		producers: make(map[engine.ProducerID]*Producer),
		wake:      make(chan struct{}, 1),
	}
	c.timer = time.AfterFunc(time.Hour, c.onTimer)
	c.timer.Stop()
	c.setupErr = c.setupSecurity()
	go c.deliverLoop()
	return c
}

// setupSecurity prepares TLS and credentials from the options: files are
// read now, so that a missing one is an error at creation.
func (c *Client) setupSecurity() error {
	_, useTLS, _ := engine.ParseServiceURL(c.opts.ServiceURL)
	needTLS := useTLS || c.opts.TLSTrustCertsFilePath != "" || c.opts.TLSCertificateFilePath != ""
	if needTLS {
		conf, err := newTLSConfig(&c.opts)
		if err != nil {
			return err
		}
		if useTLS {
			c.tls = conf
		}
		if c.opts.TLSAllowInsecureConnection && useTLS {
			c.logRecord(&engine.LogRecord{Level: engine.LogWarn, Msg: "tlsAllowInsecureConnection is set: broker certificates are not verified, so the connection can be intercepted"})
		}
		c.tlsConf = conf
	}
	creds, err := newCredentials(&c.opts, c.tlsConf)
	if err != nil {
		return err
	}
	if o, ok := creds.(*oauth2); ok {
		o.warn = func(msg string) { c.logWarning(msg) }
	}
	c.credsMu.Lock()
	c.creds = creds
	c.credsMu.Unlock()
	return nil
}

// logWarning logs a warning of the runtime's own, outside the engine's
// records. It takes the client lock.
func (c *Client) logWarning(msg string) {
	c.lock()
	c.logRecord(&engine.LogRecord{Level: engine.LogWarn, Msg: msg})
	c.unlock()
}

// now reads the clock. Called with mu held.
func (c *Client) now() time.Time {
	c.lastNow = time.Now()
	return c.lastNow
}

// Options returns the client's options with defaults filled in.
func (c *Client) Options() ClientOptions { return c.opts }

// lock takes the client mutex.
func (c *Client) lock() { c.mu.Lock() }

// unlock pumps the engine, releases the mutex and hands completions to the
// deliverer.
func (c *Client) unlock() {
	c.pump()
	if len(c.doneQ) == 0 || c.delivering {
		c.mu.Unlock()
		return
	}
	if c.retired {
		c.deliver()
		return
	}
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// deliverLoop is the deliverer goroutine: it runs completions as they are
// queued, until the client is closed and its last completion has run.
func (c *Client) deliverLoop() {
	for range c.wake {
		c.mu.Lock()
		if len(c.doneQ) > 0 && !c.delivering {
			c.deliver()
			c.mu.Lock()
		}
		exit := c.closed && len(c.doneQ) == 0
		if exit {
			c.retired = true
		}
		c.mu.Unlock()
		if exit {
			return
		}
	}
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
		for i := 0; i < len(batch); i++ {
			d := &batch[i]
			switch {
			case d.wake != nil:
				close(d.wake)
			case d.cb != nil:
				d.cb(d.id, d.err)
			case d.sink != nil:
				// Hand the sink every consecutive outcome of its own.
				out := c.sinkBuf[:0]
				j := i
				for ; j < len(batch) && batch[j].sink == d.sink; j++ {
					out = append(out, Completed{Tag: batch[j].tag, ID: batch[j].id, Err: batch[j].err})
				}
				d.sink.fn(out)
				clear(out)
				c.sinkBuf = out[:0]
				clear(batch[i:j])
				i = j - 1
				continue
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
		if c.opts.HostChecksums {
			if err := engine.FillChecksums(data); err != nil {
				// Only a broken engine (or module) writes this; drop
				// the connection rather than send garbage.
				c.eng.ConnClosed(id, err, c.lastNow)
				continue
			}
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
		p := c.lastProd
		if p == nil || p.id != ev.Producer {
			if p = c.producers[ev.Producer]; p == nil {
				return
			}
			c.lastProd = p
		}
		for i, tok := range ev.Tokens {
			var id MessageID
			if ev.Kind == engine.EventReceipt {
				id = ev.MessageID(i)
			}
			p.complete(tok, id, ev.Err)
		}
	case engine.EventProducerReady:
		if p := c.producers[ev.Producer]; p != nil {
			p.name = ev.Text
			p.partitions = c.eng.NumPartitions(ev.Producer)
			if p.state == stateCreating {
				p.state = stateReady
			}
			close(p.ready)
		}
	case engine.EventProducerFailed:
		if p := c.producers[ev.Producer]; p != nil {
			p.keepStats(ev.Stats)
			p.setFailed(ev.Err)
		}
	case engine.EventProducerClosed:
		if p := c.producers[ev.Producer]; p != nil {
			p.keepStats(ev.Stats)
			p.setClosed()
		}
	case engine.EventLog:
		c.logRecord(ev.Log)
	case engine.EventEngineFailed:
		c.engineFailed(ev.Err)
	case engine.EventAuthChallenge:
		go c.answerChallenge(ev.Conn)
	}
}

// answerChallenge gets fresh credentials for a broker that asked for them
// and answers; without them the connection closes (and reconnects, asking
// again).
func (c *Client) answerChallenge(id engine.ConnID) {
	var method string
	var data []byte
	var err error
	if creds := c.credentials(); creds != nil {
		ctx, cancel := context.WithTimeout(context.Background(), c.opts.OperationTimeout)
		method = creds.method()
		data, err = creds.get(ctx)
		cancel()
	}
	c.lock()
	if err != nil {
		c.logRecord(&engine.LogRecord{Level: engine.LogError, Msg: "no fresh credentials for the broker's challenge: " + err.Error()})
		c.eng.ConnClosed(id, err, c.now())
	} else {
		c.eng.AnswerChallenge(id, method, data, c.now())
	}
	c.unlock()
}

// engineFailed handles the engine failing as a whole (a WASI module that
// trapped): every outstanding message fails with err, every producer fails
// and every connection closes, since the engine will report none of it.
// Called with mu held.
func (c *Client) engineFailed(err error) {
	c.broken = err
	for _, p := range c.producers {
		for token := range p.slots {
			p.complete(uint64(token), MessageID{}, err)
		}
		if p.state == stateCreating {
			p.err = err
			p.state = stateFailed
			c.enqueueDone(completion{wake: p.done})
			continue
		}
		p.setFailed(err)
	}
	for id, nc := range c.conns {
		delete(c.conns, id)
		nc.shut()
	}
	c.timer.Stop()
	c.timerAt = time.Time{}
}

// logRecord hands an engine log record to the logger. Called with mu held:
// a slog handler must not call back into the client.
func (c *Client) logRecord(r *engine.LogRecord) {
	if c.log == nil || r == nil || r.Level.Severity() < c.opts.LogLevel.Severity() {
		return
	}
	level := slog.LevelWarn
	switch r.Level {
	case engine.LogDebug:
		level = slog.LevelDebug
	case engine.LogInfo:
		level = slog.LevelInfo
	case engine.LogError:
		level = slog.LevelError
	}
	ctx := context.Background()
	if !c.log.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 4)
	if r.Topic != "" {
		attrs = append(attrs, slog.String("topic", r.Topic))
	}
	if r.ProducerName != "" {
		attrs = append(attrs, slog.String("producer", r.ProducerName))
	}
	if r.Addr != "" {
		attrs = append(attrs, slog.String("broker", r.Addr))
	}
	if r.Conn != 0 {
		attrs = append(attrs, slog.Uint64("conn", uint64(r.Conn)))
	}
	c.log.LogAttrs(ctx, level, r.Msg, attrs...)
}

// Stats reports the client's counters: every producer it has had, and its
// connections.
func (c *Client) Stats() engine.ClientStats {
	c.lock()
	defer c.unlock()
	return c.eng.ClientStats()
}

func (c *Client) onTimer() {
	c.lock()
	c.timerAt = time.Time{}
	if !c.closed {
		c.eng.Tick(c.now())
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
	c.eng.Close(c.now())
	c.timer.Stop()
	done := c.barrier()
	c.unlock()
	<-done
	if o, ok := c.credentials().(*oauth2); ok {
		o.http.CloseIdleConnections() // no keep-alive to the issuer outlives the client
	}
	// Let the deliverer see the client closed and exit; completions queued
	// from now on (sends on a closed client fail) run inline.
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return nil
}

// dialer is shared; its timeout comes from each call's context.
var dialer net.Dialer

// errClientClosed is returned by calls on a closed client.
var errClientClosed = engine.Errorf(engine.CodeAlreadyClosed, "client is closed")

func isClosedErr(err error) bool { return errors.Is(err, engine.ErrAlreadyClosed) }
