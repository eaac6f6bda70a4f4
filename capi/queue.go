// The client's queue: completions and log records waiting for the
// application, and the file descriptor that says they wait.
//
// Completions of every producer of a client arrive here in order from the
// runtime's deliverer (a sink per producer), and log records from the
// client's slog handler. Threads that want them (pp_poll, pp_drain) wait on
// the arrived channel without holding anything, so pp_client_stop is never
// held up by a waiter: it wakes them and they return AlreadyClosed. One
// thread at a time "serves" (takes completions and runs their callbacks
// with no lock held); the serving flag, not a mutex, keeps other threads
// out, so a callback may call back into the library, and pp_client_stop
// takes over from a server between two callbacks.
//
// The event fd is the read end of a non-blocking pipe, made on first use.
// One byte is written when something arrives and none is pending; taking
// everything reads it back. So the fd is readable exactly while something
// waits, and the library, not the caller, owns both ends.
package main

/*
#include <stdlib.h>
#include "pulsar_producer.h"
*/
import "C"

import (
	"context"
	"log/slog"
	"syscall"
	"time"
	"unsafe"

	"github.com/pulsar-producer/pulsar-producer/core/engine"
)

// completion is one message's outcome, with the caller's callback and data.
type completion struct {
	prod *producer
	cb   uintptr // pp_delivery_cb
	ud   uintptr // user_data
	id   engine.MessageID
	err  error
}

// logEntry is one log record waiting to be taken.
type logEntry struct {
	level  int
	timeMs int64
	msg    string
	topic  string
	prod   string
	broker string
	connID uint64
}

// maxLogs bounds the log records that wait; newer ones are dropped.
const maxLogs = 10000

// push queues the outcomes of one producer's messages. The runtime calls
// it from its deliverer, in order.
func (cl *client) push(p *producer, done []driverCompleted) {
	cl.mu.Lock()
	for _, d := range done {
		cl.queue = append(cl.queue, completion{prod: p, cb: uintptr(d.Tag.A), ud: uintptr(d.Tag.B), id: d.ID, err: d.Err})
	}
	cl.arrivedLocked()
	cl.mu.Unlock()
}

// arrivedLocked wakes waiters and marks the event fd. Called with mu held.
func (cl *client) arrivedLocked() {
	if cl.arrived != nil {
		close(cl.arrived)
		cl.arrived = nil
	}
	if cl.fdW >= 0 && !cl.signaled {
		cl.signaled = true
		_, _ = syscall.Write(cl.fdW, []byte{1})
	}
}

// emptiedLocked clears the event fd once nothing waits. Called with mu
// held.
func (cl *client) emptiedLocked() {
	if !cl.signaled || cl.queued() > 0 || len(cl.logs) > 0 {
		return
	}
	var b [64]byte
	for {
		if n, err := syscall.Read(cl.fdR, b[:]); n <= 0 || err != nil {
			break
		}
	}
	cl.signaled = false
}

// eventFD returns the read end of the event pipe, making it on first use.
func (cl *client) eventFD() (int, error) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.fdR >= 0 {
		return cl.fdR, nil
	}
	var fds [2]int
	if err := syscall.Pipe2(fds[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		return -1, engine.Errorf(engine.CodeUnknownError, "making the event pipe: %v", err)
	}
	cl.fdR, cl.fdW = fds[0], fds[1]
	if cl.queued() > 0 || len(cl.logs) > 0 {
		cl.signaled = false
		cl.arrivedLocked()
	}
	return cl.fdR, nil
}

// closeFDs closes the event pipe. Called with mu held, when the client is
// freed.
func (cl *client) closeFDs() {
	if cl.fdR >= 0 {
		syscall.Close(cl.fdR)
		syscall.Close(cl.fdW)
		cl.fdR, cl.fdW = -1, -1
		cl.signaled = false
	}
}

// queued reports the completions waiting. Called with mu held.
func (cl *client) queued() int { return len(cl.queue) - cl.head }

// pop takes the oldest completion. Called with mu held and queued() > 0.
func (cl *client) pop() completion {
	c := cl.queue[cl.head]
	cl.queue[cl.head] = completion{}
	cl.head++
	if cl.head == len(cl.queue) {
		cl.queue = cl.queue[:0]
		cl.head = 0
	}
	c.prod.taken.Add(1)
	return c
}

