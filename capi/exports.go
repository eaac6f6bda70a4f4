// Command capi is the C ABI of pulsar-producer, built with -buildmode=c-shared
// (libpulsar_producer.so) or c-archive (libpulsar_producer.a).
//
// How it works: the public pp_* functions live in pp.c, which forwards each
// to a ppgo_* export here; keeping them in C keeps the header const-correct
// and gives the callback trampoline a home (a Go file with //export may not
// define C functions). Each export recovers from panics so that nothing
// unwinds into C, converts its arguments (copying what it must keep), and
// drives a driver.Producer. Completions arrive from the core runtime in order
// and wait in the handle's queue (handles.go) until pp_poll, pp_drain or
// pp_stop takes them on the caller's thread (serve.go).
package main

/*
#cgo CFLAGS: -I${SRCDIR}/../include -Wall -Wextra -Werror
#include <stdlib.h>
#include <string.h>
#include "pulsar_producer.h"
*/
import "C"

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
	"unsafe"

	"github.com/pulsar-producer/pulsar-producer/internal/driver"
	"github.com/pulsar-producer/pulsar-producer/core/engine"
)

func main() {}

// writeErr writes err's text into the caller's buffer: always
// NUL-terminated, and ending in "..." when it had to be cut.
func writeErr(buf *C.char, size C.size_t, err error) {
	if buf == nil || size == 0 || err == nil {
		return
	}
	writeText(buf, int(size), err.Error())
}

func writeText(buf *C.char, size int, msg string) {
	dst := unsafe.Slice((*byte)(unsafe.Pointer(buf)), size)
	if len(msg) < size {
		copy(dst, msg)
		dst[len(msg)] = 0
		return
	}
	n := copy(dst[:size-1], msg)
	for i := max(0, n-3); i < n; i++ {
		dst[i] = '.'
	}
	dst[n] = 0
}

// fail returns err's code and writes its message.
func fail(err error, buf *C.char, size C.size_t) C.int {
	writeErr(buf, size, err)
	return C.int(engine.CodeOf(err))
}

// recoverInto turns a panic into PP_ERR_UNKNOWN, so that nothing unwinds
// into C. Use as: defer recoverInto(&res, errbuf, errsize).
func recoverInto(res *C.int, buf *C.char, size C.size_t) {
	if r := recover(); r != nil {
		*res = fail(engine.Errorf(engine.CodeUnknownError, "internal error: %v", r), buf, size)
	}
}

func invalidArg(format string, args ...any) error {
	return engine.Errorf(engine.CodeInvalidArgument, format, args...)
}

// timeoutArg validates a timeout in milliseconds.
func timeoutArg(ms C.int) (time.Duration, error) {
	if ms < 0 {
		return 0, invalidArg("timeout must not be negative, got %d ms", int(ms))
	}
	return time.Duration(ms) * time.Millisecond, nil
}

//export ppgo_start
func ppgo_start(url, topic, opts *C.char, keys, values **C.char, count C.size_t, kv C.int,
	out *C.pp_producer, errbuf *C.char, errsize C.size_t) (res C.int) {
	defer recoverInto(&res, errbuf, errsize)
	if out != nil {
		*out = 0
	}
	switch {
	case out == nil:
		return fail(invalidArg("out (where the handle goes) is NULL"), errbuf, errsize)
	case url == nil:
		return fail(engine.Errorf(engine.CodeInvalidURL, "service URL is NULL"), errbuf, errsize)
	case topic == nil:
		return fail(engine.Errorf(engine.CodeInvalidTopicName, "topic is NULL"), errbuf, errsize)
	}
	var co engine.ClientOptions
	var po engine.ProducerOptions
	if kv != 0 {
		if count > 0 && (keys == nil || values == nil) {
			return fail(invalidArg("keys or values is NULL with count %d", int(count)), errbuf, errsize)
		}
		ks := unsafe.Slice(keys, int(count))
		vs := unsafe.Slice(values, int(count))
		for i := range ks {
			if ks[i] == nil || vs[i] == nil {
				return fail(invalidArg("option key or value %d is NULL", i), errbuf, errsize)
			}
			if err := engine.SetOption(C.GoString(ks[i]), C.GoString(vs[i]), &co, &po); err != nil {
				return fail(err, errbuf, errsize)
			}
		}
	} else if opts != nil {
		if err := engine.ParseOptionsJSON([]byte(C.GoString(opts)), &co, &po); err != nil {
			return fail(err, errbuf, errsize)
		}
	}
	co.ServiceURL = C.GoString(url)
	po.Topic = C.GoString(topic)
	client, err := driver.NewClient(co)
	if err != nil {
		return fail(err, errbuf, errsize)
	}
	producer, err := client.CreateProducer(context.Background(), po)
	if err != nil {
		client.Close()
		return fail(err, errbuf, errsize)
	}
	h := &handle{client: client, producer: producer}
	h.sink = driver.NewSink(h.complete)
	*out = C.pp_producer(register(h))
	return 0
}

