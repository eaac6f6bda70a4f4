// Package engine is the Pulsar producer protocol, without I/O.
//
// An Engine holds all protocol state of one client: its connections, lookups,
// producers, batches and pending messages. It never touches a socket, a
// clock or a goroutine. The driver feeds it what happened and carries out
// what it asks:
//
//   - Calls in: Receive(conn, bytes, now) for bytes read; ConnOpened,
//     ConnFailed and ConnClosed for the socket's fate; Tick(now) when the
//     Deadline() has passed; CreateProducer, Send, Flush and CloseProducer
//     for the user. Every call takes the current time.
//   - Bytes out: each connection accumulates output, which the driver takes
//     with TakeOutput and writes in order.
//   - Events out: NextEvent yields small values: connect to an address,
//     close a connection, a message stored (with its ID) or failed, a
//     producer ready, failed or closed.
//
// A protocol violation on a connection (bad checksum, oversized frame,
// unknown or unexpected command, a receipt for a message never sent) closes
// that connection with an error that names the problem; the producers on it
// reconnect and resend. The engine itself never panics on input.
//
// The native runtime (package core) and the WASI module both drive this
// engine; that is why it must stay free of I/O. A test fails the build of
// this package if it imports net, os or sync, starts a goroutine or reads
// the clock.
package engine

import (
	"time"
)

// ConnID names a connection the engine asked the driver to open. IDs are
// never reused.
type ConnID uint64

// ProducerID names a producer created by CreateProducer.
type ProducerID uint64

// EventKind says what an Event reports.
type EventKind uint8

const (
	// EventConnect asks the driver to open a TCP connection to Addr for
	// Conn, then call ConnOpened or ConnFailed.
	EventConnect EventKind = iota + 1
	// EventConnClosed says Conn is closed, with the cause in Err. If the
	// engine closed it, the driver must close the socket; if the driver
	// reported the close, this is information only.
	EventConnClosed
	// EventReceipt: the messages sent with Tokens were stored, in one
	// entry; MessageID(i) is the ID of the i-th.
	EventReceipt
	// EventSendFailed: the messages sent with Tokens failed with Err.
	EventSendFailed
	// EventProducerReady: Producer is registered on every partition; Text
	// is its name.
	EventProducerReady
	// EventProducerFailed: Producer could not be created, or failed for
	// good, with Err.
	EventProducerFailed
	// EventProducerClosed: Producer finished closing.
	EventProducerClosed
	// EventLog: something worth telling the application happened; Log
	// holds the record. Only records at or above ClientOptions.LogLevel
	// are made.
	EventLog
	// EventAuthChallenge: the broker on Conn asks for fresh credentials
	// (its copy of them expired). The driver gets them, without blocking
	// the engine, and answers with AnswerChallenge; or closes Conn with
	// ConnClosed if it cannot get them.
	EventAuthChallenge
	// EventEngineFailed: the engine itself failed (a WASI module trapped):
	// nothing it held will complete, and every later call fails with Err.
	// The native engine never emits it; a driver that does must fail
	// what it has outstanding itself.
	EventEngineFailed
)

var eventNames = []string{"", "Connect", "ConnClosed", "Receipt", "SendFailed", "ProducerReady", "ProducerFailed", "ProducerClosed", "Log", "AuthChallenge", "EngineFailed"}

func (k EventKind) String() string { return enumName(eventNames, int(k)) }

// Event is something the driver must act on or pass to the user. Only the
// fields of its Kind are set.
//
// Receipts and failures come one event per entry, not per message: a batch
// of a thousand messages is one event whose Tokens lists them in order.
// Tokens aliases engine memory: it stays valid until the next call into the
// engine after every pending event was taken, so copy what you keep.
type Event struct {
	Kind     EventKind
	Conn     ConnID
	Producer ProducerID
	Tokens   []uint64
	ID       MessageID // EventReceipt: the ID of the first message
	Err      error
	Text     string         // EventConnect: the address; EventProducerReady: the producer name
	Log      *LogRecord     // EventLog
	Stats    *ProducerStats // EventProducerClosed and EventProducerFailed: the final counters
}

// MessageID returns the ID of the i-th message of an EventReceipt.
func (ev *Event) MessageID(i int) MessageID {
	id := ev.ID
	if id.BatchIndex >= 0 {
		id.BatchIndex = int32(i)
	}
	return id
}

