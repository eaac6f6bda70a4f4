// Byte-exact checks of what ABI.md promises about the records the module
// writes and reads for chunked messages and routed messages: a chunked
// message's Receipt record (flags byte, extra_len, the first chunk's ID
// after the tokens) and metadata tags 11, 12 and 13. Like the fuzz target, it
// has no build constraint: it runs natively and under wasip1.
package main

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/pulsar-producer/pulsar-producer/core/engine"
	"github.com/pulsar-producer/pulsar-producer/wasm/internal/abi"
)

func TestChunkedReceiptRecordLayout(t *testing.T) {
	le := binary.LittleEndian
	for _, c := range []struct {
		id    engine.MessageID
		flags byte
		size  int
	}{
		{engine.MessageID{LedgerID: 9, EntryID: 14, Partition: 2, BatchIndex: -1, Chunked: true, FirstChunkLedgerID: 8, FirstChunkEntryID: 11}, 1, 72 + 8 + 16},
		{engine.MessageID{LedgerID: 9, EntryID: 15, Partition: -1, BatchIndex: -1}, 0, 72 + 8},
	} {
		ev := engine.Event{Kind: engine.EventReceipt, Producer: 3, Tokens: []uint64{0xabcdef}, ID: c.id}
		code, text := eventError(&ev)
		size := recordSize(len(ev.Tokens), extraSize(&ev), len(text))
		if size != c.size {
			t.Fatalf("%v: record of %d bytes, want %d", c.id, size, c.size)
		}
		b := make([]byte, size)
		for i := range b {
			b[i] = 0xee // every byte must be written
		}
		writeEvent(b, &ev, code, text)
		if got := le.Uint32(b[0:]); got != uint32(size) || b[4] != byte(engine.EventReceipt) || b[5] != c.flags || b[6] != 0 || b[7] != 0 {
			t.Fatalf("%v: size %d, kind %d, flags %d, reserved % x", c.id, got, b[4], b[5], b[6:8])
		}
		if le.Uint32(b[32:]) != 1 || le.Uint32(b[36:]) != uint32(size-80) || le.Uint64(b[72:]) != 0xabcdef {
			t.Fatalf("%v: token_count %d, extra_len %d, token %x", c.id, le.Uint32(b[32:]), le.Uint32(b[36:]), le.Uint64(b[72:]))
		}
		if int64(le.Uint64(b[40:])) != c.id.LedgerID || int64(le.Uint64(b[48:])) != c.id.EntryID || int32(le.Uint32(b[56:])) != c.id.Partition ||
			int32(le.Uint32(b[60:])) != -1 || le.Uint32(b[64:]) != 0 {
			t.Fatalf("%v: ID fields % x", c.id, b[40:68])
		}
		if c.id.Chunked && (le.Uint64(b[80:]) != 8 || le.Uint64(b[88:]) != 11) {
			t.Fatalf("first chunk fields % x, want ledger 8 and entry 11", b[80:96])
		}
		var back engine.MessageID
		if ok := abi.ChunkFieldsOf(b[80:], &back); c.id.Chunked && (!ok || back.FirstChunkLedgerID != 8 || back.FirstChunkEntryID != 11 || !back.Chunked) {
			t.Fatalf("read back %+v", back)
		}
	}
}

func TestRoutedAndBase64KeyMetadata(t *testing.T) {
	b := []byte{abi.TagKey, 4, 0, 0, 0, 'A', 'A', 'E', '=', abi.TagKeyBase64, abi.TagPartition, 7, 0, 0, 0}
	var m engine.Message
	if err := decodeMetadata(b, &m); err != nil {
		t.Fatal(err)
	}
	if m.Key != "AAE=" || !m.KeyBase64 || !m.Routed || m.Partition != 7 {
		t.Fatalf("decoded %+v", m)
	}
	neg := binary.LittleEndian.AppendUint32([]byte{abi.TagPartition}, uint32(0xffffffff))
	m = engine.Message{}
	if err := decodeMetadata(neg, &m); err != nil || !m.Routed || m.Partition != -1 {
		t.Fatalf("partition -1: %+v, %v (the engine refuses it, not the decoder)", m, err)
	}
	for _, bad := range []struct {
		b    []byte
		frag string
	}{
		{[]byte{abi.TagPartition, 1, 2}, "partition at byte 1 needs 4 bytes"},
		{[]byte{abi.TagKeyBase64, abi.TagKeyBase64}, "field keyBase64 repeated at byte 1"},
		{[]byte{abi.TagPartition, 1, 0, 0, 0, abi.TagPartition, 2, 0, 0, 0}, "field partition repeated at byte 5"},
		{[]byte{abi.TagValueJSON + 1}, "unknown field tag 14"},
	} {
		err := decodeMetadata(bad.b, &engine.Message{})
		if engine.CodeOf(err) != engine.CodeInvalidArgument || !strings.Contains(err.Error(), bad.frag) {
			t.Errorf("% x: %v, want InvalidArgument mentioning %q", bad.b, err, bad.frag)
		}
	}
}

