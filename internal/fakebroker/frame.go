// The frame codec of the fake broker, and of every test that plays a
// broker: one way to build and read Pulsar frames, independent of the
// engine's hand-written codecs.
//
// How this works: a frame is a 4-byte big-endian total size, a 4-byte
// command size, a protobuf BaseCommand and, for frames that carry a message
// (SEND, MESSAGE), the magic 0x0e01, a CRC32C of everything after it, a
// 4-byte metadata size, a MessageMetadata and the payload. Commands and
// metadata go through the generated code in internal/pb, so a test that
// reads the engine's frames with ReadFrame checks the engine's encoders
// against code the engine does not share. Two exceptions are hand-written
// with protowire because they run once per SEND on the broker's hot path:
// reading a CommandSend (peekCommand, parseSend) and writing a receipt
// (AppendReceipt). frame_test.go checks both against the generated code.
package fakebroker

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/pulsar-producer/pulsar-producer/internal/pb"
)

const (
	magicCRC32C  = 0x0e01
	minFrameSize = 4 + 2 // a command size and the smallest command
	sendType     = uint64(pb.BaseCommand_SEND)
	receiptType  = uint64(pb.BaseCommand_SEND_RECEIPT)
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Frame is one frame decoded with the generated code.
type Frame struct {
	Command *pb.BaseCommand
	// Metadata is nil unless the frame has a payload section.
	Metadata *pb.MessageMetadata
	// Payload follows the metadata; it aliases the input of ReadFrame.
	Payload []byte
	// ChecksumOK reports whether the payload section's CRC32C matched; it
	// is true for a frame without one.
	ChecksumOK bool
}

// ReadFrame decodes the first frame of b and returns it with the number of
// bytes it took. n == 0 with a nil error means b does not hold a whole
// frame yet. A checksum mismatch is not an error (see Frame.ChecksumOK):
// the broker counts it, a test decides.
func ReadFrame(b []byte) (f Frame, n int, err error) {
	size, err := frameSize(b, -1)
	if err != nil || size == 0 || len(b)-4 < size {
		return f, 0, err
	}
	cmd, rest, err := splitCommand(b[4 : 4+size])
	if err != nil {
		return f, 0, err
	}
	f.Command = new(pb.BaseCommand)
	if err := proto.Unmarshal(cmd, f.Command); err != nil {
		return f, 0, fmt.Errorf("fakebroker: command: %w", err)
	}
	f.ChecksumOK = true
	if len(rest) > 0 {
		meta, payload, ok, err := splitPayload(rest, true)
		if err != nil {
			return f, 0, err
		}
		f.Metadata = new(pb.MessageMetadata)
		if err := proto.Unmarshal(meta, f.Metadata); err != nil {
			return f, 0, fmt.Errorf("fakebroker: metadata: %w", err)
		}
		f.Payload, f.ChecksumOK = payload, ok
	}
	return f, 4 + size, nil
}

// frameSize reads the size prefix of the frame at the start of b: 0 when b
// holds fewer than 4 bytes. maxFrame < 0 means no bound.
func frameSize(b []byte, maxFrame int) (int, error) {
	if len(b) < 4 {
		return 0, nil
	}
	size := int(binary.BigEndian.Uint32(b))
	if size < minFrameSize {
		return 0, fmt.Errorf("fakebroker: a frame of %d bytes is too short for a command", size)
	}
	if maxFrame >= 0 && size > maxFrame {
		return 0, fmt.Errorf("fakebroker: a frame of %d bytes exceeds the limit of %d", size, maxFrame)
	}
	return size, nil
}

// splitCommand cuts a frame body (after the size prefix) into the command
// and what follows it.
func splitCommand(body []byte) (cmd, rest []byte, err error) {
	n := int(binary.BigEndian.Uint32(body))
	if n == 0 || n > len(body)-4 {
		return nil, nil, fmt.Errorf("fakebroker: command of %d bytes in a %d-byte frame", n, len(body))
	}
	return body[4 : 4+n], body[4+n:], nil
}

var errPayloadSection = errors.New("fakebroker: malformed payload section")

// splitPayload cuts a payload section into metadata and payload and, if
// check is set, verifies its checksum (checksumOK is true when not).
func splitPayload(rest []byte, check bool) (meta, payload []byte, checksumOK bool, err error) {
	if len(rest) < 10 || binary.BigEndian.Uint16(rest) != magicCRC32C {
		return nil, nil, false, errPayloadSection
	}
	n := binary.BigEndian.Uint32(rest[6:])
	if uint64(n) > uint64(len(rest)-10) {
		return nil, nil, false, errPayloadSection
	}
	checksumOK = !check || crc32.Checksum(rest[6:], crcTable) == binary.BigEndian.Uint32(rest[2:])
	return rest[10 : 10+n], rest[10+n:], checksumOK, nil
}

// AppendCommand appends a frame that holds only cmd, encoded by the
// generated code.
func AppendCommand(b []byte, cmd *pb.BaseCommand) []byte {
	body, err := proto.Marshal(cmd)
	if err != nil {
		// Only a command missing a required field fails; that is a bug
		// in the caller, not a condition to handle.
		panic("fakebroker: encoding " + cmd.GetType().String() + ": " + err.Error())
	}
	b = binary.BigEndian.AppendUint32(b, uint32(4+len(body)))
	b = binary.BigEndian.AppendUint32(b, uint32(len(body)))
	return append(b, body...)
}

// AppendMessage appends a frame with a payload section: cmd, then the
// checksum magic, the CRC32C, metadata (already encoded, so that a test
// can pass malformed bytes) and payload.
func AppendMessage(b []byte, cmd *pb.BaseCommand, metadata, payload []byte) []byte {
	start := len(b)
	b = AppendCommand(b, cmd)
	b = binary.BigEndian.AppendUint16(b, magicCRC32C)
	sumAt := len(b)
	b = binary.BigEndian.AppendUint32(b, 0)
	b = binary.BigEndian.AppendUint32(b, uint32(len(metadata)))
	b = append(append(b, metadata...), payload...)
	binary.BigEndian.PutUint32(b[sumAt:], crc32.Checksum(b[sumAt+4:], crcTable))
	binary.BigEndian.PutUint32(b[start:], uint32(len(b)-start-4))
	return b
}

// AppendReceipt appends a SEND_RECEIPT frame, encoded by hand so that the
// broker's hot path allocates nothing: BaseCommand{type: SEND_RECEIPT,
// send_receipt: {producer_id, sequence_id, message_id: {ledgerId,
// entryId}, highest_sequence_id}}.
func AppendReceipt(b []byte, producerID, seq, highest, ledger, entry uint64) []byte {
	idLen := 1 + protowire.SizeVarint(ledger) + 1 + protowire.SizeVarint(entry)
	rcLen := 1 + protowire.SizeVarint(producerID) + 1 + protowire.SizeVarint(seq) +
		1 + protowire.SizeVarint(uint64(idLen)) + idLen + 1 + protowire.SizeVarint(highest)
	cmdLen := 1 + protowire.SizeVarint(receiptType) + 1 + protowire.SizeVarint(uint64(rcLen)) + rcLen
	b = binary.BigEndian.AppendUint32(b, uint32(4+cmdLen))
	b = binary.BigEndian.AppendUint32(b, uint32(cmdLen))
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, receiptType)
	b = protowire.AppendTag(b, 7, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(rcLen))
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, producerID)
	b = protowire.AppendTag(b, 2, protowire.VarintType)
	b = protowire.AppendVarint(b, seq)
	b = protowire.AppendTag(b, 3, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(idLen))
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, ledger)
	b = protowire.AppendTag(b, 2, protowire.VarintType)
	b = protowire.AppendVarint(b, entry)
	b = protowire.AppendTag(b, 4, protowire.VarintType)
	return protowire.AppendVarint(b, highest)
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

// parseSend reads the fields of a CommandSend a receipt needs; the
// producer and sequence IDs are required.
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
