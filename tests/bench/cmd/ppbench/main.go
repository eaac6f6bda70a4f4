// Command ppbench compares this project's native producer with the
// official Go client against the in-process fake broker and prints one
// summary line (make bench runs it).
//
// How this works: it runs bench.Run for each client -rounds times with -n
// messages each, alternating clients, keeps each client's median round by
// throughput, and prints both and the ratios, with the load average, since
// other work on the machine lowers and spreads the throughput figures (CPU
// per message is steadier). Every round starts a fresh fake broker and
// client; -v prints every round.
package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/pulsar-producer/pulsar-producer/tests/bench"
)

func main() {
	n := flag.Int("n", 2_000_000, "messages per round")
	rounds := flag.Int("rounds", 3, "rounds per client; the median is reported")
	verbose := flag.Bool("v", false, "print every round")
	flag.Parse()
	if *n <= 0 || *rounds <= 0 {
		fmt.Fprintln(os.Stderr, "ppbench: -n and -rounds must be positive")
		os.Exit(2)
	}
	results := map[bench.Client][]bench.Result{}
	for range *rounds {
		for _, kind := range []bench.Client{bench.Native, bench.GoClient} {
			res, err := bench.Run(kind, *n, bench.Hooks{})
			if err != nil {
				fmt.Fprintln(os.Stderr, "ppbench:", err)
				os.Exit(1)
			}
			if *verbose {
				fmt.Println("ppbench: round:", res)
			}
			results[kind] = append(results[kind], res)
		}
	}
	nat, goc := median(results[bench.Native]), median(results[bench.GoClient])
	fmt.Printf("ppbench: native %.2fM msgs/s %.2f cpu-s/Mmsg %.2f allocs/msg | go-client %.2fM msgs/s %.2f cpu-s/Mmsg %.2f allocs/msg | native/go-client: %.2fx throughput, %.2fx less CPU per message (median of %d rounds of %d %dB messages%s)\n",
		nat.MsgsPerSec()/1e6, nat.CPUSecPerMillion(), nat.AllocsPerMsg(),
		goc.MsgsPerSec()/1e6, goc.CPUSecPerMillion(), goc.AllocsPerMsg(),
		nat.MsgsPerSec()/goc.MsgsPerSec(), goc.CPUSecPerMillion()/nat.CPUSecPerMillion(),
		*rounds, *n, bench.PayloadSize, loadNote())
}

// median returns the round with the median throughput.
func median(rs []bench.Result) bench.Result {
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b bench.Result) int {
		switch {
		case a.MsgsPerSec() < b.MsgsPerSec():
			return -1
		case a.MsgsPerSec() > b.MsgsPerSec():
			return 1
		}
		return 0
	})
	return rs[len(rs)/2]
}

// loadNote reports the load average at the end, if the system shows it:
// on a busy machine the throughput figures drop and spread, while the CPU
// per message is steadier.
func loadNote() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return ""
	}
	return "; load average " + f[0]
}
