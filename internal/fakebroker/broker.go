// Package fakebroker is the project's one fake Pulsar broker, for the
// runtime's tests (package core), the WASI host's tests, the tests module
// and the benchmarks. It answers the producer side of the protocol,
// acknowledges every SEND at once, stores nothing (unless asked to record),
// and injects faults on request.
//
// How this works: the broker is sans-I/O at heart. A Broker holds what its
// connections share: options, counters and fault settings. A Conn (conn.go)
// is one connection as a state machine: Answer takes the bytes a client
// wrote, split anywhere, and returns the bytes to write back; Deadline and
// Tick release receipts held back by a receipt delay. Broker and Conn open
// no socket, start no goroutine and read no clock, so a test can play a
// connection by hand, as the WASI guest's tests do. Server (server.go) puts
// a Broker on a loopback TCP port with a goroutine per connection.
//
// Commands and metadata are read and written with the generated protocol
// code (internal/pb), never with the engine's hand-written codecs, so the
// fake broker is an independent check on them (frame.go has the codec).
//
// What it answers: CONNECT with CONNECTED (maxMessageSize from Options),
// PING with PONG, PARTITIONED_METADATA with Options.Partitions, LOOKUP with
// "connect to Options.URL", PRODUCER with PRODUCER_SUCCESS, CLOSE_PRODUCER
// with SUCCESS, and SEND with a SEND_RECEIPT in ledger Options.LedgerID
// whose entry IDs count up from 0 over the whole broker. Every SEND's
// CRC32C is verified (unless Options.SkipChecksums). AUTH_RESPONSE is
// recorded and, as by a broker that accepts the credentials, not answered.
// Other commands are ignored.
//
// Credentials are accepted, never checked: the broker records what every
// CONNECT and AUTH_RESPONSE carried (Auths), and never logs their data.
//
// Faults, each documented at its method: DropAfterSends, SetReceiptDelay,
// FailNextSend, RefuseProducers, IgnoreProducers and SetSilent on the
// Broker; Unload and Challenge on a Conn; UnloadProducers, Challenge,
// CloseConnections and Close on a Server; and the options HTTP (answer
// like an HTTP port) and MaxMessageSize.
//
// Counters (Stats) are atomics, updated before Answer returns the replies
// to the frames they count, so a client that saw a receipt sees it counted.
package fakebroker

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pulsar-producer/pulsar-producer/internal/pb"
)

// Options configure a Broker. The zero value is a usable broker.
type Options struct {
	// URL is what LOOKUP answers. Defaults to "pulsar://broker:6650";
	// Listen sets it to the server's own address.
	URL string
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
	// MaxMessageSize is announced in CONNECTED and bounds the frames the
	// broker accepts (plus 64 KiB for command and metadata); a bigger frame
	// ends the connection. Defaults to 5 MiB. Negative: CONNECTED carries
	// no maxMessageSize, as from an old broker, and 5 MiB applies.
	MaxMessageSize int
	// LedgerID is the ledger of every message ID. Defaults to 1.
	LedgerID uint64
	// HTTP makes the broker emulate an HTTP port (a client configured with
	// the admin URL's port): the first bytes of every connection are
	// answered with an HTTP 400 response and the connection ends.
	HTTP bool
	// Record keeps every acknowledged SEND, decoded, for Entries.
	Record bool
	// SkipChecksums leaves the CRC32C of SEND frames unchecked (and
	// Stats.ChecksumErrors at 0), for benchmarks in which computing it
	// would dominate: the WASI guest's, where there is no CRC instruction.
	SkipChecksums bool
	// Logf, when set, receives one line per control command and fault.
	Logf func(format string, args ...any)
	// TLS, when set, makes Listen serve TLS with this configuration, and
	// lookups answer a pulsar+ssl:// URL (as brokerServiceUrlTls).
	TLS *tls.Config
}

const (
	defaultURL            = "pulsar://broker:6650"
	defaultMaxMessageSize = 5 << 20
	frameSlack            = 64 << 10 // room for command and metadata beyond the message size
)

// httpResponse is what an HTTP server (Jetty, behind a broker's admin
// port) answers to bytes that are not HTTP.
var httpResponse = func() []byte {
	const body = "<h1>Bad Message 400</h1><pre>reason: Illegal character</pre>"
	return []byte("HTTP/1.1 400 Bad Request\r\nContent-Type: text/html;charset=iso-8859-1\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\nConnection: close\r\n\r\n" + body)
}()

// ErrHangUp is the error of a Conn that ends its connection on purpose: a
// DropAfterSends that came due, or an emulated HTTP port that answered.
var ErrHangUp = errors.New("fakebroker: the broker hangs up")

