// The state machine on bytes alone: every command it answers, every fault
// hook, and input split at every byte. No socket and no clock: time is
// whatever the test passes.
package fakebroker

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/pulsar-producer/pulsar-producer/internal/pb"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// decodeAll decodes a run of whole frames.
func decodeAll(t *testing.T, b []byte) []*pb.BaseCommand {
	t.Helper()
	var out []*pb.BaseCommand
	for len(b) > 0 {
		f, n, err := ReadFrame(b)
		if err != nil || n == 0 {
			t.Fatalf("the broker wrote an unreadable frame: n=%d err=%v", n, err)
		}
		out = append(out, f.Command)
		b = b[n:]
	}
	return out
}

// answer feeds in and decodes the replies, which must come without error.
func answer(t *testing.T, c *Conn, in []byte) []*pb.BaseCommand {
	t.Helper()
	out, err := c.Answer(in, t0)
	if err != nil {
		t.Fatalf("Answer: %v", err)
	}
	return decodeAll(t, out)
}

func connectCmd() []byte {
	return AppendCommand(nil, &pb.BaseCommand{Type: pb.BaseCommand_CONNECT.Enum(),
		Connect: &pb.CommandConnect{ClientVersion: proto.String("test"), ProtocolVersion: proto.Int32(25)}})
}

func producerCmd(producerID, requestID uint64) []byte {
	return AppendCommand(nil, &pb.BaseCommand{Type: pb.BaseCommand_PRODUCER.Enum(), Producer: &pb.CommandProducer{
		Topic: proto.String("persistent://public/default/t"), ProducerId: proto.Uint64(producerID), RequestId: proto.Uint64(requestID)}})
}

// sendCmd is a SEND frame of n messages; corrupt flips its checksum.
func sendCmd(producerID, seq uint64, n int32, corrupt bool) []byte {
	meta, _ := proto.Marshal(&pb.MessageMetadata{ProducerName: proto.String("p"), SequenceId: proto.Uint64(seq),
		PublishTime: proto.Uint64(1), NumMessagesInBatch: proto.Int32(n)})
	cmd := &pb.BaseCommand{Type: pb.BaseCommand_SEND.Enum(), Send: &pb.CommandSend{
		ProducerId: proto.Uint64(producerID), SequenceId: proto.Uint64(seq), NumMessages: proto.Int32(n)}}
	if n > 1 {
		cmd.Send.HighestSequenceId = proto.Uint64(seq + uint64(n) - 1)
	}
	b := AppendMessage(nil, cmd, meta, []byte("payload"))
	if corrupt {
		b[len(b)-1] ^= 1
	}
	return b
}

// ready is a connection with producer 1 registered.
func ready(t *testing.T, b *Broker) *Conn {
	t.Helper()
	c := b.NewConn()
	answer(t, c, append(connectCmd(), producerCmd(1, 1)...))
	return c
}

