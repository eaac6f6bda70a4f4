// Command producer is the Go producer of the fault scenarios: it publishes
// numbered messages with core.SendAsync at a set rate and prints every
// outcome, so that the harness (package faults) can check that each
// accepted message got exactly one outcome and compare the acknowledged ones
// with what an independent consumer reads back.
//
// How this works: message i's payload starts with i as 10 decimal digits
// (padded to -size bytes). A sender goroutine paces the sends; callbacks
// print one line per outcome; a stdin reader takes commands from the
// harness; a sampler prints the process's RSS. Every line starts with a
// letter and the milliseconds since start (a monotonic clock), and the
// C producer (testdata/faults_producer.c) prints the same lines:
//
//	READY t name partitions          the producer is registered
//	A t i ledger entry part batch    message i stored at that ID
//	D t i                            message i recognised as a duplicate (stored once)
//	F t i code                       message i failed with that result code
//	M t accepted                     reply to "mark": messages accepted so far
//	MEM t rssKiB                     resident memory, every 200 ms
//	DONE t sent                      the sender stopped after sent messages
//	CLOSE t what ms code pending     a close (producer, client) took ms, returned code,
//	                                 and left pending messages unsettled
//	LATE t i                         an outcome after Close returned (a bug)
//	STATS t sent acked failed reconnects p99us connects
//	EXIT t maxRssKiB
//
// Commands on stdin: "mark", "close-producer MS", "close-client MS". Without
// a close command the program flushes and closes everything after the last
// message.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pulsar-producer/pulsar-producer/core"
	"github.com/pulsar-producer/pulsar-producer/core/engine"
)

var (
	start = time.Now()
	outMu sync.Mutex
	out   = bufio.NewWriterSize(os.Stdout, 1<<16)
)

func ms() int64 { return time.Since(start).Milliseconds() }

func emit(format string, args ...any) {
	outMu.Lock()
	fmt.Fprintf(out, format+"\n", args...)
	outMu.Unlock()
}

func flush() {
	outMu.Lock()
	out.Flush()
	outMu.Unlock()
}

// procStatus reads a field of /proc/self/status in KiB.
func procStatus(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return n
		}
	}
	return -1
}

func main() {
	url := flag.String("url", "", "service URL")
	topic := flag.String("topic", "", "topic")
	count := flag.Int("count", 1000, "messages to send")
	rate := flag.Int("rate", 0, "messages per second (0: as fast as accepted)")
	size := flag.Int("size", 100, "payload bytes (at least 10)")
	clientJSON := flag.String("client", "", "client options as JSON")
	producerJSON := flag.String("producer", "", "producer options as JSON")
	flag.Parse()
	if err := run(*url, *topic, *count, *rate, max(*size, 10), *clientJSON, *producerJSON); err != nil {
		emit("ERROR %d %s", ms(), strings.ReplaceAll(err.Error(), "\n", " "))
		flush()
		os.Exit(1)
	}
}

