// Schemas: the option's parsing and checks, the Schema in PRODUCER (read
// back with the generated protobuf code), the schema version stamped on
// messages, IncompatibleSchema, and value encodings against byte vectors
// of the Java client's formats.
package engine

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/pulsar-producer/pulsar-producer/internal/pb"
)

const userAvro = `{"type":"record","name":"User","namespace":"example","fields":[{"name":"name","type":"string"},{"name":"age","type":["null","int"],"default":null}]}`

func TestSchemaOptionParsing(t *testing.T) {
	var p ProducerOptions
	if err := ParseOptionsJSON([]byte(`{"schema":"string"}`), nil, &p); err != nil || p.Schema.Type != SchemaString {
		t.Fatalf("type name alone: %v %+v", err, p.Schema)
	}
	p = ProducerOptions{}
	js := `{"schema":{"type":"KEY_VALUE","keyValueEncoding":"separated","key":"INT32","value":{"type":"JSON","name":"user","definition":` +
		string(appendJSONString(nil, userAvro)) + `,"properties":{"a":"b"}}}}`
	if err := ParseOptionsJSON([]byte(js), nil, &p); err != nil {
		t.Fatal(err)
	}
	s := p.Schema
	if s.Type != SchemaKeyValue || s.KeyValueEncoding != KeyValueSeparated || s.Key.Type != SchemaInt32 ||
		s.Value.Type != SchemaJSON || s.Value.Definition != userAvro || s.Value.Properties["a"] != "b" || s.Value.Name != "user" {
		t.Fatalf("parsed %+v / %+v / %+v", s, s.Key, s.Value)
	}
	// Written back and read again, it is the same.
	out, err := AppendOptionsJSON(nil, ScopeProducer, nil, &p)
	if err != nil {
		t.Fatal(err)
	}
	var q ProducerOptions
	if err := ParseOptionsJSON(out, nil, &q); err != nil || q.Schema.Value.Definition != userAvro || q.Schema.KeyValueEncoding != KeyValueSeparated {
		t.Fatalf("round trip of %s: %v", out, err)
	}
	// The key/value form takes a type name or a JSON object.
	q = ProducerOptions{}
	if err := SetOption("schema", "INT64", nil, &q); err != nil || q.Schema.Type != SchemaInt64 {
		t.Fatalf("kv type name: %v", err)
	}
	if err := SetOption("schema", `{"type":"AVRO","definition":`+string(appendJSONString(nil, userAvro))+`}`, nil, &q); err != nil || q.Schema.Type != SchemaAvro {
		t.Fatalf("kv object: %v", err)
	}
}

