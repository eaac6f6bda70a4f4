// Partitions: one registration on one broker, and its pending messages.
//
// A partition looks up the broker that owns its topic (following redirects),
// registers a producer there (PRODUCER / PRODUCER_SUCCESS) and then writes
// entries as they are sealed. Entries stay in a FIFO until their receipt;
// receipts arrive in sequence order, so the receipt for the oldest entry is
// the only one expected. When the connection drops, or the broker closes
// the producer, the partition waits out a backoff (doubling, with jitter),
// looks up again, registers with the next epoch and writes every pending
// entry again, in order, with its original sequence ID, so a broker with
// deduplication drops what it already stored.
//
// Each connection attempt has a number; replies to an older attempt are
// ignored, which keeps late answers from a dead connection harmless.
package engine

import (
	"strings"
	"time"
)

type partState uint8

const (
	ptIdle partState = iota
	ptLookup
	ptConnecting
	ptRegistering
	ptWaitingExclusive
	ptReady
	ptBackoff
	ptClosing
	ptClosed
)

type partition struct {
	e      *Engine
	p      *producer
	index  int32  // partition index, -1 for a plain topic
	topic  string // this partition's topic name
	wireID uint64 // the protocol's producer_id, kept across reconnects
	state  partState
	conn   *conn
	// oldConn is the connection the broker closed the producer on while
	// keeping the connection: receipts for entries it was still storing
	// may follow the CLOSE_PRODUCER there, and they carry the real message
	// IDs (a resent copy would only get a deduplication receipt).
	oldConn *conn

	attempt       uint64 // connection attempt; stale replies are dropped
	epoch         uint64 // PRODUCER epoch: reconnections so far
	authoritative bool   // lookup: the redirect was authoritative
	hops          int    // lookup redirects followed in this attempt
	migrateTo     string // broker URL to use on the next reconnect
	retryAt       time.Time
	bo            backoff
	retries       int // connection attempts since the last registration
	busyRetries   int // ProducerBusy answers in a row

	name           string
	registeredOnce bool
	topicEpoch     *uint64
	maxMessageSize int

	firstChunkLedger, firstChunkEntry int64 // where the current chunked message's first chunk is stored

	// keyBased batching: the open batches of other keys than batch's, and
	// their keys in the order they were opened.
	parked     map[string]*openBatch
	parkedKeys []string

	// schemaVersion is what the broker said the producer's schema is
	// registered as; every message sent afterwards carries it.
	schemaVersion []byte

	nextSeq int64 // the next automatic sequence ID
	lastSeq int64 // the highest sequence ID ever assigned, -1 for none
	batch   openBatch
	queue   []*entry // sealed entries awaiting receipts, oldest first
	head    int      // queue[head] is the oldest
}

func newPartition(p *producer, index int32, topic string) *partition {
	e := p.e
	e.nextWireID++
	pt := &partition{
		e:              e,
		p:              p,
		index:          index,
		topic:          topic,
		wireID:         e.nextWireID,
		maxMessageSize: DefaultMaxMessageSize,
		lastSeq:        -1,
		bo:             backoff{initial: e.opts.InitialBackoff, max: e.opts.MaxBackoff},
	}
	if p.opts.InitialSequenceID != nil {
		pt.nextSeq = *p.opts.InitialSequenceID + 1
	}
	e.byWireID[pt.wireID] = pt
	return pt
}

// startLookup begins a connection attempt.
func (pt *partition) startLookup() {
	e := pt.e
	pt.attempt++
	pt.hops = 0
	pt.authoritative = false
	if pt.migrateTo != "" {
		addr, err := brokerAddress(pt.migrateTo)
		pt.migrateTo = ""
		if err == nil {
			pt.connectTo(addr)
			return
		}
	}
	pt.state = ptLookup
	e.request(e.serviceConn(), &request{kind: reqLookup, part: pt, epoch: pt.attempt})
}

