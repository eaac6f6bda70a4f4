// Producers: creation, sending, flushing and closing, as the user sees them.
//
// A producer starts by asking the service URL for the topic's partition
// count (PARTITIONED_METADATA). A plain topic gets one partition object, a
// partitioned topic one per partition, named topic-partition-N; each of them
// looks up its broker and registers on its own (partition.go). The producer
// is ready when every partition is registered, and creation fails as a whole
// if any partition fails before that. Afterwards partitions reconnect on
// their own, and a partition failing for good (fenced, topic terminated)
// fails the whole producer.
//
// Close is graceful: new sends are refused, open batches go out, and the
// producer waits until every pending message has its receipt or error
// before it sends CLOSE_PRODUCER. AbortProducer skips the wait.
package engine

import (
	"time"
	"unicode/utf8"
)

type producerState uint8

const (
	prodCreating producerState = iota
	prodReady
	prodClosing
	prodClosed
	prodFailed
)

type producer struct {
	e       *Engine
	id      ProducerID
	opts    ProducerOptions
	topic   topicName
	state   producerState
	parts   []*partition
	ready   int // partitions registered during creation
	closed  int // partitions closed during closing
	router  router
	err     *Error // why the producer failed
	pending int    // messages not yet completed, over all partitions

	pendingBytes int64 // their payload bytes
	stats        ProducerStats
	createBy     time.Time // creation fails at this time; zero: no bound

	nextDiscovery time.Time // when to read the partition count again; zero: never
}

// CreateProducer starts creating a producer; EventProducerReady or
// EventProducerFailed reports the outcome. Options are validated here, and
// an invalid option or topic fails at once.
func (e *Engine) CreateProducer(opts ProducerOptions, now time.Time) (ProducerID, error) {
	e.setNow(now)
	if e.closed {
		return 0, Errorf(CodeAlreadyClosed, "client is closed")
	}
	o, tn, err := opts.resolve()
	if err != nil {
		return 0, err
	}
	e.nextProducer++
	p := &producer{e: e, id: e.nextProducer, opts: o, topic: tn}
	if o.CreateTimeout > 0 {
		p.createBy = now.Add(o.CreateTimeout)
		e.wake(p.createBy)
	}
	e.producers[p.id] = p
	if tn.partition >= 0 {
		// A single partition named directly: no metadata to ask for.
		p.startPartitions(0)
	} else {
		e.request(e.serviceConn(), &request{kind: reqPartitionedMetadata, producer: p})
	}
	return p.id, nil
}

func (p *producer) metadataReady(n int) {
	switch {
	case p.state == prodCreating && p.parts == nil:
		p.startPartitions(n)
	case p.state == prodReady && p.numPartitions() > 0 && n > len(p.parts):
		p.grow(n)
	}
}

func (p *producer) metadataFailed(err *Error) {
	if p.state == prodCreating {
		p.fail(err)
		return
	}
	p.e.log(LogWarn, LogRecord{Topic: p.topic.full}, "re-reading the partitions of %s failed (trying again in %v): %v", p.topic.full, p.opts.PartitionsAutoDiscoveryInterval, err)
}

// grow adds the partitions an admin added, and routes to them from now on.
func (p *producer) grow(n int) {
	old := len(p.parts)
	for i := old; i < n; i++ {
		pt := newPartition(p, int32(i), partitionTopic(p.topic.full, i))
		p.parts = append(p.parts, pt)
		if !p.opts.LazyStartPartitionedProducers {
			pt.start()
		}
	}
	p.e.log(LogInfo, LogRecord{Topic: p.topic.full}, "%s grew from %d to %d partitions", p.topic.full, old, n)
}

// discoveryDue asks the broker again for the partition count when it is
// time; called from Tick.
func (p *producer) discoveryDue(now time.Time) {
	if p.nextDiscovery.IsZero() || now.Before(p.nextDiscovery) || p.state != prodReady {
		return
	}
	p.nextDiscovery = now.Add(p.opts.PartitionsAutoDiscoveryInterval)
	e := p.e
	e.request(e.serviceConn(), &request{kind: reqPartitionedMetadata, producer: p})
}