func TestSchemaOptionErrors(t *testing.T) {
	for in, want := range map[string]string{
		`{"schema":"text"}`:                                                              `unknown schema type "text"`,
		`{"schema":7}`:                                                                   "must be a schema type name or an object",
		`{"schema":{"name":"x"}}`:                                                        `schema needs a "type"`,
		`{"schema":{"type":"STRING","defintion":"x"}}`:                                   `unknown member "defintion"`,
		`{"schema":{"type":"STRING","Key_Value_Encoding":"x"}}`:                          `did you mean "keyValueEncoding"?`,
		`{"schema":{"type":"STRING","definition":"x"}}`:                                  "a STRING schema has no definition",
		`{"schema":{"type":"AVRO"}}`:                                                     "needs a definition",
		`{"schema":{"type":"AVRO","definition":"{\"type\":"}}`:                           "the definition is not valid JSON",
		`{"schema":{"type":"JSON","definition":"{\"a\":1}"}}`:                            `has no "type"`,
		`{"schema":{"type":"AVRO","definition":"\"strin\""}}`:                            `"strin" is neither a primitive type nor a type defined before it`,
		`{"schema":{"type":"AVRO","definition":"{\"type\":\"record\",\"name\":\"R\"}"}}`: `needs "fields"`,
		`{"schema":{"type":"AVRO","definition":"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"a\",\"type\":\"int\"}]}"}}`: `field "a" is given twice`,
		`{"schema":{"type":"AVRO","definition":"[\"int\",\"int\"]"}}`:                                            "the union holds int twice",
		`{"schema":{"type":"AVRO","definition":"{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"A\"]}"}}`: `symbol "A" is given twice`,
		`{"schema":{"type":"AVRO","definition":"{\"type\":\"fixed\",\"name\":\"F\"}"}}`:                          `needs a non-negative integer "size"`,
		`{"schema":{"type":"AVRO","definition":"{\"type\":\"array\"}"}}`:                                         `an array needs "items"`,
		`{"schema":{"type":"AVRO","definition":"{\"type\":\"record\",\"name\":\"1R\",\"fields\":[]}"}}`:          `"1R" is not a valid Avro name`,
		`{"schema":{"type":"PROTOBUF_NATIVE","definition":"not json"}}`:                                          "the definition is not valid JSON",
		`{"schema":{"type":"KEY_VALUE","key":"STRING"}}`:                                                         "needs both a key and a value schema",
		`{"schema":{"type":"KEY_VALUE","key":"STRING","value":"KEY_VALUE"}}`:                                     "a KEY_VALUE half cannot be KEY_VALUE",
		`{"schema":{"type":"STRING","key":"STRING"}}`:                                                            "only a KEY_VALUE schema has key and value schemas",
		`{"schema":{"type":"KEY_VALUE","key":"STRING","value":"STRING","keyValueEncoding":"both"}}`:              "keyValueEncoding must be INLINE or SEPARATED",
		`{"schema":{"type":"STRING","keyValueEncoding":"SEPARATED"}}`:                                            "only a KEY_VALUE schema has a keyValueEncoding",
		`{"schema":{"type":"STRING","properties":{"a":1}}}`:                                                      `the value of "a" must be a string`,
		`{"schema":{"type":"STRING","name":"a","name":"b"}}`:                                                     `"name" is given twice`,
	} {
		p := ProducerOptions{Topic: "t"}
		err := ParseOptionsJSON([]byte(in), nil, &p)
		if err == nil {
			_, err = ResolveProducerOptions(p)
		}
		if err == nil || !strings.Contains(err.Error(), want) || CodeOf(err) != CodeInvalidConfiguration {
			t.Errorf("%s: got %v, want an InvalidConfiguration error with %q", in, err, want)
		}
	}
	// A valid Avro schema with references, namespaces and nesting passes.
	ok := `{"type":"record","name":"a.b.Outer","fields":[{"name":"in","type":{"type":"record","name":"Inner","fields":[{"name":"x","type":"long"}]}},` +
		`{"name":"again","type":"a.b.Inner"},{"name":"short","type":"Inner"},{"name":"e","type":{"type":"enum","name":"E","symbols":["X","Y"],"default":"X"}},` +
		`{"name":"m","type":{"type":"map","values":{"type":"array","items":"E"}}},{"name":"f","type":{"type":"fixed","name":"F","size":16}},` +
		`{"name":"u","type":["null","string","Inner",{"type":"array","items":"int"}]},{"name":"t","type":{"type":"long","logicalType":"timestamp-millis"}}]}`
	if _, err := ResolveProducerOptions(ProducerOptions{Topic: "t", Schema: &Schema{Type: SchemaAvro, Definition: ok}}); err != nil {
		t.Fatalf("valid Avro refused: %v", err)
	}
}

