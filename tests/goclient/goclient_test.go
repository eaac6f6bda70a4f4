// Package goclient checks the fake broker (internal/fakebroker) against a
// client this project did not write: the official Go client, which only
// this module may depend on. If the official client publishes through the
// fake broker as through a real one, the fake broker speaks the protocol,
// and the runtime's tests that use it (core/*_test.go) test against the
// protocol rather than against our own reading of it.
//
// How this works: for a plain and a partitioned topic, the official client
// publishes 5000 batched messages asynchronously and one synchronously,
// and the test checks every callback, the ledger ID the broker assigned,
// and the broker's own counters. No real broker is needed.
package goclient

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/apache/pulsar-client-go/pulsar/log"

	"github.com/pulsar-producer/pulsar-producer/internal/fakebroker"
)

func TestGoClient(t *testing.T) {
	for _, parts := range []int{0, 2} {
		t.Run(fmt.Sprintf("partitions=%d", parts), func(t *testing.T) {
			fb := fakebroker.Start(t, fakebroker.Options{Partitions: parts, LedgerID: 9})
			client, err := pulsar.NewClient(pulsar.ClientOptions{
				URL:               fb.URL(),
				Logger:            log.DefaultNopLogger(),
				OperationTimeout:  10 * time.Second,
				ConnectionTimeout: 10 * time.Second,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			prod, err := client.CreateProducer(pulsar.ProducerOptions{
				Topic:                   "persistent://public/default/go-client",
				BatchingMaxMessages:     100,
				BatchingMaxPublishDelay: 5 * time.Millisecond,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer prod.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			const n = 5000
			var ok, failed atomic.Int64
			payload := make([]byte, 100)
			for range n {
				prod.SendAsync(ctx, &pulsar.ProducerMessage{Payload: payload}, func(id pulsar.MessageID, _ *pulsar.ProducerMessage, err error) {
					if err != nil || id.LedgerID() != 9 {
						failed.Add(1)
						return
					}
					ok.Add(1)
				})
			}
			if err := prod.FlushWithCtx(ctx); err != nil {
				t.Fatal(err)
			}
			// The Go client's Flush on a partitioned producer can return
			// before the last callbacks ran: wait for all n of them.
			for deadline := time.Now().Add(10 * time.Second); ok.Load()+failed.Load() < n && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
			if ok.Load() != n || failed.Load() != 0 {
				t.Fatalf("%d ok, %d failed", ok.Load(), failed.Load())
			}
			id, err := prod.Send(ctx, &pulsar.ProducerMessage{Payload: payload})
			if err != nil || id.LedgerID() != 9 {
				t.Fatalf("Send: %v, %v", id, err)
			}
			st := fb.Stats()
			if st.Messages != n+1 || st.AckedMessages != n+1 || st.ChecksumErrors != 0 || st.Frames >= n/2 {
				t.Fatalf("stats %+v", st)
			}
			if want := int64(max(parts, 1)); st.LiveProducers != want {
				t.Fatalf("%d producers registered, want %d", st.LiveProducers, want)
			}
		})
	}
}
