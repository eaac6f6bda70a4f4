// One module instance and typed wrappers for its exports.
//
// How this works: an instance owns a few blocks of guest memory from
// pp_alloc (for payloads, received bytes, output, events and error text)
// and reuses them; a block grows when a call reports BufferTooSmall or an
// input does not fit. Every call copies its arguments into one reused stack
// (no allocation per call), runs the export, and turns a non-zero result
// code into an *engine.Error whose message is pp_last_error's text, so
// errors read exactly as the native producer's. After each call the caller
// reads the status block (one memory read, no call) to learn whether events
// or output wait and when the next deadline is. The instance is not safe
// for concurrent use: the Client serializes calls with its mutex.
package wasm

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"os"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/pulsar-producer/pulsar-producer/core/engine"
)

// exportNames lists every export the host uses, in the order of the fn
// indices below.
var exportNames = []string{
	"pp_abi_version", "pp_status", "pp_alloc", "pp_free", "pp_last_error",
	"pp_client_new", "pp_client_close", "pp_producer_create", "pp_send", "pp_send_msg",
	"pp_flush", "pp_producer_close", "pp_producer_abort", "pp_conn_opened", "pp_conn_failed",
	"pp_conn_closed", "pp_receive", "pp_tick", "pp_deadline", "pp_take_output", "pp_next_events",
}

const (
	fnABIVersion = iota
	fnStatus
	fnAlloc
	fnFree
	fnLastError
	fnClientNew
	fnClientClose
	fnProducerCreate
	fnSend
	fnSendMsg
	fnFlush
	fnProducerClose
	fnProducerAbort
	fnConnOpened
	fnConnFailed
	fnConnClosed
	fnReceive
	fnTick
	fnDeadline
	fnTakeOutput
	fnNextEvents
	numFns
)

// wantABIVersion is the pp_abi_version this host speaks.
const wantABIVersion = 1

// Initial block sizes; each grows on demand.
const (
	initialSendBlock   = 64 << 10
	receiveBlock       = 64 << 10 // one socket read at most
	initialOutputBlock = 256 << 10
	initialEventBlock  = 256 << 10
	errorBlock         = 4 << 10
)

// guestBlock is a block of guest memory from pp_alloc.
type guestBlock struct {
	ptr uint32
	cap uint32
}

type instance struct {
	ctx   context.Context
	mod   api.Module
	mem   api.Memory
	fns   [numFns]api.Function
	stack [8]uint64

	statusPtr uint32
	send      guestBlock // payload, then metadata
	recv      guestBlock
	out       guestBlock
	events    guestBlock
	errText   guestBlock
	meta      []byte // metadata scratch, host side

	closed bool
}

// status is the decoded status block (ABI.md, "The status block").
type status struct {
	code     engine.Code
	events   uint32
	output   bool
	deadline int64 // Unix ns, or -1
	result   [3]uint64
}

func newInstance(m *Module) (*instance, error) {
	rt, err := sharedRuntime()
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	cfg := wazero.NewModuleConfig().
		WithName(""). // anonymous: any number of instances per runtime
		WithStartFunctions("_initialize").
		WithStderr(os.Stderr). // the Go runtime reports fatal errors there
		WithRandSource(rand.Reader)
	mod, err := rt.InstantiateModule(ctx, m.compiled, cfg)
	if err != nil {
		return nil, fmt.Errorf("wasm: instantiating the module: %w", err)
	}
	in := &instance{ctx: ctx, mod: mod, mem: mod.Memory()}
	for i, name := range exportNames {
		in.fns[i] = mod.ExportedFunction(name)
	}
	if err := in.setup(); err != nil {
		_ = mod.Close(ctx)
		return nil, err
	}
	return in, nil
}

func (in *instance) setup() error {
	if err := in.call(fnABIVersion); err != nil {
		return err
	}
	if v := int32(in.stack[0]); v != wantABIVersion {
		return fmt.Errorf("wasm: the module speaks ABI version %d; this host speaks %d", v, wantABIVersion)
	}
	if err := in.call(fnStatus); err != nil {
		return err
	}
	in.statusPtr = uint32(in.stack[0])
	for _, b := range []struct {
		blk  *guestBlock
		size uint32
	}{{&in.send, initialSendBlock}, {&in.recv, receiveBlock}, {&in.out, initialOutputBlock},
		{&in.events, initialEventBlock}, {&in.errText, errorBlock}} {
		if err := in.alloc(b.blk, b.size); err != nil {
			return err
		}
	}
	return nil
}

// close frees the instance. Later calls fail with AlreadyClosed.
func (in *instance) close() {
	if !in.closed {
		in.closed = true
		_ = in.mod.Close(in.ctx)
	}
}

var errInstanceClosed = engine.Errorf(engine.CodeAlreadyClosed, "client is closed")