// readySchema walks a producer with schema s to ready, answering PRODUCER
// with schema version ver, and returns the PRODUCER command.
func readySchema(h *harness, s *Schema, ver []byte, opts ProducerOptions) (ProducerID, ConnID, *pb.CommandProducer) {
	h.t.Helper()
	opts.Topic, opts.Schema = "t", s
	id, err := h.e.CreateProducer(opts, h.now)
	if err != nil {
		h.t.Fatal(err)
	}
	conn := h.connect()
	h.answerMetadata(conn, 0)
	h.answerLookup(conn, "pulsar://broker:6650")
	req := h.expect(conn, pb.BaseCommand_PRODUCER).cmd.GetProducer()
	h.reply(conn, &pb.BaseCommand{Type: pb.BaseCommand_PRODUCER_SUCCESS.Enum(), ProducerSuccess: &pb.CommandProducerSuccess{
		RequestId: req.RequestId, ProducerName: proto.String("p"), LastSequenceId: proto.Int64(-1), SchemaVersion: ver}})
	h.expectEvent(EventProducerReady)
	return id, conn, req
}

func TestSchemaInProducerCommand(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	_, _, req := readySchema(h, &Schema{Type: SchemaAvro, Name: "users", Definition: userAvro, Properties: map[string]string{"owner": "me"}}, nil, ProducerOptions{})
	sc := req.GetSchema()
	if sc.GetType() != pb.Schema_Avro || sc.GetName() != "users" || string(sc.GetSchemaData()) != userAvro ||
		len(sc.GetProperties()) != 1 || sc.GetProperties()[0].GetKey() != "owner" || sc.GetProperties()[0].GetValue() != "me" {
		t.Fatalf("schema %v", sc)
	}
	// A schema without a name is registered under its type's name.
	h = newHarness(t, ClientOptions{})
	if _, _, req = readySchema(h, &Schema{Type: SchemaLocalDateTime}, nil, ProducerOptions{}); req.GetSchema().GetName() != "LOCAL_DATE_TIME" ||
		req.GetSchema().GetType() != pb.Schema_LocalDateTime || len(req.GetSchema().GetSchemaData()) != 0 {
		t.Fatalf("schema %v", req.GetSchema())
	}
	// BYTES, the default, sends no schema, as the Java client does.
	for _, s := range []*Schema{nil, {Type: SchemaBytes}} {
		h = newHarness(t, ClientOptions{})
		if _, _, req = readySchema(h, s, nil, ProducerOptions{}); req.Schema != nil {
			t.Fatalf("BYTES sent %v", req.Schema)
		}
	}
}

func TestKeyValueSchemaInProducerCommand(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	kv := &Schema{Type: SchemaKeyValue, KeyValueEncoding: KeyValueSeparated,
		Key:   &Schema{Type: SchemaString},
		Value: &Schema{Type: SchemaJSON, Name: "user", Definition: userAvro, Properties: map[string]string{"p": "q"}}}
	_, _, req := readySchema(h, kv, nil, ProducerOptions{})
	sc := req.GetSchema()
	data := sc.GetSchemaData()
	want := binary.BigEndian.AppendUint32(nil, 0)
	want = binary.BigEndian.AppendUint32(want, uint32(len(userAvro)))
	want = append(want, userAvro...)
	if sc.GetType() != pb.Schema_KeyValue || sc.GetName() != "KeyValue" || !bytes.Equal(data, want) {
		t.Fatalf("KEY_VALUE schema %v", sc)
	}
	props := map[string]string{}
	for _, kv := range sc.GetProperties() {
		props[kv.GetKey()] = kv.GetValue()
	}
	for k, v := range map[string]string{"key.schema.name": "STRING", "key.schema.type": "STRING", "key.schema.properties": "{}",
		"value.schema.name": "user", "value.schema.type": "JSON", "value.schema.properties": `{"p":"q"}`, "kv.encoding.type": "SEPARATED"} {
		if props[k] != v {
			t.Errorf("property %s = %q, want %q", k, props[k], v)
		}
	}
}

