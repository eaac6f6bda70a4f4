// Values given to the C ABI as JSON (pp_message.value_json) and encoded by
// the producer's schema option: the bytes stored must be the Java client's
// formats for each schema.
//
// How this works: pp_schema_test.c publishes the values of its tables to
// one topic per schema and reports each message's ID under a label. This
// test holds its own table of the bytes each value must become, computed
// here with encoding/binary and encoding/base64 from the same values (not
// with the library), reads every topic back with the Java client, finds
// each message at the ID the program was told, and compares payload and
// key (a SEPARATED KEY_VALUE key is base64 in the message key, flagged as
// such). It then asks the broker's schema registry (admin REST) what each
// producer registered. The program itself checks the refusals: values that
// do not fit, and schemas that are not valid.
package capi

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pulsar-producer/pulsar-producer/tests/broker"
	"github.com/pulsar-producer/pulsar-producer/tests/javacheck"
)

// stored is what one labelled value must be once stored.
type stored struct {
	payload []byte
	key     string // the message key; "" and !hasKey for none
	hasKey  bool
	keyB64  bool // the key is base64 (SEPARATED KEY_VALUE)
}

func be32(v int32) []byte { return binary.BigEndian.AppendUint32(nil, uint32(v)) }
func be64(v int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(v)) }

// inlineKV is the INLINE KEY_VALUE payload: each half after its 4-byte
// big-endian length.
func inlineKV(k, v []byte) []byte {
	out := append(be32(int32(len(k))), k...)
	return append(append(out, be32(int32(len(v)))...), v...)
}

// schemaCases is, per topic suffix, the labels pp_schema_test.c sends and
// what each must be stored as; and what the registry must hold.
var schemaCases = map[string]struct {
	values   map[string]stored
	registry func(t *testing.T, schema map[string]any)
}{
	"string": {
		values: map[string]stored{
			"string/utf8":         {payload: []byte("h\u00e9llo w\u00f6rld")},
			"string/escapes":      {payload: []byte("tab\there \u00e9 \U0001F600 \"q\" \\ /")},
			"string/empty":        {payload: []byte{}},
			"string/len":          {payload: []byte("abc")},
			"string/after-errors": {payload: []byte("after")},
		},
		registry: registryType("STRING"),
	},
	"int32": {
		values: map[string]stored{
			"int32/zero":        {payload: be32(0)},
			"int32/neg":         {payload: be32(-123456)},
			"int32/max":         {payload: be32(math.MaxInt32)},
			"int32/min":         {payload: be32(math.MinInt32)},
			"int32/batch-first": {payload: be32(1)},
		},
		registry: registryType("INT32"),
	},
	"json": {
		values: map[string]stored{
			// A JSON value is stored as the JSON text given.
			"json/user":    {payload: []byte(`{"name": "ann", "age": 41}`)},
			"json/escaped": {payload: []byte(`{"name":"\u00e9\n","age":-1}`)},
		},
		registry: func(t *testing.T, s map[string]any) {
			registryType("JSON")(t, s)
			def := `{"type":"record","name":"User","fields":[{"name":"name","type":"string"},{"name":"age","type":"int"}]}`
			if s["data"] != def {
				t.Errorf("the registry holds the definition %q, want %q", s["data"], def)
			}
		},
	},
	"kvi": {
		values: map[string]stored{
			"kvi/a": {payload: inlineKV([]byte("k1"), be64(-5))},
			"kvi/b": {payload: inlineKV([]byte{}, be64(9007199254740993))},
		},
		registry: registryKV("INLINE", "STRING", "INT64"),
	},
	"kvs": {
		values: map[string]stored{
			"kvs/a": {payload: be64(int64(math.Float64bits(1.5))), key: base64.StdEncoding.EncodeToString(be32(258)), hasKey: true, keyB64: true},
			"kvs/b": {payload: be64(int64(math.Float64bits(-0.1))), key: base64.StdEncoding.EncodeToString(be32(-1)), hasKey: true, keyB64: true},
		},
		registry: registryKV("SEPARATED", "INT32", "DOUBLE"),
	},
	"bytes": {
		values: map[string]stored{
			"bytes/b64": {payload: []byte("hello")},
		},
		registry: nil, // BYTES registers no schema
	},
}