// Engine is the protocol state of one client. It is not safe for concurrent
// use: the driver serializes calls.
type Engine struct {
	opts      ClientOptions
	addrs     []string // service URL addresses
	addrIndex int      // which service address to use next
	rand      rng
	now       time.Time

	conns       map[ConnID]*conn
	connsByAddr map[connKey]*conn
	tls         bool   // the service URL is pulsar+ssl://: brokers are reached over TLS
	authMethod  string // the credentials CONNECT carries (SetCredentials)
	authData    []byte
	nextConn    ConnID
	dirty       []*conn // connections with output the driver has not taken

	producers    map[ProducerID]*producer
	lastProducer *producer             // the last one Send used: most clients send on one
	byWireID     map[uint64]*partition // every partition by its protocol producer ID
	nextProducer ProducerID
	nextWireID   uint64
	nextRequest  uint64

	events    []Event
	eventHead int
	tokens    []uint64 // what events' Tokens alias; reset once they are taken

	memUsed int64 // payload bytes of pending messages

	closedStats ProducerStats // the sums of producers that are gone
	connects    int64         // handshakes completed

	deadline      time.Time
	deadlineValid bool

	closed bool

	// Scratch space and pools, reused to keep the hot path allocation-free.
	metaScratch   []byte
	singleScratch []byte
	cmdScratch    []byte
	bufPool       [][]byte
	entryPool     []*entry
	codecs        codecs
}

// New creates an engine for a client. seed feeds the engine's random
// choices (reconnect jitter, round robin start); pass any varying number.
func New(opts ClientOptions, seed uint64, now time.Time) (*Engine, error) {
	o, addrs, err := ResolveClientOptions(opts)
	if err != nil {
		return nil, err
	}
	e := &Engine{
		opts:        o,
		addrs:       addrs,
		rand:        rng(seed),
		now:         now,
		conns:       make(map[ConnID]*conn),
		connsByAddr: make(map[connKey]*conn),
		producers:   make(map[ProducerID]*producer),
		byWireID:    make(map[uint64]*partition),
	}
	e.addrIndex = e.rand.intn(len(addrs))
	_, e.tls, _ = ParseServiceURL(o.ServiceURL)
	return e, nil
}

// Options returns the resolved client options (defaults filled in).
func (e *Engine) Options() ClientOptions { return e.opts }

func (e *Engine) emit(ev Event) { e.events = append(e.events, ev) }

// logs reports whether a record at level would be made.
func (e *Engine) logs(level LogLevel) bool {
	return level.Severity() >= e.opts.LogLevel.Severity()
}

// log emits a record at level, if the level is enabled. Records are rare
// (connections, registrations, failures), never per message.
func (e *Engine) log(level LogLevel, rec LogRecord, format string, args ...any) {
	if !e.logs(level) {
		return
	}
	rec.Level = level
	rec.Msg = sprintf(format, args...)
	e.emit(Event{Kind: EventLog, Log: &rec})
}

// emitTokens queues a receipt or failure for the messages of tokens.
func (e *Engine) emitTokens(kind EventKind, p ProducerID, tokens []uint64, id MessageID, err error) {
	start := len(e.tokens)
	e.tokens = append(e.tokens, tokens...)
	end := len(e.tokens)
	e.events = append(e.events, Event{Kind: kind, Producer: p, Tokens: e.tokens[start:end:end], ID: id, Err: err})
}

// setNow records the time of a call, and recycles the token space of
// events the driver has taken. The engine's clock never moves back: a
// driver may pass a slightly stale time (see NeedsTime), and timers must
// not be scheduled from it.
func (e *Engine) setNow(now time.Time) {
	if now.After(e.now) {
		e.now = now
	}
	if e.eventHead == len(e.events) {
		e.tokens = e.tokens[:0]
	}
}

// NextEvent returns the oldest event not yet returned.
func (e *Engine) NextEvent() (Event, bool) {
	if e.eventHead >= len(e.events) {
		return Event{}, false
	}
	ev := e.events[e.eventHead]
	e.events[e.eventHead] = Event{}
	e.eventHead++
	if e.eventHead == len(e.events) {
		e.events = e.events[:0]
		e.eventHead = 0
	}
	return ev, true
}

// AppendEvents appends every pending event to dst and returns it.
func (e *Engine) AppendEvents(dst []Event) []Event {
	dst = append(dst, e.events[e.eventHead:]...)
	clear(e.events)
	e.events = e.events[:0]
	e.eventHead = 0
	return dst
}