func (pt *partition) lookupDone(r *request, m lookupResponseCmd) {
	if r.epoch != pt.attempt || pt.state != ptLookup {
		return
	}
	e := pt.e
	switch m.response {
	case lookupFailed:
		err := brokerError(m.err, m.message)
		if err.Code == CodeUnknownError {
			err.Code = CodeLookupError
		}
		pt.lookupFailed(r, err)
	case lookupRedirect:
		pt.hops++
		if pt.hops > e.opts.MaxLookupRedirects {
			pt.lookupFailed(r, Errorf(CodeLookupError, "lookup of %s redirected more than %d times", pt.topic, e.opts.MaxLookupRedirects))
			return
		}
		c, err := pt.brokerConn(r, m)
		if err != nil {
			pt.lookupFailed(r, err)
			return
		}
		pt.authoritative = m.authoritative
		e.log(LogDebug, pt.logRecord(), "lookup of %s redirected to %s", pt.topic, c.addr)
		e.request(c, &request{kind: reqLookup, part: pt, epoch: pt.attempt})
	default: // connect
		c, err := pt.brokerConn(r, m)
		if err != nil {
			pt.lookupFailed(r, err)
			return
		}
		pt.attach(c)
	}
}

// brokerConn returns the connection to the broker a lookup answer names:
// its TLS URL for a TLS client; and, when the answer says to go through
// the service URL (a Pulsar proxy), a connection to the proxy the lookup
// went to, which forwards to that broker.
func (pt *partition) brokerConn(r *request, m lookupResponseCmd) (*conn, *Error) {
	e := pt.e
	u := e.pickURL(m.brokerURL, m.brokerURLTLS)
	if u == "" {
		return nil, Errorf(CodeLookupError, "lookup of %s: the broker named no TLS URL (brokerServiceUrlTls); is TLS enabled on it?", pt.topic)
	}
	addr, err := brokerAddress(u)
	if err != nil {
		return nil, Errorf(CodeLookupError, "lookup of %s answered a bad URL: %v", pt.topic, err)
	}
	if m.proxyThrough && addr != r.conn.addr {
		return e.connVia(r.conn.addr, addr), nil
	}
	return e.connTo(addr), nil // (a "proxy" that is the broker itself is no proxy)
}

func (pt *partition) lookupFailed(r *request, err *Error) {
	if r.epoch != pt.attempt || pt.state != ptLookup {
		return
	}
	pt.attemptFailed(err)
}

// attemptFailed handles a failed lookup or registration: fatal before the
// first registration, a retry after it unless the broker said never.
func (pt *partition) attemptFailed(err *Error) {
	pt.detach()
	if !pt.registeredOnce {
		pt.firstAttemptFailed(err)
		return
	}
	if !retriableServerError(err.Code) {
		pt.p.fail(err)
		return
	}
	if err.Code == CodeProducerBusy {
		// Re-registering after a reconnect may briefly meet the broker's
		// record of our own previous registration; that clears within a
		// moment. A topic taken by an exclusive producer (fencing) does
		// not: fail for good, promptly, with the broker's reason.
		pt.busyRetries++
		if pt.busyRetries >= maxBusyRetries || strings.Contains(strings.ToLower(err.Msg), "exclusive") {
			pt.p.fail(err)
			return
		}
	}
	pt.scheduleRetry(err)
}

// maxBusyRetries is how many ProducerBusy answers in a row a registered
// producer takes before it fails.
const maxBusyRetries = 3

func (pt *partition) connectTo(addr string) { pt.attach(pt.e.connTo(addr)) }

// attach makes c the partition's connection and registers once it is
// ready.
func (pt *partition) attach(c *conn) {
	pt.conn = c
	c.parts[pt.wireID] = pt
	pt.state = ptConnecting
	if c.state == connReady {
		pt.register()
	}
}

// connReady is called when the connection pt waits on finishes its
// handshake.
func (pt *partition) connReady(c *conn) {
	if pt.state == ptConnecting && pt.conn == c {
		pt.register()
	}
}

