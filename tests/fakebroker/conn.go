package fakebroker

// One connection: a single goroutine reads, parses and answers.
//
// How this works: serve reads into a large buffer and handles every whole
// frame in it before reading again. Replies are appended to a batch buffer
// and written with one write per read, so at high rates one write carries
// the receipts of many SEND frames. SEND commands are decoded by hand (only
// producer_id, sequence_id, num_messages and highest_sequence_id matter)
// and receipts are encoded by hand; every other command goes through the
// generated protobuf code, which is fine for the rare control commands.
//
// wmu serialises writes to the socket: the serving goroutine writes its
// batches, fault hooks (UnloadProducers) and the receipt-delay timer write
// from other goroutines. When receipts are delayed they wait, in order, in
// c.delayed for a timer (time.AfterFunc) that writes those that are due; an
// armed timer holds a count on the broker's WaitGroup so that Close waits
// for it too.

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/pulsar-producer/pulsar-producer/core/pb"
)

const (
	readBufSize   = 512 << 10
	magicCRC32C   = 0x0e01
	maxProtocol   = int32(pb.ProtocolVersion_v21)
	frameSlack    = 64 << 10 // room for command and metadata beyond the message size
	minFrameSize  = 4 + 2    // command size plus the smallest command
	sendType      = uint64(pb.BaseCommand_SEND)
	receiptType   = uint64(pb.BaseCommand_SEND_RECEIPT)
	closeReqIDTop = 1 << 62 // request IDs of broker-initiated CLOSE_PRODUCER
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

var errConnClosed = errors.New("fakebroker: connection closed")

type conn struct {
	b  *Broker
	id uint64
	nc net.Conn

	closing    atomic.Bool
	hasDelayed atomic.Bool // c.delayed is not empty

	wmu        sync.Mutex // guards the socket's write side and everything below
	closed     bool
	producers  map[uint64]string // registered producer ID -> topic
	delayed    []delayedWrite
	timer      *time.Timer
	timerArmed bool
	delayBuf   []byte
}

type delayedWrite struct {
	due  time.Time
	data []byte
}

// batch is what handling one read's frames produced.
type batch struct {
	out     []byte    // replies to write now
	late    []byte    // receipts to write after the delay
	delayed bool      // receipts of this batch go to late
	due     time.Time // when late is due

	frames, msgs, receipts, acked, sendErrs, csErrs int64
}

func (c *conn) serve() {
	b := c.b
	defer b.wg.Done()
	defer b.forget(c)
	defer c.close()

	buf := make([]byte, readBufSize)
	start, end := 0, 0
	maxFrame := b.opts.MaxMessageSize + frameSlack
	var s batch
	for {
		n, err := c.nc.Read(buf[end:])
		if n > 0 {
			end += n
			b.bytes.Add(int64(n))
			s.begin(c)
			need := 0 // size of the frame that is not whole yet
			for end-start >= 4 {
				size := int(binary.BigEndian.Uint32(buf[start:]))
				if size > maxFrame || size < minFrameSize {
					b.logf("conn %d: bad frame size %d", c.id, size)
					_ = c.flush(&s)
					return
				}
				if end-start < 4+size {
					need = 4 + size
					break
				}
				keep := c.frame(buf[start+4:start+4+size], &s)
				start += 4 + size
				if !keep {
					_ = c.flush(&s)
					return
				}
			}
			switch {
			case start == end:
				start, end = 0, 0
			case need > len(buf)-start || len(buf)-end < 64<<10:
				if need > len(buf) {
					nb := make([]byte, need+readBufSize)
					end = copy(nb, buf[start:end])
					buf = nb
				} else {
					end = copy(buf, buf[start:end])
				}
				start = 0
			}
			if c.flush(&s) != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				b.logf("conn %d: read: %v", c.id, err)
			}
			return
		}
	}
}

// begin starts a batch.
func (s *batch) begin(c *conn) {
	d := c.b.receiptDelay.Load()
	s.delayed = d > 0 || c.hasDelayed.Load()
	if s.delayed {
		s.due = time.Now().Add(time.Duration(d))
	}
}

