// Command guest is the producer engine as a WASI (preview 1) reactor module:
// build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o pulsar_producer.wasm ./wasm/guest
//
// How this works: the module holds one engine.Engine (one Pulsar client) and
// exports, with //go:wasmexport, one function per engine call. The host does
// all I/O: it opens the sockets the engine asks for, feeds received bytes in
// with ppw_receive, writes what ppw_take_output hands out, drains events with
// ppw_next_events and calls ppw_tick at the deadline. Time always comes from
// the host as Unix nanoseconds; the module never reads a clock. Every export
// returns a result code (0, or an engine.Code) and leaves a fixed 64-byte
// status block (ppw_status) describing the call's extra results and what the
// host must do next, so the hot path needs one call per message. No export
// panics or traps on bad input: input is checked, and a recover in each
// export but ppw_send turns an unexpected failure into UnknownError.
// wasm/ABI.md is the full contract. The exports are named ppw_*, not pp_*
// like the C ABI's functions, because the two differ in arguments and
// rules: a name must say which contract it follows.
package main

import (
	"errors"
	"runtime"
	"strings"
	"time"
	"unsafe"

	"github.com/pulsar-producer/pulsar-producer/core/engine"
	"github.com/pulsar-producer/pulsar-producer/wasm/internal/abi"
)

func main() {}

// Flags of ppw_client_new.
const (
	// flagHostChecksums: the host fills in the CRC32C of SEND frames
	// (engine.ClientOptions.HostChecksums; ABI.md, "Host checksums").
	flagHostChecksums = 1 << 0
	knownFlags        = flagHostChecksums
)

// statusBlock is the layout ABI.md documents; it is little-endian like all
// of wasm, 64 bytes, at a fixed address for the life of the instance.
type statusBlock struct {
	Code     int32     // 0: the result code of the last call
	Events   uint32    // 4: events waiting for ppw_next_events
	Output   uint32    // 8: 1 if some connection has bytes for ppw_take_output
	_        uint32    // 12
	Deadline int64     // 16: Unix ns when ppw_tick is due, or -1
	Result   [3]uint64 // 24, 32, 40: per-call results
	Room     [2]uint64 // 48, 56: messages and payload bytes the producer of the last send can still take; all ones: no limit
}

var status statusBlock

// The instance's state: at most one client at a time.
var (
	eng     *engine.Engine
	lastErr string // the message of the last failed call, without its code
)

//go:wasmexport ppw_abi_version
func ppABIVersion() int32 { return abi.Version }

//go:wasmexport ppw_status
func ppStatus() uint32 { return uint32(uintptrOf(&status)) }

// finish ends every export but ppw_send: it turns a panic into
// UnknownError, then records the code and refreshes the status block. It
// must be deferred directly.
func finish(code *int32) {
	if r := recover(); r != nil {
		*code = fail(engine.Errorf(engine.CodeUnknownError, "internal error in the module: %v", r))
	}
	refresh(*code)
}

// refresh records the code of the call ending and rewrites the status
// block from the engine's state.
func refresh(code int32) {
	if code == 0 && lastErr != "" {
		lastErr = ""
	}
	status.Code = code
	status.Events, status.Output, status.Deadline = 0, 0, -1
	if eng == nil {
		return
	}
	status.Events = uint32(eventsWaiting())
	if heldOut != nil || eng.HasOutput() {
		status.Output = 1
	}
	if d, ok := eng.Deadline(); ok {
		status.Deadline = d.UnixNano()
	}
	if roomProducer != 0 {
		m, b := eng.Room(roomProducer)
		status.Room = [2]uint64{uint64(int64(m)), uint64(b)} // -1 (no limit) is all ones
	}
}

// roomProducer is the producer whose room the status block reports: the
// one of the last send.
var roomProducer engine.ProducerID

