// Schemas set from the Go API, checked against the real broker and read
// back by the official Python client: every type's values decoded by
// another implementation, the registry holding our type, definition and
// versions, and every stored entry carrying the schema version.
//
// How this works: each case publishes a few values (Go values of the
// schema's type, KeyValue, ValueJSON text) through a batching producer and
// pyconsume.py reads them. STRING, JSON and AVRO are decoded by the Python
// client's own StringSchema, JsonSchema and AvroSchema (fastavro); the
// types it has no class for (the numbers, BOOLEAN, the time types,
// KEY_VALUE) it decodes from the raw bytes with struct, base64 and datetime
// in the Java client's formats. Expected values are written out here by
// hand, times as the ISO text Python prints. The JSON and AVRO definitions
// are the ones the Python client registers for its record Reading, so the
// Python consumer's schema matches ours; AVRO values are encoded by the
// tests' own encoder (avroenc_test.go). The registry is read with GET
// /admin/v2/schemas/<topic>/schema and .../schemas, and the version on a
// stored entry from the X-Pulsar-Base64-Schema-Version header of GET
// .../ledger/<l>/entry/<e> (Pulsar 4.0.8's get-message-by-id: 8 bytes,
// big-endian).
package integration

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pulsar-producer/pulsar-producer/core"
	"github.com/pulsar-producer/pulsar-producer/tests/broker"
	"github.com/pulsar-producer/pulsar-producer/tests/javacheck"
)

// reading is the Go twin of pyconsume.py's record Reading.
type reading struct {
	Name  string            `json:"name"`
	Count int64             `json:"count"`
	Ratio float64           `json:"ratio"`
	OK    bool              `json:"ok"`
	Tags  []string          `json:"tags"`
	Attrs map[string]string `json:"attrs"`
}

// readingV2 is ReadingV2: Reading and a note.
type readingV2 struct {
	reading
	Note *string `json:"note"`
}

// schemaCase publishes values with one schema and says what the Python
// client must decode from each.
type schemaCase struct {
	name    string
	regType string // the type the registry must show
	schema  core.Schema
	mode    string // pyconsume.py's decoding mode
	values  []any
	want    []any
}