func (p *producer) startPartitions(n int) {
	e := p.e
	if n == 0 {
		p.parts = []*partition{newPartition(p, -1, p.topic.full)}
	} else {
		p.parts = make([]*partition, n)
		for i := range p.parts {
			p.parts[i] = newPartition(p, int32(i), partitionTopic(p.topic.full, i))
		}
	}
	p.router = newRouter(&p.opts, &e.rand, n)
	if n > 0 && p.opts.PartitionsAutoDiscoveryInterval > 0 {
		p.nextDiscovery = e.now.Add(p.opts.PartitionsAutoDiscoveryInterval)
		e.wake(p.nextDiscovery)
	}
	if n > 0 && p.opts.LazyStartPartitionedProducers {
		// Each partition registers on its first message.
		p.state = prodReady
		p.e.emit(Event{Kind: EventProducerReady, Producer: p.id})
		return
	}
	for _, pt := range p.parts {
		pt.start()
	}
}

// partReady is called when a partition registers for the first time.
func (p *producer) partReady() {
	if p.state != prodCreating {
		return
	}
	p.ready++
	if p.ready == len(p.parts) {
		p.state = prodReady
		p.e.emit(Event{Kind: EventProducerReady, Producer: p.id, Text: p.parts[0].name})
	}
}

// fail ends the producer for good: pending messages fail with err.
func (p *producer) fail(err *Error) {
	if p.state == prodClosed || p.state == prodFailed {
		return
	}
	p.err = err
	p.state = prodFailed
	// Keep the producer, so that sends keep reporting err, until the user
	// closes it; but stop listening to the broker about it.
	for _, pt := range p.parts {
		pt.failAll(err)
		pt.unregister()
		delete(p.e.byWireID, pt.wireID)
	}
	p.e.deadlineValid = false
	level := LogError
	if err.Code == CodeInterrupted || err.Code == CodeAlreadyClosed {
		level = LogInfo // the application's own doing
	}
	p.e.log(level, LogRecord{Topic: p.topic.full, ProducerName: p.parts0Name()}, "producer on %s failed: %v", p.topic.full, err)
	p.e.emit(Event{Kind: EventProducerFailed, Producer: p.id, Err: err, Stats: p.finalStats()})
}

// abort ends the producer at once, failing pending messages with err.
func (p *producer) abort(err *Error, now time.Time) {
	switch p.state {
	case prodClosed, prodFailed:
		return
	case prodCreating:
		p.fail(err)
		return
	}
	p.state = prodClosed
	p.shutdown(err)
	p.e.emit(Event{Kind: EventProducerClosed, Producer: p.id, Stats: p.finalStats()})
}

// shutdown fails everything pending, unregisters every partition from the
// broker without waiting, and forgets the producer.
func (p *producer) shutdown(err *Error) {
	for _, pt := range p.parts {
		pt.failAll(err)
		pt.unregister()
	}
	p.forget()
}

func (p *producer) forget() {
	if _, ok := p.e.producers[p.id]; ok {
		p.stats.PendingMsgs, p.stats.PendingBytes = 0, 0
		p.e.closedStats.add(&p.stats)
	}
	delete(p.e.producers, p.id)
	if p.e.lastProducer == p {
		p.e.lastProducer = nil
	}
	for _, pt := range p.parts {
		delete(p.e.byWireID, pt.wireID)
	}
	p.e.deadlineValid = false
}

// maybeFinishClose sends CLOSE_PRODUCER once nothing is pending.
func (p *producer) maybeFinishClose() {
	if p.state != prodClosing || p.pending > 0 {
		return
	}
	for _, pt := range p.parts {
		pt.close()
	}
}

// partClosed is called as each partition finishes closing.
func (p *producer) partClosed() {
	if p.state != prodClosing {
		return
	}
	p.closed++
	if p.closed == len(p.parts) {
		p.state = prodClosed
		p.forget()
		p.e.emit(Event{Kind: EventProducerClosed, Producer: p.id, Stats: p.finalStats()})
	}
}

// lookupProducer returns the producer for a user call, or the error that
// call must return.
func (e *Engine) lookupProducer(id ProducerID) (*producer, error) {
	if e.closed {
		return nil, Errorf(CodeAlreadyClosed, "client is closed")
	}
	p := e.lastProducer
	if p == nil || p.id != id {
		if p = e.producers[id]; p == nil {
			return nil, Errorf(CodeAlreadyClosed, "producer %d is closed or was never created", id)
		}
		e.lastProducer = p
	}
	switch p.state {
	case prodCreating:
		return nil, Errorf(CodeProducerNotInitialized, "producer for %s is not ready yet", p.topic.full)
	case prodClosing:
		return nil, Errorf(CodeAlreadyClosed, "producer for %s is closing", p.topic.full)
	case prodFailed:
		return nil, p.err
	}
	return p, nil
}