// logHandler is the slog handler the client's runtime logs to: records go
// to the queue. The engine already applied the logLevel option.
type logHandler struct {
	cl    *client
	attrs []slog.Attr
}

func (h *logHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *logHandler) Handle(_ context.Context, r slog.Record) error {
	e := logEntry{level: logLevelOf(r.Level), timeMs: r.Time.UnixMilli(), msg: r.Message}
	if r.Time.IsZero() {
		e.timeMs = time.Now().UnixMilli()
	}
	set := func(a slog.Attr) bool {
		switch a.Key {
		case "topic":
			e.topic = a.Value.String()
		case "producer":
			e.prod = a.Value.String()
		case "broker":
			e.broker = a.Value.String()
		case "conn":
			e.connID = a.Value.Uint64()
		}
		return true
	}
	for _, a := range h.attrs {
		set(a)
	}
	r.Attrs(set)
	cl := h.cl
	cl.mu.Lock()
	if len(cl.logs) >= maxLogs {
		cl.logsDropped++
	} else {
		cl.logs = append(cl.logs, e)
		cl.logSeq++
		cl.arrivedLocked()
	}
	cl.mu.Unlock()
	return nil
}

func (h *logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &logHandler{cl: h.cl, attrs: append(append([]slog.Attr(nil), h.attrs...), attrs...)}
}

func (h *logHandler) WithGroup(string) slog.Handler { return h }

// logLevelOf maps slog's levels onto PP_LOG_*.
func logLevelOf(l slog.Level) int {
	switch {
	case l < slog.LevelInfo:
		return 0
	case l < slog.LevelWarn:
		return 1
	case l < slog.LevelError:
		return 2
	}
	return 3
}

//export ppgo_client_logs
func ppgo_client_logs(hid C.pp_client, out *C.pp_log_record, capacity C.size_t, count *C.size_t) (res C.int) {
	defer recoverInto(&res, nil, 0)
	if out == nil && capacity > 0 {
		return fail(invalidArg("out is NULL with a capacity of %d", uint64(capacity)), nil, 0)
	}
	if capacity > maxCount {
		return fail(invalidArg("capacity %d is larger than any array", uint64(capacity)), nil, 0)
	}
	cl, err := lookupClient(uint64(hid), true)
	if err != nil {
		return fail(err, nil, 0)
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	for _, s := range cl.logStrs {
		C.free(unsafe.Pointer(s))
	}
	cl.logStrs = cl.logStrs[:0]
	taken := cl.takeLogs(int(capacity))
	if len(taken) == 0 {
		return 0
	}
	dst := unsafe.Slice(out, len(taken))
	str := func(s string) *C.char {
		p := C.CString(s)
		cl.logStrs = append(cl.logStrs, p)
		return p
	}
	for i := range dst {
		e := &taken[i]
		dst[i] = C.pp_log_record{
			level:         C.int(e.level),
			time_ms:       C.int64_t(e.timeMs),
			message:       str(e.msg),
			topic:         str(e.topic),
			producer_name: str(e.prod),
			broker:        str(e.broker),
			connection:    C.uint64_t(e.connID),
		}
	}
	if count != nil {
		*count = C.size_t(len(taken))
	}
	return 0
}

// takeLogs takes up to n waiting records, oldest first; a record saying
// how many were dropped follows the last of those that fitted. Called with
// mu held.
func (cl *client) takeLogs(n int) []logEntry {
	if cl.logsDropped > 0 && len(cl.logs) < maxLogs {
		cl.logs = append(cl.logs, logEntry{level: 2, timeMs: time.Now().UnixMilli(),
			msg: itoa(cl.logsDropped) + " log records were dropped: more than " + itoa(maxLogs) + " waited to be taken"})
		cl.logsDropped = 0
	}
	n = min(n, len(cl.logs))
	taken := append([]logEntry(nil), cl.logs[:n]...)
	rest := copy(cl.logs, cl.logs[n:])
	clear(cl.logs[rest:])
	cl.logs = cl.logs[:rest]
	cl.emptiedLocked()
	return taken
}
