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
	nat, goc := bench.Median(results[bench.Native], bench.Result.MsgsPerSec), bench.Median(results[bench.GoClient], bench.Result.MsgsPerSec)
	fmt.Printf("ppbench: native %.2fM msgs/s %.2f cpu-s/Mmsg %.2f allocs/msg | go-client %.2fM msgs/s %.2f cpu-s/Mmsg %.2f allocs/msg | native/go-client: %.2fx throughput, %.2fx less CPU per message (median of %d rounds of %d %dB messages%s)\n",
		nat.MsgsPerSec()/1e6, nat.CPUSecPerMillion(), nat.AllocsPerMsg(),
		goc.MsgsPerSec()/1e6, goc.CPUSecPerMillion(), goc.AllocsPerMsg(),
		nat.MsgsPerSec()/goc.MsgsPerSec(), goc.CPUSecPerMillion()/nat.CPUSecPerMillion(),
		*rounds, *n, bench.PayloadSize, loadNote())
}

// loadNote is the load average at the end, as "; load average X", if the
// system shows it.
func loadNote() string {
	if l := bench.LoadAverage(1); l != "" {
		return "; load average " + l
	}
	return ""
}
