// Clients and producers behind handles: starting, closing and stopping.
//
// A client handle holds one runtime client (internal/driver) and the queue
// its producers' completions wait in (queue.go). A producer handle holds
// one runtime producer and a sink that pushes its outcomes into its
// client's queue, tagged with the producer. A producer from pp_start owns
// its client: stopping it stops the client.
//
// Lock order: a client's mu may be taken while no runtime lock is held, and
// the runtime calls into the client (push, the log handler) with its own
// lock held and then takes mu; so code holding mu never calls the runtime.
package main

/*
#include <stdlib.h>
#include "pulsar_producer.h"
*/
import "C"

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/pulsar-producer/pulsar-producer/core/engine"
	"github.com/pulsar-producer/pulsar-producer/internal/driver"
)

type driverCompleted = driver.Completed

func itoa(n int) string { return strconv.Itoa(n) }

type client struct {
	id    uint64
	dc    *driver.Client
	owner *producer // the producer of a pp_start client

	// mu guards every field below.
	mu          sync.Mutex
	producers   map[*producer]struct{}
	closed      bool // pp_client_close began: no new producers
	drained     bool // closing finished: no completion will come after the queued
	stopping    bool // pp_client_stop began: waiters return, servers hand over
	stopped     bool // freed
	queue       []completion
	head        int
	arrived     chan struct{} // closed when something arrives or the client stops; nil if none waits
	serving     bool          // a thread is taking completions
	idle        chan struct{} // closed when serving ends; nil if none waits
	errs        []*C.char     // error strings handed out by the last pp_drain
	logs        []logEntry
	logsDropped int
	logSeq      uint64    // log records made so far
	logStrs     []*C.char // strings handed out by the last pp_client_logs
	fdR, fdW    int       // the event pipe, -1 until made
	signaled    bool      // a byte is in the pipe
}

type producer struct {
	id   uint64
	cl   *client
	dp   *driver.Producer
	owns bool // from pp_start: stands for its client, and stopping it stops the client
	sink *driver.Sink

	// Messages accepted, and completions taken: pending is the difference.
	// Senders count one, takers the other, each on its own cache line.
	accepted atomic.Int64
	_        [56]byte
	taken    atomic.Int64
	_        [56]byte

	closed atomic.Bool // pp_close or pp_stop closed it
	router routerSlot  // pp_producer_set_router's, or nil
}

func (p *producer) pending() int64 { return max(0, p.accepted.Load()-p.taken.Load()) }

// goString reads a length-delimited string: n bytes at s, or up to the
// first NUL when n is PP_NTS. what names it in errors.
func goString(s *C.char, n C.size_t, what string) (string, error) {
	if s == nil {
		if n != 0 && n != C.size_t(ntsLen) {
			return "", invalidArg("%s is NULL with a length of %d", what, uint64(n))
		}
		return "", nil
	}
	if n == C.size_t(ntsLen) {
		return C.GoString(s), nil
	}
	if err := checkLen(n, what+"_len"); err != nil {
		return "", err
	}
	return C.GoStringN(s, C.int(n)), nil
}

// ntsLen is PP_NTS.
const ntsLen = ^uint64(0)

// maxLen bounds a length a real buffer can have: beyond it the caller
// passed garbage (such as SIZE_MAX), and making a Go slice of it would
// fail. It is far above any message a broker accepts.
const maxLen = 1 << 40

// maxCount bounds a count of array elements the same way.
const maxCount = 1 << 32

func checkLen(n C.size_t, what string) error {
	if uint64(n) > maxLen {
		return invalidArg("%s is %d: no buffer has that many bytes", what, uint64(n))
	}
	return nil
}

// noNUL refuses a NUL inside a service URL or topic.
func noNUL(s string, code engine.Code, what string) error {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return engine.Errorf(code, "%s %q contains a NUL character at byte %d", what, s, i)
		}
	}
	return nil
}

