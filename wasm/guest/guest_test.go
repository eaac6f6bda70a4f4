//go:build wasip1

// Tests and benchmarks of the exports as plain Go calls inside the module,
// run compiled to wasip1 under wazero (the same -exec command as the
// engine's tests; see wasm/ABI.md, "Testing"). A connection of the
// project's fake broker (internal/fakebroker), played in memory, answers
// the handshake, lookup and registration and acknowledges SENDs, so the
// benchmark measures the guest's cost per message without the host.
package main

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"testing"
	"time"
	"unsafe"

	"github.com/pulsar-producer/pulsar-producer/core/engine"
	"github.com/pulsar-producer/pulsar-producer/internal/fakebroker"
	"github.com/pulsar-producer/pulsar-producer/wasm/internal/abi"
)

// fakeHost plays the host and the broker at once.
type fakeHost struct {
	tb      testing.TB
	flags   uint32 // ppw_client_new flags
	sends   int    // SEND frames answered
	zeroCRC int    // of which with a zero checksum
	now     int64
	conn    uint64
	out     []byte // ppw_alloc'd output buffer
	evs     []byte // ppw_alloc'd event buffer
	in      []byte // ppw_alloc'd receive buffer
	payload []byte // ppw_alloc'd payload buffer
	fb      *fakebroker.Broker
	broker  *fakebroker.Conn // the connection's broker side
}

func alloc(tb testing.TB, n int) []byte {
	p := ppAlloc(uint32(n))
	if p == 0 {
		tb.Fatalf("ppw_alloc(%d): %s", n, lastErr)
	}
	b, err := hostBytes("test block", p, uint32(n))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func ptr(b []byte) uint32 { return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }

func newFakeHost(tb testing.TB, flags uint32, producerOpts string) (*fakeHost, uint64) {
	return newFakeHostWith(tb, flags, "", producerOpts, nil)
}

// newFakeHostWith is newFakeHost with client options, and setup run after
// the client is made, before the producer is created.
func newFakeHostWith(tb testing.TB, flags uint32, clientOpts, producerOpts string, setup func(*fakeHost)) (*fakeHost, uint64) {
	h := &fakeHost{tb: tb, flags: flags, now: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC).UnixNano()}
	h.out, h.evs, h.in, h.payload = alloc(tb, 1<<20), alloc(tb, 1<<20), alloc(tb, 64<<10), alloc(tb, 64<<10)
	// The test checks the checksums itself (checkSums), and skips them
	// in benchmarks: CRC32C in wasm would dominate the figures.
	h.fb, _ = fakebroker.New(fakebroker.Options{SkipChecksums: true})
	h.broker = h.fb.NewConn()
	if eng != nil {
		ppClientFree()
	}
	url := copy(h.payload, "pulsar://broker:6650")
	co := copy(h.payload[url:], clientOpts)
	h.must(ppClientNew(ptr(h.payload), uint32(url), ptr(h.payload)+uint32(url), uint32(co), h.now, 1, flags))
	if setup != nil {
		setup(h)
	}
	n := copy(h.payload, "t")
	m := copy(h.payload[n:], producerOpts)
	h.must(ppProducerCreate(ptr(h.payload), uint32(n), ptr(h.payload)+uint32(n), uint32(m), h.now))
	id := status.Result[0]
	for i := 0; i < 10 && h.broker.ProducerID() == 0; i++ {
		h.step()
	}
	if h.broker.ProducerID() == 0 {
		tb.Fatal("the producer never registered")
	}
	return h, id
}

func (h *fakeHost) must(code int32) {
	if code != 0 {
		h.tb.Helper() // only here: it walks the stack, which is slow in wasm
		h.tb.Fatalf("code %d: %s", code, lastErr)
	}
}

// step drains events and output, answering the broker's part.
func (h *fakeHost) step() (receipts int) {
	for status.Events > 0 || status.Output != 0 {
		receipts += h.stepOnce()
	}
	return receipts
}

func (h *fakeHost) stepOnce() (receipts int) {
	for status.Events > 0 {
		h.must(ppNextEvents(ptr(h.evs), uint32(len(h.evs))))
		b := h.evs[:status.Result[1]]
		for len(b) > 0 {
			size := binary.LittleEndian.Uint32(b)
			switch engine.EventKind(b[4]) {
			case engine.EventConnect:
				h.conn = binary.LittleEndian.Uint64(b[16:])
				h.must(ppConnOpened(h.conn, h.now))
			case engine.EventReceipt:
				receipts += int(binary.LittleEndian.Uint32(b[32:]))
			case engine.EventProducerFailed, engine.EventConnClosed:
				h.tb.Fatalf("event %v: %s", engine.EventKind(b[4]), b[72:72+binary.LittleEndian.Uint32(b[12:])])
			}
			b = b[size:]
		}
	}
	h.answerOutput()
	return receipts
}

// answerOutput plays the broker for all output, leaving events waiting.
func (h *fakeHost) answerOutput() {
	for status.Output != 0 {
		h.must(ppTakeOutput(ptr(h.out), uint32(len(h.out))))
		h.answer(h.out[:status.Result[1]])
	}
}

