// What the native Go producer publishes to a real broker, read back by the
// official Java and Go clients: every metadata field, batch indexes, order
// and message IDs.
package integration

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pulsar-producer/pulsar-producer/core"
	"github.com/pulsar-producer/pulsar-producer/core/engine"
	"github.com/pulsar-producer/pulsar-producer/tests/broker"
	"github.com/pulsar-producer/pulsar-producer/tests/javacheck"
	"github.com/pulsar-producer/pulsar-producer/tests/verify"
)

func TestEveryMetadataField(t *testing.T) {
	c := newClient(t)
	topic := broker.NewTopic(t, "meta")
	name := "meta-" + fmt.Sprint(time.Now().UnixNano())
	p := newProducer(t, c, core.ProducerOptions{Topic: topic, ProducerName: name, BatchingMaxPublishDelay: time.Hour})
	ctx := context.Background()
	ev := time.UnixMilli(1_700_000_123_456)
	var r recorder
	auto := int64(0) // explicit sequence IDs do not advance the automatic ones
	send := func(m core.Message) {
		want := auto
		if m.SequenceID != nil {
			want = *m.SequenceID
		} else {
			auto++
		}
		r.send(ctx, p, m, want)
	}
	// A batch of messages, each with different per-message metadata.
	send(core.Message{Payload: []byte("plain")})
	send(core.Message{Payload: []byte("props"), Properties: map[string]string{"a": "1", "ünï": "ç☃dé"}})
	send(core.Message{Payload: []byte("keyed"), Key: "key-1", OrderingKey: []byte{0, 1, 0xfe}})
	send(core.Message{Payload: []byte("event"), EventTime: ev})
	send(core.Message{NullValue: true, Key: "tombstoned"})
	send(core.Message{Payload: []byte{}})
	seqID := int64(100)
	send(core.Message{Payload: []byte("user-seq"), SequenceID: &seqID})
	send(core.Message{Payload: []byte("empty-key"), HasKey: true})
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// Lone messages: each alone in its entry.
	send(core.Message{Payload: []byte("alone"), Properties: map[string]string{"x": "y"}, Key: "k2", EventTime: ev})
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	send(core.Message{Payload: []byte("alone-empty-key"), HasKey: true})
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	send(core.Message{Payload: []byte("replicated"), ReplicationClusters: []string{"standalone"}})
	send(core.Message{Payload: []byte("replicated")})
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	send(core.Message{Payload: []byte("local"), DisableReplication: true})
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	send(core.Message{Payload: []byte("delayed-after"), DeliverAfter: 3 * time.Second})
	send(core.Message{Payload: []byte("delayed-at"), DeliverAt: time.Now().Add(2 * time.Second)})
	send(core.Message{Payload: []byte("after-delayed"), Key: "k3"})
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	sent := r.wait(t)
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if sent[0].id.BatchSize != 8 || sent[7].id.BatchIndex != 7 || sent[8].id.BatchIndex != -1 || sent[9].id.BatchIndex != -1 {
		t.Fatalf("unexpected batching: %#v %#v %#v", sent[0].id, sent[7].id, sent[8].id)
	}

	// The Java client, on a Shared subscription so that delayed delivery
	// applies: match by sequence ID, since delayed messages arrive late.
	java := javacheck.Consume(t, topic, len(sent), javacheck.Options{SubscriptionType: "shared"})
	bySeq := map[int64]*sentMsg{}
	for _, s := range sent {
		bySeq[s.seq] = s
	}
	for i, got := range java {
		want := bySeq[got.SequenceID]
		if want == nil {
			t.Fatalf("Java read an unexpected message: %v", got)
		}
		checkJava(t, i, got, want, name)
	}

	// The Go client, Exclusive: order and IDs.
	gomsgs := verify.Consume(t, topic, len(sent), verify.Options{})
	for i, got := range gomsgs {
		checkGo(t, i, got, sent[i], name)
	}
}

