// What leaves the module: connection output (ppw_take_output) and events
// (ppw_next_events).
//
// Both copy into a host buffer from ppw_alloc. Nothing is lost when the
// buffer is too small: the output chunk or the events taken from the engine
// are held here, the call fails with BufferTooSmall and the size needed in
// the status block's result1, and the next call (with a bigger buffer)
// returns it first. Events are fixed 72-byte records followed by their
// tokens, a block of fields of their kind (a Log record's fields, the final
// stats of a closed or failed producer, or where a chunked message's first
// chunk is stored) and their text, padded to 8
// bytes; as many as fit go out in one call, and a receipt covers a whole
// entry (a batch of a thousand messages is one record with a thousand
// tokens), so a burst of receipts costs one crossing.
//
// The engine's events alias its memory (Event.Tokens) only until the next
// engine call after all of them were taken. Events taken here and written in
// the same call need no copy; those left for a later call (the host's buffer
// was full) get their tokens copied into the module's own buffer first.
package main

import (
	"errors"
	"slices"
	"unsafe"

	"github.com/pulsar-producer/pulsar-producer/core/engine"
	"github.com/pulsar-producer/pulsar-producer/wasm/internal/abi"
)

// Output held back because the host's buffer was too small.
var (
	heldOut  []byte
	heldConn engine.ConnID
	spareOut []byte // the engine's last output buffer, handed back for reuse
)

//go:wasmexport ppw_take_output
func ppTakeOutput(bufPtr, bufCap uint32) (code int32) {
	defer finish(&code)
	yield()
	status.Result = [3]uint64{}
	if eng == nil {
		return noClient()
	}
	if heldOut == nil {
		id, data, ok := eng.TakeOutput(spareOut)
		spareOut = nil
		if !ok {
			return 0
		}
		heldOut, heldConn = data, id
	}
	status.Result[0] = uint64(heldConn)
	if uint64(len(heldOut)) > uint64(bufCap) {
		status.Result[1] = uint64(len(heldOut))
		return fail(engine.Errorf(engine.CodeBufferTooSmall,
			"ppw_take_output: connection %d has %d bytes to write; the buffer holds %d", heldConn, len(heldOut), bufCap))
	}
	buf, err := hostBytes("output buffer", bufPtr, uint32(len(heldOut)))
	if err != nil {
		return fail(err)
	}
	copy(buf, heldOut)
	status.Result[1] = uint64(len(heldOut))
	if cap(heldOut) <= 1<<20 {
		spareOut = heldOut[:0]
	}
	heldOut = nil
	return 0
}

// Event records: see ABI.md, "Event records".
const (
	eventHeaderSize = 72
	maxEventText    = 64 << 10 // longer texts are cut; the engine's are short
)

// eventRecord is the fixed part of a record, stored with one struct copy
// (wasm is little-endian, and unaligned stores are allowed).
type eventRecord struct {
	Size       uint32
	Kind       uint8
	Flags      uint8 // abi.ReceiptChunked
	_          [2]uint8
	Code       int32
	TextLen    uint32
	Conn       uint64
	Producer   uint64
	TokenCount uint32
	ExtraLen   uint32 // the kind's fields after the tokens, a multiple of 8
	LedgerID   int64
	EntryID    int64
	Partition  int32
	BatchIndex int32
	BatchSize  int32
	Partitions int32
}

var _ [eventHeaderSize - unsafe.Sizeof(eventRecord{})]struct{} // the layout is 72 bytes

// taken holds events taken from the engine in bulk and not yet written;
// taken[next] is the oldest. An event that did not fit the last buffer
// stays here, its tokens moved to ownTokens (tokensOwned) before the call
// returns.
var (
	taken       []engine.Event
	next        int
	ownTokens   []uint64
	tokensOwned bool
)

// keepTakenTokens copies the tokens of events still held into the module's
// own buffer, because the engine reuses its token space at its next call.
func keepTakenTokens() {
	if next == len(taken) || tokensOwned {
		return
	}
	n := 0
	for i := next; i < len(taken); i++ {
		n += len(taken[i].Tokens)
	}
	ownTokens = slices.Grow(ownTokens[:0], n)
	for i := next; i < len(taken); i++ {
		ev := &taken[i]
		start := len(ownTokens)
		ownTokens = append(ownTokens, ev.Tokens...)
		ev.Tokens = ownTokens[start:len(ownTokens):len(ownTokens)]
	}
	tokensOwned = true
}

// eventsWaiting is the number of events for ppw_next_events.
func eventsWaiting() int { return len(taken) - next + eng.PendingEvents() }