// fail records err as the last error and returns its code.
func fail(err error) int32 {
	if err == nil {
		return 0
	}
	var e *engine.Error
	if errors.As(err, &e) {
		lastErr = e.Msg
		if lastErr == "" {
			lastErr = e.Code.Info().Description
		}
		return int32(e.Code)
	}
	lastErr = err.Error()
	return int32(engine.CodeUnknownError)
}

func noClient() int32 {
	return fail(engine.Errorf(engine.CodeInvalidHandle, "no client in this instance: call ppw_client_new first"))
}

func timeOf(ns int64) time.Time { return time.Unix(0, ns) }

// yield lets the Go runtime's own goroutines run: a reactor's one goroutine
// never blocks, so without it a garbage collection, once started, would
// stay in its mark phase until allocations alone paid for the whole cycle,
// with every pointer write going through the write barrier (an eighth of
// the module's time in the guest benchmark). ppw_take_output and ppw_tick
// call it, a few times per batch; with nothing else to run it is cheap.
func yield() { runtime.Gosched() }

//go:wasmexport ppw_last_error
func ppLastError(ptr, capacity uint32) (n int32) {
	// Not a result code: the message's full length, as snprintf does; the
	// status block is left alone so the error stays readable.
	defer func() {
		if recover() != nil {
			n = -1
		}
	}()
	if len(lastErr) == 0 {
		return 0
	}
	if capacity > 0 {
		buf, err := hostBytes("ppw_last_error buffer", ptr, capacity)
		if err != nil {
			return -1
		}
		copy(buf, lastErr)
	}
	return int32(len(lastErr))
}

//go:wasmexport ppw_client_new
func ppClientNew(urlPtr, urlLen, optsPtr, optsLen uint32, nowNs int64, seed uint64, flags uint32) (code int32) {
	defer finish(&code)
	if eng != nil {
		return fail(engine.Errorf(engine.CodeInvalidArgument, "this instance already has a client: call ppw_client_close first"))
	}
	if flags&^knownFlags != 0 {
		return fail(engine.Errorf(engine.CodeInvalidArgument, "ppw_client_new: unknown flags 0x%x", flags&^knownFlags))
	}
	url, err := hostString("service URL", urlPtr, urlLen)
	if err != nil {
		return fail(err)
	}
	js, err := hostBytes("options", optsPtr, optsLen)
	if err != nil {
		return fail(err)
	}
	var co engine.ClientOptions
	if err := engine.ParseOptionsJSON(js, &co, nil); err != nil {
		return fail(err)
	}
	co.ServiceURL = url
	co.HostChecksums = flags&flagHostChecksums != 0
	e, err := engine.New(co, seed, timeOf(nowNs))
	if err != nil {
		return fail(err)
	}
	eng = e
	return 0
}

//go:wasmexport ppw_client_close
func ppClientClose(nowNs int64) (code int32) {
	defer finish(&code)
	if eng == nil {
		return noClient()
	}
	eng.Close(timeOf(nowNs))
	return 0
}

//go:wasmexport ppw_client_free
func ppClientFree() (code int32) {
	defer finish(&code)
	if eng == nil {
		return noClient()
	}
	eng, heldOut, spareOut = nil, nil, nil
	clear(taken)
	taken, next, ownTokens, tokensOwned = taken[:0], 0, nil, false
	return 0
}

//go:wasmexport ppw_producer_create
func ppProducerCreate(topicPtr, topicLen, optsPtr, optsLen uint32, nowNs int64) (code int32) {
	defer finish(&code)
	if eng == nil {
		return noClient()
	}
	topic, err := hostString("topic", topicPtr, topicLen)
	if err != nil {
		return fail(err)
	}
	js, err := hostBytes("options", optsPtr, optsLen)
	if err != nil {
		return fail(err)
	}
	var po engine.ProducerOptions
	if err := engine.ParseOptionsJSON(js, nil, &po); err != nil {
		return fail(err)
	}
	po.Topic = topic
	id, err := eng.CreateProducer(po, timeOf(nowNs))
	if err != nil {
		return fail(err)
	}
	status.Result[0] = uint64(id)
	return 0
}

