// The fake broker on a loopback TCP port.
//
// How this works: Listen binds 127.0.0.1 at a random port and accepts in
// one goroutine; each connection gets a goroutine that reads big chunks,
// hands them to its Conn (the state machine) and writes the replies with
// one write per read. A connection's mutex serialises everything that
// touches its Conn or writes to its socket: the reading goroutine, the
// timer that writes receipts held by a receipt delay, and UnloadProducers.
// An armed timer holds a count on the server's WaitGroup, so Close waits
// for it as for every goroutine.
package fakebroker

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const readBufSize = 512 << 10

// Server is a Broker served on 127.0.0.1. Its Broker's methods (faults,
// Stats, URL) apply to every connection.
type Server struct {
	*Broker
	ln net.Listener
	wg sync.WaitGroup // accept loop, connections, armed timers

	mu     sync.Mutex
	conns  map[*serverConn]struct{}
	closed bool
}

// Listen starts a server on a random loopback port; Close stops it.
// opts.URL is ignored: lookups answer the server's own URL.
func Listen(opts Options) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	opts.URL = "pulsar://" + ln.Addr().String()
	if opts.TLS != nil {
		ln = tls.NewListener(ln, opts.TLS)
		opts.URL = "pulsar+ssl://" + ln.Addr().String()
	}
	b, err := New(opts)
	if err != nil {
		ln.Close()
		return nil, err
	}
	s := &Server{Broker: b, ln: ln, conns: make(map[*serverConn]struct{})}
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

// Start starts a server that stops when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s, err := Listen(opts)
	if err != nil {
		t.Fatalf("fakebroker: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops accepting, closes every connection and waits for every
// goroutine of the server, including receipt-delay timers. It is safe to
// call more than once.
func (s *Server) Close() {
	s.mu.Lock()
	already := s.closed
	s.closed = true
	s.mu.Unlock()
	if !already {
		s.ln.Close()
	}
	for _, c := range s.snapshot() {
		c.close()
	}
	s.wg.Wait()
}

// CloseConnections closes every open connection now, as a broker crash or
// a network cut would, and returns how many it closed. Clients reconnect.
func (s *Server) CloseConnections() int {
	n := 0
	for _, c := range s.snapshot() {
		if c.close() {
			n++
		}
	}
	s.logf("closed %d connections", n)
	return n
}

// UnloadProducers sends CLOSE_PRODUCER for every registered producer, as a
// broker does when it unloads their topics, and forgets them (Conn.Unload);
// clients look the topic up again and re-register on the connection they
// have. It returns how many producers it closed.
func (s *Server) UnloadProducers() int {
	n := 0
	for _, c := range s.snapshot() {
		n += c.unload()
	}
	s.logf("unloaded %d producers", n)
	return n
}

// Challenge sends AUTH_CHALLENGE on every open connection (Conn.Challenge),
// as a broker does when the clients' credentials expire, and returns how
// many it sent. Their AUTH_RESPONSEs show in Auths.
func (s *Server) Challenge() int {
	n := 0
	for _, c := range s.snapshot() {
		if c.challenge() {
			n++
		}
	}
	s.logf("challenged %d connections", n)
	return n
}

func (s *Server) snapshot() []*serverConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*serverConn, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, c)
	}
	return out
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(5 * time.Millisecond) // e.g. out of file descriptors
			continue
		}
		if tc, ok := nc.(*net.TCPConn); ok {
			_ = tc.SetNoDelay(true)
			_ = tc.SetReadBuffer(1 << 20)
			_ = tc.SetWriteBuffer(1 << 20)
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			return
		}
		c := &serverConn{s: s, nc: nc, c: s.NewConn()}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go c.serve()
	}
}

// serverConn is one accepted socket and its state machine.
type serverConn struct {
	s       *Server
	nc      net.Conn
	closing atomic.Bool

	mu         sync.Mutex // guards c, writes to nc, and the fields below
	c          *Conn
	closed     bool
	timer      *time.Timer
	timerArmed bool
}

func (sc *serverConn) serve() {
	defer sc.s.wg.Done()
	defer func() {
		sc.close()
		sc.s.mu.Lock()
		delete(sc.s.conns, sc)
		sc.s.mu.Unlock()
	}()
	buf := make([]byte, readBufSize)
	for {
		n, rerr := sc.nc.Read(buf)
		if n > 0 && !sc.answer(buf[:n]) {
			return
		}
		if rerr != nil {
			if !errors.Is(rerr, io.EOF) && !errors.Is(rerr, net.ErrClosed) {
				sc.s.logf("read: %v", rerr)
			}
			return
		}
	}
}

// answer feeds one read to the Conn and writes its replies; false ends
// the connection.
func (sc *serverConn) answer(in []byte) bool {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.closed {
		return false
	}
	out, err := sc.c.Answer(in, time.Now())
	if len(out) > 0 {
		if _, werr := sc.nc.Write(out); werr != nil {
			return false
		}
	}
	if err != nil {
		return false
	}
	sc.armLocked()
	return true
}

// armLocked starts the timer for the Conn's first held reply, unless it
// runs already (held replies come due in order, so it is set for the
// first). The caller holds mu and a WaitGroup count (it is the serving
// goroutine or the timer itself), so the Add below cannot race with
// Close's Wait reaching zero.
func (sc *serverConn) armLocked() {
	due, ok := sc.c.Deadline()
	if !ok || sc.timerArmed {
		return
	}
	sc.s.wg.Add(1)
	sc.timerArmed = true
	d := max(time.Until(due), 0)
	if sc.timer == nil {
		sc.timer = time.AfterFunc(d, sc.fire)
	} else {
		sc.timer.Reset(d)
	}
}

// fire writes the held replies that are due.
func (sc *serverConn) fire() {
	defer sc.s.wg.Done()
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.timerArmed = false
	if sc.closed {
		return
	}
	if out := sc.c.Tick(time.Now()); len(out) > 0 {
		if _, err := sc.nc.Write(out); err != nil {
			sc.nc.Close() // the serving goroutine notices and cleans up
			return
		}
	}
	sc.armLocked()
}

func (sc *serverConn) unload() int {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.closed {
		return 0
	}
	out, n := sc.c.Unload()
	if len(out) > 0 {
		if _, err := sc.nc.Write(out); err != nil {
			sc.nc.Close()
		}
	}
	return n
}

func (sc *serverConn) challenge() bool {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.closed {
		return false
	}
	out := sc.c.Challenge()
	if len(out) == 0 {
		return false
	}
	if _, err := sc.nc.Write(out); err != nil {
		sc.nc.Close()
		return false
	}
	return true
}

// close closes the socket (first, so that a write blocked on a client that
// does not read returns), then the Conn and the timer. It reports whether
// this call closed it.
func (sc *serverConn) close() bool {
	if !sc.closing.CompareAndSwap(false, true) {
		return false
	}
	sc.nc.Close()
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.closed = true
	sc.c.Close()
	if sc.timerArmed && sc.timer.Stop() {
		sc.timerArmed = false
		sc.s.wg.Done()
	}
	return true
}