// Send queues msg on producer id. token comes back in the message's
// EventReceipt or EventSendFailed; exactly one of them follows every Send
// that returns nil. A Send that returns an error queued nothing.
//
// The payload and every other field are copied before Send returns.
func (e *Engine) Send(id ProducerID, msg *Message, token uint64, now time.Time) error {
	e.setNow(now)
	p, err := e.lookupProducer(id)
	if err != nil {
		return err
	}
	if msg.Value != nil {
		m, err := p.encode(msg)
		if err != nil {
			return err
		}
		msg = &m
	}
	if err := p.check(msg); err != nil {
		return err
	}
	i := 0
	switch {
	case msg.Routed:
		n := p.numPartitions()
		switch {
		case n == 0 && msg.Partition != 0:
			return Errorf(CodeInvalidArgument, "partition %d was asked for, but %s is not partitioned (only 0, the topic itself, is)", msg.Partition, p.topic.full)
		case n > 0 && (msg.Partition < 0 || int(msg.Partition) >= n):
			return Errorf(CodeInvalidArgument, "partition %d is out of range for a topic of %d partitions", msg.Partition, n)
		}
		i = int(msg.Partition)
	case len(p.parts) > 1:
		if i, err = p.router.pick(msg, len(p.parts), now); err != nil {
			return err
		}
	}
	return p.part(i).add(msg, token, now)
}

// part returns partition i, starting it if it waits for its first message
// (lazyStartPartitionedProducers).
func (p *producer) part(i int) *partition {
	pt := p.parts[i]
	if pt.state == ptIdle {
		pt.start()
	}
	return pt
}

// encode returns msg with its Value encoded by the producer's schema.
func (p *producer) encode(msg *Message) (Message, error) { return EncodeMessage(p.opts.Schema, msg) }

// EncodeMessage returns a copy of msg with its Value encoded by schema
// (nil: BYTES) into the payload and, for a SEPARATED KEY_VALUE schema, the
// base64 key, as Send does: a runtime that cannot hand the engine a Go
// value (the WASI host) encodes with it first.
func EncodeMessage(schema *Schema, msg *Message) (Message, error) {
	m := *msg
	if len(m.Payload) > 0 || m.NullValue {
		return m, Errorf(CodeInvalidMessage, "give a message a Value or a Payload (or NullValue), not both")
	}
	payload, key, hasKey, err := EncodeValue(schema, m.Value)
	if err != nil {
		return m, err
	}
	if hasKey {
		if m.Key != "" || m.HasKey || m.KeyBase64 {
			return m, Errorf(CodeInvalidMessage, "a SEPARATED KEY_VALUE value sets the message key; leave Key empty and KeyBase64 unset")
		}
		m.Key, m.HasKey, m.KeyBase64 = key, true, true // an empty key is a key
	}
	m.Payload, m.Value = payload, nil
	return m, nil
}

// NeedsTime reports whether Send(id, msg) would use the current time for
// more than a batch's publish time: it does when the message opens a batch,
// closes one, travels alone, carries a delivery delay, or is routed among
// partitions. When it returns false, a driver for which reading the clock is
// costly may pass the time of its previous call instead; the publish time of
// the batch is then stale by less than the batching delay.
func (e *Engine) NeedsTime(id ProducerID, msg *Message) bool {
	p := e.lastProducer
	if p == nil || p.id != id || p.state != prodReady || len(p.parts) != 1 {
		return true
	}
	o := &p.opts
	b := &p.parts[0].batch
	return o.DisableBatching || o.BatcherType == KeyBasedBatcher || o.ChunkingEnabled || b.count == 0 || b.count+1 >= o.BatchingMaxMessages ||
		len(b.buf)-b.start+len(msg.Payload)+64 >= o.BatchingMaxBytes ||
		msg.DeliverAfter != 0 || !msg.DeliverAt.IsZero() || msg.DisableReplication || len(msg.ReplicationClusters) > 0 || len(b.clusters) > 0
}

