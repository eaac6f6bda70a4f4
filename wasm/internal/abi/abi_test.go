// The layouts here are promises of ABI.md: these tests pin every offset of
// the stats records and of a Log record's fields to what it documents.
package abi

import (
	"encoding/binary"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pulsar-producer/pulsar-producer/core/engine"
)

func TestStatsLayout(t *testing.T) {
	var s engine.ClientStats
	for i, c := range counters(&s.ProducerStats) {
		*c = int64(1000 + i)
	}
	for i := range s.Latency.Counts {
		s.Latency.Counts[i] = int64(2000 + i)
	}
	s.Latency.Max = 3 * time.Second
	s.Producers, s.Connections, s.Connects = 4, 5, 6
	b := make([]byte, ClientStatsSize)
	PutClientStats(b, &s)
	at := func(off int) int64 { return int64(binary.LittleEndian.Uint64(b[off:])) }
	// Offsets as ABI.md's table of the stats record lists them.
	for off, want := range map[int]int64{
		0: s.MsgsSent, 8: s.BytesSent, 16: s.MsgsAcked, 24: s.BytesAcked, 32: s.MsgsFailed,
		40: s.BytesFailed, 48: s.PendingMsgs, 56: s.PendingBytes, 64: s.Reconnects,
		72: s.Latency.Counts[0], 72 + 8*18: s.Latency.Counts[18], 224: int64(s.Latency.Max),
		232: int64(s.Producers), 240: int64(s.Connections), 248: s.Connects,
	} {
		if got := at(off); got != want {
			t.Errorf("offset %d holds %d, want %d", off, got, want)
		}
	}
	if ProducerStatsSize != 232 || ClientStatsSize != 256 || NumLatencyBuckets != 19 {
		t.Fatalf("sizes %d and %d with %d buckets; ABI.md says 232 and 256 with 19", ProducerStatsSize, ClientStatsSize, NumLatencyBuckets)
	}
	if got := ClientStatsOf(b); got != s {
		t.Fatalf("read back %+v\nwrote %+v", got, s)
	}
	if got := ProducerStatsOf(b); got != s.ProducerStats {
		t.Fatalf("producer record read back %+v\nwrote %+v", got, s.ProducerStats)
	}
}

// TestLatencyBucketsAsDocumented compares the engine's bucket bounds with
// the list in ABI.md: the record's layout depends on them.
func TestLatencyBucketsAsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../ABI.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`bucket upper bounds, in microseconds: ([0-9, ]+)`).FindSubmatch(doc)
	if m == nil {
		t.Fatal("ABI.md does not list the bucket upper bounds")
	}
	var documented []time.Duration
	for _, f := range strings.Split(string(m[1]), ",") {
		us, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			t.Fatal(err)
		}
		documented = append(documented, time.Duration(us)*time.Microsecond)
	}
	if len(documented) != len(engine.LatencyBuckets) {
		t.Fatalf("ABI.md lists %d bounds, the engine has %d", len(documented), len(engine.LatencyBuckets))
	}
	for i, d := range documented {
		if d != engine.LatencyBuckets[i] {
			t.Fatalf("bound %d: ABI.md says %v, the engine %v", i, d, engine.LatencyBuckets[i])
		}
	}
}

func TestLogFieldsLayout(t *testing.T) {
	r := engine.LogRecord{Level: engine.LogInfo, Topic: "persistent://public/default/t", ProducerName: "p-1", Addr: "h:6650"}
	size := LogFieldsSize(&r)
	if want := (16 + len(r.Topic) + len(r.ProducerName) + len(r.Addr) + 7) &^ 7; size != want || size%8 != 0 {
		t.Fatalf("size %d, want %d", size, want)
	}
	b := make([]byte, size)
	for i := range b {
		b[i] = 0xee // the padding must come out zero
	}
	PutLogFields(b, &r)
	le := binary.LittleEndian
	if le.Uint32(b[0:]) != 2 || le.Uint32(b[4:]) != uint32(len(r.Topic)) || le.Uint32(b[8:]) != 3 || le.Uint32(b[12:]) != 6 {
		t.Fatalf("header % x", b[:16])
	}
	if got := string(b[16 : 16+len(r.Topic)+3+6]); got != r.Topic+r.ProducerName+r.Addr {
		t.Fatalf("strings %q", got)
	}
	for _, c := range b[16+len(r.Topic)+3+6:] {
		if c != 0 {
			t.Fatalf("padding % x", b[16+len(r.Topic)+9:])
		}
	}
	var got engine.LogRecord
	if !LogFieldsOf(b, &got) || got != r {
		t.Fatalf("read back %+v, want %+v", got, r)
	}
	le.PutUint32(b[4:], uint32(len(b))) // a topic longer than the block
	if LogFieldsOf(b, &got) {
		t.Fatal("a length past the block was accepted")
	}
	if LogFieldsOf(b[:15], &got) {
		t.Fatal("a cut header was accepted")
	}
}

