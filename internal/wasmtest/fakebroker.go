// A broker in process, for tests and benchmarks without a real broker.
//
// How this works: FakeBroker parses the frames a producer writes (with the
// protocol's generated messages, internal/pb) and answers each command the
// way a broker would for non-partitioned topics: CONNECTED, a lookup that
// points back at itself, PRODUCER_SUCCESS, SUCCESS for CLOSE_PRODUCER, PONG
// for PING, and a SEND_RECEIPT for every SEND, with entry IDs counting up
// from 0 in ledger 1. Answer works on bytes, so the module's own tests (in
// wasip1, without sockets) use it directly; Serve (server.go) puts it
// behind a TCP listener for a whole client.
package wasmtest

import (
	"encoding/binary"
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/pulsar-producer/pulsar-producer/internal/pb"
)

// FakeBroker answers producers. The zero value is ready.
type FakeBroker struct {
	// URL is what lookups answer; "" means pulsar://broker:6650.
	URL string
	// NeverRegister leaves PRODUCER commands for topics containing it
	// unanswered, so those producers stay in creation; "" answers all.
	NeverRegister string
	// KeepMetadata keeps the metadata of every SEND in Metadata.
	KeepMetadata bool

	// ProducerID is the protocol ID of the producer registered last, 0
	// before any.
	ProducerID uint64
	// Registering counts PRODUCER commands, answered or not.
	Registering int
	// Sends counts the SEND frames answered.
	Sends int
	// Metadata holds each SEND's message metadata, if KeepMetadata.
	Metadata []*pb.MessageMetadata
}

// Answer returns the replies to frames, a run of whole frames.
func (b *FakeBroker) Answer(frames []byte) ([]byte, error) {
	var reply []byte
	for len(frames) > 0 {
		if len(frames) < 8 {
			return nil, fmt.Errorf("fake broker: %d bytes left, not a frame", len(frames))
		}
		total := binary.BigEndian.Uint32(frames)
		cmdSize := binary.BigEndian.Uint32(frames[4:])
		if uint64(total)+4 > uint64(len(frames)) || cmdSize > total-4 {
			return nil, fmt.Errorf("fake broker: a frame of %d bytes with a command of %d overruns the %d bytes left", total, cmdSize, len(frames))
		}
		cmd := &pb.BaseCommand{}
		if err := proto.Unmarshal(frames[8:8+cmdSize], cmd); err != nil {
			return nil, fmt.Errorf("fake broker: %w", err)
		}
		rest := frames[8+cmdSize : 4+total]
		frames = frames[4+total:]
		if cmd.GetType() == pb.BaseCommand_SEND && b.KeepMetadata {
			meta, err := sendMetadata(rest)
			if err != nil {
				return nil, err
			}
			b.Metadata = append(b.Metadata, meta)
		}
		if r := b.answer(cmd); r != nil {
			cb, err := proto.Marshal(r)
			if err != nil {
				return nil, err
			}
			reply = binary.BigEndian.AppendUint32(reply, uint32(4+len(cb)))
			reply = binary.BigEndian.AppendUint32(reply, uint32(len(cb)))
			reply = append(reply, cb...)
		}
	}
	return reply, nil
}

// sendMetadata decodes the metadata of a SEND's payload section: magic,
// checksum, metadata size, metadata, payload.
func sendMetadata(rest []byte) (*pb.MessageMetadata, error) {
	if len(rest) < 10 || binary.BigEndian.Uint16(rest) != 0x0e01 {
		return nil, fmt.Errorf("fake broker: a SEND without a payload section")
	}
	n := binary.BigEndian.Uint32(rest[6:])
	if uint64(n) > uint64(len(rest)-10) {
		return nil, fmt.Errorf("fake broker: SEND metadata of %d bytes overruns the frame", n)
	}
	meta := &pb.MessageMetadata{}
	if err := proto.Unmarshal(rest[10:10+n], meta); err != nil {
		return nil, fmt.Errorf("fake broker: SEND metadata: %w", err)
	}
	return meta, nil
}

func (b *FakeBroker) answer(cmd *pb.BaseCommand) *pb.BaseCommand {
	url := b.URL
	if url == "" {
		url = "pulsar://broker:6650"
	}
	switch cmd.GetType() {
	case pb.BaseCommand_CONNECT:
		return &pb.BaseCommand{Type: pb.BaseCommand_CONNECTED.Enum(), Connected: &pb.CommandConnected{
			ServerVersion: proto.String("fake"), ProtocolVersion: proto.Int32(21)}}
	case pb.BaseCommand_PING:
		return &pb.BaseCommand{Type: pb.BaseCommand_PONG.Enum(), Pong: &pb.CommandPong{}}
	case pb.BaseCommand_PARTITIONED_METADATA:
		return &pb.BaseCommand{Type: pb.BaseCommand_PARTITIONED_METADATA_RESPONSE.Enum(), PartitionMetadataResponse: &pb.CommandPartitionedTopicMetadataResponse{
			RequestId: proto.Uint64(cmd.GetPartitionMetadata().GetRequestId()), Partitions: proto.Uint32(0)}}
	case pb.BaseCommand_LOOKUP:
		return &pb.BaseCommand{Type: pb.BaseCommand_LOOKUP_RESPONSE.Enum(), LookupTopicResponse: &pb.CommandLookupTopicResponse{
			RequestId: proto.Uint64(cmd.GetLookupTopic().GetRequestId()), BrokerServiceUrl: proto.String(url),
			Response: pb.CommandLookupTopicResponse_Connect.Enum(), Authoritative: proto.Bool(true)}}
	case pb.BaseCommand_PRODUCER:
		b.Registering++
		if b.NeverRegister != "" && strings.Contains(cmd.GetProducer().GetTopic(), b.NeverRegister) {
			return nil
		}
		b.ProducerID = cmd.GetProducer().GetProducerId()
		return &pb.BaseCommand{Type: pb.BaseCommand_PRODUCER_SUCCESS.Enum(), ProducerSuccess: &pb.CommandProducerSuccess{
			RequestId: proto.Uint64(cmd.GetProducer().GetRequestId()), ProducerName: proto.String(fmt.Sprintf("fake-%d", b.ProducerID)),
			LastSequenceId: proto.Int64(-1)}}
	case pb.BaseCommand_CLOSE_PRODUCER:
		return &pb.BaseCommand{Type: pb.BaseCommand_SUCCESS.Enum(), Success: &pb.CommandSuccess{
			RequestId: proto.Uint64(cmd.GetCloseProducer().GetRequestId())}}
	case pb.BaseCommand_SEND:
		s := cmd.GetSend()
		highest := s.GetSequenceId() + uint64(max(s.GetNumMessages(), 1)) - 1
		entry := uint64(b.Sends)
		b.Sends++
		return &pb.BaseCommand{Type: pb.BaseCommand_SEND_RECEIPT.Enum(), SendReceipt: &pb.CommandSendReceipt{
			ProducerId: proto.Uint64(s.GetProducerId()), SequenceId: proto.Uint64(s.GetSequenceId()), HighestSequenceId: proto.Uint64(highest),
			MessageId: &pb.MessageIdData{LedgerId: proto.Uint64(1), EntryId: proto.Uint64(entry)}}}
	}
	return nil
}