func (pt *partition) register() {
	pt.state = ptRegistering
	pt.e.request(pt.conn, &request{kind: reqProducer, part: pt, epoch: pt.attempt})
}

func (pt *partition) producerCommand(requestID uint64) *producerCmd {
	o := &pt.p.opts
	cmd := &producerCmd{
		topic:      pt.topic,
		producerID: pt.wireID,
		requestID:  requestID,
		epoch:      pt.epoch,
		accessMode: o.AccessMode,
		topicEpoch: pt.topicEpoch,
		properties: o.Properties,
		schema:     o.Schema,
	}
	switch {
	case o.ProducerName != "":
		cmd.name, cmd.userProvidedName = o.ProducerName, true
	case pt.name != "":
		cmd.name = pt.name // keep the broker-assigned name across reconnects
	}
	return cmd
}

func (pt *partition) waitingForExclusive() {
	if pt.state == ptRegistering {
		pt.state = ptWaitingExclusive
	}
}

func (pt *partition) registered(r *request, m producerSuccessCmd) {
	if r.epoch != pt.attempt || (pt.state != ptRegistering && pt.state != ptWaitingExclusive) {
		// A registration we gave up on for good (cancelled or timed out)
		// that the broker granted after all, such as a waitForExclusive
		// producer given the topic late: unregister it, or it holds the
		// topic with no one behind it.
		if c := r.conn; c != nil && c.state == connReady && pt.state == ptClosed {
			pt.e.nextRequest++
			c.out = appendCloseProducer(c.out, pt.wireID, pt.e.nextRequest)
			pt.e.markDirty(c)
		}
		return
	}
	c := pt.conn
	if n := pt.p.opts.ChunkMaxMessageSize; n > c.maxMessageSize {
		pt.unregister()
		pt.p.fail(Errorf(CodeInvalidConfiguration, "option chunkMaxMessageSize: %d bytes is more than the broker's maxMessageSize of %d", n, c.maxMessageSize))
		return
	}
	pt.state = ptReady
	pt.name = m.name
	pt.schemaVersion = m.schemaVersion
	pt.maxMessageSize = c.maxMessageSize
	if m.topicEpoch != nil {
		pt.topicEpoch = m.topicEpoch
	}
	if !pt.registeredOnce {
		pt.registeredOnce = true
		if pt.p.opts.InitialSequenceID == nil {
			if last := m.lastSeq; last >= 0 {
				pt.nextSeq = last + 1
				pt.lastSeq = last
			}
		}
	}
	pt.bo.reset()
	pt.retries = 0
	pt.busyRetries = 0
	pt.e.log(LogInfo, pt.logRecord(), "producer %s registered on %s at %s (epoch %d, %d entries to resend)",
		pt.name, pt.topic, c.addr, pt.epoch, len(pt.queue)-pt.head)
	// Write everything pending again, in order, with its sequence IDs.
	// An entry over this broker's limit (it may be lower than the last
	// one's) is not written: it fails when it reaches the head of the
	// queue, so that failures keep the order of sends.
	for _, ent := range pt.queue[pt.head:] {
		if ent.tooBig == nil {
			ent.tooBig = pt.checkFrame(ent)
		}
		if ent.tooBig == nil {
			c.out = append(c.out, ent.frame...)
		}
	}
	if pt.head < len(pt.queue) {
		pt.e.markDirty(c)
	}
	pt.failTooBigHead()
	pt.p.partReady()
	if pt.p.state == prodClosing {
		pt.p.maybeFinishClose()
	}
}

func (pt *partition) registerFailed(r *request, err *Error) {
	if r.epoch != pt.attempt || (pt.state != ptRegistering && pt.state != ptWaitingExclusive) {
		return
	}
	pt.attemptFailed(err)
}

// detach forgets the current connection attempt.
func (pt *partition) detach() {
	if pt.conn != nil {
		if pt.conn.parts != nil && pt.conn.parts[pt.wireID] == pt {
			delete(pt.conn.parts, pt.wireID)
		}
		pt.conn = nil
	}
	pt.attempt++
}

