// One broker connection as a state machine: bytes in, bytes out.
//
// How this works: Answer cuts the client's bytes into frames, handling each
// whole frame straight from the input and keeping only an unfinished tail
// (c.partial) for the next call, so at high rates nothing is copied but a
// frame split between two reads. The replies to all the frames of one call
// go into one buffer, so one write carries the receipts of many SENDs.
// SEND commands are read by hand (frame.go) and receipts written by hand:
// they come once per entry. Every other command goes through the generated
// code.
//
// Time is an argument, as in the engine: Answer is given the time the bytes
// arrived. While a receipt delay is set, or receipts are still held, the
// receipts and send errors of a call wait in c.late with their due time;
// Deadline says when the first is due and Tick hands over those that are.
package fakebroker

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/pulsar-producer/pulsar-producer/internal/pb"
)

const (
	maxProtocol = int32(pb.ProtocolVersion_v21)
	// closeReqIDTop marks the request IDs of broker-initiated
	// CLOSE_PRODUCER, so they cannot meet a client's own.
	closeReqIDTop = 1 << 62
)

var errConnClosed = errors.New("fakebroker: connection closed")

// Conn is one connection of a Broker: Answer takes what the client wrote
// and returns what the broker writes back. A Conn is not safe for
// concurrent use. The zero value is a connection of a broker of its own
// with default Options, whose lookups answer pulsar://broker:6650.
type Conn struct {
	b  *Broker
	id uint64

	partial []byte // an unfinished frame from the previous call
	out     []byte // replies to write now
	lateBuf []byte // replies of this call that wait for the receipt delay
	late    []heldReply
	tickBuf []byte

	producers    map[uint64]string // registered producer ID -> topic
	lastProducer uint64
	authMethod   string // the method of the CONNECT, for Challenge
	started      bool   // bytes have arrived
	err          error  // why the connection ended; nil while it lasts

	// What the current call does with receipts, and its counts.
	delay bool
	due   time.Time
	n     counts
}

type heldReply struct {
	due  time.Time
	data []byte
}

type counts struct{ frames, msgs, receipts, acked, sendErrs, csErrs int64 }

func (c *Conn) init() {
	if c.b == nil {
		b, _ := New(Options{}) // cannot fail: no partition count
		*c = *b.NewConn()
	}
}

// Answer handles bytes the client wrote at time now (which matters only
// while a receipt delay is set) and returns the replies to write at once.
// The returned slice is valid until the next call on c. A non-nil error
// means the connection ends: write what was returned, then close. It is
// ErrHangUp for a deliberate hang-up, else it describes the client's
// malformed input; later calls return it again.
func (c *Conn) Answer(in []byte, now time.Time) ([]byte, error) {
	c.init()
	if c.err != nil {
		return nil, c.err
	}
	b := c.b
	b.bytes.Add(int64(len(in)))
	c.out = c.out[:0]
	if !c.started && len(in) > 0 {
		c.started = true
		if b.opts.HTTP {
			b.logf("conn %d: answering as an HTTP port", c.id)
			c.err = ErrHangUp
			return append(c.out, httpResponse...), c.err
		}
	}
	d := time.Duration(b.receiptDelay.Load())
	c.delay = d > 0 || len(c.late) > 0
	c.due = now.Add(d)
	err := c.consume(in)
	c.publish()
	if len(c.lateBuf) > 0 {
		c.late = append(c.late, heldReply{due: c.due, data: append([]byte(nil), c.lateBuf...)})
		c.lateBuf = c.lateBuf[:0]
	}
	if err != nil {
		b.logf("conn %d: %v", c.id, err)
		c.err = err
	}
	return c.out, err
}

// consume handles every whole frame of c.partial followed by in.
func (c *Conn) consume(in []byte) error {
	maxFrame := c.b.maxFrame
	for len(c.partial) > 0 {
		// Complete the prefix, then the frame, from in.
		want := 4
		size, err := frameSize(c.partial, maxFrame)
		if err != nil {
			return err
		}
		if size > 0 {
			want = 4 + size
		}
		take := min(want-len(c.partial), len(in))
		c.partial = append(c.partial, in[:take]...)
		in = in[take:]
		if len(c.partial) < want {
			return nil // in is used up
		}
		if size > 0 { // else the prefix is whole now: size the frame next
			err := c.frame(c.partial[4:])
			c.partial = c.partial[:0]
			if err != nil {
				return err
			}
		}
	}
	for len(in) > 0 {
		size, err := frameSize(in, maxFrame)
		if err != nil {
			return err
		}
		if size == 0 || len(in)-4 < size {
			c.partial = append(c.partial[:0], in...)
			return nil
		}
		if err := c.frame(in[4 : 4+size]); err != nil {
			return err
		}
		in = in[4+size:]
	}
	return nil
}

