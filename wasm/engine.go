// Package wasm runs the producer engine compiled to WASI (the module built
// from ./guest) under wazero, behind exactly the native Go API: NewClient
// returns a *core.Client, whose producers have Send, SendAsync, SendTagged,
// Flush and Close.
//
// How this works: Engine implements core.Engine by calling the exports of
// one module instance, so the whole runtime (sockets, timer, completion
// delivery, blocking when the queue is full) is package core's, unchanged;
// only the protocol state lives in the module. The core runtime serializes
// every call under its mutex, which is all the locking an instance needs.
// After each call the instance holds the module's status block, so the
// runtime's checks after every operation (events? output? deadline?) cost a
// field read, not a call: a send that neither fills a batch nor starts a
// timer is one export call. The host computes the SEND checksums (the
// module is created with the host-checksums flag, and core fills them in
// with engine.FillChecksums), since wasm has no CRC instruction.
//
// If the module itself fails (a trap), the Engine closes the instance and
// reports, as events, every pending message failed, every producer failed
// and every connection closed, so nothing waits forever; later calls fail.
package wasm

import (
	"errors"
	"math/rand/v2"
	"time"

	"github.com/pulsar-producer/pulsar-producer/core"
	"github.com/pulsar-producer/pulsar-producer/core/engine"
)

// A WASI-hosted client is a core.Client, with core's (the engine's) options,
// messages and IDs.
type (
	Client          = core.Client
	Producer        = core.Producer
	ClientOptions   = core.ClientOptions
	ProducerOptions = core.ProducerOptions
)

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
	eng, err := m.NewEngine(opts)
	if err != nil {
		return nil, err
	}
	return core.NewClientWithEngine(eng), nil
}

// Engine is one module instance holding one client's engine, as a
// core.Engine. Like *engine.Engine it is not safe for concurrent use.
type Engine struct {
	in     *instance
	opts   engine.ClientOptions
	closed bool  // Close was called
	broken error // set when the module failed

	parts   map[engine.ProducerID]*prodInfo // open producers
	conns   map[engine.ConnID]bool          // open connections
	pending []engine.ProducerID             // by token: whose message is outstanding
	bigPend map[uint64]engine.ProducerID    // the same, for tokens past maxDenseToken
	tokens  []uint64                        // what the last events' Tokens alias
	synth   []engine.Event                  // events made up by the host
	meta    []byte                          // metadata scratch
	stage   stage                           // payload-only messages gathered (stage.go)
	roomFor engine.ProducerID               // whose room the status block reports

	lastPart   *prodInfo // the producer canStage looked up last, a cache
	lastPartID engine.ProducerID
}

// prodInfo is what the host knows of a producer.
type prodInfo struct {
	partitions int
	failed     bool
	hold       time.Duration // how long gathered messages may wait; 0: not at all
}

var _ core.Engine = (*Engine)(nil)

// maxDenseToken bounds the token table; the core runtime's tokens are slot
// indices, far below it.
const maxDenseToken = 1 << 24

// NewEngine creates an engine for opts in a new instance of m.
func (m *Module) NewEngine(opts ClientOptions) (*Engine, error) {
	// The runtime needs the resolved options (dial and close timeouts);
	// the native engine's validation gives them, and the same errors.
	resolved, err := engine.New(opts, 0, time.Now())
	if err != nil {
		return nil, err
	}
	js, err := engine.AppendOptionsJSON(nil, engine.ScopeClient, &opts, nil)
	if err != nil {
		return nil, err
	}
	in, err := newInstance(m)
	if err != nil {
		return nil, err
	}
	if err := in.clientNew(opts.ServiceURL, js, time.Now(), rand.Uint64(), flagHostChecksums); err != nil {
		in.close()
		return nil, err
	}
	e := &Engine{
		in:    in,
		opts:  resolved.Options(),
		parts: make(map[engine.ProducerID]*prodInfo),
		conns: make(map[engine.ConnID]bool),
	}
	e.opts.HostChecksums = true
	return e, nil
}

// Options returns the resolved client options; HostChecksums is set.
func (e *Engine) Options() engine.ClientOptions { return e.opts }

