// Tests of the module's ABI itself, without a broker: bad input of every
// kind must give a clear error code and text, never a trap, and leave the
// instance usable. The test plays the host by hand: it calls exports with
// chosen arguments and a clock it sets.
package wasm

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/pulsar-producer/pulsar-producer/core/engine"
	"github.com/pulsar-producer/pulsar-producer/wasm/internal/abi"
)

var abiT0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func newTestInstance(t *testing.T) *instance {
	t.Helper()
	in, err := newInstance(testModule(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(in.close)
	return in
}

// wantCode fails the test unless err has code want and its text contains
// every fragment.
func wantCode(t *testing.T, what string, err error, want engine.Code, fragments ...string) {
	t.Helper()
	if got := engine.CodeOf(err); got != want {
		t.Fatalf("%s: got %v (%v), want code %v", what, got, err, want)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Fatalf("%s: error %q does not mention %q", what, err, f)
		}
	}
	if _, trapped := err.(*trapError); trapped {
		t.Fatalf("%s: the module trapped: %v", what, err)
	}
}

func TestABICallsBeforeClient(t *testing.T) {
	in := newTestInstance(t)
	wantCode(t, "ppw_tick", in.do(fnTick, nowNs(abiT0)), engine.CodeInvalidHandle, "ppw_client_new")
	wantCode(t, "ppw_send", in.do(fnSend, 1, uint64(in.send.ptr), 1, 0, nowNs(abiT0)), engine.CodeInvalidHandle)
	wantCode(t, "ppw_free", in.do(fnFree, 12345), engine.CodeInvalidArgument, "ppw_alloc")
	wantCode(t, "ppw_alloc(0)", in.alloc(&guestBlock{}, 0), engine.CodeInvalidArgument, "size 0")
	wantCode(t, "ppw_alloc(huge)", in.alloc(&guestBlock{}, 1<<30), engine.CodeInvalidArgument, "size")
	wantCode(t, "unknown flags", in.clientNew("pulsar://127.0.0.1:6650", nil, abiT0, 1, 6), engine.CodeInvalidArgument, "unknown flags 0x6")
	if err := in.clientNew("pulsar://127.0.0.1:6650", nil, abiT0, 1, flagHostChecksums); err != nil {
		t.Fatalf("the instance is not usable after bad calls: %v", err)
	}
}

func TestABIMalformedOptions(t *testing.T) {
	in := newTestInstance(t)
	url := "pulsar://127.0.0.1:6650"
	for _, c := range []struct {
		opts      string
		fragments []string
	}{
		{`{"connectionTimeout":`, []string{"not a valid JSON object"}},
		{`[1,2]`, []string{"must be a JSON object, not an array"}},
		{`{"noSuchOption":1}`, []string{`"noSuchOption" is unknown`}},
		{`{"operationTimeout":"soon"}`, []string{`"operationTimeout" must be an integer`}},
		{`{"batchingMaxMessages":10}`, []string{`"batchingMaxMessages" is a producer option`}},
		{`{"maxBackoff":10,"initialBackoff":100}`, []string{"maxBackoff", "below initialBackoff"}},
		{`{"operationTimeout":5000,"operationTimeout":6000}`, []string{`"operationTimeout" is given twice`}},
		{`{"operationTimeout":5000} {}`, []string{"more than one JSON value"}},
	} {
		wantCode(t, c.opts, in.clientNew(url, []byte(c.opts), abiT0, 1, 0), engine.CodeInvalidConfiguration, c.fragments...)
	}
	wantCode(t, "bad URL", in.clientNew("http://nowhere", nil, abiT0, 1, 0), engine.CodeInvalidURL)
	if err := in.clientNew(url, []byte(`{"operationTimeout":5000}`), abiT0, 1, 0); err != nil {
		t.Fatalf("valid options after bad ones: %v", err)
	}
	wantCode(t, "second client", in.clientNew(url, nil, abiT0, 1, 0), engine.CodeInvalidArgument, "already has a client")
	_, err := in.producerCreate("t", []byte(`{"keepAliveInterval":5}`), abiT0)
	wantCode(t, "client option for a producer", err, engine.CodeInvalidConfiguration, "is a client option")
	_, err = in.producerCreate("t", []byte(`{"compressionType":"brotli"}`), abiT0)
	wantCode(t, "bad enum", err, engine.CodeInvalidConfiguration, "compressionType")
	_, err = in.producerCreate("", nil, abiT0)
	wantCode(t, "empty topic", err, engine.CodeInvalidTopicName)
	if _, err := in.producerCreate("t", []byte(`{"compressionType":"lz4"}`), abiT0); err != nil {
		t.Fatalf("valid producer after bad ones: %v", err)
	}
}

func TestABIOversizeLengths(t *testing.T) {
	in := newTestInstance(t)
	if err := in.clientNew("pulsar://127.0.0.1:6650", nil, abiT0, 1, 0); err != nil {
		t.Fatal(err)
	}
	p, err := in.producerCreate("t", nil, abiT0)
	if err != nil {
		t.Fatal(err)
	}
	send := func(ptr, n uint64) error {
		return in.do(fnSend, uint64(p), ptr, n, 7, nowNs(abiT0))
	}
	blk := in.send
	wantCode(t, "length past the block", send(uint64(blk.ptr), uint64(blk.cap)+1), engine.CodeInvalidArgument, "past the end of its ppw_alloc block")
	wantCode(t, "length of 4 GiB", send(uint64(blk.ptr), 0xffffffff), engine.CodeInvalidArgument, "past the end")
	wantCode(t, "pointer into the module's own heap", send(8, 16), engine.CodeInvalidArgument, "outside every block")
	wantCode(t, "pointer past memory", send(0xfffffff0, 8), engine.CodeInvalidArgument, "outside every block")
	wantCode(t, "receive past the block", in.do(fnReceive, 1, uint64(in.recv.ptr)+10, uint64(in.recv.cap), nowNs(abiT0)), engine.CodeInvalidArgument)
	wantCode(t, "metadata past the block",
		in.do(fnSendMsg, uint64(p), uint64(blk.ptr), 1, uint64(blk.ptr)+uint64(blk.cap)-2, 4, 1, nowNs(abiT0)),
		engine.CodeInvalidArgument, "metadata")
	// A well-formed send now fails only because the producer is not ready.
	wantCode(t, "valid send", send(uint64(blk.ptr), 100), engine.CodeProducerNotInitialized)
}

func TestABIMalformedMetadata(t *testing.T) {
	in := newTestInstance(t)
	if err := in.clientNew("pulsar://127.0.0.1:6650", nil, abiT0, 1, 0); err != nil {
		t.Fatal(err)
	}
	p, err := in.producerCreate("t", nil, abiT0)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		meta []byte
		frag string
	}{
		{"unknown tag", []byte{42}, "unknown field tag 42"},
		{"cut length", []byte{abi.TagKey, 5, 0}, "key length at byte 1"},
		{"length past the end", []byte{abi.TagKey, 200, 0, 0, 0, 'a'}, "needs 200 bytes"},
		{"cut int64", []byte{abi.TagEventTime, 1, 2, 3}, "event time"},
		{"repeated key", appendStringField(appendStringField(nil, abi.TagKey, "a"), abi.TagKey, "b"), "key repeated"},
		{"cut partition", []byte{abi.TagPartition, 1, 2}, "partition at byte 1 needs 4 bytes"},
		{"repeated property", appendMetadata(appendMetadata(nil, &engine.Message{Properties: map[string]string{"k": "1"}}), &engine.Message{Properties: map[string]string{"k": "2"}}), `property "k" repeated`},
	} {
		in.mem.Write(in.send.ptr, c.meta)
		err := in.do(fnSendMsg, uint64(p), 0, 0, uint64(in.send.ptr), uint64(len(c.meta)), 1, nowNs(abiT0))
		wantCode(t, c.name, err, engine.CodeInvalidArgument, c.frag)
	}
}

