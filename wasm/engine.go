// Package wasm runs the producer engine compiled to WASI (the module built
// from ./guest) under wazero, behind exactly the native Go API: NewClient
// returns a *core.Client, whose producers have Send, SendAsync, Flush,
// Close and Stats.
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
// The host drives the module and keeps no protocol state of its own: no
// record of which messages are outstanding. If the module itself fails (a
// trap), the Engine closes the instance and reports one EngineFailed event;
// the runtime, which holds a completion slot for every message it handed
// over, fails them all, fails the producers and closes the connections, so
// nothing waits forever. Every later call fails with the same error.
package wasm

import (
	"errors"
	"math/rand/v2"
	"time"

	"github.com/pulsar-producer/pulsar-producer/core"
	"github.com/pulsar-producer/pulsar-producer/core/engine"
	"github.com/pulsar-producer/pulsar-producer/wasm/internal/abi"
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
	return core.NewClientWithEngine(eng)
}

// Engine is one module instance holding one client's engine, as a
// core.Engine. Like *engine.Engine it is not safe for concurrent use.
type Engine struct {
	in     *instance
	opts   engine.ClientOptions
	closed bool  // Close was called
	broken error // set when the module failed; every later call fails with it

	failedEvent bool // the EngineFailed event waits for AppendEvents

	parts   map[engine.ProducerID]*prodInfo // open producers
	tokens  []uint64                        // what the last events' Tokens alias
	refused []engine.Event                  // gathered sends the engine refused at hand-over (stage.go)
	meta    []byte                          // metadata scratch
	stage   stage                           // payload-only messages gathered (stage.go)
	roomFor engine.ProducerID               // whose room the status block reports

	lastStats engine.ClientStats // the client's counters as last read, for after the instance is gone

	lastPart   *prodInfo // the producer canStage looked up last, a cache
	lastPartID engine.ProducerID
}

// prodInfo is what the host knows of a producer.
type prodInfo struct {
	partitions int
	failed     bool
	hold       time.Duration  // how long gathered messages may wait; 0: not at all
	schema     *engine.Schema // encodes Message.Value here, before the message crosses
	discovers  bool           // partitionsAutoDiscoveryInterval is on: the count may grow
}

var _ core.Engine = (*Engine)(nil)

// NewEngine creates an engine for opts in a new instance of m.
func (m *Module) NewEngine(opts ClientOptions) (*Engine, error) {
	// The runtime needs the resolved options (dial and close timeouts, the
	// logger); resolving them is a pure function of the engine's, which
	// refuses what the module would, with the same errors.
	resolved, _, err := engine.ResolveClientOptions(opts)
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
		opts:  resolved,
		parts: make(map[engine.ProducerID]*prodInfo),
	}
	e.opts.Logger = opts.Logger // Go only: it never crosses into the module
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

