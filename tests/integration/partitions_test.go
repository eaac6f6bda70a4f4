// Partitioned topics that change while we publish, against the real broker:
// partitions added by an admin are found and used with nothing lost, and
// lazyStartPartitionedProducers registers only the partitions used. The
// Java client reads everything back.
package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pulsar-producer/pulsar-producer/core"
	"github.com/pulsar-producer/pulsar-producer/tests/broker"
	"github.com/pulsar-producer/pulsar-producer/tests/javacheck"
)

// keyFor finds a key the Java client's String.hashCode sends to partition
// want of n (the mapping TestPartitionedTopicRoutesByKey checks).
func keyFor(want, n int) string {
	for i := 0; ; i++ {
		k := fmt.Sprintf("key-%d", i)
		var h int32
		for _, r := range k {
			h = 31*h + r
		}
		if int(uint32(h)&0x7fffffff)%n == want {
			return k
		}
	}
}

func TestPartitionsAddedUnderLoad(t *testing.T) {
	c := newClient(t)
	topic := broker.NewTopic(t, "grow")
	broker.CreatePartitionedTopic(t, topic, 2)
	p := newProducer(t, c, core.ProducerOptions{Topic: topic, PartitionsAutoDiscoveryInterval: time.Second,
		BatchingMaxPublishDelay: 5 * time.Millisecond})
	ctx := context.Background()
	var r recorder
	n := 0
	send := func(key string) {
		r.send(ctx, p, core.Message{Payload: fmt.Appendf(nil, "m-%05d", n), Key: key}, 0)
		n++
	}
	// Publish keyless messages all along, growing the topic mid-stream.
	stop := time.Now().Add(2 * time.Minute)
	for i := 0; i < 300; i++ {
		send("")
		time.Sleep(time.Millisecond)
	}
	broker.UpdatePartitions(t, topic, 4)
	for p.NumPartitions() != 4 {
		if time.Now().After(stop) {
			t.Fatalf("the producer still sees %d partitions", p.NumPartitions())
		}
		send("")
		time.Sleep(time.Millisecond)
	}
	for range 300 {
		send("")
		time.Sleep(time.Millisecond)
	}
	// Keys now hash over four partitions, as the Java client's would.
	k2, k3 := keyFor(2, 4), keyFor(3, 4)
	send(k2)
	send(k3)
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	sent := r.wait(t)
	if got := sent[len(sent)-2].id.Partition; got != 2 {
		t.Errorf("key %q went to partition %d, want 2", k2, got)
	}
	if got := sent[len(sent)-1].id.Partition; got != 3 {
		t.Errorf("key %q went to partition %d, want 3", k3, got)
	}
	used := map[int32]int{}
	for _, s := range sent {
		used[s.id.Partition]++
	}
	if len(used) != 4 {
		t.Errorf("messages used partitions %v, want all four", used)
	}
	t.Logf("%d messages; per partition %v", len(sent), used)

	byPayload := map[string]*sentMsg{}
	for _, s := range sent {
		byPayload[string(s.msg.Payload)] = s
	}
	seen := map[string]bool{}
	for _, got := range javacheck.Consume(t, topic, len(sent), javacheck.Options{}) {
		want := byPayload[string(got.Payload)]
		gotID := core.MessageID{LedgerID: got.LedgerID, EntryID: got.EntryID, Partition: got.Partition, BatchIndex: got.BatchIndex, BatchSize: got.BatchSize}
		if want == nil || seen[string(got.Payload)] || gotID != want.id || got.Topic != fmt.Sprintf("%s-partition-%d", topic, want.id.Partition) {
			t.Fatalf("Java read %q at %v on %s (seen before: %v); we said %+v", got.Payload, gotID, got.Topic, seen[string(got.Payload)], want)
		}
		seen[string(got.Payload)] = true
	}
}

func TestLazyStartRegistersOnlyUsedPartitions(t *testing.T) {
	c := newClient(t)
	topic := broker.NewTopic(t, "lazy")
	broker.CreatePartitionedTopic(t, topic, 3)
	p := newProducer(t, c, core.ProducerOptions{Topic: topic, LazyStartPartitionedProducers: true, DisableBatching: true})
	if p.NumPartitions() != 3 {
		t.Fatalf("%d partitions", p.NumPartitions())
	}
	publishers := func(i int) int {
		st := broker.GetStats(t, fmt.Sprintf("%s-partition-%d", topic, i))
		pubs, _ := st["publishers"].([]any)
		return len(pubs)
	}
	for i := range 3 {
		if n := publishers(i); n != 0 {
			t.Fatalf("partition %d has %d publishers before any message", i, n)
		}
	}
	ctx := context.Background()
	key := keyFor(1, 3)
	var ids []core.MessageID
	for i := range 5 {
		id, err := p.Send(ctx, &core.Message{Payload: fmt.Appendf(nil, "lazy-%d", i), Key: key})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	for i, want := range []int{0, 1, 0} {
		if n := publishers(i); n != want {
			t.Errorf("partition %d has %d publishers, want %d", i, n, want)
		}
	}
	for i, got := range javacheck.Consume(t, topic, 5, javacheck.Options{}) {
		gotID := core.MessageID{LedgerID: got.LedgerID, EntryID: got.EntryID, Partition: got.Partition, BatchIndex: got.BatchIndex, BatchSize: got.BatchSize}
		if string(got.Payload) != fmt.Sprintf("lazy-%d", i) || gotID != ids[i] || got.Key != key {
			t.Errorf("Java read %q key %q at %v; we said %v", got.Payload, got.Key, gotID, ids[i])
		}
	}
}
