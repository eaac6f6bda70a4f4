// Parse against the engine's own parser, and Append against Parse.
package optjson

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pulsar-producer/pulsar-producer/core/engine"
)

// reference parses js with the engine's parser and the scope rule.
func reference(js []byte, scope string) (engine.ClientOptions, engine.ProducerOptions, error) {
	var c engine.ClientOptions
	var p engine.ProducerOptions
	if err := engine.ParseOptionsJSON(js, &c, &p); err != nil {
		return c, p, err
	}
	var keys map[string]json.RawMessage
	if json.Unmarshal(js, &keys) == nil {
		for name := range keys {
			if spec, _ := find(name); spec != nil && spec.Scope != scope {
				return c, p, invalid("an option of the other scope")
			}
		}
	}
	return c, p, nil
}

// compare parses js both ways and reports a difference; exact texts are
// compared when wantSameText is set.
func compare(t *testing.T, js []byte, scope string, wantSameText bool) {
	t.Helper()
	rc, rp, rerr := reference(js, scope)
	var c engine.ClientOptions
	var p engine.ProducerOptions
	err := Parse(js, scope, &c, &p)
	if (err == nil) != (rerr == nil) {
		t.Fatalf("%s options %q: Parse says %v, the engine %v", scope, js, err, rerr)
	}
	if err != nil {
		if engine.CodeOf(err) != engine.CodeInvalidConfiguration {
			t.Fatalf("%q: code %v", js, engine.CodeOf(err))
		}
		if wantSameText && err.Error() != rerr.Error() {
			t.Fatalf("%q: Parse says %q, the engine %q", js, err, rerr)
		}
		return
	}
	if !reflect.DeepEqual(c, rc) || !reflect.DeepEqual(p, rp) {
		t.Fatalf("%q: Parse gives %+v %+v, the engine %+v %+v", js, c, p, rc, rp)
	}
}

func TestParseAsTheEngine(t *testing.T) {
	for _, js := range []string{
		``, ` `, `{}`, `{"connectionTimeout":1500,"operationTimeout":2000,"keepAliveInterval":0}`,
		`{"memoryLimitBytes":-1,"maxLookupRedirects":3,"listenerName":"internal \"x\" \u00e9\ud83d\ude00"}`,
		`{"initialBackoff":100,"maxBackoff":60000}`, ` {"connectionTimeout" : 10 } `,
		`{"connectionTimeout":1,"connectionTimeout":2}`,
	} {
		compare(t, []byte(js), Client, true)
	}
	for _, js := range []string{
		`{"producerName":"p","properties":{"a":"b","c":""},"sendTimeout":0,"maxPendingMessages":10}`,
		`{"blockIfQueueFull":true,"disableBatching":false,"batchingMaxMessages":1000,"batchingMaxBytes":131072}`,
		`{"batchingMaxPublishDelay":10,"compressionType":"LZ4","initialSequenceId":-7,"routingMode":"roundRobin"}`,
		`{"hashingScheme":"murmur3_32Hash","accessMode":"exclusive","properties":{}}`,
	} {
		compare(t, []byte(js), Producer, true)
	}
	// One problem each: the texts must be the engine's.
	for _, js := range []string{
		`{"noSuchOption":1}`, `{"operationTimeout":"soon"}`, `{"operationTimeout":1.5}`,
		`{"operationTimeout":1e3}`, `{"operationTimeout":null}`, `{"operationTimeout":[1]}`,
		`{"operationTimeout":{}}`, `{"operationTimeout":true}`, `{"operationTimeout":9223372036854775807}`,
		`{"operationTimeout":99999999999999999999}`, `{"listenerName":5}`, `null`,
	} {
		compare(t, []byte(js), Client, true)
	}
	for _, js := range []string{
		`{"compressionType":"brotli"}`, `{"compressionType":3}`, `{"blockIfQueueFull":"yes"}`,
		`{"properties":{"a":1}}`, `{"properties":[]}`, `{"properties":"x"}`,
	} {
		compare(t, []byte(js), Producer, true)
	}
	// Syntax errors: both refuse, in their own words.
	for _, js := range []string{
		`{"connectionTimeout":`, `[1,2]`, `"x"`, `12`, `{"a"}`, `{"a":1,}`, `{,}`, `{"a":01}`,
		`{"a":-}`, `{"a":1.}`, `{"a":"\x"}`, `{"a":"\u12"}`, "{\"a\":\"\x01\"}", `{} {}`, `{"a":tru}`,
		`{"listenerName":"x` + strings.Repeat("[", 100) + `"}`, strings.Repeat("[", 100) + strings.Repeat("]", 100),
	} {
		compare(t, []byte(js), Client, false)
	}
}