func registryType(want string) func(*testing.T, map[string]any) {
	return func(t *testing.T, s map[string]any) {
		t.Helper()
		if s["type"] != want {
			t.Errorf("the registry holds a schema of type %v, want %s: %v", s["type"], want, s)
		}
	}
}

func registryKV(encoding, key, value string) func(*testing.T, map[string]any) {
	return func(t *testing.T, s map[string]any) {
		t.Helper()
		registryType("KEY_VALUE")(t, s)
		props, _ := s["properties"].(map[string]any)
		for k, v := range map[string]string{"kv.encoding.type": encoding, "key.schema.type": key, "value.schema.type": value} {
			if props[k] != v {
				t.Errorf("registry property %s is %v, want %s (all: %v)", k, props[k], v, props)
			}
		}
	}
}

// registrySchema returns what GET /admin/v2/schemas/<tenant>/<ns>/<topic>/schema
// answers, or nil for a 404.
func registrySchema(t *testing.T, topic string) map[string]any {
	t.Helper()
	p, err := broker.TopicPath(topic)
	if err != nil {
		t.Fatal(err)
	}
	path := "/admin/v2/schemas/" + strings.TrimPrefix(p, "persistent/") + "/schema"
	status, body, err := broker.Do(http.MethodGet, path, nil)
	switch {
	case err != nil:
		t.Fatalf("GET %s: %v", path, err)
	case status == http.StatusNotFound:
		return nil
	case status != http.StatusOK:
		t.Fatalf("GET %s: HTTP %d: %s", path, status, body)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, body)
	}
	return m
}

func TestCSchemaValues(t *testing.T) {
	broker.Require(t)
	prog := build(t, "pp_schema_test.c", false)
	prefix := broker.NewTopic(t, "c-schema")
	ids := byLabel(t, runProgram(t, prog, runOptions{args: []string{broker.ServiceURL(), prefix}}))
	want := 0
	for _, c := range schemaCases {
		want += len(c.values)
	}
	if len(ids) != want {
		t.Errorf("the program reported %d messages, want %d", len(ids), want)
	}
	for suffix, c := range schemaCases {
		t.Run(suffix, func(t *testing.T) {
			topic := prefix + "-" + suffix
			// One more than sent, with a short wait for it: a value that
			// was refused must not have been stored anyway.
			got := javacheck.Consume(t, topic, len(c.values)+1, javacheck.Options{Timeout: 5 * time.Second, AllowFewer: true})
			if len(got) != len(c.values) {
				t.Errorf("the Java client read %d messages, want %d: %v", len(got), len(c.values), got)
			}
			at := map[[5]int64]javacheck.Message{}
			for _, m := range got {
				at[[5]int64{m.LedgerID, m.EntryID, int64(m.Partition), int64(m.BatchIndex), int64(m.BatchSize)}] = m
			}
			for label, w := range c.values {
				id, ok := ids[label]
				if !ok {
					t.Errorf("%s: the program did not report it", label)
					continue
				}
				m, ok := at[id]
				switch {
				case !ok:
					t.Errorf("%s: the program was told %v, the Java client found nothing there", label, id)
				case !bytes.Equal(m.Payload, w.payload):
					t.Errorf("%s: stored % x, want % x", label, m.Payload, w.payload)
				case m.HasKey != w.hasKey || m.Key != w.key || m.KeyBase64Encoded != w.keyB64:
					t.Errorf("%s: key %v %q (base64 %v), want %v %q (base64 %v)", label, m.HasKey, m.Key, m.KeyBase64Encoded, w.hasKey, w.key, w.keyB64)
				}
			}
			s := registrySchema(t, topic)
			switch {
			case c.registry == nil && s != nil:
				t.Errorf("a producer without a schema registered %v", s)
			case c.registry != nil && s == nil:
				t.Errorf("the registry holds no schema for %s", topic)
			case c.registry != nil:
				c.registry(t, s)
			}
		})
	}
}