// publish adds the counts of this call to the broker's.
func (c *Conn) publish() {
	b, n := c.b, &c.n
	if n.frames > 0 {
		b.frames.Add(n.frames)
		b.messages.Add(n.msgs)
	}
	if n.receipts > 0 {
		b.receipts.Add(n.receipts)
		b.ackedMsgs.Add(n.acked)
	}
	if n.sendErrs > 0 {
		b.sendErrors.Add(n.sendErrs)
	}
	if n.csErrs > 0 {
		b.checksumErrors.Add(n.csErrs)
	}
	*n = counts{}
}

// Deadline reports when the first held reply is due.
func (c *Conn) Deadline() (time.Time, bool) {
	if len(c.late) == 0 {
		return time.Time{}, false
	}
	return c.late[0].due, true
}

// Tick returns the held replies due at now, in order, to write at once;
// the slice is valid until the next call on c.
func (c *Conn) Tick(now time.Time) []byte {
	out := c.tickBuf[:0]
	i := 0
	for ; i < len(c.late) && !c.late[i].due.After(now); i++ {
		out = append(out, c.late[i].data...)
	}
	n := copy(c.late, c.late[i:])
	clear(c.late[n:])
	c.late = c.late[:n]
	c.tickBuf = out
	return out
}

// Unload forgets every producer registered on c and returns a
// CLOSE_PRODUCER frame for each, to write at once, and their number: what
// a broker does when it unloads their topics. Clients look the topic up
// again and re-register.
func (c *Conn) Unload() ([]byte, int) {
	c.init()
	if c.err != nil {
		return nil, 0
	}
	var out []byte
	for id := range c.producers {
		out = AppendCommand(out, &pb.BaseCommand{
			Type: pb.BaseCommand_CLOSE_PRODUCER.Enum(),
			CloseProducer: &pb.CommandCloseProducer{
				ProducerId: proto.Uint64(id),
				RequestId:  proto.Uint64(closeReqIDTop + c.b.nextCloseReq.Add(1)),
			},
		})
	}
	n := len(c.producers)
	c.b.liveProducers.Add(-int64(n))
	clear(c.producers)
	return out, n
}

// RefreshChallenge is the data of every Challenge: a broker's marker that
// asks for refreshed credentials (Pulsar's AuthData.REFRESH_AUTH_DATA).
const RefreshChallenge = "PulsarAuthRefresh"

// Challenge returns an AUTH_CHALLENGE frame to write at once, as a broker
// sends when the credentials a connection presented expire: it names the
// method of the connection's CONNECT and carries RefreshChallenge. The
// client answers with AUTH_RESPONSE and fresh credentials, which the broker
// records (Broker.Auths) and, as a broker that accepts them, does not
// answer; the connection and its producers carry on. Nil on a connection
// that ended.
func (c *Conn) Challenge() []byte {
	c.init()
	if c.err != nil {
		return nil
	}
	c.b.logf("conn %d: AUTH_CHALLENGE", c.id)
	return AppendCommand(nil, &pb.BaseCommand{
		Type: pb.BaseCommand_AUTH_CHALLENGE.Enum(),
		AuthChallenge: &pb.CommandAuthChallenge{
			ServerVersion:   proto.String(c.b.opts.ServerVersion),
			Challenge:       &pb.AuthData{AuthMethodName: proto.String(c.authMethod), AuthData: []byte(RefreshChallenge)},
			ProtocolVersion: proto.Int32(maxProtocol),
		},
	})
}

// ProducerID is the protocol ID of the producer registered last on c, 0
// before any.
func (c *Conn) ProducerID() uint64 { return c.lastProducer }

// Close ends the connection: its producers are forgotten and held replies
// dropped. Calls after the first do nothing.
func (c *Conn) Close() {
	c.init()
	if c.err == errConnClosed {
		return
	}
	c.b.liveProducers.Add(-int64(len(c.producers)))
	clear(c.producers)
	c.late = nil
	c.err = errConnClosed
	c.b.openConns.Add(-1)
}

// frame handles one frame (without its size prefix).
func (c *Conn) frame(f []byte) error {
	cmd, rest, err := splitCommand(f)
	if err != nil {
		return err
	}
	if c.b.silent.Load() {
		return nil
	}
	typ, send := peekCommand(cmd)
	if typ == sendType && send != nil {
		return c.onSend(send, rest)
	}
	return c.control(cmd)
}

// lateReply appends a reply that a receipt delay holds back.
func (c *Conn) lateReply(frame func([]byte) []byte) {
	if c.delay {
		c.lateBuf = frame(c.lateBuf)
	} else {
		c.out = frame(c.out)
	}
}