// usable reports whether calls may go to the module.
func (e *Engine) usable() bool { return e.broken == nil && !e.in.closed }

// check handles a call's error: a trap breaks the engine for good.
func (e *Engine) check(err error) error {
	if _, trapped := err.(*trapError); trapped {
		e.breakDown(err)
		return e.broken
	}
	return err
}

// callErr is the error of a call the module cannot take.
func (e *Engine) callErr() error {
	if e.broken != nil {
		return e.broken
	}
	return errInstanceClosed
}

func (e *Engine) ConnOpened(id engine.ConnID, now time.Time) {
	if e.usable() {
		e.check(e.in.do(fnConnOpened, uint64(id), nowNs(now)))
	}
}

func (e *Engine) ConnFailed(id engine.ConnID, cause error, now time.Time) {
	e.connEnded(fnConnFailed, id, cause, now)
}

func (e *Engine) ConnClosed(id engine.ConnID, cause error, now time.Time) {
	e.connEnded(fnConnClosed, id, cause, now)
}

// connEnded reports a failed dial or a closed socket; a nil cause on close
// means the peer closed in order.
func (e *Engine) connEnded(fn int, id engine.ConnID, cause error, now time.Time) {
	if !e.usable() {
		return
	}
	var text string
	if cause != nil {
		text = cause.Error()
	}
	e.check(e.in.withCause(fn, uint64(id), nil, text, now))
}

func (e *Engine) Receive(id engine.ConnID, p []byte, now time.Time) {
	if e.usable() && e.conns[id] {
		e.check(e.in.receive(id, p, now))
	}
}

func (e *Engine) Tick(now time.Time) {
	if e.handOver() == nil && e.usable() {
		e.check(e.in.do(fnTick, nowNs(now)))
	}
}

// TakeOutput copies the next connection's output into spare. It calls the
// module only when the status block says output waits.
func (e *Engine) TakeOutput(spare []byte) (engine.ConnID, []byte, bool) {
	if !e.usable() || !e.in.st.output {
		return 0, nil, false
	}
	id, data, ok, err := e.in.takeOutput(spare[:0])
	if err != nil {
		e.breakDown(err) // output the module cannot hand over: it is broken
		return 0, nil, false
	}
	return id, data, ok
}

// Deadline is the module's deadline from the status block. After a failure
// it is now while made-up events wait, so the runtime's timer collects them.
func (e *Engine) Deadline() (time.Time, bool) {
	if len(e.synth) > 0 {
		return time.Now(), true
	}
	d, ok := e.stageDeadline()
	if md := e.in.st.deadline; md >= 0 && e.usable() {
		if t := time.Unix(0, md); !ok || t.Before(d) {
			d, ok = t, true
		}
	}
	return d, ok
}

// AppendEvents appends every waiting event. Their Tokens alias e.tokens,
// valid until the next AppendEvents.
func (e *Engine) AppendEvents(dst []engine.Event) []engine.Event {
	e.tokens = e.tokens[:0]
	for e.usable() && e.in.st.events > 0 {
		b, n, err := e.in.nextEvents()
		if err == nil {
			dst, err = e.decodeEvents(dst, b, n)
		}
		if err != nil {
			e.breakDown(err) // events the module cannot hand over: it is broken
			break
		}
	}
	if len(e.synth) > 0 {
		dst = append(dst, e.synth...)
		e.synth = nil
	}
	if e.closed && !e.in.closed && e.in.st.events == 0 && !e.in.st.output {
		e.in.close() // closed and drained: free the instance's memory
	}
	return dst
}

// note records what an event tells the host about its handles.
func (e *Engine) note(ev *engine.Event, partitions int) {
	switch ev.Kind {
	case engine.EventConnect:
		e.conns[ev.Conn] = true
	case engine.EventConnClosed:
		delete(e.conns, ev.Conn)
	case engine.EventReceipt, engine.EventSendFailed:
		for _, tok := range ev.Tokens {
			if tok < uint64(len(e.pending)) {
				e.pending[tok] = 0
			} else {
				delete(e.bigPend, tok)
			}
		}
	case engine.EventProducerReady:
		if p := e.parts[ev.Producer]; p != nil {
			p.partitions = partitions
		}
	case engine.EventProducerFailed:
		if p := e.parts[ev.Producer]; p != nil {
			p.failed = true
		}
	case engine.EventProducerClosed:
		delete(e.parts, ev.Producer)
		if e.lastPartID == ev.Producer {
			e.lastPart = nil
		}
	}
}

