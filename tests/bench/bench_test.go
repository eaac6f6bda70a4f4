package bench

// Go benchmarks over Run: one message per b.N, both clients in the same
// run so that their figures are comparable. Recommended:
//
//	go test -bench . -run XXX -benchtime 2000000x -count 3 ./bench
//
// Besides ns/op and allocs/op each reports msgs/s and cpu-s/Mmsg, the
// CPU-seconds of the whole process (client and in-process fake broker) per
// million messages.

import "testing"

func benchmark(b *testing.B, kind Client) {
	b.ReportAllocs()
	res, err := Run(kind, b.N, Hooks{Start: b.ResetTimer, Stop: b.StopTimer})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(res.MsgsPerSec(), "msgs/s")
	b.ReportMetric(res.CPUSecPerMillion(), "cpu-s/Mmsg")
}

// BenchmarkNativeProducer measures this project's core producer.
func BenchmarkNativeProducer(b *testing.B) { benchmark(b, Native) }

// BenchmarkGoClientProducer measures pulsar-client-go v0.19.0.
func BenchmarkGoClientProducer(b *testing.B) { benchmark(b, GoClient) }

func TestRunSmall(t *testing.T) {
	for _, kind := range []Client{Native, GoClient} {
		res, err := Run(kind, 20000, Hooks{})
		if err != nil {
			t.Fatal(err)
		}
		t.Log(res)
	}
}
