package broker

// Tests of the broker helpers against the real standalone broker (Require
// starts it with broker.sh if it is not running).

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/apache/pulsar-client-go/pulsar/log"
)

func TestTopicPath(t *testing.T) {
	for in, want := range map[string]string{
		"persistent://public/default/a":   "persistent/public/default/a",
		"non-persistent://t/ns/b-c":       "non-persistent/t/ns/b-c",
		"short":                           "persistent/public/default/short",
		"persistent://public/default/a b": "persistent/public/default/a%20b",
	} {
		got, err := TopicPath(in)
		if err != nil || got != want {
			t.Errorf("TopicPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"http://a/b/c", "persistent://a/b", "persistent://a//c"} {
		if _, err := TopicPath(bad); err == nil {
			t.Errorf("TopicPath(%q): want error", bad)
		}
	}
}

func TestRequire(t *testing.T) {
	Require(t)
	if !Ready() {
		t.Fatal("Ready() = false after Require")
	}
	if !strings.HasPrefix(ServiceURL(), "pulsar://") || !strings.HasPrefix(AdminURL(), "http") {
		t.Fatalf("ServiceURL %q AdminURL %q", ServiceURL(), AdminURL())
	}
	if home := PulsarHome(); !strings.Contains(home, "apache-pulsar-") {
		t.Fatalf("PulsarHome() = %q", home)
	}
}

func TestNonPartitionedTopic(t *testing.T) {
	Require(t)
	topic := NewTopic(t, "np")
	if topic == NewTopic(t, "np") {
		t.Fatal("NewTopic is not unique")
	}
	CreateNonPartitionedTopic(t, topic)
	if n := Partitions(t, topic); n != 0 {
		t.Fatalf("Partitions = %d, want 0", n)
	}
	st := GetStats(t, topic)
	if _, ok := st["msgInCounter"]; !ok {
		t.Fatalf("stats without msgInCounter: %v", st)
	}
	if _, ok := GetInternalStats(t, topic)["entriesAddedCounter"]; !ok {
		t.Fatal("internal stats without entriesAddedCounter")
	}
	UnloadTopic(t, topic)
	DeleteTopic(t, topic)
	p, _ := TopicPath(topic)
	if status, _, err := Do(http.MethodGet, "/admin/v2/"+p+"/partitions", nil); err != nil || status != http.StatusNotFound {
		t.Fatalf("after delete: status %d, %v; want 404", status, err)
	}
}

func TestPartitionedTopic(t *testing.T) {
	Require(t)
	topic := NewTopic(t, "part")
	CreatePartitionedTopic(t, topic, 3)
	if n := Partitions(t, topic); n != 3 {
		t.Fatalf("Partitions = %d, want 3", n)
	}
	st := GetStats(t, topic)
	parts, _ := st["partitions"].(map[string]any)
	if len(parts) != 3 {
		t.Fatalf("partitioned stats: want 3 partitions, got %v", st["partitions"])
	}
	if _, ok := parts[topic+"-partition-2"]; !ok {
		t.Fatalf("partitioned stats: no %s-partition-2 in %v", topic, parts)
	}
	if _, ok := GetInternalStats(t, topic)["partitions"]; !ok {
		t.Fatal("partitioned internal stats without partitions")
	}
	UnloadTopic(t, topic)
	DeleteTopic(t, topic)
}

func TestDeduplicationPolicies(t *testing.T) {
	Require(t)
	ns := NewNamespace(t, "dedup")
	if v := NamespaceDeduplication(t, ns); v != nil {
		t.Fatalf("fresh namespace deduplication = %v, want unset", *v)
	}
	topic := NewTopicIn(t, ns, "d")
	CreateNonPartitionedTopic(t, topic)
	WaitDeduplicationStatus(t, topic, false)

	SetNamespaceDeduplication(t, ns, true)
	WaitDeduplicationStatus(t, topic, true)

	start := time.Now()
	SetTopicDeduplication(t, topic, false)
	t.Logf("topic policy visible after %v", time.Since(start))
	WaitDeduplicationStatus(t, topic, false)

	RemoveTopicDeduplication(t, topic)
	WaitDeduplicationStatus(t, topic, true) // back to the namespace policy

	part := NewTopicIn(t, ns, "dp")
	CreatePartitionedTopic(t, part, 2)
	WaitDeduplicationStatus(t, part, true)
	SetTopicDeduplication(t, part, false)
	WaitDeduplicationStatus(t, part, false)
}

// TestStatsShowPublisher produces with the Go client and checks what the
// stats report while the producer is connected.
func TestStatsShowPublisher(t *testing.T) {
	Require(t)
	topic := NewTopic(t, "stats")
	client, err := pulsar.NewClient(pulsar.ClientOptions{URL: ServiceURL(), Logger: log.DefaultNopLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	producer, err := client.CreateProducer(pulsar.ProducerOptions{Topic: topic, Name: "stats-producer", DisableBatching: true})
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	for i := 0; i < 3; i++ {
		if _, err := producer.Send(context.Background(), &pulsar.ProducerMessage{Payload: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	st := GetStats(t, topic)
	if n := Int64(st["msgInCounter"]); n != 3 {
		t.Fatalf("msgInCounter = %d, want 3", n)
	}
	pubs, _ := st["publishers"].([]any)
	if len(pubs) != 1 {
		t.Fatalf("publishers = %v, want one", st["publishers"])
	}
	if name := pubs[0].(map[string]any)["producerName"]; name != "stats-producer" {
		t.Fatalf("producerName = %v", name)
	}
	if n := Int64(GetInternalStats(t, topic)["entriesAddedCounter"]); n != 3 {
		t.Fatalf("entriesAddedCounter = %d, want 3", n)
	}
}
