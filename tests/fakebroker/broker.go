// Package fakebroker is an in-process fake Pulsar broker for client-only
// benchmarks and fault-injection tests.
//
// How this works: Start (or New) listens on 127.0.0.1 at a random port and
// accepts connections in one goroutine; every connection is served by one
// more goroutine (conn.go) that reads big chunks, cuts them into frames,
// answers the producer side of the protocol (CONNECT, PING,
// PARTITIONED_METADATA, LOOKUP, PRODUCER, CLOSE_PRODUCER, SEND) and writes
// all replies to one read's worth of frames with a single write. SEND frames
// are decoded by hand with protowire and answered at once with a
// SEND_RECEIPT carrying a fixed ledger ID and a broker-wide incrementing
// entry ID; every SEND's CRC32C is verified. Nothing is stored.
//
// Counters (Stats) are atomics, updated before the receipts of the frames
// they count are written, so a client that saw a receipt sees it counted.
//
// Fault injection: CloseConnections, DropAfterSends, SetReceiptDelay,
// FailNextSend, UnloadProducers and SetSilent change how the broker behaves
// from the next frame on; Close shuts the listener and every connection and
// waits for all goroutines, including receipt-delay timers.
package fakebroker

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pulsar-producer/pulsar-producer/core/pb"
)

// Options configure a Broker. The zero value is a usable broker.
type Options struct {
	// Partitions is the partition count answered to PARTITIONED_METADATA
	// for every topic (0: a plain topic). Names that already carry a
	// "-partition-N" suffix always get 0.
	Partitions int
	// ReplyChecksumError answers a SEND whose checksum does not match with
	// SEND_ERROR ChecksumError, as a real broker does. By default the
	// mismatch is only counted and the frame is acknowledged.
	ReplyChecksumError bool
	// ServerVersion is sent in CONNECTED. Defaults to "fakebroker".
	ServerVersion string
	// MaxMessageSize is sent in CONNECTED. Defaults to 5 MiB.
	MaxMessageSize int
	// LedgerID is the ledger of every message ID. Defaults to 1.
	LedgerID uint64
	// Logf, when set, receives one line per control command and fault.
	Logf func(format string, args ...any)
}

// Stats is a snapshot of the broker's counters.
type Stats struct {
	Connections     int64 // connections accepted
	OpenConnections int64 // connections currently open
	Producers       int64 // PRODUCER commands answered with PRODUCER_SUCCESS
	Frames          int64 // SEND frames received
	Messages        int64 // messages received: num_messages summed over SEND frames
	Bytes           int64 // bytes read from all connections
	Receipts        int64 // SEND_RECEIPTs sent or queued behind a delay
	AckedMessages   int64 // messages covered by those receipts
	SendErrors      int64 // SEND_ERRORs sent
	ChecksumErrors  int64 // SEND frames whose CRC32C did not match
}

// Broker is a running fake broker.
type Broker struct {
	opts Options
	ln   net.Listener
	url  string
	wg   sync.WaitGroup // accept loop, connections, armed timers

	mu     sync.Mutex
	conns  map[*conn]struct{}
	closed bool

	connections, openConns, producers   atomic.Int64
	frames, messages, bytes             atomic.Int64
	receipts, ackedMsgs, sendErrors     atomic.Int64
	checksumErrors                      atomic.Int64
	nextEntry, nextConnID, nextProducer atomic.Uint64
	nextCloseReq                        atomic.Uint64

	// Fault state, read on every SEND.
	dropAfter    atomic.Int64 // >0: SEND frames left before a connection drop
	receiptDelay atomic.Int64 // nanoseconds
	failNext     atomic.Int32 // ServerError+1 for the next SEND; 0: none
	silent       atomic.Bool
}

