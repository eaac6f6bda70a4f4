// Serving completions on the caller's thread: pp_poll, pp_drain, pp_stop.
//
// One thread at a time "serves" a handle: it takes completions from the
// queue one by one and, for pp_poll and pp_stop, runs their callbacks with
// no lock held. The serving flag, not a mutex, keeps other threads out, so
// a callback may call back into the library. The C trampoline (pp.c) records
// on a thread-local which handle the thread is serving; pp_stop called from
// inside one of that handle's callbacks serves the rest of the queue itself
// (the outer loop then finds the handle stopped and ends), and pp_poll or
// pp_drain called from inside any callback return at once.
package main

/*
#include <stdlib.h>
#include "pulsar_producer.h"
int ppx_in_callback(void);
pp_producer ppx_serving(void);
#include <stdint.h>
void ppx_call(uintptr_t cb, pp_producer p, pp_result r, const pp_message_id *id, const char *err, uintptr_t ud);
*/
import "C"

import (
	"time"
	"unsafe"

	"github.com/pulsar-producer/pulsar-producer/core/engine"
)

// cstring is a C copy of a Go string, freed by the library.
type cstring = *C.char

// acquire makes the caller the handle's server, waiting until deadline for
// another server to finish. It returns with mu held; ok is false (mu still
// held) if the deadline passed first or the handle stopped.
func (h *handle) acquire(deadline time.Time) bool {
	h.mu.Lock()
	for h.serving {
		if h.stopped {
			return false
		}
		if h.idle == nil {
			h.idle = make(chan struct{})
		}
		idle := h.idle
		h.mu.Unlock()
		if !waitUntil(idle, deadline) {
			h.mu.Lock()
			return false
		}
		h.mu.Lock()
	}
	if h.stopped {
		return false
	}
	h.serving = true
	return true
}

// release ends serving. Called with mu held; returns with it released.
func (h *handle) release() {
	h.serving = false
	if h.idle != nil {
		close(h.idle)
		h.idle = nil
	}
	h.mu.Unlock()
}

// waitFirst waits until a completion is queued, the deadline passes, or the
// handle stops. Called and returns with mu held.
func (h *handle) waitFirst(deadline time.Time) {
	for h.queued() == 0 && !h.stopped && !h.drained {
		if h.arrived == nil {
			h.arrived = make(chan struct{})
		}
		arrived := h.arrived
		h.mu.Unlock()
		ok := waitUntil(arrived, deadline)
		h.mu.Lock()
		if !ok {
			return
		}
	}
}

// waitUntil waits for ch to close; false if deadline passes first.
func waitUntil(ch chan struct{}, deadline time.Time) bool {
	d := time.Until(deadline)
	if d <= 0 {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
		return false
	}
}

// run calls a completion's callback, if it has one, with no lock held.
func (h *handle) run(c completion) {
	if c.cb == 0 {
		return
	}
	// The callback and user data are C pointers carried as integers; pp.c
	// turns them back into pointers.
	cb, ud := C.uintptr_t(c.cb), C.uintptr_t(c.ud)
	if c.err == nil {
		id := toCID(c.id)
		C.ppx_call(cb, C.pp_producer(h.id), C.PP_OK, &id, nil, ud)
		return
	}
	msg := C.CString(errorText(c.err))
	C.ppx_call(cb, C.pp_producer(h.id), C.pp_result(engine.CodeOf(c.err)), nil, msg, ud)
	C.free(unsafe.Pointer(msg))
}

// freeErrs releases the error strings of the last pp_drain. Called with mu
// held.
func (h *handle) freeErrs() {
	for _, s := range h.errs {
		C.free(unsafe.Pointer(s))
	}
	h.errs = h.errs[:0]
}

