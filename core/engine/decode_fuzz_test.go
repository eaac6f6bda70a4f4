// Fuzz targets for everything the engine reads from outside: frames and
// commands from the broker, option JSON and key/value text from the
// bindings, service URLs and topic names from the user.
//
// How this works: each target checks properties that must hold for every
// input, not only "no panic":
//
//   - the frame parser consumes exactly the announced size, slices the
//     command, metadata and payload out of the input without copying,
//     accepts a payload section only with a matching CRC32C, and allocates
//     at most a few KiB whatever the length prefix claims (allocBytes
//     measures the heap around one call with runtime.MemStats);
//   - the hand-written command decoders agree with the generated protobuf
//     code (internal/pb) on every field the engine reads, whenever both
//     accept the bytes;
//   - options that parse are written back by AppendOptionsJSON and read
//     again to the same values;
//   - a service URL or topic that parses normalises to a form that parses
//     to itself.
//
// Seeds are added with f.Add below and committed under
// testdata/fuzz/<target>; `make fuzz` runs each target for a set time.
// TestHostileLengthPrefixes checks the allocation bound deterministically,
// through the whole receive path, in every `go test` run.
package engine

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/pulsar-producer/pulsar-producer/internal/pb"
)

// allocBytes reports the heap bytes allocated while f runs: the least of
// three runs, since the counter is the process's and a fuzzing worker's own
// goroutines allocate now and then. An allocation that f makes in
// proportion to its input shows in every run.
func allocBytes(f func()) uint64 {
	least := uint64(1<<64 - 1)
	for range 3 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		least = min(least, after.TotalAlloc-before.TotalAlloc)
	}
	return least
}

// parseAllocLimit bounds what one parseFrame call may allocate: an error
// message, never anything sized by the input.
const parseAllocLimit = 4 << 10

func frameSeeds() [][]byte {
	receipt := appendCommand(nil, &pb.BaseCommand{Type: pb.BaseCommand_SEND_RECEIPT.Enum(), SendReceipt: &pb.CommandSendReceipt{
		ProducerId: proto.Uint64(1), SequenceId: proto.Uint64(7), HighestSequenceId: proto.Uint64(9),
		MessageId: &pb.MessageIdData{LedgerId: proto.Uint64(12), EntryId: proto.Uint64(34)}}})
	ping := appendCommand(nil, &pb.BaseCommand{Type: pb.BaseCommand_PING.Enum(), Ping: &pb.CommandPing{}})
	msg := rawFrame(&pb.BaseCommand{Type: pb.BaseCommand_MESSAGE.Enum()}, []byte{8, 1}, []byte("payload"), false)
	bad := rawFrame(&pb.BaseCommand{Type: pb.BaseCommand_MESSAGE.Enum()}, []byte{8, 1}, []byte("payload"), true)
	return [][]byte{
		receipt, ping, msg, bad,
		append(append([]byte{}, receipt...), ping...), // two frames back to back
		receipt[:len(receipt)-1],                      // cut short
		{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 2, 8, 18},   // hostile length prefix
		{0x00, 0x50, 0x28, 0x01, 0, 0, 0, 2, 8, 18},   // just over the default limit
		{0x00, 0x50, 0x28, 0x00, 0, 0, 0, 2, 8, 18},   // at the limit, body missing
		{0, 0, 0, 6, 0xff, 0xff, 0xff, 0xff, 8, 18},   // command size overruns the frame
		{0, 0, 0, 6, 0, 0, 0, 0, 8, 18},               // empty command
		{0, 0, 0, 2, 0, 0},                            // too short for a command
	}
}

