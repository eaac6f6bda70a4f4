// Connections: handshake, keepalive, requests and frame dispatch.
//
// A connection goes dialing -> handshaking -> ready -> closed, and closed is
// final: a new connection to the same broker gets a new ConnID. The engine
// keeps one connection per broker address and shares it among lookups and
// producers. Requests (lookups, producer registrations, closes) made before
// the connection is ready wait in a queue and go out after CONNECTED; each
// request carries its own deadline. When a connection closes, for whatever
// reason, every request on it fails and every producer on it reconnects.
package engine

import (
	"slices"
	"strconv"
	"time"
)

type connState uint8

const (
	connDialing connState = iota
	connHandshaking
	connReady
	connClosed
)

// ClientVersion is what the engine tells the broker in CONNECT.
const ClientVersion = "pulsar-producer-0.1.0"

// protocolVersion is the newest protocol version this client speaks (v21).
const protocolVersion = 21

// connKey names a connection: where it goes and, through a Pulsar proxy,
// which broker the proxy forwards it to.
type connKey struct{ addr, proxyTo string }

type conn struct {
	id      ConnID
	addr    string
	proxyTo string // the broker (host:port) a proxy at addr forwards to; empty: none
	state   connState
	dirty   bool // queued in Engine.dirty

	out []byte // bytes for the driver to write
	in  []byte // received bytes not yet forming a whole frame

	maxMessageSize  int
	maxFrame        int
	protocolVersion int32
	serverVersion   string

	connectBy   time.Time // the handshake must finish by then
	lastRecv    time.Time // when the broker last sent anything
	pingPending bool      // a PING went out and nothing came back since

	requests map[uint64]*request // sent, by request ID
	queued   []*request          // waiting for the handshake
	parts    map[uint64]*partition
}

type requestKind uint8

const (
	reqPartitionedMetadata requestKind = iota
	reqLookup
	reqProducer
	reqCloseProducer
)

var requestNames = []string{"partitioned metadata", "lookup", "producer registration", "producer close"}

type request struct {
	kind     requestKind
	id       uint64
	conn     *conn
	deadline time.Time  // zero: no timeout
	producer *producer  // reqPartitionedMetadata
	part     *partition // the others
	// epoch is the partition's connection attempt the request belongs to;
	// a reply to an older attempt is dropped.
	epoch uint64
	// hostsTried counts the service URL's hosts that could not be reached
	// for this request.
	hostsTried int
}

// retryOnAnotherHost moves a request that never left a connection to a
// service URL host that could not be reached (refused, timed out, or not
// speaking the protocol) on to the URL's next host, until every host was
// tried once. Lookups and metadata requests may go to any broker.
func (e *Engine) retryOnAnotherHost(c *conn, r *request, cause *Error) bool {
	if e.closed || cause.Code != CodeConnectError || c.serverVersion != "" || c.proxyTo != "" ||
		(r.kind != reqPartitionedMetadata && r.kind != reqLookup) || !slices.Contains(e.addrs, c.addr) {
		return false
	}
	r.hostsTried++
	if r.hostsTried >= len(e.addrs) {
		return false
	}
	next := e.serviceConn()
	e.log(LogWarn, LogRecord{Addr: c.addr, Conn: c.id}, "%v; trying %s, the service URL's next host", cause, next.addr)
	e.request(next, r)
	return true
}

// connTo returns the connection to addr, asking the driver to open one if
// there is none.
func (e *Engine) connTo(addr string) *conn { return e.connVia(addr, "") }

// connVia returns the connection to a Pulsar proxy at addr that forwards
// to the broker proxyTo (or, with proxyTo empty, straight to addr).
func (e *Engine) connVia(addr, proxyTo string) *conn {
	key := connKey{addr, proxyTo}
	if c := e.connsByAddr[key]; c != nil && c.state != connClosed {
		return c
	}
	e.nextConn++
	c := &conn{
		id:             e.nextConn,
		addr:           addr,
		proxyTo:        proxyTo,
		state:          connDialing,
		maxMessageSize: DefaultMaxMessageSize,
		maxFrame:       DefaultMaxMessageSize + frameSlack,
		connectBy:      e.now.Add(e.opts.ConnectionTimeout),
		requests:       make(map[uint64]*request),
		parts:          make(map[uint64]*partition),
	}
	e.conns[c.id] = c
	e.connsByAddr[key] = c
	e.wake(c.connectBy)
	e.emit(Event{Kind: EventConnect, Conn: c.id, Text: addr})
	if proxyTo != "" {
		e.log(LogInfo, LogRecord{Addr: addr, Conn: c.id}, "connecting to %s through the proxy at %s", proxyTo, addr)
	} else {
		e.log(LogInfo, LogRecord{Addr: addr, Conn: c.id}, "connecting to %s", addr)
	}
	return c
}