// message is reused by every send: the engine copies what it keeps.
var message engine.Message

//go:wasmexport ppw_send
func ppSend(producer uint64, payloadPtr, payloadLen uint32, token uint64, nowNs int64) int32 {
	// The hot path, one call per message: nothing decoded, nothing
	// allocated, only the payload field of the shared message set. Unlike
	// every other export it has no deferred recover, which costs a tenth
	// of the call in wasm: its input is checked, so a panic here would be
	// a bug in the engine, and it traps as running out of memory does.
	var code int32
	roomProducer = engine.ProducerID(producer)
	if eng == nil {
		code = noClient()
	} else if payload, err := hostBytes("payload", payloadPtr, payloadLen); err != nil {
		code = fail(err)
	} else {
		message.Payload = payload
		err = eng.Send(engine.ProducerID(producer), &message, token, timeOf(nowNs))
		message.Payload = nil
		if err != nil {
			code = fail(err)
		}
	}
	refresh(code)
	return code
}

// ppw_send_payloads hands over count payload-only messages at once: their
// payloads back to back at dataPtr, their lengths (u32) at lensPtr and their
// tokens (u64) at tokensPtr. Result0 is how many were accepted; on an error
// it describes message Result0, and the ones after it were not taken.
//
//go:wasmexport ppw_send_payloads
func ppSendPayloads(producer uint64, dataPtr, dataLen, lensPtr, tokensPtr, count uint32, nowNs int64) (code int32) {
	defer finish(&code)
	status.Result = [3]uint64{}
	roomProducer = engine.ProducerID(producer)
	if eng == nil {
		return noClient()
	}
	data, err := hostBytes("payloads", dataPtr, dataLen)
	if err != nil {
		return fail(err)
	}
	lb, err := hostBytes("payload lengths", lensPtr, count*4)
	if err != nil {
		return fail(err)
	}
	tb, err := hostBytes("tokens", tokensPtr, count*8)
	if err != nil {
		return fail(err)
	}
	if count > 0 && (uintptr(unsafe.Pointer(&lb[0]))%4 != 0 || uintptr(unsafe.Pointer(&tb[0]))%8 != 0) {
		return fail(engine.Errorf(engine.CodeInvalidArgument, "ppw_send_payloads: lengths must be 4-aligned and tokens 8-aligned"))
	}
	var lens []uint32
	var tokens []uint64
	if count > 0 {
		lens = unsafe.Slice((*uint32)(unsafe.Pointer(&lb[0])), count)
		tokens = unsafe.Slice((*uint64)(unsafe.Pointer(&tb[0])), count)
	}
	n, err := eng.SendPayloads(engine.ProducerID(producer), data, lens, tokens, timeOf(nowNs))
	status.Result[0] = uint64(n)
	return fail(err)
}

//go:wasmexport ppw_send_msg
func ppSendMsg(producer uint64, payloadPtr, payloadLen, metaPtr, metaLen uint32, token uint64, nowNs int64) (code int32) {
	defer finish(&code)
	roomProducer = engine.ProducerID(producer)
	if eng == nil {
		return noClient()
	}
	payload, err := hostBytes("payload", payloadPtr, payloadLen)
	if err != nil {
		return fail(err)
	}
	meta, err := hostBytes("metadata", metaPtr, metaLen)
	if err != nil {
		return fail(err)
	}
	m := engine.Message{Payload: payload}
	if err := decodeMetadata(meta, &m); err != nil {
		return fail(err)
	}
	if err := checkValueJSON(&m); err != nil {
		return fail(err)
	}
	return fail(eng.Send(engine.ProducerID(producer), &m, token, timeOf(nowNs)))
}

//go:wasmexport ppw_flush
func ppFlush(producer uint64, nowNs int64) (code int32) {
	defer finish(&code)
	if eng == nil {
		return noClient()
	}
	return fail(eng.Flush(engine.ProducerID(producer), timeOf(nowNs)))
}