// onSend answers a SEND; rest is what follows the command.
func (c *Conn) onSend(cmd, rest []byte) error {
	b := c.b
	f, ok := parseSend(cmd)
	if !ok {
		return errors.New("fakebroker: malformed CommandSend")
	}
	meta, payload, sumOK, err := splitPayload(rest, !b.opts.SkipChecksums)
	if err != nil {
		return err
	}
	c.n.frames++
	c.n.msgs += f.numMessages
	if !f.hasHighest {
		f.highest = f.seq
	}
	if !sumOK {
		c.n.csErrs++
		if b.opts.ReplyChecksumError {
			c.sendError(f, pb.ServerError_ChecksumError, "checksum mismatch")
			return nil
		}
	}
	if v := b.failNext.Load(); v != 0 && b.failNext.CompareAndSwap(v, 0) {
		code := pb.ServerError(v - 1)
		b.logf("conn %d: failing SEND of producer %d seq %d with %v", c.id, f.producerID, f.seq, code)
		c.sendError(f, code, "injected failure: "+code.String())
		return nil
	}
	entry := b.nextEntry.Add(1) - 1
	if b.opts.Record {
		c.record(cmd, meta, payload, entry)
	}
	if c.delay {
		c.lateBuf = AppendReceipt(c.lateBuf, f.producerID, f.seq, f.highest, b.opts.LedgerID, entry)
	} else {
		c.out = AppendReceipt(c.out, f.producerID, f.seq, f.highest, b.opts.LedgerID, entry)
	}
	c.n.receipts++
	c.n.acked += f.numMessages
	for {
		left := b.dropAfter.Load()
		if left <= 0 {
			return nil
		}
		if b.dropAfter.CompareAndSwap(left, left-1) {
			if left == 1 {
				b.logf("conn %d: dropping the connection after a SEND of producer %d seq %d", c.id, f.producerID, f.seq)
				return ErrHangUp
			}
			return nil
		}
	}
}

// record keeps an acknowledged SEND, decoded by the generated code.
func (c *Conn) record(cmd, meta, payload []byte, entry uint64) {
	e := Entry{Send: new(pb.CommandSend), Metadata: new(pb.MessageMetadata),
		Payload: append([]byte(nil), payload...), EntryID: entry}
	if err := proto.Unmarshal(cmd, e.Send); err != nil {
		c.b.logf("conn %d: recording a SEND: %v", c.id, err)
	}
	if err := proto.Unmarshal(meta, e.Metadata); err != nil {
		c.b.logf("conn %d: recording a SEND's metadata: %v", c.id, err)
	}
	c.b.record(e)
}

func (c *Conn) sendError(f sendFields, code pb.ServerError, msg string) {
	c.n.sendErrs++
	c.lateReply(func(b []byte) []byte {
		return AppendCommand(b, &pb.BaseCommand{
			Type: pb.BaseCommand_SEND_ERROR.Enum(),
			SendError: &pb.CommandSendError{
				ProducerId: proto.Uint64(f.producerID),
				SequenceId: proto.Uint64(f.seq),
				Error:      code.Enum(),
				Message:    proto.String(msg),
			},
		})
	})
}

