// Bad input from the broker: each case must close the connection with an
// error that names the problem, never panic, and leave the producer able to
// reconnect and resend.
package engine

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/pulsar-producer/pulsar-producer/internal/pb"
)

// expectClosed checks that conn was closed with code and a message
// containing text.
func expectClosed(t *testing.T, h *harness, conn ConnID, code Code, text string) {
	t.Helper()
	ev := h.expectEvent(EventConnClosed)
	if ev.Conn != conn {
		t.Fatalf("closed conn %d, want %d", ev.Conn, conn)
	}
	if CodeOf(ev.Err) != code || !strings.Contains(ev.Err.Error(), text) {
		t.Fatalf("close cause %q (code %v), want code %v containing %q", ev.Err, CodeOf(ev.Err), code, text)
	}
}

// expectResend walks the reconnect after a broken connection and checks
// that the pending message is written again with its sequence ID.
func expectResend(t *testing.T, h *harness, wantSeq uint64, wantPayload string) {
	t.Helper()
	h.advance(h.e.opts.InitialBackoff)
	conn := h.connect()
	h.answerLookup(conn, "pulsar://broker:6650")
	req := h.answerProducer(conn, "prod-1", -1)
	if req.GetEpoch() != 1 || req.GetProducerName() != "prod-1" || req.GetUserProvidedProducerName() {
		t.Fatalf("re-registration %v: want epoch 1 and the assigned name", req)
	}
	s := h.expect(conn, pb.BaseCommand_SEND)
	if s.cmd.GetSend().GetSequenceId() != wantSeq || string(s.payload) != wantPayload {
		t.Fatalf("resent seq %d payload %q, want %d %q", s.cmd.GetSend().GetSequenceId(), s.payload, wantSeq, wantPayload)
	}
	h.receipt(conn, s, 9, 1)
	if ev := h.expectEvent(EventReceipt); ev.Tokens[0] != 1 || ev.ID.LedgerID != 9 {
		t.Fatalf("receipt after resend: %+v", ev)
	}
}

func TestBadBrokerInput(t *testing.T) {
	cases := []struct {
		name  string
		input func(h *harness, conn ConnID, pending sent) []byte
		code  Code
		text  string
	}{
		{"wrong checksum", func(*harness, ConnID, sent) []byte {
			return rawFrame(&pb.BaseCommand{Type: pb.BaseCommand_MESSAGE.Enum()}, []byte{0x0a, 0x00}, []byte("payload"), true)
		}, CodeChecksumError, "checksum"},
		{"payload on a producer connection", func(*harness, ConnID, sent) []byte {
			return rawFrame(&pb.BaseCommand{Type: pb.BaseCommand_MESSAGE.Enum()}, []byte{0x0a, 0x00}, []byte("payload"), false)
		}, CodeProtocolError, "unexpected MESSAGE"},
		{"length prefix of 4 GiB", func(*harness, ConnID, sent) []byte {
			return []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0}
		}, CodeProtocolError, "exceeds the negotiated maximum"},
		{"command overruns its frame", func(*harness, ConnID, sent) []byte {
			b := binary.BigEndian.AppendUint32(nil, 10)
			b = binary.BigEndian.AppendUint32(b, 200)
			return append(b, make([]byte, 6)...)
		}, CodeProtocolError, "overruns"},
		{"frame too short", func(*harness, ConnID, sent) []byte {
			return []byte{0, 0, 0, 1, 0}
		}, CodeProtocolError, "too short"},
		{"unknown command", func(*harness, ConnID, sent) []byte {
			b, _ := proto.Marshal(&pb.BaseCommand{Type: pb.BaseCommand_Type(99).Enum()})
			return frameOf(b)
		}, CodeProtocolError, "unknown command type 99"},
		{"garbage command", func(*harness, ConnID, sent) []byte {
			return frameOf([]byte{0xff, 0xff, 0xff, 0xff})
		}, CodeProtocolError, "malformed command"},
		{"unexpected command", func(*harness, ConnID, sent) []byte {
			b, _ := proto.Marshal(&pb.BaseCommand{Type: pb.BaseCommand_SUBSCRIBE.Enum()})
			return frameOf(b)
		}, CodeProtocolError, "unexpected command SUBSCRIBE"},
		{"receipt for a sequence ID never sent", func(_ *harness, _ ConnID, s sent) []byte {
			return appendCommand(nil, &pb.BaseCommand{Type: pb.BaseCommand_SEND_RECEIPT.Enum(), SendReceipt: &pb.CommandSendReceipt{
				ProducerId: s.cmd.GetSend().ProducerId, SequenceId: proto.Uint64(5000),
				MessageId: &pb.MessageIdData{LedgerId: proto.Uint64(1), EntryId: proto.Uint64(1)}}})
		}, CodeProtocolError, "never sent"},
		{"receipt for a producer that never existed", func(*harness, ConnID, sent) []byte {
			return appendCommand(nil, &pb.BaseCommand{Type: pb.BaseCommand_SEND_RECEIPT.Enum(), SendReceipt: &pb.CommandSendReceipt{
				ProducerId: proto.Uint64(777), SequenceId: proto.Uint64(0)}})
		}, CodeProtocolError, "does not exist"},
		{"malformed receipt", func(*harness, ConnID, sent) []byte {
			return frameOf([]byte{0x08, 0x07, 0x3a, 0x02, 0x08, 0xff})
		}, CodeProtocolError, "malformed SEND_RECEIPT"},
		{"second CONNECTED", func(*harness, ConnID, sent) []byte {
			return appendCommand(nil, &pb.BaseCommand{Type: pb.BaseCommand_CONNECTED.Enum(), Connected: &pb.CommandConnected{ServerVersion: proto.String("x")}})
		}, CodeProtocolError, "CONNECTED on an established connection"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, ClientOptions{})
			p, conn := h.ready(ProducerOptions{})
			h.send(p, &Message{Payload: []byte("m0")}, 1)
			h.e.Flush(p, h.now)
			pending := h.expect(conn, pb.BaseCommand_SEND)
			h.feed(conn, c.input(h, conn, pending))
			expectClosed(t, h, conn, c.code, c.text)
			if h.e.MemoryUsed() != 2 {
				t.Fatalf("pending message lost: memory used %d", h.e.MemoryUsed())
			}
			expectResend(t, h, 0, "m0")
		})
	}
}

