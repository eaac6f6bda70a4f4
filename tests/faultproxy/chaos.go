package faultproxy

// Chaos: a random schedule of faults over several proxies.
//
// How this works: every Interval on average (uniformly between half and one
// and a half of it), Chaos picks one fault kind with a seeded random source,
// injects it into every proxy it was given (so the fault always hits the
// connections in use, whichever broker they lead to), and undoes the timed
// ones (delay, throttle, refuse) after Hold. A stall is not undone: the client must notice the
// silent connection itself (keepalive) and reconnect. The same seed gives
// the same schedule, so a failing run can be repeated.

import (
	"context"
	"math/rand/v2"
	"time"
)

// Kind is a fault kind.
type Kind string

// The fault kinds.
const (
	KindCut       Kind = "cut"
	KindStall     Kind = "stall"
	KindDelay     Kind = "delay"
	KindThrottle  Kind = "throttle"
	KindHalfClose Kind = "half-close"
	KindRefuse    Kind = "refuse"
)

// AllKinds lists every fault kind.
var AllKinds = []Kind{KindCut, KindStall, KindDelay, KindThrottle, KindHalfClose, KindRefuse}

// ChaosConfig configures Chaos.
type ChaosConfig struct {
	Seed     uint64
	Interval time.Duration // mean time between faults (default 1 s)
	Hold     time.Duration // how long delay, throttle and refuse last (default Interval/2)
	Kinds    []Kind        // default AllKinds
	Delay    time.Duration // the added latency of a delay fault (default 50 ms)
	Rate     int64         // the bytes per second of a throttle fault, each way (default 64 KiB)
	// OnEvent, if set, is called right after each fault is injected.
	OnEvent func(Event)
}

// Event is one injected fault.
type Event struct {
	At    time.Time
	Kind  Kind
	Conns int // connections it hit (cut, stall, half-close), over all proxies
}

// Chaos injects random faults into the proxies until ctx ends, then undoes
// any timed fault still in force and returns what it injected.
func Chaos(ctx context.Context, proxies []*Proxy, cfg ChaosConfig) []Event {
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.Hold <= 0 {
		cfg.Hold = cfg.Interval / 2
	}
	if len(cfg.Kinds) == 0 {
		cfg.Kinds = AllKinds
	}
	if cfg.Delay <= 0 {
		cfg.Delay = 50 * time.Millisecond
	}
	if cfg.Rate <= 0 {
		cfg.Rate = 64 << 10
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	var events []Event
	type undo struct {
		at time.Time
		do func()
	}
	var undos []undo
	runUndos := func(all bool) {
		kept := undos[:0]
		for _, u := range undos {
			if all || !time.Now().Before(u.at) {
				u.do()
			} else {
				kept = append(kept, u)
			}
		}
		undos = kept
	}
	defer runUndos(true)
	for {
		wait := cfg.Interval/2 + time.Duration(rng.Int64N(int64(cfg.Interval)+1))
		select {
		case <-ctx.Done():
			return events
		case <-time.After(wait):
		}
		runUndos(false)
		kind := cfg.Kinds[rng.IntN(len(cfg.Kinds))]
		ev := Event{At: time.Now(), Kind: kind}
		for _, p := range proxies {
			switch kind {
			case KindCut:
				ev.Conns += p.Cut()
			case KindStall:
				ev.Conns += p.Stall()
			case KindHalfClose:
				ev.Conns += p.HalfClose()
			case KindDelay:
				p.SetDelay(cfg.Delay)
				undos = append(undos, undo{time.Now().Add(cfg.Hold), func() { p.SetDelay(0) }})
			case KindThrottle:
				p.SetThrottle(cfg.Rate, cfg.Rate)
				undos = append(undos, undo{time.Now().Add(cfg.Hold), func() { p.SetThrottle(0, 0) }})
			case KindRefuse:
				p.Refuse()
				undos = append(undos, undo{time.Now().Add(cfg.Hold), func() { _ = p.Accept() }})
			}
		}
		events = append(events, ev)
		if cfg.OnEvent != nil {
			cfg.OnEvent(ev)
		}
	}
}