// check validates msg and the queue limits.
func (p *producer) check(m *Message) error {
	size := len(m.Payload)
	switch {
	case m.NullValue && size > 0:
		return Errorf(CodeInvalidMessage, "a null-value message must have an empty payload, got %d bytes", size)
	case m.DeliverAfter < 0:
		return Errorf(CodeInvalidMessage, "deliverAfter must not be negative, got %v", m.DeliverAfter)
	case m.DeliverAfter > 0 && !m.DeliverAt.IsZero():
		return Errorf(CodeInvalidMessage, "set deliverAt or deliverAfter, not both")
	case m.SequenceID != nil && *m.SequenceID < 0:
		return Errorf(CodeInvalidMessage, "sequenceId must not be negative, got %d", *m.SequenceID)
	case m.DisableReplication && len(m.ReplicationClusters) > 0:
		return Errorf(CodeInvalidMessage, "set replicationClusters or disableReplication, not both")
	case !m.EventTime.IsZero() && m.EventTime.UnixMilli() <= 0:
		return Errorf(CodeInvalidMessage, "eventTime must be after 1970-01-01, got %v", m.EventTime)
	case !m.DeliverAt.IsZero() && m.DeliverAt.UnixMilli() <= 0:
		return Errorf(CodeInvalidMessage, "deliverAt must be after 1970-01-01, got %v", m.DeliverAt)
	}
	for _, c := range m.ReplicationClusters {
		if c == "" {
			return Errorf(CodeInvalidMessage, "a replication cluster name is empty")
		}
		if !utf8.ValidString(c) {
			return Errorf(CodeInvalidMessage, "replication cluster %q is not valid UTF-8", c)
		}
	}
	if !utf8.ValidString(m.Key) {
		return Errorf(CodeInvalidMessage, "the key %q is not valid UTF-8 (use the ordering key for binary keys)", m.Key)
	}
	for k, v := range m.Properties {
		if k == "" {
			return Errorf(CodeInvalidMessage, "a message property key is empty")
		}
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return Errorf(CodeInvalidMessage, "property %q=%q is not valid UTF-8", k, v)
		}
	}
	if limit := p.parts[0].maxMessageSize; size+metaLowerBound(m) > limit && !p.opts.ChunkingEnabled {
		return Errorf(CodeMessageTooBig, "message of %d bytes of payload and %d of key and properties exceeds the broker's limit of %d bytes",
			size, metaLowerBound(m), limit)
	}
	return p.checkLimits(size)
}

// checkLimits checks a message of size bytes against the size and queue
// limits.
func (p *producer) checkLimits(size int) error {
	e := p.e
	if limit := p.parts[0].maxMessageSize; size > limit && !p.opts.ChunkingEnabled {
		return Errorf(CodeMessageTooBig, "message of %d bytes exceeds the broker's limit of %d bytes (chunkingEnabled would send it in chunks)", size, limit)
	}
	if max := p.opts.MaxPendingMessages; max > 0 && p.pending >= max {
		return Errorf(CodeProducerQueueIsFull, "producer for %s has %d messages pending (maxPendingMessages %d)", p.topic.full, p.pending, max)
	}
	if limit := e.opts.MemoryLimitBytes; limit > 0 && e.memUsed > 0 && e.memUsed+int64(size) > limit {
		return Errorf(CodeMemoryBufferIsFull, "pending messages hold %d bytes; %d more would pass memoryLimitBytes %d", e.memUsed, size, limit)
	}
	return nil
}

// SendPayloads queues messages that have a payload and nothing else, as
// Send would one by one, for drivers that pay per call (the WASI host):
// payload i is the next lens[i] bytes of data, sent with tokens[i]. It stops
// at the first message not accepted, returning how many were and that
// message's error; every accepted one gets its event as with Send.
func (e *Engine) SendPayloads(id ProducerID, data []byte, lens []uint32, tokens []uint64, now time.Time) (int, error) {
	e.setNow(now)
	p, err := e.lookupProducer(id)
	if err != nil {
		return 0, err
	}
	if len(lens) != len(tokens) {
		return 0, Errorf(CodeInvalidArgument, "%d payload lengths but %d tokens", len(lens), len(tokens))
	}
	var m Message
	off := 0
	for i, n32 := range lens {
		n := int(n32)
		if n > len(data)-off {
			return i, Errorf(CodeInvalidArgument, "payload %d of %d bytes overruns the %d bytes of data left", i, n, len(data)-off)
		}
		m.Payload = data[off : off+n : off+n]
		if err := p.checkLimits(n); err != nil {
			return i, err
		}
		k := 0
		if len(p.parts) > 1 {
			if k, err = p.router.pick(&m, len(p.parts), now); err != nil {
				return i, err
			}
		}
		pt := p.part(k)
		if p.opts.DisableBatching || pt.needsChunks(&m) {
			if err := pt.add(&m, tokens[i], now); err != nil {
				return i, err
			}
		} else {
			pt.addPayload(m.Payload, tokens[i], now)
		}
		off += n
	}
	return len(lens), nil
}

