// Frames: how commands and payloads are laid out on the wire.
//
// Every frame starts with a 4-byte big-endian total size, then a 4-byte
// command size and the protobuf BaseCommand. A frame that carries a message
// (SEND from us, MESSAGE to consumers) continues with the magic 0x0e01, a
// CRC32C, the 4-byte metadata size, the MessageMetadata and the payload; the
// checksum covers everything after itself.
//
// frameParser cuts a byte stream into frames. It checks the announced size
// against the negotiated maximum before it waits for or buffers the body, so
// a hostile length prefix costs nothing, and it verifies the checksum of
// every frame that has one.
package engine

import (
	"encoding/binary"
	"hash/crc32"
)

const (
	magicCRC32C = 0x0e01
	// DefaultMaxMessageSize is the broker's default maxMessageSize (5 MiB),
	// used until CONNECTED says otherwise.
	DefaultMaxMessageSize = 5 << 20
	// frameSlack is the room a frame may take beyond the message size limit
	// for its command and metadata, as the broker allows.
	frameSlack = 10 << 10
	// minFrameSize is the smallest valid frame after the size prefix: a
	// command size and a one-field command.
	minFrameSize = 4 + 2
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// frame is one parsed frame; its slices alias the parser's input.
type frame struct {
	cmd     []byte // BaseCommand bytes
	meta    []byte // MessageMetadata, when the frame has a payload section
	payload []byte
}

// parseFrame cuts the first frame from b. It returns the frame and how many
// bytes it used; n == 0 with a nil error means b holds no whole frame yet.
// maxFrame bounds the size prefix.
func parseFrame(b []byte, maxFrame int) (f frame, n int, err error) {
	if len(b) < 4 {
		return f, 0, nil
	}
	total := binary.BigEndian.Uint32(b)
	if uint64(total) > uint64(maxFrame) {
		return f, 0, Errorf(CodeProtocolError, "frame of %d bytes exceeds the negotiated maximum of %d", total, maxFrame)
	}
	if total < minFrameSize {
		return f, 0, Errorf(CodeProtocolError, "frame of %d bytes is too short to hold a command", total)
	}
	if uint64(len(b)-4) < uint64(total) {
		return f, 0, nil
	}
	body := b[4 : 4+total]
	cmdSize := binary.BigEndian.Uint32(body)
	if uint64(cmdSize) > uint64(len(body)-4) {
		return f, 0, Errorf(CodeProtocolError, "command of %d bytes overruns its %d-byte frame", cmdSize, total)
	}
	if cmdSize == 0 {
		return f, 0, Errorf(CodeProtocolError, "frame carries an empty command")
	}
	f.cmd = body[4 : 4+cmdSize]
	rest := body[4+cmdSize:]
	if len(rest) > 0 {
		if len(rest) < 10 {
			return f, 0, Errorf(CodeProtocolError, "payload section of %d bytes is too short for magic, checksum and metadata size", len(rest))
		}
		if magic := binary.BigEndian.Uint16(rest); magic != magicCRC32C {
			return f, 0, Errorf(CodeProtocolError, "payload section starts with 0x%04x, not the checksum magic 0x0e01", magic)
		}
		want := binary.BigEndian.Uint32(rest[2:])
		if got := crc32.Checksum(rest[6:], crcTable); got != want {
			return f, 0, Errorf(CodeChecksumError, "frame checksum 0x%08x does not match its contents (0x%08x)", want, got)
		}
		metaSize := binary.BigEndian.Uint32(rest[6:])
		if uint64(metaSize) > uint64(len(rest)-10) {
			return f, 0, Errorf(CodeProtocolError, "metadata of %d bytes overruns its frame", metaSize)
		}
		f.meta = rest[10 : 10+metaSize]
		f.payload = rest[10+metaSize:]
	}
	return f, 4 + int(total), nil
}

// sendFrameHeaderLen is the size of everything before the metadata in a
// SEND frame: total size, command size, command, magic, checksum and
// metadata size.
func sendFrameHeaderLen(cmdLen int) int { return 4 + 4 + cmdLen + 2 + 4 + 4 }

// writeSendFrame lays a SEND frame's header into buf[start:payloadAt], where
// the header is cmd and meta, and the payload already sits at
// buf[payloadAt:]. It computes the checksum over metadata and payload,
// unless the driver does (ClientOptions.HostChecksums).
func writeSendFrame(buf []byte, start, payloadAt int, cmd, meta []byte, hostChecksum bool) {
	total := len(buf) - start - 4
	p := buf[start:]
	binary.BigEndian.PutUint32(p, uint32(total))
	binary.BigEndian.PutUint32(p[4:], uint32(len(cmd)))
	copy(p[8:], cmd)
	q := p[8+len(cmd):]
	binary.BigEndian.PutUint16(q, magicCRC32C)
	binary.BigEndian.PutUint32(q[6:], uint32(len(meta)))
	copy(q[10:], meta)
	if start+8+len(cmd)+10+len(meta) != payloadAt {
		panic("engine: SEND header does not meet its payload")
	}
	if hostChecksum {
		binary.BigEndian.PutUint32(q[2:], 0)
		return
	}
	binary.BigEndian.PutUint32(q[2:], crc32.Checksum(q[6:], crcTable))
}

// FillChecksums computes the CRC32C of every frame with a payload section
// in b, a run of whole frames as TakeOutput returns them. A driver that set
// ClientOptions.HostChecksums calls it on each output before writing.
func FillChecksums(b []byte) error {
	for len(b) > 0 {
		if len(b) < 8 {
			return Errorf(CodeProtocolError, "output ends inside a frame header")
		}
		total := int(binary.BigEndian.Uint32(b))
		if total < 4 || total > len(b)-4 {
			return Errorf(CodeProtocolError, "output frame of %d bytes overruns the %d bytes left", total, len(b)-4)
		}
		cmdSize := int(binary.BigEndian.Uint32(b[4:]))
		if cmdSize > total-4 {
			return Errorf(CodeProtocolError, "output command overruns its frame")
		}
		rest := b[8+cmdSize : 4+total]
		if len(rest) >= 10 && binary.BigEndian.Uint16(rest) == magicCRC32C {
			binary.BigEndian.PutUint32(rest[2:], crc32.Checksum(rest[6:], crcTable))
		}
		b = b[4+total:]
	}
	return nil
}
