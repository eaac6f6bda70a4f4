// The scenarios of the table: what each one does to the cluster or the
// network while the producer publishes, and what it checks beyond the
// targets every scenario shares (judge in faults_test.go).
//
// How this works: a scenario's inject function runs beside the producer. It
// waits for progress (a fraction of the messages acknowledged), injects its
// faults through the cluster script or the proxies, and calls r.fault for
// each, which asks the producer how many messages it had accepted at that
// moment: the recovery time is measured from there to the first
// acknowledgement of a later message. Counts and rates have a short form
// (make test) and a full form (make faults, at least 100k messages each).
package faults

import (
	"context"
	"fmt"
	"time"

	"github.com/pulsar-producer/pulsar-producer/core/engine"
	"github.com/pulsar-producer/pulsar-producer/tests/faultproxy"
)

type scenario struct {
	name, what     string
	count, rate    [2]int // short, full; rate 0: as fast as the producer accepts
	size           int    // payload bytes (default 100)
	partitions     int
	throttle       int64 // bytes per second the proxies let through upstream, for the whole run
	client         map[string]any
	producer       map[string]any
	expectFailures bool // failures are what the scenario provokes
	recovery       bool // every fault must be recovered from
	cShort         bool // the C producer runs in the short table too
	setup          func(r *run)
	inject         func(r *run)
	after          func(r *run)
	check          func(r *run, res *result)
}

func codeName(c int) string { return engine.Code(c).String() }

// pick returns the short or the full value.
func (r *run) pick(short, full int) int {
	if r.full {
		return full
	}
	return short
}

func (r *run) kill(n int) bool {
	if err := r.h.cl.KillBroker(n); err != nil {
		r.violate("kill -9 broker %d: %v", n, err)
		return false
	}
	return true
}

func (r *run) restart(n int) {
	t := time.Now()
	if err := r.h.cl.RestartBroker(n); err != nil {
		r.violate("restarting broker %d: %v", n, err)
		return
	}
	r.note("broker %d back in %s", n, fmtDur(time.Since(t)))
}

func (r *run) ownerNow() int {
	n, err := r.h.cl.Owner(r.topic)
	if err != nil {
		r.violate("looking up the owner of %s: %v", r.topic, err)
		return r.owner
	}
	return n
}

func other(n int) int { return 3 - n }

// closeWithin checks a CLOSE line of the given kind: it returned within
// limit.
func closeWithin(res *result, what string, limit time.Duration) {
	for _, c := range res.closes {
		if c.what != what {
			continue
		}
		res.notes = append(res.notes, fmt.Sprintf("%s close returned in %s", what, fmtDur(time.Duration(c.ms)*time.Millisecond)))
		if time.Duration(c.ms)*time.Millisecond > limit {
			res.violations = append(res.violations, fmt.Sprintf("%s close took %d ms, more than %v", what, c.ms, limit))
		}
		return
	}
	res.violations = append(res.violations, fmt.Sprintf("no %s close was reported", what))
}

// memoryBounded checks that the producer's RSS grew by less than limitMiB
// over the run, and notes the figures.
func memoryBounded(res *result, limitMiB int64) {
	res.notes = append(res.notes, fmt.Sprintf("RSS %d MiB at start, peak %d MiB", res.baseRSS>>10, res.peakRSS>>10))
	if res.baseRSS == 0 {
		res.violations = append(res.violations, "no memory samples")
	} else if grow := (res.peakRSS - res.baseRSS) >> 10; grow > limitMiB {
		res.violations = append(res.violations, fmt.Sprintf("RSS grew by %d MiB, more than %d MiB", grow, limitMiB))
	}
}

