// Routing from C, read back by the Java client: routers set with
// pp_producer_set_router, pp_message.partition, and partitions an admin
// adds while the producer runs.
//
// How this works: the test makes a 3-partition topic, names a plain one,
// and makes a 2-partition topic that pp_routing_test.c asks it to grow to 4
// ("WAIT grow 4"). The program labels each stored message with its
// payload, which says where it must be: "=N" names the partition the
// program set, "@N" the router's answer, and "grow<N>-<key>" a keyed
// message routed by the default hashing among N partitions. This test
// computes the key's partition itself (Java's String.hashCode), reads both
// partitioned topics back with the Java client, and checks every message
// is at the ID the program got, in the partition it must be in, with its
// payload and key, and that nothing else was stored (messages refused for
// a router answer out of range must not be).
package capi

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pulsar-producer/pulsar-producer/tests/broker"
	"github.com/pulsar-producer/pulsar-producer/tests/javacheck"
)

// javaPartition is the partition the Java client's default hashing
// (JavaStringHash: String.hashCode & Integer.MAX_VALUE) gives key among n.
func javaPartition(key string, n int) int32 {
	var h int32
	for _, c := range key { // UTF-16 code units: the keys are ASCII
		h = 31*h + c
	}
	return int32(int(h&0x7fffffff) % n)
}

var growLabel = regexp.MustCompile(`^grow([0-9]+)-(.+)$`)

// wantPartition is where the message labelled label must be; ok is false
// when the label says nothing (messages routed by routingMode).
func wantPartition(t *testing.T, label string) (part int32, key string, ok bool) {
	t.Helper()
	num := func(s string) int32 {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("label %q: %v", label, err)
		}
		return int32(n)
	}
	if m := growLabel.FindStringSubmatch(label); m != nil {
		return javaPartition(m[2], int(num(m[1]))), m[2], true
	}
	if _, set, found := strings.Cut(label, "="); found {
		return num(set), "", true
	}
	if _, routed, found := strings.Cut(label, "@"); found {
		return num(routed), "", true
	}
	return 0, "", false
}

// checkRouted reads topic with the Java client and checks each of the
// program's messages that keep selects.
func checkRouted(t *testing.T, topic string, msgs []published, keep func(label string) bool) {
	t.Helper()
	var mine []published
	for _, p := range msgs {
		if keep(p.payload) {
			mine = append(mine, p)
		}
	}
	got := javacheck.Consume(t, topic, len(mine)+1, javacheck.Options{Timeout: 5 * time.Second, AllowFewer: true})
	if len(got) != len(mine) {
		t.Errorf("%s: the Java client read %d messages, the program stored %d", topic, len(got), len(mine))
	}
	at := map[[5]int64]javacheck.Message{}
	for _, m := range got {
		at[[5]int64{m.LedgerID, m.EntryID, int64(m.Partition), int64(m.BatchIndex), int64(m.BatchSize)}] = m
	}
	for _, p := range mine {
		m, found := at[p.id]
		if !found {
			t.Errorf("%s: the program was told %v, the Java client found nothing there", p.payload, p.id)
			continue
		}
		if string(m.Payload) != p.payload {
			t.Errorf("at %v the program sent %q, the Java client read %q", p.id, p.payload, m.Payload)
		}
		part, key, ok := wantPartition(t, p.payload)
		if ok && m.Partition != part {
			t.Errorf("%s: the Java client found it in partition %d, want %d", p.payload, m.Partition, part)
		}
		if key != "" && (!m.HasKey || m.Key != key) {
			t.Errorf("%s: key %v %q, want %q", p.payload, m.HasKey, m.Key, key)
		}
	}
}

func TestCRouting(t *testing.T) {
	broker.Require(t)
	prog := build(t, "pp_routing_test.c", false)
	topic3 := broker.NewTopic(t, "c-route")
	broker.CreatePartitionedTopic(t, topic3, 3)
	plain := broker.NewTopic(t, "c-route-plain")
	grow := broker.NewTopic(t, "c-grow")
	broker.CreatePartitionedTopic(t, grow, 2)
	msgs := runProgram(t, prog, runOptions{
		args: []string{broker.ServiceURL(), topic3, plain, grow},
		hooks: map[string]func() error{
			"grow 4": func() error {
				broker.UpdatePartitions(t, grow, 4)
				if n := broker.Partitions(t, grow); n != 4 {
					return fmt.Errorf("the admin API says %d partitions after the update", n)
				}
				return nil
			},
		},
	})
	ids := byLabel(t, msgs)
	// The messages the program must have stored, so that a program that
	// stopped reporting cannot pass.
	for _, label := range []string{"send-0@0", "send-5@2", "keyed-0@1", "batch-0@2", "batch-5@1", "msgs-2@2",
		"bb-0@0", "bb-1@1", "bm-0@2", "expl@0=1", "expl@0=2", "mixed@1", "unrouted-2",
		"grow2-key-0", "grow2-key-1", "grow4-key-0", "grow4-key-1", "grow4-key-2", "grow4-key-3", "grown@3"} {
		if _, ok := ids[label]; !ok {
			t.Errorf("the program did not report %s", label)
		}
	}
	// Keys that the Java client puts on the new partitions 2 and 3.
	for want := int32(2); want <= 3; want++ {
		found := false
		for label := range ids {
			if part, _, ok := wantPartition(t, label); ok && strings.HasPrefix(label, "grow4-") && part == want {
				found = true
			}
		}
		if !found {
			t.Errorf("no message with a key hashing to the new partition %d", want)
		}
	}
	isGrow := func(l string) bool { return strings.HasPrefix(l, "grow") }
	checkRouted(t, topic3, msgs, func(l string) bool { return !isGrow(l) })
	checkRouted(t, grow, msgs, isGrow)
}
