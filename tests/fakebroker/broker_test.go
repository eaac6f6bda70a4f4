package fakebroker

// Tests of the fake broker: it is driven by this project's producer
// (core) and by the official Go client, and every fault hook is exercised
// once. A few tests speak raw frames (rawClient below) to check what the
// clients never send, such as a corrupt checksum.

import (
	"bufio"
	"context"
	"encoding/binary"
	"hash/crc32"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/apache/pulsar-client-go/pulsar/log"
	"google.golang.org/protobuf/proto"

	"github.com/pulsar-producer/pulsar-producer/core"
	"github.com/pulsar-producer/pulsar-producer/core/engine"
	"github.com/pulsar-producer/pulsar-producer/core/pb"
)

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newNative returns a producer of this project on fb.
func newNative(t *testing.T, fb *Broker, copts core.ClientOptions, popts core.ProducerOptions) *core.Producer {
	t.Helper()
	copts.ServiceURL = fb.URL()
	client, err := core.NewClient(copts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	if popts.Topic == "" {
		popts.Topic = "persistent://public/default/" + t.Name()
	}
	p, err := client.CreateProducer(testContext(t), popts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// asyncCounter collects the results of SendAsync callbacks.
type asyncCounter struct {
	mu     sync.Mutex
	ok     int
	errs   []error
	ledger map[int64]int
}

func (a *asyncCounter) cb(id core.MessageID, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		a.errs = append(a.errs, err)
		return
	}
	a.ok++
	if a.ledger == nil {
		a.ledger = make(map[int64]int)
	}
	a.ledger[id.LedgerID]++
}

func TestNativeProducerBatched(t *testing.T) {
	fb := Start(t, Options{LedgerID: 7})
	p := newNative(t, fb, core.ClientOptions{}, core.ProducerOptions{BatchingMaxMessages: 100})
	ctx := testContext(t)
	const n = 10000
	var ac asyncCounter
	payload := make([]byte, 100)
	for range n {
		p.SendAsync(ctx, &core.Message{Payload: payload}, ac.cb)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if ac.ok != n || len(ac.errs) != 0 || ac.ledger[7] != n {
		t.Fatalf("callbacks: %d ok, errors %v, ledgers %v", ac.ok, ac.errs, ac.ledger)
	}
	id, err := p.Send(ctx, &core.Message{Payload: payload})
	if err != nil || id.LedgerID != 7 {
		t.Fatalf("Send: %+v, %v", id, err)
	}
	st := fb.Stats()
	if st.Messages != n+1 || st.AckedMessages != n+1 || st.Frames != st.Receipts || st.ChecksumErrors != 0 || st.SendErrors != 0 {
		t.Fatalf("stats %+v", st)
	}
	if st.Frames < n/100 || st.Frames > n/10 {
		t.Fatalf("%d frames for %d messages in batches of up to 100", st.Frames, n)
	}
	if st.Bytes < n*100 {
		t.Fatalf("only %d bytes received", st.Bytes)
	}
	if st.Producers != 1 || fb.ProducerCount() != 1 {
		t.Fatalf("producers: %d registered, %d live", st.Producers, fb.ProducerCount())
	}
}

func TestNativeProducerPartitioned(t *testing.T) {
	fb := Start(t, Options{Partitions: 3})
	p := newNative(t, fb, core.ClientOptions{}, core.ProducerOptions{})
	if p.NumPartitions() != 3 {
		t.Fatalf("NumPartitions = %d", p.NumPartitions())
	}
	ctx := testContext(t)
	parts := map[int32]int{}
	for i := range 30 {
		id, err := p.Send(ctx, &core.Message{Payload: []byte("x"), Key: string(rune('a' + i))})
		if err != nil {
			t.Fatal(err)
		}
		parts[id.Partition]++
	}
	if len(parts) != 3 {
		t.Fatalf("messages by partition: %v", parts)
	}
	if got := fb.ProducerCount(); got != 3 {
		t.Fatalf("%d producers registered, want one per partition", got)
	}
}

func newGoClient(t *testing.T, fb *Broker) pulsar.Client {
	t.Helper()
	client, err := pulsar.NewClient(pulsar.ClientOptions{
		URL:               fb.URL(),
		Logger:            log.DefaultNopLogger(),
		OperationTimeout:  10 * time.Second,
		ConnectionTimeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	return client
}

func TestGoClient(t *testing.T) {
	for _, parts := range []int{0, 2} {
		t.Run("partitions="+string(rune('0'+parts)), func(t *testing.T) {
			fb := Start(t, Options{Partitions: parts, LedgerID: 9})
			client := newGoClient(t, fb)
			prod, err := client.CreateProducer(pulsar.ProducerOptions{
				Topic:                   "persistent://public/default/go-client",
				BatchingMaxMessages:     100,
				BatchingMaxPublishDelay: 5 * time.Millisecond,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer prod.Close()
			ctx := testContext(t)
			const n = 5000
			var ok, failed atomic.Int64
			payload := make([]byte, 100)
			for range n {
				prod.SendAsync(ctx, &pulsar.ProducerMessage{Payload: payload}, func(id pulsar.MessageID, _ *pulsar.ProducerMessage, err error) {
					if err != nil || id.LedgerID() != 9 {
						failed.Add(1)
						return
					}
					ok.Add(1)
				})
			}
			if err := prod.FlushWithCtx(ctx); err != nil {
				t.Fatal(err)
			}
			// The Go client's Flush on a partitioned producer can return
			// before the last callbacks ran: wait for all n of them.
			for deadline := time.Now().Add(10 * time.Second); ok.Load()+failed.Load() < n && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
			if ok.Load() != n || failed.Load() != 0 {
				t.Fatalf("%d ok, %d failed", ok.Load(), failed.Load())
			}
			id, err := prod.Send(ctx, &pulsar.ProducerMessage{Payload: payload})
			if err != nil || id.LedgerID() != 9 {
				t.Fatalf("Send: %v, %v", id, err)
			}
			st := fb.Stats()
			if st.Messages != n+1 || st.AckedMessages != n+1 || st.ChecksumErrors != 0 || st.Frames >= n/2 {
				t.Fatalf("stats %+v", st)
			}
			if want := max(parts, 1); fb.ProducerCount() != want {
				t.Fatalf("%d producers registered, want %d", fb.ProducerCount(), want)
			}
		})
	}
}

func TestReceiptEncoding(t *testing.T) {
	frame := appendReceipt(nil, 3, 1<<40, 1<<40+999, 77, 123456)
	total := binary.BigEndian.Uint32(frame)
	size := binary.BigEndian.Uint32(frame[4:])
	if int(total) != len(frame)-4 || int(size) != len(frame)-8 {
		t.Fatalf("sizes %d/%d for a %d-byte frame", total, size, len(frame))
	}
	var cmd pb.BaseCommand
	if err := proto.Unmarshal(frame[8:], &cmd); err != nil {
		t.Fatal(err)
	}
	r := cmd.GetSendReceipt()
	if cmd.GetType() != pb.BaseCommand_SEND_RECEIPT || r.GetProducerId() != 3 || r.GetSequenceId() != 1<<40 ||
		r.GetHighestSequenceId() != 1<<40+999 || r.GetMessageId().GetLedgerId() != 77 || r.GetMessageId().GetEntryId() != 123456 {
		t.Fatalf("decoded %v", &cmd)
	}
}

func TestParseSend(t *testing.T) {
	body, err := proto.Marshal(&pb.CommandSend{
		ProducerId: proto.Uint64(5), SequenceId: proto.Uint64(300), NumMessages: proto.Int32(1000),
		HighestSequenceId: proto.Uint64(1299), TxnidLeastBits: proto.Uint64(1),
		MessageId: &pb.MessageIdData{LedgerId: proto.Uint64(1), EntryId: proto.Uint64(2)},
	})
	if err != nil {
		t.Fatal(err)
	}
	f, ok := parseSend(body)
	if !ok || f != (sendFields{producerID: 5, seq: 300, highest: 1299, numMessages: 1000, hasHighest: true}) {
		t.Fatalf("parseSend = %+v, %v", f, ok)
	}
	if _, ok := parseSend(body[:len(body)-1]); ok {
		t.Fatal("a truncated CommandSend parsed")
	}
}

// rawClient speaks frames to the broker directly.
type rawClient struct {
	t  *testing.T
	nc net.Conn
	r  *bufio.Reader
}

func dialRaw(t *testing.T, fb *Broker) *rawClient {
	nc, err := net.Dial("tcp", fb.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	rc := &rawClient{t: t, nc: nc, r: bufio.NewReader(nc)}
	rc.write(appendCommand(nil, &pb.BaseCommand{
		Type:    pb.BaseCommand_CONNECT.Enum(),
		Connect: &pb.CommandConnect{ClientVersion: proto.String("raw"), ProtocolVersion: proto.Int32(25)},
	}))
	if c := rc.read(); c.GetType() != pb.BaseCommand_CONNECTED || c.GetConnected().GetProtocolVersion() != 21 ||
		c.GetConnected().GetMaxMessageSize() != 5<<20 {
		t.Fatalf("CONNECT answered with %v", c)
	}
	return rc
}

func (rc *rawClient) write(b []byte) {
	if _, err := rc.nc.Write(b); err != nil {
		rc.t.Fatal(err)
	}
}

func (rc *rawClient) read() *pb.BaseCommand {
	rc.t.Helper()
	_ = rc.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	var hdr [8]byte
	if _, err := io.ReadFull(rc.r, hdr[:]); err != nil {
		rc.t.Fatal(err)
	}
	body := make([]byte, binary.BigEndian.Uint32(hdr[:])-4)
	if _, err := io.ReadFull(rc.r, body); err != nil {
		rc.t.Fatal(err)
	}
	var cmd pb.BaseCommand
	if err := proto.Unmarshal(body[:binary.BigEndian.Uint32(hdr[4:])], &cmd); err != nil {
		rc.t.Fatal(err)
	}
	return &cmd
}

// send writes a SEND frame; corrupt flips a bit of the checksum.
func (rc *rawClient) send(producerID, seq uint64, payload []byte, corrupt bool) {
	cmd, _ := proto.Marshal(&pb.BaseCommand{
		Type: pb.BaseCommand_SEND.Enum(),
		Send: &pb.CommandSend{ProducerId: proto.Uint64(producerID), SequenceId: proto.Uint64(seq)},
	})
	meta, _ := proto.Marshal(&pb.MessageMetadata{
		ProducerName: proto.String("raw"), SequenceId: proto.Uint64(seq), PublishTime: proto.Uint64(1),
	})
	tail := binary.BigEndian.AppendUint32(nil, uint32(len(meta)))
	tail = append(append(tail, meta...), payload...)
	sum := crc32.Checksum(tail, crcTable)
	if corrupt {
		sum ^= 1
	}
	f := binary.BigEndian.AppendUint32(nil, uint32(4+len(cmd)+6+len(tail)))
	f = binary.BigEndian.AppendUint32(f, uint32(len(cmd)))
	f = append(f, cmd...)
	f = binary.BigEndian.AppendUint16(f, magicCRC32C)
	f = binary.BigEndian.AppendUint32(f, sum)
	rc.write(append(f, tail...))
}

func TestChecksum(t *testing.T) {
	for _, reply := range []bool{false, true} {
		fb := Start(t, Options{ReplyChecksumError: reply})
		rc := dialRaw(t, fb)
		rc.send(1, 0, []byte("good"), false)
		if c := rc.read(); c.GetType() != pb.BaseCommand_SEND_RECEIPT || c.GetSendReceipt().GetSequenceId() != 0 {
			t.Fatalf("good SEND answered with %v", c)
		}
		rc.send(1, 1, []byte("bad"), true)
		c := rc.read()
		switch {
		case reply && (c.GetType() != pb.BaseCommand_SEND_ERROR || c.GetSendError().GetError() != pb.ServerError_ChecksumError ||
			c.GetSendError().GetSequenceId() != 1):
			t.Fatalf("corrupt SEND answered with %v", c)
		case !reply && c.GetType() != pb.BaseCommand_SEND_RECEIPT:
			t.Fatalf("corrupt SEND answered with %v", c)
		}
		if st := fb.Stats(); st.ChecksumErrors != 1 || st.Messages != 2 {
			t.Fatalf("stats %+v", st)
		}
	}
}

func TestPingAndLookup(t *testing.T) {
	fb := Start(t, Options{Partitions: 4})
	rc := dialRaw(t, fb)
	rc.write(appendCommand(nil, &pb.BaseCommand{Type: pb.BaseCommand_PING.Enum(), Ping: &pb.CommandPing{}}))
	if c := rc.read(); c.GetType() != pb.BaseCommand_PONG {
		t.Fatalf("PING answered with %v", c)
	}
	rc.write(appendCommand(nil, &pb.BaseCommand{
		Type:              pb.BaseCommand_PARTITIONED_METADATA.Enum(),
		PartitionMetadata: &pb.CommandPartitionedTopicMetadata{Topic: proto.String("t"), RequestId: proto.Uint64(5)},
	}))
	if c := rc.read(); c.GetPartitionMetadataResponse().GetPartitions() != 4 || c.GetPartitionMetadataResponse().GetRequestId() != 5 {
		t.Fatalf("PARTITIONED_METADATA answered with %v", c)
	}
	rc.write(appendCommand(nil, &pb.BaseCommand{
		Type:        pb.BaseCommand_LOOKUP.Enum(),
		LookupTopic: &pb.CommandLookupTopic{Topic: proto.String("t-partition-1"), RequestId: proto.Uint64(6)},
	}))
	c := rc.read().GetLookupTopicResponse()
	if c.GetResponse() != pb.CommandLookupTopicResponse_Connect || c.GetBrokerServiceUrl() != fb.URL() || c.GetRequestId() != 6 {
		t.Fatalf("LOOKUP answered with %v", c)
	}
}

func TestCloseConnections(t *testing.T) {
	fb := Start(t, Options{})
	p := newNative(t, fb, core.ClientOptions{InitialBackoff: 10 * time.Millisecond}, core.ProducerOptions{})
	ctx := testContext(t)
	if _, err := p.Send(ctx, &core.Message{Payload: []byte("before")}); err != nil {
		t.Fatal(err)
	}
	if n := fb.CloseConnections(); n != 1 {
		t.Fatalf("closed %d connections", n)
	}
	if _, err := p.Send(ctx, &core.Message{Payload: []byte("after")}); err != nil {
		t.Fatal(err)
	}
	if st := fb.Stats(); st.Connections != 2 || st.OpenConnections != 1 || st.Producers != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestDropAfterSends(t *testing.T) {
	fb := Start(t, Options{})
	p := newNative(t, fb, core.ClientOptions{InitialBackoff: 10 * time.Millisecond}, core.ProducerOptions{DisableBatching: true})
	ctx := testContext(t)
	fb.DropAfterSends(3)
	var ac asyncCounter
	for range 10 {
		p.SendAsync(ctx, &core.Message{Payload: []byte("m")}, ac.cb)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// Every message is acknowledged at least once (a receipt the client
	// had not read when the connection dropped makes it resend that one).
	st := fb.Stats()
	if ac.ok != 10 || st.Connections != 2 || st.Receipts < 10 || st.Frames < st.Receipts {
		t.Fatalf("%d ok, errors %v; stats %+v", ac.ok, ac.errs, st)
	}
}

func TestReceiptDelay(t *testing.T) {
	fb := Start(t, Options{})
	// OperationTimeout bounds the client's Close, which waits for the
	// message the broker never answers (see the end).
	p := newNative(t, fb, core.ClientOptions{OperationTimeout: 500 * time.Millisecond}, core.ProducerOptions{})
	ctx := testContext(t)
	fb.SetReceiptDelay(150 * time.Millisecond)
	var ac asyncCounter
	start := time.Now()
	for range 5 {
		p.SendAsync(ctx, &core.Message{Payload: []byte("slow")}, ac.cb)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 150*time.Millisecond || ac.ok != 5 {
		t.Fatalf("5 sends took %v with a 150ms receipt delay; %d ok, errors %v", d, ac.ok, ac.errs)
	}
	fb.SetReceiptDelay(0)
	start = time.Now()
	if _, err := p.Send(ctx, &core.Message{Payload: []byte("fast")}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Fatalf("a send took %v without a delay", d)
	}
	// A delay still pending when the broker closes must not hold Close up.
	fb.SetReceiptDelay(time.Hour)
	p.SendAsync(ctx, &core.Message{Payload: []byte("never")}, nil)
	waitFor(t, 5*time.Second, "the delayed frame", func() bool { return fb.Stats().Messages == 7 })
	start = time.Now()
	fb.Close()
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Close took %v", d)
	}
}

func TestFailNextSend(t *testing.T) {
	fb := Start(t, Options{})
	p := newNative(t, fb, core.ClientOptions{}, core.ProducerOptions{})
	ctx := testContext(t)
	fb.FailNextSend(pb.ServerError_NotAllowedError)
	_, err := p.Send(ctx, &core.Message{Payload: []byte("refused")})
	if engine.CodeOf(err) != engine.CodeNotAllowedError {
		t.Fatalf("Send after FailNextSend(NotAllowedError): %v", err)
	}
	if _, err := p.Send(ctx, &core.Message{Payload: []byte("accepted")}); err != nil {
		t.Fatal(err)
	}
	if st := fb.Stats(); st.SendErrors != 1 || st.Receipts != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestUnloadProducers(t *testing.T) {
	fb := Start(t, Options{})
	p := newNative(t, fb, core.ClientOptions{InitialBackoff: 10 * time.Millisecond}, core.ProducerOptions{})
	ctx := testContext(t)
	if n := fb.UnloadProducers(); n != 1 {
		t.Fatalf("unloaded %d producers", n)
	}
	waitFor(t, 5*time.Second, "the producer to register again", func() bool { return fb.Stats().Producers == 2 })
	if _, err := p.Send(ctx, &core.Message{Payload: []byte("after unload")}); err != nil {
		t.Fatal(err)
	}
	if st := fb.Stats(); st.Connections != 1 || fb.ProducerCount() != 1 {
		t.Fatalf("stats %+v, %d live producers", st, fb.ProducerCount())
	}
}

func TestSilence(t *testing.T) {
	fb := Start(t, Options{})
	p := newNative(t, fb, core.ClientOptions{
		KeepAliveInterval: 50 * time.Millisecond,
		ConnectionTimeout: 200 * time.Millisecond,
		InitialBackoff:    10 * time.Millisecond,
		MaxBackoff:        50 * time.Millisecond,
	}, core.ProducerOptions{})
	ctx := testContext(t)
	fb.SetSilent(true)
	var ac asyncCounter
	p.SendAsync(ctx, &core.Message{Payload: []byte("unanswered")}, ac.cb)
	// Keepalive declares the connection dead; reconnects time out too.
	waitFor(t, 5*time.Second, "the client to give up on the silent connection", func() bool { return fb.Stats().Connections >= 2 })
	if st := fb.Stats(); st.Receipts != 0 || st.Frames != 0 {
		t.Fatalf("stats while silent %+v", st)
	}
	fb.SetSilent(false)
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if ac.ok != 1 {
		t.Fatalf("%d ok, errors %v", ac.ok, ac.errs)
	}
}

func TestClose(t *testing.T) {
	fb, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := newNative(t, fb, core.ClientOptions{}, core.ProducerOptions{})
	if _, err := p.Send(testContext(t), &core.Message{Payload: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	fb.Close()
	fb.Close() // twice is fine
	if st := fb.Stats(); st.OpenConnections != 0 {
		t.Fatalf("stats after Close %+v", st)
	}
	if nc, err := net.DialTimeout("tcp", fb.Addr(), time.Second); err == nil {
		nc.Close()
		t.Fatal("the broker still accepts connections after Close")
	}
}
