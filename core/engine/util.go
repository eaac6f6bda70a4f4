// Small helpers: integer formatting, time conversion and the engine's own
// random numbers (it may not read the clock or the OS entropy source, so the
// driver seeds it).
package engine

import (
	"strconv"
	"time"
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// unixMillis converts t to milliseconds since the epoch; zero stays zero.
func unixMillis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// rng is xorshift64*: deterministic for a given seed, which tests use.
type rng uint64

func (r *rng) next() uint64 {
	x := uint64(*r)
	if x == 0 {
		x = 0x9e3779b97f4a7c15
	}
	x ^= x >> 12
	x ^= x << 25
	x ^= x >> 27
	*r = rng(x)
	return x * 0x2545f4914f6cdd1d
}

// float returns a number in [0, 1).
func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

// intn returns a number in [0, n).
func (r *rng) intn(n int) int { return int(r.next() % uint64(n)) }

// backoff doubles a delay per failure up to a cap, with up to 20% jitter
// taken off so that many producers reconnecting at once spread out.
type backoff struct {
	initial, max, next time.Duration
}

func (b *backoff) reset() { b.next = 0 }

func (b *backoff) delay(r *rng) time.Duration {
	if b.next == 0 {
		b.next = b.initial
	}
	d := b.next
	b.next *= 2
	if b.next > b.max || b.next <= 0 {
		b.next = b.max
	}
	return d - time.Duration(float64(d)*0.2*r.float())
}