func TestABIBuffersTooSmall(t *testing.T) {
	in := newTestInstance(t)
	if err := in.clientNew("pulsar://127.0.0.1:6650", nil, abiT0, 1, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := in.producerCreate("t", nil, abiT0); err != nil {
		t.Fatal(err)
	}
	// The producer asks for a connection: one event, 72 bytes + the address.
	if in.st.events != 1 {
		t.Fatalf("status says %d events, want 1", in.st.events)
	}
	need := uint64(recordSizeForTest(0, len("127.0.0.1:6650")))
	err := in.do(fnNextEvents, uint64(in.events.ptr), 16)
	wantCode(t, "16-byte event buffer", err, engine.CodeBufferTooSmall, "needs 88 bytes")
	if st := in.st; st.result[1] != need || st.events != 1 {
		t.Fatalf("after BufferTooSmall: needed %d (want %d), events %d (want 1: the event is kept)", st.result[1], need, st.events)
	}
	evs := takeEvents(in)
	if len(evs) != 1 || evs[0].Kind != engine.EventConnect || evs[0].Text != "127.0.0.1:6650" {
		t.Fatalf("the kept event: %+v", evs)
	}
	conn := evs[0].Conn

	// Opening the connection queues CONNECT; a 4-byte buffer is too small.
	if err := in.do(fnConnOpened, uint64(conn), nowNs(abiT0)); err != nil {
		t.Fatal(err)
	}
	err = in.do(fnTakeOutput, uint64(in.out.ptr), 4)
	wantCode(t, "4-byte output buffer", err, engine.CodeBufferTooSmall, "bytes to write")
	st := in.st
	if !st.output || st.result[0] != uint64(conn) || st.result[1] <= 4 {
		t.Fatalf("after BufferTooSmall: status %+v", st)
	}
	id, data, ok, err := in.takeOutput(nil)
	if err != nil || !ok || id != conn || uint64(len(data)) != st.result[1] {
		t.Fatalf("the kept output: conn %d, %d bytes, %v, %v; want conn %d, %d bytes", id, len(data), ok, err, conn, st.result[1])
	}
	if !bytes.Contains(data, []byte(engine.ClientVersion)) {
		t.Fatalf("the output is not a CONNECT frame: %q", data)
	}
}

func recordSizeForTest(tokens, textLen int) int {
	return (eventHeaderSize + 8*tokens + textLen + 7) &^ 7
}

// takeEvents drains the instance's events through an Engine's decoder.
func takeEvents(in *instance) []engine.Event {
	e := &Engine{in: in, parts: map[engine.ProducerID]*prodInfo{}}
	return e.AppendEvents(nil)
}

func TestABIGarbageInput(t *testing.T) {
	in := newTestInstance(t)
	if err := in.clientNew("pulsar://127.0.0.1:6650", []byte(`{"initialBackoff":100}`), abiT0, 1, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := in.producerCreate("t", nil, abiT0); err != nil {
		t.Fatal(err)
	}
	evs := takeEvents(in)
	conn := evs[0].Conn
	if err := in.do(fnConnOpened, uint64(conn), nowNs(abiT0)); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := in.takeOutput(nil); err != nil {
		t.Fatal(err)
	}
	garbage := bytes.Repeat([]byte{0xff, 0x00, 0x13, 0x37}, 64)
	if err := in.receive(conn, garbage, abiT0); err != nil {
		t.Fatalf("ppw_receive of garbage returned %v; the engine should close the connection instead", err)
	}
	evs = takeEvents(in)
	if len(evs) == 0 || evs[0].Kind != engine.EventConnClosed || engine.CodeOf(evs[0].Err) != engine.CodeProtocolError {
		t.Fatalf("after garbage: events %+v; want ConnClosed with ProtocolError", evs)
	}
	t.Logf("garbage closed the connection: %v", evs[0].Err)
	// The metadata request fails with the connection, which fails the
	// producer's creation; a new producer asks for a new connection.
	if _, err := in.producerCreate("t2", nil, abiT0); err != nil {
		t.Fatal(err)
	}
	evs = takeEvents(in)
	var reconnect bool
	for _, ev := range evs {
		if ev.Kind == engine.EventConnect && ev.Conn != conn {
			reconnect = true
		}
	}
	if !reconnect {
		t.Fatalf("no new connection after the garbage: %+v", evs)
	}
}

// TestABIExportsAsDocumented: the module exports exactly the functions
// ABI.md lists, with the signatures it gives, and every name but
// _initialize has the WASI prefix ppw_, never the C ABI's pp_.
func TestABIExportsAsDocumented(t *testing.T) {
	doc, err := os.ReadFile("ABI.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `(\\w+)` \\| `\\(([^)]*)\\) -> (\\w+|\\(\\))` \\|")
	documented := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(string(doc), -1) {
		var sig []string
		for _, p := range strings.Split(m[2], ",") {
			if f := strings.Fields(p); len(f) == 2 {
				sig = append(sig, f[1])
			}
		}
		result := map[string]string{"code": "i32", "()": ""}[m[3]]
		if result == "" && m[3] != "()" {
			result = m[3]
		}
		documented[m[1]] = strings.Join(sig, ",") + " -> " + result
	}
	have := map[string]string{}
	for name, def := range testModule(t).compiled.ExportedFunctions() {
		var sig []string
		for _, p := range def.ParamTypes() {
			sig = append(sig, api.ValueTypeName(p))
		}
		var result []string
		for _, r := range def.ResultTypes() {
			result = append(result, api.ValueTypeName(r))
		}
		have[name] = strings.Join(sig, ",") + " -> " + strings.Join(result, ",")
		if name != "_initialize" && !strings.HasPrefix(name, "ppw_") {
			t.Errorf("export %s lacks the ppw_ prefix", name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(have)) {
		sig := have[name]
		if doc, ok := documented[name]; !ok {
			t.Errorf("export %s (%s) is not in ABI.md", name, sig)
		} else if doc != sig {
			t.Errorf("export %s is %s; ABI.md says %s", name, sig, doc)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(documented)) {
		if _, ok := have[name]; !ok {
			t.Errorf("ABI.md lists %s, which the module does not export", name)
		}
	}
	if len(have) < len(exportNames) {
		t.Fatalf("%d exports; the host alone calls %d", len(have), len(exportNames))
	}
}

// TestABIStatsAndRoom: the stats exports write records of the documented
// sizes, refuse a small buffer without losing anything and an unknown
// producer with InvalidHandle; ppw_room answers 0, 0 for a producer that
// is not ready.
func TestABIStatsAndRoom(t *testing.T) {
	in := newTestInstance(t)
	_, err := in.stats(fnClientStats, abi.ClientStatsSize)
	wantCode(t, "ppw_client_stats before a client", err, engine.CodeInvalidHandle, "ppw_client_new")
	if err := in.clientNew("pulsar://127.0.0.1:6650", nil, abiT0, 1, 0); err != nil {
		t.Fatal(err)
	}
	p, err := in.producerCreate("t", []byte(`{"maxPendingMessages":7}`), abiT0)
	if err != nil {
		t.Fatal(err)
	}
	if m, b, err := in.room(p); m != 0 || b != 0 || err != nil {
		t.Fatalf("room of a producer that is not ready: %d, %d, %v; want 0, 0", m, b, err)
	}
	err = in.do(fnProducerStats, uint64(p), uint64(in.out.ptr), abi.ProducerStatsSize-1)
	wantCode(t, "a buffer one byte short", err, engine.CodeBufferTooSmall, "needs 232 bytes")
	if in.st.result[1] != abi.ProducerStatsSize {
		t.Fatalf("BufferTooSmall says %d bytes are needed, want %d", in.st.result[1], abi.ProducerStatsSize)
	}
	err = in.do(fnProducerStats, uint64(p), 8, abi.ProducerStatsSize)
	wantCode(t, "a buffer outside every block", err, engine.CodeInvalidArgument, "outside every block")
	b, err := in.stats(fnProducerStats, abi.ProducerStatsSize, uint64(p))
	if err != nil || in.st.result[1] != abi.ProducerStatsSize {
		t.Fatalf("ppw_producer_stats: %v, result1 %d", err, in.st.result[1])
	}
	if s := abi.ProducerStatsOf(b); s != (engine.ProducerStats{}) {
		t.Fatalf("stats of a producer that sent nothing: %+v", s)
	}
	_, err = in.stats(fnProducerStats, abi.ProducerStatsSize, uint64(p)+100)
	wantCode(t, "an unknown producer", err, engine.CodeInvalidHandle, fmt.Sprintf("no open producer %d", p+100))
	b, err = in.stats(fnClientStats, abi.ClientStatsSize)
	if err != nil || in.st.result[1] != abi.ClientStatsSize {
		t.Fatalf("ppw_client_stats: %v, result1 %d", err, in.st.result[1])
	}
	if s := abi.ClientStatsOf(b); s.Producers != 1 || s.Connections != 0 || s.Connects != 0 {
		t.Fatalf("client stats with one producer being created: %+v", s)
	}
}

// TestABIImportsAsDocumented: the module imports only functions of
// wasi_snapshot_preview1, and only those ABI.md lists.
func TestABIImportsAsDocumented(t *testing.T) {
	doc, err := os.ReadFile("ABI.md")
	if err != nil {
		t.Fatal(err)
	}
	section := regexp.MustCompile(`(?s)## Imports\n(.*?)\n## `).FindSubmatch(doc)
	if section == nil {
		t.Fatal("ABI.md has no Imports section")
	}
	listed := map[string]bool{}
	for _, m := range regexp.MustCompile("`([a-z_0-9]+)`").FindAllSubmatch(section[1], -1) {
		listed[string(m[1])] = true
	}
	for _, f := range testModule(t).compiled.ImportedFunctions() {
		module, name, _ := f.Import()
		if module != "wasi_snapshot_preview1" || !listed[name] {
			t.Errorf("the module imports %s.%s, which ABI.md does not list", module, name)
		}
	}
}

// TestABIPartitions: ppw_partitions answers 0 for a producer that is not
// ready or not known, and InvalidHandle before a client.
func TestABIPartitions(t *testing.T) {
	in := newTestInstance(t)
	_, err := in.partitions(1)
	wantCode(t, "ppw_partitions before a client", err, engine.CodeInvalidHandle, "ppw_client_new")
	if err := in.clientNew("pulsar://127.0.0.1:6650", nil, abiT0, 1, 0); err != nil {
		t.Fatal(err)
	}
	p, err := in.producerCreate("t", nil, abiT0)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []engine.ProducerID{p, p + 100} {
		if n, err := in.partitions(id); n != 0 || err != nil {
			t.Fatalf("partitions of producer %d (not ready or unknown): %d, %v; want 0", id, n, err)
		}
	}
}

// TestChunkedReceiptDecoding: the host reads a chunked message's Receipt
// record into an ID with the first chunk's ledger and entry, and refuses a
// record whose CHUNKED flag comes without the 16 bytes of fields.
func TestChunkedReceiptDecoding(t *testing.T) {
	le := binary.LittleEndian
	record := func(extra int) []byte {
		b := make([]byte, 72+8+extra)
		le.PutUint32(b[0:], uint32(len(b)))
		b[4], b[5] = byte(engine.EventReceipt), abi.ReceiptChunked
		le.PutUint64(b[24:], 3)
		le.PutUint32(b[32:], 1)
		le.PutUint32(b[36:], uint32(extra))
		le.PutUint64(b[40:], 9)
		le.PutUint64(b[48:], 14)
		le.PutUint32(b[56:], 0xffffffff)
		le.PutUint32(b[60:], 0xffffffff)
		le.PutUint64(b[72:], 77)
		if extra >= 16 {
			le.PutUint64(b[80:], 8)
			le.PutUint64(b[88:], 11)
		}
		return b
	}
	e := &Engine{parts: map[engine.ProducerID]*prodInfo{}}
	evs, err := e.decodeEvents(nil, record(16), 1)
	want := engine.MessageID{LedgerID: 9, EntryID: 14, Partition: -1, BatchIndex: -1, Chunked: true, FirstChunkLedgerID: 8, FirstChunkEntryID: 11}
	if err != nil || len(evs) != 1 || evs[0].ID != want || len(evs[0].Tokens) != 1 || evs[0].Tokens[0] != 77 {
		t.Fatalf("decoded %+v, %v; want ID %v", evs, err, want)
	}
	if want.String() != "8:11:-1;9:14:-1" {
		t.Fatalf("ID prints as %s", want)
	}
	_, err = e.decodeEvents(nil, record(8), 1)
	wantCode(t, "a CHUNKED receipt with 8 bytes of fields", err, engine.CodeProtocolError, "chunked receipt has 8 bytes of fields, not 16")
}