// scheduleRetry waits out a backoff before the next connection attempt.
func (pt *partition) scheduleRetry(cause *Error) {
	pt.state = ptBackoff
	d := pt.bo.delay(&pt.e.rand) + pt.startupWait()
	pt.retryAt = pt.e.now.Add(d)
	pt.e.wake(pt.retryAt)
	pt.retries++
	pt.e.log(LogWarn, pt.logRecord(), "producer on %s reconnects in %v (attempt %d): %v", pt.topic, d.Round(time.Millisecond), pt.retries, cause)
}

// logRecord is a log record about pt, its fields filled in.
func (pt *partition) logRecord() LogRecord {
	r := LogRecord{Topic: pt.topic, ProducerName: pt.name}
	if pt.conn != nil {
		r.Addr, r.Conn = pt.conn.addr, pt.conn.id
	}
	return r
}

// disconnected is called when pt's connection closes.
func (pt *partition) disconnected(c *conn, cause *Error) {
	if pt.oldConn == c {
		pt.oldConn = nil
	}
	if pt.conn != c {
		return
	}
	switch pt.state {
	case ptClosing:
		pt.detach()
		pt.state = ptClosed
		pt.p.partClosed()
		return
	case ptClosed:
		return
	}
	pt.lost(cause)
}

// lost handles losing the broker: fatal before the first registration, a
// reconnect after it.
func (pt *partition) lost(cause *Error) {
	pt.detach()
	if !pt.registeredOnce {
		pt.firstAttemptFailed(cause)
		return
	}
	pt.epoch++
	pt.p.stats.Reconnects++
	pt.scheduleRetry(cause)
}

// closedByBroker handles CLOSE_PRODUCER from the broker: the topic moved or
// was unloaded. Reconnect at once, to the assigned broker if named.
func (pt *partition) closedByBroker(c *conn, assigned string) {
	if pt.conn != c {
		return
	}
	if pt.state == ptClosing {
		pt.disconnected(c, nil)
		return
	}
	if assigned != "" {
		pt.migrateTo = assigned
	}
	pt.e.log(LogInfo, pt.logRecord(), "the broker closed the producer on %s (the topic was unloaded or moved); reconnecting", pt.topic)
	pt.p.stats.Reconnects++
	// Stay in c.parts, so late receipts on c still reach this partition.
	pt.conn = nil
	pt.attempt++
	pt.oldConn = c
	pt.epoch++
	pt.start()
}

// startupWait is the startupDelay plus a uniform random part of
// startupJitter: the wait before a first lookup and before each
// re-registration, which spreads a herd of producers after a cluster
// restart.
func (pt *partition) startupWait() time.Duration {
	o := &pt.p.opts
	d := o.StartupDelay
	if o.StartupJitter > 0 {
		d += time.Duration(pt.e.rand.float() * float64(o.StartupJitter))
	}
	return d
}

// start begins a connection attempt after the startup wait, or at once
// without one.
func (pt *partition) start() {
	d := pt.startupWait()
	if d <= 0 {
		pt.startLookup()
		return
	}
	pt.state = ptBackoff
	pt.retryAt = pt.e.now.Add(d)
	pt.e.wake(pt.retryAt)
}

// unregister sends CLOSE_PRODUCER without waiting and forgets the
// connection.
func (pt *partition) unregister() {
	if c := pt.conn; c != nil && c.state == connReady && (pt.state == ptReady || pt.state == ptRegistering || pt.state == ptWaitingExclusive) {
		pt.e.nextRequest++
		c.out = appendCloseProducer(c.out, pt.wireID, pt.e.nextRequest)
		pt.e.markDirty(c)
	}
	pt.detach()
	pt.state = ptClosed
}

// close unregisters gracefully; partClosed follows.
func (pt *partition) close() {
	switch pt.state {
	case ptClosing, ptClosed:
		return
	case ptReady, ptRegistering, ptWaitingExclusive:
		if pt.conn.state == connReady {
			pt.state = ptClosing
			pt.e.request(pt.conn, &request{kind: reqCloseProducer, part: pt, epoch: pt.attempt})
			return
		}
	}
	pt.detach()
	pt.state = ptClosed
	pt.p.partClosed()
}

