// The hand-written control-command codecs against the generated code: every
// frame the engine builds must decode to the intended command, and every
// reply the generated code encodes must decode to the same values here.
package engine

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/pulsar-producer/pulsar-producer/internal/fakebroker"
	"github.com/pulsar-producer/pulsar-producer/internal/pb"
)

// decodeFrame reads one frame built by the engine with the fake broker's
// codec, which decodes the command with the generated code.
func decodeFrame(t *testing.T, b []byte) *pb.BaseCommand {
	t.Helper()
	f, n, err := fakebroker.ReadFrame(b)
	if err != nil || n != len(b) {
		t.Fatalf("frame: n=%d of %d, %v (%x)", n, len(b), err, b)
	}
	return f.Command
}

func TestOutgoingCommandsMatchGenerated(t *testing.T) {
	epoch := uint64(9)
	cases := []struct {
		name  string
		frame []byte
		want  *pb.BaseCommand
	}{
		{"connect", appendConnect(nil, "", nil, ""), &pb.BaseCommand{Type: pb.BaseCommand_CONNECT.Enum(), Connect: &pb.CommandConnect{
			ClientVersion: proto.String(ClientVersion), ProtocolVersion: proto.Int32(21),
			FeatureFlags: &pb.FeatureFlags{SupportsAuthRefresh: proto.Bool(true)}}}},
		{"connect with a token, through a proxy", appendConnect(nil, "token", []byte("secret"), "broker-2:6651"), &pb.BaseCommand{
			Type: pb.BaseCommand_CONNECT.Enum(), Connect: &pb.CommandConnect{
				ClientVersion: proto.String(ClientVersion), ProtocolVersion: proto.Int32(21), AuthMethodName: proto.String("token"),
				AuthData: []byte("secret"), ProxyToBrokerUrl: proto.String("broker-2:6651"),
				FeatureFlags: &pb.FeatureFlags{SupportsAuthRefresh: proto.Bool(true)}}}},
		{"ping", appendPing(nil), &pb.BaseCommand{Type: pb.BaseCommand_PING.Enum(), Ping: &pb.CommandPing{}}},
		{"pong", appendPong(nil), &pb.BaseCommand{Type: pb.BaseCommand_PONG.Enum(), Pong: &pb.CommandPong{}}},
		{"auth response", appendAuthResponse(nil, "", nil), &pb.BaseCommand{Type: pb.BaseCommand_AUTH_RESPONSE.Enum(), AuthResponse: &pb.CommandAuthResponse{
			ClientVersion: proto.String(ClientVersion), ProtocolVersion: proto.Int32(21),
			Response: &pb.AuthData{AuthMethodName: proto.String("none")}}}},
		{"auth response with a token", appendAuthResponse(nil, "token", []byte("fresh")), &pb.BaseCommand{Type: pb.BaseCommand_AUTH_RESPONSE.Enum(), AuthResponse: &pb.CommandAuthResponse{
			ClientVersion: proto.String(ClientVersion), ProtocolVersion: proto.Int32(21),
			Response: &pb.AuthData{AuthMethodName: proto.String("token"), AuthData: []byte("fresh")}}}},
		{"partitioned metadata", appendPartitionedMetadata(nil, "persistent://a/b/c", 7), &pb.BaseCommand{
			Type:              pb.BaseCommand_PARTITIONED_METADATA.Enum(),
			PartitionMetadata: &pb.CommandPartitionedTopicMetadata{Topic: proto.String("persistent://a/b/c"), RequestId: proto.Uint64(7)}}},
		{"lookup", appendLookup(nil, "persistent://a/b/c", 1<<40, true, "internal"), &pb.BaseCommand{
			Type: pb.BaseCommand_LOOKUP.Enum(), LookupTopic: &pb.CommandLookupTopic{Topic: proto.String("persistent://a/b/c"),
				RequestId: proto.Uint64(1 << 40), Authoritative: proto.Bool(true), AdvertisedListenerName: proto.String("internal")}}},
		{"producer, every field", appendProducer(nil, &producerCmd{topic: "t", producerID: 3, requestID: 4, name: "me",
			userProvidedName: true, epoch: 2, accessMode: AccessExclusiveWithFencing, topicEpoch: &epoch,
			properties: map[string]string{"b": "2", "a": "1"}}), &pb.BaseCommand{Type: pb.BaseCommand_PRODUCER.Enum(), Producer: &pb.CommandProducer{
			Topic: proto.String("t"), ProducerId: proto.Uint64(3), RequestId: proto.Uint64(4), ProducerName: proto.String("me"),
			Metadata: []*pb.KeyValue{{Key: proto.String("a"), Value: proto.String("1")}, {Key: proto.String("b"), Value: proto.String("2")}},
			Epoch:    proto.Uint64(2), UserProvidedProducerName: proto.Bool(true),
			ProducerAccessMode: pb.ProducerAccessMode_ExclusiveWithFencing.Enum(), TopicEpoch: proto.Uint64(9)}}},
		{"producer, broker-named", appendProducer(nil, &producerCmd{topic: "t", producerID: 3, requestID: 4}), &pb.BaseCommand{
			Type: pb.BaseCommand_PRODUCER.Enum(), Producer: &pb.CommandProducer{Topic: proto.String("t"), ProducerId: proto.Uint64(3),
				RequestId: proto.Uint64(4), Epoch: proto.Uint64(0), UserProvidedProducerName: proto.Bool(false)}}},
		{"close producer", appendCloseProducer(nil, 5, 6), &pb.BaseCommand{Type: pb.BaseCommand_CLOSE_PRODUCER.Enum(),
			CloseProducer: &pb.CommandCloseProducer{ProducerId: proto.Uint64(5), RequestId: proto.Uint64(6)}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := decodeFrame(t, c.frame); !proto.Equal(got, c.want) {
				t.Fatalf("got  %v\nwant %v", got, c.want)
			}
		})
	}
}

func marshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.MarshalOptions{AllowPartial: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestIncomingCommandsMatchGenerated(t *testing.T) {
	conn, err := decodeConnected(marshal(t, &pb.CommandConnected{ServerVersion: proto.String("Pulsar 4"), ProtocolVersion: proto.Int32(21), MaxMessageSize: proto.Int32(1 << 20),
		FeatureFlags: &pb.FeatureFlags{SupportsAuthRefresh: proto.Bool(true)}}))
	if err != nil || conn != (connectedCmd{"Pulsar 4", 21, 1 << 20}) {
		t.Fatalf("CONNECTED: %+v %v", conn, err)
	}
	meta, err := decodeMetadataResponse(marshal(t, &pb.CommandPartitionedTopicMetadataResponse{Partitions: proto.Uint32(12), RequestId: proto.Uint64(3)}))
	if err != nil || meta.partitions != 12 || meta.requestID != 3 || meta.failed {
		t.Fatalf("PARTITIONED_METADATA_RESPONSE: %+v %v", meta, err)
	}
	meta, _ = decodeMetadataResponse(marshal(t, &pb.CommandPartitionedTopicMetadataResponse{RequestId: proto.Uint64(3),
		Response: pb.CommandPartitionedTopicMetadataResponse_Failed.Enum(), Error: pb.ServerError_TopicNotFound.Enum(), Message: proto.String("gone")}))
	if !meta.failed || meta.err != seTopicNotFound || meta.message != "gone" {
		t.Fatalf("failed metadata: %+v", meta)
	}
	look, err := decodeLookupResponse(marshal(t, &pb.CommandLookupTopicResponse{BrokerServiceUrl: proto.String("pulsar://b:1"),
		BrokerServiceUrlTls: proto.String("pulsar+ssl://b:2"), Response: pb.CommandLookupTopicResponse_Redirect.Enum(),
		RequestId: proto.Uint64(8), Authoritative: proto.Bool(true), ProxyThroughServiceUrl: proto.Bool(true)}))
	if err != nil || look.brokerURL != "pulsar://b:1" || look.brokerURLTLS != "pulsar+ssl://b:2" || !look.proxyThrough || look.response != lookupRedirect || look.requestID != 8 || !look.authoritative {
		t.Fatalf("LOOKUP_RESPONSE: %+v %v", look, err)
	}
	ps, err := decodeProducerSuccess(marshal(t, &pb.CommandProducerSuccess{RequestId: proto.Uint64(4), ProducerName: proto.String("p-1")}))
	if err != nil || ps.requestID != 4 || ps.name != "p-1" || ps.lastSeq != -1 || !ps.ready || ps.topicEpoch != nil {
		t.Fatalf("PRODUCER_SUCCESS defaults: %+v %v", ps, err)
	}
	ps, _ = decodeProducerSuccess(marshal(t, &pb.CommandProducerSuccess{RequestId: proto.Uint64(4), ProducerName: proto.String("p-1"),
		LastSequenceId: proto.Int64(77), TopicEpoch: proto.Uint64(5), ProducerReady: proto.Bool(false), SchemaVersion: []byte{1}}))
	if ps.lastSeq != 77 || ps.ready || ps.topicEpoch == nil || *ps.topicEpoch != 5 {
		t.Fatalf("PRODUCER_SUCCESS: %+v", ps)
	}
	resp, err := decodeResponse(marshal(t, &pb.CommandError{RequestId: proto.Uint64(9), Error: pb.ServerError_ProducerFenced.Enum(), Message: proto.String("fenced")}))
	if err != nil || resp.requestID != 9 || resp.err != seProducerFenced || resp.message != "fenced" {
		t.Fatalf("ERROR: %+v %v", resp, err)
	}
	if resp, err = decodeResponse(marshal(t, &pb.CommandSuccess{RequestId: proto.Uint64(10)})); err != nil || resp.requestID != 10 {
		t.Fatalf("SUCCESS: %+v %v", resp, err)
	}
	se, err := decodeSendError(marshal(t, &pb.CommandSendError{ProducerId: proto.Uint64(1), SequenceId: proto.Uint64(2),
		Error: pb.ServerError_NotAllowedError.Enum(), Message: proto.String("no")}))
	if err != nil || se != (sendErrorCmd{1, 2, seNotAllowedError, "no"}) {
		t.Fatalf("SEND_ERROR: %+v %v", se, err)
	}
	cp, err := decodeRedirect(marshal(t, &pb.CommandCloseProducer{ProducerId: proto.Uint64(6), RequestId: proto.Uint64(7),
		AssignedBrokerServiceUrl: proto.String("pulsar://x:1")}), 0)
	if err != nil || cp.id != 6 || cp.brokerURL != "pulsar://x:1" {
		t.Fatalf("CLOSE_PRODUCER: %+v %v", cp, err)
	}
	tm, err := decodeRedirect(marshal(t, &pb.CommandTopicMigrated{ResourceId: proto.Uint64(6),
		ResourceType: pb.CommandTopicMigrated_Consumer.Enum(), BrokerServiceUrl: proto.String("pulsar://y:1")}), 2)
	if err != nil || tm.id != 6 || tm.resourceType != 1 || tm.brokerURL != "pulsar://y:1" {
		t.Fatalf("TOPIC_MIGRATED: %+v %v", tm, err)
	}
	if _, err := decodeResponse(marshal(t, &pb.CommandSuccess{})); err == nil {
		t.Fatal("a reply without a request ID decoded")
	}
}

func TestDecodeCommandFindsTheBodyInAnyOrder(t *testing.T) {
	body := marshal(t, &pb.CommandSuccess{RequestId: proto.Uint64(3)})
	// Body first, type last, with an unrelated field between.
	b := appendBytesField(nil, 13, body)
	b = appendVarintField(b, 999, 5)
	b = appendVarintField(b, 1, 13)
	typ, got, err := decodeCommand(b)
	if err != nil || typ != cmdSuccess || string(got) != string(body) {
		t.Fatalf("decodeCommand: %v %x %v", typ, got, err)
	}
	for _, bad := range [][]byte{nil, {0x08}, appendVarintField(nil, 2, 1)} {
		if _, _, err := decodeCommand(bad); err == nil {
			t.Errorf("decodeCommand(%x) succeeded", bad)
		}
	}
}

func TestServerErrorNamesMatchGenerated(t *testing.T) {
	for v, name := range pb.ServerError_name {
		if got := serverError(v).String(); got != name {
			t.Errorf("ServerError %d: %s, generated code says %s", v, got, name)
		}
	}
	for v, name := range pb.BaseCommand_Type_name {
		if got := cmdType(v).String(); got != name {
			t.Errorf("command type %d: %s, generated code says %s", v, got, name)
		}
	}
	if len(cmdNames) != len(pb.BaseCommand_Type_name) {
		t.Errorf("%d command names, the protocol has %d", len(cmdNames), len(pb.BaseCommand_Type_name))
	}
}