func FuzzParseFrame(f *testing.F) {
	for _, s := range frameSeeds() {
		f.Add(s, uint32(0))
	}
	f.Add([]byte{0, 0, 0, 6, 0, 0, 0, 2, 8, 18}, uint32(5))
	f.Fuzz(func(t *testing.T, data []byte, limit uint32) {
		maxFrame := DefaultMaxMessageSize + frameSlack
		if limit != 0 {
			maxFrame = int(limit % (64 << 20))
		}
		var fr frame
		var n int
		var err error
		if a := allocBytes(func() { fr, n, err = parseFrame(data, maxFrame) }); a > parseAllocLimit {
			t.Fatalf("parseFrame allocated %d bytes for a %d-byte input", a, len(data))
		}
		if err != nil {
			if n != 0 {
				t.Fatalf("error %v with n=%d", err, n)
			}
			if c := CodeOf(err); c != CodeProtocolError && c != CodeChecksumError {
				t.Fatalf("error of code %v: %v", c, err)
			}
			return
		}
		if n == 0 {
			if len(data) >= 4 && uint64(binary.BigEndian.Uint32(data))+4 <= uint64(len(data)) {
				t.Fatalf("a whole frame of %d bytes is there, yet nothing was parsed", binary.BigEndian.Uint32(data))
			}
			return
		}
		total := int(binary.BigEndian.Uint32(data))
		if n != 4+total || n > len(data) || total > maxFrame {
			t.Fatalf("consumed %d bytes of %d; the prefix says %d, the limit is %d", n, len(data), total, maxFrame)
		}
		if len(fr.cmd) == 0 || !bytes.Equal(fr.cmd, data[8:8+len(fr.cmd)]) {
			t.Fatalf("command %x is not the bytes after the sizes", fr.cmd)
		}
		used := 8 + len(fr.cmd)
		if fr.meta != nil {
			rest := data[used:n]
			if crc32.Checksum(rest[6:], crcTable) != binary.BigEndian.Uint32(rest[2:]) {
				t.Fatal("a payload section with a wrong checksum was accepted")
			}
			if !bytes.Equal(fr.meta, rest[10:10+len(fr.meta)]) || !bytes.Equal(fr.payload, rest[10+len(fr.meta):]) {
				t.Fatal("metadata or payload are not the frame's bytes")
			}
			used += 10 + len(fr.meta) + len(fr.payload)
		}
		if used != n {
			t.Fatalf("the parts cover %d bytes of a %d-byte frame", used, n)
		}
	})
}

// TestHostileLengthPrefixes feeds a ready connection frames whose length
// prefix claims far more than arrives (up to 4 GiB): the engine must
// refuse what exceeds the limit, wait for the rest of what does not, and
// allocate only in proportion to the bytes that actually arrived.
func TestHostileLengthPrefixes(t *testing.T) {
	for _, prefix := range []uint32{0xffffffff, 0x80000000, DefaultMaxMessageSize + frameSlack + 1, DefaultMaxMessageSize + frameSlack, 1 << 20} {
		h := newHarness(t, ClientOptions{})
		_, conn := h.ready(ProducerOptions{})
		in := binary.BigEndian.AppendUint32(nil, prefix)
		in = append(in, 0, 0, 0, 2, 8, 18)
		in = append(in, make([]byte, 1000)...)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		h.e.Receive(conn, in, h.now) // once: it changes the connection's state
		runtime.ReadMemStats(&after)
		a := after.TotalAlloc - before.TotalAlloc
		// What arrived may be kept until the rest comes: twice its size
		// plus a little room for an error and a log record.
		if limit := uint64(2*len(in) + 16<<10); a > limit {
			t.Errorf("prefix %d: receiving %d bytes allocated %d bytes (limit %d)", prefix, len(in), a, limit)
		}
		h.drain()
		closed := false
		for _, ev := range h.takeEvents() {
			closed = closed || ev.Kind == EventConnClosed
		}
		if tooBig := uint64(prefix) > uint64(DefaultMaxMessageSize+frameSlack); closed != tooBig {
			t.Errorf("prefix %d: connection closed %v, want %v", prefix, closed, tooBig)
		}
		if a := allocBytes(func() { _, _, _ = parseFrame(in, DefaultMaxMessageSize+frameSlack) }); a > parseAllocLimit {
			t.Errorf("prefix %d: parseFrame allocated %d bytes", prefix, a)
		}
	}
}