// serviceConn returns a connection to the service URL.
func (e *Engine) serviceConn() *conn {
	for _, a := range e.addrs {
		if c := e.connsByAddr[connKey{a, ""}]; c != nil && c.state != connClosed {
			return c
		}
	}
	return e.connTo(e.addrs[e.addrIndex%len(e.addrs)])
}

// ConnOpened tells the engine the driver's TCP connection is up; the
// handshake starts.
func (e *Engine) ConnOpened(id ConnID, now time.Time) {
	e.setNow(now)
	c := e.conns[id]
	if c == nil || c.state != connDialing {
		return
	}
	c.state = connHandshaking
	c.lastRecv = now
	c.out = appendConnect(c.out, e.authMethod, e.authData, c.proxyTo)
	e.markDirty(c)
}

// SetCredentials sets the authentication method (such as "token") and data
// that CONNECT carries from now on; an empty method sends none. The driver
// sets them before it reports a connection open, so that they are fresh.
// Credentials never appear in an error or log record.
func (e *Engine) SetCredentials(method string, data []byte) {
	e.authMethod = method
	e.authData = append([]byte(nil), data...)
}

// AnswerChallenge answers the broker's AUTH_CHALLENGE on a connection (see
// EventAuthChallenge) with fresh credentials, which CONNECT also carries
// from now on.
func (e *Engine) AnswerChallenge(id ConnID, method string, data []byte, now time.Time) {
	e.setNow(now)
	e.SetCredentials(method, data)
	c := e.conns[id]
	if c == nil || c.state == connClosed || c.state == connDialing {
		return
	}
	c.out = appendAuthResponse(c.out, method, data)
	e.markDirty(c)
}

// ConnFailed tells the engine a connect attempt failed.
func (e *Engine) ConnFailed(id ConnID, cause error, now time.Time) {
	e.setNow(now)
	c := e.conns[id]
	if c == nil || c.state == connClosed {
		return
	}
	if ee, ok := cause.(*Error); ok && ee.Code != CodeUnknownError {
		// The driver said why (TLS, credentials): keep its code.
		e.closeConn(c, Errorf(ee.Code, "connect to %s: %s", c.addr, ee.Msg))
		return
	}
	e.closeConn(c, Errorf(CodeConnectError, "connect to %s: %v", c.addr, cause))
}

// ConnClosed tells the engine the socket closed or failed. cause may be
// nil for an orderly close by the broker.
func (e *Engine) ConnClosed(id ConnID, cause error, now time.Time) {
	e.setNow(now)
	c := e.conns[id]
	if c == nil || c.state == connClosed {
		return
	}
	var err *Error
	switch {
	case len(c.in) > 0:
		err = Errorf(CodeProtocolError, "connection to %s closed in the middle of a frame (%d bytes of it received)", c.addr, len(c.in))
	case c.state == connHandshaking && !e.tls:
		err = Errorf(CodeConnectError, "%s closed the connection without answering CONNECT: if that port expects TLS, use a pulsar+ssl:// service URL", c.addr)
	case cause != nil:
		err = Errorf(CodeDisconnected, "connection to %s lost: %v", c.addr, cause)
	default:
		err = Errorf(CodeDisconnected, "connection to %s closed by the broker", c.addr)
	}
	e.closeConn(c, err)
}

func (e *Engine) markDirty(c *conn) {
	if !c.dirty {
		c.dirty = true
		e.dirty = append(e.dirty, c)
	}
}

// closeConn closes c for cause: its requests fail and its producers
// reconnect. The driver is told to close the socket.
func (e *Engine) closeConn(c *conn, cause *Error) {
	if c.state == connClosed {
		return
	}
	c.state = connClosed
	c.out = nil
	c.in = nil
	delete(e.conns, c.id)
	if key := (connKey{c.addr, c.proxyTo}); e.connsByAddr[key] == c {
		delete(e.connsByAddr, key)
	}
	if cause.Code == CodeConnectError || c.serverVersion == "" {
		e.addrIndex++ // try the next service address next time
	}
	e.emit(Event{Kind: EventConnClosed, Conn: c.id, Err: cause})
	level := LogWarn
	switch cause.Code {
	case CodeAlreadyClosed:
		level = LogDebug // the client is closing
	case CodeProtocolError, CodeChecksumError:
		level = LogError
	}
	e.log(level, LogRecord{Addr: c.addr, Conn: c.id}, "connection to %s closed: %v", c.addr, cause)
	reqs := c.queued
	for _, r := range c.requests {
		reqs = append(reqs, r)
	}
	c.queued, c.requests = nil, nil
	for _, r := range reqs {
		if !e.retryOnAnotherHost(c, r, cause) {
			e.failRequest(r, cause)
		}
	}
	parts := c.parts
	c.parts = nil
	for _, pt := range parts {
		pt.disconnected(c, cause)
	}
	e.deadlineValid = false
}