func TestSchemaVersionStampedOnMessages(t *testing.T) {
	ver := []byte{0, 0, 0, 0, 0, 0, 0, 3}
	h := newHarness(t, ClientOptions{})
	id, conn, _ := readySchema(h, &Schema{Type: SchemaString}, ver, ProducerOptions{BatchingMaxMessages: 2})
	// A batch and a lone message both carry it.
	h.send(id, &Message{Value: "one"}, 1)
	h.send(id, &Message{Value: "two"}, 2)
	s := h.expect(conn, pb.BaseCommand_SEND)
	if !bytes.Equal(s.meta.GetSchemaVersion(), ver) || s.meta.GetNumMessagesInBatch() != 2 {
		t.Fatalf("batch metadata %v", s.meta)
	}
	h.send(id, &Message{Value: "three", DeliverAfter: time.Second}, 3)
	s = h.expect(conn, pb.BaseCommand_SEND)
	if !bytes.Equal(s.meta.GetSchemaVersion(), ver) || string(s.payload) != "three" {
		t.Fatalf("lone message metadata %v payload %q", s.meta, s.payload)
	}
	// Without a version from the broker there is none on the messages.
	h = newHarness(t, ClientOptions{})
	id, conn, _ = readySchema(h, nil, nil, ProducerOptions{DisableBatching: true})
	h.send(id, &Message{Payload: []byte("x")}, 1)
	if s = h.expect(conn, pb.BaseCommand_SEND); s.meta.SchemaVersion != nil {
		t.Fatalf("schema version %x without one", s.meta.SchemaVersion)
	}
}

func TestIncompatibleSchemaIsTerminal(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	h.e.CreateProducer(ProducerOptions{Topic: "t", Schema: &Schema{Type: SchemaString}}, h.now)
	conn := h.connect()
	h.answerMetadata(conn, 0)
	h.answerLookup(conn, "pulsar://broker:6650")
	req := h.expect(conn, pb.BaseCommand_PRODUCER).cmd.GetProducer()
	const text = "org.apache.pulsar.broker.service.schema.exceptions.IncompatibleSchemaException: Incompatible schema: exists schema type AVRO, new schema type STRING"
	h.reply(conn, &pb.BaseCommand{Type: pb.BaseCommand_ERROR.Enum(), Error: &pb.CommandError{
		RequestId: req.RequestId, Error: pb.ServerError_IncompatibleSchema.Enum(), Message: proto.String(text)}})
	fail := h.expectEvent(EventProducerFailed)
	if CodeOf(fail.Err) != CodeIncompatibleSchema || !strings.Contains(fail.Err.Error(), "exists schema type AVRO") {
		t.Fatalf("failure %v", fail.Err)
	}
	idle(h, conn, time.Minute) // and no retry
}