// call runs export fn with args; the first result is left in stack[0].
func (in *instance) call(fn int, args ...uint64) error {
	if in.closed {
		return errInstanceClosed
	}
	copy(in.stack[:], args)
	if err := in.fns[fn].CallWithStack(in.ctx, in.stack[:]); err != nil {
		return &trapError{export: exportNames[fn], err: err}
	}
	return nil
}

// trapError means the module itself failed (a trap or a fatal Go runtime
// error): the instance is unusable.
type trapError struct {
	export string
	err    error
}

func (e *trapError) Error() string { return fmt.Sprintf("wasm: %s trapped: %v", e.export, e.err) }

// do runs an export that returns a result code and converts a failure.
func (in *instance) do(fn int, args ...uint64) error {
	if err := in.call(fn, args...); err != nil {
		return err
	}
	if code := engine.Code(int32(in.stack[0])); code != engine.CodeOK {
		return in.lastError(code)
	}
	return nil
}

// lastError builds the error of the call that just failed with code.
func (in *instance) lastError(code engine.Code) error {
	saved := in.stack
	defer func() { in.stack = saved }()
	if err := in.call(fnLastError, uint64(in.errText.ptr), uint64(in.errText.cap)); err != nil {
		return err
	}
	n := int32(in.stack[0])
	if n > int32(in.errText.cap) {
		n = int32(in.errText.cap) // a longer text is cut
	}
	var msg string
	if n > 0 {
		b, _ := in.mem.Read(in.errText.ptr, uint32(n))
		msg = string(b)
	}
	return &engine.Error{Code: code, Msg: msg}
}

// readStatus decodes the status block.
func (in *instance) readStatus() status {
	b, ok := in.mem.Read(in.statusPtr, 48)
	if !ok {
		return status{code: engine.CodeUnknownError, deadline: -1}
	}
	le := binary.LittleEndian
	return status{
		code:     engine.Code(int32(le.Uint32(b[0:]))),
		events:   le.Uint32(b[4:]),
		output:   le.Uint32(b[8:]) != 0,
		deadline: int64(le.Uint64(b[16:])),
		result:   [3]uint64{le.Uint64(b[24:]), le.Uint64(b[32:]), le.Uint64(b[40:])},
	}
}

// alloc replaces blk with a new block of at least size bytes.
func (in *instance) alloc(blk *guestBlock, size uint32) error {
	if blk.ptr != 0 {
		if err := in.do(fnFree, uint64(blk.ptr)); err != nil {
			return err
		}
		*blk = guestBlock{}
	}
	if err := in.call(fnAlloc, uint64(size)); err != nil {
		return err
	}
	ptr := uint32(in.stack[0])
	if ptr == 0 {
		return in.lastError(in.readStatus().code)
	}
	*blk = guestBlock{ptr: ptr, cap: size}
	return nil
}

// grow makes blk hold at least need bytes, doubling.
func (in *instance) grow(blk *guestBlock, need uint64) error {
	if need > maxGuestBlock {
		return engine.Errorf(engine.CodeInvalidArgument, "%d bytes exceed the module's largest block of %d bytes", need, maxGuestBlock)
	}
	size := uint64(max(blk.cap, 4096))
	for size < need {
		size *= 2
	}
	return in.alloc(blk, uint32(min(size, maxGuestBlock)))
}

// maxGuestBlock is the module's pp_alloc limit.
const maxGuestBlock = 256 << 20

func nowNs(t time.Time) uint64 { return uint64(t.UnixNano()) }

// write copies b into blk at offset off.
func (in *instance) write(blk guestBlock, off uint32, b []byte) {
	if len(b) > 0 {
		in.mem.Write(blk.ptr+off, b)
	}
}

// str puts s into the send block (growing it) and returns its pointer and
// length as call arguments.
func (in *instance) str(s string) (uint64, uint64, error) {
	if uint64(len(s)) > uint64(in.send.cap) {
		if err := in.grow(&in.send, uint64(len(s))); err != nil {
			return 0, 0, err
		}
	}
	if len(s) > 0 {
		in.mem.WriteString(in.send.ptr, s)
	}
	return uint64(in.send.ptr), uint64(len(s)), nil
}

func (in *instance) clientNew(url string, optsJSON []byte, now time.Time, seed uint64) error {
	total := uint64(len(url)) + uint64(len(optsJSON))
	if total > uint64(in.send.cap) {
		if err := in.grow(&in.send, total); err != nil {
			return err
		}
	}
	in.mem.WriteString(in.send.ptr, url)
	in.write(in.send, uint32(len(url)), optsJSON)
	return in.do(fnClientNew, uint64(in.send.ptr), uint64(len(url)),
		uint64(in.send.ptr)+uint64(len(url)), uint64(len(optsJSON)), nowNs(now), seed)
}

