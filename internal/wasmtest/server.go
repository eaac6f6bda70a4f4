// A FakeBroker behind a TCP listener, for tests of a whole client (the core
// runtime driving the module) without a real broker.
//
// How this works: Serve listens on 127.0.0.1 at a random port and serves
// every connection in its own goroutine: it reads what arrives, cuts it
// into whole frames, answers them with the one FakeBroker under a mutex
// (so its counters are shared by all connections and readable with Do),
// and writes the replies. The test's cleanup closes the listener and every
// connection and waits for the goroutines.
package wasmtest

import (
	"encoding/binary"
	"net"
	"sync"
	"testing"
)

// Server serves one FakeBroker over TCP.
type Server struct {
	mu     sync.Mutex
	broker *FakeBroker
	ln     net.Listener
	conns  map[net.Conn]bool
	wg     sync.WaitGroup
}

// Serve serves b until the test ends. b.URL is set to the server's URL, so
// lookups point back at it.
func Serve(tb testing.TB, b *FakeBroker) *Server {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("wasmtest: listening: %v", err)
	}
	s := &Server{broker: b, ln: ln, conns: map[net.Conn]bool{}}
	b.URL = s.URL()
	s.wg.Add(1)
	go s.accept()
	tb.Cleanup(s.close)
	return s
}

// URL is the service URL of the server.
func (s *Server) URL() string { return "pulsar://" + s.ln.Addr().String() }

// Do runs f on the broker, with no connection answering meanwhile.
func (s *Server) Do(f func(*FakeBroker)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s.broker)
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return // closed
		}
		s.mu.Lock()
		if s.conns == nil {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = true
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serve(c)
	}
}

// serve answers one connection's frames until it closes. A frame the
// broker cannot parse closes the connection, as a real broker would.
func (s *Server) serve(c net.Conn) {
	defer s.wg.Done()
	defer c.Close()
	var pending []byte
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		pending = append(pending, buf[:n]...)
		whole := 0
		for len(pending)-whole >= 4 {
			size := 4 + int(binary.BigEndian.Uint32(pending[whole:]))
			if len(pending)-whole < size {
				break
			}
			whole += size
		}
		if whole == 0 {
			continue
		}
		s.mu.Lock()
		reply, err := s.broker.Answer(pending[:whole])
		s.mu.Unlock()
		if err != nil {
			return
		}
		pending = pending[:copy(pending, pending[whole:])]
		if len(reply) > 0 {
			if _, err := c.Write(reply); err != nil {
				return
			}
		}
	}
}

func (s *Server) close() {
	s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.conns = nil
	s.mu.Unlock()
	s.wg.Wait()
}