func TestValueEncodings(t *testing.T) {
	at := time.Date(2026, 12, 5, 13, 14, 15, 123456789, time.UTC)
	for _, tc := range []struct {
		typ  SchemaType
		v    any
		want string // hex
	}{
		{SchemaString, "héllo", hex.EncodeToString([]byte("héllo"))},
		{SchemaString, ValueJSON(`"héllo"`), hex.EncodeToString([]byte("héllo"))},
		{SchemaBoolean, true, "01"},
		{SchemaBoolean, ValueJSON(`false`), "00"},
		{SchemaInt8, -1, "ff"},
		{SchemaInt8, ValueJSON(`127`), "7f"},
		{SchemaInt16, int16(-2), "fffe"},
		{SchemaInt32, 1, "00000001"},
		{SchemaInt32, ValueJSON(`-2147483648`), "80000000"},
		{SchemaInt64, int64(-2), "fffffffffffffffe"},
		{SchemaFloat, 1.5, "3fc00000"},
		{SchemaFloat, ValueJSON(`1.5`), "3fc00000"},
		{SchemaDouble, -2.25, "c002000000000000"},
		{SchemaFloat, 2, "40000000"},
		{SchemaDouble, int64(2), "4000000000000000"},
		{SchemaLocalTime, at, "00002b5792b49315"},
		{SchemaLocalDateTime, at, "0000000000005138" + "00002b5792b49315"},
		{SchemaDouble, ValueJSON(`-2.25`), "c002000000000000"},
		{SchemaTimestamp, at, hex.EncodeToString(binary.BigEndian.AppendUint64(nil, uint64(at.UnixMilli())))},
		{SchemaDate, ValueJSON(`1000`), "00000000000003e8"},
		{SchemaTime, ValueJSON(`"2026-12-05T13:14:15.123Z"`), hex.EncodeToString(binary.BigEndian.AppendUint64(nil, uint64(at.UnixMilli())))},
		{SchemaInstant, at, hex.EncodeToString(binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint64(nil, uint64(at.Unix())), 123456789))},
		{SchemaInstant, ValueJSON(`"2026-12-05T14:14:15.123456789+01:00"`), hex.EncodeToString(binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint64(nil, uint64(at.Unix())), 123456789))},
		{SchemaLocalDate, ValueJSON(`"2026-12-05"`), "0000000000005138"}, // epoch day 20792
		{SchemaLocalDate, at, "0000000000005138"},
		{SchemaLocalTime, ValueJSON(`"13:14:15.123456789"`), "00002b5792b49315"}, // 47655123456789 ns
		{SchemaLocalTime, 13*time.Hour + 14*time.Minute + 15*time.Second + 123456789, "00002b5792b49315"},
		{SchemaLocalDateTime, ValueJSON(`"2026-12-05T13:14:15.123456789"`), "0000000000005138" + "00002b5792b49315"},
		{SchemaJSON, ValueJSON(` {"a": [1, 2]} `), hex.EncodeToString([]byte(`{"a": [1, 2]}`))},
		{SchemaAvro, []byte{2, 'a'}, "0261"},
		{SchemaBytes, ValueJSON(`"AGE="`), "0061"},
	} {
		got, _, _, err := EncodeValue(&Schema{Type: tc.typ}, tc.v)
		if err != nil || hex.EncodeToString(got) != tc.want {
			t.Errorf("%v %v: got %x, %v; want %s", tc.typ, tc.v, got, err, tc.want)
		}
	}
	// KEY_VALUE, inline: both halves after their lengths.
	kv := &Schema{Type: SchemaKeyValue, Key: &Schema{Type: SchemaString}, Value: &Schema{Type: SchemaInt32}}
	got, key, hasKey, err := EncodeValue(kv, KeyValue{"k", 7})
	if err != nil || hasKey || hex.EncodeToString(got) != "00000001"+"6b"+"00000004"+"00000007" || key != "" {
		t.Fatalf("inline KEY_VALUE: %x %q %v %v", got, key, hasKey, err)
	}
	got2, _, _, err := EncodeValue(kv, ValueJSON(`{"key":"k","value":7}`))
	if err != nil || !bytes.Equal(got, got2) {
		t.Fatalf("inline KEY_VALUE from JSON: %x %v", got2, err)
	}
	// Separated: the key, base64, goes in the message key.
	kv.KeyValueEncoding = KeyValueSeparated
	got, key, hasKey, err = EncodeValue(kv, ValueJSON(`{"key":"k","value":7}`))
	if err != nil || !hasKey || key != base64.StdEncoding.EncodeToString([]byte("k")) || hex.EncodeToString(got) != "00000007" {
		t.Fatalf("separated KEY_VALUE: %x %q %v %v", got, key, hasKey, err)
	}
}