func (in *instance) producerCreate(topic string, optsJSON []byte, now time.Time) (engine.ProducerID, error) {
	total := uint64(len(topic)) + uint64(len(optsJSON))
	if total > uint64(in.send.cap) {
		if err := in.grow(&in.send, total); err != nil {
			return 0, err
		}
	}
	in.mem.WriteString(in.send.ptr, topic)
	in.write(in.send, uint32(len(topic)), optsJSON)
	if err := in.do(fnProducerCreate, uint64(in.send.ptr), uint64(len(topic)),
		uint64(in.send.ptr)+uint64(len(topic)), uint64(len(optsJSON)), nowNs(now)); err != nil {
		return 0, err
	}
	return engine.ProducerID(in.readStatus().result[0]), nil
}

// send hands one message to the engine: pp_send for a bare payload,
// pp_send_msg with encoded metadata otherwise.
func (in *instance) sendMessage(id engine.ProducerID, m *engine.Message, token uint64, now time.Time) error {
	var meta []byte
	if hasMetadata(m) {
		meta = appendMetadata(in.meta[:0], m)
		in.meta = meta
	}
	total := uint64(len(m.Payload)) + uint64(len(meta))
	if total > uint64(in.send.cap) {
		if total > maxGuestBlock {
			return engine.Errorf(engine.CodeMessageTooBig, "message of %d bytes exceeds the module's limit of %d bytes", len(m.Payload), maxGuestBlock)
		}
		if err := in.grow(&in.send, total); err != nil {
			return err
		}
	}
	in.write(in.send, 0, m.Payload)
	if meta == nil {
		return in.do(fnSend, uint64(id), uint64(in.send.ptr), uint64(len(m.Payload)), token, nowNs(now))
	}
	in.write(in.send, uint32(len(m.Payload)), meta)
	return in.do(fnSendMsg, uint64(id), uint64(in.send.ptr), uint64(len(m.Payload)),
		uint64(in.send.ptr)+uint64(len(m.Payload)), uint64(len(meta)), token, nowNs(now))
}

func (in *instance) producerCall(fn int, id engine.ProducerID, now time.Time) error {
	return in.do(fn, uint64(id), nowNs(now))
}

// abortProducer fails the producer's pending messages with cause (an
// *engine.Error keeps its code; nil means the engine's AlreadyClosed).
func (in *instance) abortProducer(id engine.ProducerID, cause *engine.Error, now time.Time) error {
	var code int32
	var p, n uint64
	if cause != nil {
		code = int32(cause.Code)
		var err error
		if p, n, err = in.str(cause.Msg); err != nil {
			return err
		}
	}
	return in.do(fnProducerAbort, uint64(id), uint64(uint32(code)), p, n, nowNs(now))
}

func (in *instance) connOpened(id engine.ConnID, now time.Time) error {
	return in.do(fnConnOpened, uint64(id), nowNs(now))
}

// connEnded reports a failed dial (fnConnFailed) or a closed socket
// (fnConnClosed); a nil cause on close means the peer closed in order.
func (in *instance) connEnded(fn int, id engine.ConnID, cause error, now time.Time) error {
	var p, n uint64
	if cause != nil {
		var err error
		if p, n, err = in.str(cause.Error()); err != nil {
			return err
		}
	}
	return in.do(fn, uint64(id), p, n, nowNs(now))
}

func (in *instance) receive(id engine.ConnID, data []byte, now time.Time) error {
	for len(data) > 0 {
		n := min(len(data), int(in.recv.cap))
		in.write(in.recv, 0, data[:n])
		if err := in.do(fnReceive, uint64(id), uint64(in.recv.ptr), uint64(n), nowNs(now)); err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}

func (in *instance) tick(now time.Time) error { return in.do(fnTick, nowNs(now)) }

// takeOutput appends the next connection's output to dst; ok is false when
// there is none.
func (in *instance) takeOutput(dst []byte) (engine.ConnID, []byte, bool, error) {
	for {
		err := in.do(fnTakeOutput, uint64(in.out.ptr), uint64(in.out.cap))
		st := in.readStatus()
		if engine.CodeOf(err) == engine.CodeBufferTooSmall {
			if err := in.grow(&in.out, st.result[1]); err != nil {
				return 0, dst, false, err
			}
			continue
		}
		if err != nil || st.result[1] == 0 {
			return 0, dst, false, err
		}
		b, _ := in.mem.Read(in.out.ptr, uint32(st.result[1]))
		return engine.ConnID(st.result[0]), append(dst, b...), true, nil
	}
}

// nextEvents decodes waiting events, appending them to dst.
func (in *instance) nextEvents(dst []event) ([]event, error) {
	for {
		err := in.do(fnNextEvents, uint64(in.events.ptr), uint64(in.events.cap))
		st := in.readStatus()
		if engine.CodeOf(err) == engine.CodeBufferTooSmall {
			if err := in.grow(&in.events, st.result[1]); err != nil {
				return dst, err
			}
			continue
		}
		if err != nil {
			return dst, err
		}
		b, _ := in.mem.Read(in.events.ptr, uint32(st.result[1]))
		return decodeEvents(dst, b, int(st.result[0]))
	}
}