// TestVersionAndKindsAsDocumented: ABI.md states this version, and its
// table of event record kinds numbers and names them as the engine does
// (records carry the engine's EventKind), with the one kind that is never
// a record, EngineFailed, after them.
func TestVersionAndKindsAsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../ABI.md")
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`ABI version: \*\*(\d+)\*\*`).FindSubmatch(doc); m == nil || string(m[1]) != strconv.Itoa(Version) {
		t.Fatalf("ABI.md states version %q; Version is %d", m, Version)
	}
	table := regexp.MustCompile(`(?s)\n\| kind \| name \|.*?\n\n`).Find(doc)
	if table == nil {
		t.Fatal("ABI.md has no table of event record kinds")
	}
	rows := regexp.MustCompile("(?m)^\\| (\\d+) \\| (\\w+) \\|").FindAllSubmatch(table, -1)
	kinds := 0
	for _, r := range rows {
		n, _ := strconv.Atoi(string(r[1]))
		if got := engine.EventKind(n).String(); got != string(r[2]) {
			t.Errorf("ABI.md: kind %d is %s; the engine's is %s", n, r[2], got)
		}
		if n != kinds+1 {
			t.Errorf("ABI.md: kind %d follows kind %d", n, kinds)
		}
		kinds = n
	}
	if kinds != int(engine.EventEngineFailed)-1 {
		t.Errorf("ABI.md lists kinds up to %d; the engine's records go up to %d", kinds, engine.EventEngineFailed-1)
	}
	never := regexp.MustCompile(`Kind (\d+) is never a record\. The engine's kind \d+, (\w+),`).FindSubmatch(doc)
	if never == nil || string(never[1]) != strconv.Itoa(int(engine.EventEngineFailed)) || string(never[2]) != "EngineFailed" {
		t.Errorf("ABI.md on the kind that is never a record: %q; the engine's EngineFailed is %d", never, engine.EventEngineFailed)
	}
}

// TestMetadataTagsAsDocumented: ABI.md's table of metadata fields numbers
// them as the tags here do.
func TestMetadataTagsAsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../ABI.md")
	if err != nil {
		t.Fatal(err)
	}
	section := regexp.MustCompile(`(?s)\n## Message metadata\n(.*?)\n## `).FindSubmatch(doc)
	if section == nil {
		t.Fatal("ABI.md has no Message metadata section")
	}
	documented := map[int]string{}
	for _, r := range regexp.MustCompile("(?m)^\\| (\\d+) \\| ([^|]+) \\|").FindAllSubmatch(section[1], -1) {
		n, _ := strconv.Atoi(string(r[1]))
		documented[n] = strings.TrimSpace(string(r[2]))
	}
	want := map[int]string{
		TagKey: "key", TagOrderingKey: "ordering key", TagProperty: "property", TagEventTime: "event time",
		TagDeliverAt: "deliver at", TagDeliverAfter: "deliver after", TagSequenceID: "sequence ID",
		TagNullValue: "null value", TagReplicationCluster: "replication cluster",
		TagDisableReplication: "disable replication", TagKeyBase64: "key is base64", TagPartition: "partition",
		TagValueJSON: "value JSON",
	}
	if len(documented) != len(want) {
		t.Errorf("ABI.md documents %d tags, package abi has %d", len(documented), len(want))
	}
	for tag, name := range want {
		if documented[tag] != name {
			t.Errorf("tag %d: ABI.md says %q, want %q", tag, documented[tag], name)
		}
	}
}

func TestChunkFieldsLayout(t *testing.T) {
	id := engine.MessageID{FirstChunkLedgerID: 0x0102030405060708, FirstChunkEntryID: -2}
	b := make([]byte, ChunkFieldsSize)
	PutChunkFields(b, &id)
	le := binary.LittleEndian
	if ChunkFieldsSize != 16 || int64(le.Uint64(b[0:])) != id.FirstChunkLedgerID || int64(le.Uint64(b[8:])) != id.FirstChunkEntryID {
		t.Fatalf("% x", b)
	}
	var got engine.MessageID
	if !ChunkFieldsOf(b, &got) || !got.Chunked || got.FirstChunkLedgerID != id.FirstChunkLedgerID || got.FirstChunkEntryID != -2 {
		t.Fatalf("read back %+v", got)
	}
	if ChunkFieldsOf(b[:15], &engine.MessageID{}) {
		t.Fatal("15 bytes were accepted")
	}
	if ReceiptChunked != 1 || EventFlagsOffset != 5 {
		t.Fatalf("flag %d at offset %d; ABI.md says bit 0 (1) at offset 5", ReceiptChunked, EventFlagsOffset)
	}
}