// flush publishes the batch's counters, then writes its replies.
func (c *conn) flush(s *batch) error {
	b := c.b
	if s.frames > 0 {
		b.frames.Add(s.frames)
		b.messages.Add(s.msgs)
	}
	if s.receipts > 0 {
		b.receipts.Add(s.receipts)
		b.ackedMsgs.Add(s.acked)
	}
	if s.sendErrs > 0 {
		b.sendErrors.Add(s.sendErrs)
	}
	if s.csErrs > 0 {
		b.checksumErrors.Add(s.csErrs)
	}
	s.frames, s.msgs, s.receipts, s.acked, s.sendErrs, s.csErrs = 0, 0, 0, 0, 0, 0
	if len(s.out) == 0 && len(s.late) == 0 {
		return nil
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	out, late := s.out, s.late
	s.out, s.late = s.out[:0], s.late[:0]
	if c.closed {
		return errConnClosed
	}
	if len(out) > 0 {
		if _, err := c.nc.Write(out); err != nil {
			return err
		}
	}
	if len(late) > 0 {
		c.delayed = append(c.delayed, delayedWrite{due: s.due, data: append([]byte(nil), late...)})
		c.hasDelayed.Store(true)
		if !c.timerArmed {
			c.armLocked(time.Until(c.delayed[0].due))
		}
	}
	return nil
}

// armLocked starts the delay timer. The caller holds wmu and a WaitGroup
// count (it is the serving goroutine or the timer itself), so the Add
// below never races with Close's Wait reaching zero.
func (c *conn) armLocked(d time.Duration) {
	c.b.wg.Add(1)
	c.timerArmed = true
	if c.timer == nil {
		c.timer = time.AfterFunc(max(d, 0), c.fireDelayed)
	} else {
		c.timer.Reset(max(d, 0))
	}
}

// fireDelayed writes the delayed receipts that are due.
func (c *conn) fireDelayed() {
	defer c.b.wg.Done()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.timerArmed = false
	if c.closed {
		return
	}
	now := time.Now()
	out := c.delayBuf[:0]
	i := 0
	for ; i < len(c.delayed) && !c.delayed[i].due.After(now); i++ {
		out = append(out, c.delayed[i].data...)
	}
	n := copy(c.delayed, c.delayed[i:])
	clear(c.delayed[n:])
	c.delayed = c.delayed[:n]
	c.delayBuf = out[:0]
	if len(out) > 0 {
		if _, err := c.nc.Write(out); err != nil {
			c.nc.Close() // the serving goroutine notices and cleans up
			return
		}
	}
	if n > 0 {
		c.armLocked(c.delayed[0].due.Sub(now))
	} else {
		c.hasDelayed.Store(false)
	}
}

// close closes the socket (first, so that a write blocked on a client
// that does not read returns) and stops the delay timer.
func (c *conn) close() {
	if !c.closing.CompareAndSwap(false, true) {
		return
	}
	c.nc.Close()
	c.wmu.Lock()
	c.closed = true
	c.delayed = nil
	if c.timerArmed && c.timer.Stop() {
		c.timerArmed = false
		c.b.wg.Done()
	}
	c.wmu.Unlock()
}

// frame handles one frame (without its size prefix). It returns false to
// drop the connection.
func (c *conn) frame(f []byte, s *batch) bool {
	cmdSize := int(binary.BigEndian.Uint32(f))
	if cmdSize == 0 || cmdSize > len(f)-4 {
		c.b.logf("conn %d: command of %d bytes in a %d-byte frame", c.id, cmdSize, len(f))
		return false
	}
	cmd, rest := f[4:4+cmdSize], f[4+cmdSize:]
	if c.b.silent.Load() {
		return true
	}
	typ, send := peekCommand(cmd)
	if typ == sendType && send != nil {
		return c.onSend(send, rest, s)
	}
	return c.control(cmd, s)
}

// peekCommand returns a BaseCommand's type and, for SEND, the CommandSend
// bytes; type 0 when the command does not parse.
func peekCommand(b []byte) (typ uint64, send []byte) {
	for len(b) > 0 {
		num, wt, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, nil
		}
		b = b[n:]
		switch {
		case num == 1 && wt == protowire.VarintType:
			typ, n = protowire.ConsumeVarint(b)
		case num == 6 && wt == protowire.BytesType:
			send, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, wt, b)
		}
		if n < 0 {
			return 0, nil
		}
		b = b[n:]
	}
	return typ, send
}

// sendFields is what a receipt needs from a CommandSend.
type sendFields struct {
	producerID, seq, highest uint64
	numMessages              int64
	hasHighest               bool
}

