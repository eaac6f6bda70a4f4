// Handles: the integers C callers hold instead of pointers.
//
// A handle names a client or a producer. Handles of both kinds come from
// one counter that starts at handleBase and never reuses a number, so a
// stale handle is recognisable: it is below the next number but not in the
// table. The table is an immutable map swapped atomically on every start
// and stop (rare), so the hot path (pp_send) looks a handle up without a
// lock. No number a caller passes ever reaches an API that could panic on
// it, and a handle of the wrong kind is named as such.
package main

import (
	"sync"
	"sync/atomic"

	"github.com/pulsar-producer/pulsar-producer/core/engine"
)

// handleBase is the first handle: a number unlikely to be passed by
// accident (0, 1, small loop counters, pointers).
const handleBase = 0x5050_0000_0001

var (
	tableMu    sync.Mutex // serializes changes to table and nextHandle
	table      atomic.Pointer[map[uint64]any]
	nextHandle atomic.Uint64
)

func init() {
	empty := map[uint64]any{}
	table.Store(&empty)
	nextHandle.Store(handleBase)
}

// register adds obj (a *client or *producer) to the table and returns its
// number.
func register(obj any) uint64 {
	tableMu.Lock()
	defer tableMu.Unlock()
	id := nextHandle.Add(1) - 1
	old := *table.Load()
	m := make(map[uint64]any, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[id] = obj
	table.Store(&m)
	return id
}

// unregister removes the handles ids from the table.
func unregister(ids ...uint64) {
	tableMu.Lock()
	defer tableMu.Unlock()
	old := *table.Load()
	m := make(map[uint64]any, len(old))
	for k, v := range old {
		m[k] = v
	}
	for _, id := range ids {
		delete(m, id)
	}
	table.Store(&m)
}

// missing explains why id names nothing.
func missing(id uint64) error {
	switch {
	case id == 0:
		return engine.Errorf(engine.CodeInvalidHandle, "handle 0 is never valid")
	case id >= handleBase && id < nextHandle.Load():
		return engine.Errorf(engine.CodeInvalidHandle, "handle %d was stopped", id)
	default:
		return engine.Errorf(engine.CodeInvalidHandle, "handle %d was never issued", id)
	}
}

// lookupProducer returns the live producer numbered id.
func lookupProducer(id uint64) (*producer, error) {
	switch h := (*table.Load())[id].(type) {
	case *producer:
		return h, nil
	case *client:
		return nil, engine.Errorf(engine.CodeInvalidHandle, "handle %d is a client, not a producer", id)
	}
	return nil, missing(id)
}

// lookupClient returns the live client numbered id. With ownerToo, the
// handle of a producer from pp_start stands for its client.
func lookupClient(id uint64, ownerToo bool) (*client, error) {
	switch h := (*table.Load())[id].(type) {
	case *client:
		return h, nil
	case *producer:
		if ownerToo && h.owns {
			return h.cl, nil
		}
		if ownerToo {
			return nil, engine.Errorf(engine.CodeInvalidHandle, "handle %d is a producer of client %d, not a client: pass its client's handle (only a producer from pp_start stands for its client)", id, h.cl.id)
		}
		return nil, engine.Errorf(engine.CodeInvalidHandle, "handle %d is a producer, not a client", id)
	}
	return nil, missing(id)
}

// lookupAny returns the live client or producer numbered id.
func lookupAny(id uint64) (*client, *producer, error) {
	switch h := (*table.Load())[id].(type) {
	case *client:
		return h, nil, nil
	case *producer:
		return nil, h, nil
	}
	return nil, nil, missing(id)
}
