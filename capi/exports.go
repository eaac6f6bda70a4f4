// Command capi is the C ABI of pulsar-producer, built with -buildmode=c-shared
// (libpulsar_producer.so) or c-archive (libpulsar_producer.a).
//
// How it works: the public pp_* functions live in pp.c, which forwards each
// to a ppgo_* export in Go; keeping them in C keeps the header
// const-correct, gives the callback trampoline a home (a Go file with
// //export may not define C functions), and lets a forked child be refused
// before it enters Go. Each export recovers from panics so that nothing
// unwinds into C, checks every length and count before it takes a lock,
// converts its arguments (copying what it must keep), and drives the
// runtime (internal/driver). Handles are in handles.go, clients and
// producers in client.go, their completion queues in queue.go and serve.go,
// sends here.
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

	"github.com/pulsar-producer/pulsar-producer/core/engine"
	"github.com/pulsar-producer/pulsar-producer/internal/driver"
)

func main() {}

// writeErr writes err's text into the caller's buffer: always
// NUL-terminated, and ending in "..." when it had to be cut.
func writeErr(buf *C.char, size C.size_t, err error) {
	if buf == nil || size == 0 || err == nil || uint64(size) > maxLen {
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

// fail returns err's code and writes its message; nil is PP_OK.
func fail(err error, buf *C.char, size C.size_t) C.int {
	if err == nil {
		return 0
	}
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

// errorText is the message handed over for a failure.
func errorText(err error) string {
	if err == nil {
		return ""
	}
	return fmt.Sprint(err)
}

// Pointers a caller may set to anything (user data, and a payload of
// length 0) cross as integers: a small integer in a Go pointer variable can
// crash the Go runtime when it copies a stack.

// cBytes views n bytes of C memory at p (nil when n is 0). n was checked.
func cBytes(p C.uintptr_t, n C.size_t) []byte {
	if n == 0 {
		return nil
	}
	ptr := uintptr(p)
	return unsafe.Slice(*(**byte)(unsafe.Pointer(&ptr)), int(n))
}

//export ppgo_send
func ppgo_send(hid C.pp_producer, payload C.uintptr_t, n C.size_t, cb, ud C.uintptr_t,
	errbuf *C.char, errsize C.size_t) (res C.int) {
	defer recoverInto(&res, errbuf, errsize)
	if err := checkLen(n, "len"); err != nil {
		return fail(err, errbuf, errsize)
	}
	if payload == 0 && n > 0 {
		return fail(invalidArg("payload is NULL with a length of %d", uint64(n)), errbuf, errsize)
	}
	p, err := lookupProducer(uint64(hid))
	if err != nil {
		return fail(err, errbuf, errsize)
	}
	var msg engine.Message
	if r, parts := p.routeNeeded(); r != nil {
		i, err := p.routePayload(payload, n, r, parts)
		if err != nil {
			return fail(err, errbuf, errsize)
		}
		msg.Routed, msg.Partition = true, i
	}
	msg.Payload = cBytes(payload, n) // borrowed: the engine copies it before Send returns
	// Counted once accepted: a send blocked waiting for room is not
	// pending. (Its completion may be taken a moment before this count
	// moves; pending() never goes below zero meanwhile.)
	if err := p.dp.SendTagged(context.Background(), &msg, driver.Tag{A: uint64(cb), B: uint64(ud)}, p.sink); err != nil {
		return fail(err, errbuf, errsize)
	}
	p.accepted.Add(1)
	return 0
}

//export ppgo_send_batch
func ppgo_send_batch(hid C.pp_producer, data C.uintptr_t, lens *C.size_t, count C.size_t, flags C.int, cb C.uintptr_t,
	uds *C.uintptr_t, accepted *C.size_t, errbuf *C.char, errsize C.size_t) (res C.int) {
	defer recoverInto(&res, errbuf, errsize)
	if count > maxCount {
		return fail(invalidArg("count %d is larger than any array", uint64(count)), errbuf, errsize)
	}
	p, err := lookupProducer(uint64(hid))
	if err != nil || count == 0 {
		return fail(err, errbuf, errsize)
	}
	if lens == nil {
		return fail(invalidArg("lens is NULL with a count of %d", uint64(count)), errbuf, errsize)
	}
	sizes := unsafe.Slice(lens, int(count))
	var total uint64
	for i, n := range sizes {
		if err := checkLen(n, "lens["+itoa(i)+"]"); err != nil {
			return fail(err, errbuf, errsize)
		}
		if total += uint64(n); total > maxLen {
			return fail(invalidArg("lens[0..%d] add up to %d bytes: no buffer has that many", i, total), errbuf, errsize)
		}
		if data == 0 && n > 0 {
			return fail(invalidArg("data is NULL but lens[%d] is %d", i, uint64(n)), errbuf, errsize)
		}
	}
	tag := tagger(cb, uds, count)
	// The router runs first, outside every lock; a bad answer ends the
	// batch before its message.
	off := C.uintptr_t(0)
	routes, n, routeErr := p.routeBatch(int(count), func(i int, r *cRouter, parts int32) (int32, error) {
		part, err := p.routePayload(data+off, sizes[i], r, parts)
		off += C.uintptr_t(sizes[i])
		return part, err
	})
	// Payload i follows payload i-1; fill may be asked for the same i twice.
	at, off := 0, C.uintptr_t(0)
	fill := func(i int, m *engine.Message) (driver.Tag, error) {
		for ; at < i; at++ {
			off += C.uintptr_t(sizes[at])
		}
		m.Payload = cBytes(data+off, sizes[i])
		if routes != nil {
			m.Routed, m.Partition = true, routes[i]
		}
		return tag(i), nil
	}
	return p.sendBatch(n, fill, flags, accepted, routeErr, errbuf, errsize)
}

// minMessageSize is sizeof(pp_message) in the first version of the ABI.
const minMessageSize = C.size_t(unsafe.Sizeof(C.pp_message{}))

// ptrOf turns an address that crossed as an integer back into a pointer.
func ptrOf(u C.uintptr_t) unsafe.Pointer {
	p := uintptr(u)
	return *(*unsafe.Pointer)(unsafe.Pointer(&p))
}

// messageAt returns message i of an array with the given stride.
func messageAt(msgs C.uintptr_t, i int, stride C.size_t) *C.pp_message {
	return (*C.pp_message)(ptrOf(msgs + C.uintptr_t(i)*C.uintptr_t(stride)))
}

//export ppgo_send_messages
func ppgo_send_messages(hid C.pp_producer, msgs C.uintptr_t, count C.size_t, flags C.int, cb C.uintptr_t,
	uds C.uintptr_t, single C.int, accepted *C.size_t, errbuf *C.char, errsize C.size_t) (res C.int) {
	defer recoverInto(&res, errbuf, errsize)
	if count > maxCount {
		return fail(invalidArg("count %d is larger than any array", uint64(count)), errbuf, errsize)
	}
	p, err := lookupProducer(uint64(hid))
	if err != nil || count == 0 {
		return fail(err, errbuf, errsize)
	}
	if msgs == 0 {
		what := "msgs is NULL with a count of " + itoa(int(count))
		if single != 0 {
			what = "message is NULL"
		}
		return fail(invalidArg("%s", what), errbuf, errsize)
	}
	first := messageAt(msgs, 0, 0)
	stride := first.struct_size
	if stride < minMessageSize || stride > 1<<16 {
		return fail(invalidArg("message struct_size is %d, want at least %d: initialize it with pp_message_init()",
			uint64(stride), uint64(minMessageSize)), errbuf, errsize)
	}
	// Check every length and count first, before any lock.
	for i := 0; i < int(count); i++ {
		if err := checkMessage(messageAt(msgs, i, stride), i, single != 0); err != nil {
			return fail(err, errbuf, errsize)
		}
	}
	var tag func(int) driver.Tag
	if single != 0 {
		tag = func(int) driver.Tag { return driver.Tag{A: uint64(cb), B: uint64(uds)} }
	} else {
		tag = tagger(cb, (*C.uintptr_t)(ptrOf(uds)), count)
	}
	routes, n, routeErr := p.routeBatch(int(count), func(i int, r *cRouter, parts int32) (int32, error) {
		return p.routeMessage(messageAt(msgs, i, stride), r, parts)
	})
	fill := func(i int, m *engine.Message) (driver.Tag, error) {
		if err := convertMessage(messageAt(msgs, i, stride), m); err != nil {
			return driver.Tag{}, err
		}
		if routes != nil {
			m.Routed, m.Partition = true, routes[i]
		}
		return tag(i), nil
	}
	return p.sendBatch(n, fill, flags, accepted, routeErr, errbuf, errsize)
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

// sendBatch sends the first n messages; after, the error that stopped the
// batch at n (a router's), if they all went.
func (p *producer) sendBatch(n int, fill func(int, *engine.Message) (driver.Tag, error), flags C.int, accepted *C.size_t, after error, errbuf *C.char, errsize C.size_t) C.int {
	var f driver.SendFlags
	if flags&C.PP_SEND_NONBLOCK != 0 {
		f |= driver.NoBlock
	}
	if flags&C.PP_SEND_FLUSH != 0 {
		f |= driver.FlushAfter
	}
	if flags&^(C.PP_SEND_NONBLOCK|C.PP_SEND_FLUSH) != 0 {
		return fail(invalidArg("flags 0x%x: unknown bits", int(flags)), errbuf, errsize)
	}
	done, err := p.dp.SendTaggedBatch(context.Background(), n, fill, p.sink, f)
	if err == nil {
		err = after
	}
	p.accepted.Add(int64(done))
	if accepted != nil {
		*accepted = C.size_t(done)
	}
	return fail(err, errbuf, errsize) // *accepted says which message it was
}

// checkMessage checks the lengths and counts of message i, so that
// converting it cannot fail on them under the client's lock.
func checkMessage(m *C.pp_message, i int, single bool) error {
	where := ""
	if !single {
		where = "message " + itoa(i) + ": "
	}
	bad := func(format string, args ...any) error { return invalidArg(where+format, args...) }
	switch {
	case m.struct_size < minMessageSize:
		return bad("struct_size is %d, want at least %d: initialize it with pp_message_init()", uint64(m.struct_size), uint64(minMessageSize))
	case uint64(m.payload_len) > maxLen:
		return bad("payload_len is %d: no buffer has that many bytes", uint64(m.payload_len))
	case m.payload == nil && m.payload_len > 0:
		return bad("payload is NULL with a payload_len of %d", uint64(m.payload_len))
	case m.key != nil && uint64(m.key_len) != ntsLen && uint64(m.key_len) > maxLen:
		return bad("key_len is %d: no buffer has that many bytes", uint64(m.key_len))
	case uint64(m.ordering_key_len) > maxLen:
		return bad("ordering_key_len is %d: no buffer has that many bytes", uint64(m.ordering_key_len))
	case m.ordering_key == nil && m.ordering_key_len > 0:
		return bad("ordering_key is NULL with an ordering_key_len of %d", uint64(m.ordering_key_len))
	case uint64(m.property_count) > maxCount:
		return bad("property_count is %d: larger than any array", uint64(m.property_count))
	case m.properties == nil && m.property_count > 0:
		return bad("properties is NULL with a property_count of %d", uint64(m.property_count))
	case uint64(m.replication_cluster_count) > maxCount:
		return bad("replication_cluster_count is %d: larger than any array", uint64(m.replication_cluster_count))
	case m.replication_clusters == nil && m.replication_cluster_count > 0:
		return bad("replication_clusters is NULL with a replication_cluster_count of %d", uint64(m.replication_cluster_count))
	case m.value_json != nil && uint64(m.value_json_len) != ntsLen && uint64(m.value_json_len) > maxLen:
		return bad("value_json_len is %d: no buffer has that many bytes", uint64(m.value_json_len))
	case m.partition < -1:
		return bad("partition must be -1 (routed) or a partition index, got %d", int32(m.partition))
	}
	if m.property_count > 0 {
		for j, pr := range unsafe.Slice(m.properties, int(m.property_count)) {
			switch {
			case pr.key == nil || pr.value == nil:
				return bad("property %d has a NULL key or value", j)
			case uint64(pr.key_len) != ntsLen && uint64(pr.key_len) > maxLen:
				return bad("property %d: key_len is %d: no buffer has that many bytes", j, uint64(pr.key_len))
			case uint64(pr.value_len) != ntsLen && uint64(pr.value_len) > maxLen:
				return bad("property %d: value_len is %d: no buffer has that many bytes", j, uint64(pr.value_len))
			}
		}
	}
	if m.replication_cluster_count > 0 {
		for j, c := range unsafe.Slice(m.replication_clusters, int(m.replication_cluster_count)) {
			if c == nil {
				return bad("replication cluster %d is NULL", j)
			}
		}
	}
	return nil
}

// lenString reads a string of n bytes (or up to its NUL for PP_NTS); the
// lengths were checked.
func lenString(s *C.char, n C.size_t) string {
	if uint64(n) == ntsLen {
		return C.GoString(s)
	}
	if n == 0 {
		return ""
	}
	return C.GoStringN(s, C.int(n))
}

// convertMessage copies a checked pp_message into msg. Invalid values (as
// opposed to lengths) fail with InvalidMessage naming the C field.
func convertMessage(m *C.pp_message, msg *engine.Message) error {
	*msg = engine.Message{NullValue: m.null_value != 0, DisableReplication: m.disable_replication != 0}
	if m.payload_len > 0 {
		msg.Payload = unsafe.Slice((*byte)(m.payload), int(m.payload_len))
	}
	if m.key != nil {
		msg.Key = lenString(m.key, m.key_len)
		msg.HasKey = true
	}
	if m.ordering_key_len > 0 {
		msg.OrderingKey = C.GoBytes(m.ordering_key, C.int(m.ordering_key_len))
	}
	if m.property_count > 0 {
		props := unsafe.Slice(m.properties, int(m.property_count))
		msg.Properties = make(map[string]string, len(props))
		for j, p := range props {
			k := lenString(p.key, p.key_len)
			if _, dup := msg.Properties[k]; dup {
				return engine.Errorf(engine.CodeInvalidMessage, "property %d: key %q is given twice", j, k)
			}
			msg.Properties[k] = lenString(p.value, p.value_len)
		}
	}
	if m.replication_cluster_count > 0 {
		for _, c := range unsafe.Slice(m.replication_clusters, int(m.replication_cluster_count)) {
			msg.ReplicationClusters = append(msg.ReplicationClusters, C.GoString(c))
		}
	}
	switch {
	case m.event_time_ms < 0:
		return engine.Errorf(engine.CodeInvalidMessage, "event_time_ms must not be negative, got %d", int64(m.event_time_ms))
	case m.deliver_at_ms < 0:
		return engine.Errorf(engine.CodeInvalidMessage, "deliver_at_ms must not be negative, got %d", int64(m.deliver_at_ms))
	case m.deliver_after_ms < 0:
		return engine.Errorf(engine.CodeInvalidMessage, "deliver_after_ms must not be negative, got %d", int64(m.deliver_after_ms))
	case m.deliver_after_ms > 0 && m.deliver_at_ms > 0:
		return engine.Errorf(engine.CodeInvalidMessage, "set deliver_at_ms or deliver_after_ms, not both")
	case m.deliver_after_ms > C.int64_t(maxMillis):
		return engine.Errorf(engine.CodeInvalidMessage, "deliver_after_ms %d is out of range", int64(m.deliver_after_ms))
	case m.sequence_id < -1:
		return engine.Errorf(engine.CodeInvalidMessage, "sequence_id must be -1 (automatic) or at least 0, got %d", int64(m.sequence_id))
	}
	if m.value_json != nil {
		if m.payload_len > 0 || m.null_value != 0 {
			return engine.Errorf(engine.CodeInvalidMessage, "set value_json or payload (or null_value), not both")
		}
		msg.Value = engine.ValueJSON(lenString(m.value_json, m.value_json_len))
	}
	if m.partition >= 0 {
		msg.Routed, msg.Partition = true, int32(m.partition)
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
	}
	return nil
}

const maxMillis = int64(^uint64(0)>>1) / int64(time.Millisecond)

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

func toCID(id engine.MessageID) C.pp_message_id {
	cid := C.pp_message_id{
		ledger_id:             C.int64_t(id.LedgerID),
		entry_id:              C.int64_t(id.EntryID),
		partition:             C.int32_t(id.Partition),
		batch_index:           C.int32_t(id.BatchIndex),
		batch_size:            C.int32_t(id.BatchSize),
		first_chunk_ledger_id: -1,
		first_chunk_entry_id:  -1,
	}
	if id.IsDuplicate() {
		cid.flags |= C.PP_ID_DUPLICATE
	}
	if id.Chunked {
		cid.flags |= C.PP_ID_CHUNKED
		cid.first_chunk_ledger_id = C.int64_t(id.FirstChunkLedgerID)
		cid.first_chunk_entry_id = C.int64_t(id.FirstChunkEntryID)
	}
	return cid
}

func fromCID(id *C.pp_message_id) engine.MessageID {
	mid := engine.MessageID{
		LedgerID:   int64(id.ledger_id),
		EntryID:    int64(id.entry_id),
		Partition:  int32(id.partition),
		BatchIndex: int32(id.batch_index),
		BatchSize:  int32(id.batch_size),
	}
	if id.flags&C.PP_ID_CHUNKED != 0 {
		mid.Chunked, mid.FirstChunkLedgerID, mid.FirstChunkEntryID = true, int64(id.first_chunk_ledger_id), int64(id.first_chunk_entry_id)
	}
	return mid
}

//export ppgo_message_id_serialize
func ppgo_message_id_serialize(id *C.pp_message_id, buf unsafe.Pointer, size C.size_t, needed *C.size_t) (res C.int) {
	defer recoverInto(&res, nil, 0)
	if id == nil {
		return fail(invalidArg("message ID is NULL"), nil, 0)
	}
	if err := checkLen(size, "size"); err != nil {
		return fail(err, nil, 0)
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
	if err := checkLen(n, "len"); err != nil {
		return fail(err, nil, 0)
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

//export ppgo_stats
func ppgo_stats(hid C.uint64_t, out *C.pp_stats, ofClient C.int) (res C.int) {
	defer recoverInto(&res, nil, 0)
	if out == nil {
		return fail(invalidArg("out is NULL"), nil, 0)
	}
	if out.struct_size < C.size_t(unsafe.Offsetof(out.msgs_sent)) {
		return fail(invalidArg("struct_size is %d: set it to sizeof(pp_stats)", uint64(out.struct_size)), nil, 0)
	}
	var s engine.ClientStats
	if ofClient != 0 {
		cl, err := lookupClient(uint64(hid), false)
		if err != nil {
			return fail(err, nil, 0)
		}
		s = cl.dc.Stats()
	} else {
		p, err := lookupProducer(uint64(hid))
		if err != nil {
			return fail(err, nil, 0)
		}
		s.ProducerStats = p.dp.Stats()
	}
	us := func(d time.Duration) C.int64_t { return C.int64_t(d.Microseconds()) }
	l := &s.Latency
	full := C.pp_stats{
		struct_size:     C.size_t(unsafe.Sizeof(C.pp_stats{})),
		msgs_sent:       C.int64_t(s.MsgsSent),
		bytes_sent:      C.int64_t(s.BytesSent),
		msgs_acked:      C.int64_t(s.MsgsAcked),
		bytes_acked:     C.int64_t(s.BytesAcked),
		msgs_failed:     C.int64_t(s.MsgsFailed),
		bytes_failed:    C.int64_t(s.BytesFailed),
		pending_msgs:    C.int64_t(s.PendingMsgs),
		pending_bytes:   C.int64_t(s.PendingBytes),
		reconnects:      C.int64_t(s.Reconnects),
		latency_count:   C.int64_t(l.Count()),
		latency_p50_us:  us(l.Percentile(0.5)),
		latency_p95_us:  us(l.Percentile(0.95)),
		latency_p99_us:  us(l.Percentile(0.99)),
		latency_p999_us: us(l.Percentile(0.999)),
		latency_max_us:  us(l.Max),
		producers:       C.int32_t(s.Producers),
		connections:     C.int32_t(s.Connections),
		connects:        C.int64_t(s.Connects),
	}
	// Write only the fields the caller's struct has.
	n := min(uint64(out.struct_size), uint64(unsafe.Sizeof(full)))
	keep := out.struct_size
	C.memcpy(unsafe.Pointer(out), unsafe.Pointer(&full), C.size_t(n))
	out.struct_size = keep
	return 0
}
