// Key-based batching against the real broker: with batcherType keyBased,
// two official Go client consumers on one Key_Shared subscription read
// everything, every key on exactly one of them, in order per key; with the
// default batcher the same check fails, because its batches mix keys and
// the broker routes a whole entry by the key in its metadata. The Java
// client, reading the topic again, shows which messages share an entry.
//
// How this works: both consumers subscribe before anything is published,
// so the broker's split of the key hash range between them is settled
// when the first entry arrives. The producer sends 1000 messages over 20
// keys in a seeded random order, batched 50 at a time at most; the
// consumers receive concurrently until all 1000 arrived and then briefly
// more, to catch duplicates. keySharedProblems lists every broken promise:
// a lost or duplicated message, a key read by both consumers, a key out of
// order, a consumer left without any key. The entries' contents come from
// the message IDs (ledger, entry) that the Go and Java clients report.
package integration

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/pulsar-producer/pulsar-producer/core"
	"github.com/pulsar-producer/pulsar-producer/core/engine"
	"github.com/pulsar-producer/pulsar-producer/tests/broker"
	"github.com/pulsar-producer/pulsar-producer/tests/javacheck"
	"github.com/pulsar-producer/pulsar-producer/tests/verify"
)

const (
	ksKeys     = 20
	ksMessages = 1000
)

// ksRead is one message as a Key_Shared consumer read it.
type ksRead struct {
	consumer int
	key      string
	seq      int // the message's number within its key
	id       verify.ID
}

// entryOf names the entry a message was stored in.
type entryOf struct{ ledger, entry int64 }

func TestKeyBasedBatchingOnKeyShared(t *testing.T) {
	for _, tc := range []struct {
		name    string
		batcher engine.BatcherType
	}{
		{"keyBased", engine.KeyBasedBatcher},
		{"default", engine.DefaultBatcher},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			topic := broker.NewTopic(t, "keybatch-"+tc.name)
			gc := verify.NewClient(t)
			var consumers [2]pulsar.Consumer
			for i := range consumers {
				cons, err := gc.Subscribe(pulsar.ConsumerOptions{
					Topic: topic, SubscriptionName: "ks", Type: pulsar.KeyShared, Name: fmt.Sprintf("c%d", i),
					SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest,
				})
				if err != nil {
					t.Fatalf("Key_Shared consumer %d: %v", i, err)
				}
				defer cons.Close()
				consumers[i] = cons
			}

			c := newClient(t)
			p := newProducer(t, c, core.ProducerOptions{Topic: topic, BatcherType: tc.batcher,
				BatchingMaxMessages: 50, BatchingMaxPublishDelay: 100 * time.Millisecond})
			rng := rand.New(rand.NewPCG(7, 11))
			next := make([]int, ksKeys)
			var r recorder
			ctx := context.Background()
			for i := range ksMessages {
				k := rng.IntN(ksKeys)
				r.send(ctx, p, core.Message{Key: fmt.Sprintf("key-%02d", k), Payload: []byte(fmt.Sprintf("key-%02d:%d", k, next[k]))}, int64(i))
				next[k]++
			}
			if err := p.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			r.wait(t)

			reads := readKeyShared(t, consumers[:])
			problems := keySharedProblems(reads, next)
			entries := entryKeys(func(yield func(entryOf, string)) {
				for _, m := range reads {
					yield(entryOf{m.id.Ledger, m.id.Entry}, m.key)
				}
			})
			javaEntries := entryKeys(func(yield func(entryOf, string)) {
				for _, m := range javacheck.Consume(t, topic, ksMessages, javacheck.Options{}) {
					if m.BatchSize < 1 {
						t.Errorf("the Java client read %v as not batched", m)
					}
					yield(entryOf{m.LedgerID, m.EntryID}, m.Key)
				}
			})
			mixedGo, mixedJava := mixedEntries(entries), mixedEntries(javaEntries)
			t.Logf("%d entries (Java: %d), %d with more than one key (Java: %d); Key_Shared problems: %d",
				len(entries), len(javaEntries), len(mixedGo), len(mixedJava), len(problems))
			if len(entries) >= ksMessages/2 {
				t.Errorf("%d entries for %d messages: hardly batched", len(entries), ksMessages)
			}

			if tc.batcher == engine.KeyBasedBatcher {
				for _, pr := range problems {
					t.Error(pr)
				}
				if len(mixedGo) > 0 || len(mixedJava) > 0 {
					t.Errorf("entries with more than one key: %v (Java: %v)", mixedGo, mixedJava)
				}
				return
			}
			// The default batcher: batches mix keys, and Key_Shared breaks.
			if len(mixedGo) == 0 || len(mixedJava) == 0 {
				t.Errorf("the default batcher put one key per entry (Go client: %d mixed, Java: %d): the key-based check proves nothing", len(mixedGo), len(mixedJava))
			}
			if len(problems) == 0 {
				t.Error("Key_Shared kept every promise with the default batcher: the key-based check proves nothing")
			}
			t.Logf("with the default batcher: %s", strings.Join(problems[:min(5, len(problems))], "; "))
		})
	}
}