func commandSeeds() [][]byte {
	cmds := []*pb.BaseCommand{
		{Type: pb.BaseCommand_CONNECTED.Enum(), Connected: &pb.CommandConnected{ServerVersion: proto.String("4.0.8"),
			ProtocolVersion: proto.Int32(21), MaxMessageSize: proto.Int32(5 << 20)}},
		{Type: pb.BaseCommand_PARTITIONED_METADATA_RESPONSE.Enum(), PartitionMetadataResponse: &pb.CommandPartitionedTopicMetadataResponse{
			RequestId: proto.Uint64(3), Partitions: proto.Uint32(4)}},
		{Type: pb.BaseCommand_LOOKUP_RESPONSE.Enum(), LookupTopicResponse: &pb.CommandLookupTopicResponse{RequestId: proto.Uint64(4),
			BrokerServiceUrl: proto.String("pulsar://b:6650"), Response: pb.CommandLookupTopicResponse_Redirect.Enum(), Authoritative: proto.Bool(true)}},
		{Type: pb.BaseCommand_PRODUCER_SUCCESS.Enum(), ProducerSuccess: &pb.CommandProducerSuccess{RequestId: proto.Uint64(5),
			ProducerName: proto.String("p"), LastSequenceId: proto.Int64(99), TopicEpoch: proto.Uint64(2)}},
		{Type: pb.BaseCommand_SUCCESS.Enum(), Success: &pb.CommandSuccess{RequestId: proto.Uint64(6)}},
		{Type: pb.BaseCommand_ERROR.Enum(), Error: &pb.CommandError{RequestId: proto.Uint64(7), Error: pb.ServerError_ServiceNotReady.Enum(),
			Message: proto.String("not ready")}},
		{Type: pb.BaseCommand_SEND_ERROR.Enum(), SendError: &pb.CommandSendError{ProducerId: proto.Uint64(1), SequenceId: proto.Uint64(2),
			Error: pb.ServerError_PersistenceError.Enum(), Message: proto.String("bk")}},
		{Type: pb.BaseCommand_CLOSE_PRODUCER.Enum(), CloseProducer: &pb.CommandCloseProducer{ProducerId: proto.Uint64(1),
			RequestId: proto.Uint64(8), AssignedBrokerServiceUrl: proto.String("pulsar://c:6650")}},
		{Type: pb.BaseCommand_TOPIC_MIGRATED.Enum(), TopicMigrated: &pb.CommandTopicMigrated{ResourceId: proto.Uint64(1),
			ResourceType: pb.CommandTopicMigrated_Producer.Enum(), BrokerServiceUrl: proto.String("pulsar://d:6650")}},
		{Type: pb.BaseCommand_SEND_RECEIPT.Enum(), SendReceipt: &pb.CommandSendReceipt{ProducerId: proto.Uint64(1),
			SequenceId: proto.Uint64(10), HighestSequenceId: proto.Uint64(12),
			MessageId: &pb.MessageIdData{LedgerId: proto.Uint64(5), EntryId: proto.Uint64(6)}}},
		{Type: pb.BaseCommand_PING.Enum(), Ping: &pb.CommandPing{}},
	}
	var out [][]byte
	for _, c := range cmds {
		b, err := proto.Marshal(c)
		if err != nil {
			panic(err)
		}
		out = append(out, b)
	}
	return append(out, []byte{}, []byte{8}, []byte{8, 7, 58, 0xff, 0xff, 0xff, 0xff, 0x0f})
}

// pbBody decodes a command body with the generated code.
func pbBody(body []byte, m proto.Message) bool {
	return proto.UnmarshalOptions{AllowPartial: true}.Unmarshal(body, m) == nil
}

