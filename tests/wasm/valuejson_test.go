// Values given as JSON text (core.ValueJSON), which the WASI host hands to
// the module as metadata tag 13 for the module to encode by the producer's
// schema (the way a JavaScript host sends values), against the real
// broker.
//
// How this works: each schema's values go through the module and through
// the native driver, each to a topic of its own. The official Go client
// reads both topics; every message's payload and key must be the bytes
// computed here with encoding/binary and encoding/base64 from the same
// values (not with the library), on both sides alike, with the schema
// version each producer registered. The official Java client reads the
// module's SEPARATED KEY_VALUE topics, whose keys must be flagged base64.
package wasm

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"math"
	"net/http"
	"testing"

	"github.com/pulsar-producer/pulsar-producer/core"
	ppwasm "github.com/pulsar-producer/pulsar-producer/wasm"

	"github.com/pulsar-producer/pulsar-producer/tests/broker"
	"github.com/pulsar-producer/pulsar-producer/tests/javacheck"
	"github.com/pulsar-producer/pulsar-producer/tests/verify"
)

// storedValue is what one value must be once stored.
type storedValue struct {
	payload []byte
	key     string // "" for none
}

func be32(v int32) []byte { return binary.BigEndian.AppendUint32(nil, uint32(v)) }
func be64(v int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(v)) }

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func TestValueJSONAsConsumed(t *testing.T) {
	inline := func(k, v []byte) []byte {
		out := append(be32(int32(len(k))), k...)
		return append(append(out, be32(int32(len(v)))...), v...)
	}
	prop := map[string]string{"p": "1"} // the Go client drops an empty message with no properties
	for _, c := range []struct {
		name    string
		schema  *core.Schema
		regType string
		msgs    []*core.Message
		want    []storedValue
	}{
		{"STRING", &core.Schema{Type: core.SchemaString}, "STRING", []*core.Message{
			{Value: core.ValueJSON(`"h\u00e9llo"`)},
			{Value: core.ValueJSON(`""`), Properties: prop},
			{Value: core.ValueJSON(` "keyed" `), Key: "k"},
		}, []storedValue{{payload: []byte("héllo")}, {payload: []byte{}}, {payload: []byte("keyed"), key: "k"}}},
		{"JSON", &core.Schema{Type: core.SchemaJSON, Definition: accountDef}, "JSON", []*core.Message{
			{Value: core.ValueJSON(`{"name":"ann","balance":30}`)},
			{Value: core.ValueJSON("\n {\"name\": \"bob\", \"balance\": -5}\t")},
		}, []storedValue{{payload: []byte(`{"name":"ann","balance":30}`)}, {payload: []byte(`{"name": "bob", "balance": -5}`)}}},
		{"INT64", &core.Schema{Type: core.SchemaInt64}, "INT64", []*core.Message{
			{Value: core.ValueJSON(`7`)},
			{Value: core.ValueJSON(`-9223372036854775808`)},
		}, []storedValue{{payload: be64(7)}, {payload: be64(math.MinInt64)}}},
		{"KEY_VALUE SEPARATED", &core.Schema{Type: core.SchemaKeyValue, KeyValueEncoding: core.KeyValueSeparated,
			Key: &core.Schema{Type: core.SchemaString}, Value: &core.Schema{Type: core.SchemaJSON, Definition: accountDef}}, "KEY_VALUE", []*core.Message{
			{Value: core.ValueJSON(`{"key":"user-1","value":{"name":"ann","balance":30}}`)},
			{Value: core.ValueJSON(`{"value":{"name":"bob","balance":-5},"key":"user-2"}`), Properties: prop},
		}, []storedValue{{payload: []byte(`{"name":"ann","balance":30}`), key: b64([]byte("user-1"))},
			{payload: []byte(`{"name":"bob","balance":-5}`), key: b64([]byte("user-2"))}}},
		{"KEY_VALUE SEPARATED binary key", &core.Schema{Type: core.SchemaKeyValue, KeyValueEncoding: core.KeyValueSeparated,
			Key: &core.Schema{Type: core.SchemaInt64}, Value: &core.Schema{Type: core.SchemaDouble}}, "KEY_VALUE", []*core.Message{
			{Value: core.ValueJSON(`{"key":7,"value":2.5}`)},
		}, []storedValue{{payload: be64(int64(math.Float64bits(2.5))), key: b64(be64(7))}}},
		{"KEY_VALUE INLINE", &core.Schema{Type: core.SchemaKeyValue,
			Key: &core.Schema{Type: core.SchemaInt32}, Value: &core.Schema{Type: core.SchemaString}}, "KEY_VALUE", []*core.Message{
			{Value: core.ValueJSON(`{"key":3,"value":"three"}`), Key: "routing key"},
			{Value: core.ValueJSON(`{"key":-1,"value":""}`)},
		}, []storedValue{{payload: inline(be32(3), []byte("three")), key: "routing key"}, {payload: inline(be32(-1), nil)}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var versions [][]byte
			var wasiTopic string
			for _, s := range sides(t) {
				topic := broker.NewTopic(t, s.name+"-json-value")
				p := newProducer(t, s.c, ppwasm.ProducerOptions{Topic: topic, Schema: c.schema})
				sendEach(t, p, c.msgs)
				if err := p.Close(context.Background()); err != nil {
					t.Fatal(err)
				}
				if reg := broker.CallJSON(t, http.MethodGet, schemaPath(t, topic)+"/schema", nil); reg["type"] != c.regType {
					t.Errorf("%s: the registry has type %v, want %s", s.name, reg["type"], c.regType)
				}
				for i, g := range verify.Consume(t, topic, len(c.msgs), verify.Options{}) {
					w := c.want[i]
					if !bytes.Equal(g.Payload(), w.payload) || g.Key() != w.key {
						t.Errorf("%s message %d: stored %q key %q; want %q key %q", s.name, i, g.Payload(), g.Key(), w.payload, w.key)
					}
					if len(g.SchemaVersion()) == 0 {
						t.Errorf("%s message %d carries no schema version", s.name, i)
					}
					if s.name == "wasi" {
						versions = append(versions, g.SchemaVersion())
					} else if !bytes.Equal(g.SchemaVersion(), versions[i]) {
						t.Errorf("message %d: schema version %x through the module, %x natively", i, versions[i], g.SchemaVersion())
					}
				}
				if s.name == "wasi" {
					wasiTopic = topic
				}
			}
			if c.schema.KeyValueEncoding != core.KeyValueSeparated {
				return
			}
			for i, m := range javacheck.Consume(t, wasiTopic, len(c.msgs), javacheck.Options{}) {
				if w := c.want[i]; !m.HasKey || m.Key != w.key || !m.KeyBase64Encoded || !bytes.Equal(m.Payload, w.payload) {
					t.Errorf("message %d as the Java client read it: key %v %q (base64 %v) payload %q; want key %q, base64, payload %q",
						i, m.HasKey, m.Key, m.KeyBase64Encoded, m.Payload, w.key, w.payload)
				}
			}
		})
	}
}
