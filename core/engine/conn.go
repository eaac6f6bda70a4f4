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
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/pulsar-producer/pulsar-producer/core/pb"
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

// protocolVersion is the newest protocol version this client speaks.
const protocolVersion = int32(pb.ProtocolVersion_v21)

type conn struct {
	id    ConnID
	addr  string
	state connState
	dirty bool // queued in Engine.dirty

	out []byte // bytes for the driver to write
	in  []byte // received bytes not yet forming a whole frame

	maxMessageSize  int
	maxFrame        int
	protocolVersion int32
	serverVersion   string

	connectBy   time.Time // the handshake must finish by then
	lastRecv    time.Time
	nextPing    time.Time // when to check for silence
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
}

// connTo returns the connection to addr, asking the driver to open one if
// there is none.
func (e *Engine) connTo(addr string) *conn {
	if c := e.connsByAddr[addr]; c != nil && c.state != connClosed {
		return c
	}
	e.nextConn++
	c := &conn{
		id:             e.nextConn,
		addr:           addr,
		state:          connDialing,
		maxMessageSize: DefaultMaxMessageSize,
		maxFrame:       DefaultMaxMessageSize + frameSlack,
		connectBy:      e.now.Add(e.opts.ConnectionTimeout),
		requests:       make(map[uint64]*request),
		parts:          make(map[uint64]*partition),
	}
	e.conns[c.id] = c
	e.connsByAddr[addr] = c
	e.wake(c.connectBy)
	e.emit(Event{Kind: EventConnect, Conn: c.id, Text: addr})
	return c
}

