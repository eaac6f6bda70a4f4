// The codec against the generated code: what the hand-written parts write
// and read must mean what the generated code says, and ReadFrame must
// refuse every malformed frame rather than misread it.
package fakebroker

import (
	"bytes"
	"encoding/binary"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/pulsar-producer/pulsar-producer/internal/pb"
)

func TestAppendReceiptMatchesGenerated(t *testing.T) {
	frame := AppendReceipt([]byte("prefix"), 3, 1<<40, 1<<40+999, 77, 123456)[len("prefix"):]
	f, n, err := ReadFrame(frame)
	if err != nil || n != len(frame) {
		t.Fatalf("ReadFrame: n=%d of %d, %v", n, len(frame), err)
	}
	want := &pb.BaseCommand{Type: pb.BaseCommand_SEND_RECEIPT.Enum(), SendReceipt: &pb.CommandSendReceipt{
		ProducerId: proto.Uint64(3), SequenceId: proto.Uint64(1 << 40), HighestSequenceId: proto.Uint64(1<<40 + 999),
		MessageId: &pb.MessageIdData{LedgerId: proto.Uint64(77), EntryId: proto.Uint64(123456)}}}
	if !proto.Equal(f.Command, want) || f.Metadata != nil || !f.ChecksumOK {
		t.Fatalf("decoded %v", f.Command)
	}
	// Byte for byte what the generated code writes, field order included.
	if gen := AppendCommand(nil, want); !bytes.Equal(gen, frame) {
		t.Fatalf("hand-written %x\ngenerated    %x", frame, gen)
	}
}

func TestParseSendMatchesGenerated(t *testing.T) {
	send := &pb.CommandSend{
		ProducerId: proto.Uint64(5), SequenceId: proto.Uint64(300), NumMessages: proto.Int32(1000),
		HighestSequenceId: proto.Uint64(1299), TxnidLeastBits: proto.Uint64(1),
		MessageId: &pb.MessageIdData{LedgerId: proto.Uint64(1), EntryId: proto.Uint64(2)},
	}
	cmd, err := proto.Marshal(&pb.BaseCommand{Type: pb.BaseCommand_SEND.Enum(), Send: send})
	if err != nil {
		t.Fatal(err)
	}
	typ, body := peekCommand(cmd)
	if typ != sendType || body == nil {
		t.Fatalf("peekCommand = %d, %x", typ, body)
	}
	f, ok := parseSend(body)
	if !ok || f != (sendFields{producerID: 5, seq: 300, highest: 1299, numMessages: 1000, hasHighest: true}) {
		t.Fatalf("parseSend = %+v, %v", f, ok)
	}
	if _, ok := parseSend(body[:len(body)-1]); ok {
		t.Fatal("a truncated CommandSend parsed")
	}
	noSeq, _ := proto.Marshal(&pb.CommandSend{ProducerId: proto.Uint64(5)})
	if _, ok := parseSend(noSeq); ok {
		t.Fatal("a CommandSend without a sequence ID parsed")
	}
	if typ, _ := peekCommand([]byte{0x08}); typ != 0 {
		t.Fatalf("a truncated command peeked as type %d", typ)
	}
	lone, _ := proto.Marshal(&pb.CommandSend{ProducerId: proto.Uint64(1), SequenceId: proto.Uint64(2)})
	if f, ok := parseSend(lone); !ok || f.numMessages != 1 || f.hasHighest {
		t.Fatalf("a plain SEND parsed as %+v, %v", f, ok)
	}
}