func (e *Engine) CreateProducer(opts engine.ProducerOptions, now time.Time) (engine.ProducerID, error) {
	if opts.Router != nil {
		return 0, engine.Errorf(engine.CodeOperationNotSupported, "option Router: a Go routing function cannot run inside the WASI module")
	}
	js, err := engine.AppendOptionsJSON(nil, engine.ScopeProducer, nil, &opts)
	if err != nil {
		return 0, err
	}
	if !e.usable() {
		return 0, e.callErr()
	}
	id, err := e.in.producerCreate(opts.Topic, js, now)
	if err != nil {
		return 0, e.check(err)
	}
	p := &prodInfo{}
	if !opts.DisableBatching {
		p.hold = stageMaxHold
		if d := opts.BatchingMaxPublishDelay; d > 0 && d < p.hold {
			p.hold = d
		}
	}
	e.parts[id] = p
	return id, nil
}

// Send queues msg: a payload-only message is one pp_send call with no
// encoding; anything else goes through pp_send_msg with its metadata.
func (e *Engine) Send(id engine.ProducerID, msg *engine.Message, token uint64, now time.Time) error {
	if !e.usable() {
		return e.callErr()
	}
	meta := hasMetadata(msg)
	if !meta && e.canStage(id, len(msg.Payload)) {
		return e.gather(id, msg.Payload, token, now)
	}
	if err := e.handOver(); err != nil {
		return err
	}
	in := e.in
	var err error
	if meta {
		e.meta = appendMetadata(e.meta[:0], msg)
		err = in.sendMsg(id, msg.Payload, e.meta, token, now)
	} else {
		err = e.sendPayload(id, msg.Payload, token, now)
	}
	e.roomFor = id
	if err != nil {
		return e.check(err)
	}
	e.track(token, id)
	return nil
}

// track records that token's message of producer id is outstanding.
func (e *Engine) track(token uint64, id engine.ProducerID) {
	if token < uint64(len(e.pending)) {
		e.pending[token] = id
	} else {
		e.trackToken(token, id)
	}
}

// sendPayload is pp_send, the hot path.
func (e *Engine) sendPayload(id engine.ProducerID, payload []byte, token uint64, now time.Time) error {
	in := e.in
	if uint64(len(payload)) > uint64(in.send.cap) {
		if len(payload) > maxGuestBlock {
			return engine.Errorf(engine.CodeMessageTooBig, "message of %d bytes exceeds the module's limit of %d bytes", len(payload), maxGuestBlock)
		}
		if err := in.reserve(&in.send, uint64(len(payload))); err != nil {
			return err
		}
	}
	if len(payload) > 0 {
		in.mem.Write(in.send.ptr, payload)
	}
	s := &in.stack
	s[0], s[1], s[2], s[3], s[4] = uint64(id), uint64(in.send.ptr), uint64(len(payload)), token, nowNs(now)
	if err := in.fns[fnSend].CallWithStack(in.ctx, s[:]); err != nil {
		return &trapError{export: exportNames[fnSend], err: err}
	}
	return in.finish()
}

// trackToken records an outstanding token that is past the dense table.
func (e *Engine) trackToken(token uint64, id engine.ProducerID) {
	if token < maxDenseToken {
		n := max(2*len(e.pending), int(token)+1, 1024)
		e.pending = append(e.pending, make([]engine.ProducerID, n-len(e.pending))...)
		e.pending[token] = id
		return
	}
	if e.bigPend == nil {
		e.bigPend = make(map[uint64]engine.ProducerID)
	}
	e.bigPend[token] = id
}