func FuzzDecodeCommand(f *testing.F) {
	for _, s := range commandSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		typ, body, err := decodeCommand(data)
		if a := allocBytes(func() { _, _, _ = decodeCommand(data) }); a > parseAllocLimit {
			t.Fatalf("decodeCommand allocated %d bytes", a)
		}
		var want pb.BaseCommand
		pbOK := proto.UnmarshalOptions{AllowPartial: true}.Unmarshal(data, &want) == nil
		if err != nil {
			return
		}
		if _, known := cmdNames[typ]; known && pbOK && int32(typ) != int32(want.GetType()) {
			t.Fatalf("type %d, the generated code says %v", typ, want.GetType())
		}
		if ptyp, pbody, ok := peekCommandType(data); ok && (ptyp != typ || typ == cmdSendReceipt && !bytes.Equal(pbody, body)) {
			t.Fatalf("peekCommandType says %d %x, decodeCommand %d %x", ptyp, pbody, typ, body)
		}
		mismatch := func(what string, got, exp any) {
			if !reflect.DeepEqual(got, exp) {
				t.Fatalf("%s: %s is %#v, the generated code says %#v", cmdNames[typ], what, got, exp)
			}
		}
		switch typ {
		case cmdConnected:
			m, err := decodeConnected(body)
			var w pb.CommandConnected
			if err == nil && pbBody(body, &w) {
				mismatch("server version", m.serverVersion, w.GetServerVersion())
				mismatch("protocol version", m.protocolVersion, w.GetProtocolVersion())
				mismatch("max message size", m.maxMessageSize, w.GetMaxMessageSize())
			}
		case cmdPartitionedMetadataResponse:
			m, err := decodeMetadataResponse(body)
			var w pb.CommandPartitionedTopicMetadataResponse
			if err == nil && pbBody(body, &w) {
				mismatch("partitions", m.partitions, w.GetPartitions())
				mismatch("request id", m.requestID, w.GetRequestId())
				mismatch("message", m.message, w.GetMessage())
			}
		case cmdLookupResponse:
			m, err := decodeLookupResponse(body)
			var w pb.CommandLookupTopicResponse
			if err == nil && pbBody(body, &w) {
				mismatch("broker URL", m.brokerURL, w.GetBrokerServiceUrl())
				mismatch("TLS broker URL", m.brokerURLTLS, w.GetBrokerServiceUrlTls())
				mismatch("request id", m.requestID, w.GetRequestId())
				mismatch("authoritative", m.authoritative, w.GetAuthoritative())
				mismatch("proxy through", m.proxyThrough, w.GetProxyThroughServiceUrl())
				mismatch("message", m.message, w.GetMessage())
			}
		case cmdProducerSuccess:
			m, err := decodeProducerSuccess(body)
			var w pb.CommandProducerSuccess
			if err == nil && pbBody(body, &w) {
				mismatch("request id", m.requestID, w.GetRequestId())
				mismatch("name", m.name, w.GetProducerName())
				mismatch("last sequence id", m.lastSeq, w.GetLastSequenceId())
				mismatch("ready", m.ready, w.GetProducerReady())
				mismatch("has topic epoch", m.topicEpoch != nil, w.TopicEpoch != nil)
				if m.topicEpoch != nil {
					mismatch("topic epoch", *m.topicEpoch, w.GetTopicEpoch())
				}
			}
		case cmdSuccess, cmdError:
			m, err := decodeResponse(body)
			var w pb.CommandError // SUCCESS shares field 1; its field 2 is a schema, read by neither
			if err == nil && typ == cmdError && pbBody(body, &w) {
				mismatch("request id", m.requestID, w.GetRequestId())
				mismatch("message", m.message, w.GetMessage())
			}
		case cmdSendError:
			m, err := decodeSendError(body)
			var w pb.CommandSendError
			if err == nil && pbBody(body, &w) {
				mismatch("producer id", m.producerID, w.GetProducerId())
				mismatch("sequence id", m.seq, int64(w.GetSequenceId()))
				mismatch("message", m.message, w.GetMessage())
			}
		case cmdCloseProducer:
			m, err := decodeRedirect(body, 2)
			var w pb.CommandCloseProducer
			if err == nil && pbBody(body, &w) {
				mismatch("producer id", m.id, w.GetProducerId())
				mismatch("broker URL", m.brokerURL, w.GetAssignedBrokerServiceUrl())
				mismatch("TLS broker URL", m.brokerURLTLS, w.GetAssignedBrokerServiceUrlTls())
			}
		case cmdTopicMigrated:
			m, err := decodeRedirect(body, 2)
			var w pb.CommandTopicMigrated
			if err == nil && pbBody(body, &w) {
				mismatch("resource id", m.id, w.GetResourceId())
				mismatch("broker URL", m.brokerURL, w.GetBrokerServiceUrl())
				mismatch("TLS broker URL", m.brokerURLTLS, w.GetBrokerServiceUrlTls())
			}
		case cmdSendReceipt:
			checkReceipt(t, body)
		}
	})
}

