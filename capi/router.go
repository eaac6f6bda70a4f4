// Routers written in C: pp_producer_set_router.
//
// The router runs on the sending thread before the send takes any lock: a
// single send calls it first; a batch send calls it for every message
// before the batch starts (a batch's messages are filled in under the
// client lock, where no callback may run). The choice travels to the
// engine as the message's partition, exactly as if the caller had set
// pp_message.partition. The call into C goes through a trampoline in pp.c.
package main

/*
#include <stdint.h>
#include "pulsar_producer.h"
int32_t ppx_call_router(uintptr_t cb, uintptr_t ud, const pp_message *msg, int32_t n);
int32_t ppx_call_router_payload(uintptr_t cb, uintptr_t ud, uintptr_t payload, size_t len, int32_t n);
*/
import "C"

import (
	"sync/atomic"

	"github.com/pulsar-producer/pulsar-producer/core/engine"
)

type cRouter struct{ cb, ud C.uintptr_t }

// routerSlot holds a producer's router; pp_producer_set_router may swap it
// while other threads send.
type routerSlot = atomic.Pointer[cRouter]

//export ppgo_producer_set_router
func ppgo_producer_set_router(hid C.pp_producer, cb, ud C.uintptr_t, errbuf *C.char, errsize C.size_t) (res C.int) {
	defer recoverInto(&res, errbuf, errsize)
	p, err := lookupProducer(uint64(hid))
	if err != nil {
		return fail(err, errbuf, errsize)
	}
	if cb == 0 {
		p.router.Store(nil)
		return 0
	}
	p.router.Store(&cRouter{cb, ud})
	return 0
}

// routeNeeded returns the router and the partition count when messages of
// p are to be routed by a C router.
func (p *producer) routeNeeded() (*cRouter, int32) {
	r := p.router.Load()
	if r == nil {
		return nil, 0
	}
	n := int32(p.dp.NumPartitions())
	if n == 0 {
		return nil, 0
	}
	return r, n
}

// routeBatch runs the router, when there is one, for the messages of a
// batch in order, route(i) for message i, until one fails: it returns the
// partitions (nil without a router), how many messages may be sent, and
// the router's error that stopped the batch there.
func (p *producer) routeBatch(count int, route func(i int, r *cRouter, parts int32) (int32, error)) ([]int32, int, error) {
	r, parts := p.routeNeeded()
	if r == nil {
		return nil, count, nil
	}
	routes := make([]int32, 0, count)
	for i := range count {
		part, err := route(i, r, parts)
		if err != nil {
			return routes, i, err
		}
		routes = append(routes, part)
	}
	return routes, count, nil
}

// checkRoute checks a router's answer.
func checkRoute(i, n int32) error {
	if i < 0 || i >= n {
		return engine.Errorf(engine.CodeInvalidArgument, "the router returned partition %d for a topic of %d partitions", i, n)
	}
	return nil
}

// routeMessage runs the router for a pp_message without a partition.
func (p *producer) routeMessage(m *C.pp_message, r *cRouter, n int32) (int32, error) {
	if m.struct_size >= minMessageSize && m.partition >= 0 {
		return int32(m.partition), nil
	}
	i := int32(C.ppx_call_router(r.cb, r.ud, m, C.int32_t(n)))
	return i, checkRoute(i, n)
}

// routePayload runs the router for a payload-only message.
func (p *producer) routePayload(payload C.uintptr_t, n C.size_t, r *cRouter, parts int32) (int32, error) {
	i := int32(C.ppx_call_router_payload(r.cb, r.ud, payload, n, C.int32_t(parts)))
	return i, checkRoute(i, parts)
}