// New starts a broker; Close stops it.
func New(opts Options) (*Broker, error) {
	if opts.ServerVersion == "" {
		opts.ServerVersion = "fakebroker"
	}
	if opts.MaxMessageSize <= 0 {
		opts.MaxMessageSize = 5 << 20
	}
	if opts.LedgerID == 0 {
		opts.LedgerID = 1
	}
	if opts.Partitions < 0 {
		return nil, fmt.Errorf("fakebroker: negative partition count %d", opts.Partitions)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b := &Broker{
		opts:  opts,
		ln:    ln,
		url:   "pulsar://" + ln.Addr().String(),
		conns: make(map[*conn]struct{}),
	}
	b.wg.Add(1)
	go b.acceptLoop()
	return b, nil
}

// Start starts a broker that stops when the test ends.
func Start(t testing.TB, opts Options) *Broker {
	t.Helper()
	b, err := New(opts)
	if err != nil {
		t.Fatalf("fakebroker: %v", err)
	}
	t.Cleanup(b.Close)
	return b
}

// URL is the broker's service URL, pulsar://127.0.0.1:port.
func (b *Broker) URL() string { return b.url }

// Addr is the broker's host:port.
func (b *Broker) Addr() string { return b.ln.Addr().String() }

// Stats returns a snapshot of the counters.
func (b *Broker) Stats() Stats {
	return Stats{
		Connections:     b.connections.Load(),
		OpenConnections: b.openConns.Load(),
		Producers:       b.producers.Load(),
		Frames:          b.frames.Load(),
		Messages:        b.messages.Load(),
		Bytes:           b.bytes.Load(),
		Receipts:        b.receipts.Load(),
		AckedMessages:   b.ackedMsgs.Load(),
		SendErrors:      b.sendErrors.Load(),
		ChecksumErrors:  b.checksumErrors.Load(),
	}
}

// Messages is the number of messages received so far.
func (b *Broker) Messages() int64 { return b.messages.Load() }

// Bytes is the number of bytes received so far.
func (b *Broker) Bytes() int64 { return b.bytes.Load() }

// ChecksumErrors is the number of SEND frames whose checksum failed.
func (b *Broker) ChecksumErrors() int64 { return b.checksumErrors.Load() }

// Close stops accepting, closes every connection and waits for every
// goroutine of the broker. It is safe to call more than once.
func (b *Broker) Close() {
	b.mu.Lock()
	already := b.closed
	b.closed = true
	conns := b.snapshotLocked()
	b.mu.Unlock()
	if !already {
		b.ln.Close()
	}
	for _, c := range conns {
		c.close()
	}
	b.wg.Wait()
}

func (b *Broker) snapshotLocked() []*conn {
	out := make([]*conn, 0, len(b.conns))
	for c := range b.conns {
		out = append(out, c)
	}
	return out
}

func (b *Broker) snapshot() []*conn {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.snapshotLocked()
}

func (b *Broker) logf(format string, args ...any) {
	if b.opts.Logf != nil {
		b.opts.Logf("fakebroker: "+format, args...)
	}
}

func (b *Broker) acceptLoop() {
	defer b.wg.Done()
	for {
		nc, err := b.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			time.Sleep(5 * time.Millisecond) // e.g. out of file descriptors
			continue
		}
		if tc, ok := nc.(*net.TCPConn); ok {
			_ = tc.SetNoDelay(true)
			_ = tc.SetReadBuffer(1 << 20)
			_ = tc.SetWriteBuffer(1 << 20)
		}
		c := &conn{b: b, id: b.nextConnID.Add(1), nc: nc, producers: make(map[uint64]string)}
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			nc.Close()
			return
		}
		b.conns[c] = struct{}{}
		b.wg.Add(1)
		b.mu.Unlock()
		b.connections.Add(1)
		b.openConns.Add(1)
		go c.serve()
	}
}

func (b *Broker) forget(c *conn) {
	b.mu.Lock()
	delete(b.conns, c)
	b.mu.Unlock()
	b.openConns.Add(-1)
}

// ---- Fault injection ----

// CloseConnections closes every open connection now, as a broker crash
// or a network cut would. It returns how many it closed.
func (b *Broker) CloseConnections() int {
	conns := b.snapshot()
	for _, c := range conns {
		c.close()
	}
	b.logf("closed %d connections", len(conns))
	return len(conns)
}

// DropAfterSends makes the broker acknowledge n more SEND frames (counted
// over all connections) and then close the connection that carried the
// n-th, right after writing that frame's receipt; frames that follow on
// it are neither counted nor answered, and receipts still waiting out a
// receipt delay are lost. n <= 0 cancels a pending drop.
func (b *Broker) DropAfterSends(n int) {
	b.dropAfter.Store(int64(max(n, 0)))
}

// SetReceiptDelay delays every SEND_RECEIPT and SEND_ERROR by d from when
// its SEND was read (0: answer at once). Receipts stay in order: after the
// delay is lowered, new receipts wait behind those already delayed. Other
// replies (PONG, PRODUCER_SUCCESS, ...) are never delayed.
func (b *Broker) SetReceiptDelay(d time.Duration) {
	b.receiptDelay.Store(int64(max(d, 0)))
}

// FailNextSend answers the next SEND frame (on any connection) with
// SEND_ERROR carrying code instead of a receipt. Which errors make a
// client fail a message and which make it reconnect and resend is the
// client's business: a real broker sends NotAllowedError for a refused
// message, ChecksumError for a corrupt one, PersistenceError when storage
// fails.
func (b *Broker) FailNextSend(code pb.ServerError) {
	b.failNext.Store(int32(code) + 1)
}

// UnloadProducers sends CLOSE_PRODUCER for every registered producer, as
// a broker does when it unloads their topics, and forgets them; clients
// look the topic up again and re-register. It returns how many it closed.
func (b *Broker) UnloadProducers() int {
	n := 0
	for _, c := range b.snapshot() {
		n += c.unloadProducers()
	}
	b.logf("unloaded %d producers", n)
	return n
}

// SetSilent makes the broker stop answering anything, PINGs included, on
// every connection, new ones too (true), or answer again (false). Frames
// received while silent are read and discarded, and only their bytes are
// counted.
func (b *Broker) SetSilent(silent bool) {
	b.silent.Store(silent)
	b.logf("silent=%v", silent)
}

// ProducerCount is the number of producers currently registered.
func (b *Broker) ProducerCount() int {
	n := 0
	for _, c := range b.snapshot() {
		c.wmu.Lock()
		n += len(c.producers)
		c.wmu.Unlock()
	}
	return n
}