//go:wasmexport ppw_next_events
func ppNextEvents(bufPtr, bufCap uint32) (code int32) {
	defer finish(&code)
	defer keepTakenTokens()
	status.Result = [3]uint64{}
	if eng == nil {
		return noClient()
	}
	buf, err := hostBytes("event buffer", bufPtr, bufCap)
	if err != nil {
		return fail(err)
	}
	var count, used int
	for {
		if next == len(taken) {
			clear(taken)
			taken, next, tokensOwned = eng.AppendEvents(taken[:0]), 0, false
			if len(taken) == 0 {
				break
			}
		}
		ev := &taken[next]
		code, text := eventError(ev)
		size := recordSize(len(ev.Tokens), extraSize(ev), len(text))
		if used+size > len(buf) {
			if count == 0 {
				status.Result[1] = uint64(size)
				return fail(engine.Errorf(engine.CodeBufferTooSmall,
					"ppw_next_events: the next event (%v) needs %d bytes; the buffer holds %d", ev.Kind, size, len(buf)))
			}
			break
		}
		writeEvent(buf[used:used+size], ev, code, text)
		*ev = engine.Event{}
		next++
		used += size
		count++
	}
	status.Result[0] = uint64(count)
	status.Result[1] = uint64(used)
	return 0
}

// recordSize is the size of a record with n tokens, extra bytes of its
// kind's fields (a multiple of 8) and a text.
func recordSize(n, extra, textLen int) int { return (eventHeaderSize + 8*n + extra + textLen + 7) &^ 7 }

// extraSize is the size of the fields of ev's kind that follow the tokens.
func extraSize(ev *engine.Event) int {
	switch {
	case ev.Kind == engine.EventLog && ev.Log != nil:
		return abi.LogFieldsSize(ev.Log)
	case (ev.Kind == engine.EventProducerClosed || ev.Kind == engine.EventProducerFailed) && ev.Stats != nil:
		return abi.ProducerStatsSize
	case ev.Kind == engine.EventReceipt && ev.ID.Chunked:
		return abi.ChunkFieldsSize
	}
	return 0
}

// eventError returns the code and text a record carries: the error's code
// and message, or 0 and the event's Text.
func eventError(ev *engine.Event) (int32, string) {
	text := ev.Text
	if ev.Kind == engine.EventLog && ev.Log != nil {
		text = ev.Log.Msg
	}
	var code int32
	if ev.Err != nil {
		var e *engine.Error
		if errors.As(ev.Err, &e) {
			code, text = int32(e.Code), e.Msg
		} else {
			code, text = int32(engine.CodeUnknownError), ev.Err.Error()
		}
	}
	if len(text) > maxEventText {
		text = text[:maxEventText]
	}
	return code, text
}

// writeEvent writes one record into b, which is exactly its size.
func writeEvent(b []byte, ev *engine.Event, code int32, text string) {
	extra := extraSize(ev)
	r := eventRecord{
		Size:       uint32(len(b)),
		Kind:       uint8(ev.Kind),
		Code:       code,
		TextLen:    uint32(len(text)),
		Conn:       uint64(ev.Conn),
		Producer:   uint64(ev.Producer),
		TokenCount: uint32(len(ev.Tokens)),
		ExtraLen:   uint32(extra),
		LedgerID:   ev.ID.LedgerID,
		EntryID:    ev.ID.EntryID,
		Partition:  ev.ID.Partition,
		BatchIndex: ev.ID.BatchIndex,
		BatchSize:  ev.ID.BatchSize,
	}
	switch ev.Kind {
	case engine.EventProducerReady:
		r.Partitions = int32(eng.NumPartitions(ev.Producer))
	case engine.EventLog:
		if ev.Log != nil {
			r.Conn = uint64(ev.Log.Conn)
		}
	case engine.EventReceipt:
		if ev.ID.Chunked {
			r.Flags = abi.ReceiptChunked
		}
	}
	*(*eventRecord)(unsafe.Pointer(unsafe.SliceData(b))) = r
	tail := b[eventHeaderSize:]
	if n := len(ev.Tokens); n > 0 {
		// Little-endian u64s, as wasm stores them.
		copy(unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(tail))), n), ev.Tokens)
		tail = tail[8*n:]
	}
	if extra > 0 {
		switch ev.Kind {
		case engine.EventLog:
			abi.PutLogFields(tail[:extra], ev.Log)
		case engine.EventReceipt:
			abi.PutChunkFields(tail[:extra], &ev.ID)
		default:
			abi.PutProducerStats(tail[:extra], ev.Stats)
		}
		tail = tail[extra:]
	}
	n := copy(tail, text)
	clear(tail[n:])
}