// Stats is a snapshot of the broker's counters.
type Stats struct {
	Connections      int64 // connections opened (NewConn)
	OpenConnections  int64 // connections not closed yet
	Registrations    int64 // PRODUCER commands received, answered or not
	Producers        int64 // PRODUCER commands answered with PRODUCER_SUCCESS
	LiveProducers    int64 // producers registered now, over all connections
	RefusedProducers int64 // PRODUCER commands answered with ERROR (RefuseProducers)
	Frames           int64 // SEND frames received
	Messages         int64 // messages received: num_messages summed over SEND frames
	Bytes            int64 // bytes received, silent or not
	Receipts         int64 // SEND_RECEIPTs sent or held behind a receipt delay
	AckedMessages    int64 // messages covered by those receipts
	SendErrors       int64 // SEND_ERRORs sent
	ChecksumErrors   int64 // SEND frames whose CRC32C did not match
}

// Entry is one acknowledged SEND, kept when Options.Record is set.
type Entry struct {
	Send     *pb.CommandSend
	Metadata *pb.MessageMetadata
	// Payload is a copy of what followed the metadata: for a batch, the
	// SingleMessageMetadata and payload of every message, as sent
	// (compressed if the entry was).
	Payload []byte
	EntryID uint64 // the entry ID of its receipt
}

// Auth is what a client authenticated with on a connection: the
// auth_method_name and auth_data of its CONNECT (both empty when it carried
// none), or the response of an AUTH_RESPONSE to a Challenge.
type Auth struct {
	// Conn numbers the connection: 1 for the broker's first, counting up
	// in the order the broker made them (NewConn).
	Conn uint64
	// Response is true for an AUTH_RESPONSE, false for a CONNECT.
	Response bool
	Method   string
	Data     []byte
}

// Broker is the state the connections of one fake broker share. Its
// methods are safe for concurrent use; each Conn is not.
type Broker struct {
	opts     Options
	announce int32 // maxMessageSize in CONNECTED, 0 for none
	maxFrame int

	connections, openConns, registrations, producers  atomic.Int64
	liveProducers, refused                            atomic.Int64
	frames, messages, bytes, receipts, ackedMsgs      atomic.Int64
	sendErrors, checksumErrors                        atomic.Int64
	nextEntry, nextConnID, nextProducer, nextCloseReq atomic.Uint64

	// Fault settings, read as frames arrive.
	dropAfter    atomic.Int64 // >0: SEND frames left before a connection drop
	receiptDelay atomic.Int64 // nanoseconds
	failNext     atomic.Int32 // ServerError+1 for the next SEND; 0: none
	silent       atomic.Bool

	mu         sync.Mutex // guards the fields below
	refuseLeft int        // PRODUCER commands still to refuse; <0: all
	refuseCode pb.ServerError
	refuseMsg  string
	ignore     string // PRODUCER commands for topics containing it go unanswered
	entries    []Entry
	auths      []Auth
}

// New makes a broker. It opens nothing: Listen serves one on TCP, NewConn
// plays one connection in memory.
func New(opts Options) (*Broker, error) {
	if opts.Partitions < 0 {
		return nil, fmt.Errorf("fakebroker: negative partition count %d", opts.Partitions)
	}
	if opts.URL == "" {
		opts.URL = defaultURL
	}
	if opts.ServerVersion == "" {
		opts.ServerVersion = "fakebroker"
	}
	if opts.LedgerID == 0 {
		opts.LedgerID = 1
	}
	b := &Broker{opts: opts}
	switch {
	case opts.MaxMessageSize == 0:
		b.announce, b.maxFrame = defaultMaxMessageSize, defaultMaxMessageSize+frameSlack
	case opts.MaxMessageSize < 0:
		b.maxFrame = defaultMaxMessageSize + frameSlack
	default:
		b.announce, b.maxFrame = int32(min(opts.MaxMessageSize, 1<<30)), opts.MaxMessageSize+frameSlack
	}
	return b, nil
}

// URL is what the broker answers to lookups: for a Server, its own
// pulsar://127.0.0.1:port.
func (b *Broker) URL() string { return b.opts.URL }

// NewConn starts a connection: the state machine of one client's socket.
func (b *Broker) NewConn() *Conn {
	b.connections.Add(1)
	b.openConns.Add(1)
	return &Conn{b: b, id: b.nextConnID.Add(1), producers: make(map[uint64]string)}
}

// Stats returns a snapshot of the counters.
func (b *Broker) Stats() Stats {
	return Stats{
		Connections:      b.connections.Load(),
		OpenConnections:  b.openConns.Load(),
		Registrations:    b.registrations.Load(),
		Producers:        b.producers.Load(),
		LiveProducers:    b.liveProducers.Load(),
		RefusedProducers: b.refused.Load(),
		Frames:           b.frames.Load(),
		Messages:         b.messages.Load(),
		Bytes:            b.bytes.Load(),
		Receipts:         b.receipts.Load(),
		AckedMessages:    b.ackedMsgs.Load(),
		SendErrors:       b.sendErrors.Load(),
		ChecksumErrors:   b.checksumErrors.Load(),
	}
}