// receiptTokens reads the receipt records in b and returns their tokens.
func receiptTokens(tb testing.TB, b []byte) (tokens []uint64) {
	for len(b) > 0 {
		size := binary.LittleEndian.Uint32(b)
		if engine.EventKind(b[4]) != engine.EventReceipt {
			tb.Fatalf("event %v, want only receipts", engine.EventKind(b[4]))
		}
		n := binary.LittleEndian.Uint32(b[32:])
		for i := range n {
			tokens = append(tokens, binary.LittleEndian.Uint64(b[72+8*i:]))
		}
		b = b[size:]
	}
	return tokens
}

// TestGuestHeldEventsKeepTheirTokens leaves receipts in the module (the
// host's buffer holds one record), then makes the engine emit more, which
// reuses the engine's token space: the held receipts must keep their own.
func TestGuestHeldEventsKeepTheirTokens(t *testing.T) {
	h, id := newFakeHost(t, 0, `{"batchingMaxMessages":10}`)
	sendRange := func(from, to uint64) {
		for tok := from; tok < to; tok++ {
			h.must(ppSend(id, ptr(h.payload), 10, tok, h.now))
		}
		h.answerOutput()
	}
	sendRange(0, 30) // three batches, three receipts waiting
	if status.Events != 3 {
		t.Fatalf("%d events waiting, want 3", status.Events)
	}
	one := uint32(recordSize(10, 0, 0))
	h.must(ppNextEvents(ptr(h.evs), one))
	got := receiptTokens(t, h.evs[:status.Result[1]])
	sendRange(1000, 1030) // three more receipts, while two are held
	for status.Events > 0 {
		h.must(ppNextEvents(ptr(h.evs), uint32(len(h.evs))))
		got = append(got, receiptTokens(t, h.evs[:status.Result[1]])...)
	}
	var want []uint64
	for tok := range uint64(30) {
		want = append(want, tok)
	}
	for tok := range uint64(30) {
		want = append(want, 1000+tok)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("receipt tokens\n%v\nwant\n%v", got, want)
	}
}

// answer plays the broker for the frames in b, checking the checksums of
// SENDs (filling them in first when the host computes them).
func (h *fakeHost) answer(b []byte) {
	h.checkSums(b)
	reply, err := h.broker.Answer(b, time.Unix(0, h.now))
	if err != nil {
		h.tb.Fatal(err)
	}
	h.receive(reply)
}

// receive feeds bytes from the broker to the module, a block at a time.
func (h *fakeHost) receive(b []byte) {
	for len(b) > 0 {
		n := copy(h.in, b)
		h.must(ppReceive(h.conn, ptr(h.in), uint32(n), h.now))
		b = b[n:]
	}
}

// checkSums checks the CRC32C of every SEND frame in b: present and right
// when the module computes them, zero when the host does (and right after
// engine.FillChecksums, the host's part).
func (h *fakeHost) checkSums(b []byte) {
	if _, bench := h.tb.(*testing.B); bench {
		return // CRC32C in wasm would dominate the figures
	}
	if h.flags&flagHostChecksums != 0 {
		for f := b; len(f) > 0; f = f[4+binary.BigEndian.Uint32(f):] {
			if at, ok := sendChecksumAt(f); ok {
				h.sends++
				if binary.BigEndian.Uint32(f[at:]) == 0 {
					h.zeroCRC++
				}
			}
		}
		if err := engine.FillChecksums(b); err != nil {
			h.tb.Fatal(err)
		}
	}
	for f := b; len(f) > 0; f = f[4+binary.BigEndian.Uint32(f):] {
		if at, ok := sendChecksumAt(f); ok {
			end := 4 + binary.BigEndian.Uint32(f)
			if want := crc32.Checksum(f[at+4:end], crc32.MakeTable(crc32.Castagnoli)); binary.BigEndian.Uint32(f[at:]) != want {
				h.tb.Fatalf("SEND frame checksum %08x, want %08x", binary.BigEndian.Uint32(f[at:]), want)
			}
		}
	}
}

// sendChecksumAt returns where the checksum of the frame at f's start is,
// if it has a payload section (magic 0x0e01 after the command).
func sendChecksumAt(f []byte) (int, bool) {
	total := binary.BigEndian.Uint32(f)
	at := 8 + binary.BigEndian.Uint32(f[4:])
	if at+10 > 4+total || binary.BigEndian.Uint16(f[at:]) != 0x0e01 {
		return 0, false
	}
	return int(at) + 2, true
}

func TestGuestSendsAndReceipts(t *testing.T) {
	for _, flags := range []uint32{0, flagHostChecksums} {
		h, id := newFakeHost(t, flags, `{"batchingMaxMessages":10}`)
		sendAndCount(t, h, id)
		if flags != 0 && (h.sends == 0 || h.zeroCRC != h.sends) {
			t.Fatalf("host checksums: %d of %d SEND frames had a zero checksum, want all", h.zeroCRC, h.sends)
		}
	}
}