func (pt *partition) closeDone(r *request) {
	if pt.state != ptClosing || r.epoch != pt.attempt {
		return
	}
	pt.detach()
	pt.state = ptClosed
	pt.p.partClosed()
}

// deadline is pt's next timer: reconnect, batch delay or send timeout.
func (pt *partition) deadline() time.Time {
	var d time.Time
	if pt.state == ptBackoff {
		d = pt.retryAt
	}
	if pt.batch.count > 0 {
		d = earliest(d, pt.batch.deadline)
	}
	for _, b := range pt.parked {
		d = earliest(d, b.deadline)
	}
	if t := pt.p.opts.SendTimeout; t > 0 {
		if oldest := pt.oldest(); !oldest.IsZero() {
			d = earliest(d, oldest.Add(t))
		}
	}
	return d
}

// oldest is when the oldest pending message was sent.
func (pt *partition) oldest() time.Time {
	if pt.head < len(pt.queue) {
		return pt.queue[pt.head].created
	}
	var t time.Time
	if pt.batch.count > 0 {
		t = pt.batch.created
	}
	for _, b := range pt.parked {
		if t.IsZero() || b.created.Before(t) {
			t = b.created
		}
	}
	return t
}

func (pt *partition) tick(now time.Time) {
	if pt.state == ptBackoff && !now.Before(pt.retryAt) {
		pt.startLookup()
	}
	if pt.batch.count > 0 && !now.Before(pt.batch.deadline) {
		pt.flushBatch(now)
	}
	pt.flushParked(now, false)
	if t := pt.p.opts.SendTimeout; t > 0 {
		if oldest := pt.oldest(); !oldest.IsZero() && now.Sub(oldest) >= t {
			// As the Java client does: once the oldest message times out,
			// every pending message of the partition fails, so none of
			// them can overtake it.
			n := pt.p.pendingOn(pt)
			pt.e.log(LogWarn, pt.logRecord(), "%d messages to %s failed: not acknowledged within sendTimeout %v", n, pt.topic, t)
			pt.failAll(Errorf(CodeTimeout, "message to %s not acknowledged within sendTimeout %v", pt.topic, t))
		}
	}
}

// onReceipt completes the oldest entry.
func (pt *partition) onReceipt(c *conn, rc receipt) {
	if (pt.conn != c || pt.state != ptReady) && pt.oldConn != c {
		return
	}
	if rc.seq > pt.lastSeq {
		pt.e.protocolError(c, Errorf(CodeProtocolError, "SEND_RECEIPT for sequence ID %d of producer %d, which was never sent (highest sent: %d)", rc.seq, pt.wireID, pt.lastSeq))
		return
	}
	if pt.head >= len(pt.queue) {
		return // a late receipt for a message that already failed
	}
	ent := pt.queue[pt.head]
	switch {
	case rc.seq == ent.seq:
	case rc.seq < ent.seq:
		return // a late receipt for a message that already failed
	case c != pt.conn:
		return // a late receipt of an earlier registration, out of step: the resend decides
	default:
		pt.e.protocolError(c, Errorf(CodeProtocolError, "SEND_RECEIPT for sequence ID %d of producer %d while %d is the oldest pending", rc.seq, pt.wireID, ent.seq))
		return
	}
	pt.popHead()
	if ent.chunk != nil && ent.chunk.id < ent.chunk.num-1 {
		pt.chunkReceipt(ent, rc)
		pt.release(ent)
		pt.failTooBigHead()
		return
	}
	id := MessageID{LedgerID: rc.ledgerID, EntryID: rc.entryID, Partition: pt.index, BatchIndex: -1}
	if ent.batched {
		id.BatchIndex, id.BatchSize = 0, int32(ent.count)
	}
	if ent.chunk != nil {
		id.Chunked, id.FirstChunkLedgerID, id.FirstChunkEntryID = true, pt.firstChunkLedger, pt.firstChunkEntry
	}
	pt.e.emitTokens(EventReceipt, pt.p.id, ent.tokens, id, nil)
	pt.p.entryDone(ent, nil, pt.e.now)
	pt.release(ent)
	pt.failTooBigHead()
}