// protocolError closes c because the broker broke the protocol.
func (e *Engine) protocolError(c *conn, err *Error) {
	e.closeConn(c, err)
}

// request sends r on c, or queues it until c is ready.
func (e *Engine) request(c *conn, r *request) {
	r.conn = c
	if c.state != connReady {
		c.queued = append(c.queued, r)
		return
	}
	e.nextRequest++
	r.id = e.nextRequest
	r.deadline = e.now.Add(e.opts.OperationTimeout)
	e.wake(r.deadline)
	c.requests[r.id] = r
	c.out = e.appendRequest(c.out, r)
	e.markDirty(c)
}

// appendRequest appends the frame of request r.
func (e *Engine) appendRequest(b []byte, r *request) []byte {
	switch r.kind {
	case reqPartitionedMetadata:
		return appendPartitionedMetadata(b, r.producer.topic.full, r.id)
	case reqLookup:
		return appendLookup(b, r.part.topic, r.id, r.part.authoritative, e.opts.ListenerName)
	case reqProducer:
		return appendProducer(b, r.part.producerCommand(r.id))
	default:
		return appendCloseProducer(b, r.part.wireID, r.id)
	}
}

// takeRequest removes and returns the request a reply answers.
func (c *conn) takeRequest(id uint64) *request {
	r := c.requests[id]
	if r != nil {
		delete(c.requests, id)
	}
	return r
}

func (e *Engine) failRequest(r *request, err *Error) {
	switch r.kind {
	case reqPartitionedMetadata:
		r.producer.metadataFailed(err)
	case reqLookup:
		r.part.lookupFailed(r, err)
	case reqProducer:
		r.part.registerFailed(r, err)
	case reqCloseProducer:
		r.part.closeDone(r)
	}
}

// deadline is c's next timer.
func (c *conn) deadline(e *Engine) time.Time {
	var d time.Time
	switch c.state {
	case connDialing, connHandshaking:
		d = c.connectBy
	case connReady:
		// A PING after one silent interval; dead after two. Receiving
		// moves lastRecv on without touching the engine's cached
		// deadline, which is then early: an early Tick is harmless.
		d = c.lastRecv.Add(e.opts.KeepAliveInterval)
		if c.pingPending {
			d = c.lastRecv.Add(2 * e.opts.KeepAliveInterval)
		}
	}
	for _, r := range c.requests {
		if !r.deadline.IsZero() {
			d = earliest(d, r.deadline)
		}
	}
	return d
}

func (c *conn) tick(e *Engine, now time.Time) {
	switch c.state {
	case connDialing, connHandshaking:
		if !now.Before(c.connectBy) {
			e.closeConn(c, Errorf(CodeConnectError, "connect to %s: no handshake within %v", c.addr, e.opts.ConnectionTimeout))
			return
		}
	case connReady:
		switch silent := now.Sub(c.lastRecv); {
		case silent >= 2*e.opts.KeepAliveInterval:
			e.closeConn(c, Errorf(CodeDisconnected, "connection to %s silent for %v (two keepAliveIntervals): keepalive timed out", c.addr, silent.Round(time.Millisecond)))
			return
		case silent >= e.opts.KeepAliveInterval && !c.pingPending:
			c.pingPending = true
			c.out = appendPing(c.out)
			e.markDirty(c)
		}
	}
	for id, r := range c.requests {
		if !r.deadline.IsZero() && !now.Before(r.deadline) {
			delete(c.requests, id)
			e.failRequest(r, Errorf(CodeTimeout, "%s request for %s got no reply within %v", requestNames[r.kind], r.subject(), e.opts.OperationTimeout))
			if c.state == connClosed {
				return
			}
		}
	}
}

func (r *request) subject() string {
	if r.kind == reqPartitionedMetadata {
		return r.producer.topic.full
	}
	return r.part.topic
}