// checkReceipt compares decodeReceipt with the generated code.
func checkReceipt(t *testing.T, body []byte) {
	rc, err := decodeReceipt(body)
	var w pb.CommandSendReceipt
	pbOK := pbBody(body, &w)
	if err != nil || !pbOK {
		return
	}
	got := []int64{int64(rc.producerID), rc.seq, rc.highestSeq}
	want := []int64{int64(w.GetProducerId()), int64(w.GetSequenceId()), int64(w.GetHighestSequenceId())}
	if w.MessageId != nil {
		// Without a ledger id the receipt carries no ID the engine uses.
		if rc.hasID != (w.MessageId.LedgerId != nil) {
			t.Fatalf("receipt has an ID: %v, the generated code: %v", rc.hasID, w.MessageId.LedgerId != nil)
		}
		got = append(got, rc.ledgerID, rc.entryID)
		want = append(want, int64(w.MessageId.GetLedgerId()), int64(w.MessageId.GetEntryId()))
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("receipt decodes to %v, the generated code says %v", got, want)
	}
}

func FuzzDecodeReceipt(f *testing.F) {
	for _, s := range commandSeeds() {
		if typ, body, err := decodeCommand(s); err == nil && typ == cmdSendReceipt {
			f.Add(body)
		}
	}
	f.Add([]byte{8, 1, 16, 2, 26, 4, 8, 3, 16, 4, 32, 5})
	f.Add([]byte{8, 1, 16, 2, 26, 0xff, 0xff, 0xff, 0xff, 0x0f}) // a message_id claiming 4 GiB
	f.Add([]byte{8, 1})
	f.Fuzz(func(t *testing.T, body []byte) {
		if a := allocBytes(func() { _, _ = decodeReceipt(body) }); a > parseAllocLimit {
			t.Fatalf("decodeReceipt allocated %d bytes", a)
		}
		checkReceipt(t, body)
	})
}