// Pointers a caller may set to anything (user data, and a payload of
// length 0) cross as integers: a small integer in a Go pointer variable can
// crash the Go runtime when it copies a stack.

//export ppgo_send
func ppgo_send(hid C.pp_producer, payload C.uintptr_t, n C.size_t, cb, ud C.uintptr_t,
	errbuf *C.char, errsize C.size_t) (res C.int) {
	defer recoverInto(&res, errbuf, errsize)
	h, err := lookup(uint64(hid))
	if err != nil {
		return fail(err, errbuf, errsize)
	}
	if payload == 0 && n > 0 {
		return fail(invalidArg("payload is NULL with a length of %d", uint64(n)), errbuf, errsize)
	}
	var msg engine.Message
	// Borrowed: the engine copies the payload before Send returns.
	msg.Payload = cBytes(payload, n)
	return h.send(&msg, cb, ud, errbuf, errsize)
}

// cBytes views n bytes of C memory at p (nil when n is 0).
func cBytes(p C.uintptr_t, n C.size_t) []byte {
	if n == 0 {
		return nil
	}
	ptr := uintptr(p)
	return unsafe.Slice(*(**byte)(unsafe.Pointer(&ptr)), int(n))
}

func (h *handle) send(msg *engine.Message, cb, ud C.uintptr_t, errbuf *C.char, errsize C.size_t) C.int {
	h.accepted.Add(1)
	if err := h.producer.SendTagged(context.Background(), msg, driver.Tag{A: uint64(cb), B: uint64(ud)}, h.sink); err != nil {
		h.accepted.Add(-1)
		return fail(err, errbuf, errsize)
	}
	return 0
}

// minMessageSize is sizeof(pp_message) in the first version of the header.
const minMessageSize = C.size_t(unsafe.Sizeof(C.pp_message{}))

//export ppgo_send_message
func ppgo_send_message(hid C.pp_producer, m *C.pp_message, cb, ud C.uintptr_t,
	errbuf *C.char, errsize C.size_t) (res C.int) {
	defer recoverInto(&res, errbuf, errsize)
	h, err := lookup(uint64(hid))
	if err != nil {
		return fail(err, errbuf, errsize)
	}
	var msg engine.Message
	if err := convertMessage(m, &msg); err != nil {
		return fail(err, errbuf, errsize)
	}
	return h.send(&msg, cb, ud, errbuf, errsize)
}

