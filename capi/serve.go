// Serving completions on the caller's thread: pp_poll, pp_drain, and the
// end of a client (pp_client_stop).
//
// A thread that wants completions first waits, holding nothing, until one
// arrives, a log record arrives, its timeout passes, or the client stops.
// Then it becomes the client's server (the serving flag) and takes what is
// queued: pp_drain copies it out under the client's lock; pp_poll runs each
// callback with no lock held, re-checking between callbacks whether
// pp_client_stop has begun, in which case it hands over at once. The C
// trampoline (pp.c) records on a thread-local which client the thread is
// serving: pp_client_stop called from inside one of that client's
// callbacks serves the rest of the queue itself (the outer loop then sees
// the client stopped and ends), and pp_poll or pp_drain called from inside
// any callback return at once.
package main

/*
#include <stdlib.h>
#include <stdint.h>
#include "pulsar_producer.h"
int ppx_in_callback(void);
pp_client ppx_serving(void);
void ppx_call(uintptr_t cb, pp_client client, pp_producer p, pp_result r, const pp_message_id *id, const char *err, uintptr_t ud);
*/
import "C"

import (
	"time"
	"unsafe"

	"github.com/pulsar-producer/pulsar-producer/core/engine"
)

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

// errDrained is what pp_poll and pp_drain return once nothing more comes.
func (cl *client) errDrained() error {
	if cl.stopping {
		return engine.Errorf(engine.CodeAlreadyClosed, "client %d was stopped", cl.id)
	}
	return engine.Errorf(engine.CodeAlreadyClosed, "client %d is closed and every completion was taken", cl.id)
}

// beginTaking is where pp_poll and pp_drain start: it waits, holding
// nothing, for a completion or log record, then makes the caller the
// server. It returns with mu held and ok true when the caller serves; else
// mu is released and err says why nothing is taken (nil: the wait timed
// out, or only log records arrived).
func (cl *client) beginTaking(deadline time.Time) (ok bool, err error) {
	cl.mu.Lock()
	logsBefore := cl.logSeq
	for {
		switch {
		case cl.stopping || cl.stopped:
			err := cl.errDrained()
			cl.mu.Unlock()
			return false, err
		case cl.queued() == 0 && cl.drained:
			err := cl.errDrained()
			cl.mu.Unlock()
			return false, err
		case cl.queued() > 0 && !cl.serving:
			cl.serving = true
			return true, nil
		case cl.queued() == 0 && cl.logSeq != logsBefore:
			cl.mu.Unlock()
			return false, nil // new log records: let the caller take them
		}
		var ch chan struct{}
		if cl.serving {
			if cl.idle == nil {
				cl.idle = make(chan struct{})
			}
			ch = cl.idle
		} else {
			if cl.arrived == nil {
				cl.arrived = make(chan struct{})
			}
			ch = cl.arrived
		}
		cl.mu.Unlock()
		if !waitUntil(ch, deadline) {
			return false, nil
		}
		cl.mu.Lock()
	}
}

// endServing ends serving. Called with mu held; returns with it released.
func (cl *client) endServing() {
	cl.serving = false
	if cl.idle != nil {
		close(cl.idle)
		cl.idle = nil
	}
	cl.emptiedLocked()
	cl.mu.Unlock()
}

// run calls a completion's callback, if it has one, with no lock held.
func (cl *client) run(c completion) {
	if c.cb == 0 {
		return
	}
	// The callback and user data are C pointers carried as integers; pp.c
	// turns them back into pointers.
	cb, ud := C.uintptr_t(c.cb), C.uintptr_t(c.ud)
	if c.err == nil {
		id := toCID(c.id)
		C.ppx_call(cb, C.pp_client(cl.id), C.pp_producer(c.prod.id), C.PP_OK, &id, nil, ud)
		return
	}
	msg := C.CString(errorText(c.err))
	C.ppx_call(cb, C.pp_client(cl.id), C.pp_producer(c.prod.id), C.pp_result(engine.CodeOf(c.err)), nil, msg, ud)
	C.free(unsafe.Pointer(msg))
}