// Room reports how many more messages, and payload bytes, producer id can
// take before Send refuses with ProducerQueueIsFull or MemoryBufferIsFull:
// -1 means no limit. A driver that gathers messages before handing them
// over (the WASI host) gathers only what fits.
func (e *Engine) Room(id ProducerID) (messages int, bytes int64) {
	p := e.producers[id]
	if p == nil || p.state != prodReady {
		return 0, 0
	}
	messages, bytes = -1, -1
	if limit := p.opts.MaxPendingMessages; limit > 0 {
		messages = max(0, limit-p.pending)
	}
	if limit := e.opts.MemoryLimitBytes; limit > 0 {
		bytes = max(0, limit-e.memUsed)
	}
	return messages, bytes
}

// Flush sends every open batch of the producer now.
func (e *Engine) Flush(id ProducerID, now time.Time) error {
	e.setNow(now)
	p, err := e.lookupProducer(id)
	if err != nil {
		return err
	}
	for _, pt := range p.parts {
		pt.flushAll(now)
	}
	return nil
}

// CloseProducer starts a graceful close: no more sends, open batches go out,
// and CLOSE_PRODUCER follows the last receipt. EventProducerClosed reports
// the end. Closing a closed producer is an error.
func (e *Engine) CloseProducer(id ProducerID, now time.Time) error {
	e.setNow(now)
	p := e.producers[id]
	if p == nil || p.state == prodClosing || p.state == prodClosed {
		return Errorf(CodeAlreadyClosed, "producer %d is already closed", id)
	}
	switch p.state {
	case prodFailed:
		p.forget()
		return nil
	case prodCreating:
		p.fail(Errorf(CodeAlreadyClosed, "producer for %s closed before it was ready", p.topic.full))
		return nil
	}
	p.state = prodClosing
	for _, pt := range p.parts {
		pt.flushAll(now)
	}
	p.maybeFinishClose()
	return nil
}

// AbortProducer fails every pending message of the producer with err (or
// AlreadyClosed when err is nil) and closes it without waiting.
func (e *Engine) AbortProducer(id ProducerID, err error, now time.Time) {
	e.setNow(now)
	p := e.producers[id]
	if p == nil {
		return
	}
	ae, ok := err.(*Error)
	if !ok {
		msg := "producer closed with messages pending"
		if err != nil {
			msg += ": " + err.Error()
		}
		ae = Errorf(CodeAlreadyClosed, "%s", msg)
	}
	p.abort(ae, now)
}

// NumPartitions reports the partitions of a ready producer (0 for a plain
// topic).
func (e *Engine) NumPartitions(id ProducerID) int {
	if p := e.producers[id]; p != nil {
		return p.numPartitions()
	}
	return 0
}

// numPartitions is the topic's partition count, 0 for a plain topic.
func (p *producer) numPartitions() int {
	if len(p.parts) == 0 || p.parts[0].index < 0 {
		return 0
	}
	return len(p.parts)
}

// ProducerName reports the producer's name once it is ready.
func (e *Engine) ProducerName(id ProducerID) string {
	p := e.producers[id]
	if p == nil || len(p.parts) == 0 {
		return ""
	}
	return p.parts[0].name
}

// Pending reports the messages of the producer not yet completed.
func (e *Engine) Pending(id ProducerID) int {
	if p := e.producers[id]; p != nil {
		return p.pending
	}
	return 0
}

// parts0Name is the producer's name, once a partition registered.
func (p *producer) parts0Name() string {
	if len(p.parts) > 0 {
		return p.parts[0].name
	}
	return ""
}

// pendingOn counts the messages pending on partition pt.
func (p *producer) pendingOn(pt *partition) int {
	n := pt.batch.count
	for _, b := range pt.parked {
		n += b.count
	}
	for _, ent := range pt.queue[pt.head:] {
		n += ent.count
	}
	return n
}

// waitingForExclusive reports whether a partition waits for the broker to
// give it the topic (accessMode waitForExclusive).
func (p *producer) waitingForExclusive() bool {
	for _, pt := range p.parts {
		if pt.state == ptWaitingExclusive {
			return true
		}
	}
	return false
}

// finalStats are the producer's counters as it closes or fails.
func (p *producer) finalStats() *ProducerStats {
	s := p.stats
	s.PendingMsgs, s.PendingBytes = int64(p.pending), p.pendingBytes
	return &s
}