//export ppgo_send_batch
func ppgo_send_batch(hid C.pp_producer, data C.uintptr_t, lens *C.size_t, count C.size_t, cb C.uintptr_t,
	uds *C.uintptr_t, accepted *C.size_t, errbuf *C.char, errsize C.size_t) (res C.int) {
	defer recoverInto(&res, errbuf, errsize)
	h, err := beginBatch(hid, accepted)
	if err != nil || count == 0 {
		return fail(err, errbuf, errsize)
	}
	if lens == nil {
		return fail(invalidArg("lens is NULL with a count of %d", uint64(count)), errbuf, errsize)
	}
	sizes := unsafe.Slice(lens, int(count))
	if data == 0 {
		for i, n := range sizes {
			if n > 0 {
				return fail(invalidArg("data is NULL but message %d has %d bytes", i, uint64(n)), errbuf, errsize)
			}
		}
	}
	tag := tagger(cb, uds, count)
	// Payload i follows payload i-1; fill may be asked for the same i twice.
	at, off := 0, C.uintptr_t(0)
	fill := func(i int, m *engine.Message) (driver.Tag, error) {
		for ; at < i; at++ {
			off += C.uintptr_t(sizes[at])
		}
		m.Payload = cBytes(data+off, sizes[i])
		return tag(i), nil
	}
	return h.sendBatch(int(count), fill, accepted, errbuf, errsize)
}

//export ppgo_send_messages
func ppgo_send_messages(hid C.pp_producer, msgs C.uintptr_t, count C.size_t, cb C.uintptr_t,
	uds *C.uintptr_t, accepted *C.size_t, errbuf *C.char, errsize C.size_t) (res C.int) {
	defer recoverInto(&res, errbuf, errsize)
	h, err := beginBatch(hid, accepted)
	if err != nil || count == 0 {
		return fail(err, errbuf, errsize)
	}
	if msgs == 0 {
		return fail(invalidArg("msgs is NULL with a count of %d", uint64(count)), errbuf, errsize)
	}
	first := (*C.pp_message)(*(*unsafe.Pointer)(unsafe.Pointer(&msgs)))
	stride := C.uintptr_t(first.struct_size)
	if first.struct_size < minMessageSize {
		return fail(invalidArg("message struct_size is %d, want %d: initialize it with pp_message_init()",
			uint64(first.struct_size), uint64(minMessageSize)), errbuf, errsize)
	}
	tag := tagger(cb, uds, count)
	fill := func(i int, m *engine.Message) (driver.Tag, error) {
		addr := msgs + C.uintptr_t(i)*stride
		if err := convertMessage((*C.pp_message)(*(*unsafe.Pointer)(unsafe.Pointer(&addr))), m); err != nil {
			return driver.Tag{}, err
		}
		return tag(i), nil
	}
	return h.sendBatch(int(count), fill, accepted, errbuf, errsize)
}

// beginBatch starts a batch send: it clears *accepted and finds the handle.
func beginBatch(hid C.pp_producer, accepted *C.size_t) (*handle, error) {
	if accepted != nil {
		*accepted = 0
	}
	return lookup(uint64(hid))
}

// tagger returns the tag of message i of a batch: the callback, and
// user_data[i] when the caller gave user data.
func tagger(cb C.uintptr_t, uds *C.uintptr_t, count C.size_t) func(int) driver.Tag {
	var data []C.uintptr_t
	if uds != nil {
		data = unsafe.Slice(uds, int(count))
	}
	return func(i int) driver.Tag {
		if data == nil {
			return driver.Tag{A: uint64(cb)}
		}
		return driver.Tag{A: uint64(cb), B: uint64(data[i])}
	}
}

func (h *handle) sendBatch(n int, fill func(int, *engine.Message) (driver.Tag, error), accepted *C.size_t, errbuf *C.char, errsize C.size_t) C.int {
	h.accepted.Add(int64(n))
	done, err := h.producer.SendTaggedBatch(context.Background(), n, fill, h.sink)
	h.accepted.Add(int64(done - n))
	if accepted != nil {
		*accepted = C.size_t(done)
	}
	if err != nil {
		return fail(err, errbuf, errsize) // *accepted says which message it was
	}
	return 0
}