func scenarios() []*scenario {
	return []*scenario{
		{
			name: "kill-owner-restart", what: "kill -9 of the broker that owns the topic at 30% of the run, then restart it",
			count: [2]int{10000, 100000}, rate: [2]int{2500, 5000}, recovery: true, cShort: true,
			inject: func(r *run) {
				if !r.progress(0.3) {
					return
				}
				n := r.ownerNow()
				if r.kill(n) {
					r.fault("kill -9 + restart of the owner")
					if r.sleep(time.Second) {
						r.restart(n)
					}
				}
			},
		},
		{
			name: "kill-owner-move", what: "kill -9 of the owner at 30%, not restarted: the topic moves to the other broker; blockIfQueueFull with 2000 pending, so sends block during the outage and must resume",
			count: [2]int{10000, 100000}, rate: [2]int{2500, 5000}, recovery: true,
			producer: map[string]any{"blockIfQueueFull": true, "maxPendingMessages": 2000},
			inject: func(r *run) {
				if !r.progress(0.3) {
					return
				}
				n := r.ownerNow()
				if r.kill(n) {
					r.fault("kill -9 of the owner")
					r.note("moved from broker %d", n)
				}
			},
			after: func(r *run) {
				if n := r.ownerNow(); n == r.owner {
					r.violate("the topic did not move: still on broker %d", n)
				}
			},
		},
		{
			name: "unload-and-move", what: "topic unloads and bundle moves to the other broker, alternating, spread over the run",
			count: [2]int{10000, 100000}, rate: [2]int{2500, 4000}, recovery: true, cShort: true,
			inject: func(r *run) {
				times := r.pick(6, 24)
				every := time.Duration(r.count/r.rate) * time.Second / time.Duration(times+2)
				if !r.progress(0.05) {
					return
				}
				// On a schedule, not a sleep after each: a slow move must
				// not push the last ones past the end of the run.
				start := time.Now()
				for k := 0; k < times; k++ {
					if !r.sleep(time.Until(start.Add(time.Duration(k+1) * every))) {
						return
					}
					if k%2 == 0 {
						if err := r.h.cl.UnloadTopic(r.topic); err != nil {
							r.violate("unload: %v", err)
							continue
						}
						r.fault("unloads")
					} else {
						to := other(r.ownerNow())
						if err := r.h.cl.MoveTopic(r.topic, to); err != nil {
							r.violate("moving to broker %d: %v", to, err)
							continue
						}
						r.fault("bundle moves")
					}
				}
			},
			check: func(r *run, res *result) {
				if want := r.pick(6, 20); res.faults < want {
					res.violations = append(res.violations, fmt.Sprintf("only %d unloads and moves, want at least %d", res.faults, want))
				}
			},
		},
		{
			name: "cut-every-n", what: "every connection through the proxies reset (RST) every second (short) or two (full)",
			count: [2]int{10000, 100000}, rate: [2]int{2500, 5000}, recovery: true, cShort: true,
			inject: func(r *run) {
				every := time.Duration(r.pick(1, 2)) * time.Second
				for r.sleep(every) {
					if r.p.waitFor(0, func() bool { return r.p.done }) {
						return // the sender is done: a cut now measures no recovery
					}
					for _, p := range r.h.proxies {
						p.Cut()
					}
					r.fault("cuts")
				}
			},
		},
		{
			name: "half-close", what: "the proxies send FIN to the producer (it reads EOF, its writes still reach the broker) every second (short) or two (full)",
			count: [2]int{10000, 100000}, rate: [2]int{2500, 5000}, recovery: true,
			inject: func(r *run) {
				every := time.Duration(r.pick(1, 2)) * time.Second
				for r.sleep(every) {
					if r.p.waitFor(0, func() bool { return r.p.done }) {
						return
					}
					for _, p := range r.h.proxies {
						p.HalfClose()
					}
					r.fault("half-closes")
				}
			},
		},
		{
			name: "stall-keepalive", what: "connections stalled (open, silent) at 30%; keepAliveInterval 1 s must detect it",
			count: [2]int{10000, 100000}, rate: [2]int{2500, 5000}, recovery: true,
			client: map[string]any{"keepAliveInterval": 1000},
			inject: func(r *run) {
				if !r.progress(0.3) {
					return
				}
				before := r.h.proxyStats().Accepted
				t := time.Now()
				for _, p := range r.h.proxies {
					p.Stall()
				}
				r.fault("stall")
				// Detected when the producer gives up on the silent
				// connection and connects again.
				for r.h.proxyStats().Accepted == before {
					if !r.sleep(20 * time.Millisecond) {
						r.violate("the stall was never detected")
						return
					}
				}
				d := time.Since(t)
				r.note("stall detected in %s", fmtDur(d))
				// Two silent intervals declare a connection dead; allow one
				// more for the timer's granularity and a loaded machine.
				if d > 3500*time.Millisecond {
					r.violate("the stall was detected after %v, more than 2 x keepAliveInterval (1 s) + 1.5 s", d)
				}
			},
		},
		{
			name: "outage-past-timeout", what: "connections reset and refused for 4 s at 30%, longer than sendTimeout (2 s): what was pending fails with Timeout, and every message sent 1 s after the outage must succeed (no send-timeout storm)",
			count: [2]int{20000, 100000}, rate: [2]int{2500, 5000}, expectFailures: true, cShort: true,
			producer: map[string]any{"sendTimeout": 2000},
			inject: func(r *run) {
				if !r.progress(0.3) {
					return
				}
				for _, p := range r.h.proxies {
					p.Refuse()
					p.Cut()
				}
				r.fault("4 s outage")
				r.sleep(4 * time.Second)
				for _, p := range r.h.proxies {
					p.Accept()
				}
				m, err := r.p.mark()
				if err != nil {
					r.violate("mark: %v", err)
					return
				}
				r.mu.Lock()
				r.afterOutage = m.accepted + r.rate // one second of messages later
				r.mu.Unlock()
			},
			check: func(r *run, res *result) {
				if r.afterOutage == 0 {
					res.violations = append(res.violations, "the outage did not end during the run")
					return
				}
				late, after := 0, 0
				r.p.mu.Lock()
				for _, o := range r.p.outcomes {
					switch {
					case o.i < r.afterOutage:
					case o.kind == 'F' || o.kind == 'R':
						late++
					default:
						after++
					}
				}
				r.p.mu.Unlock()
				if after == 0 {
					res.violations = append(res.violations, "no message was acknowledged after the outage")
				}
				for c := range res.failCodes {
					if c != int(engine.CodeTimeout) {
						res.violations = append(res.violations, fmt.Sprintf("failures other than Timeout: %v", res.failCodes))
						break
					}
				}
				if res.failed == 0 {
					res.violations = append(res.violations, "nothing timed out: the outage did not outlast sendTimeout")
				}
				if late > 0 {
					res.violations = append(res.violations, fmt.Sprintf("send-timeout storm: %d messages sent more than 1 s after the outage failed", late))
				}
				res.notes = append(res.notes, fmt.Sprintf("%d acknowledged and %d failed of those sent 1 s after the outage", after, late))
			},
		},
		{
			name: "throttle-block", what: "a slow broker: 4 MB/s upstream; blockIfQueueFull with 1000 pending, 1 KiB messages sent as fast as accepted",
			count: [2]int{10000, 100000}, rate: [2]int{0, 0}, size: 1024, throttle: 4 << 20, cShort: true,
			client:   map[string]any{"memoryLimitBytes": 4 << 20},
			producer: map[string]any{"blockIfQueueFull": true, "maxPendingMessages": 1000},
			setup: func(r *run) {
				for _, p := range r.h.proxies {
					p.SetThrottle(r.sc.throttle, 0)
				}
				r.faults, r.faultKinds["throttle 4 MB/s"] = 1, 1
			},
			check: func(r *run, res *result) {
				// Backpressure engaged: sending took about as long as the
				// throttle allows, not the moment it takes to queue.
				min := time.Duration(int64(r.count)*1024*int64(time.Second)/r.sc.throttle) * 6 / 10
				if res.elapsed < min {
					res.violations = append(res.violations, fmt.Sprintf("the run took %v, less than %v: the throttle did not hold the producer back", res.elapsed, min))
				}
				memoryBounded(res, 64)
			},
		},
		{
			name: "throttle-failfast", what: "the same slow broker without blockIfQueueFull: sends beyond 1000 pending fail at once",
			count: [2]int{10000, 100000}, rate: [2]int{8000, 8000}, size: 1024, throttle: 4 << 20, expectFailures: true,
			client:   map[string]any{"memoryLimitBytes": 4 << 20},
			producer: map[string]any{"maxPendingMessages": 1000},
			setup: func(r *run) {
				for _, p := range r.h.proxies {
					p.SetThrottle(r.sc.throttle, 0)
				}
				r.faults, r.faultKinds["throttle 4 MB/s"] = 1, 1
			},
			check: func(r *run, res *result) {
				for c := range res.failCodes {
					if c != int(engine.CodeProducerQueueIsFull) && c != int(engine.CodeMemoryBufferIsFull) {
						res.violations = append(res.violations, fmt.Sprintf("failures other than a full queue: %v", res.failCodes))
						break
					}
				}
				if res.failed+res.refused == 0 {
					res.violations = append(res.violations, "no send failed fast: the throttle did not fill the queue")
				}
				if res.failedButStored > 0 {
					res.violations = append(res.violations, fmt.Sprintf("%d messages refused for a full queue were stored", res.failedButStored))
				}
				memoryBounded(res, 64)
			},
		},
		{
			name: "partitions-kill", what: "4 partitions spread over both brokers; kill -9 of broker 2 at 30%, restarted after the run",
			count: [2]int{10000, 100000}, rate: [2]int{2500, 5000}, partitions: 4, recovery: true, cShort: true,
			inject: func(r *run) {
				if !r.progress(0.3) {
					return
				}
				if r.kill(2) {
					r.fault("kill -9 of one of two brokers")
				}
			},
		},
		{
			name: "close-in-reconnect", what: "connections reset and refused at 40%; the producer is closed (3 s timeout) while it reconnects",
			count: [2]int{10000, 100000}, rate: [2]int{2500, 5000}, expectFailures: true, cShort: true,
			inject: func(r *run) {
				if !r.progress(0.4) {
					return
				}
				for _, p := range r.h.proxies {
					p.Refuse()
					p.Cut()
				}
				r.fault("reset + refuse, then close")
				if !r.sleep(500 * time.Millisecond) {
					return
				}
				r.p.send("close-producer 3000")
				if !r.p.waitFor(20*time.Second, func() bool { return len(r.p.closes) > 0 }) {
					r.violate("no close reported within 20 s")
				}
				for _, p := range r.h.proxies {
					p.Accept()
				}
			},
			check: func(r *run, res *result) { closeWithin(res, "producer", 4*time.Second) },
		},
		{
			name: "client-close-in-stall", what: "connections stalled at 40%; the client is closed (operationTimeout 3 s) during the stall",
			count: [2]int{10000, 100000}, rate: [2]int{2500, 5000}, expectFailures: true, cShort: true,
			client: map[string]any{"operationTimeout": 3000},
			inject: func(r *run) {
				if !r.progress(0.4) {
					return
				}
				for _, p := range r.h.proxies {
					p.Stall()
				}
				r.fault("stall, then client close")
				if !r.sleep(300 * time.Millisecond) {
					return
				}
				r.p.send("close-client 3000")
				if !r.p.waitFor(20*time.Second, func() bool { return len(r.p.closes) > 0 }) {
					r.violate("no close reported within 20 s")
				}
			},
			check: func(r *run, res *result) { closeWithin(res, "client", 4500*time.Millisecond) },
		},
		{
			name: "chaos", what: "a random schedule of cut, stall, delay, throttle, half-close and refuse on both proxies (seeded); keepAliveInterval 1 s",
			count: [2]int{10000, 100000}, rate: [2]int{2500, 5000}, recovery: true, cShort: true,
			client: map[string]any{"keepAliveInterval": 1000},
			inject: func(r *run) {
				if !r.progress(0.05) {
					return
				}
				seed := uint64(time.Now().UnixNano())
				r.note("seed %d", seed)
				ctx, cancel := context.WithCancel(r.ctx)
				defer cancel()
				go func() {
					// Stop once every message was sent: later faults would
					// measure no recovery.
					r.p.waitFor(time.Hour, func() bool { return r.p.done || r.p.exited })
					cancel()
				}()
				faultproxy.Chaos(ctx, r.h.proxies[:], faultproxy.ChaosConfig{
					Seed: seed, Interval: time.Duration(r.pick(500, 700)) * time.Millisecond, Hold: 400 * time.Millisecond,
					OnEvent: func(e faultproxy.Event) { r.fault(string(e.Kind)) },
				})
			},
		},
	}
}
