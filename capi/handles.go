// Handles: the integers C callers hold instead of pointers.
//
// A handle names one producer (with its private client) and its completion
// queue. Handles count up from handleBase and are never reused, so a stale
// handle is recognisable: it is below the next number but not in the table.
// The table is an immutable map swapped atomically on every start and stop
// (rare), so the hot path (pp_send) looks a handle up without a lock. No
// number a caller passes ever reaches an API that could panic on it.
package main

import (
	"sync"
	"sync/atomic"

	"github.com/pulsar-producer/pulsar-producer/internal/driver"
	"github.com/pulsar-producer/pulsar-producer/core/engine"
)

// handleBase is the first handle: a number unlikely to be passed by
// accident (0, 1, small loop counters, pointers).
const handleBase = 0x5050_0000_0001

var (
	tableMu    sync.Mutex // serializes changes to table and nextHandle
	table      atomic.Pointer[map[uint64]*handle]
	nextHandle atomic.Uint64
)

func init() {
	empty := map[uint64]*handle{}
	table.Store(&empty)
	nextHandle.Store(handleBase)
}

// handle is one started producer.
type handle struct {
	id       uint64
	client   *driver.Client
	producer *driver.Producer
	sink     *driver.Sink // delivers to h.complete

	// Messages accepted, and completions taken: pending is the difference.
	// Senders count one, takers the other, each on its own cache line, so
	// the two threads do not fight over one counter per message.
	accepted atomic.Int64
	_        [56]byte
	taken    atomic.Int64
	_        [56]byte

	// mu guards every field below.
	mu      sync.Mutex
	queue   []completion // completions not yet taken, oldest at head
	head    int
	arrived chan struct{} // closed when a completion arrives; nil if no one waits
	serving bool          // a thread is taking completions
	idle    chan struct{} // closed when serving ends; nil if no one waits
	closed  bool          // pp_close or pp_stop closed the producer
	drained bool          // closing finished: no completion will come after the queued
	stopped bool          // pp_stop freed the handle
	errs    []cstring     // error strings handed out by the last pp_drain
}

// completion is one message's outcome, with the caller's callback and data.
type completion struct {
	cb  uintptr // pp_delivery_cb
	ud  uintptr // user_data
	id  engine.MessageID
	err error
}

// register adds h to the table and assigns its number.
func register(h *handle) uint64 {
	tableMu.Lock()
	defer tableMu.Unlock()
	h.id = nextHandle.Add(1) - 1
	old := *table.Load()
	m := make(map[uint64]*handle, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[h.id] = h
	table.Store(&m)
	return h.id
}

// unregister removes h from the table.
func unregister(h *handle) {
	tableMu.Lock()
	defer tableMu.Unlock()
	old := *table.Load()
	m := make(map[uint64]*handle, len(old))
	for k, v := range old {
		if k != h.id {
			m[k] = v
		}
	}
	table.Store(&m)
}

// lookup returns the live handle numbered id, or an error saying why there
// is none.
func lookup(id uint64) (*handle, error) {
	if h := (*table.Load())[id]; h != nil {
		return h, nil
	}
	switch {
	case id == 0:
		return nil, engine.Errorf(engine.CodeInvalidHandle, "handle 0 is never valid")
	case id >= handleBase && id < nextHandle.Load():
		return nil, engine.Errorf(engine.CodeInvalidHandle, "handle %d was stopped", id)
	default:
		return nil, engine.Errorf(engine.CodeInvalidHandle, "handle %d was never issued", id)
	}
}

// complete queues messages' outcomes. The core runtime calls it, in order,
// from its completion goroutine, with as many as it has.
func (h *handle) complete(done []driver.Completed) {
	h.mu.Lock()
	for _, d := range done {
		h.queue = append(h.queue, completion{cb: uintptr(d.Tag.A), ud: uintptr(d.Tag.B), id: d.ID, err: d.Err})
	}
	h.wakeWaiters()
	h.mu.Unlock()
}

// pending is the number of accepted messages whose completion was not taken.
func (h *handle) pending() int64 { return h.accepted.Load() - h.taken.Load() }

// wakeWaiters wakes threads waiting for a completion. Called with mu held.
func (h *handle) wakeWaiters() {
	if h.arrived != nil {
		close(h.arrived)
		h.arrived = nil
	}
}

// queued reports the completions waiting. Called with mu held.
func (h *handle) queued() int { return len(h.queue) - h.head }

// pop takes the oldest completion. Called with mu held and queued() > 0.
func (h *handle) pop() completion {
	c := h.queue[h.head]
	h.queue[h.head] = completion{}
	h.head++
	if h.head == len(h.queue) {
		h.queue = h.queue[:0]
		h.head = 0
	}
	return c
}