func frameOf(cmd []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(4+len(cmd)))
	b = binary.BigEndian.AppendUint32(b, uint32(len(cmd)))
	return append(b, cmd...)
}

func TestTruncatedFrameAtClose(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	p, conn := h.ready(ProducerOptions{})
	h.send(p, &Message{Payload: []byte("m0")}, 1)
	h.e.Flush(p, h.now)
	h.expect(conn, pb.BaseCommand_SEND)
	pong := appendCommand(nil, &pb.BaseCommand{Type: pb.BaseCommand_PONG.Enum(), Pong: &pb.CommandPong{}})
	h.feed(conn, pong[:len(pong)-1])
	h.e.ConnClosed(conn, nil, h.now)
	expectClosed(t, h, conn, CodeProtocolError, "in the middle of a frame")
	expectResend(t, h, 0, "m0")
}

func TestFramesSplitAcrossReads(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	p, conn := h.ready(ProducerOptions{DisableBatching: true})
	for i := range 3 {
		h.send(p, &Message{Payload: []byte{byte(i)}}, uint64(i))
	}
	var stream []byte
	for i := range 3 {
		s := h.expect(conn, pb.BaseCommand_SEND)
		stream = appendCommand(stream, &pb.BaseCommand{Type: pb.BaseCommand_SEND_RECEIPT.Enum(), SendReceipt: &pb.CommandSendReceipt{
			ProducerId: s.cmd.GetSend().ProducerId, SequenceId: s.cmd.GetSend().SequenceId,
			MessageId: &pb.MessageIdData{LedgerId: proto.Uint64(1), EntryId: proto.Uint64(uint64(i))}}})
	}
	for _, b := range stream { // one byte at a time
		h.feed(conn, []byte{b})
	}
	for i := range 3 {
		ev := h.expectEvent(EventReceipt)
		if ev.Tokens[0] != uint64(i) || ev.ID.EntryID != int64(i) || ev.ID.BatchIndex != -1 {
			t.Fatalf("receipt %d: %+v", i, ev)
		}
	}
}

