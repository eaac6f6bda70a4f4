// Logs and stats: what the engine tells the application about itself.
//
// Log records are events (EventLog), made only at or above the client's
// LogLevel and only for rare things: connections opening and closing,
// lookups redirected, producers registered, reconnects with their cause and
// backoff, fencing, send timeouts and protocol errors. Never per message, and
// never with a credential in them. The driver hands them to the language's
// logger (slog in Go, a drained queue in C, logging in Python).
//
// Stats are counters the engine keeps as it goes, per producer and summed
// per client, and a send-to-ack latency histogram over fixed buckets. The
// latency of an entry is measured from its first message's send to its
// receipt, and counts once for every message in the entry.
package engine

import (
	"fmt"
	"time"
)

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// LogRecord is one log record with its structured fields; fields that do
// not apply are empty.
type LogRecord struct {
	Level        LogLevel
	Msg          string
	Topic        string // the topic or partition concerned
	ProducerName string // its producer's name, once the broker assigned it
	Addr         string // the broker address concerned, host:port
	Conn         ConnID // the connection concerned
}

// LatencyBuckets are the upper bounds of the latency histogram's buckets;
// a last, unbounded bucket follows them.
var LatencyBuckets = [...]time.Duration{
	100 * time.Microsecond, 200 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond,
	10 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second,
	30 * time.Second, 60 * time.Second,
}

// Latency is a histogram of send-to-ack latencies.
type Latency struct {
	Counts [len(LatencyBuckets) + 1]int64 // messages per bucket
	Max    time.Duration                  // the largest latency seen
}

func (l *Latency) add(d time.Duration, n int64) {
	i := 0
	for i < len(LatencyBuckets) && d > LatencyBuckets[i] {
		i++
	}
	l.Counts[i] += n
	if d > l.Max {
		l.Max = d
	}
}

func (l *Latency) merge(o *Latency) {
	for i := range l.Counts {
		l.Counts[i] += o.Counts[i]
	}
	l.Max = max(l.Max, o.Max)
}

// Count is the number of messages measured.
func (l *Latency) Count() int64 {
	var n int64
	for _, c := range l.Counts {
		n += c
	}
	return n
}

// Percentile returns the upper bound of the bucket holding the q-th
// quantile (0 < q <= 1), capped at Max; 0 when nothing was measured. The
// result is exact to the bucket: at most the bucket's width above the
// true value, never below it.
func (l *Latency) Percentile(q float64) time.Duration {
	total := l.Count()
	if total == 0 {
		return 0
	}
	rank := int64(q*float64(total) + 0.999999)
	rank = min(max(rank, 1), total)
	var seen int64
	for i, c := range l.Counts {
		seen += c
		if seen >= rank {
			if i < len(LatencyBuckets) && LatencyBuckets[i] < l.Max {
				return LatencyBuckets[i]
			}
			return l.Max
		}
	}
	return l.Max
}

// ProducerStats are one producer's counters since it was created.
type ProducerStats struct {
	MsgsSent     int64 // messages accepted by Send
	BytesSent    int64 // their payload bytes
	MsgsAcked    int64 // messages the broker stored
	BytesAcked   int64
	MsgsFailed   int64 // messages that failed, for whatever reason
	BytesFailed  int64
	PendingMsgs  int64 // accepted and not yet completed
	PendingBytes int64
	Reconnects   int64 // times a partition lost its broker and reconnected
	Latency      Latency
}

func (s *ProducerStats) add(o *ProducerStats) {
	s.MsgsSent += o.MsgsSent
	s.BytesSent += o.BytesSent
	s.MsgsAcked += o.MsgsAcked
	s.BytesAcked += o.BytesAcked
	s.MsgsFailed += o.MsgsFailed
	s.BytesFailed += o.BytesFailed
	s.PendingMsgs += o.PendingMsgs
	s.PendingBytes += o.PendingBytes
	s.Reconnects += o.Reconnects
	s.Latency.merge(&o.Latency)
}

// ClientStats sums the stats of every producer the client has had, and
// counts its connections.
type ClientStats struct {
	ProducerStats
	Producers   int   // producers open now
	Connections int   // broker connections open now
	Connects    int64 // connections opened (handshake completed) so far
}

// ProducerStats reports producer id's counters; ok is false for a producer
// that is closed or was never created.
func (e *Engine) ProducerStats(id ProducerID) (ProducerStats, bool) {
	p := e.producers[id]
	if p == nil {
		return ProducerStats{}, false
	}
	s := p.stats
	s.PendingMsgs, s.PendingBytes = int64(p.pending), p.pendingBytes
	return s, true
}

// ClientStats reports the client's counters: those of every producer it
// has had, open or closed.
func (e *Engine) ClientStats() ClientStats {
	s := ClientStats{ProducerStats: e.closedStats, Connects: e.connects}
	for _, p := range e.producers {
		ps, _ := e.ProducerStats(p.id)
		s.add(&ps)
		s.Producers++
	}
	for _, c := range e.conns {
		if c.state == connReady {
			s.Connections++
		}
	}
	return s
}

// accepted counts a message Send took.
func (p *producer) accepted(size int) {
	p.pending++
	p.pendingBytes += int64(size)
	p.stats.MsgsSent++
	p.stats.BytesSent += int64(size)
}

// completed counts messages that completed without an entry (the open
// batch failing): they leave the pending counts and, failed, the stats.
func (p *producer) completed(count, bytes int, err error) {
	p.pending -= count
	p.pendingBytes -= int64(bytes)
	if err != nil {
		p.stats.MsgsFailed += int64(count)
		p.stats.BytesFailed += int64(bytes)
	}
}

// entryDone counts a completed entry in its producer's stats; release
// takes it out of the pending counts.
func (p *producer) entryDone(ent *entry, err error, now time.Time) {
	if err != nil {
		p.stats.MsgsFailed += int64(ent.count)
		p.stats.BytesFailed += int64(ent.bytes)
		return
	}
	p.stats.MsgsAcked += int64(ent.count)
	p.stats.BytesAcked += int64(ent.bytes)
	p.stats.Latency.add(now.Sub(ent.created), int64(ent.count))
}