// PendingEvents reports how many events wait.
func (e *Engine) PendingEvents() int { return len(e.events) - e.eventHead }

// TakeOutput returns the bytes some connection has to write, and which
// connection; ok is false when no connection has output. The engine keeps
// spare (emptied) as that connection's next output buffer, so a driver that
// passes back the buffers it has written allocates nothing.
func (e *Engine) TakeOutput(spare []byte) (id ConnID, data []byte, ok bool) {
	for len(e.dirty) > 0 {
		c := e.dirty[len(e.dirty)-1]
		e.dirty = e.dirty[:len(e.dirty)-1]
		c.dirty = false
		if c.state == connClosed || len(c.out) == 0 {
			continue
		}
		data = c.out
		c.out = spare[:0]
		return c.id, data, true
	}
	return 0, nil, false
}

// HasOutput reports whether TakeOutput has anything.
func (e *Engine) HasOutput() bool {
	for _, c := range e.dirty {
		if c.state != connClosed && len(c.out) > 0 {
			return true
		}
	}
	return false
}

// Deadline returns when the engine next needs Tick; ok is false when no
// timer is pending. A deadline may be early; ticking early is harmless.
func (e *Engine) Deadline() (time.Time, bool) {
	if !e.deadlineValid {
		e.deadline = e.computeDeadline()
		e.deadlineValid = true
	}
	return e.deadline, !e.deadline.IsZero()
}

// wake notes that a timer at t now exists.
func (e *Engine) wake(t time.Time) {
	if e.deadlineValid && (e.deadline.IsZero() || t.Before(e.deadline)) {
		e.deadline = t
	}
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

func (e *Engine) computeDeadline() time.Time {
	var d time.Time
	for _, c := range e.conns {
		d = earliest(d, c.deadline(e))
	}
	for _, p := range e.producers {
		if p.state == prodCreating {
			d = earliest(d, p.createBy)
		}
		if p.state == prodReady {
			d = earliest(d, p.nextDiscovery)
		}
		for _, pt := range p.parts {
			d = earliest(d, pt.deadline())
		}
	}
	return d
}

// Tick runs every timer due at now: connect and request timeouts,
// keepalives, batch publish delays, send timeouts and reconnects.
func (e *Engine) Tick(now time.Time) {
	e.setNow(now)
	for _, c := range e.conns {
		c.tick(e, now)
	}
	for _, p := range e.producers {
		if p.state == prodCreating && !p.createBy.IsZero() && !now.Before(p.createBy) {
			what := "ready"
			if p.waitingForExclusive() {
				what = "given exclusive access to the topic"
			}
			p.fail(Errorf(CodeTimeout, "producer for %s was not %s within createTimeout %v", p.topic.full, what, p.opts.CreateTimeout))
			continue
		}
		p.discoveryDue(now)
		for _, pt := range p.parts {
			pt.tick(now)
		}
	}
	e.deadlineValid = false
}

// Close shuts the engine: every producer fails its pending messages with
// AlreadyClosed and every connection closes. Later calls are refused.
func (e *Engine) Close(now time.Time) {
	if e.closed {
		return
	}
	e.setNow(now)
	for _, p := range e.producers {
		p.abort(Errorf(CodeAlreadyClosed, "client closed"), now)
	}
	for _, c := range e.conns {
		e.closeConn(c, Errorf(CodeAlreadyClosed, "client closed"))
	}
	e.closed = true
	e.deadlineValid = false
}

// MemoryUsed reports the payload bytes of all pending messages.
func (e *Engine) MemoryUsed() int64 { return e.memUsed }

// getBuf returns an empty buffer from the pool.
func (e *Engine) getBuf() []byte {
	if n := len(e.bufPool); n > 0 {
		b := e.bufPool[n-1]
		e.bufPool = e.bufPool[:n-1]
		return b[:0]
	}
	return make([]byte, 0, 4096)
}

// maxPooledBuf keeps one oversized message from pinning its buffer.
const maxPooledBuf = 1 << 20

func (e *Engine) putBuf(b []byte) {
	if cap(b) == 0 || cap(b) > maxPooledBuf || len(e.bufPool) >= 64 {
		return
	}
	e.bufPool = append(e.bufPool, b[:0])
}
