// Tests of the module's ABI itself, without a broker: bad input of every
// kind must give a clear error code and text, never a trap, and leave the
// instance usable. The test plays the host by hand: it calls exports with
// chosen arguments and a clock it sets.
package wasm

import (
	"bytes"
	"strings"
	"testing"
	"time"

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