func TestValueEncodingErrors(t *testing.T) {
	kv := &Schema{Type: SchemaKeyValue, Key: &Schema{Type: SchemaString}, Value: &Schema{Type: SchemaInt32}}
	for _, tc := range []struct {
		s    *Schema
		v    any
		want string
	}{
		{&Schema{Type: SchemaInt8}, 128, "128 is out of the range of INT8"},
		{&Schema{Type: SchemaInt16}, ValueJSON(`-32769`), "-32769 is out of the range of INT16"},
		{&Schema{Type: SchemaInt32}, ValueJSON(`1.5`), "1.5 is not an integer that fits INT32"},
		{&Schema{Type: SchemaInt64}, ValueJSON(`"7"`), "does not fit the INT64 schema: got string \"7\""},
		{&Schema{Type: SchemaInt32}, "7", "does not fit the INT32 schema: got Go type string"},
		{&Schema{Type: SchemaFloat}, 1e39, "out of the range of FLOAT"},
		{&Schema{Type: SchemaBoolean}, ValueJSON(`1`), "does not fit the BOOLEAN schema: got number 1"},
		{&Schema{Type: SchemaString}, []byte{0xff}, "must be valid UTF-8"},
		{&Schema{Type: SchemaJSON}, ValueJSON(`{"a":`), "the value is not valid JSON"},
		{&Schema{Type: SchemaJSON}, []byte(`{"a":`), "a JSON value must be valid JSON"},
		{&Schema{Type: SchemaJSON}, map[string]int{"a": 1}, "a JSON value must be JSON text here"},
		{&Schema{Type: SchemaAvro}, ValueJSON(`{"name":"x"}`), "a AVRO value must be bytes the caller encoded"},
		{&Schema{Type: SchemaLocalDate}, ValueJSON(`"05/12/2026"`), `"05/12/2026" is not a time of the form 2006-01-02`},
		{&Schema{Type: SchemaLocalTime}, 25 * time.Hour, "a LOCAL_TIME must lie within a day"},
		{&Schema{Type: SchemaString}, ValueJSON(`null`), "the value is missing (null)"},
		{kv, KeyValue{Key: "k"}, "needs both its key and its value"},
		{kv, ValueJSON(`{"key":"k"}`), "needs both its key and its value"},
		{kv, ValueJSON(`{"key":"k","value":null}`), "needs both its key and its value"},
		{kv, ValueJSON(`{"key":"k","value":1,"extra":2}`), `not "extra"`},
		{kv, ValueJSON(`[1,2]`), "must be a JSON object"},
		{kv, "k", "must be a KeyValue"},
		{kv, KeyValue{"k", "x"}, "the value does not fit the INT32 schema"},
		{kv, KeyValue{1, 2}, "the key does not fit the STRING schema"},
	} {
		_, _, _, err := EncodeValue(tc.s, tc.v)
		if err == nil || !strings.Contains(err.Error(), tc.want) || CodeOf(err) != CodeInvalidMessage {
			t.Errorf("%v %v: got %v, want InvalidMessage with %q", tc.s.Type, tc.v, err, tc.want)
		}
	}
}

func TestSendEncodesValues(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	kv := &Schema{Type: SchemaKeyValue, KeyValueEncoding: KeyValueSeparated, Key: &Schema{Type: SchemaInt32}, Value: &Schema{Type: SchemaString}}
	id, conn, _ := readySchema(h, kv, []byte{9}, ProducerOptions{DisableBatching: true})
	h.send(id, &Message{Value: ValueJSON(`{"key":1,"value":"v"}`)}, 1)
	s := h.expect(conn, pb.BaseCommand_SEND)
	if s.meta.GetPartitionKey() != base64.StdEncoding.EncodeToString([]byte{0, 0, 0, 1}) || !s.meta.GetPartitionKeyB64Encoded() || string(s.payload) != "v" {
		t.Fatalf("separated KEY_VALUE sent key %q (b64 %v) payload %q", s.meta.GetPartitionKey(), s.meta.GetPartitionKeyB64Encoded(), s.payload)
	}
	for _, tc := range []struct {
		m    Message
		want string
	}{
		{Message{Value: ValueJSON(`{"key":1,"value":"v"}`), Key: "k"}, "leave Key empty"},
		{Message{Value: ValueJSON(`{"key":1,"value":"v"}`), KeyBase64: true}, "KeyBase64 unset"},
		{Message{Value: ValueJSON(`{"key":1,"value":"v"}`), Payload: []byte("p")}, "not both"},
		{Message{Value: ValueJSON(`{"key":1}`)}, "needs both"},
	} {
		if err := h.e.Send(id, &tc.m, 9, h.now); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want %q", tc.m, err, tc.want)
		}
	}
	// An empty key is a key: sent, empty, with its base64 flag.
	h2 := newHarness(t, ClientOptions{})
	kvs := &Schema{Type: SchemaKeyValue, KeyValueEncoding: KeyValueSeparated, Key: &Schema{Type: SchemaString}, Value: &Schema{Type: SchemaString}}
	id2, conn2, _ := readySchema(h2, kvs, nil, ProducerOptions{DisableBatching: true})
	h2.send(id2, &Message{Value: KeyValue{"", "v"}}, 1)
	if s := h2.expect(conn2, pb.BaseCommand_SEND); s.meta.PartitionKey == nil || s.meta.GetPartitionKey() != "" || !s.meta.GetPartitionKeyB64Encoded() {
		t.Fatalf("empty separated key: %v", s.meta)
	}
	// Pre-encoded bytes are sent as given.
	h.send(id, &Message{Payload: []byte("raw")}, 2)
	if s = h.expect(conn, pb.BaseCommand_SEND); string(s.payload) != "raw" {
		t.Fatalf("payload %q", s.payload)
	}
}

