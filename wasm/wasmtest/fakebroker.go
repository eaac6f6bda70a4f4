// A broker in process, for tests and benchmarks without a network.
//
// How this works: FakeBroker parses the frames a producer writes (with the
// protocol's generated messages, core/pb) and answers each command the way
// a broker would for one non-partitioned topic: CONNECTED, a lookup that
// points back at itself, PRODUCER_SUCCESS, and a SEND_RECEIPT for every
// SEND, with entry IDs counting up from 0 in ledger 1.
package wasmtest

import (
	"encoding/binary"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/pulsar-producer/pulsar-producer/core/pb"
)

// FakeBroker answers one producer. The zero value is ready.
type FakeBroker struct {
	// URL is what lookups answer; "" means pulsar://broker:6650.
	URL string
	// ProducerID is the protocol ID of the registered producer, 0 before.
	ProducerID uint64
	// Sends counts the SEND frames answered.
	Sends int
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
		frames = frames[4+total:]
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

func (b *FakeBroker) answer(cmd *pb.BaseCommand) *pb.BaseCommand {
	url := b.URL
	if url == "" {
		url = "pulsar://broker:6650"
	}
	switch cmd.GetType() {
	case pb.BaseCommand_CONNECT:
		return &pb.BaseCommand{Type: pb.BaseCommand_CONNECTED.Enum(), Connected: &pb.CommandConnected{
			ServerVersion: proto.String("fake"), ProtocolVersion: proto.Int32(21)}}
	case pb.BaseCommand_PARTITIONED_METADATA:
		return &pb.BaseCommand{Type: pb.BaseCommand_PARTITIONED_METADATA_RESPONSE.Enum(), PartitionMetadataResponse: &pb.CommandPartitionedTopicMetadataResponse{
			RequestId: proto.Uint64(cmd.GetPartitionMetadata().GetRequestId()), Partitions: proto.Uint32(0)}}
	case pb.BaseCommand_LOOKUP:
		return &pb.BaseCommand{Type: pb.BaseCommand_LOOKUP_RESPONSE.Enum(), LookupTopicResponse: &pb.CommandLookupTopicResponse{
			RequestId: proto.Uint64(cmd.GetLookupTopic().GetRequestId()), BrokerServiceUrl: proto.String(url),
			Response: pb.CommandLookupTopicResponse_Connect.Enum(), Authoritative: proto.Bool(true)}}
	case pb.BaseCommand_PRODUCER:
		b.ProducerID = cmd.GetProducer().GetProducerId()
		return &pb.BaseCommand{Type: pb.BaseCommand_PRODUCER_SUCCESS.Enum(), ProducerSuccess: &pb.CommandProducerSuccess{
			RequestId: proto.Uint64(cmd.GetProducer().GetRequestId()), ProducerName: proto.String("fake-0"), LastSequenceId: proto.Int64(-1)}}
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