func sendAndCount(t *testing.T, h *fakeHost, id uint64) {
	meta := appendTestMeta(nil)
	copy(h.payload[100:], meta)
	receipts := 0
	for i := 0; i < 25; i++ {
		if i%2 == 0 {
			h.must(ppSend(id, ptr(h.payload), 100, uint64(i), h.now))
		} else {
			h.must(ppSendMsg(id, ptr(h.payload), 100, ptr(h.payload)+100, uint32(len(meta)), uint64(i), h.now))
		}
		receipts += h.step()
	}
	h.must(ppFlush(id, h.now))
	receipts += h.step()
	if receipts != 25 {
		t.Fatalf("%d receipts, want 25", receipts)
	}
}

func appendTestMeta(b []byte) []byte {
	b = append(b, abi.TagKey, 3, 0, 0, 0, 'k', 'e', 'y')
	b = append(b, abi.TagProperty, 1, 0, 0, 0, 'a', 1, 0, 0, 0, 'b')
	b = append(b, abi.TagEventTime)
	return binary.LittleEndian.AppendUint64(b, 1_700_000_000_000)
}

// BenchmarkGuestSend is one message per op: ppw_send, plus its share of
// sealing, receipts and events, in batches of 1000, all inside the module.
func BenchmarkGuestSend(b *testing.B) {
	h, id := newFakeHost(b, flagHostChecksums, `{"batchingMaxMessages":1000}`)
	b.SetBytes(100)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h.must(ppSend(id, ptr(h.payload), 100, uint64(i), h.now))
		if status.Output != 0 {
			h.step()
		}
	}
	h.must(ppFlush(id, h.now))
	h.step()
}

// BenchmarkGuestEngineOnly is BenchmarkGuestSend calling the engine's Send
// directly instead of ppw_send: the difference is the export's own cost.
func BenchmarkGuestEngineOnly(b *testing.B) {
	h, id := newFakeHost(b, flagHostChecksums, `{"batchingMaxMessages":1000}`)
	m := &engine.Message{Payload: h.payload[:100]}
	b.SetBytes(100)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := eng.Send(engine.ProducerID(id), m, uint64(i), time.Unix(0, h.now)); err != nil {
			b.Fatal(err)
		}
		if eng.HasOutput() {
			status.Output = 1
			h.step()
		}
	}
	h.must(ppFlush(id, h.now))
	h.step()
}

// TestGuestStatsRecords reads a producer's and the client's stats records
// and room after 25 receipts, then the final stats in the ProducerClosed
// record, all as a host would.
func TestGuestStatsRecords(t *testing.T) {
	h, id := newFakeHost(t, 0, `{"batchingMaxMessages":10,"maxPendingMessages":100}`)
	sendAndCount(t, h, id)
	h.must(ppProducerStats(id, ptr(h.out), uint32(len(h.out))))
	if n := status.Result[1]; n != abi.ProducerStatsSize {
		t.Fatalf("producer record of %d bytes", n)
	}
	if s := abi.ProducerStatsOf(h.out); s.MsgsSent != 25 || s.MsgsAcked != 25 || s.BytesAcked != 2500 || s.Latency.Count() != 25 {
		t.Fatalf("producer stats %+v", s)
	}
	h.must(ppClientStats(ptr(h.out), uint32(len(h.out))))
	if s := abi.ClientStatsOf(h.out); s.Producers != 1 || s.Connections != 1 || s.Connects != 1 || s.MsgsAcked != 25 {
		t.Fatalf("client stats %+v", s)
	}
	h.must(ppRoom(id))
	if m, b := int64(status.Result[0]), int64(status.Result[1]); m != 100 || b != 64<<20 {
		t.Fatalf("room %d messages, %d bytes; want 100 and the default memory limit", m, b)
	}
	h.must(ppProducerClose(id, h.now))
	h.answerOutput() // CLOSE_PRODUCER, answered
	var closed bool
	for status.Events > 0 {
		h.must(ppNextEvents(ptr(h.evs), uint32(len(h.evs))))
		for b := h.evs[:status.Result[1]]; len(b) > 0; b = b[binary.LittleEndian.Uint32(b):] {
			if engine.EventKind(b[4]) != engine.EventProducerClosed {
				continue
			}
			closed = true
			tokens, extra := binary.LittleEndian.Uint32(b[32:]), binary.LittleEndian.Uint32(b[36:])
			if tokens != 0 || extra != abi.ProducerStatsSize {
				t.Fatalf("ProducerClosed record with %d tokens and %d bytes of fields", tokens, extra)
			}
			if s := abi.ProducerStatsOf(b[eventHeaderSize:]); s.MsgsAcked != 25 || s.PendingMsgs != 0 {
				t.Fatalf("final stats %+v", s)
			}
		}
	}
	if !closed {
		t.Fatal("no ProducerClosed record")
	}
	if code := ppProducerStats(id, ptr(h.out), uint32(len(h.out))); engine.Code(code) != engine.CodeInvalidHandle {
		t.Fatalf("stats of a closed producer: code %d (%s)", code, lastErr)
	}
}