// TestValueJSONMetadata: tag 13 sets the message's value as JSON text,
// kept for the engine to encode; with a payload or a null value it is
// refused with InvalidMessage, and a cut or repeated one with
// InvalidArgument.
func TestValueJSONMetadata(t *testing.T) {
	b := append([]byte{abi.TagValueJSON, 7, 0, 0, 0}, `{"a":1}`...)
	m := engine.Message{}
	if err := decodeMetadata(b, &m); err != nil {
		t.Fatal(err)
	}
	if v, ok := m.Value.(engine.ValueJSON); !ok || string(v) != `{"a":1}` || m.Payload != nil || m.HasKey {
		t.Fatalf("decoded %+v", m)
	}
	if err := checkValueJSON(&m); err != nil {
		t.Fatalf("a value JSON alone: %v", err)
	}
	empty := engine.Message{}
	if err := decodeMetadata([]byte{abi.TagValueJSON, 0, 0, 0, 0}, &empty); err != nil || empty.Value == nil {
		t.Fatalf("an empty value JSON is still a value (the engine says it is not JSON): %+v, %v", empty, err)
	}
	for _, c := range []struct {
		m    engine.Message
		frag string
	}{
		{engine.Message{Value: m.Value, Payload: []byte("p")}, "set the value JSON or a payload, not both"},
		{engine.Message{Value: m.Value, NullValue: true}, "set the value JSON or a null value, not both"},
	} {
		if err := checkValueJSON(&c.m); engine.CodeOf(err) != engine.CodeInvalidMessage || !strings.Contains(err.Error(), c.frag) {
			t.Errorf("%+v: %v, want InvalidMessage mentioning %q", c.m, err, c.frag)
		}
	}
	for _, bad := range []struct {
		b    []byte
		frag string
	}{
		{[]byte{abi.TagValueJSON, 9, 0, 0, 0, '1'}, "value JSON at byte 5 needs 9 bytes"},
		{[]byte{abi.TagValueJSON, 1, 0}, "value JSON length at byte 1"},
		{[]byte{abi.TagValueJSON, 1, 0, 0, 0, '1', abi.TagValueJSON, 1, 0, 0, 0, '2'}, "field valueJson repeated at byte 6"},
	} {
		err := decodeMetadata(bad.b, &engine.Message{})
		if engine.CodeOf(err) != engine.CodeInvalidArgument || !strings.Contains(err.Error(), bad.frag) {
			t.Errorf("% x: %v, want InvalidArgument mentioning %q", bad.b, err, bad.frag)
		}
	}
}

// TestCauseTextCarriesItsCode: a host's cause text that starts with a code's
// name carries that code to the engine (a credentials failure stays an
// AuthenticationError); other texts are plain errors, which the engine
// reports as ConnectError.
func TestCauseTextCarriesItsCode(t *testing.T) {
	var ee *engine.Error
	if err := causeError("AuthenticationError: the token file is missing"); !errors.As(err, &ee) ||
		ee.Code != engine.CodeAuthenticationError || ee.Msg != "the token file is missing" {
		t.Fatalf("got %#v", err)
	}
	for _, plain := range []string{"connection refused", "NoSuchCode: x", "Ok: x", "AuthenticationError:x"} {
		if err := causeError(plain); errors.As(err, &ee) || err.Error() != plain {
			t.Fatalf("%q: got %#v", plain, err)
		}
	}
}