// Receive feeds bytes read from connection id; the module ignores bytes
// for a connection it has closed.
func (e *Engine) Receive(id engine.ConnID, p []byte, now time.Time) {
	if e.usable() {
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

// Deadline is the module's deadline from the status block, or the
// gathered messages' if earlier. After a failure it is now while the
// EngineFailed event waits, so that the runtime's timer collects it even if
// no other call comes.
func (e *Engine) Deadline() (time.Time, bool) {
	if e.failedEvent {
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
// valid until the next AppendEvents. After the module failed, the one
// EngineFailed event comes last, once.
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
	if len(e.refused) > 0 {
		dst = append(dst, e.refused...)
		clear(e.refused)
		e.refused = e.refused[:0]
	}
	if e.failedEvent {
		e.failedEvent = false
		dst = append(dst, engine.Event{Kind: engine.EventEngineFailed, Err: e.broken})
	}
	if e.closed && e.usable() && e.in.st.events == 0 && !e.in.st.output {
		e.readClientStats() // the last chance: the counters go with the instance
		e.in.close()        // closed and drained: free the instance's memory
	}
	return dst
}

// note records what an event tells the host about its producers.
func (e *Engine) note(ev *engine.Event, partitions int) {
	switch ev.Kind {
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

// CreateProducer starts creating a producer in the module. opts.Router
// must be nil: a Go function cannot run inside the module. The core
// runtime runs a router itself, on the sending goroutine, and passes its
// choice with the message (Message.Routed), so core.ProducerOptions.Router
// works with a WASI-hosted client.
func (e *Engine) CreateProducer(opts engine.ProducerOptions, now time.Time) (engine.ProducerID, error) {
	if opts.Router != nil {
		return 0, engine.Errorf(engine.CodeOperationNotSupported, "option Router: a Go routing function cannot run inside the WASI module (the core runtime runs it and passes its choice as Message.Routed)")
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
	p := &prodInfo{schema: opts.Schema, discovers: opts.PartitionsAutoDiscoveryInterval >= 0}
	if !opts.DisableBatching {
		p.hold = stageMaxHold
		if d := opts.BatchingMaxPublishDelay; d > 0 && d < p.hold {
			p.hold = d
		}
	}
	e.parts[id] = p
	return id, nil
}

// Send queues msg: a payload-only message is gathered (stage.go) or is one
// ppw_send call with no encoding; anything else goes through ppw_send_msg
// with its metadata. A Value given as JSON text crosses as it is (tag 13)
// and the module encodes it, as the native engine would; any other Value
// (a Go value, which cannot cross) is encoded here first, by the
// producer's schema (codec.go), with the engine's checks and errors; one
// the schema cannot encode fails even before the producer is ready, where
// the native engine would first report that it is not.
func (e *Engine) Send(id engine.ProducerID, msg *engine.Message, token uint64, now time.Time) error {
	if !e.usable() {
		return e.callErr()
	}
	if msg.Value != nil && !crossesAsJSON(msg) {
		m, err := e.encodeFor(id, msg)
		if err != nil {
			return err
		}
		msg = &m
	}
	meta := hasMetadata(msg)
	if !meta && e.canStage(id, len(msg.Payload)) {
		return e.gather(id, msg.Payload, token, now)
	}
	if err := e.handOver(); err != nil {
		return err
	}
	var err error
	if meta {
		e.meta = appendMetadata(e.meta[:0], msg)
		err = e.in.sendMsg(id, msg.Payload, e.meta, token, now)
	} else {
		err = e.sendPayload(id, msg.Payload, token, now)
	}
	e.roomFor = id
	return e.check(err)
}

// encodeFor encodes msg's Value by producer id's schema. A producer the
// host no longer knows is one the module has forgotten too: the error is
// the engine's for it.
func (e *Engine) encodeFor(id engine.ProducerID, msg *engine.Message) (engine.Message, error) {
	p := e.parts[id]
	switch {
	case e.closed:
		return engine.Message{}, errInstanceClosed
	case p == nil:
		return engine.Message{}, engine.Errorf(engine.CodeAlreadyClosed, "producer %d is closed or was never created", id)
	}
	return engine.EncodeMessage(p.schema, msg)
}

// sendPayload is ppw_send, the hot path.
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

// NumPartitions is producer id's partition count: the one its ProducerReady
// record gave, asked again of the module (ppw_partitions) when it may have
// grown since, that is when the topic is partitioned and
// partitionsAutoDiscoveryInterval is on. The runtime asks before running a
// custom router, so that the router sees partitions an admin added.
func (e *Engine) NumPartitions(id engine.ProducerID) int {
	p := e.parts[id]
	if p == nil {
		return 0
	}
	if p.partitions > 0 && p.discovers && !p.failed && e.usable() {
		if n, err := e.in.partitions(id); e.check(err) == nil && n > p.partitions {
			p.partitions = n
		}
	}
	return p.partitions
}

// Room reports how many more messages and payload bytes producer id takes
// (-1: no limit; 0, 0 when it is not ready). Gathered messages are handed
// over first, so that they count.
func (e *Engine) Room(id engine.ProducerID) (int, int64) {
	if e.handOver() != nil || !e.usable() {
		return 0, 0
	}
	m, b, err := e.in.room(id)
	if e.check(err) != nil {
		return 0, 0
	}
	return m, b
}

// ProducerStats reports producer id's counters, counting gathered messages
// (they are handed over first); ok is false for a producer that is closed
// or was never created, and after the module failed.
func (e *Engine) ProducerStats(id engine.ProducerID) (engine.ProducerStats, bool) {
	if e.handOver() != nil || !e.usable() {
		return engine.ProducerStats{}, false
	}
	b, err := e.in.stats(fnProducerStats, abi.ProducerStatsSize, uint64(id))
	if e.check(err) != nil {
		return engine.ProducerStats{}, false // InvalidHandle: not open
	}
	return abi.ProducerStatsOf(b), true
}

// ClientStats reports the client's counters; once the instance is gone
// (closed, or failed) the last ones read.
func (e *Engine) ClientStats() engine.ClientStats {
	if e.handOver() == nil && e.usable() {
		e.readClientStats()
	}
	return e.lastStats
}

// readClientStats reads the client's counters into lastStats.
func (e *Engine) readClientStats() {
	b, err := e.in.stats(fnClientStats, abi.ClientStatsSize)
	if e.check(err) == nil {
		e.lastStats = abi.ClientStatsOf(b)
	}
}

// breakDown handles a trap, or events or output the module cannot hand
// over: the instance is dropped, and one EngineFailed event will tell the
// runtime, which fails what it has outstanding (every message it took,
// gathered here or queued in the module, and every producer) and closes
// every connection. The host keeps no record of its own of what was
// outstanding.
func (e *Engine) breakDown(cause error) {
	if e.broken != nil {
		return
	}
	e.broken = engine.Errorf(engine.CodeUnknownError, "the WASI module failed; the client is unusable: %v", cause)
	e.failedEvent = true
	e.in.close()
	e.stage.reset()
}

// SetCredentials sets the credentials (method and data) that CONNECT
// carries from now on, in the module (ppw_set_credentials); an empty method
// sends none. They never appear in an error or a log record.
func (e *Engine) SetCredentials(method string, data []byte) {
	if e.usable() {
		e.check(e.in.credentials(fnSetCredentials, 0, method, data, time.Time{}))
	}
}

// AnswerChallenge answers the broker's AUTH_CHALLENGE on connection id (an
// EventAuthChallenge) with fresh credentials: the module writes
// AUTH_RESPONSE and keeps them for later CONNECTs (ppw_answer_challenge).
func (e *Engine) AnswerChallenge(id engine.ConnID, method string, data []byte, now time.Time) {
	if e.usable() {
		e.check(e.in.credentials(fnAnswerChallenge, id, method, data, now))
	}
}