// convertMessage copies a pp_message into msg, checking every pointer
// against its count.
func convertMessage(m *C.pp_message, msg *engine.Message) error {
	if m == nil {
		return invalidArg("message is NULL")
	}
	if m.struct_size < minMessageSize {
		return invalidArg("message struct_size is %d, want %d: initialize it with pp_message_init()", uint64(m.struct_size), uint64(minMessageSize))
	}
	*msg = engine.Message{NullValue: m.null_value != 0, DisableReplication: m.disable_replication != 0}
	if m.payload == nil && m.payload_len > 0 {
		return invalidArg("payload is NULL with a length of %d", uint64(m.payload_len))
	}
	if m.payload_len > 0 {
		msg.Payload = unsafe.Slice((*byte)(m.payload), int(m.payload_len))
	}
	if m.key != nil {
		msg.Key = C.GoString(m.key)
	}
	if m.ordering_key == nil && m.ordering_key_len > 0 {
		return invalidArg("ordering_key is NULL with a length of %d", uint64(m.ordering_key_len))
	}
	if m.ordering_key_len > 0 {
		msg.OrderingKey = C.GoBytes(m.ordering_key, C.int(m.ordering_key_len))
	}
	if m.property_count > 0 {
		if m.properties == nil {
			return invalidArg("properties is NULL with a count of %d", uint64(m.property_count))
		}
		props := unsafe.Slice(m.properties, int(m.property_count))
		msg.Properties = make(map[string]string, len(props))
		for i, p := range props {
			if p.key == nil || p.value == nil {
				return invalidArg("property %d has a NULL key or value", i)
			}
			msg.Properties[C.GoString(p.key)] = C.GoString(p.value)
		}
	}
	if m.replication_cluster_count > 0 {
		if m.replication_clusters == nil {
			return invalidArg("replication_clusters is NULL with a count of %d", uint64(m.replication_cluster_count))
		}
		for i, c := range unsafe.Slice(m.replication_clusters, int(m.replication_cluster_count)) {
			if c == nil {
				return invalidArg("replication cluster %d is NULL", i)
			}
			msg.ReplicationClusters = append(msg.ReplicationClusters, C.GoString(c))
		}
	}
	if m.event_time_ms < 0 || m.deliver_at_ms < 0 {
		return engine.Errorf(engine.CodeInvalidMessage, "event_time_ms and deliver_at_ms must not be negative")
	}
	if m.event_time_ms > 0 {
		msg.EventTime = time.UnixMilli(int64(m.event_time_ms))
	}
	if m.deliver_at_ms > 0 {
		msg.DeliverAt = time.UnixMilli(int64(m.deliver_at_ms))
	}
	msg.DeliverAfter = time.Duration(m.deliver_after_ms) * time.Millisecond
	if m.sequence_id >= 0 {
		seq := int64(m.sequence_id)
		msg.SequenceID = &seq
	} else if m.sequence_id != -1 {
		return engine.Errorf(engine.CodeInvalidMessage, "sequence_id must be -1 (automatic) or at least 0, got %d", int64(m.sequence_id))
	}
	return nil
}

// handleWithTimeout checks the arguments pp_flush, pp_close and pp_stop
// share.
func handleWithTimeout(hid C.pp_producer, timeout C.int) (*handle, time.Duration, error) {
	d, err := timeoutArg(timeout)
	if err != nil {
		return nil, 0, err
	}
	h, err := lookup(uint64(hid))
	return h, d, err
}