func TestKeyValueSeparatedInBatch(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	kv := &Schema{Type: SchemaKeyValue, KeyValueEncoding: KeyValueSeparated, Key: &Schema{Type: SchemaString}, Value: &Schema{Type: SchemaString}}
	id, conn, _ := readySchema(h, kv, nil, ProducerOptions{BatchingMaxMessages: 2})
	h.send(id, &Message{Value: KeyValue{"a", "1"}}, 1)
	h.send(id, &Message{Value: KeyValue{"b", "2"}}, 2)
	s := h.expect(conn, pb.BaseCommand_SEND)
	if s.meta.GetNumMessagesInBatch() != 2 {
		t.Fatalf("not batched: %v", s.meta)
	}
	// The single metadata of each message says its key is base64.
	body := s.payload
	for i, want := range []string{"a", "b"} {
		n := binary.BigEndian.Uint32(body)
		var sm pb.SingleMessageMetadata
		if err := proto.Unmarshal(body[4:4+n], &sm); err != nil {
			t.Fatal(err)
		}
		if k, _ := base64.StdEncoding.DecodeString(sm.GetPartitionKey()); string(k) != want || !sm.GetPartitionKeyB64Encoded() {
			t.Fatalf("message %d: key %q b64 %v", i, sm.GetPartitionKey(), sm.GetPartitionKeyB64Encoded())
		}
		body = body[4+int(n)+int(sm.GetPayloadSize()):]
	}
}

func TestRoutedMessages(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	id, conn, wire := readyPartitioned(h, ProducerOptions{DisableBatching: true}, 3)
	h.send(id, &Message{Payload: []byte("x"), Key: "key", Routed: true, Partition: 2}, 1)
	if got := wire[h.expect(conn, pb.BaseCommand_SEND).cmd.GetSend().GetProducerId()]; got != partitionTopic(ptTopic, 2) {
		t.Fatalf("routed message went to %s", got)
	}
	for _, p := range []int32{-1, 3} {
		if err := h.e.Send(id, &Message{Payload: []byte("x"), Routed: true, Partition: p}, 2, h.now); err == nil || CodeOf(err) != CodeInvalidArgument ||
			!strings.Contains(err.Error(), "out of range for a topic of 3 partitions") {
			t.Errorf("partition %d: %v", p, err)
		}
	}
}

// FuzzCheckJSON: the allocation-free syntax check used for JSON values
// agrees with the full reader on every input.
func FuzzCheckJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5e3,-0,"x\u00e9\n"],"b":{"c":null,"d":true}}`, `"\ud83d\ude00"`, `[1,]`, `{"a" 1}`, `01`, `"\x01"`, "\"\xff\"", ` 7 `, `[[[[]]]]`, `"abc`, `{"a":1}{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, full := parseJSON(b)
		if fast := checkJSON(b); (fast == "") != (full == "") {
			t.Fatalf("%q: checkJSON says %q, parseJSON %q", b, fast, full)
		}
	})
}