// readKeyShared receives on every consumer at once until all messages
// arrived, then half a second more, to catch duplicates.
func readKeyShared(t *testing.T, consumers []pulsar.Consumer) []ksRead {
	t.Helper()
	var (
		mu    sync.Mutex
		reads []ksRead
		wg    sync.WaitGroup
	)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	allIn := make(chan struct{})
	go func() {
		select {
		case <-allIn:
			time.Sleep(500 * time.Millisecond)
			cancel()
		case <-ctx.Done():
		}
	}()
	for i, cons := range consumers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				msg, err := cons.Receive(ctx)
				if err != nil {
					return // the deadline, or the grace after the last one
				}
				var key string
				var seq int
				if _, err := fmt.Sscanf(string(msg.Payload()), "%6s:%d", &key, &seq); err != nil || key != msg.Key() {
					t.Errorf("consumer %d: message %q with key %q", i, msg.Payload(), msg.Key())
				}
				_ = cons.Ack(msg)
				mu.Lock()
				reads = append(reads, ksRead{consumer: i, key: msg.Key(), seq: seq, id: verify.IDOf(msg.ID())})
				if len(reads) == ksMessages {
					close(allIn)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return reads
}

// keySharedProblems lists how reads break Key_Shared's promises; sent[k]
// is how many messages key k had.
func keySharedProblems(reads []ksRead, sent []int) []string {
	var problems []string
	type state struct {
		consumers map[int]bool
		last      map[int]int // by consumer: the last number read
		seen      map[int]bool
	}
	keys := map[string]*state{}
	perConsumer := map[int]int{}
	for _, m := range reads {
		s := keys[m.key]
		if s == nil {
			s = &state{consumers: map[int]bool{}, last: map[int]int{}, seen: map[int]bool{}}
			keys[m.key] = s
		}
		if s.seen[m.seq] {
			problems = append(problems, fmt.Sprintf("%s:%d read twice", m.key, m.seq))
		}
		if last, ok := s.last[m.consumer]; ok && m.seq < last {
			problems = append(problems, fmt.Sprintf("%s:%d read after %s:%d by consumer %d", m.key, m.seq, m.key, last, m.consumer))
		}
		s.seen[m.seq] = true
		if last, ok := s.last[m.consumer]; !ok || m.seq > last {
			s.last[m.consumer] = m.seq
		}
		s.consumers[m.consumer] = true
		perConsumer[m.consumer]++
	}
	for k, n := range sent {
		key := fmt.Sprintf("key-%02d", k)
		s := keys[key]
		if s == nil {
			problems = append(problems, fmt.Sprintf("%s: none of its %d messages read", key, n))
			continue
		}
		if len(s.seen) != n {
			problems = append(problems, fmt.Sprintf("%s: %d of %d messages read", key, len(s.seen), n))
		}
		if len(s.consumers) != 1 {
			problems = append(problems, fmt.Sprintf("%s read by both consumers", key))
		}
	}
	for c := range 2 {
		if perConsumer[c] == 0 {
			problems = append(problems, fmt.Sprintf("consumer %d read nothing (%d keys, all on the other)", c, len(keys)))
		}
	}
	return problems
}

// entryKeys gathers the keys stored in each entry.
func entryKeys(each func(yield func(entryOf, string))) map[entryOf][]string {
	out := map[entryOf][]string{}
	each(func(e entryOf, key string) {
		if !slices.Contains(out[e], key) {
			out[e] = append(out[e], key)
		}
	})
	return out
}

// mixedEntries lists the entries holding more than one key.
func mixedEntries(entries map[entryOf][]string) []string {
	var out []string
	for e, keys := range entries {
		if len(keys) > 1 {
			out = append(out, fmt.Sprintf("%d:%d %v", e.ledger, e.entry, keys))
		}
	}
	slices.Sort(out)
	return out
}