// beginTaking is where pp_poll and pp_drain start: it checks the
// arguments, makes the caller the handle's server and waits for a first
// completion. It returns the handle with mu held, or nil and the result to
// return (PP_OK with nothing to take: inside a callback, nothing wanted, or
// the wait timed out).
func beginTaking(hid C.pp_producer, timeout C.int, wanted bool) (*handle, C.int) {
	d, err := timeoutArg(timeout)
	if err != nil {
		return nil, fail(err, nil, 0)
	}
	h, err := lookup(uint64(hid))
	if err != nil {
		return nil, fail(err, nil, 0)
	}
	if C.ppx_in_callback() != 0 || !wanted {
		return nil, 0
	}
	deadline := time.Now().Add(d)
	if !h.acquire(deadline) {
		h.mu.Unlock()
		return nil, 0
	}
	h.freeErrs()
	h.waitFirst(deadline)
	if h.drained && h.queued() == 0 {
		h.release()
		return nil, fail(errDrained(h), nil, 0)
	}
	return h, 0
}

//export ppgo_poll
func ppgo_poll(hid C.pp_producer, timeout C.int, served *C.size_t) (res C.int) {
	defer recoverInto(&res, nil, 0)
	if served != nil {
		*served = 0
	}
	h, res := beginTaking(hid, timeout, true)
	if h == nil {
		return res
	}
	n := 0
	// Serve what is queued now, not what keeps arriving, so a busy
	// producer cannot keep the caller here forever.
	for limit := h.queued(); n < limit && !h.stopped; n++ {
		c := h.pop()
		h.taken.Add(1)
		h.mu.Unlock()
		h.run(c)
		h.mu.Lock()
	}
	h.release()
	if served != nil {
		*served = C.size_t(n)
	}
	return 0
}

//export ppgo_drain
func ppgo_drain(hid C.pp_producer, out *C.pp_completion, capacity C.size_t, timeout C.int, count *C.size_t) (res C.int) {
	defer recoverInto(&res, nil, 0)
	if count != nil {
		*count = 0
	}
	if out == nil && capacity > 0 {
		return fail(invalidArg("out is NULL with a capacity of %d", uint64(capacity)), nil, 0)
	}
	h, res := beginTaking(hid, timeout, capacity > 0)
	if h == nil {
		return res
	}
	dst := unsafe.Slice(out, int(capacity))
	n := 0
	for n < len(dst) && h.queued() > 0 {
		c := h.pop()
		row := &dst[n]
		// user_data is a C pointer carried as an integer: store it as one
		// (a call into C per completion would cost more than the rest).
		*(*uintptr)(unsafe.Pointer(&row.user_data)) = c.ud
		if c.err == nil {
			row.result = C.PP_OK
			row.id = toCID(c.id)
			row.error = nil
		} else {
			row.result = C.pp_result(engine.CodeOf(c.err))
			row.id = C.pp_message_id{}
			s := C.CString(errorText(c.err))
			h.errs = append(h.errs, s)
			row.error = s
		}
		n++
	}
	h.taken.Add(int64(n))
	h.release()
	if count != nil {
		*count = C.size_t(n)
	}
	return 0
}

func errDrained(h *handle) error {
	return engine.Errorf(engine.CodeAlreadyClosed, "producer %d is closed and every completion was taken", h.id)
}

// stop closes the producer if it is open, runs every remaining callback on
// this thread and frees the handle.
func (h *handle) stop(d time.Duration) error {
	nested := uint64(C.ppx_serving()) == h.id
	h.mu.Lock()
	if h.stopped {
		h.mu.Unlock()
		return engine.Errorf(engine.CodeInvalidHandle, "handle %d was stopped", h.id)
	}
	already := h.closed
	h.closed = true
	h.mu.Unlock()
	var closeErr error
	if !already {
		closeErr = h.shut(d)
	}
	unregister(h)
	if nested {
		// Inside one of this handle's callbacks: its server is this
		// thread, further up the stack. Serve the rest from here.
		h.mu.Lock()
	} else {
		h.mu.Lock()
		for h.serving {
			if h.idle == nil {
				h.idle = make(chan struct{})
			}
			idle := h.idle
			h.mu.Unlock()
			<-idle
			h.mu.Lock()
		}
		h.serving = true
	}
	h.stopped = true
	for h.queued() > 0 {
		c := h.pop()
		h.taken.Add(1)
		h.mu.Unlock()
		h.run(c)
		h.mu.Lock()
	}
	h.freeErrs()
	h.wakeWaiters()
	if nested {
		h.mu.Unlock()
	} else {
		h.release()
	}
	return closeErr
}