func millisText(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000") + "+00:00" }

func nanosText(t time.Time, layout string) string {
	return t.Format(layout) + fmt.Sprintf(".%09d", t.Nanosecond())
}

func TestSchemasReadByPythonClient(t *testing.T) {
	c := newClient(t)
	jsonDef := pyDefinition(t, "json", "Reading")
	avroDef := pyDefinition(t, "avro", "Reading")
	var avroSchema any
	if err := json.Unmarshal([]byte(avroDef), &avroSchema); err != nil {
		t.Fatalf("the Python client's Avro definition: %v", err)
	}
	avro := func(v map[string]any) []byte {
		b, err := avroEncode(avroSchema, v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	plus0530 := time.FixedZone("+05:30", 5*3600+1800)
	minus0700 := time.FixedZone("-07:00", -7*3600)
	moon := time.Date(1969, 7, 20, 20, 17, 40, 0, time.UTC)
	leap := time.Date(2024, 2, 29, 23, 59, 59, 123456789, time.UTC)
	early := time.Date(1960, 1, 1, 0, 0, 0, 5, time.UTC) // negative epoch second, positive nanos
	lateLocal := time.Date(2024, 1, 1, 23, 30, 0, 0, plus0530)
	r1 := reading{Name: "ünï ☃ 𝄞", Count: 1 << 60, Ratio: 0.1, OK: true, Tags: []string{"a", "b"}, Attrs: map[string]string{"k": "v", "ä": "ö"}}
	r1want := map[string]any{"name": "ünï ☃ 𝄞", "count": int64(1 << 60), "ratio": 0.1, "ok": true, "tags": []any{"a", "b"}, "attrs": map[string]any{"k": "v", "ä": "ö"}}
	r2 := reading{Name: "", Count: -5, Ratio: -1e300}
	r2want := map[string]any{"name": "", "count": int64(-5), "ratio": -1e300, "ok": false, "tags": nil, "attrs": nil}
	jsonText := `{"name":"from text","count":42,"ratio":2.5,"ok":true,"tags":[],"attrs":{}}`
	jsonTextWant := map[string]any{"name": "from text", "count": int64(42), "ratio": 2.5, "ok": true, "tags": []any{}, "attrs": map[string]any{}}
	avro1 := map[string]any{"name": "avro ☃", "count": int64(math.MinInt64), "ratio": math.Pi, "ok": true, "tags": []any{"x", "y", "z"}, "attrs": map[string]any{"b": "2", "a": "1"}}
	// (The Python client's Record turns a null boolean into false: not nil.)
	avro2 := map[string]any{"name": nil, "count": int64(7), "ratio": 0.0, "ok": false, "tags": []any{}, "attrs": nil}

	cases := []schemaCase{
		{name: "STRING", regType: "STRING", mode: "string",
			values: []any{"hello", "ünïcödé ☃ 𝄞", "", core.ValueJSON(`"from json"`)},
			want:   []any{"hello", "ünïcödé ☃ 𝄞", "", "from json"}},
		{name: "JSON", regType: "JSON", schema: core.Schema{Type: core.SchemaJSON, Definition: jsonDef}, mode: "json:Reading",
			values: []any{r1, &r2, core.ValueJSON(jsonText)},
			want:   []any{r1want, r2want, jsonTextWant}},
		{name: "AVRO", regType: "AVRO", schema: core.Schema{Type: core.SchemaAvro, Definition: avroDef}, mode: "avro:Reading",
			values: []any{avro(avro1), core.ValueJSON(`"` + base64.StdEncoding.EncodeToString(avro(avro2)) + `"`)},
			want:   []any{avro1, avro2}},
		{name: "INT8", regType: "INT8", mode: "raw:INT8",
			values: []any{int8(-128), int8(127), 0, core.ValueJSON("-5")},
			want:   []any{-128, 127, 0, -5}},
		{name: "INT16", regType: "INT16", mode: "raw:INT16",
			values: []any{int16(math.MinInt16), int16(math.MaxInt16), uint8(200), core.ValueJSON("300")},
			want:   []any{math.MinInt16, math.MaxInt16, 200, 300}},
		{name: "INT32", regType: "INT32", mode: "raw:INT32",
			values: []any{int32(math.MinInt32), int32(math.MaxInt32), core.ValueJSON("-7")},
			want:   []any{math.MinInt32, math.MaxInt32, -7}},
		{name: "INT64", regType: "INT64", mode: "raw:INT64",
			values: []any{int64(math.MinInt64), int64(math.MaxInt64), uint32(4_000_000_000), core.ValueJSON("-9007199254740993")},
			want:   []any{int64(math.MinInt64), int64(math.MaxInt64), 4_000_000_000, int64(-9007199254740993)}},
		{name: "FLOAT", regType: "FLOAT", mode: "raw:FLOAT",
			values: []any{float32(0.1), float32(-2.5e10), float32(math.MaxFloat32), core.ValueJSON("1.25")},
			want:   []any{float64(float32(0.1)), float64(float32(-2.5e10)), float64(float32(math.MaxFloat32)), 1.25}},
		{name: "DOUBLE", regType: "DOUBLE", mode: "raw:DOUBLE",
			values: []any{math.Pi, -1e300, 5e-324, 42, core.ValueJSON("-0.5")},
			want:   []any{math.Pi, -1e300, 5e-324, 42.0, -0.5}},
		{name: "BOOLEAN", regType: "BOOLEAN", mode: "raw:BOOLEAN",
			values: []any{true, false, core.ValueJSON("true")},
			want:   []any{true, false, true}},
		{name: "TIMESTAMP", regType: "TIMESTAMP", mode: "raw:TIMESTAMP",
			values: []any{time.UnixMilli(1_700_000_123_456), moon, int64(86_400_000), core.ValueJSON(`"2024-02-29T12:00:00.5+01:00"`)},
			want:   []any{millisText(time.UnixMilli(1_700_000_123_456)), "1969-07-20T20:17:40.000+00:00", "1970-01-02T00:00:00.000+00:00", "2024-02-29T11:00:00.500+00:00"}},
		{name: "DATE", regType: "DATE", mode: "raw:DATE",
			values: []any{moon.In(minus0700), core.ValueJSON("-1")},
			want:   []any{"1969-07-20T20:17:40.000+00:00", "1969-12-31T23:59:59.999+00:00"}},
		{name: "TIME", regType: "TIME", mode: "raw:TIME",
			values: []any{time.Date(1970, 1, 1, 13, 14, 15, 16_000_000, time.UTC), 0},
			want:   []any{"1970-01-01T13:14:15.016+00:00", "1970-01-01T00:00:00.000+00:00"}},
		{name: "INSTANT", regType: "INSTANT", mode: "raw:INSTANT",
			values: []any{leap, early, leap.In(plus0530), core.ValueJSON(`"2001-09-09T01:46:40.000000001Z"`)},
			want:   []any{"2024-02-29T23:59:59.123456789Z", "1960-01-01T00:00:00.000000005Z", "2024-02-29T23:59:59.123456789Z", "2001-09-09T01:46:40.000000001Z"}},
		{name: "LOCAL_DATE", regType: "LOCAL_DATE", mode: "raw:LOCAL_DATE",
			values: []any{leap, time.Date(1900, 3, 1, 0, 0, 0, 0, time.UTC), lateLocal, core.ValueJSON(`"1999-12-31"`)},
			want:   []any{"2024-02-29", "1900-03-01", "2024-01-01", "1999-12-31"}},
		{name: "LOCAL_TIME", regType: "LOCAL_TIME", mode: "raw:LOCAL_TIME",
			values: []any{13*time.Hour + 5*time.Minute + 7*time.Second + 9, time.Date(2024, 1, 1, 23, 59, 59, 999_999_999, plus0530), time.Duration(0), core.ValueJSON(`"07:08:09.5"`)},
			want:   []any{"13:05:07.000000009", "23:59:59.999999999", "00:00:00.000000000", "07:08:09.500000000"}},
		{name: "LOCAL_DATE_TIME", regType: "LOCAL_DATE_TIME", mode: "raw:LOCAL_DATE_TIME",
			values: []any{time.Date(2024, 2, 29, 13, 14, 15, 16, minus0700), early, core.ValueJSON(`"2024-02-29T01:02:03.000000004"`)},
			want:   []any{"2024-02-29T13:14:15.000000016", nanosText(early, "2006-01-02T15:04:05"), "2024-02-29T01:02:03.000000004"}},
		{name: "KEY_VALUE INLINE", regType: "KEY_VALUE", mode: "kv:INLINE/STRING/json:Reading",
			schema: core.Schema{Type: core.SchemaKeyValue, Key: &core.Schema{Type: core.SchemaString},
				Value: &core.Schema{Type: core.SchemaJSON, Definition: jsonDef}},
			values: []any{core.KeyValue{Key: "k-1", Value: r1}, &core.KeyValue{Key: "", Value: r2}, core.ValueJSON(`{"key":"k-3","value":` + jsonText + `}`)},
			want: []any{map[string]any{"key": "k-1", "value": r1want}, map[string]any{"key": "", "value": r2want},
				map[string]any{"key": "k-3", "value": jsonTextWant}}},
		{name: "KEY_VALUE SEPARATED", regType: "KEY_VALUE", mode: "kv:SEPARATED/INT64/STRING",
			schema: core.Schema{Type: core.SchemaKeyValue, Key: &core.Schema{Type: core.SchemaInt64},
				Value: &core.Schema{Type: core.SchemaString}, KeyValueEncoding: core.KeyValueSeparated},
			values: []any{core.KeyValue{Key: int64(-2), Value: "minus two"}, core.KeyValue{Key: int64(math.MaxInt64), Value: "max ☃"}, core.ValueJSON(`{"key":7,"value":"seven"}`)},
			want: []any{map[string]any{"key": -2, "value": "minus two"}, map[string]any{"key": int64(math.MaxInt64), "value": "max ☃"},
				map[string]any{"key": 7, "value": "seven"}}},
	}
	for _, tc := range cases {
		if tc.schema.Type == core.SchemaBytes {
			tc.schema.Type = schemaTypeNamed(t, tc.regType)
		}
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			topic := broker.NewTopic(t, "schema-"+strings.ToLower(strings.ReplaceAll(tc.name, " ", "-")))
			schema := tc.schema
			p := newProducer(t, c, core.ProducerOptions{Topic: topic, Schema: &schema, BatchingMaxPublishDelay: 50 * time.Millisecond})
			var r recorder
			ctx := context.Background()
			for i, v := range tc.values {
				r.send(ctx, p, core.Message{Value: v}, int64(i))
			}
			if err := p.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			sent := r.wait(t)

			reg := registrySchema(t, topic)
			checkRegistry(t, reg, tc.regType, &schema)
			all := broker.CallJSON(t, http.MethodGet, schemaPath(t, topic)+"/schemas", nil)
			if list, _ := all["getSchemaResponses"].([]any); len(list) != 1 {
				t.Errorf("the registry lists %d versions, want 1: %v", len(list), all)
			}
			version := broker.Int64(reg["version"])
			got := pyConsume(t, topic, len(tc.values), tc.mode)
			for i, g := range got {
				if !jsonEqual(g.Value, tc.want[i]) {
					t.Errorf("message %d: the Python client decoded %s, we sent %s (want %v)", i, g.Value, shown(tc.values[i]), tc.want[i])
				}
				if g.SchemaVersion != version {
					t.Errorf("message %d: the Python client saw schema version %d, the registry says %d", i, g.SchemaVersion, version)
				}
				if tc.schema.KeyValueEncoding == core.KeyValueSeparated && g.Key == nil {
					t.Errorf("message %d: no message key for a SEPARATED key", i)
				}
			}
			for _, s := range []*sentMsg{sent[0], sent[len(sent)-1]} {
				if v, ok := entrySchemaVersion(t, topic, s.id); !ok || v != version {
					t.Errorf("the stored entry of %v has schema version %d (present: %v), the registry says %d", s.id, v, ok, version)
				}
			}
			if tc.schema.KeyValueEncoding == core.KeyValueSeparated {
				// The key is flagged base64 on every message, so that readers
				// decode it: the Java client shows the flag.
				for i, m := range javacheck.Consume(t, topic, len(tc.values), javacheck.Options{}) {
					py, _ := decodeNumbers(got[i].Value)
					kv, _ := py.(map[string]any)
					pyKey := kv["key"]
					k, _ := base64.StdEncoding.DecodeString(m.Key)
					if !m.KeyBase64Encoded || len(k) != 8 || int64(binary.BigEndian.Uint64(k)) != pyKey {
						t.Errorf("message %d: the Java client read key %q (base64 flag %v), the Python client %v", i, m.Key, m.KeyBase64Encoded, pyKey)
					}
				}
			}
		})
	}
}

// schemaTypeNamed maps a registry type name to the API's constant; it
// knows the names independently of the library's own table.
func schemaTypeNamed(t *testing.T, name string) core.SchemaType {
	types := map[string]core.SchemaType{
		"STRING": core.SchemaString, "INT8": core.SchemaInt8, "INT16": core.SchemaInt16, "INT32": core.SchemaInt32,
		"INT64": core.SchemaInt64, "FLOAT": core.SchemaFloat, "DOUBLE": core.SchemaDouble, "BOOLEAN": core.SchemaBoolean,
		"DATE": core.SchemaDate, "TIME": core.SchemaTime, "TIMESTAMP": core.SchemaTimestamp, "INSTANT": core.SchemaInstant,
		"LOCAL_DATE": core.SchemaLocalDate, "LOCAL_TIME": core.SchemaLocalTime, "LOCAL_DATE_TIME": core.SchemaLocalDateTime,
	}
	st, ok := types[name]
	if !ok {
		t.Fatalf("no schema type %s", name)
	}
	return st
}

// TestSchemaVersionsFollowTheRegistry: a second producer with an evolved
// JSON definition registers version 1; the messages of each producer carry
// their own version, as the Python client and the stored entries show.
func TestSchemaVersionsFollowTheRegistry(t *testing.T) {
	c := newClient(t)
	topic := broker.NewTopic(t, "schema-versions")
	defs := []string{pyDefinition(t, "json", "Reading"), pyDefinition(t, "json", "ReadingV2")}
	ctx := context.Background()
	note := "second version"
	var ids []core.MessageID
	for v, def := range defs {
		p := newProducer(t, c, core.ProducerOptions{Topic: topic, Schema: &core.Schema{Type: core.SchemaJSON, Definition: def}})
		for i := range 2 {
			val := any(reading{Name: fmt.Sprintf("v%d-%d", v, i), Count: int64(i)})
			if v == 1 {
				val = readingV2{reading: reading{Name: fmt.Sprintf("v%d-%d", v, i), Count: int64(i)}, Note: &note}
			}
			id, err := p.Send(ctx, &core.Message{Value: val})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		if err := p.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// The registry holds both definitions, as versions 0 and 1.
	all := broker.CallJSON(t, http.MethodGet, schemaPath(t, topic)+"/schemas", nil)
	list, _ := all["getSchemaResponses"].([]any)
	if len(list) != 2 {
		t.Fatalf("the registry lists %d schemas, want 2: %v", len(list), all)
	}
	for v, s := range list {
		m := s.(map[string]any)
		if broker.Int64(m["version"]) != int64(v) || m["type"] != "JSON" || !sameJSONText(t, fmt.Sprint(m["data"]), defs[v]) {
			t.Errorf("registry entry %d: %v, want version %d of type JSON with our definition", v, m, v)
		}
	}
	got := pyConsume(t, topic, 4, "json:ReadingV2")
	for i, g := range got {
		wantVersion := int64(i / 2)
		var rec map[string]any
		if err := json.Unmarshal(g.Value, &rec); err != nil {
			t.Fatal(err)
		}
		wantNote := any(nil)
		if wantVersion == 1 {
			wantNote = note
		}
		if g.SchemaVersion != wantVersion || rec["name"] != fmt.Sprintf("v%d-%d", wantVersion, i%2) || rec["note"] != wantNote {
			t.Errorf("message %d: version %d, value %s; want version %d", i, g.SchemaVersion, g.Value, wantVersion)
		}
		if v, ok := entrySchemaVersion(t, topic, ids[i]); !ok || v != wantVersion {
			t.Errorf("the stored entry of %v has schema version %d (present: %v), want %d", ids[i], v, ok, wantVersion)
		}
	}
}

// schemaPath is the admin path of topic's schema resources.
func schemaPath(t *testing.T, topic string) string {
	t.Helper()
	p, err := broker.TopicPath(topic)
	if err != nil {
		t.Fatal(err)
	}
	return "/admin/v2/schemas/" + strings.TrimPrefix(p, "persistent/")
}

// registrySchema is the topic's latest schema in the registry.
func registrySchema(t *testing.T, topic string) map[string]any {
	t.Helper()
	return broker.CallJSON(t, http.MethodGet, schemaPath(t, topic)+"/schema", nil)
}

// checkRegistry compares the registry's latest schema with ours.
func checkRegistry(t *testing.T, reg map[string]any, wantType string, s *core.Schema) {
	t.Helper()
	if reg["type"] != wantType {
		t.Errorf("the registry has type %v, want %s (%v)", reg["type"], wantType, reg)
	}
	data := fmt.Sprint(reg["data"])
	props, _ := reg["properties"].(map[string]any)
	switch s.Type {
	case core.SchemaJSON, core.SchemaAvro:
		if !sameJSONText(t, data, s.Definition) {
			t.Errorf("the registry has definition %s, we sent %s", data, s.Definition)
		}
	case core.SchemaKeyValue:
		// The admin API shows a KEY_VALUE schema's halves as JSON.
		var halves map[string]any
		if err := json.Unmarshal([]byte(data), &halves); err != nil {
			t.Fatalf("the registry's KEY_VALUE data %q: %v", data, err)
		}
		for _, h := range []struct {
			name string
			s    *core.Schema
		}{{"key", s.Key}, {"value", s.Value}} {
			got := halves[h.name]
			if sub, ok := got.(map[string]any); ok { // a definition, shown as its JSON
				b, _ := json.Marshal(sub)
				got = string(b)
			}
			if h.s.Definition == "" && got != "" || h.s.Definition != "" && !sameJSONText(t, fmt.Sprint(got), h.s.Definition) {
				t.Errorf("the registry's %s half has data %v, we sent %q", h.name, got, h.s.Definition)
			}
		}
		enc := "INLINE"
		if s.KeyValueEncoding == core.KeyValueSeparated {
			enc = "SEPARATED"
		}
		if props["kv.encoding.type"] != enc {
			t.Errorf("the registry's kv.encoding.type is %v, want %s", props["kv.encoding.type"], enc)
		}
	default:
		if data != "" {
			t.Errorf("the registry has data %q for a %s schema", data, wantType)
		}
	}
}

// entryHeaders are the admin API's headers for the stored entry of id
// (get-message-by-id), which describe its metadata.
func entryHeaders(t *testing.T, topic string, id core.MessageID) http.Header {
	t.Helper()
	p, err := broker.TopicPath(topic)
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("%s/admin/v2/%s/ledger/%d/entry/%d", broker.AdminURL(), p, id.LedgerID, id.EntryID)
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: HTTP %d: %s", url, resp.StatusCode, body)
	}
	return resp.Header
}

// entrySchemaVersion reads the schema version stored on the entry of id.
func entrySchemaVersion(t *testing.T, topic string, id core.MessageID) (int64, bool) {
	t.Helper()
	h := entryHeaders(t, topic, id).Get("X-Pulsar-Base64-Schema-Version")
	if h == "" {
		return 0, false
	}
	b, err := base64.StdEncoding.DecodeString(h)
	if err != nil || len(b) != 8 {
		t.Fatalf("X-Pulsar-Base64-Schema-Version %q: %v", h, err)
	}
	return int64(binary.BigEndian.Uint64(b)), true
}

// shown is a sent value as an error message shows it.
func shown(v any) string {
	if j, ok := v.(core.ValueJSON); ok {
		return "ValueJSON(" + string(j) + ")"
	}
	return fmt.Sprintf("%#v", v)
}

// sameJSONText reports whether two JSON texts hold the same value.
func sameJSONText(t *testing.T, a, b string) bool {
	t.Helper()
	var va, vb any
	if json.Unmarshal([]byte(a), &va) != nil || json.Unmarshal([]byte(b), &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

// jsonEqual compares JSON text from Python with a Go value, numbers by
// value: integers exactly (past 2^53 too), others as float64, so that
// Python's 42.0 equals Go's 42.
func jsonEqual(got json.RawMessage, want any) bool {
	wb, err := json.Marshal(want)
	if err != nil {
		return false
	}
	g, err1 := decodeNumbers(got)
	w, err2 := decodeNumbers(wb)
	return err1 == nil && err2 == nil && reflect.DeepEqual(g, w)
}

func decodeNumbers(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return normalizeNumbers(v), nil
}

func normalizeNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if !strings.ContainsAny(string(x), ".eE") {
			if n, err := x.Int64(); err == nil {
				return n
			}
		}
		f, _ := x.Float64()
		if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return int64(f)
		}
		return f
	case []any:
		for i := range x {
			x[i] = normalizeNumbers(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = normalizeNumbers(x[k])
		}
	}
	return v
}