// control handles every command but SEND.
func (c *Conn) control(raw []byte) error {
	b := c.b
	var cmd pb.BaseCommand
	if err := proto.Unmarshal(raw, &cmd); err != nil {
		return errors.New("fakebroker: malformed command: " + err.Error())
	}
	reply := func(r *pb.BaseCommand) { c.out = AppendCommand(c.out, r) }
	switch cmd.GetType() {
	case pb.BaseCommand_CONNECT:
		m := cmd.GetConnect()
		// The method is logged, never the data: it is a credential.
		b.logf("conn %d: CONNECT from %s, protocol %d, authentication method %q", c.id, m.GetClientVersion(), m.GetProtocolVersion(), m.GetAuthMethodName())
		c.authMethod = m.GetAuthMethodName()
		b.recordAuth(Auth{Conn: c.id, Method: m.GetAuthMethodName(), Data: m.GetAuthData()})
		r := &pb.CommandConnected{
			ServerVersion:   proto.String(b.opts.ServerVersion),
			ProtocolVersion: proto.Int32(min(m.GetProtocolVersion(), maxProtocol)),
		}
		if b.announce > 0 {
			r.MaxMessageSize = proto.Int32(b.announce)
		}
		reply(&pb.BaseCommand{Type: pb.BaseCommand_CONNECTED.Enum(), Connected: r})
	case pb.BaseCommand_PING:
		reply(&pb.BaseCommand{Type: pb.BaseCommand_PONG.Enum(), Pong: &pb.CommandPong{}})
	case pb.BaseCommand_PONG:
	case pb.BaseCommand_PARTITIONED_METADATA:
		m := cmd.GetPartitionMetadata()
		n := uint32(b.opts.Partitions)
		if strings.Contains(m.GetTopic(), "-partition-") {
			n = 0
		}
		b.logf("conn %d: PARTITIONED_METADATA %s -> %d", c.id, m.GetTopic(), n)
		reply(&pb.BaseCommand{
			Type: pb.BaseCommand_PARTITIONED_METADATA_RESPONSE.Enum(),
			PartitionMetadataResponse: &pb.CommandPartitionedTopicMetadataResponse{
				Partitions: proto.Uint32(n),
				RequestId:  proto.Uint64(m.GetRequestId()),
				Response:   pb.CommandPartitionedTopicMetadataResponse_Success.Enum(),
			},
		})
	case pb.BaseCommand_LOOKUP:
		m := cmd.GetLookupTopic()
		b.logf("conn %d: LOOKUP %s", c.id, m.GetTopic())
		reply(&pb.BaseCommand{
			Type: pb.BaseCommand_LOOKUP_RESPONSE.Enum(),
			LookupTopicResponse: &pb.CommandLookupTopicResponse{
				BrokerServiceUrl:    proto.String(b.opts.URL),
				BrokerServiceUrlTls: proto.String(b.opts.URL),
				Response:            pb.CommandLookupTopicResponse_Connect.Enum(),
				RequestId:           proto.Uint64(m.GetRequestId()),
				Authoritative:       proto.Bool(true),
			},
		})
	case pb.BaseCommand_PRODUCER:
		if r := c.onProducer(cmd.GetProducer()); r != nil {
			reply(r)
		}
	case pb.BaseCommand_CLOSE_PRODUCER:
		m := cmd.GetCloseProducer()
		if _, ok := c.producers[m.GetProducerId()]; ok {
			delete(c.producers, m.GetProducerId())
			b.liveProducers.Add(-1)
		}
		b.logf("conn %d: CLOSE_PRODUCER %d", c.id, m.GetProducerId())
		reply(&pb.BaseCommand{
			Type:    pb.BaseCommand_SUCCESS.Enum(),
			Success: &pb.CommandSuccess{RequestId: proto.Uint64(m.GetRequestId())},
		})
	case pb.BaseCommand_AUTH_RESPONSE:
		r := cmd.GetAuthResponse().GetResponse()
		b.logf("conn %d: AUTH_RESPONSE, authentication method %q", c.id, r.GetAuthMethodName())
		b.recordAuth(Auth{Conn: c.id, Response: true, Method: r.GetAuthMethodName(), Data: r.GetAuthData()})
	default:
		b.logf("conn %d: ignoring %v", c.id, cmd.GetType())
	}
	return nil
}

// onProducer registers a producer, refuses it (RefuseProducers) or, with
// a nil reply, ignores it (IgnoreProducers).
func (c *Conn) onProducer(m *pb.CommandProducer) *pb.BaseCommand {
	b := c.b
	b.registrations.Add(1)
	if b.ignores(m.GetTopic()) {
		b.logf("conn %d: leaving PRODUCER %d on %s unanswered", c.id, m.GetProducerId(), m.GetTopic())
		return nil
	}
	if code, msg, refuse := b.takeRefusal(); refuse {
		b.refused.Add(1)
		b.logf("conn %d: refusing PRODUCER %d on %s with %v", c.id, m.GetProducerId(), m.GetTopic(), code)
		return &pb.BaseCommand{
			Type: pb.BaseCommand_ERROR.Enum(),
			Error: &pb.CommandError{
				RequestId: proto.Uint64(m.GetRequestId()),
				Error:     code.Enum(),
				Message:   proto.String(msg),
			},
		}
	}
	name := m.GetProducerName()
	if name == "" {
		name = "fakebroker-" + strconv.FormatUint(b.nextProducer.Add(1), 10)
	}
	if _, again := c.producers[m.GetProducerId()]; !again {
		b.liveProducers.Add(1)
	}
	c.producers[m.GetProducerId()] = m.GetTopic()
	c.lastProducer = m.GetProducerId()
	b.producers.Add(1)
	b.logf("conn %d: PRODUCER %d on %s named %s", c.id, m.GetProducerId(), m.GetTopic(), name)
	return &pb.BaseCommand{
		Type: pb.BaseCommand_PRODUCER_SUCCESS.Enum(),
		ProducerSuccess: &pb.CommandProducerSuccess{
			RequestId:      proto.Uint64(m.GetRequestId()),
			ProducerName:   proto.String(name),
			LastSequenceId: proto.Int64(-1),
		},
	}
}