func TestBatchIndexesAndOrder(t *testing.T) {
	c := newClient(t)
	topic := broker.NewTopic(t, "batches")
	// Batches close on their count alone (the delay is an hour), so the
	// boundaries do not depend on how fast this machine is.
	p := newProducer(t, c, core.ProducerOptions{Topic: topic, BatchingMaxMessages: 100, BatchingMaxPublishDelay: time.Hour})
	ctx := context.Background()
	var r recorder
	const n = 1050
	for i := range n {
		r.send(ctx, p, core.Message{Payload: fmt.Appendf(nil, "m-%04d", i)}, int64(i))
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	sent := r.wait(t)
	entries := map[[2]int64]int{}
	for i, s := range sent {
		if s.id.BatchSize != 100 && s.id.BatchSize != 50 {
			t.Fatalf("message %d: batch size %d", i, s.id.BatchSize)
		}
		entries[[2]int64{s.id.LedgerID, s.id.EntryID}]++
	}
	if len(entries) != 11 {
		t.Fatalf("%d entries, want 11", len(entries))
	}
	java := javacheck.Consume(t, topic, n, javacheck.Options{})
	for i, got := range java {
		checkJava(t, i, got, sent[i], p.Name())
	}
	for i, got := range verify.Consume(t, topic, n, verify.Options{}) {
		checkGo(t, i, got, sent[i], p.Name())
	}
}

func TestCompressedBatchesReadBack(t *testing.T) {
	c := newClient(t)
	for _, ct := range []engine.CompressionType{engine.CompressionLZ4, engine.CompressionZLib, engine.CompressionZSTD, engine.CompressionSnappy} {
		t.Run(ct.String(), func(t *testing.T) {
			topic := broker.NewTopic(t, "compressed")
			p := newProducer(t, c, core.ProducerOptions{Topic: topic, CompressionType: ct, BatchingMaxMessages: 20})
			ctx := context.Background()
			var r recorder
			for i := range 21 { // one full batch and one lone message
				r.send(ctx, p, core.Message{Payload: []byte(strings.Repeat(fmt.Sprintf("payload %d ", i), 20))}, int64(i))
			}
			sent := r.wait(t)
			java := javacheck.Consume(t, topic, len(sent), javacheck.Options{})
			for i, got := range java {
				checkJava(t, i, got, sent[i], p.Name())
				if got.Compression != strings.ToUpper(ct.String()) {
					t.Errorf("message %d stored with compression %s", i, got.Compression)
				}
			}
		})
	}
}

func TestPartitionedTopicRoutesByKey(t *testing.T) {
	c := newClient(t)
	topic := broker.NewTopic(t, "parts")
	broker.CreatePartitionedTopic(t, topic, 3)
	p := newProducer(t, c, core.ProducerOptions{Topic: topic, DisableBatching: true})
	if p.NumPartitions() != 3 {
		t.Fatalf("%d partitions", p.NumPartitions())
	}
	ctx := context.Background()
	var r recorder
	keys := []string{"a", "key", "hello world", "key-12345", "abcd", "abcde"}
	for i, k := range keys {
		r.send(ctx, p, core.Message{Payload: []byte(k), Key: k}, int64(i))
	}
	for i := range 6 {
		r.send(ctx, p, core.Message{Payload: fmt.Appendf(nil, "keyless-%d", i)}, 0)
	}
	sent := r.wait(t)
	// Keyed messages land where the Java client's String.hashCode puts them.
	javaHash := map[string]int32{"a": 97 % 3, "key": 106079 % 3, "hello world": 1794106052 % 3, "key-12345": 1154953029 % 3, "abcd": 2987074 % 3, "abcde": 92599395 % 3}
	for _, s := range sent[:len(keys)] {
		if s.id.Partition != javaHash[s.msg.Key] {
			t.Errorf("key %q went to partition %d, Java would use %d", s.msg.Key, s.id.Partition, javaHash[s.msg.Key])
		}
	}
	used := map[int32]bool{}
	for _, s := range sent[len(keys):] {
		used[s.id.Partition] = true
	}
	if len(used) < 2 {
		t.Errorf("keyless messages used only partitions %v", used)
	}
	byPayload := map[string]*sentMsg{}
	for _, s := range sent {
		byPayload[string(s.msg.Payload)] = s
	}
	for _, got := range javacheck.Consume(t, topic, len(sent), javacheck.Options{}) {
		want := byPayload[string(got.Payload)]
		gotID := core.MessageID{LedgerID: got.LedgerID, EntryID: got.EntryID, Partition: got.Partition, BatchIndex: got.BatchIndex, BatchSize: got.BatchSize}
		if want == nil || gotID != want.id || got.Topic != fmt.Sprintf("%s-partition-%d", topic, want.id.Partition) {
			t.Errorf("Java read %q at %v on %s; we said %+v", got.Payload, gotID, got.Topic, want)
		}
	}
}

func TestSequenceIDsResumeWithDeduplication(t *testing.T) {
	c := newClient(t)
	ns := broker.NewNamespace(t, "dedup")
	broker.SetNamespaceDeduplication(t, ns, true)
	topic := broker.NewTopicIn(t, ns, "resume")
	ctx := context.Background()
	name := fmt.Sprintf("resumer-%d", time.Now().UnixNano())
	p := newProducer(t, c, core.ProducerOptions{Topic: topic, ProducerName: name, DisableBatching: true})
	broker.WaitDeduplicationStatus(t, topic, true)
	for i := range 5 {
		if _, err := p.Send(ctx, &core.Message{Payload: fmt.Appendf(nil, "first-%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// A new producer of the same name continues after the broker's last
	// stored sequence ID (4), so its first message gets 5.
	p2 := newProducer(t, c, core.ProducerOptions{Topic: topic, ProducerName: name, DisableBatching: true})
	if _, err := p2.Send(ctx, &core.Message{Payload: []byte("second-5")}); err != nil {
		t.Fatal(err)
	}
	// A message that reuses a stored sequence ID is dropped by the broker.
	dup := int64(3)
	if _, err := p2.Send(ctx, &core.Message{Payload: []byte("duplicate"), SequenceID: &dup}); err != nil {
		t.Fatal(err)
	}
	if err := p2.Close(ctx); err != nil {
		t.Fatal(err)
	}
	java := javacheck.Consume(t, topic, 7, javacheck.Options{AllowFewer: true, Timeout: 5 * time.Second})
	var got []string
	for _, m := range java {
		got = append(got, fmt.Sprintf("%d:%s", m.SequenceID, m.Payload))
	}
	want := "[0:first-0 1:first-1 2:first-2 3:first-3 4:first-4 5:second-5]"
	if fmt.Sprint(got) != want {
		t.Fatalf("stored %v, want %s", got, want)
	}
}

func TestReconnectAfterUnloadLosesNothing(t *testing.T) {
	c := newClient(t)
	ns := broker.NewNamespace(t, "unload")
	broker.SetNamespaceDeduplication(t, ns, true)
	topic := broker.NewTopicIn(t, ns, "moving")
	p := newProducer(t, c, core.ProducerOptions{Topic: topic, BatchingMaxMessages: 50, BatchingMaxPublishDelay: 5 * time.Millisecond})
	broker.WaitDeduplicationStatus(t, topic, true)
	ctx := context.Background()
	var r recorder
	const n = 3000
	for i := range n {
		r.send(ctx, p, core.Message{Payload: fmt.Appendf(nil, "m-%05d", i)}, int64(i))
		if i == n/3 || i == 2*n/3 {
			broker.UnloadTopic(t, topic)
		}
		if i%100 == 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	sent := r.wait(t)
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// Ask for one more than we sent: exactly n must be stored, in order.
	got := verify.Consume(t, topic, n+1, verify.Options{AllowFewer: true, Timeout: 8 * time.Second})
	if len(got) != n {
		t.Fatalf("topic holds %d messages, want %d", len(got), n)
	}
	dedupReceipts := 0
	for i, m := range got {
		if string(m.Payload()) != string(sent[i].msg.Payload) {
			t.Fatalf("message %d is %q, want %q: lost, duplicated or reordered", i, m.Payload(), sent[i].msg.Payload)
		}
		if sent[i].id.LedgerID == -1 && sent[i].id.EntryID == -1 {
			// The broker's deduplication recognised a resent copy of a
			// message it had stored, and said so instead of where.
			dedupReceipts++
			continue
		}
		checkGo(t, i, m, sent[i], p.Name())
	}
	t.Logf("%d of %d receipts came from deduplication (-1:-1)", dedupReceipts, n)
	if dedupReceipts > n/10 {
		t.Fatalf("%d deduplication receipts: late receipts after the unloads were not used", dedupReceipts)
	}
}

func TestDelayedDeliveryIsHonoured(t *testing.T) {
	c := newClient(t)
	topic := broker.NewTopic(t, "delayed")
	p := newProducer(t, c, core.ProducerOptions{Topic: topic})
	ctx := context.Background()
	start := time.Now()
	var r recorder
	r.send(ctx, p, core.Message{Payload: []byte("now")}, 0)
	r.send(ctx, p, core.Message{Payload: []byte("later"), DeliverAfter: 4 * time.Second}, 1)
	sent := r.wait(t)
	java := javacheck.Consume(t, topic, 2, javacheck.Options{SubscriptionType: "shared"})
	sort.Slice(java, func(i, j int) bool { return java[i].SequenceID < java[j].SequenceID })
	for i, got := range java {
		checkJava(t, i, got, sent[i], p.Name())
	}
	if late := java[1]; late.ReceivedAtMillis < start.Add(4*time.Second).UnixMilli() {
		t.Fatalf("delayed message arrived %v after sending, before its delay", time.UnixMilli(late.ReceivedAtMillis).Sub(start))
	}
}

func TestAPIMisuseWithBroker(t *testing.T) {
	c := newClient(t)
	topic := broker.NewTopic(t, "misuse")
	p := newProducer(t, c, core.ProducerOptions{Topic: topic})
	ctx := context.Background()
	if _, err := p.Send(ctx, &core.Message{Payload: make([]byte, 5<<20+1)}); engine.CodeOf(err) != engine.CodeMessageTooBig {
		t.Fatalf("oversized message: %v", err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := p.Send(ctx, &core.Message{Payload: []byte("late")})
	if !errors.Is(err, engine.ErrAlreadyClosed) || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("send after close: %v", err)
	}
	var asyncErr error
	done := make(chan struct{})
	p.SendAsync(ctx, &core.Message{}, func(_ core.MessageID, err error) { asyncErr = err; close(done) })
	<-done
	if !errors.Is(asyncErr, engine.ErrAlreadyClosed) {
		t.Fatalf("async send after close: %v", asyncErr)
	}
	if err := p.Close(ctx); !errors.Is(err, engine.ErrAlreadyClosed) || !strings.Contains(err.Error(), "already closed") {
		t.Fatalf("second close: %v", err)
	}
	if err := p.Flush(ctx); !errors.Is(err, engine.ErrAlreadyClosed) {
		t.Fatalf("flush after close: %v", err)
	}
}

func TestExclusiveAccess(t *testing.T) {
	c := newClient(t)
	topic := broker.NewTopic(t, "exclusive")
	p := newProducer(t, c, core.ProducerOptions{Topic: topic, AccessMode: engine.AccessExclusive})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := c.CreateProducer(ctx, core.ProducerOptions{Topic: topic, AccessMode: engine.AccessExclusive})
	var e *engine.Error
	if !errors.As(err, &e) || e.Kind() != engine.KindBroker {
		t.Fatalf("second exclusive producer: %v, want a broker refusal", err)
	}
	if _, err := p.Send(ctx, &core.Message{Payload: []byte("mine")}); err != nil {
		t.Fatal(err)
	}
}
