// Command ppfeaturebench compares this project's producer with the
// official Go client on chunking and key-based batching, and measures what
// schema-encoded values cost over raw payloads; make bench runs it.
//
// How this works: every scenario of package bench (features.go) runs
// -rounds times per client against a fresh in-process fake broker,
// alternating clients, and the median round by throughput is printed with
// the ratios and the load average (other work on the machine lowers and
// spreads throughput; CPU per message or per byte is steadier). -v prints
// every round.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/pulsar-producer/pulsar-producer/tests/bench"
)

func main() {
	chunkN := flag.Int("chunk-n", 100, "10 MiB messages per chunking round")
	keyN := flag.Int("key-n", 1_000_000, "messages per key-based batching round")
	schemaN := flag.Int("schema-n", 1_000_000, "messages per schema round")
	rounds := flag.Int("rounds", 3, "rounds per client and scenario; the median is reported")
	verbose := flag.Bool("v", false, "print every round")
	flag.Parse()
	if *chunkN <= 0 || *keyN <= 0 || *schemaN <= 0 || *rounds <= 0 {
		fmt.Fprintln(os.Stderr, "ppfeaturebench: counts and -rounds must be positive")
		os.Exit(2)
	}
	run := func(scs []bench.Scenario, kinds []bench.Client, n int) [][]bench.FeatureResult {
		out := make([][]bench.FeatureResult, len(scs)*len(kinds))
		for range *rounds {
			for i, sc := range scs {
				for j, kind := range kinds {
					res, err := bench.RunScenario(kind, sc, n, bench.Hooks{})
					if err != nil {
						fmt.Fprintln(os.Stderr, "ppfeaturebench:", err)
						os.Exit(1)
					}
					if *verbose {
						fmt.Println("ppfeaturebench: round:", res)
					}
					out[i*len(kinds)+j] = append(out[i*len(kinds)+j], res)
				}
			}
		}
		meds := make([][]bench.FeatureResult, len(out))
		for i, rs := range out {
			meds[i] = []bench.FeatureResult{bench.Median(rs, bench.FeatureResult.MsgsPerSec)}
		}
		return meds
	}
	both := []bench.Client{bench.Native, bench.GoClient}

	m := run([]bench.Scenario{bench.Chunked()}, both, *chunkN)
	nat, goc := m[0][0], m[1][0]
	fmt.Printf("ppfeaturebench: chunking, 10 MiB messages in 3 chunks: native %.0f MB/s %.2f cpu-s/GB %.0f allocs/msg | go-client %.0f MB/s %.2f cpu-s/GB %.0f allocs/msg | native/go-client: %.2fx throughput, %.2fx less CPU per byte (median of %d rounds of %d messages%s)\n",
		nat.MBPerSec(), cpuPerGB(nat), nat.AllocsPerMsg(), goc.MBPerSec(), cpuPerGB(goc), goc.AllocsPerMsg(),
		nat.MBPerSec()/goc.MBPerSec(), cpuPerGB(goc)/cpuPerGB(nat), *rounds, *chunkN, loadNote())

	m = run([]bench.Scenario{bench.KeyBased()}, both, *keyN)
	nat, goc = m[0][0], m[1][0]
	fmt.Printf("ppfeaturebench: key-based batching, %d keys: native %.2fM msgs/s %.2f cpu-s/Mmsg %.2f allocs/msg | go-client %.2fM msgs/s %.2f cpu-s/Mmsg %.2f allocs/msg | native/go-client: %.2fx throughput, %.2fx less CPU per message (median of %d rounds of %d %dB messages%s)\n",
		bench.KeyCount, nat.MsgsPerSec()/1e6, nat.CPUSecPerMillion(), nat.AllocsPerMsg(),
		goc.MsgsPerSec()/1e6, goc.CPUSecPerMillion(), goc.AllocsPerMsg(),
		nat.MsgsPerSec()/goc.MsgsPerSec(), goc.CPUSecPerMillion()/nat.CPUSecPerMillion(), *rounds, *keyN, bench.PayloadSize, loadNote())

	m = run([]bench.Scenario{bench.SchemaRaw(), bench.SchemaString(), bench.SchemaJSON()}, []bench.Client{bench.Native}, *schemaN)
	raw := m[0][0]
	var b strings.Builder
	fmt.Fprintf(&b, "ppfeaturebench: schema values, native: raw payload %.0f ns/msg %.2f cpu-s/Mmsg %.2f allocs/msg", raw.NsPerMsg(), raw.CPUSecPerMillion(), raw.AllocsPerMsg())
	for _, r := range []bench.FeatureResult{m[1][0], m[2][0]} {
		fmt.Fprintf(&b, " | %s %.0f ns/msg %.2f cpu-s/Mmsg %.2f allocs/msg (%.2fx the raw CPU per message)",
			strings.TrimPrefix(r.Scenario, "schema-"), r.NsPerMsg(), r.CPUSecPerMillion(), r.AllocsPerMsg(), r.CPUSecPerMillion()/raw.CPUSecPerMillion())
	}
	fmt.Fprintf(&b, " (median of %d rounds of %d %dB values%s)\n", *rounds, *schemaN, bench.PayloadSize, loadNote())
	fmt.Print(b.String())
}

// cpuPerGB is the CPU-seconds spent per 10^9 payload bytes.
func cpuPerGB(r bench.FeatureResult) float64 { return r.CPU.Seconds() / (float64(r.Bytes) / 1e9) }

// loadNote is the load average at the end, as "; load average X", if the
// system shows it.
func loadNote() string {
	if l := bench.LoadAverage(1); l != "" {
		return "; load average " + l
	}
	return ""
}
