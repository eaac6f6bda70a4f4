// One module instance and typed wrappers for its exports.
//
// How this works: an instance owns a few blocks of guest memory from
// ppw_alloc (for payloads, received bytes, output, events and error text)
// and reuses them; a block grows when a call reports BufferTooSmall or an
// input does not fit. Every call copies its arguments into one reused stack
// (no allocation per call), runs the export, reads the status block (one
// memory read, no call) into st, and turns a non-zero result code into an
// *engine.Error whose message is ppw_last_error's text, so errors read
// exactly as the native producer's. A trap (the module itself failed) comes
// back as a *trapError. The instance is not safe for concurrent use: its
// Engine's caller, the core runtime, serializes calls with its mutex.
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
	"github.com/pulsar-producer/pulsar-producer/wasm/internal/abi"
)

// exportNames lists every export the host uses, in the order of the fn
// indices below.
var exportNames = []string{
	"ppw_abi_version", "ppw_status", "ppw_alloc", "ppw_free", "ppw_last_error",
	"ppw_client_new", "ppw_client_close", "ppw_producer_create", "ppw_send", "ppw_send_msg",
	"ppw_flush", "ppw_producer_close", "ppw_producer_abort", "ppw_conn_opened", "ppw_conn_failed",
	"ppw_conn_closed", "ppw_receive", "ppw_tick", "ppw_deadline", "ppw_take_output", "ppw_next_events",
	"ppw_send_payloads", "ppw_room", "ppw_producer_stats", "ppw_client_stats",
	"ppw_set_credentials", "ppw_answer_challenge", "ppw_partitions",
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
	fnSendPayloads
	fnRoom
	fnProducerStats
	fnClientStats
	fnSetCredentials
	fnAnswerChallenge
	fnPartitions
	numFns
)

// wantABIVersion is the ppw_abi_version this host speaks.
const wantABIVersion = abi.Version

// flagHostChecksums is ppw_client_new's flag: the host fills in SEND
// checksums (ABI.md, "Host checksums").
const flagHostChecksums = 1

// Initial block sizes; each grows on demand.
const (
	initialSendBlock   = 64 << 10
	receiveBlock       = 64 << 10 // one socket read of the core runtime
	initialOutputBlock = 256 << 10
	initialEventBlock  = 256 << 10
	errorBlock         = 4 << 10
)

// maxGuestBlock is the module's ppw_alloc limit.
const maxGuestBlock = 256 << 20

// guestBlock is a block of guest memory from ppw_alloc.
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
	st    status // the status block after the last call

	statusPtr uint32
	send      guestBlock // payload, then metadata
	recv      guestBlock
	out       guestBlock
	events    guestBlock
	errText   guestBlock

	closed bool
}

