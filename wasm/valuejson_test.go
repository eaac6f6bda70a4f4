// Message values given as JSON text (metadata tag 13), which the module
// encodes by the producer's schema: the host that cannot run the engine's
// encoders (a JavaScript one) relies on it. Tests: raw tag-13 metadata
// through ppw_send_msg, byte for byte as engine.EncodeMessage encodes the
// same value, with the module's and the engine's refusals; the Go host's
// choice to send engine.ValueJSON values that way; and, with it, the same
// values sent natively and through the module stored alike (STRING, JSON,
// INT64, KEY_VALUE SEPARATED and INLINE) and refused alike.
package wasm

import (
	"bytes"
	"encoding/base64"
	"testing"
	"time"

	"github.com/pulsar-producer/pulsar-producer/core"
	"github.com/pulsar-producer/pulsar-producer/core/engine"
	"github.com/pulsar-producer/pulsar-producer/internal/fakebroker"
	"github.com/pulsar-producer/pulsar-producer/wasm/internal/abi"
)

// valueMeta is metadata with tag 13 carrying j, after the fields of pre.
func valueMeta(pre []byte, j string) []byte {
	return appendBytesField(append([]byte(nil), pre...), abi.TagValueJSON, []byte(j))
}

var (
	separated = &core.Schema{Type: core.SchemaKeyValue, KeyValueEncoding: core.KeyValueSeparated,
		Key: &core.Schema{Type: core.SchemaString}, Value: &core.Schema{Type: core.SchemaJSON, Definition: accountDef}}
	separatedBinaryKey = &core.Schema{Type: core.SchemaKeyValue, KeyValueEncoding: core.KeyValueSeparated,
		Key: &core.Schema{Type: core.SchemaInt64}, Value: &core.Schema{Type: core.SchemaDouble}}
	inline = &core.Schema{Type: core.SchemaKeyValue,
		Key: &core.Schema{Type: core.SchemaInt32}, Value: &core.Schema{Type: core.SchemaString}}
)