// Entries returns the acknowledged SENDs in the order they were answered
// (Options.Record; nil without it). A SEND written again after a reconnect
// is there twice, with the same sequence ID: the broker does not
// deduplicate.
func (b *Broker) Entries() []Entry {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Entry(nil), b.entries...)
}

func (b *Broker) record(e Entry) {
	b.mu.Lock()
	b.entries = append(b.entries, e)
	b.mu.Unlock()
}

// Auths returns what every CONNECT and AUTH_RESPONSE carried, in the
// order they arrived (over all connections).
func (b *Broker) Auths() []Auth {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Auth(nil), b.auths...)
}

func (b *Broker) recordAuth(a Auth) {
	b.mu.Lock()
	b.auths = append(b.auths, a)
	b.mu.Unlock()
}

func (b *Broker) logf(format string, args ...any) {
	if b.opts.Logf != nil {
		b.opts.Logf("fakebroker: "+format, args...)
	}
}

// DropAfterSends makes the broker acknowledge n more SEND frames (counted
// over all connections) and then end the connection that carried the n-th,
// right after that frame's receipt: frames after it on that connection are
// neither counted nor answered, and its receipts still held by a receipt
// delay are lost. n <= 0 cancels a pending drop.
func (b *Broker) DropAfterSends(n int) {
	b.dropAfter.Store(int64(max(n, 0)))
}

// SetReceiptDelay holds every SEND_RECEIPT and SEND_ERROR back for d from
// when its SEND arrived (0: answer at once). Receipts stay in order: after
// the delay is lowered, new receipts wait behind those already held. Other
// replies (PONG, PRODUCER_SUCCESS, ...) are never delayed.
func (b *Broker) SetReceiptDelay(d time.Duration) {
	b.receiptDelay.Store(int64(max(d, 0)))
}

// FailNextSend answers the next SEND frame (on any connection) with
// SEND_ERROR carrying code instead of a receipt. A real broker sends
// NotAllowedError for a refused message, ChecksumError for a corrupt one,
// PersistenceError when storage fails; what a client does with each is the
// client's business.
func (b *Broker) FailNextSend(code pb.ServerError) {
	b.failNext.Store(int32(code) + 1)
	b.logf("the next SEND fails with %v", code)
}

// RefuseProducers answers the next n PRODUCER commands (over all
// connections) with ERROR carrying code and message instead of
// PRODUCER_SUCCESS, as a broker refuses or fences a registration: for
// example ProducerFenced once another producer took the topic with
// exclusive access, ProducerBusy for a taken name, ServiceNotReady while a
// topic moves. Armed after a producer registered, then followed by
// UnloadProducers or CloseConnections, it refuses the re-registration. n <
// 0 refuses every PRODUCER until RefuseProducers(0, ...) cancels it.
func (b *Broker) RefuseProducers(n int, code pb.ServerError, message string) {
	b.mu.Lock()
	b.refuseLeft, b.refuseCode, b.refuseMsg = n, code, message
	b.mu.Unlock()
	b.logf("refusing %d PRODUCER commands with %v %q", n, code, message)
}

// takeRefusal reports whether to refuse a PRODUCER, and how.
func (b *Broker) takeRefusal() (pb.ServerError, string, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.refuseLeft == 0 {
		return 0, "", false
	}
	if b.refuseLeft > 0 {
		b.refuseLeft--
	}
	return b.refuseCode, b.refuseMsg, true
}

// IgnoreProducers leaves every PRODUCER command for a topic whose name
// contains s unanswered, on every connection, so that those producers stay
// in creation (for tests of creation timeouts and of failures meanwhile);
// the broker answers everything else as usual. "" answers all again.
// Stats.Registrations counts the commands left unanswered too.
func (b *Broker) IgnoreProducers(s string) {
	b.mu.Lock()
	b.ignore = s
	b.mu.Unlock()
	b.logf("ignoring PRODUCER for topics containing %q", s)
}

func (b *Broker) ignores(topic string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ignore != "" && strings.Contains(topic, b.ignore)
}

// SetSilent makes the broker stop answering anything, PINGs included, on
// every connection, new ones too (true), or answer again (false). Frames
// that arrive while silent are read and discarded; only their bytes are
// counted. Delayed receipts already held still come due.
func (b *Broker) SetSilent(silent bool) {
	b.silent.Store(silent)
	b.logf("silent=%v", silent)
}