// status is the decoded status block (ABI.md, "The status block").
type status struct {
	code     engine.Code
	events   uint32
	output   bool
	deadline int64 // Unix ns, or -1
	result   [2]uint64
	room     [2]uint64 // messages and bytes the last send's producer can take; all ones: no limit
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
	in := &instance{ctx: ctx, mod: mod, mem: mod.Memory(), st: status{deadline: -1}}
	for i, name := range exportNames {
		in.fns[i] = mod.ExportedFunction(name)
	}
	if err := in.setup(); err != nil {
		in.close()
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
		in.st = status{deadline: -1}
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

// do runs an export that returns a result code, reads the status block and
// converts a failure.
func (in *instance) do(fn int, args ...uint64) error {
	if err := in.call(fn, args...); err != nil {
		return err
	}
	return in.finish()
}

// finish reads the status block after a call that returns a code (left in
// stack[0]) and converts a failure.
func (in *instance) finish() error {
	in.readStatus()
	if code := engine.Code(int32(in.stack[0])); code != engine.CodeOK {
		return in.lastError(code)
	}
	return nil
}

// lastError builds the error of the call that just failed with code.
func (in *instance) lastError(code engine.Code) error {
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

// readStatus decodes the status block into st.
func (in *instance) readStatus() {
	b, ok := in.mem.Read(in.statusPtr, 64)
	if !ok {
		in.st = status{code: engine.CodeUnknownError, deadline: -1}
		return
	}
	le := binary.LittleEndian
	in.st = status{
		code:     engine.Code(int32(le.Uint32(b[0:]))),
		events:   le.Uint32(b[4:]),
		output:   le.Uint32(b[8:]) != 0,
		deadline: int64(le.Uint64(b[16:])),
		result:   [2]uint64{le.Uint64(b[24:]), le.Uint64(b[32:])},
		room:     [2]uint64{le.Uint64(b[48:]), le.Uint64(b[56:])},
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
	in.readStatus()
	if ptr == 0 {
		return in.lastError(in.st.code)
	}
	*blk = guestBlock{ptr: ptr, cap: size}
	return nil
}

// reserve makes blk hold at least need bytes, doubling.
func (in *instance) reserve(blk *guestBlock, need uint64) error {
	if need <= uint64(blk.cap) {
		return nil
	}
	if need > maxGuestBlock {
		return engine.Errorf(engine.CodeInvalidArgument, "%d bytes exceed the module's largest block of %d bytes", need, maxGuestBlock)
	}
	size := uint64(max(blk.cap, 4096))
	for size < need {
		size *= 2
	}
	return in.alloc(blk, uint32(min(size, maxGuestBlock)))
}

func nowNs(t time.Time) uint64 { return uint64(t.UnixNano()) }

// put copies the strings or byte slices of parts one after another into
// the send block, growing it, and returns each one's (pointer, length) as
// call arguments: args[2i] and args[2i+1].
func (in *instance) put(args []uint64, parts ...[]byte) error {
	var total uint64
	for _, p := range parts {
		total += uint64(len(p))
	}
	if err := in.reserve(&in.send, total); err != nil {
		return err
	}
	at := in.send.ptr
	for i, p := range parts {
		if len(p) > 0 {
			in.mem.Write(at, p)
		}
		args[2*i], args[2*i+1] = uint64(at), uint64(len(p))
		at += uint32(len(p))
	}
	return nil
}

// clientNew creates the instance's client; flags are ppw_client_new's.
func (in *instance) clientNew(url string, optsJSON []byte, now time.Time, seed uint64, flags uint32) error {
	var a [4]uint64
	if err := in.put(a[:], []byte(url), optsJSON); err != nil {
		return err
	}
	return in.do(fnClientNew, a[0], a[1], a[2], a[3], nowNs(now), seed, uint64(flags))
}

func (in *instance) producerCreate(topic string, optsJSON []byte, now time.Time) (engine.ProducerID, error) {
	var a [4]uint64
	if err := in.put(a[:], []byte(topic), optsJSON); err != nil {
		return 0, err
	}
	if err := in.do(fnProducerCreate, a[0], a[1], a[2], a[3], nowNs(now)); err != nil {
		return 0, err
	}
	return engine.ProducerID(in.st.result[0]), nil
}

// sendMsg queues a message with encoded metadata (ppw_send_msg).
func (in *instance) sendMsg(id engine.ProducerID, payload, meta []byte, token uint64, now time.Time) error {
	var a [4]uint64
	if uint64(len(payload))+uint64(len(meta)) > maxGuestBlock {
		return engine.Errorf(engine.CodeMessageTooBig, "message of %d bytes exceeds the module's limit of %d bytes", len(payload), maxGuestBlock)
	}
	if err := in.put(a[:], payload, meta); err != nil {
		return err
	}
	return in.do(fnSendMsg, uint64(id), a[0], a[1], a[2], a[3], token, nowNs(now))
}

// withCause runs an export whose arguments are (handle, cause text, now),
// with code, if not nil, inserted before the text (ppw_producer_abort).
func (in *instance) withCause(fn int, handle uint64, code *int32, cause string, now time.Time) error {
	var a [2]uint64
	if err := in.put(a[:], []byte(cause)); err != nil {
		return err
	}
	if code != nil {
		return in.do(fn, handle, uint64(uint32(*code)), a[0], a[1], nowNs(now))
	}
	return in.do(fn, handle, a[0], a[1], nowNs(now))
}

// credentials runs ppw_set_credentials (conn 0) or ppw_answer_challenge
// (for conn). The credentials are wiped from the send block afterwards, so
// that they do not linger there (later payloads overwrite it only in part);
// the engine in the module keeps its own copy.
func (in *instance) credentials(fn int, conn engine.ConnID, method string, data []byte, now time.Time) error {
	var a [4]uint64
	if err := in.put(a[:], []byte(method), data); err != nil {
		return err
	}
	var err error
	if fn == fnAnswerChallenge {
		err = in.do(fn, uint64(conn), a[0], a[1], a[2], a[3], nowNs(now))
	} else {
		err = in.do(fn, a[0], a[1], a[2], a[3])
	}
	if n := len(method) + len(data); n > 0 && !in.closed {
		in.mem.Write(in.send.ptr, make([]byte, n))
	}
	return err
}

// receive feeds bytes read from a connection, in pieces of the receive
// block's size.
func (in *instance) receive(id engine.ConnID, data []byte, now time.Time) error {
	for len(data) > 0 {
		n := min(len(data), int(in.recv.cap))
		in.mem.Write(in.recv.ptr, data[:n])
		if err := in.do(fnReceive, uint64(id), uint64(in.recv.ptr), uint64(n), nowNs(now)); err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}

// takeOutput appends the next connection's output to dst; ok is false when
// there is none.
func (in *instance) takeOutput(dst []byte) (engine.ConnID, []byte, bool, error) {
	for {
		err := in.do(fnTakeOutput, uint64(in.out.ptr), uint64(in.out.cap))
		if engine.CodeOf(err) == engine.CodeBufferTooSmall {
			if err := in.reserve(&in.out, in.st.result[1]); err != nil {
				return 0, dst, false, err
			}
			continue
		}
		if err != nil || in.st.result[1] == 0 {
			return 0, dst, false, err
		}
		b, _ := in.mem.Read(in.out.ptr, uint32(in.st.result[1]))
		return engine.ConnID(in.st.result[0]), append(dst, b...), true, nil
	}
}

// room runs ppw_room: the producer's room in messages and bytes, -1 for
// no limit.
func (in *instance) room(id engine.ProducerID) (int, int64, error) {
	if err := in.do(fnRoom, uint64(id)); err != nil {
		return 0, 0, err
	}
	return int(int64(in.st.result[0])), int64(in.st.result[1]), nil
}

// partitions runs ppw_partitions: the producer's partition count now.
func (in *instance) partitions(id engine.ProducerID) (int, error) {
	if err := in.do(fnPartitions, uint64(id)); err != nil {
		return 0, err
	}
	return int(in.st.result[0]), nil
}

// stats runs ppw_producer_stats (args: the producer) or ppw_client_stats
// (no args) into the output block, and returns the record: a view of guest
// memory, valid until the next call.
func (in *instance) stats(fn int, size int, args ...uint64) ([]byte, error) {
	if err := in.reserve(&in.out, uint64(size)); err != nil {
		return nil, err
	}
	args = append(args, uint64(in.out.ptr), uint64(in.out.cap))
	if err := in.do(fn, args...); err != nil {
		return nil, err
	}
	b, _ := in.mem.Read(in.out.ptr, uint32(size))
	return b, nil
}

// nextEvents runs ppw_next_events and returns the records it wrote (a view
// of guest memory, valid until the next call) and their count.
func (in *instance) nextEvents() ([]byte, int, error) {
	for {
		err := in.do(fnNextEvents, uint64(in.events.ptr), uint64(in.events.cap))
		if engine.CodeOf(err) == engine.CodeBufferTooSmall {
			if err := in.reserve(&in.events, in.st.result[1]); err != nil {
				return nil, 0, err
			}
			continue
		}
		if err != nil {
			return nil, 0, err
		}
		b, _ := in.mem.Read(in.events.ptr, uint32(in.st.result[1]))
		return b, int(in.st.result[0]), nil
	}
}