func run(url, topic string, count, rate, size int, clientJSON, producerJSON string) error {
	copts := core.ClientOptions{ServiceURL: url}
	popts := core.ProducerOptions{Topic: topic}
	if err := engine.ParseOptionsJSON([]byte(clientJSON), &copts, nil); err != nil {
		return err
	}
	if err := engine.ParseOptionsJSON([]byte(producerJSON), nil, &popts); err != nil {
		return err
	}
	client, err := core.NewClient(copts)
	if err != nil {
		return err
	}
	ctx := context.Background()
	producer, err := client.CreateProducer(ctx, popts)
	if err != nil {
		client.Close()
		return fmt.Errorf("creating the producer: %w", err)
	}
	emit("READY %d %s %d", ms(), producer.Name(), producer.NumPartitions())
	flush()

	stopSampler := make(chan struct{})
	samplerDone := make(chan struct{})
	go func() {
		defer close(samplerDone)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stopSampler:
				return
			case <-t.C:
				emit("MEM %d %d", ms(), procStatus("VmRSS"))
				flush()
			}
		}
	}()

	var (
		accepted  atomic.Int64
		outcomes  atomic.Int64
		closedNow atomic.Bool // set once a Close returned: later outcomes are LATE
	)
	cb := func(i int) func(core.MessageID, error) {
		return func(id core.MessageID, err error) {
			outcomes.Add(1)
			t := ms()
			if closedNow.Load() {
				emit("LATE %d %d", t, i)
			}
			switch {
			case err != nil:
				emit("F %d %d %d", t, i, core.CodeOf(err))
			case id.IsDuplicate():
				emit("D %d %d", t, i)
			default:
				emit("A %d %d %d %d %d %d", t, i, id.LedgerID, id.EntryID, id.Partition, id.BatchIndex)
			}
		}
	}

	// The sender. Its context ends when a close command arrives, which
	// also releases a send blocked waiting for room.
	sendCtx, stopSending := context.WithCancel(ctx)
	defer stopSending()
	senderDone := make(chan struct{})
	go func() {
		defer close(senderDone)
		payload := make([]byte, size)
		for k := range payload {
			payload[k] = 'x'
		}
		t0 := time.Now()
		for i := 0; i < count; i++ {
			if sendCtx.Err() != nil {
				break
			}
			if rate > 0 {
				due := t0.Add(time.Duration(i) * time.Second / time.Duration(rate))
				if d := time.Until(due); d > time.Millisecond {
					select {
					case <-time.After(d):
					case <-sendCtx.Done():
					}
				}
			}
			copy(payload, fmt.Sprintf("%010d", i))
			producer.SendAsync(sendCtx, &core.Message{Payload: payload}, cb(i))
			accepted.Add(1)
		}
		emit("DONE %d %d", ms(), accepted.Load())
		flush()
	}()

	// Commands from the harness.
	closeCmd := make(chan [2]string, 1)
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			switch {
			case len(f) == 1 && f[0] == "mark":
				emit("M %d %d", ms(), accepted.Load())
				flush()
			case len(f) == 2 && (f[0] == "close-producer" || f[0] == "close-client"):
				closeCmd <- [2]string{f[0], f[1]}
				return
			}
		}
	}()

	flusher := time.NewTicker(20 * time.Millisecond)
	defer flusher.Stop()
	var cmd [2]string
wait:
	for {
		select {
		case <-flusher.C:
			flush()
		case cmd = <-closeCmd:
			break wait
		case <-senderDone:
			break wait
		}
	}

	stats := func() {
		st := client.Stats()
		emit("STATS %d %d %d %d %d %d %d", ms(), st.MsgsSent, st.MsgsAcked, st.MsgsFailed, st.Reconnects,
			st.Latency.Percentile(0.99).Microseconds(), st.Connects)
	}
	if cmd[0] == "" {
		// The normal end: every message settles, then everything closes.
		fctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
		err := producer.Flush(fctx)
		cancel()
		if err != nil {
			emit("CLOSE %d flush 0 %d %d", ms(), core.CodeOf(err), accepted.Load()-outcomes.Load())
		}
		stats()
		t := time.Now()
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err = producer.Close(cctx)
		cancel()
		emit("CLOSE %d producer %d %d %d", ms(), time.Since(t).Milliseconds(), core.CodeOf(err), accepted.Load()-outcomes.Load())
		closedNow.Store(true)
		client.Close()
	} else {
		timeout, _ := strconv.Atoi(cmd[1])
		stopSending()
		<-senderDone
		t := time.Now()
		var err error
		if cmd[0] == "close-producer" {
			cctx, cancel := context.WithTimeout(ctx, time.Duration(timeout)*time.Millisecond)
			err = producer.Close(cctx)
			cancel()
			emit("CLOSE %d producer %d %d %d", ms(), time.Since(t).Milliseconds(), core.CodeOf(err), accepted.Load()-outcomes.Load())
			closedNow.Store(true)
			stats()
			client.Close()
		} else {
			// The client's close is bounded by its operationTimeout, which
			// the harness set to the command's value.
			err = client.Close()
			emit("CLOSE %d client %d %d %d", ms(), time.Since(t).Milliseconds(), core.CodeOf(err), accepted.Load()-outcomes.Load())
			closedNow.Store(true)
			stats()
		}
	}
	// Outcomes that arrive after the closes are LATE lines; give a late
	// one the chance to show.
	time.Sleep(200 * time.Millisecond)
	close(stopSampler)
	<-samplerDone
	emit("EXIT %d %d", ms(), procStatus("VmHWM"))
	flush()
	return nil
}