// NeedsTime is false only for a message that joins messages already
// gathered (stage.go): they go over with the time of the last, which is
// stale by less than the gathering hold.
func (e *Engine) NeedsTime(id engine.ProducerID, msg *engine.Message) bool {
	return len(e.stage.lens) == 0 || hasMetadata(msg) || !e.canStage(id, len(msg.Payload))
}

func (e *Engine) Flush(id engine.ProducerID, now time.Time) error {
	if err := e.handOver(); err != nil {
		return err
	}
	if !e.usable() {
		return e.callErr()
	}
	return e.check(e.in.do(fnFlush, uint64(id), nowNs(now)))
}

func (e *Engine) CloseProducer(id engine.ProducerID, now time.Time) error {
	_ = e.handOver() // a failure of the module shows below
	if p := e.parts[id]; p != nil && p.failed {
		delete(e.parts, id) // the module forgets a failed producer
	}
	if !e.usable() {
		if e.broken != nil {
			return nil // it has failed; there is nothing left to close
		}
		return e.callErr()
	}
	return e.check(e.in.do(fnProducerClose, uint64(id), nowNs(now)))
}

// AbortProducer fails the producer's pending messages with cause (an
// *engine.Error keeps its code; nil means AlreadyClosed).
func (e *Engine) AbortProducer(id engine.ProducerID, cause error, now time.Time) {
	if e.handOver() != nil || !e.usable() {
		return
	}
	var code int32
	var text string
	if cause != nil {
		code, text = int32(engine.CodeUnknownError), cause.Error()
		if ee := (*engine.Error)(nil); errors.As(cause, &ee) {
			code, text = int32(ee.Code), ee.Msg
		}
	}
	e.check(e.in.withCause(fnProducerAbort, uint64(id), &code, text, now))
}

// Close closes the client in the module. The instance is freed once the
// runtime has drained the events that follow.
func (e *Engine) Close(now time.Time) {
	if e.closed {
		return
	}
	_ = e.handOver()
	e.closed = true
	if e.usable() {
		e.check(e.in.do(fnClientClose, nowNs(now)))
	}
}

func (e *Engine) NumPartitions(id engine.ProducerID) int {
	if p := e.parts[id]; p != nil {
		return p.partitions
	}
	return 0
}

// breakDown handles a trap, or events or output the module cannot hand
// over: the instance is dropped, and made-up events fail every pending
// message and open producer and close every connection.
func (e *Engine) breakDown(cause error) {
	if e.broken != nil {
		return
	}
	e.broken = engine.Errorf(engine.CodeUnknownError, "the WASI module failed; the client is unusable: %v", cause)
	e.in.close()
	e.stage.reset() // its messages are in the pending table: they fail below
	byProducer := map[engine.ProducerID][]uint64{}
	for tok, id := range e.pending {
		if id != 0 {
			byProducer[id] = append(byProducer[id], uint64(tok))
		}
	}
	for tok, id := range e.bigPend {
		byProducer[id] = append(byProducer[id], tok)
	}
	e.pending, e.bigPend = nil, nil
	for id, toks := range byProducer {
		e.synth = append(e.synth, engine.Event{Kind: engine.EventSendFailed, Producer: id, Tokens: toks, Err: e.broken})
	}
	for id, p := range e.parts {
		if !p.failed {
			p.failed = true
			e.synth = append(e.synth, engine.Event{Kind: engine.EventProducerFailed, Producer: id, Err: e.broken})
		}
	}
	for id := range e.conns {
		e.synth = append(e.synth, engine.Event{Kind: engine.EventConnClosed, Conn: id, Err: e.broken})
	}
	clear(e.conns)
}

// Room reports the room of producer id. (Stub until the module reports it.)
func (e *Engine) Room(id engine.ProducerID) (int, int64) { return -1, -1 }

// ProducerStats reports producer id's counters. (Stub until the module
// reports them.)
func (e *Engine) ProducerStats(id engine.ProducerID) (engine.ProducerStats, bool) {
	return engine.ProducerStats{}, false
}

// ClientStats reports the client's counters. (Stub until the module
// reports them.)
func (e *Engine) ClientStats() engine.ClientStats { return engine.ClientStats{} }