//export ppgo_flush
func ppgo_flush(hid C.pp_producer, timeout C.int, errbuf *C.char, errsize C.size_t) (res C.int) {
	defer recoverInto(&res, errbuf, errsize)
	h, d, err := handleWithTimeout(hid, timeout)
	if err != nil {
		return fail(err, errbuf, errsize)
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := h.producer.Flush(ctx); err != nil {
		return fail(err, errbuf, errsize)
	}
	return 0
}

//export ppgo_close
func ppgo_close(hid C.pp_producer, timeout C.int, errbuf *C.char, errsize C.size_t) (res C.int) {
	defer recoverInto(&res, errbuf, errsize)
	h, d, err := handleWithTimeout(hid, timeout)
	if err != nil {
		return fail(err, errbuf, errsize)
	}
	h.mu.Lock()
	already := h.closed
	h.closed = true
	h.mu.Unlock()
	if already {
		return fail(engine.Errorf(engine.CodeAlreadyClosed, "producer %d is already closed", uint64(hid)), errbuf, errsize)
	}
	err = h.shut(d)
	h.mu.Lock()
	h.drained = true
	h.wakeWaiters()
	h.mu.Unlock()
	if err != nil {
		return fail(err, errbuf, errsize)
	}
	return 0
}

// shut closes the producer (waiting up to d for pending messages) and its
// client.
func (h *handle) shut(d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	err := h.producer.Close(ctx)
	h.client.Close()
	return err
}

//export ppgo_stop
func ppgo_stop(hid C.pp_producer, timeout C.int, errbuf *C.char, errsize C.size_t) (res C.int) {
	defer recoverInto(&res, errbuf, errsize)
	h, d, err := handleWithTimeout(hid, timeout)
	if err != nil {
		return fail(err, errbuf, errsize)
	}
	if err := h.stop(d); err != nil {
		return fail(err, errbuf, errsize)
	}
	return 0
}

//export ppgo_producer_name
func ppgo_producer_name(hid C.pp_producer, buf *C.char, size C.size_t, needed *C.size_t) (res C.int) {
	defer recoverInto(&res, nil, 0)
	h, err := lookup(uint64(hid))
	if err != nil {
		return fail(err, nil, 0)
	}
	name := h.producer.Name()
	if needed != nil {
		*needed = C.size_t(len(name) + 1)
	}
	if buf == nil || int(size) < len(name)+1 {
		return fail(engine.Errorf(engine.CodeBufferTooSmall, "the name needs %d bytes", len(name)+1), nil, 0)
	}
	dst := unsafe.Slice((*byte)(unsafe.Pointer(buf)), int(size))
	dst[copy(dst, name)] = 0
	return 0
}

//export ppgo_producer_partitions
func ppgo_producer_partitions(hid C.pp_producer, out *C.int32_t) (res C.int) {
	defer recoverInto(&res, nil, 0)
	h, err := lookup(uint64(hid))
	if err != nil {
		return fail(err, nil, 0)
	}
	if out == nil {
		return fail(invalidArg("partitions is NULL"), nil, 0)
	}
	*out = C.int32_t(h.producer.NumPartitions())
	return 0
}

// optionsJSON is the option table for bindings, built once.
var optionsJSON = func() *C.char {
	type row struct {
		Name      string   `json:"name"`
		SnakeName string   `json:"snakeName"`
		GoName    string   `json:"goName"`
		Scope     string   `json:"scope"`
		Type      string   `json:"type"`
		Values    []string `json:"values,omitempty"`
		Min       *int64   `json:"min,omitempty"`
		Max       *int64   `json:"max,omitempty"`
		Negative  string   `json:"negative,omitempty"`
		Default   string   `json:"default"`
		Doc       string   `json:"doc"`
	}
	rows := make([]row, 0, len(engine.OptionTable))
	for _, o := range engine.OptionTable {
		r := row{o.Name, o.SnakeName(), o.GoName, string(o.Scope), string(o.Type), o.Values, nil, nil, o.Negative, o.DefaultText(), o.Doc}
		if o.Type == engine.OptInteger || o.Type == engine.OptMilliseconds {
			r.Min, r.Max = &o.Min, &o.Max
		}
		rows = append(rows, r)
	}
	b, err := json.Marshal(rows)
	if err != nil {
		panic(err)
	}
	return C.CString(string(b))
}()

//export ppgo_options_json
func ppgo_options_json() *C.char { return optionsJSON }

//export ppgo_pending
func ppgo_pending(hid C.pp_producer, out *C.size_t) (res C.int) {
	defer recoverInto(&res, nil, 0)
	h, err := lookup(uint64(hid))
	if err != nil {
		return fail(err, nil, 0)
	}
	if out == nil {
		return fail(invalidArg("pending is NULL"), nil, 0)
	}
	*out = C.size_t(max(0, h.pending()))
	return 0
}

func toCID(id engine.MessageID) C.pp_message_id {
	return C.pp_message_id{
		ledger_id:   C.int64_t(id.LedgerID),
		entry_id:    C.int64_t(id.EntryID),
		partition:   C.int32_t(id.Partition),
		batch_index: C.int32_t(id.BatchIndex),
		batch_size:  C.int32_t(id.BatchSize),
	}
}

func fromCID(id *C.pp_message_id) engine.MessageID {
	return engine.MessageID{
		LedgerID:   int64(id.ledger_id),
		EntryID:    int64(id.entry_id),
		Partition:  int32(id.partition),
		BatchIndex: int32(id.batch_index),
		BatchSize:  int32(id.batch_size),
	}
}

//export ppgo_message_id_str
func ppgo_message_id_str(id *C.pp_message_id, buf *C.char, size C.size_t) (n C.size_t) {
	defer func() { _ = recover() }()
	if id == nil {
		return 0
	}
	s := fromCID(id).String()
	if buf != nil && size > 0 {
		dst := unsafe.Slice((*byte)(unsafe.Pointer(buf)), int(size))
		k := copy(dst[:size-1], s)
		dst[k] = 0
	}
	return C.size_t(len(s))
}

//export ppgo_message_id_serialize
func ppgo_message_id_serialize(id *C.pp_message_id, buf unsafe.Pointer, size C.size_t, needed *C.size_t) (res C.int) {
	defer recoverInto(&res, nil, 0)
	if id == nil {
		return fail(invalidArg("message ID is NULL"), nil, 0)
	}
	b := fromCID(id).Serialize()
	if needed != nil {
		*needed = C.size_t(len(b))
	}
	if int(size) < len(b) {
		return fail(engine.Errorf(engine.CodeBufferTooSmall, "serialized ID needs %d bytes, buffer has %d", len(b), uint64(size)), nil, 0)
	}
	if buf == nil {
		return fail(invalidArg("buffer is NULL"), nil, 0)
	}
	copy(unsafe.Slice((*byte)(buf), int(size)), b)
	return 0
}

//export ppgo_message_id_deserialize
func ppgo_message_id_deserialize(buf unsafe.Pointer, n C.size_t, out *C.pp_message_id) (res C.int) {
	defer recoverInto(&res, nil, 0)
	if out == nil || (buf == nil && n > 0) {
		return fail(invalidArg("buffer or out is NULL"), nil, 0)
	}
	var b []byte
	if n > 0 {
		b = unsafe.Slice((*byte)(buf), int(n))
	}
	id, err := engine.DeserializeMessageID(b)
	if err != nil {
		return fail(err, nil, 0)
	}
	*out = toCID(id)
	return 0
}

// The result table, built once in C memory: the strings live as long as
// the library.
var (
	resultTable *C.pp_result_info
	resultCount C.size_t
)

func init() {
	n := len(engine.Codes)
	resultTable = (*C.pp_result_info)(C.calloc(C.size_t(n), C.size_t(unsafe.Sizeof(C.pp_result_info{}))))
	rows := unsafe.Slice(resultTable, n)
	for i, c := range engine.Codes {
		rows[i] = C.pp_result_info{
			result:      C.pp_result(c.Code),
			name:        C.CString(c.Name),
			kind:        C.CString(c.Kind.String()),
			retriable:   boolInt(c.Retriable),
			description: C.CString(c.Description),
		}
	}
	resultCount = C.size_t(n)
}

func boolInt(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

//export ppgo_result_table
func ppgo_result_table(count *C.size_t) *C.pp_result_info {
	if count != nil {
		*count = resultCount
	}
	return resultTable
}

// errorText is the message handed to callbacks for a failure.
func errorText(err error) string {
	if err == nil {
		return ""
	}
	return fmt.Sprint(err)
}