// Receive feeds bytes read from a connection.
func (e *Engine) Receive(id ConnID, p []byte, now time.Time) {
	e.setNow(now)
	c := e.conns[id]
	if c == nil || c.state == connClosed || c.state == connDialing || len(p) == 0 {
		return
	}
	c.lastRecv = now
	c.pingPending = false
	if c.state == connHandshaking && len(c.in) == 0 {
		if looksLikeHTTP(p) {
			e.closeConn(c, Errorf(CodeConnectError, "%s answered in HTTP, not the Pulsar binary protocol: the service URL points at an HTTP port (such as the admin port 8080); use the broker's binary port (6650 by default)", c.addr))
			return
		}
		if looksLikeTLS(p) {
			e.closeConn(c, Errorf(CodeConnectError, "%s answered with a TLS record: the port expects TLS; use a pulsar+ssl:// service URL", c.addr))
			return
		}
	}
	data := p
	if len(c.in) > 0 {
		c.in = append(c.in, p...)
		data = c.in
	}
	for c.state != connClosed {
		f, n, err := parseFrame(data, c.maxFrame)
		if err != nil {
			e.protocolError(c, err.(*Error))
			return
		}
		if n == 0 {
			break
		}
		data = data[n:]
		e.dispatch(c, f)
	}
	if c.state == connClosed {
		return
	}
	if len(data) == 0 {
		c.in = c.in[:0]
	} else if len(c.in) > 0 {
		c.in = c.in[:copy(c.in, data)]
	} else {
		c.in = append(c.in[:0], data...)
	}
}

// dispatch handles one frame.
func (e *Engine) dispatch(c *conn, f frame) {
	if typ, body, ok := peekCommandType(f.cmd); ok && typ == cmdSendReceipt && f.meta == nil {
		rc, err := decodeReceipt(body)
		if err != nil {
			e.protocolError(c, Errorf(CodeProtocolError, "malformed SEND_RECEIPT: %v", err))
			return
		}
		e.onReceipt(c, rc)
		return
	}
	typ, body, err := decodeCommand(f.cmd)
	if err != nil {
		e.protocolError(c, Errorf(CodeProtocolError, "malformed command: %v", err))
		return
	}
	if _, known := cmdNames[typ]; !known {
		e.protocolError(c, Errorf(CodeProtocolError, "unknown command type %d", typ))
		return
	}
	if f.meta != nil {
		e.protocolError(c, Errorf(CodeProtocolError, "unexpected %v with a message payload on a producer connection", typ))
		return
	}
	if c.state == connHandshaking && typ != cmdConnected && typ != cmdError && typ != cmdAuthChallenge && typ != cmdPing {
		e.protocolError(c, Errorf(CodeProtocolError, "%v before CONNECTED", typ))
		return
	}
	if err := e.handle(c, typ, body); err != nil {
		e.protocolError(c, Errorf(CodeProtocolError, "malformed %v: %v", typ, err))
	}
}

// handle acts on one command; an error means its body was malformed.
func (e *Engine) handle(c *conn, typ cmdType, body []byte) error {
	switch typ {
	case cmdConnected:
		m, err := decodeConnected(body)
		if err != nil {
			return err
		}
		e.onConnected(c, m)
	case cmdPing:
		c.out = appendPong(c.out)
		e.markDirty(c)
	case cmdPong:
	case cmdAuthChallenge:
		e.log(LogDebug, LogRecord{Addr: c.addr, Conn: c.id}, "the broker at %s asks for fresh credentials", c.addr)
		e.emit(Event{Kind: EventAuthChallenge, Conn: c.id})
	case cmdPartitionedMetadataResponse:
		m, err := decodeMetadataResponse(body)
		if err != nil {
			return err
		}
		e.onPartitionedMetadata(c, m)
	case cmdLookupResponse:
		m, err := decodeLookupResponse(body)
		if err != nil {
			return err
		}
		if r := c.takeRequest(m.requestID); r != nil && r.kind == reqLookup {
			r.part.lookupDone(r, m)
		}
	case cmdProducerSuccess:
		m, err := decodeProducerSuccess(body)
		if err != nil {
			return err
		}
		e.onProducerSuccess(c, m)
	case cmdSuccess:
		m, err := decodeResponse(body)
		if err != nil {
			return err
		}
		if r := c.takeRequest(m.requestID); r != nil && r.kind == reqCloseProducer {
			r.part.closeDone(r)
		}
	case cmdError:
		m, err := decodeResponse(body)
		if err != nil {
			return err
		}
		e.onError(c, m)
	case cmdSendError:
		m, err := decodeSendError(body)
		if err != nil {
			return err
		}
		if pt := c.parts[m.producerID]; pt != nil {
			pt.onSendError(c, m.seq, brokerError(m.err, m.message), m.err)
		}
	case cmdCloseProducer:
		m, err := decodeRedirect(body, 0)
		if err != nil {
			return err
		}
		if pt := c.parts[m.id]; pt != nil {
			pt.closedByBroker(c, e.pickURL(m.brokerURL, m.brokerURLTLS))
		}
	case cmdTopicMigrated:
		m, err := decodeRedirect(body, 2)
		if err != nil {
			return err
		}
		if m.resourceType == topicMigratedProducer {
			if pt := c.parts[m.id]; pt != nil {
				pt.migrateTo = e.pickURL(m.brokerURL, m.brokerURLTLS)
			}
		}
	default:
		e.protocolError(c, Errorf(CodeProtocolError, "unexpected command %v on a producer connection", typ))
	}
	return nil
}

