// Reading a topic back with the official Go client, and comparing what it
// holds with what the producer was told.
//
// How this works: readBack opens a reader at the earliest position of the
// topic (all partitions) through the brokers' internal listener, so the
// proxies play no part in it, and reads while HasNext says the broker has
// more. HasNext can say "no" when a lookup fails, so it keeps trying until
// every acknowledged message was seen or a deadline passes: a message still
// missing then is lost. analyze then derives each column of the table from
// the producer's outcome lines and what was read:
//
//   - acked: A (stored at an ID) and D (the broker's deduplication said it
//     already had the message) outcomes;
//   - lost: acked, but the reader never saw it;
//   - duplicated: every copy beyond the first;
//   - out of order: within a partition, a first copy that comes after a
//     first copy of a later message;
//   - an A outcome's ID must be where the reader found the message;
//   - every accepted message has exactly one outcome.
package faults

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/pulsar-producer/pulsar-producer/tests/verify"
)

// stored is one message as the reader found it.
type stored struct {
	i             int // -1: a payload that is not one of ours
	ledger, entry int64
	part, batch   int32
}

// readBack reads topic from its start; done tells it when it has seen
// enough (so that HasNext's "no" can be double-checked).
func readBack(serviceURL, topic string, done func(seen map[int]int) bool, timeout time.Duration) ([]stored, error) {
	client, err := pulsar.NewClient(pulsar.ClientOptions{
		URL: serviceURL, Logger: verify.Logger(),
		OperationTimeout: 30 * time.Second, ConnectionTimeout: 10 * time.Second,
	})
	if err != nil {
		return nil, err
	}
	defer client.Close()
	reader, err := client.CreateReader(pulsar.ReaderOptions{
		Topic: topic, StartMessageID: pulsar.EarliestMessageID(), ReceiverQueueSize: 5000,
	})
	if err != nil {
		return nil, fmt.Errorf("creating a reader on %s: %w", topic, err)
	}
	defer reader.Close()
	var out []stored
	seen := map[int]int{}
	deadline := time.Now().Add(timeout)
	for {
		for reader.HasNext() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			msg, err := reader.Next(ctx)
			cancel()
			if err != nil {
				return out, fmt.Errorf("reading %s after %d messages: %w", topic, len(out), err)
			}
			s := stored{i: -1}
			if p := msg.Payload(); len(p) >= 10 {
				if n, err := strconv.Atoi(string(p[:10])); err == nil {
					s.i = n
				}
			}
			id := msg.ID()
			s.ledger, s.entry, s.part, s.batch = id.LedgerID(), id.EntryID(), id.PartitionIdx(), id.BatchIdx()
			out = append(out, s)
			seen[s.i]++
		}
		if done(seen) || time.Now().After(deadline) {
			return out, nil
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// result is one row of the table, with what is needed to judge it.
type result struct {
	scenario, lang string
	dedup          bool

	attempted, accepted       int
	faults                    int
	faultDesc                 string
	acked, dupAcked           int
	failed, refused           int
	lost, duplicated, ooo     int
	noOutcome, multiOutcome   int
	late, phantom, idMismatch int
	failedButStored           int
	dupOutsideWindow          int
	recoveryExpected          bool
	p99                       time.Duration
	reconnects                int64
	recoveries                []time.Duration
	unrecovered               int
	closes                    []closeInfo
	baseRSS, peakRSS          int64
	proxyUp                   int64
	elapsed                   time.Duration
	failCodes                 map[int]int
	violations                []string
	notes                     []string
}

// analyze fills r from the producer's outcomes, what was read back, and the
// marks taken when each fault was injected.
func analyze(r *result, p *proc, got []stored, marks []mark) {
	p.mu.Lock()
	defer p.mu.Unlock()

	refused := map[int]bool{}
	outcomes := map[int][]outcome{}
	r.failCodes = map[int]int{}
	for _, o := range p.outcomes {
		switch o.kind {
		case 'R':
			refused[o.i] = true
			r.refused++
			r.failCodes[o.code]++
			continue
		case 'A':
			r.acked++
		case 'D':
			r.acked++
			r.dupAcked++
		case 'F':
			r.failed++
			r.failCodes[o.code]++
		}
		outcomes[o.i] = append(outcomes[o.i], o)
	}
	// The sender accepts messages 0, 1, 2, ... in order; a refused one is
	// skipped, so the attempted ones are the accepted plus the refused.
	r.accepted = p.doneSent
	if !p.done {
		r.accepted = len(outcomes) // the sender never finished: judge what we know
	}
	r.attempted = r.accepted + len(refused)
	for i := 0; i < r.attempted; i++ {
		if refused[i] {
			if len(outcomes[i]) > 0 {
				r.multiOutcome++ // refused, and yet it completed
			}
			continue
		}
		switch n := len(outcomes[i]); {
		case n == 0:
			r.noOutcome++
		case n > 1:
			r.multiOutcome++
		}
	}
	for i := range outcomes {
		if i >= r.attempted {
			r.multiOutcome++ // an outcome for a message never sent
		}
	}
	r.late = len(p.late)

	// What the reader found.
	copies := map[int][]stored{}
	firstSeen := map[int32]int{} // partition -> highest first-copy index so far
	for _, s := range got {
		if s.i < 0 || s.i >= r.attempted {
			r.phantom++
			continue
		}
		if len(copies[s.i]) == 0 {
			if hi, ok := firstSeen[s.part]; ok && s.i < hi {
				r.ooo++
			} else {
				firstSeen[s.part] = s.i
			}
		}
		copies[s.i] = append(copies[s.i], s)
	}
	// inFlight: message i was accepted before some fault and completed
	// after it, so a resend after that fault may have written it twice.
	inFlight := func(i int, done int64) bool {
		for _, m := range marks {
			if i < m.accepted && done >= m.t {
				return true
			}
		}
		return false
	}
	for i, os := range outcomes {
		o := os[0]
		c := copies[i]
		switch o.kind {
		case 'A', 'D':
			if len(c) == 0 {
				r.lost++
			}
			if o.kind == 'A' && len(c) > 0 {
				found := false
				for _, s := range c {
					if s.ledger == o.ledger && s.entry == o.entry && (o.part < 0 || s.part == o.part) &&
						(o.batch < 0 || s.batch == o.batch) {
						found = true
					}
				}
				if !found {
					r.idMismatch++
				}
			}
		case 'F':
			if len(c) > 0 {
				r.failedButStored++
			}
		}
		if len(c) > 1 {
			r.duplicated += len(c) - 1
			// A resend can duplicate only a message that was still in
			// flight when a fault began.
			if !inFlight(i, o.t) {
				r.dupOutsideWindow += len(c) - 1
			}
		}
	}
	for i, c := range copies {
		if refused[i] {
			r.phantom += len(c) // refused at once, and yet stored
		}
	}

	// Recovery: from each fault's mark to the first acknowledgement of a
	// message accepted after it; on a partitioned topic, the slowest
	// partition's (a broker's death may hit only some of them).
	byTime := make([]outcome, 0, len(p.outcomes))
	parts := map[int32]bool{}
	for _, o := range p.outcomes {
		if o.kind == 'A' || o.kind == 'D' {
			byTime = append(byTime, o)
		}
		if o.kind == 'A' {
			parts[o.part] = true
		}
	}
	sort.Slice(byTime, func(a, b int) bool { return byTime[a].t < byTime[b].t })
	for _, m := range marks {
		first := map[int32]int64{}
		for _, o := range byTime {
			if o.t < m.t || o.i < m.accepted {
				continue
			}
			if o.kind == 'D' && len(parts) > 1 {
				continue // no partition: it cannot say which one recovered
			}
			if _, ok := first[o.part]; !ok {
				first[o.part] = o.t
			}
			if len(first) == len(parts) || len(parts) <= 1 {
				break
			}
		}
		if len(first) == 0 || len(parts) > 1 && len(first) < len(parts) {
			r.unrecovered++
			continue
		}
		var last int64
		for _, t := range first {
			last = max(last, t)
		}
		r.recoveries = append(r.recoveries, time.Duration(last-m.t)*time.Millisecond)
	}
	if len(p.stats) == 6 {
		r.reconnects = p.stats[3]
		r.p99 = time.Duration(p.stats[4]) * time.Microsecond
	}
	r.closes = append(r.closes, p.closes...)
	if len(p.mem) > 0 {
		r.baseRSS = p.mem[0][1]
		for _, m := range p.mem {
			r.peakRSS = max(r.peakRSS, m[1])
		}
	}
	r.peakRSS = max(r.peakRSS, p.maxRSS)
}

// median of durations (which it sorts).
func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	sort.Slice(d, func(a, b int) bool { return d[a] < d[b] })
	return d[len(d)/2]
}