func TestScope(t *testing.T) {
	var c engine.ClientOptions
	var p engine.ProducerOptions
	err := Parse([]byte(`{"batchingMaxMessages":10}`), Client, &c, &p)
	if err == nil || !strings.Contains(err.Error(), `"batchingMaxMessages" is a producer option`) {
		t.Fatalf("a producer option for the client: %v", err)
	}
	err = Parse([]byte(`{"keepAliveInterval":5}`), Producer, &c, &p)
	if err == nil || !strings.Contains(err.Error(), `"keepAliveInterval" is a client option`) {
		t.Fatalf("a client option for a producer: %v", err)
	}
}

func TestAppendRoundTrip(t *testing.T) {
	seq := int64(42)
	c := engine.ClientOptions{ConnectionTimeout: 1500 * time.Millisecond, MemoryLimitBytes: -1, ListenerName: "l\"\n\x7f\xff",
		KeepAliveInterval: -time.Microsecond}
	p := engine.ProducerOptions{ProducerName: "é😀", Properties: map[string]string{"b": "2", "a": "\\"}, BlockIfQueueFull: true,
		BatchingMaxPublishDelay: 10 * time.Millisecond, CompressionType: engine.CompressionZSTD, InitialSequenceID: &seq,
		AccessMode: engine.AccessExclusive}
	cj, err := Append(nil, Client, &c, &p)
	if err != nil {
		t.Fatal(err)
	}
	pj, err := Append(nil, Producer, &c, &p)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(cj) || !json.Valid(pj) {
		t.Fatalf("not JSON: %s %s", cj, pj)
	}
	var c2 engine.ClientOptions
	var p2 engine.ProducerOptions
	if err := Parse(cj, Client, &c2, &p2); err != nil {
		t.Fatal(err)
	}
	if err := Parse(pj, Producer, &c2, &p2); err != nil {
		t.Fatal(err)
	}
	c.ListenerName = "l\"\n\x7f\uFFFD"      // invalid UTF-8 cannot cross
	c.KeepAliveInterval = -time.Millisecond // negative stays negative
	if !reflect.DeepEqual(c, c2) || !reflect.DeepEqual(p, p2) {
		t.Fatalf("round trip:\n%+v\n%+v\nbecame\n%+v\n%+v\nvia %s %s", c, p, c2, p2, cj, pj)
	}
	if empty, err := Append(nil, Client, &engine.ClientOptions{}, &p); err != nil || len(empty) != 0 {
		t.Fatalf("no options: %q, %v", empty, err)
	}
	if _, err := Append(nil, Producer, &c, &engine.ProducerOptions{SendTimeout: time.Microsecond}); err == nil {
		t.Fatal("a sub-millisecond duration was encoded")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{`{"connectionTimeout":10}`, `{"properties":{"a":"b"}}`, `{"compressionType":"lz4"}`, `[]`, `{"a":"\u00e9"}`} {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, js []byte, producer bool) {
		// The engine's decoder stops after the first value and accepts a
		// stray closing bracket after it; Parse refuses any trailing byte.
		dec := json.NewDecoder(bytes.NewReader(js))
		var v any
		if dec.Decode(&v) == nil {
			if rest := bytes.TrimLeft(js[dec.InputOffset():], " \t\r\n"); len(rest) > 0 && (rest[0] == '}' || rest[0] == ']') {
				return
			}
		}
		scope := Client
		if producer {
			scope = Producer
		}
		compare(t, js, scope, false)
	})
}