func (e *Engine) onConnected(c *conn, m connectedCmd) {
	if c.state != connHandshaking {
		e.protocolError(c, Errorf(CodeProtocolError, "CONNECTED on an established connection"))
		return
	}
	c.state = connReady
	e.connects++
	c.serverVersion = m.serverVersion
	c.protocolVersion = min(m.protocolVersion, protocolVersion)
	if n := int(m.maxMessageSize); n > 0 {
		c.maxMessageSize = n
		c.maxFrame = n + frameSlack
	}
	e.wake(c.lastRecv.Add(e.opts.KeepAliveInterval))
	e.log(LogInfo, LogRecord{Addr: c.addr, Conn: c.id}, "connected to %s (%s, protocol version %d, maximum message size %d bytes)",
		c.addr, c.serverVersion, c.protocolVersion, c.maxMessageSize)
	queued := c.queued
	c.queued = nil
	for _, r := range queued {
		e.request(c, r)
	}
	for _, pt := range c.parts {
		pt.connReady(c)
	}
}

func (e *Engine) onError(c *conn, m responseCmd) {
	r := c.takeRequest(m.requestID)
	if r == nil {
		if c.state == connHandshaking {
			err := brokerError(m.err, m.message)
			if err.Code == CodeAuthenticationError {
				method := e.authMethod
				if method == "" {
					method = "none"
				}
				err.Msg += " (authentication method " + strconv.Quote(method) + ")"
			}
			e.closeConn(c, err)
		}
		return
	}
	e.failRequest(r, brokerError(m.err, m.message))
}

func (e *Engine) onPartitionedMetadata(c *conn, m metadataResponseCmd) {
	r := c.takeRequest(m.requestID)
	if r == nil || r.kind != reqPartitionedMetadata {
		return
	}
	if m.failed {
		r.producer.metadataFailed(brokerError(m.err, m.message))
		return
	}
	r.producer.metadataReady(int(m.partitions))
}

func (e *Engine) onProducerSuccess(c *conn, m producerSuccessCmd) {
	r := c.requests[m.requestID]
	if r == nil || r.kind != reqProducer {
		return
	}
	if !m.ready {
		// Queued behind an exclusive producer: the broker answers again
		// with the same request ID when we get the topic.
		r.deadline = time.Time{}
		r.part.waitingForExclusive()
		return
	}
	delete(c.requests, r.id)
	r.part.registered(r, m)
}

func (e *Engine) onReceipt(c *conn, rc receipt) {
	pt := c.parts[rc.producerID]
	if pt == nil {
		if rc.producerID == 0 || rc.producerID > e.nextWireID {
			e.protocolError(c, Errorf(CodeProtocolError, "SEND_RECEIPT for producer %d, which does not exist", rc.producerID))
		}
		return // a late receipt for a producer that moved or closed
	}
	pt.onReceipt(c, rc)
}

// looksLikeHTTP reports whether the first bytes a broker sent are an HTTP
// response ("HTTP/1.1 400 ..."): the URL names an HTTP port.
func looksLikeHTTP(p []byte) bool {
	const prefix = "HTTP/"
	n := min(len(p), len(prefix))
	return n >= 4 && string(p[:n]) == prefix[:n]
}

// looksLikeTLS reports whether the first bytes a broker sent are a TLS
// record (an alert or handshake of TLS 1.x): the port speaks TLS and our
// plaintext CONNECT was garbage to it.
func looksLikeTLS(p []byte) bool {
	return len(p) >= 3 && (p[0] == 0x15 || p[0] == 0x16) && p[1] == 3 && p[2] <= 4
}

// pickURL picks the broker URL a client of this kind dials: the TLS one for
// a pulsar+ssl:// client (empty if the broker named none).
func (e *Engine) pickURL(plain, tls string) string {
	if e.tls {
		return tls
	}
	return plain
}
