package bench

// Go benchmarks over RunScenario (one op = one message; both clients in
// the same run where the Go client has the feature) and, for the schema
// encodings, over the engine's EncodeValue alone. Recommended:
//
//	go test -run XXX -bench 'Chunked' -benchtime 100x ./bench
//	go test -run XXX -bench 'KeyBased|SchemaSend' -benchtime 1000000x ./bench
//	go test -run XXX -bench 'EncodeValue' ./bench
//
// cmd/ppfeaturebench prints the same comparisons as medians and ratios.

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/pulsar-producer/pulsar-producer/core/engine"
)

func benchScenario(b *testing.B, kind Client, sc Scenario) {
	b.ReportAllocs()
	b.SetBytes(int64(sc.Bytes))
	res, err := RunScenario(kind, sc, b.N, Hooks{Start: b.ResetTimer, Stop: b.StopTimer})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(res.MsgsPerSec(), "msgs/s")
	b.ReportMetric(res.CPUSecPerMillion(), "cpu-s/Mmsg")
}

// BenchmarkChunked: 10 MiB messages in 3 chunks each.
func BenchmarkChunked(b *testing.B) {
	b.Run("native", func(b *testing.B) { benchScenario(b, Native, Chunked()) })
	b.Run("go-client", func(b *testing.B) { benchScenario(b, GoClient, Chunked()) })
}

// BenchmarkKeyBased: 100-byte messages over 100 keys, batched by key.
func BenchmarkKeyBased(b *testing.B) {
	b.Run("native", func(b *testing.B) { benchScenario(b, Native, KeyBased()) })
	b.Run("go-client", func(b *testing.B) { benchScenario(b, GoClient, KeyBased()) })
}

// BenchmarkSchemaSend: the same 100-byte messages as raw payloads, STRING
// values and JSON-schema Go structs, end to end.
func BenchmarkSchemaSend(b *testing.B) {
	b.Run("raw", func(b *testing.B) { benchScenario(b, Native, SchemaRaw()) })
	b.Run("string", func(b *testing.B) { benchScenario(b, Native, SchemaString()) })
	b.Run("json-struct", func(b *testing.B) { benchScenario(b, Native, SchemaJSON()) })
}

// BenchmarkEncodeValue: the engine's value encoding alone, per value;
// json-struct adds the encoding/json marshaling the Go API does first.
func BenchmarkEncodeValue(b *testing.B) {
	text := strings.Repeat("abcdefghijklmnopqrstuvwxyz", 4)[:PayloadSize]
	rec := schemaRecord{Name: "reading", Count: 123456789, Ratio: 0.25, OK: true, Note: text[:38]}
	recJSON, _ := json.Marshal(rec)
	str := &engine.Schema{Type: engine.SchemaString}
	js := &engine.Schema{Type: engine.SchemaJSON, Definition: schemaRecordDefinition}
	run := func(name string, f func() error) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(PayloadSize)
			for range b.N {
				if err := f(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	run("string", func() error { _, _, _, err := engine.EncodeValue(str, text); return err })
	run("json-text", func() error { _, _, _, err := engine.EncodeValue(js, engine.ValueJSON(recJSON)); return err })
	run("json-struct", func() error {
		j, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		_, _, _, err = engine.EncodeValue(js, engine.ValueJSON(j))
		return err
	})
}

func TestScenariosSmall(t *testing.T) {
	for _, tc := range []struct {
		sc    Scenario
		n     int
		kinds []Client
	}{
		{Chunked(), 3, []Client{Native, GoClient}},
		{KeyBased(), 5000, []Client{Native, GoClient}},
		{SchemaRaw(), 5000, []Client{Native}},
		{SchemaString(), 5000, []Client{Native}},
		{SchemaJSON(), 5000, []Client{Native}},
	} {
		for _, kind := range tc.kinds {
			res, err := RunScenario(kind, tc.sc, tc.n, Hooks{})
			if err != nil {
				t.Fatal(err)
			}
			t.Log(res)
		}
	}
}