func parseSend(b []byte) (f sendFields, ok bool) {
	f.numMessages = 1
	var haveProducer, haveSeq bool
	for len(b) > 0 {
		num, wt, n := protowire.ConsumeTag(b)
		if n < 0 {
			return f, false
		}
		b = b[n:]
		if wt != protowire.VarintType || num > 6 {
			if n = protowire.ConsumeFieldValue(num, wt, b); n < 0 {
				return f, false
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeVarint(b)
		if n < 0 {
			return f, false
		}
		b = b[n:]
		switch num {
		case 1:
			f.producerID, haveProducer = v, true
		case 2:
			f.seq, haveSeq = v, true
		case 3:
			f.numMessages = int64(int32(v))
		case 6:
			f.highest, f.hasHighest = v, true
		}
	}
	return f, haveProducer && haveSeq
}

// onSend answers a SEND frame; rest is what follows the command.
func (c *conn) onSend(cmd, rest []byte, s *batch) bool {
	b := c.b
	f, ok := parseSend(cmd)
	if !ok || len(rest) < 10 || binary.BigEndian.Uint16(rest) != magicCRC32C {
		b.logf("conn %d: malformed SEND (command ok=%v, %d bytes after it)", c.id, ok, len(rest))
		return false
	}
	s.frames++
	s.msgs += f.numMessages
	if !f.hasHighest {
		f.highest = f.seq
	}
	if crc32.Checksum(rest[6:], crcTable) != binary.BigEndian.Uint32(rest[2:]) {
		s.csErrs++
		if b.opts.ReplyChecksumError {
			c.sendError(s, f, pb.ServerError_ChecksumError, "checksum mismatch")
			return true
		}
	}
	if v := b.failNext.Load(); v != 0 && b.failNext.CompareAndSwap(v, 0) {
		code := pb.ServerError(v - 1)
		b.logf("conn %d: failing SEND of producer %d seq %d with %v", c.id, f.producerID, f.seq, code)
		c.sendError(s, f, code, "injected failure: "+code.String())
		return true
	}
	entry := b.nextEntry.Add(1) - 1
	if s.delayed {
		s.late = appendReceipt(s.late, f.producerID, f.seq, f.highest, b.opts.LedgerID, entry)
	} else {
		s.out = appendReceipt(s.out, f.producerID, f.seq, f.highest, b.opts.LedgerID, entry)
	}
	s.receipts++
	s.acked += f.numMessages
	for {
		left := b.dropAfter.Load()
		if left <= 0 {
			return true
		}
		if b.dropAfter.CompareAndSwap(left, left-1) {
			if left == 1 {
				b.logf("conn %d: dropping the connection after a SEND of producer %d seq %d", c.id, f.producerID, f.seq)
				return false
			}
			return true
		}
	}
}

func (c *conn) sendError(s *batch, f sendFields, code pb.ServerError, msg string) {
	s.sendErrs++
	cmd := &pb.BaseCommand{
		Type: pb.BaseCommand_SEND_ERROR.Enum(),
		SendError: &pb.CommandSendError{
			ProducerId: proto.Uint64(f.producerID),
			SequenceId: proto.Uint64(f.seq),
			Error:      code.Enum(),
			Message:    proto.String(msg),
		},
	}
	if s.delayed {
		s.late = appendCommand(s.late, cmd)
	} else {
		s.out = appendCommand(s.out, cmd)
	}
}

// appendReceipt appends a SEND_RECEIPT frame, encoded by hand:
// BaseCommand{type: SEND_RECEIPT, send_receipt: {producer_id, sequence_id,
// message_id: {ledgerId, entryId}, highest_sequence_id}}.
func appendReceipt(b []byte, producerID, seq, highest, ledger, entry uint64) []byte {
	idLen := 1 + protowire.SizeVarint(ledger) + 1 + protowire.SizeVarint(entry)
	rcLen := 1 + protowire.SizeVarint(producerID) + 1 + protowire.SizeVarint(seq) +
		1 + protowire.SizeVarint(uint64(idLen)) + idLen + 1 + protowire.SizeVarint(highest)
	cmdLen := 1 + protowire.SizeVarint(receiptType) + 1 + protowire.SizeVarint(uint64(rcLen)) + rcLen
	b = binary.BigEndian.AppendUint32(b, uint32(4+cmdLen))
	b = binary.BigEndian.AppendUint32(b, uint32(cmdLen))
	b = append(b, 1<<3|byte(protowire.VarintType))
	b = protowire.AppendVarint(b, receiptType)
	b = append(b, 7<<3|byte(protowire.BytesType))
	b = protowire.AppendVarint(b, uint64(rcLen))
	b = append(b, 1<<3|byte(protowire.VarintType))
	b = protowire.AppendVarint(b, producerID)
	b = append(b, 2<<3|byte(protowire.VarintType))
	b = protowire.AppendVarint(b, seq)
	b = append(b, 3<<3|byte(protowire.BytesType))
	b = protowire.AppendVarint(b, uint64(idLen))
	b = append(b, 1<<3|byte(protowire.VarintType))
	b = protowire.AppendVarint(b, ledger)
	b = append(b, 2<<3|byte(protowire.VarintType))
	b = protowire.AppendVarint(b, entry)
	b = append(b, 4<<3|byte(protowire.VarintType))
	return protowire.AppendVarint(b, highest)
}

// appendCommand appends a frame holding only cmd.
func appendCommand(b []byte, cmd *pb.BaseCommand) []byte {
	body, err := proto.Marshal(cmd)
	if err != nil {
		panic("fakebroker: encoding " + cmd.GetType().String() + ": " + err.Error())
	}
	b = binary.BigEndian.AppendUint32(b, uint32(4+len(body)))
	b = binary.BigEndian.AppendUint32(b, uint32(len(body)))
	return append(b, body...)
}

// control handles every command but SEND.
func (c *conn) control(raw []byte, s *batch) bool {
	b := c.b
	var cmd pb.BaseCommand
	if err := proto.Unmarshal(raw, &cmd); err != nil {
		b.logf("conn %d: malformed command: %v", c.id, err)
		return false
	}
	reply := func(r *pb.BaseCommand) { s.out = appendCommand(s.out, r) }
	switch cmd.GetType() {
	case pb.BaseCommand_CONNECT:
		m := cmd.GetConnect()
		v := min(m.GetProtocolVersion(), maxProtocol)
		b.logf("conn %d: CONNECT from %s, protocol %d", c.id, m.GetClientVersion(), m.GetProtocolVersion())
		reply(&pb.BaseCommand{
			Type: pb.BaseCommand_CONNECTED.Enum(),
			Connected: &pb.CommandConnected{
				ServerVersion:   proto.String(b.opts.ServerVersion),
				ProtocolVersion: proto.Int32(v),
				MaxMessageSize:  proto.Int32(int32(b.opts.MaxMessageSize)),
			},
		})
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
				BrokerServiceUrl: proto.String(b.url),
				Response:         pb.CommandLookupTopicResponse_Connect.Enum(),
				RequestId:        proto.Uint64(m.GetRequestId()),
				Authoritative:    proto.Bool(true),
			},
		})
	case pb.BaseCommand_PRODUCER:
		m := cmd.GetProducer()
		name := m.GetProducerName()
		if name == "" {
			name = "fakebroker-" + strconv.FormatUint(b.nextProducer.Add(1), 10)
		}
		c.wmu.Lock()
		c.producers[m.GetProducerId()] = m.GetTopic()
		c.wmu.Unlock()
		b.producers.Add(1)
		b.logf("conn %d: PRODUCER %d on %s named %s", c.id, m.GetProducerId(), m.GetTopic(), name)
		reply(&pb.BaseCommand{
			Type: pb.BaseCommand_PRODUCER_SUCCESS.Enum(),
			ProducerSuccess: &pb.CommandProducerSuccess{
				RequestId:      proto.Uint64(m.GetRequestId()),
				ProducerName:   proto.String(name),
				LastSequenceId: proto.Int64(-1),
			},
		})
	case pb.BaseCommand_CLOSE_PRODUCER:
		m := cmd.GetCloseProducer()
		c.wmu.Lock()
		delete(c.producers, m.GetProducerId())
		c.wmu.Unlock()
		b.logf("conn %d: CLOSE_PRODUCER %d", c.id, m.GetProducerId())
		reply(&pb.BaseCommand{
			Type:    pb.BaseCommand_SUCCESS.Enum(),
			Success: &pb.CommandSuccess{RequestId: proto.Uint64(m.GetRequestId())},
		})
	default:
		b.logf("conn %d: ignoring %v", c.id, cmd.GetType())
	}
	return true
}

// unloadProducers sends CLOSE_PRODUCER for every producer of c.
func (c *conn) unloadProducers() int {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closed || len(c.producers) == 0 {
		return 0
	}
	var out []byte
	n := 0
	for id := range c.producers {
		n++
		out = appendCommand(out, &pb.BaseCommand{
			Type: pb.BaseCommand_CLOSE_PRODUCER.Enum(),
			CloseProducer: &pb.CommandCloseProducer{
				ProducerId: proto.Uint64(id),
				RequestId:  proto.Uint64(closeReqIDTop + c.b.nextCloseReq.Add(1)),
			},
		})
	}
	clear(c.producers)
	if _, err := c.nc.Write(out); err != nil {
		c.nc.Close()
	}
	return n
}