// newClient starts a runtime client behind a new handle.
func newClient(url string, co engine.ClientOptions) (*client, error) {
	if err := noNUL(url, engine.CodeInvalidURL, "service URL"); err != nil {
		return nil, err
	}
	cl := &client{producers: map[*producer]struct{}{}, fdR: -1, fdW: -1}
	co.ServiceURL = url
	co.Logger = slog.New(&logHandler{cl: cl})
	dc, err := driver.NewClient(co)
	if err != nil {
		return nil, err
	}
	cl.dc = dc
	return cl, nil
}

//export ppgo_client_start
func ppgo_client_start(url *C.char, urlLen C.size_t, opts *C.char, out *C.pp_client, errbuf *C.char, errsize C.size_t) (res C.int) {
	defer recoverInto(&res, errbuf, errsize)
	if out == nil {
		return fail(invalidArg("out (where the handle goes) is NULL"), errbuf, errsize)
	}
	*out = 0
	if url == nil {
		return fail(engine.Errorf(engine.CodeInvalidURL, "service URL is NULL"), errbuf, errsize)
	}
	u, err := goString(url, urlLen, "service URL")
	if err != nil {
		return fail(err, errbuf, errsize)
	}
	var co engine.ClientOptions
	if opts != nil {
		if err := engine.ParseOptionsJSON([]byte(C.GoString(opts)), &co, nil); err != nil {
			return fail(err, errbuf, errsize)
		}
	}
	cl, err := newClient(u, co)
	if err != nil {
		return fail(err, errbuf, errsize)
	}
	cl.id = register(cl)
	*out = C.pp_client(cl.id)
	return 0
}

// openProducer creates a producer of cl behind a new handle; with wait, it
// waits until the producer is ready, and on failure frees it again.
func (cl *client) openProducer(topic string, po engine.ProducerOptions, wait, owns bool) (*producer, error) {
	if err := noNUL(topic, engine.CodeInvalidTopicName, "topic"); err != nil {
		return nil, err
	}
	cl.mu.Lock()
	closed := cl.closed || cl.stopping
	cl.mu.Unlock()
	if closed {
		return nil, engine.Errorf(engine.CodeAlreadyClosed, "client %d is closed", cl.id)
	}
	po.Topic = topic
	dp, err := cl.dc.OpenProducer(po)
	if err != nil {
		return nil, err
	}
	p := &producer{cl: cl, dp: dp, owns: owns}
	p.sink = driver.NewSink(func(done []driver.Completed) { cl.push(p, done) })
	cl.mu.Lock()
	if cl.closed || cl.stopping {
		cl.mu.Unlock()
		_ = dp.Close(context.Background())
		return nil, engine.Errorf(engine.CodeAlreadyClosed, "client %d is closed", cl.id)
	}
	cl.producers[p] = struct{}{}
	cl.mu.Unlock()
	p.id = register(p)
	if wait {
		if err := dp.WaitReady(context.Background()); err != nil {
			p.free(0)
			return nil, err
		}
	}
	return p, nil
}

//export ppgo_producer_start
func ppgo_producer_start(hid C.pp_client, topic *C.char, topicLen C.size_t, opts *C.char, out *C.pp_producer, wait C.int,
	errbuf *C.char, errsize C.size_t) (res C.int) {
	defer recoverInto(&res, errbuf, errsize)
	if out == nil {
		return fail(invalidArg("out (where the handle goes) is NULL"), errbuf, errsize)
	}
	*out = 0
	cl, err := lookupClient(uint64(hid), false)
	if err != nil {
		return fail(err, errbuf, errsize)
	}
	if topic == nil {
		return fail(engine.Errorf(engine.CodeInvalidTopicName, "topic is NULL"), errbuf, errsize)
	}
	t, err := goString(topic, topicLen, "topic")
	if err != nil {
		return fail(err, errbuf, errsize)
	}
	var po engine.ProducerOptions
	if opts != nil {
		if err := engine.ParseOptionsJSON([]byte(C.GoString(opts)), nil, &po); err != nil {
			return fail(err, errbuf, errsize)
		}
	}
	p, err := cl.openProducer(t, po, wait != 0, false)
	if err != nil {
		return fail(err, errbuf, errsize)
	}
	*out = C.pp_producer(p.id)
	return 0
}