// failTooBigHead fails the entries at the head of the queue that are over
// the broker's limit and were never written.
func (pt *partition) failTooBigHead() {
	for pt.head < len(pt.queue) && pt.queue[pt.head].tooBig != nil {
		ent := pt.popHead()
		pt.failEntry(ent, ent.tooBig)
	}
}

// onSendError handles the broker refusing an entry.
func (pt *partition) onSendError(c *conn, seq int64, err *Error, se serverError) {
	if pt.conn != c {
		return // about an earlier registration: the entry is resent anyway
	}
	switch se {
	case seTopicTerminatedError:
		pt.p.fail(err)
	case seNotAllowedError:
		if pt.head < len(pt.queue) && pt.queue[pt.head].seq == seq {
			ent := pt.popHead()
			pt.failEntry(ent, err)
		}
	default:
		// Transient (a checksum error is corruption in transit): reconnect
		// and write everything again.
		pt.e.closeConn(c, err)
	}
}

func (pt *partition) popHead() *entry {
	ent := pt.queue[pt.head]
	pt.queue[pt.head] = nil
	pt.head++
	if pt.head == len(pt.queue) {
		pt.queue = pt.queue[:0]
		pt.head = 0
	} else if pt.head > 1024 && pt.head*2 > len(pt.queue) {
		n := copy(pt.queue, pt.queue[pt.head:])
		clear(pt.queue[n:])
		pt.queue = pt.queue[:n]
		pt.head = 0
	}
	return ent
}

// failEntry reports every message of ent as failed.
func (pt *partition) failEntry(ent *entry, err error) {
	if len(ent.tokens) > 0 {
		pt.e.emitTokens(EventSendFailed, pt.p.id, ent.tokens, MessageID{}, err)
	}
	pt.p.entryDone(ent, err, pt.e.now)
	chunk, seq := ent.chunk, ent.seq
	pt.release(ent)
	if chunk != nil {
		pt.failChunkRest(chunk, seq, err)
	}
}

// failAll fails every pending message of the partition, oldest first.
func (pt *partition) failAll(err error) {
	for pt.head < len(pt.queue) {
		pt.failEntry(pt.popHead(), err)
	}
	for {
		if pt.batch.count > 0 {
			e := pt.e
			e.emitTokens(EventSendFailed, pt.p.id, pt.batch.tokens, MessageID{}, err)
			pt.p.completed(pt.batch.count, pt.batch.bytes, err)
			e.memUsed -= int64(pt.batch.bytes)
			pt.batch.reset(e)
		}
		if len(pt.parkedKeys) == 0 {
			break
		}
		pt.useBatchFor(pt.parkedKeys[0], nil) // fails the parked batches too, oldest key first
	}
	pt.p.maybeFinishClose()
}

// release returns ent's resources after its messages completed.
func (pt *partition) release(ent *entry) {
	e := pt.e
	pt.p.pending -= ent.count
	pt.p.pendingBytes -= int64(ent.bytes)
	e.memUsed -= int64(ent.bytes)
	e.putEntry(ent)
	if pt.p.state == prodClosing && pt.p.pending == 0 {
		pt.p.maybeFinishClose()
	}
}

// firstAttemptFailed handles a partition that could not register the
// first time: creation fails, except for a partition started lazily (or
// added later) of a producer that is ready, whose messages fail instead;
// its next message tries again.
func (pt *partition) firstAttemptFailed(err *Error) {
	if pt.p.state != prodReady {
		pt.p.fail(err)
		return
	}
	pt.e.log(LogWarn, pt.logRecord(), "partition %s could not register: %v", pt.topic, err)
	pt.failAll(err)
	pt.state = ptIdle
}