// freeErrs releases the error strings of the last pp_drain. Called with mu
// held.
func (cl *client) freeErrs() {
	for _, s := range cl.errs {
		C.free(unsafe.Pointer(s))
	}
	cl.errs = cl.errs[:0]
}

//export ppgo_poll
func ppgo_poll(hid C.pp_client, timeout C.int, served *C.size_t) (res C.int) {
	defer recoverInto(&res, nil, 0)
	d, err := timeoutArg(timeout)
	if err != nil {
		return fail(err, nil, 0)
	}
	cl, err := lookupClient(uint64(hid), true)
	if err != nil {
		return fail(err, nil, 0)
	}
	if C.ppx_in_callback() != 0 {
		return 0
	}
	ok, err := cl.beginTaking(time.Now().Add(d))
	if !ok {
		return fail(err, nil, 0)
	}
	cl.freeErrs()
	n := 0
	// Serve what is queued now, not what keeps arriving, so a busy client
	// cannot keep the caller here forever; hand over once stopping begins.
	for limit := cl.queued(); n < limit && !cl.stopping; n++ {
		c := cl.pop()
		cl.mu.Unlock()
		cl.run(c)
		cl.mu.Lock()
	}
	cl.endServing()
	if served != nil {
		*served = C.size_t(n)
	}
	return 0
}

//export ppgo_drain
func ppgo_drain(hid C.pp_client, out *C.pp_completion, capacity C.size_t, timeout C.int, count *C.size_t) (res C.int) {
	defer recoverInto(&res, nil, 0)
	d, err := timeoutArg(timeout)
	if err != nil {
		return fail(err, nil, 0)
	}
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
	if C.ppx_in_callback() != 0 || capacity == 0 {
		return 0
	}
	ok, err := cl.beginTaking(time.Now().Add(d))
	if !ok {
		return fail(err, nil, 0)
	}
	cl.freeErrs()
	dst := unsafe.Slice(out, int(capacity))
	n := 0
	for n < len(dst) && cl.queued() > 0 {
		c := cl.pop()
		row := &dst[n]
		row.producer = C.pp_producer(c.prod.id)
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
			cl.errs = append(cl.errs, s)
			row.error = s
		}
		n++
	}
	cl.endServing()
	if count != nil {
		*count = C.size_t(n)
	}
	return 0
}

// stop closes the client if it is open (waiting up to d for pending
// messages), wakes every waiter, runs every remaining callback on this
// thread and frees the client and its producers' handles.
func (cl *client) stop(d time.Duration) error {
	nested := uint64(C.ppx_serving()) == cl.id
	cl.mu.Lock()
	if cl.stopped || cl.stopping {
		cl.mu.Unlock()
		return engine.Errorf(engine.CodeInvalidHandle, "handle %d was stopped", cl.id)
	}
	closed := cl.closed
	cl.mu.Unlock()
	var closeErr error
	if !closed {
		closeErr = cl.close(d)
	}
	cl.mu.Lock()
	cl.stopping = true
	cl.arrivedLocked() // waiters return AlreadyClosed
	ids := []uint64{cl.id}
	for p := range cl.producers {
		ids = append(ids, p.id)
	}
	if cl.owner != nil {
		ids = append(ids, cl.owner.id)
	}
	if !nested {
		// Another thread may be running a callback: it hands over after
		// that one.
		for cl.serving {
			if cl.idle == nil {
				cl.idle = make(chan struct{})
			}
			idle := cl.idle
			cl.mu.Unlock()
			<-idle
			cl.mu.Lock()
		}
		cl.serving = true
	}
	cl.mu.Unlock()
	unregister(ids...)
	cl.mu.Lock()
	for cl.queued() > 0 {
		c := cl.pop()
		cl.mu.Unlock()
		cl.run(c)
		cl.mu.Lock()
	}
	cl.stopped = true
	cl.freeErrs()
	for _, s := range cl.logStrs {
		C.free(unsafe.Pointer(s))
	}
	cl.logStrs = nil
	cl.logs = nil
	cl.closeFDs()
	if nested {
		cl.mu.Unlock()
	} else {
		cl.serving = false
		if cl.idle != nil {
			close(cl.idle)
			cl.idle = nil
		}
		cl.mu.Unlock()
	}
	return closeErr
}