//export ppgo_producer_wait
func ppgo_producer_wait(hid C.pp_producer, timeout C.int, errbuf *C.char, errsize C.size_t) (res C.int) {
	defer recoverInto(&res, errbuf, errsize)
	d, err := timeoutArg(timeout)
	if err != nil {
		return fail(err, errbuf, errsize)
	}
	p, err := lookupProducer(uint64(hid))
	if err != nil {
		return fail(err, errbuf, errsize)
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := p.dp.WaitReady(ctx); err != nil {
		if ctx.Err() != nil {
			err = engine.Errorf(engine.CodeProducerNotInitialized, "producer %d is still being created after %v", p.id, d)
		}
		return fail(err, errbuf, errsize)
	}
	return 0
}

//export ppgo_start
func ppgo_start(url *C.char, urlLen C.size_t, topic *C.char, topicLen C.size_t, opts *C.char, keys, values **C.char,
	count C.size_t, kv C.int, out *C.pp_producer, errbuf *C.char, errsize C.size_t) (res C.int) {
	defer recoverInto(&res, errbuf, errsize)
	if out == nil {
		return fail(invalidArg("out (where the handle goes) is NULL"), errbuf, errsize)
	}
	*out = 0
	switch {
	case url == nil:
		return fail(engine.Errorf(engine.CodeInvalidURL, "service URL is NULL"), errbuf, errsize)
	case topic == nil:
		return fail(engine.Errorf(engine.CodeInvalidTopicName, "topic is NULL"), errbuf, errsize)
	}
	u, err := goString(url, urlLen, "service URL")
	if err != nil {
		return fail(err, errbuf, errsize)
	}
	t, err := goString(topic, topicLen, "topic")
	if err != nil {
		return fail(err, errbuf, errsize)
	}
	var co engine.ClientOptions
	var po engine.ProducerOptions
	if kv != 0 {
		if count > maxCount {
			return fail(invalidArg("count %d is larger than any array", uint64(count)), errbuf, errsize)
		}
		if count > 0 && (keys == nil || values == nil) {
			return fail(invalidArg("keys or values is NULL with count %d", uint64(count)), errbuf, errsize)
		}
		ks := unsafe.Slice(keys, int(count))
		vs := unsafe.Slice(values, int(count))
		seen := map[string]bool{}
		for i := range ks {
			if ks[i] == nil || vs[i] == nil {
				return fail(invalidArg("option key or value %d is NULL", i), errbuf, errsize)
			}
			k := C.GoString(ks[i])
			if seen[k] {
				return fail(engine.Errorf(engine.CodeInvalidConfiguration, "option %q is given twice", k), errbuf, errsize)
			}
			seen[k] = true
			if err := engine.SetOption(k, C.GoString(vs[i]), &co, &po); err != nil {
				return fail(err, errbuf, errsize)
			}
		}
	} else if opts != nil {
		if err := engine.ParseOptionsJSON([]byte(C.GoString(opts)), &co, &po); err != nil {
			return fail(err, errbuf, errsize)
		}
	}
	if err := noNUL(t, engine.CodeInvalidTopicName, "topic"); err != nil {
		return fail(err, errbuf, errsize)
	}
	cl, err := newClient(u, co)
	if err != nil {
		return fail(err, errbuf, errsize)
	}
	p, err := cl.openProducer(t, po, true, true)
	if err != nil {
		_ = cl.dc.Close()
		return fail(err, errbuf, errsize)
	}
	cl.owner = p
	cl.id = register(cl)
	*out = C.pp_producer(p.id)
	return 0
}

// closeProducer closes p's runtime producer once, waiting up to d.
func (p *producer) closeProducer(d time.Duration) error {
	if p.closed.Swap(true) {
		return engine.Errorf(engine.CodeAlreadyClosed, "producer %d is already closed", p.id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	err := p.dp.Close(ctx)
	if errors.Is(err, engine.ErrAlreadyClosed) {
		err = nil // the client closed it first
	}
	return err
}

// free closes p if open and drops its handle; its completions stay queued.
func (p *producer) free(d time.Duration) error {
	var err error
	if !p.closed.Load() {
		err = p.closeProducer(d)
	}
	cl := p.cl
	cl.mu.Lock()
	delete(cl.producers, p)
	cl.mu.Unlock()
	unregister(p.id)
	return err
}

//export ppgo_close
func ppgo_close(hid C.pp_producer, timeout C.int, errbuf *C.char, errsize C.size_t) (res C.int) {
	defer recoverInto(&res, errbuf, errsize)
	d, err := timeoutArg(timeout)
	if err != nil {
		return fail(err, errbuf, errsize)
	}
	p, err := lookupProducer(uint64(hid))
	if err != nil {
		return fail(err, errbuf, errsize)
	}
	if p.owns {
		if p.closed.Load() {
			return fail(engine.Errorf(engine.CodeAlreadyClosed, "producer %d is already closed", p.id), errbuf, errsize)
		}
		p.closed.Store(true)
		err = p.cl.close(d)
	} else {
		err = p.closeProducer(d)
	}
	if err != nil {
		return fail(err, errbuf, errsize)
	}
	return 0
}

//export ppgo_stop
func ppgo_stop(hid C.pp_producer, timeout C.int, errbuf *C.char, errsize C.size_t) (res C.int) {
	defer recoverInto(&res, errbuf, errsize)
	d, err := timeoutArg(timeout)
	if err != nil {
		return fail(err, errbuf, errsize)
	}
	p, err := lookupProducer(uint64(hid))
	if err != nil {
		return fail(err, errbuf, errsize)
	}
	if p.owns {
		p.closed.Store(true)
		err = p.cl.stop(d)
	} else {
		err = p.free(d)
	}
	if err != nil {
		return fail(err, errbuf, errsize)
	}
	return 0
}

// close closes every producer of cl (sending what is pending, waiting up to
// d in all) and the runtime client; the handle stays for draining.
func (cl *client) close(d time.Duration) error {
	cl.mu.Lock()
	if cl.closed {
		cl.mu.Unlock()
		return engine.Errorf(engine.CodeAlreadyClosed, "client %d is already closed", cl.id)
	}
	cl.closed = true
	prods := make([]*producer, 0, len(cl.producers))
	for p := range cl.producers {
		prods = append(prods, p)
	}
	cl.mu.Unlock()
	deadline := time.Now().Add(d)
	var firstErr error
	var wg sync.WaitGroup
	var errMu sync.Mutex
	for _, p := range prods {
		if p.closed.Swap(true) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithDeadline(context.Background(), deadline)
			defer cancel()
			if err := p.dp.Close(ctx); err != nil && !errors.Is(err, engine.ErrAlreadyClosed) {
				errMu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				errMu.Unlock()
			}
		}()
	}
	wg.Wait()
	_ = cl.dc.Close()
	cl.mu.Lock()
	cl.drained = true
	cl.arrivedLocked()
	cl.mu.Unlock()
	return firstErr
}

//export ppgo_client_close
func ppgo_client_close(hid C.pp_client, timeout C.int, errbuf *C.char, errsize C.size_t) (res C.int) {
	defer recoverInto(&res, errbuf, errsize)
	d, err := timeoutArg(timeout)
	if err != nil {
		return fail(err, errbuf, errsize)
	}
	cl, err := lookupClient(uint64(hid), false)
	if err != nil {
		return fail(err, errbuf, errsize)
	}
	if err := cl.close(d); err != nil {
		return fail(err, errbuf, errsize)
	}
	return 0
}

//export ppgo_client_stop
func ppgo_client_stop(hid C.pp_client, timeout C.int, errbuf *C.char, errsize C.size_t) (res C.int) {
	defer recoverInto(&res, errbuf, errsize)
	d, err := timeoutArg(timeout)
	if err != nil {
		return fail(err, errbuf, errsize)
	}
	cl, err := lookupClient(uint64(hid), false)
	if err != nil {
		return fail(err, errbuf, errsize)
	}
	if err := cl.stop(d); err != nil {
		return fail(err, errbuf, errsize)
	}
	return 0
}

//export ppgo_client_event_fd
func ppgo_client_event_fd(hid C.pp_client, fd *C.int) (res C.int) {
	defer recoverInto(&res, nil, 0)
	if fd == nil {
		return fail(invalidArg("fd is NULL"), nil, 0)
	}
	cl, err := lookupClient(uint64(hid), true)
	if err != nil {
		return fail(err, nil, 0)
	}
	n, err := cl.eventFD()
	if err != nil {
		return fail(err, nil, 0)
	}
	*fd = C.int(n)
	return 0
}

//export ppgo_producer_name
func ppgo_producer_name(hid C.pp_producer, buf *C.char, size C.size_t, needed *C.size_t) (res C.int) {
	defer recoverInto(&res, nil, 0)
	p, err := lookupProducer(uint64(hid))
	if err != nil {
		return fail(err, nil, 0)
	}
	if err := checkLen(size, "size"); err != nil {
		return fail(err, nil, 0)
	}
	name := p.dp.Name()
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
	p, err := lookupProducer(uint64(hid))
	if err != nil {
		return fail(err, nil, 0)
	}
	if out == nil {
		return fail(invalidArg("partitions is NULL"), nil, 0)
	}
	*out = C.int32_t(p.dp.NumPartitions())
	return 0
}

//export ppgo_producer_room
func ppgo_producer_room(hid C.pp_producer, messages, bytes *C.int64_t) (res C.int) {
	defer recoverInto(&res, nil, 0)
	p, err := lookupProducer(uint64(hid))
	if err != nil {
		return fail(err, nil, 0)
	}
	if messages == nil || bytes == nil {
		return fail(invalidArg("messages or bytes is NULL"), nil, 0)
	}
	m, b := p.dp.Room()
	*messages, *bytes = C.int64_t(m), C.int64_t(b)
	return 0
}

//export ppgo_pending
func ppgo_pending(hid C.uint64_t, out *C.size_t) (res C.int) {
	defer recoverInto(&res, nil, 0)
	if out == nil {
		return fail(invalidArg("pending is NULL"), nil, 0)
	}
	cl, p, err := lookupAny(uint64(hid))
	if err != nil {
		return fail(err, nil, 0)
	}
	if p != nil && !p.owns {
		*out = C.size_t(p.pending())
		return 0
	}
	if p != nil {
		cl = p.cl
	}
	*out = C.size_t(cl.pending())
	return 0
}

// pending counts the client's messages whose completion was not taken.
func (cl *client) pending() int64 {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	var n int64
	for p := range cl.producers {
		n += p.pending()
	}
	for i := cl.head; i < len(cl.queue); i++ {
		if _, live := cl.producers[cl.queue[i].prod]; !live {
			n++ // a stopped producer's completion, still queued
		}
	}
	return n
}

//export ppgo_flush
func ppgo_flush(hid C.uint64_t, timeout C.int, errbuf *C.char, errsize C.size_t) (res C.int) {
	defer recoverInto(&res, errbuf, errsize)
	d, err := timeoutArg(timeout)
	if err != nil {
		return fail(err, errbuf, errsize)
	}
	cl, p, err := lookupAny(uint64(hid))
	if err != nil {
		return fail(err, errbuf, errsize)
	}
	var prods []*producer
	if p != nil && !p.owns {
		prods = []*producer{p}
	} else {
		if p != nil {
			cl = p.cl
		}
		cl.mu.Lock()
		for q := range cl.producers {
			prods = append(prods, q)
		}
		cl.mu.Unlock()
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for _, q := range prods {
		if err := q.dp.Flush(ctx); err != nil {
			return fail(err, errbuf, errsize)
		}
	}
	return 0
}