func FuzzParseOptionsJSON(f *testing.F) {
	for _, s := range []string{
		`{}`, ``, `null`, `[]`, `{"memoryLimitBytes": 1048576, "logLevel": "info"}`,
		`{"producerName": "p", "sendTimeout": -1, "properties": {"a": "b", "c": "\u00e9"}}`,
		`{"batchingMaxMessages": 1000, "batchingMaxMessages": 5}`, `{"compressionType": "zstd", "accessMode": "exclusive"}`,
		`{"keepAliveInterval": 999}`, `{"connectionTimeout": 1.5}`, `{"blockIfQueueFull": true, "maxPendingMessages": 0}`,
		`{"initialSequenceId": -1, "routingMode": "singlePartition", "hashingScheme": "murmur3_32Hash"}`,
		`{"listenerName": "external", "maxLookupRedirects": 1000, "operationTimeout": 9223372036854775807}`,
		`{"a": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`,
		`{"producerName": "\ud800"}`, `{"x": 1e999999}`, `{"memoryLimitBytes": -0}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var c ClientOptions
		var p ProducerOptions
		var err error
		// The parser builds a tree of the input: bounded by its size.
		if a := allocBytes(func() { err = ParseOptionsJSON(data, &c, &p) }); a > uint64(64*len(data))+(64<<10) {
			t.Fatalf("parsing %d bytes of options allocated %d bytes", len(data), a)
		}
		if err != nil {
			if CodeOf(err) != CodeInvalidConfiguration {
				t.Fatalf("error of code %v: %v", CodeOf(err), err)
			}
			return
		}
		// What parses is written back and reads the same.
		var out []byte
		for _, scope := range []Scope{ScopeClient, ScopeProducer} {
			b, err := AppendOptionsJSON(nil, scope, &c, &p)
			if err != nil {
				t.Fatalf("writing back %s options parsed from %q: %v", scope, data, err)
			}
			if len(b) > 0 {
				if len(out) > 0 {
					out = append(out[:len(out)-1], ',')
					b = b[1:]
				}
				out = append(out, b...)
			}
		}
		var c2 ClientOptions
		var p2 ProducerOptions
		if err := ParseOptionsJSON(out, &c2, &p2); err != nil {
			t.Fatalf("%q (written back from %q) does not parse: %v", out, data, err)
		}
		if !reflect.DeepEqual(c, c2) || !reflect.DeepEqual(normalProps(p), normalProps(p2)) {
			t.Fatalf("round trip changed the options:\n%q\n%q\n%+v\n%+v\n%+v\n%+v", data, out, c, c2, p, p2)
		}
		// Resolution checks ranges again; it must not panic either way.
		_, _, _ = ResolveClientOptions(c)
		_, _ = ResolveProducerOptions(p)
	})
}

// normalProps treats an empty properties map as none: both mean "no
// properties" and are written back alike.
func normalProps(p ProducerOptions) ProducerOptions {
	if len(p.Properties) == 0 {
		p.Properties = nil
	}
	return p
}

func FuzzSetOption(f *testing.F) {
	for _, kv := range [][2]string{
		{"memoryLimitBytes", "1048576"}, {"sendTimeout", "-1"}, {"blockIfQueueFull", "yes"}, {"properties", `{"a":"b"}`},
		{"compressionType", "lz4"}, {"batchingMaxMessages", " 12 "}, {"batching_max_messages", "1"}, {"logLevel", "loud"},
		{"keepAliveInterval", "1000"}, {"properties", `{"a":1}`}, {"unknown", "1"}, {"initialSequenceId", "-2"},
	} {
		f.Add(kv[0], kv[1])
	}
	f.Fuzz(func(t *testing.T, name, value string) {
		var c ClientOptions
		var p ProducerOptions
		err := SetOption(name, value, &c, &p)
		if err != nil && CodeOf(err) != CodeInvalidConfiguration {
			t.Fatalf("SetOption(%q, %q): error of code %v: %v", name, value, CodeOf(err), err)
		}
		if err == nil {
			if _, ok := FindOption(name); !ok {
				t.Fatalf("SetOption accepted the unknown option %q", name)
			}
		}
	})
}

func FuzzParseServiceURL(f *testing.F) {
	for _, s := range []string{
		"pulsar://127.0.0.1:6650", "pulsar://a:1,b:2,[::1]:6650", "pulsar+ssl://broker", "PULSAR://x/", "http://x:8080",
		"pulsar://", "pulsar://a:0", "pulsar://a:65536", "pulsar://[::1", "pulsar://a b", "pulsar://a,,b", "pulsar://é:1",
		"pulsar://[fe80::1%25eth0]:6650", "pulsar://host:+1", "pulsar://:6650",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, u string) {
		addrs, tls, err := ParseServiceURL(u)
		if err != nil {
			if CodeOf(err) != CodeInvalidURL {
				t.Fatalf("%q: error of code %v: %v", u, CodeOf(err), err)
			}
			return
		}
		if len(addrs) == 0 {
			t.Fatalf("%q parsed to no address", u)
		}
		// The addresses, written as a URL again, parse to themselves.
		scheme := "pulsar://"
		if tls {
			scheme = "pulsar+ssl://"
		}
		again, tls2, err := ParseServiceURL(scheme + strings.Join(addrs, ","))
		if err != nil || tls2 != tls || !reflect.DeepEqual(again, addrs) {
			t.Fatalf("%q -> %v -> %v %v %v", u, addrs, again, tls2, err)
		}
		for _, a := range addrs {
			if a == "" || strings.ContainsAny(a, "/ ,") {
				t.Fatalf("%q: address %q", u, a)
			}
		}
	})
}

func FuzzParseTopic(f *testing.F) {
	for _, s := range []string{
		"t", "public/default/t", "persistent://public/default/t", "non-persistent://a/b/c", "persistent://a/cluster/b/c",
		"t-partition-3", "persistent://a/b/c-partition-", "persistent://a/b/c-partition-99999999999", "a/b", "x://a/b/c",
		"persistent://a//c", "tab\there", "\xff", "persistent://a/b/c/d/e",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tn, err := parseTopic(s)
		if err != nil {
			if CodeOf(err) != CodeInvalidTopicName {
				t.Fatalf("%q: error of code %v: %v", s, CodeOf(err), err)
			}
			return
		}
		if !strings.HasPrefix(tn.full, "persistent://") && !strings.HasPrefix(tn.full, "non-persistent://") {
			t.Fatalf("%q -> %q has no domain", s, tn.full)
		}
		again, err := parseTopic(tn.full)
		if err != nil || again != tn {
			t.Fatalf("%q -> %+v -> %+v %v", s, tn, again, err)
		}
		if tn.partition < 0 {
			// A partition's name parses as that partition.
			p, err := parseTopic(partitionTopic(tn.full, 3))
			if err != nil || p.partition != 3 {
				t.Fatalf("partition 3 of %q: %+v %v", tn.full, p, err)
			}
		}
	})
}