//go:wasmexport ppw_producer_close
func ppProducerClose(producer uint64, nowNs int64) (code int32) {
	defer finish(&code)
	if eng == nil {
		return noClient()
	}
	return fail(eng.CloseProducer(engine.ProducerID(producer), timeOf(nowNs)))
}

//go:wasmexport ppw_producer_abort
func ppProducerAbort(producer uint64, causeCode int32, causePtr, causeLen uint32, nowNs int64) (code int32) {
	defer finish(&code)
	if eng == nil {
		return noClient()
	}
	cause, err := hostString("cause", causePtr, causeLen)
	if err != nil {
		return fail(err)
	}
	var c error // code 0: the engine's own AlreadyClosed error
	if causeCode != 0 {
		c = &engine.Error{Code: engine.Code(causeCode), Msg: cause}
	}
	eng.AbortProducer(engine.ProducerID(producer), c, timeOf(nowNs))
	return 0
}

//go:wasmexport ppw_conn_opened
func ppConnOpened(conn uint64, nowNs int64) (code int32) {
	defer finish(&code)
	if eng == nil {
		return noClient()
	}
	eng.ConnOpened(engine.ConnID(conn), timeOf(nowNs))
	return 0
}

//go:wasmexport ppw_conn_failed
func ppConnFailed(conn uint64, causePtr, causeLen uint32, nowNs int64) (code int32) {
	defer finish(&code)
	if eng == nil {
		return noClient()
	}
	cause, err := hostString("cause", causePtr, causeLen)
	if err != nil {
		return fail(err)
	}
	if cause == "" {
		cause = "connect failed"
	}
	eng.ConnFailed(engine.ConnID(conn), causeError(cause), timeOf(nowNs))
	return 0
}

//go:wasmexport ppw_conn_closed
func ppConnClosed(conn uint64, causePtr, causeLen uint32, nowNs int64) (code int32) {
	defer finish(&code)
	if eng == nil {
		return noClient()
	}
	cause, err := hostString("cause", causePtr, causeLen)
	if err != nil {
		return fail(err)
	}
	var c error // empty: an orderly close by the peer
	if cause != "" {
		c = causeError(cause)
	}
	if heldOut != nil && heldConn == engine.ConnID(conn) {
		heldOut = nil
	}
	eng.ConnClosed(engine.ConnID(conn), c, timeOf(nowNs))
	return 0
}

//go:wasmexport ppw_receive
func ppReceive(conn uint64, ptr, n uint32, nowNs int64) (code int32) {
	defer finish(&code)
	if eng == nil {
		return noClient()
	}
	data, err := hostBytes("received bytes", ptr, n)
	if err != nil {
		return fail(err)
	}
	eng.Receive(engine.ConnID(conn), data, timeOf(nowNs))
	return 0
}

//go:wasmexport ppw_tick
func ppTick(nowNs int64) (code int32) {
	defer finish(&code)
	yield()
	if eng == nil {
		return noClient()
	}
	eng.Tick(timeOf(nowNs))
	return 0
}

//go:wasmexport ppw_deadline
func ppDeadline() (ns int64) {
	// Not a result code: Unix ns of the next deadline, or -1 for none (the
	// same value as the status block's deadline). The status block and the
	// last error are left alone.
	defer func() {
		if recover() != nil {
			ns = -1
		}
	}()
	if eng == nil {
		return -1
	}
	if d, ok := eng.Deadline(); ok {
		return d.UnixNano()
	}
	return -1
}

// causeError is the error a host's cause text stands for. A text that
// starts with a code's name and ": " (as errors read, "AuthenticationError:
// the token file is missing") carries that code, so that a failure the host
// knows the code of (credentials it could not get) reaches the producers
// with it; any other text is a plain error (the engine's ConnectError).
func causeError(cause string) error {
	if name, text, ok := strings.Cut(cause, ": "); ok {
		for _, info := range engine.Codes {
			if info.Name == name && info.Code != engine.CodeOK {
				return engine.Errorf(info.Code, "%s", text)
			}
		}
	}
	return errors.New(cause)
}