func TestKeepalive(t *testing.T) {
	h := newHarness(t, ClientOptions{KeepAliveInterval: 10 * time.Second})
	_, conn := h.ready(ProducerOptions{})
	// The broker pings: we answer.
	h.reply(conn, &pb.BaseCommand{Type: pb.BaseCommand_PING.Enum(), Ping: &pb.CommandPing{}})
	h.expect(conn, pb.BaseCommand_PONG)
	// Silence for one interval: we ping. A PONG keeps the connection.
	h.advance(10 * time.Second)
	h.expect(conn, pb.BaseCommand_PING)
	h.reply(conn, &pb.BaseCommand{Type: pb.BaseCommand_PONG.Enum(), Pong: &pb.CommandPong{}})
	// Traffic within the interval means no ping is needed.
	h.advance(5 * time.Second)
	h.reply(conn, &pb.BaseCommand{Type: pb.BaseCommand_PONG.Enum(), Pong: &pb.CommandPong{}})
	h.advance(5 * time.Second)
	h.quiet(conn)
	// Silence again: ping, then after another silent interval, dead.
	h.advance(10 * time.Second)
	h.expect(conn, pb.BaseCommand_PING)
	h.advance(10 * time.Second)
	expectClosed(t, h, conn, CodeDisconnected, "keepalive")
}

func TestConnectTimeoutFailsCreation(t *testing.T) {
	h := newHarness(t, ClientOptions{ConnectionTimeout: 2 * time.Second})
	id, err := h.e.CreateProducer(ProducerOptions{Topic: "t"}, h.now)
	if err != nil {
		t.Fatal(err)
	}
	ev := h.expectEvent(EventConnect)
	if ev.Text != "broker:6650" {
		t.Fatalf("connect to %q", ev.Text)
	}
	h.advance(2 * time.Second)
	fail := h.expectEvent(EventProducerFailed)
	if fail.Producer != id || CodeOf(fail.Err) != CodeConnectError {
		t.Fatalf("failure %+v", fail)
	}
}

func TestDialFailureFailsCreation(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	if _, err := h.e.CreateProducer(ProducerOptions{Topic: "t"}, h.now); err != nil {
		t.Fatal(err)
	}
	ev := h.expectEvent(EventConnect)
	h.e.ConnFailed(ev.Conn, errRefused{}, h.now)
	fail := h.expectEvent(EventProducerFailed)
	if CodeOf(fail.Err) != CodeConnectError || !strings.Contains(fail.Err.Error(), "refused") {
		t.Fatalf("failure %v", fail.Err)
	}
}

type errRefused struct{}

func (errRefused) Error() string { return "connection refused" }

func TestBrokerErrorDuringHandshake(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	if _, err := h.e.CreateProducer(ProducerOptions{Topic: "t"}, h.now); err != nil {
		t.Fatal(err)
	}
	ev := h.expectEvent(EventConnect)
	h.e.ConnOpened(ev.Conn, h.now)
	h.expect(ev.Conn, pb.BaseCommand_CONNECT)
	h.reply(ev.Conn, &pb.BaseCommand{Type: pb.BaseCommand_ERROR.Enum(), Error: &pb.CommandError{
		RequestId: proto.Uint64(0), Error: pb.ServerError_AuthenticationError.Enum(), Message: proto.String("bad token")}})
	fail := h.expectEvent(EventProducerFailed)
	if CodeOf(fail.Err) != CodeAuthenticationError || !strings.Contains(fail.Err.Error(), "bad token") {
		t.Fatalf("failure %v", fail.Err)
	}
}

// FuzzReceive feeds arbitrary bytes to a ready producer's connection: the
// engine must never panic, and must either keep the connection or close it
// with an error.
func FuzzReceive(f *testing.F) {
	f.Add([]byte{0, 0, 0, 6, 0, 0, 0, 2, 8, 18})
	f.Add(appendCommand(nil, &pb.BaseCommand{Type: pb.BaseCommand_PONG.Enum(), Pong: &pb.CommandPong{}}))
	f.Add(rawFrame(&pb.BaseCommand{Type: pb.BaseCommand_MESSAGE.Enum()}, []byte{1}, []byte{2}, false))
	f.Add(appendCommand(nil, &pb.BaseCommand{Type: pb.BaseCommand_SEND_RECEIPT.Enum(), SendReceipt: &pb.CommandSendReceipt{
		ProducerId: proto.Uint64(1), SequenceId: proto.Uint64(0), MessageId: &pb.MessageIdData{LedgerId: proto.Uint64(1), EntryId: proto.Uint64(1)}}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		h := newHarness(t, ClientOptions{})
		p, conn := h.ready(ProducerOptions{})
		h.send(p, &Message{Payload: []byte("x")}, 1)
		h.e.Flush(p, h.now)
		h.feed(conn, data)
		for _, ev := range h.takeEvents() {
			if ev.Kind == EventConnClosed && ev.Err == nil {
				t.Fatal("connection closed without a cause")
			}
		}
		h.e.Tick(h.now.Add(time.Hour))
	})
}
