// Command ppgobench publishes messages with this project's native Go
// producer (package core) to a real broker and prints the throughput: the
// reference figure the language bindings' benchmarks are compared with.
//
// Usage (from tests/):
//
//	go run ./cmd/ppgobench [-url pulsar://127.0.0.1:6650] [-n 1000000] [-size 100]
//
// How it works: it creates a client and a producer on a fresh topic
// (untimed), then sends n payloads of -size bytes with SendAsync and a
// counting callback, and Flushes; the timed part is the send loop plus the
// Flush. Batching is as in the bindings' benchmarks (batchingMaxMessages
// 1000, batchingMaxPublishDelay 10 ms, blockIfQueueFull). It prints one
// line: "native-go: N msgs x S B in T s = R msgs/s, C cpu-s/Mmsg, peak RSS M MiB",
// and exits non-zero if any message failed.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pulsar-producer/pulsar-producer/core"
)

func main() {
	url := flag.String("url", "pulsar://127.0.0.1:6650", "service URL of the broker")
	topic := flag.String("topic", "", "topic (default: a fresh one)")
	n := flag.Int("n", 1_000_000, "messages to send")
	size := flag.Int("size", 100, "payload bytes per message")
	flag.Parse()
	if *topic == "" {
		*topic = fmt.Sprintf("persistent://public/default/ppgobench-%d", time.Now().UnixNano())
	}
	if err := run(*url, *topic, *n, *size); err != nil {
		fmt.Fprintln(os.Stderr, "ppgobench:", err)
		os.Exit(1)
	}
}

func run(url, topic string, n, size int) error {
	client, err := core.NewClient(core.ClientOptions{ServiceURL: url})
	if err != nil {
		return err
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	p, err := client.CreateProducer(ctx, core.ProducerOptions{
		Topic:                   topic,
		BatchingMaxMessages:     1000,
		BatchingMaxPublishDelay: 10 * time.Millisecond,
		BlockIfQueueFull:        true,
	})
	if err != nil {
		return err
	}
	defer func() { _ = p.Close(context.Background()) }()

	payload := make([]byte, size)
	for i := range payload {
		payload[i] = byte('a' + i%26)
	}
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	cb := func(_ core.MessageID, err error) {
		if err == nil {
			ok.Add(1)
			return
		}
		if failed.Add(1) == 1 {
			firstErr.Store(err)
		}
	}
	msg := &core.Message{Payload: payload}
	cpu0 := cpuTime()
	t0 := time.Now()
	for range n {
		p.SendAsync(ctx, msg, cb)
	}
	if err := p.Flush(ctx); err != nil {
		return fmt.Errorf("flush: %w", err)
	}
	elapsed := time.Since(t0)
	cpu := cpuTime() - cpu0
	if failed.Load() > 0 || ok.Load() != int64(n) {
		return fmt.Errorf("%d of %d messages acknowledged, %d failed (first error: %v)", ok.Load(), n, failed.Load(), firstErr.Load())
	}
	fmt.Printf("native-go: %d msgs x %d B in %.2f s = %.0f msgs/s, %.2f cpu-s/Mmsg, peak RSS %.0f MiB\n", n, size,
		elapsed.Seconds(), float64(n)/elapsed.Seconds(), cpu.Seconds()/(float64(n)/1e6), peakRSSMiB())
	return nil
}

// peakRSSMiB is the process's peak resident memory (getrusage's maxrss,
// KiB on Linux).
func peakRSSMiB() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Maxrss) / 1024
}

// cpuTime is the process's user + system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