func TestReadFrameRoundTrip(t *testing.T) {
	cmd := &pb.BaseCommand{Type: pb.BaseCommand_SEND.Enum(), Send: &pb.CommandSend{
		ProducerId: proto.Uint64(1), SequenceId: proto.Uint64(9)}}
	meta := &pb.MessageMetadata{ProducerName: proto.String("p"), SequenceId: proto.Uint64(9),
		PublishTime: proto.Uint64(1), PartitionKey: proto.String("k")}
	mb, _ := proto.Marshal(meta)
	stream := AppendMessage(nil, cmd, mb, []byte("payload"))
	stream = AppendCommand(stream, &pb.BaseCommand{Type: pb.BaseCommand_PING.Enum(), Ping: &pb.CommandPing{}})

	f, n, err := ReadFrame(stream)
	if err != nil || n == 0 {
		t.Fatalf("ReadFrame: %d, %v", n, err)
	}
	if !proto.Equal(f.Command, cmd) || !proto.Equal(f.Metadata, meta) || string(f.Payload) != "payload" || !f.ChecksumOK {
		t.Fatalf("decoded %v / %v / %q / checksum ok %v", f.Command, f.Metadata, f.Payload, f.ChecksumOK)
	}
	if got := int(binary.BigEndian.Uint32(stream)); got != n-4 {
		t.Fatalf("size prefix %d for a %d-byte frame", got, n)
	}
	f, m, err := ReadFrame(stream[n:])
	if err != nil || n+m != len(stream) || f.Command.GetType() != pb.BaseCommand_PING || f.Metadata != nil {
		t.Fatalf("second frame: %v, %d, %v", f.Command, m, err)
	}
	// Every strict prefix is "not whole yet", never an error or a frame.
	for i := range n {
		if _, k, err := ReadFrame(stream[:i]); k != 0 || err != nil {
			t.Fatalf("prefix of %d bytes: n=%d err=%v", i, k, err)
		}
	}
	// A flipped checksum bit is reported, not refused.
	bad := bytes.Clone(stream[:n])
	cmdSize := int(binary.BigEndian.Uint32(bad[4:]))
	bad[8+cmdSize+2+3] ^= 1
	if f, k, err := ReadFrame(bad); err != nil || k != n || f.ChecksumOK {
		t.Fatalf("corrupt checksum: n=%d err=%v ok=%v", k, err, f.ChecksumOK)
	}
}

func TestReadFrameRefusesMalformed(t *testing.T) {
	ping := AppendCommand(nil, &pb.BaseCommand{Type: pb.BaseCommand_PING.Enum(), Ping: &pb.CommandPing{}})
	frame := func(cmdSize uint32, rest ...byte) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(4+len(rest)))
		b = binary.BigEndian.AppendUint32(b, cmdSize)
		return append(b, rest...)
	}
	withPayload := func(mutate func([]byte)) []byte {
		b := AppendMessage(nil, &pb.BaseCommand{Type: pb.BaseCommand_PING.Enum(), Ping: &pb.CommandPing{}}, nil, []byte("x"))
		mutate(b[len(ping):])
		return b
	}
	pingCmd := bytes.Clone(ping[8:])
	cases := map[string][]byte{
		"too short":         {0, 0, 0, 1, 0},
		"empty command":     frame(0, 1, 2),
		"command overruns":  frame(9, 1, 2),
		"undecodable":       frame(2, 0xff, 0xff),
		"bad magic":         withPayload(func(p []byte) { p[0] = 0 }),
		"metadata overruns": withPayload(func(p []byte) { binary.BigEndian.PutUint32(p[6:], 99) }),
		"section too short": frame(uint32(len(pingCmd)), append(pingCmd, 0x0e, 0x01)...),
		"undecodable metadata": AppendMessage(nil, &pb.BaseCommand{Type: pb.BaseCommand_PING.Enum(), Ping: &pb.CommandPing{}},
			[]byte{0xff}, nil),
	}
	for name, b := range cases {
		if _, n, err := ReadFrame(b); err == nil || n != 0 {
			t.Errorf("%s: n=%d err=%v", name, n, err)
		}
	}
	if _, err := frameSize(binary.BigEndian.AppendUint32(nil, 1000), 999); err == nil {
		t.Error("a frame over the limit was sized")
	}
}
