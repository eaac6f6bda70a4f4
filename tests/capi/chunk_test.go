// Chunked messages from C: a 20 MiB message sent with pp_send, reassembled
// byte for byte by the official Go client, and its chunked message ID
// checked against what that client reports and accepts.
//
// How this works: pp_chunk_test.c sends a small message, 20 MiB and another
// small one, checks the chunked ID itself (flags, pp_message_id_str, the
// serialize/deserialize round trip) and prints the IDs and the serialized
// bytes. This test generates the large payload on its own (the same
// xorshift32 stream), consumes the topic with the official Go client and
// compares every payload and position (the Go client names a chunked
// message by its last chunk and prints the first chunk's position first),
// and gives the serialized IDs to the Go client's DeserializeMessageID.
// That function (v0.19.0) keeps only the last chunk's position, so the
// first_chunk_message_id field is read with protowire here, and compared
// with the Go client's own serialization of the ID it consumed.
package capi

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/pulsar-producer/pulsar-producer/tests/broker"
	"github.com/pulsar-producer/pulsar-producer/tests/verify"
)

// xorshiftBytes is the payload pp_chunk_test.c sends.
func xorshiftBytes(n int) []byte {
	b := make([]byte, n)
	x := uint32(0x9E3779B9)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

type serialized struct {
	bytes                   []byte
	firstLedger, firstEntry int64
}

func TestCChunkedMessage(t *testing.T) {
	broker.Require(t)
	prog := build(t, "pp_chunk_test.c", false)
	topic := broker.NewTopic(t, "c-chunk")
	ser := map[string]serialized{}
	msgs := runProgram(t, prog, runOptions{
		args: []string{broker.ServiceURL(), topic},
		onLine: func(line string) {
			var label, hexed string
			var s serialized
			if _, err := fmt.Sscanf(line, "SER %s %s %d %d", &label, &hexed, &s.firstLedger, &s.firstEntry); err != nil {
				return
			}
			b, err := hex.DecodeString(hexed)
			if err != nil {
				t.Errorf("line %q: %v", line, err)
			}
			s.bytes = b
			ser[label] = s
		},
	})
	ids := byLabel(t, msgs)
	order := []string{"small-before", "big", "small-after"}
	want := map[string][]byte{"small-before": []byte("small-before"), "big": xorshiftBytes(20 << 20), "small-after": []byte("small-after")}
	for _, l := range order {
		if _, ok := ids[l]; !ok {
			t.Fatalf("the program did not report %s", l)
		}
	}
	big, ok := ser["big"]
	if !ok {
		t.Fatal("the program printed no serialized ID for the large message")
	}

	got := verify.Consume(t, topic, 3, verify.Options{Timeout: 90 * time.Second})
	for i, g := range got {
		label := order[i]
		if !bytes.Equal(g.Payload(), want[label]) {
			t.Errorf("message %d (%s): the Go client read %d bytes, the program sent %d (or other bytes)", i, label, len(g.Payload()), len(want[label]))
		}
		id, gid := ids[label], verify.IDOf(g.ID())
		if gid.Ledger != id[0] || gid.Entry != id[1] {
			t.Errorf("%s: the Go client found it at %d:%d, the program was told %v", label, gid.Ledger, gid.Entry, id)
		}
		if label == "big" {
			if first := fmt.Sprintf("%d:%d:", big.firstLedger, big.firstEntry); !strings.HasPrefix(g.ID().String(), first) {
				t.Errorf("the Go client's ID of the chunked message is %s; the program said the first chunk is at %s", g.ID(), first)
			}
		}
	}

	// The Go client reads our serialized IDs, the chunked one as chunked.
	for label, s := range ser {
		gid, err := pulsar.DeserializeMessageID(s.bytes)
		if err != nil {
			t.Errorf("the Go client refuses the serialized ID of %s (% x): %v", label, s.bytes, err)
			continue
		}
		if id := ids[label]; gid.LedgerID() != id[0] || gid.EntryID() != id[1] {
			t.Errorf("%s: the Go client read the serialized ID as %v, the program was told %v", label, gid, id)
		}
		// DeserializeMessageID of pulsar-client-go v0.19.0 drops
		// first_chunk_message_id; read the field with protowire instead.
		d, err := decodeMessageIDData(s.bytes)
		if err != nil {
			t.Errorf("%s: % x: %v", label, s.bytes, err)
			continue
		}
		switch {
		case label == "big" && (d.first == nil || d.first.ledger != s.firstLedger || d.first.entry != s.firstEntry):
			t.Errorf("the serialized chunked ID % x decodes to %+v (first chunk %+v), want the first chunk at %d:%d", s.bytes, d, d.first, s.firstLedger, s.firstEntry)
		case label != "big" && d.first != nil:
			t.Errorf("%s: the serialized ID of a message sent whole has a first chunk: %+v", label, d.first)
		}
	}
	// The Go client's own serialization of the chunked ID it consumed
	// names the same two chunks.
	theirs, err := decodeMessageIDData(got[1].ID().Serialize())
	if err != nil || theirs.first == nil || theirs.ledger != ids["big"][0] || theirs.entry != ids["big"][1] ||
		theirs.first.ledger != big.firstLedger || theirs.first.entry != big.firstEntry {
		t.Errorf("the Go client serializes the chunked ID it read as %+v (first %+v, %v)", theirs, theirs.first, err)
	}
}

// messageIDData is the protocol's MessageIdData, as far as these tests
// read it.
type messageIDData struct {
	ledger, entry int64
	partition     int32
	first         *messageIDData // first_chunk_message_id
}

// decodeMessageIDData reads MessageIdData (PulsarApi.proto: ledgerId 1,
// entryId 2, partition 3, batch_index 4, ack_set 5, batch_size 6,
// first_chunk_message_id 7) field by field.
func decodeMessageIDData(b []byte) (*messageIDData, error) {
	d := &messageIDData{partition: -1}
	seen := 0
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		b = b[n:]
		switch {
		case typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return nil, protowire.ParseError(n)
			}
			b = b[n:]
			switch num {
			case 1:
				d.ledger, seen = int64(v), seen|1
			case 2:
				d.entry, seen = int64(v), seen|2
			case 3:
				d.partition = int32(v)
			}
		case typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil, protowire.ParseError(n)
			}
			b = b[n:]
			if num == 7 {
				f, err := decodeMessageIDData(v)
				if err != nil {
					return nil, fmt.Errorf("first_chunk_message_id: %w", err)
				}
				d.first = f
			}
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return nil, protowire.ParseError(n)
			}
			b = b[n:]
		}
	}
	if seen != 3 {
		return nil, fmt.Errorf("ledgerId or entryId missing")
	}
	return d, nil
}