// serviceConn returns a connection to the service URL.
func (e *Engine) serviceConn() *conn {
	for _, a := range e.addrs {
		if c := e.connsByAddr[a]; c != nil && c.state != connClosed {
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
	cmd := &pb.BaseCommand{
		Type: pb.BaseCommand_CONNECT.Enum(),
		Connect: &pb.CommandConnect{
			ClientVersion:   proto.String(ClientVersion),
			ProtocolVersion: proto.Int32(protocolVersion),
			FeatureFlags:    &pb.FeatureFlags{SupportsAuthRefresh: proto.Bool(true)},
		},
	}
	e.write(c, cmd)
}

// ConnFailed tells the engine a connect attempt failed.
func (e *Engine) ConnFailed(id ConnID, cause error, now time.Time) {
	e.setNow(now)
	c := e.conns[id]
	if c == nil || c.state == connClosed {
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
	case cause != nil:
		err = Errorf(CodeDisconnected, "connection to %s lost: %v", c.addr, cause)
	default:
		err = Errorf(CodeDisconnected, "connection to %s closed by the broker", c.addr)
	}
	e.closeConn(c, err)
}

// write appends a command frame to c's output.
func (e *Engine) write(c *conn, cmd *pb.BaseCommand) {
	c.out = appendCommand(c.out, cmd)
	e.markDirty(c)
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
	if e.connsByAddr[c.addr] == c {
		delete(e.connsByAddr, c.addr)
	}
	if cause.Code == CodeConnectError || c.serverVersion == "" {
		e.addrIndex++ // try the next service address next time
	}
	e.emit(Event{Kind: EventConnClosed, Conn: c.id, Err: cause})
	reqs := c.queued
	for _, r := range c.requests {
		reqs = append(reqs, r)
	}
	c.queued, c.requests = nil, nil
	for _, r := range reqs {
		e.failRequest(r, cause)
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
	e.write(c, e.encodeRequest(r))
}

func (e *Engine) encodeRequest(r *request) *pb.BaseCommand {
	switch r.kind {
	case reqPartitionedMetadata:
		return &pb.BaseCommand{
			Type: pb.BaseCommand_PARTITIONED_METADATA.Enum(),
			PartitionMetadata: &pb.CommandPartitionedTopicMetadata{
				Topic:     proto.String(r.producer.topic.full),
				RequestId: proto.Uint64(r.id),
			},
		}
	case reqLookup:
		cmd := &pb.CommandLookupTopic{
			Topic:         proto.String(r.part.topic),
			RequestId:     proto.Uint64(r.id),
			Authoritative: proto.Bool(r.part.authoritative),
		}
		if e.opts.ListenerName != "" {
			cmd.AdvertisedListenerName = proto.String(e.opts.ListenerName)
		}
		return &pb.BaseCommand{Type: pb.BaseCommand_LOOKUP.Enum(), LookupTopic: cmd}
	case reqProducer:
		return &pb.BaseCommand{Type: pb.BaseCommand_PRODUCER.Enum(), Producer: r.part.producerCommand(r.id)}
	default:
		return &pb.BaseCommand{
			Type: pb.BaseCommand_CLOSE_PRODUCER.Enum(),
			CloseProducer: &pb.CommandCloseProducer{
				ProducerId: proto.Uint64(r.part.wireID),
				RequestId:  proto.Uint64(r.id),
			},
		}
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
func (c *conn) deadline() time.Time {
	var d time.Time
	switch c.state {
	case connDialing, connHandshaking:
		d = c.connectBy
	case connReady:
		d = c.nextPing
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
		if !now.Before(c.nextPing) {
			if c.pingPending {
				e.closeConn(c, Errorf(CodeDisconnected, "connection to %s silent for %v: keepalive timed out", c.addr, 2*e.opts.KeepAliveInterval))
				return
			}
			if now.Sub(c.lastRecv) >= e.opts.KeepAliveInterval {
				c.pingPending = true
				e.write(c, &pb.BaseCommand{Type: pb.BaseCommand_PING.Enum(), Ping: &pb.CommandPing{}})
			}
			c.nextPing = now.Add(e.opts.KeepAliveInterval)
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
	cmd := &pb.BaseCommand{}
	if err := proto.Unmarshal(f.cmd, cmd); err != nil {
		e.protocolError(c, Errorf(CodeProtocolError, "malformed command: %v", err))
		return
	}
	typ := cmdType(cmd.GetType())
	if _, known := pb.BaseCommand_Type_name[int32(typ)]; !known {
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
	switch typ {
	case cmdConnected:
		e.onConnected(c, cmd.GetConnected())
	case cmdPing:
		e.write(c, &pb.BaseCommand{Type: pb.BaseCommand_PONG.Enum(), Pong: &pb.CommandPong{}})
	case cmdPong:
	case cmdAuthChallenge:
		e.write(c, &pb.BaseCommand{
			Type: pb.BaseCommand_AUTH_RESPONSE.Enum(),
			AuthResponse: &pb.CommandAuthResponse{
				ClientVersion:   proto.String(ClientVersion),
				ProtocolVersion: proto.Int32(protocolVersion),
				Response:        &pb.AuthData{AuthMethodName: proto.String("none"), AuthData: []byte{}},
			},
		})
	case cmdPartitionedMetadataResponse:
		e.onPartitionedMetadata(c, cmd.GetPartitionMetadataResponse())
	case cmdLookupResponse:
		e.onLookup(c, cmd.GetLookupTopicResponse())
	case cmdProducerSuccess:
		e.onProducerSuccess(c, cmd.GetProducerSuccess())
	case cmdSuccess:
		if r := c.takeRequest(cmd.GetSuccess().GetRequestId()); r != nil && r.kind == reqCloseProducer {
			r.part.closeDone(r)
		}
	case cmdError:
		e.onError(c, cmd.GetError())
	case cmdSendError:
		e.onSendError(c, cmd.GetSendError())
	case cmdCloseProducer:
		cp := cmd.GetCloseProducer()
		if pt := c.parts[cp.GetProducerId()]; pt != nil {
			pt.closedByBroker(c, cp.GetAssignedBrokerServiceUrl())
		}
	case cmdTopicMigrated:
		tm := cmd.GetTopicMigrated()
		if tm.GetResourceType() == pb.CommandTopicMigrated_Producer {
			if pt := c.parts[tm.GetResourceId()]; pt != nil {
				pt.migrateTo = tm.GetBrokerServiceUrl()
			}
		}
	default:
		e.protocolError(c, Errorf(CodeProtocolError, "unexpected command %v on a producer connection", typ))
	}
}

func (e *Engine) onConnected(c *conn, m *pb.CommandConnected) {
	if c.state != connHandshaking {
		e.protocolError(c, Errorf(CodeProtocolError, "CONNECTED on an established connection"))
		return
	}
	c.state = connReady
	c.serverVersion = m.GetServerVersion()
	c.protocolVersion = min(m.GetProtocolVersion(), protocolVersion)
	if n := int(m.GetMaxMessageSize()); n > 0 {
		c.maxMessageSize = n
		c.maxFrame = n + frameSlack
	}
	c.nextPing = e.now.Add(e.opts.KeepAliveInterval)
	e.wake(c.nextPing)
	queued := c.queued
	c.queued = nil
	for _, r := range queued {
		e.request(c, r)
	}
	for _, pt := range c.parts {
		pt.connReady(c)
	}
}

func (e *Engine) onError(c *conn, m *pb.CommandError) {
	r := c.takeRequest(m.GetRequestId())
	if r == nil {
		if c.state == connHandshaking {
			e.closeConn(c, brokerError(m.GetError(), m.GetMessage()))
		}
		return
	}
	e.failRequest(r, brokerError(m.GetError(), m.GetMessage()))
}

func (e *Engine) onPartitionedMetadata(c *conn, m *pb.CommandPartitionedTopicMetadataResponse) {
	r := c.takeRequest(m.GetRequestId())
	if r == nil || r.kind != reqPartitionedMetadata {
		return
	}
	if m.GetResponse() == pb.CommandPartitionedTopicMetadataResponse_Failed {
		r.producer.metadataFailed(brokerError(m.GetError(), m.GetMessage()))
		return
	}
	r.producer.metadataReady(int(m.GetPartitions()))
}

func (e *Engine) onLookup(c *conn, m *pb.CommandLookupTopicResponse) {
	r := c.takeRequest(m.GetRequestId())
	if r == nil || r.kind != reqLookup {
		return
	}
	r.part.lookupDone(r, m)
}

func (e *Engine) onProducerSuccess(c *conn, m *pb.CommandProducerSuccess) {
	r := c.requests[m.GetRequestId()]
	if r == nil || r.kind != reqProducer {
		return
	}
	if !m.GetProducerReady() {
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
		if e.byWireID[rc.producerID] == nil {
			e.protocolError(c, Errorf(CodeProtocolError, "SEND_RECEIPT for producer %d, which does not exist", rc.producerID))
		}
		return // a late receipt for a producer that moved or closed
	}
	pt.onReceipt(c, rc)
}

func (e *Engine) onSendError(c *conn, m *pb.CommandSendError) {
	pt := c.parts[m.GetProducerId()]
	if pt == nil {
		return
	}
	pt.onSendError(c, int64(m.GetSequenceId()), brokerError(m.GetError(), m.GetMessage()), m.GetError())
}