// TestValueJSONTagByHand plays the host by hand: tag-13 metadata sent
// with ppw_send_msg stores the payload, key and base64 flag that
// engine.EncodeMessage gives for the same JSON and schema; a contradiction
// is refused by the module (a payload, a null value) or by the engine (a
// key or base64 flag beside a SEPARATED value, JSON the schema cannot
// take) with the engine's code and text, and nothing is stored for it.
func TestValueJSONTagByHand(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	e, err := testModule(t).NewEngine(ClientOptions{ServiceURL: "pulsar://broker:6650"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := fakebroker.New(fakebroker.Options{Record: true})
	h := &handDriven{t: t, e: e, b: b, conns: map[engine.ConnID]*fakebroker.Conn{}, now: now}
	defer func() {
		e.Close(h.now)
		h.e.AppendEvents(nil)
	}()
	schemas := []*core.Schema{{Type: core.SchemaString}, {Type: core.SchemaJSON, Definition: accountDef},
		{Type: core.SchemaInt64}, separated, separatedBinaryKey, inline, nil}
	ids := make([]engine.ProducerID, len(schemas))
	for i, s := range schemas {
		if ids[i], err = e.CreateProducer(ProducerOptions{Topic: "values-" + string(rune('a'+i)), DisableBatching: true, Schema: s}, now); err != nil {
			t.Fatal(err)
		}
	}
	h.pump()
	if n := len(h.took(engine.EventProducerReady)); n != len(schemas) {
		t.Fatalf("%d producers ready, want %d: %+v", n, len(schemas), h.events)
	}
	key := appendStringField(nil, abi.TagKey, "mine")
	for i, c := range []struct {
		schema  int // index in schemas
		payload string
		meta    []byte
		value   string // the JSON as engine.EncodeMessage gets it
		msg     engine.Message
		code    engine.Code // 0: stored
		frag    string      // in the error's text
		module  bool        // refused by the module before the engine sees it
	}{
		{schema: 0, meta: valueMeta(nil, `"héllo"`), value: `"héllo"`},
		{schema: 0, meta: valueMeta(key, `""`), value: `""`, msg: engine.Message{Key: "mine", HasKey: true}},
		{schema: 1, meta: valueMeta(nil, ` {"name":"ann", "balance":30} `), value: ` {"name":"ann", "balance":30} `},
		{schema: 2, meta: valueMeta(nil, `-9223372036854775808`), value: `-9223372036854775808`},
		{schema: 3, meta: valueMeta(nil, `{"key":"user-1","value":{"name":"ann","balance":30}}`), value: `{"key":"user-1","value":{"name":"ann","balance":30}}`},
		{schema: 4, meta: valueMeta(nil, `{"key":7,"value":2.5}`), value: `{"key":7,"value":2.5}`},
		{schema: 5, meta: valueMeta(key, `{"key":3,"value":"three"}`), value: `{"key":3,"value":"three"}`, msg: engine.Message{Key: "mine", HasKey: true}},
		{schema: 6, meta: valueMeta(nil, `"aGk="`), value: `"aGk="`}, // no schema: BYTES, base64 in JSON

		{schema: 0, payload: "p", meta: valueMeta(nil, `"x"`), code: engine.CodeInvalidMessage, frag: "set the value JSON or a payload, not both", module: true},
		{schema: 0, meta: valueMeta([]byte{abi.TagNullValue}, `"x"`), code: engine.CodeInvalidMessage, frag: "set the value JSON or a null value, not both", module: true},
		{schema: 0, meta: []byte{abi.TagValueJSON, 1, 0}, code: engine.CodeInvalidArgument, frag: "value JSON length at byte 1", module: true},
		{schema: 0, meta: append(valueMeta(nil, `"x"`), valueMeta(nil, `"y"`)...), code: engine.CodeInvalidArgument, frag: "field valueJson repeated at byte 8", module: true},
		{schema: 3, meta: valueMeta(key, `{"key":"k","value":{}}`), value: `{"key":"k","value":{}}`, msg: engine.Message{Key: "mine", HasKey: true},
			code: engine.CodeInvalidMessage, frag: "sets the message key"},
		{schema: 4, meta: valueMeta([]byte{abi.TagKeyBase64}, `{"key":1,"value":1}`), value: `{"key":1,"value":1}`, msg: engine.Message{KeyBase64: true},
			code: engine.CodeInvalidMessage, frag: "sets the message key"},
		{schema: 0, meta: valueMeta(nil, `{"not":"a string"}`), value: `{"not":"a string"}`, code: engine.CodeInvalidMessage},
		{schema: 0, meta: valueMeta(nil, ``), value: ``, code: engine.CodeInvalidMessage},
		{schema: 1, meta: valueMeta(nil, `{"name":`), value: `{"name":`, code: engine.CodeInvalidMessage},
		{schema: 2, meta: valueMeta(nil, `9223372036854775808`), value: `9223372036854775808`, code: engine.CodeInvalidMessage},
		{schema: 2, meta: valueMeta(nil, `1.5`), value: `1.5`, code: engine.CodeInvalidMessage},
		{schema: 3, meta: valueMeta(nil, `{"key":"k"}`), value: `{"key":"k"}`, code: engine.CodeInvalidMessage},
		{schema: 5, meta: valueMeta(nil, `[3,"three"]`), value: `[3,"three"]`, code: engine.CodeInvalidMessage},
	} {
		before := len(b.Entries())
		var payload []byte
		if c.payload != "" {
			payload = []byte(c.payload)
		}
		err := e.in.sendMsg(ids[c.schema], payload, c.meta, uint64(100+i), h.now)
		h.pump()
		var want engine.Message
		var werr error
		if !c.module {
			m := c.msg
			m.Value = engine.ValueJSON(c.value)
			want, werr = engine.EncodeMessage(schemas[c.schema], &m)
		}
		if c.code != 0 {
			wantCode(t, string(c.meta), err, c.code, c.frag)
			if !c.module && (werr == nil || err.Error() != werr.Error()) {
				t.Errorf("message %d: the module says %q, the engine natively %v", i, err, werr)
			}
			if n := len(b.Entries()); n != before {
				t.Errorf("message %d was refused, yet %d entries were stored", i, n-before)
			}
			continue
		}
		if err != nil || werr != nil {
			t.Fatalf("message %d: %v (natively %v)", i, err, werr)
		}
		entries := b.Entries()
		if len(entries) != before+1 {
			t.Fatalf("message %d: %d entries stored, want 1", i, len(entries)-before)
		}
		got := entries[before]
		md := got.Metadata
		if !bytes.Equal(got.Payload, want.Payload) || md.GetPartitionKey() != want.Key || (md.PartitionKey != nil) != want.HasKey ||
			md.GetPartitionKeyB64Encoded() != want.KeyBase64 {
			t.Errorf("message %d stored payload %q key %v (base64 %v); EncodeMessage gives %q key %q (%v, base64 %v)",
				i, got.Payload, md.PartitionKey, md.GetPartitionKeyB64Encoded(), want.Payload, want.Key, want.HasKey, want.KeyBase64)
		}
	}
	if evs := h.took(engine.EventReceipt); len(evs) != 8 {
		t.Errorf("%d receipts, want 8", len(evs))
	}
	if evs := h.took(engine.EventSendFailed); len(evs) != 0 {
		t.Errorf("refused sends were reported failed too: %+v", evs)
	}
}

// TestGoHostSendsValueJSONAsTag13: the Go host hands a value given as JSON
// text to the module as tag 13, unencoded, so that TestValueJSONAsNative
// below runs the module's encoding; Go values, and JSON text beside a
// payload or null value (whose refusal must be the engine's, as
// natively), it encodes itself.
func TestGoHostSendsValueJSONAsTag13(t *testing.T) {
	m := engine.Message{Value: engine.ValueJSON(`"v"`), Key: "k", HasKey: true}
	if !crossesAsJSON(&m) {
		t.Fatal("a JSON value does not cross as JSON")
	}
	want := append(appendStringField(nil, abi.TagKey, "k"), abi.TagValueJSON, 3, 0, 0, 0, '"', 'v', '"')
	if got := appendMetadata(nil, &m); !bytes.Equal(got, want) {
		t.Fatalf("metadata % x, want % x", got, want)
	}
	for _, m := range []engine.Message{
		{Value: "a Go string"},
		{Value: engine.KeyValue{Key: engine.ValueJSON(`1`), Value: engine.ValueJSON(`2`)}},
		{Value: engine.ValueJSON(`"v"`), Payload: []byte("p")},
		{Value: engine.ValueJSON(`"v"`), NullValue: true},
	} {
		if crossesAsJSON(&m) {
			t.Errorf("%+v crosses as JSON; the host must encode it", m)
		}
	}
}

// TestValueJSONAsNative: JSON-text values of STRING, JSON, INT64 and
// KEY_VALUE SEPARATED and INLINE schemas, sent natively and through the
// module (as tag 13), are stored byte for byte alike (payload, key, its
// base64 flag), and the refused ones fail with the same code and text.
func TestValueJSONAsNative(t *testing.T) {
	when := time.UnixMilli(1_800_000_000_123)
	for _, c := range []valueCase{
		{"STRING", &core.Schema{Type: core.SchemaString}, []*core.Message{
			{Value: core.ValueJSON(`"héllo"`)},
			{Value: core.ValueJSON(`""`), Key: "k", Properties: map[string]string{"p": "1"}, EventTime: when},
			{Value: core.ValueJSON(` "spaced\u0041" `)},
			{Value: core.ValueJSON(`42`)},
			{Value: core.ValueJSON(`"both"`), Payload: []byte("x")},
			{Value: core.ValueJSON(`"tombstone"`), NullValue: true},
			{Value: core.ValueJSON(``)},
		}, 4},
		{"JSON", &core.Schema{Type: core.SchemaJSON, Definition: accountDef}, []*core.Message{
			{Value: core.ValueJSON(`{"name":"ann","balance":30}`)},
			{Value: core.ValueJSON("\n{ \"name\" : \"bob\" ,\"balance\":-5 }\t")},
			{Value: core.ValueJSON(`[1,2,{"deep":null}]`), Key: "k"},
			{Value: core.ValueJSON(`{"name":`)},
			{Value: core.ValueJSON(`{} {}`)},
		}, 2},
		{"INT64", &core.Schema{Type: core.SchemaInt64}, []*core.Message{
			{Value: core.ValueJSON(`7`)},
			{Value: core.ValueJSON(`-9223372036854775808`)},
			{Value: core.ValueJSON(`9223372036854775807`), OrderingKey: []byte{0, 1}},
			{Value: core.ValueJSON(`9223372036854775808`)},
			{Value: core.ValueJSON(`1.5`)},
			{Value: core.ValueJSON(`"7"`)},
		}, 3},
		{"KEY_VALUE SEPARATED", separated, []*core.Message{
			{Value: core.ValueJSON(`{"key":"user-1","value":{"name":"ann","balance":30}}`)},
			{Value: core.ValueJSON(`{"value":{"name":"bob","balance":-5},"key":""}`), Properties: map[string]string{"p": "2"}},
			{Value: core.ValueJSON(`{"key":"k","value":{}}`), Key: "mine"},
			{Value: core.ValueJSON(`{"key":"k","value":{}}`), KeyBase64: true},
			{Value: core.ValueJSON(`{"key":"no value"}`)},
			{Value: core.ValueJSON(`["k",{}]`)},
		}, 4},
		{"KEY_VALUE SEPARATED binary key", separatedBinaryKey, []*core.Message{
			{Value: core.ValueJSON(`{"key":7,"value":2.5}`)},
			{Value: core.ValueJSON(`{"key":-1,"value":0}`)},
		}, 0},
		{"KEY_VALUE INLINE", inline, []*core.Message{
			{Value: core.ValueJSON(`{"key":3,"value":"three"}`), Key: "routing key"},
			{Value: core.ValueJSON(`{"key":-3,"value":""}`)},
			{Value: core.ValueJSON(`{"key":3000000000,"value":"too big"}`)},
		}, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			tw := twins(t, fakebroker.Options{Record: true}, ProducerOptions{Topic: "json-values", DisableBatching: true, Schema: c.schema})
			outs, entries := compareTwins(t, tw, c.msgs)
			checkRefused(t, outs, entries, len(c.msgs), c.refused)
			for i, e := range entries {
				if c.schema.KeyValueEncoding == core.KeyValueSeparated {
					k, err := base64.StdEncoding.DecodeString(e.Metadata.GetPartitionKey())
					if !e.Metadata.GetPartitionKeyB64Encoded() || e.Metadata.PartitionKey == nil || err != nil {
						t.Errorf("entry %d: key %v (%x), base64 flag %v; a SEPARATED value's key is base64", i, e.Metadata.PartitionKey, k, e.Metadata.GetPartitionKeyB64Encoded())
					}
				}
			}
		})
	}
}