func TestConnAnswersTheProducerSide(t *testing.T) {
	b, err := New(Options{Partitions: 4, ServerVersion: "v", LedgerID: 7, MaxMessageSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	c := b.NewConn()
	in := connectCmd()
	in = AppendCommand(in, &pb.BaseCommand{Type: pb.BaseCommand_PING.Enum(), Ping: &pb.CommandPing{}})
	in = AppendCommand(in, &pb.BaseCommand{Type: pb.BaseCommand_PONG.Enum(), Pong: &pb.CommandPong{}})
	in = AppendCommand(in, &pb.BaseCommand{Type: pb.BaseCommand_PARTITIONED_METADATA.Enum(),
		PartitionMetadata: &pb.CommandPartitionedTopicMetadata{Topic: proto.String("t"), RequestId: proto.Uint64(5)}})
	in = AppendCommand(in, &pb.BaseCommand{Type: pb.BaseCommand_PARTITIONED_METADATA.Enum(),
		PartitionMetadata: &pb.CommandPartitionedTopicMetadata{Topic: proto.String("t-partition-2"), RequestId: proto.Uint64(6)}})
	in = AppendCommand(in, &pb.BaseCommand{Type: pb.BaseCommand_LOOKUP.Enum(),
		LookupTopic: &pb.CommandLookupTopic{Topic: proto.String("t-partition-1"), RequestId: proto.Uint64(7)}})
	in = append(in, producerCmd(3, 8)...)
	in = append(in, sendCmd(3, 0, 10, false)...)
	in = append(in, sendCmd(3, 10, 1, false)...)
	in = AppendCommand(in, &pb.BaseCommand{Type: pb.BaseCommand_CLOSE_PRODUCER.Enum(),
		CloseProducer: &pb.CommandCloseProducer{ProducerId: proto.Uint64(3), RequestId: proto.Uint64(9)}})
	in = AppendCommand(in, &pb.BaseCommand{Type: pb.BaseCommand_FLOW.Enum()}) // a consumer's: ignored

	r := answer(t, c, in)
	if len(r) != 9 {
		t.Fatalf("%d replies: %v", len(r), r)
	}
	if m := r[0].GetConnected(); m.GetServerVersion() != "v" || m.GetProtocolVersion() != 21 || m.GetMaxMessageSize() != 1<<20 {
		t.Fatalf("CONNECTED %v", m)
	}
	if r[1].GetType() != pb.BaseCommand_PONG {
		t.Fatalf("PING answered with %v", r[1])
	}
	if m := r[2].GetPartitionMetadataResponse(); m.GetPartitions() != 4 || m.GetRequestId() != 5 {
		t.Fatalf("metadata of t: %v", m)
	}
	if m := r[3].GetPartitionMetadataResponse(); m.GetPartitions() != 0 || m.GetRequestId() != 6 {
		t.Fatalf("metadata of a partition: %v", m)
	}
	if m := r[4].GetLookupTopicResponse(); m.GetBrokerServiceUrl() != "pulsar://broker:6650" || m.GetRequestId() != 7 ||
		m.GetResponse() != pb.CommandLookupTopicResponse_Connect {
		t.Fatalf("LOOKUP %v", m)
	}
	if m := r[5].GetProducerSuccess(); m.GetRequestId() != 8 || !strings.HasPrefix(m.GetProducerName(), "fakebroker-") ||
		m.GetLastSequenceId() != -1 {
		t.Fatalf("PRODUCER %v", m)
	}
	for i, want := range []struct{ seq, highest, entry uint64 }{{0, 9, 0}, {10, 10, 1}} {
		m := r[6+i].GetSendReceipt()
		if m.GetProducerId() != 3 || m.GetSequenceId() != want.seq || m.GetHighestSequenceId() != want.highest ||
			m.GetMessageId().GetLedgerId() != 7 || m.GetMessageId().GetEntryId() != want.entry {
			t.Fatalf("receipt %d: %v", i, m)
		}
	}
	if r[8].GetSuccess().GetRequestId() != 9 {
		t.Fatalf("CLOSE_PRODUCER answered with %v", r[8])
	}
	st := b.Stats()
	if st != (Stats{Connections: 1, OpenConnections: 1, Registrations: 1, Producers: 1, Frames: 2, Messages: 11, Bytes: int64(len(in)),
		Receipts: 2, AckedMessages: 11}) {
		t.Fatalf("stats %+v", st)
	}
	if c.ProducerID() != 3 {
		t.Fatalf("ProducerID = %d", c.ProducerID())
	}
	c.Close()
	c.Close()
	if st := b.Stats(); st.OpenConnections != 0 {
		t.Fatalf("after Close: %+v", st)
	}
	if _, err := c.Answer(connectCmd(), t0); err == nil {
		t.Fatal("a closed connection answered")
	}
}

// The zero Conn is what the WASI guest's tests use: a broker of its own.
func TestZeroConn(t *testing.T) {
	var c Conn
	if c.ProducerID() != 0 {
		t.Fatal("a producer before any registered")
	}
	r := answer(t, &c, append(connectCmd(), producerCmd(4, 1)...))
	if len(r) != 2 || r[0].GetConnected().GetMaxMessageSize() != 5<<20 || r[1].GetProducerSuccess() == nil || c.ProducerID() != 4 {
		t.Fatalf("replies %v, producer %d", r, c.ProducerID())
	}
}

// Input split anywhere gets the same replies as input in one piece.
func TestConnSplitInput(t *testing.T) {
	var in []byte
	in = append(in, connectCmd()...)
	in = append(in, producerCmd(1, 1)...)
	for seq := range uint64(50) {
		in = append(in, sendCmd(1, seq, 1, false)...)
	}
	b, _ := New(Options{})
	whole, err := b.NewConn().Answer(in, t0)
	if err != nil {
		t.Fatal(err)
	}
	whole = bytes.Clone(whole)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, chunk := range []int{1, 2, 3, 5, 7, 64, 0} {
		b, _ := New(Options{})
		c := b.NewConn()
		var got []byte
		for rest := in; len(rest) > 0; {
			n := chunk
			if n == 0 {
				n = 1 + rng.IntN(300)
			}
			n = min(n, len(rest))
			out, err := c.Answer(rest[:n], t0)
			if err != nil {
				t.Fatalf("chunks of %d: %v", chunk, err)
			}
			got = append(got, out...)
			rest = rest[n:]
		}
		if !bytes.Equal(got, whole) {
			t.Fatalf("chunks of %d: %d bytes of replies, want %d", chunk, len(got), len(whole))
		}
		if st := b.Stats(); st.Frames != 50 || st.Bytes != int64(len(in)) {
			t.Fatalf("chunks of %d: stats %+v", chunk, st)
		}
	}
}

func TestConnRefusesMalformedInput(t *testing.T) {
	cases := map[string][]byte{
		"frame over the limit": {0, 0x20, 0, 0},
		"frame too short":      {0, 0, 0, 2, 0, 0},
		"undecodable command":  {0, 0, 0, 6, 0, 0, 0, 2, 0xff, 0xff},
		"SEND without payload": AppendCommand(nil, &pb.BaseCommand{Type: pb.BaseCommand_SEND.Enum(),
			Send: &pb.CommandSend{ProducerId: proto.Uint64(1), SequenceId: proto.Uint64(1)}}),
		"SEND without sequence": sendWithoutSequence(),
	}
	for name, in := range cases {
		b, _ := New(Options{MaxMessageSize: 1 << 20})
		c := b.NewConn()
		// A PING first: its PONG still comes back with the error.
		ping := AppendCommand(nil, &pb.BaseCommand{Type: pb.BaseCommand_PING.Enum(), Ping: &pb.CommandPing{}})
		out, err := c.Answer(append(ping, in...), t0)
		if err == nil || errors.Is(err, ErrHangUp) {
			t.Errorf("%s: error %v", name, err)
			continue
		}
		if r := decodeAll(t, out); len(r) != 1 || r[0].GetType() != pb.BaseCommand_PONG {
			t.Errorf("%s: replies %v", name, r)
		}
		if _, again := c.Answer(ping, t0); again != err {
			t.Errorf("%s: after the error: %v", name, again)
		}
	}
}

// sendWithoutSequence is a SEND frame whose command lacks a required
// field, which AppendCommand refuses to encode.
func sendWithoutSequence() []byte {
	cmd, err := proto.MarshalOptions{AllowPartial: true}.Marshal(&pb.BaseCommand{Type: pb.BaseCommand_SEND.Enum(),
		Send: &pb.CommandSend{ProducerId: proto.Uint64(1)}})
	if err != nil {
		panic(err)
	}
	good := AppendMessage(nil, &pb.BaseCommand{Type: pb.BaseCommand_PING.Enum(), Ping: &pb.CommandPing{}}, nil, nil)
	ping := AppendCommand(nil, &pb.BaseCommand{Type: pb.BaseCommand_PING.Enum(), Ping: &pb.CommandPing{}})
	b := binary.BigEndian.AppendUint32(nil, uint32(len(good)-len(ping)+4+len(cmd)))
	b = binary.BigEndian.AppendUint32(b, uint32(len(cmd)))
	return append(append(b, cmd...), good[len(ping):]...)
}

func TestChecksum(t *testing.T) {
	for _, reply := range []bool{false, true} {
		b, _ := New(Options{ReplyChecksumError: reply})
		c := ready(t, b)
		r := answer(t, c, append(sendCmd(1, 0, 1, false), sendCmd(1, 1, 1, true)...))
		if r[0].GetSendReceipt().GetSequenceId() != 0 {
			t.Fatalf("good SEND answered with %v", r[0])
		}
		switch e := r[1].GetSendError(); {
		case reply && (e.GetError() != pb.ServerError_ChecksumError || e.GetSequenceId() != 1):
			t.Fatalf("corrupt SEND answered with %v", r[1])
		case !reply && r[1].GetType() != pb.BaseCommand_SEND_RECEIPT:
			t.Fatalf("corrupt SEND answered with %v", r[1])
		}
		if st := b.Stats(); st.ChecksumErrors != 1 || st.Messages != 2 {
			t.Fatalf("stats %+v", st)
		}
	}
}

func TestMaxMessageSize(t *testing.T) {
	b, _ := New(Options{MaxMessageSize: -1})
	if r := answer(t, b.NewConn(), connectCmd()); r[0].GetConnected().MaxMessageSize != nil {
		t.Fatalf("CONNECTED announced %d", r[0].GetConnected().GetMaxMessageSize())
	}
	b, _ = New(Options{MaxMessageSize: 1000})
	c := b.NewConn()
	if r := answer(t, c, connectCmd()); r[0].GetConnected().GetMaxMessageSize() != 1000 {
		t.Fatalf("CONNECTED %v", r[0])
	}
	big := AppendMessage(nil, &pb.BaseCommand{Type: pb.BaseCommand_SEND.Enum(), Send: &pb.CommandSend{
		ProducerId: proto.Uint64(1), SequenceId: proto.Uint64(0)}}, nil, make([]byte, 1000+frameSlack))
	if _, err := c.Answer(big, t0); err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Fatalf("an oversized frame: %v", err)
	}
	if _, err := New(Options{Partitions: -1}); err == nil {
		t.Fatal("a negative partition count was accepted")
	}
}

func TestHTTP(t *testing.T) {
	b, _ := New(Options{HTTP: true})
	c := b.NewConn()
	out, err := c.Answer(connectCmd()[:3], t0)
	if !errors.Is(err, ErrHangUp) || !bytes.HasPrefix(out, []byte("HTTP/1.1 400 ")) || !bytes.HasSuffix(out, []byte("</pre>")) {
		t.Fatalf("answered %q, %v", out, err)
	}
	if _, err := c.Answer(connectCmd(), t0); !errors.Is(err, ErrHangUp) {
		t.Fatalf("after hanging up: %v", err)
	}
	if c := b.NewConn(); len(answerRaw(t, c, nil)) != 0 {
		t.Fatal("answered before any bytes arrived")
	}
}

// answerRaw returns the replies to in, whatever the error.
func answerRaw(t *testing.T, c *Conn, in []byte) []byte {
	out, _ := c.Answer(in, t0)
	return out
}

func TestReceiptDelay(t *testing.T) {
	b, _ := New(Options{})
	c := ready(t, b)
	b.SetReceiptDelay(100 * time.Millisecond)
	ping := AppendCommand(nil, &pb.BaseCommand{Type: pb.BaseCommand_PING.Enum(), Ping: &pb.CommandPing{}})
	out, err := c.Answer(append(sendCmd(1, 0, 1, false), ping...), t0)
	if err != nil {
		t.Fatal(err)
	}
	if r := decodeAll(t, out); len(r) != 1 || r[0].GetType() != pb.BaseCommand_PONG {
		t.Fatalf("at once: %v (only the PONG is not delayed)", r)
	}
	if st := b.Stats(); st.Receipts != 1 {
		t.Fatalf("a held receipt is not counted: %+v", st)
	}
	if due, ok := c.Deadline(); !ok || !due.Equal(t0.Add(100*time.Millisecond)) {
		t.Fatalf("deadline %v, %v", due, ok)
	}
	// Lowered to zero: the new receipt still waits behind the held one.
	b.SetReceiptDelay(0)
	b.FailNextSend(pb.ServerError_PersistenceError)
	t1 := t0.Add(10 * time.Millisecond)
	if out, err := c.Answer(append(sendCmd(1, 1, 1, false), sendCmd(1, 2, 1, false)...), t1); err != nil || len(out) != 0 {
		t.Fatalf("answered %d bytes out of order, %v", len(out), err)
	}
	if out := c.Tick(t1); len(out) != 0 {
		t.Fatalf("Tick before the first is due wrote %d bytes", len(out))
	}
	r := decodeAll(t, c.Tick(t0.Add(100*time.Millisecond)))
	if len(r) != 3 || r[0].GetSendReceipt().GetSequenceId() != 0 || r[1].GetSendError().GetSequenceId() != 1 ||
		r[2].GetSendReceipt().GetSequenceId() != 2 {
		t.Fatalf("due replies %v", r)
	}
	if _, ok := c.Deadline(); ok {
		t.Fatal("a deadline with nothing held")
	}
	if r := answer(t, c, sendCmd(1, 3, 1, false)); len(r) != 1 {
		t.Fatalf("with nothing held, no delay: %v", r)
	}
	// Held replies die with the connection.
	b.SetReceiptDelay(time.Hour)
	answer(t, c, sendCmd(1, 4, 1, false))
	c.Close()
	if _, ok := c.Deadline(); ok {
		t.Fatal("held replies survived Close")
	}
}

func TestDropAfterSends(t *testing.T) {
	b, _ := New(Options{})
	c := ready(t, b)
	b.DropAfterSends(2)
	out, err := c.Answer(append(append(sendCmd(1, 0, 1, false), sendCmd(1, 1, 3, false)...), sendCmd(1, 4, 1, false)...), t0)
	if !errors.Is(err, ErrHangUp) {
		t.Fatalf("error %v", err)
	}
	if r := decodeAll(t, out); len(r) != 2 || r[1].GetSendReceipt().GetHighestSequenceId() != 3 {
		t.Fatalf("replies %v: want the receipts of the first two frames", r)
	}
	if st := b.Stats(); st.Frames != 2 || st.Messages != 4 {
		t.Fatalf("the frame after the drop was counted: %+v", st)
	}
	// The drop happened once: another connection is not dropped.
	c2 := ready(t, b)
	if r := answer(t, c2, sendCmd(1, 0, 1, false)); len(r) != 1 {
		t.Fatalf("after the drop: %v", r)
	}
	b.DropAfterSends(1)
	b.DropAfterSends(0)
	answer(t, c2, sendCmd(1, 1, 1, false))
}

func TestFailNextSend(t *testing.T) {
	b, _ := New(Options{})
	c := ready(t, b)
	b.FailNextSend(pb.ServerError_NotAllowedError)
	r := answer(t, c, append(sendCmd(1, 0, 1, false), sendCmd(1, 1, 1, false)...))
	e := r[0].GetSendError()
	if e.GetError() != pb.ServerError_NotAllowedError || e.GetSequenceId() != 0 || e.GetProducerId() != 1 ||
		!strings.Contains(e.GetMessage(), "NotAllowedError") {
		t.Fatalf("first SEND answered with %v", r[0])
	}
	if m := r[1].GetSendReceipt(); m.GetSequenceId() != 1 || m.GetMessageId().GetEntryId() != 0 {
		t.Fatalf("second SEND answered with %v", r[1])
	}
	if st := b.Stats(); st.SendErrors != 1 || st.Receipts != 1 || st.AckedMessages != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRefuseProducers(t *testing.T) {
	b, _ := New(Options{})
	c := b.NewConn()
	answer(t, c, connectCmd())
	b.RefuseProducers(1, pb.ServerError_ProducerFenced, "fenced by another producer")
	r := answer(t, c, append(producerCmd(1, 7), producerCmd(1, 8)...))
	if e := r[0].GetError(); e.GetRequestId() != 7 || e.GetError() != pb.ServerError_ProducerFenced ||
		e.GetMessage() != "fenced by another producer" {
		t.Fatalf("first PRODUCER answered with %v", r[0])
	}
	if r[1].GetProducerSuccess().GetRequestId() != 8 {
		t.Fatalf("second PRODUCER answered with %v", r[1])
	}
	b.RefuseProducers(-1, pb.ServerError_ServiceNotReady, "moving")
	for req := range uint64(3) {
		if r := answer(t, c, producerCmd(2, 10+req)); r[0].GetError().GetError() != pb.ServerError_ServiceNotReady {
			t.Fatalf("refusing until cancelled: %v", r[0])
		}
	}
	b.RefuseProducers(0, 0, "")
	answer(t, c, producerCmd(2, 20))
	if st := b.Stats(); st.RefusedProducers != 4 || st.Producers != 2 || st.LiveProducers != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestIgnoreProducers(t *testing.T) {
	b, _ := New(Options{})
	c := b.NewConn()
	answer(t, c, connectCmd())
	b.IgnoreProducers("never")
	never := AppendCommand(nil, &pb.BaseCommand{Type: pb.BaseCommand_PRODUCER.Enum(), Producer: &pb.CommandProducer{
		Topic: proto.String("persistent://public/default/never-ready"), ProducerId: proto.Uint64(2), RequestId: proto.Uint64(2)}})
	r := answer(t, c, append(never, producerCmd(1, 3)...))
	if len(r) != 1 || r[0].GetProducerSuccess().GetRequestId() != 3 {
		t.Fatalf("replies %v: want only the other topic's", r)
	}
	b.IgnoreProducers("")
	if r := answer(t, c, never); len(r) != 1 || r[0].GetProducerSuccess() == nil {
		t.Fatalf("after IgnoreProducers(\"\"): %v", r)
	}
	if st := b.Stats(); st.Registrations != 3 || st.Producers != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestSilence(t *testing.T) {
	b, _ := New(Options{})
	c := ready(t, b)
	b.SetSilent(true)
	ping := AppendCommand(nil, &pb.BaseCommand{Type: pb.BaseCommand_PING.Enum(), Ping: &pb.CommandPing{}})
	in := append(sendCmd(1, 0, 1, false), ping...)
	if r := answer(t, c, in); len(r) != 0 {
		t.Fatalf("silent, answered %v", r)
	}
	if r := answer(t, b.NewConn(), connectCmd()); len(r) != 0 {
		t.Fatalf("silent, a new connection got %v", r)
	}
	if st := b.Stats(); st.Frames != 0 || st.Receipts != 0 || st.Bytes == 0 {
		t.Fatalf("stats while silent %+v", st)
	}
	b.SetSilent(false)
	if r := answer(t, c, ping); len(r) != 1 {
		t.Fatalf("answering again: %v", r)
	}
}

func TestUnload(t *testing.T) {
	b, _ := New(Options{})
	c := ready(t, b)
	answer(t, c, producerCmd(2, 2))
	answer(t, c, producerCmd(2, 3)) // again under the same ID: still two live
	if st := b.Stats(); st.LiveProducers != 2 {
		t.Fatalf("stats %+v", st)
	}
	out, n := c.Unload()
	r := decodeAll(t, out)
	ids := map[uint64]bool{}
	for _, cmd := range r {
		m := cmd.GetCloseProducer()
		if m.GetRequestId() < closeReqIDTop {
			t.Fatalf("broker-initiated close with a client's request ID: %v", m)
		}
		ids[m.GetProducerId()] = true
	}
	if n != 2 || len(r) != 2 || !ids[1] || !ids[2] || b.Stats().LiveProducers != 0 {
		t.Fatalf("unloaded %d: %v, stats %+v", n, r, b.Stats())
	}
	if out, n := c.Unload(); n != 0 || len(out) != 0 {
		t.Fatalf("a second unload closed %d", n)
	}
	answer(t, c, producerCmd(1, 4))
	c.Close()
	if st := b.Stats(); st.LiveProducers != 0 {
		t.Fatalf("a closed connection's producer is live: %+v", st)
	}
	if _, n := c.Unload(); n != 0 {
		t.Fatal("a closed connection unloaded")
	}
}

func TestRecord(t *testing.T) {
	b, _ := New(Options{Record: true})
	c := ready(t, b)
	b.FailNextSend(pb.ServerError_NotAllowedError)
	answer(t, c, append(append(sendCmd(1, 0, 1, false), sendCmd(1, 1, 5, false)...), sendCmd(1, 6, 1, false)...))
	es := b.Entries()
	if len(es) != 2 {
		t.Fatalf("%d entries, want the two acknowledged", len(es))
	}
	if e := es[0]; e.Send.GetSequenceId() != 1 || e.Send.GetNumMessages() != 5 || e.Metadata.GetNumMessagesInBatch() != 5 ||
		string(e.Payload) != "payload" || e.EntryID != 0 {
		t.Fatalf("entry 0: %+v", e)
	}
	if e := es[1]; e.Send.GetSequenceId() != 6 || e.Metadata.GetProducerName() != "p" || e.EntryID != 1 {
		t.Fatalf("entry 1: %+v", e)
	}
	b2, _ := New(Options{})
	answer(t, ready(t, b2), sendCmd(1, 0, 1, false))
	if b2.Entries() != nil {
		t.Fatal("recorded without Options.Record")
	}
}

func connectWith(method string, data []byte) []byte {
	m := &pb.CommandConnect{ClientVersion: proto.String("test"), ProtocolVersion: proto.Int32(25)}
	if method != "" {
		m.AuthMethodName, m.AuthData = proto.String(method), data
	}
	return AppendCommand(nil, &pb.BaseCommand{Type: pb.BaseCommand_CONNECT.Enum(), Connect: m})
}

func authResponse(method string, data []byte) []byte {
	return AppendCommand(nil, &pb.BaseCommand{Type: pb.BaseCommand_AUTH_RESPONSE.Enum(), AuthResponse: &pb.CommandAuthResponse{
		ClientVersion: proto.String("test"), Response: &pb.AuthData{AuthMethodName: proto.String(method), AuthData: data}}})
}

// Credentials are recorded, never checked or logged; a challenge names the
// connection's method, and the AUTH_RESPONSE to it is recorded and not
// answered.
func TestAuth(t *testing.T) {
	var logged []string
	b, _ := New(Options{Logf: func(f string, args ...any) { logged = append(logged, fmt.Sprintf(f, args...)) }})
	anon := b.NewConn()
	answer(t, anon, connectCmd())
	c := b.NewConn()
	answer(t, c, append(connectWith("token", []byte("secret-1")), producerCmd(1, 1)...))
	r := decodeAll(t, c.Challenge())
	if len(r) != 1 || r[0].GetType() != pb.BaseCommand_AUTH_CHALLENGE {
		t.Fatalf("Challenge wrote %v", r)
	}
	if ch := r[0].GetAuthChallenge().GetChallenge(); ch.GetAuthMethodName() != "token" || string(ch.GetAuthData()) != RefreshChallenge {
		t.Fatalf("challenge %v", ch)
	}
	if r := answer(t, c, authResponse("token", []byte("secret-2"))); len(r) != 0 {
		t.Fatalf("AUTH_RESPONSE answered with %v", r)
	}
	if r := answer(t, c, sendCmd(1, 0, 1, false)); len(r) != 1 || r[0].GetSendReceipt() == nil {
		t.Fatalf("a SEND after the challenge answered with %v", r)
	}
	want := []Auth{{Conn: 1}, {Conn: 2, Method: "token", Data: []byte("secret-1")}, {Conn: 2, Response: true, Method: "token", Data: []byte("secret-2")}}
	if got := b.Auths(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Auths %v, want %v", got, want)
	}
	for _, l := range logged {
		if strings.Contains(l, "secret") {
			t.Fatalf("a credential was logged: %q", l)
		}
	}
	c.Close()
	if out := c.Challenge(); out != nil {
		t.Fatalf("a closed connection was challenged: %q", out)
	}
}

func TestSkipChecksums(t *testing.T) {
	b, _ := New(Options{SkipChecksums: true, ReplyChecksumError: true})
	c := ready(t, b)
	if r := answer(t, c, sendCmd(1, 0, 1, true)); len(r) != 1 || r[0].GetSendReceipt() == nil {
		t.Fatalf("a SEND with a wrong checksum answered with %v", r)
	}
	if st := b.Stats(); st.ChecksumErrors != 0 || st.Receipts != 1 {
		t.Fatalf("stats %+v", st)
	}
}
