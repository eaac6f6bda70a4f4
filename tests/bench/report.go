// report.go: what the benchmarks and their commands share to take and
// report figures: counting outcomes, the process's CPU time, the median
// round and the machine's load average.
package bench

import (
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// Counter counts callback results.
type Counter struct {
	ok, failed atomic.Int64
	firstErr   atomic.Pointer[error]
}

// Done counts one outcome.
func (c *Counter) Done(err error) {
	if err == nil {
		c.ok.Add(1)
		return
	}
	if c.failed.Add(1) == 1 {
		first := err // a copy, so that only failures allocate
		c.firstErr.Store(&first)
	}
}

// Results are the outcomes so far and the first error.
func (c *Counter) Results() (ok, failed int64, firstErr error) {
	if p := c.firstErr.Load(); p != nil {
		firstErr = *p
	}
	return c.ok.Load(), c.failed.Load(), firstErr
}

// CPUTime is the process's user + system CPU time so far.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Median returns the round with the median rate (rate gives a round's).
func Median[R any](rounds []R, rate func(R) float64) R {
	rounds = slices.Clone(rounds)
	slices.SortFunc(rounds, func(a, b R) int {
		switch {
		case rate(a) < rate(b):
			return -1
		case rate(a) > rate(b):
			return 1
		}
		return 0
	})
	return rounds[len(rounds)/2]
}

// LoadAverage is the first n fields of /proc/loadavg, or "" where the
// system does not show it: on a busy machine the throughput figures drop
// and spread, while the CPU per message is steadier.
func LoadAverage(n int) string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(n, len(f))], " ")
}
