// Tests of the fault proxy against a local echo server: each fault must
// have the effect a client would see from a real network (reset, silence,
// latency, a capped rate, EOF, refusal), and the proxy must end by itself
// and leave no goroutine behind.
package faultproxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// echoServer echoes every connection until the test ends; it also records
// every byte it received, per connection, for the half-close test.
type echoServer struct {
	ln   net.Listener
	mu   sync.Mutex
	got  []*bytes.Buffer
	wg   sync.WaitGroup
	echo bool
}

func newEcho(t *testing.T, echo bool) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &echoServer{ln: ln, echo: echo}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			buf := &bytes.Buffer{}
			s.mu.Lock()
			s.got = append(s.got, buf)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				b := make([]byte, 4096)
				for {
					n, err := c.Read(b)
					if n > 0 {
						s.mu.Lock()
						buf.Write(b[:n])
						s.mu.Unlock()
						if s.echo {
							if _, err := c.Write(b[:n]); err != nil {
								return
							}
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

func (s *echoServer) received(i int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i >= len(s.got) {
		return ""
	}
	return s.got[i].String()
}

func newProxy(t *testing.T, target string) *Proxy {
	t.Helper()
	p, err := New(Config{Listen: "127.0.0.1:0", Target: target, Lifetime: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip writes msg and reads the echo within timeout.
func roundTrip(c net.Conn, msg string, timeout time.Duration) (string, error) {
	c.SetDeadline(time.Now().Add(timeout))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write([]byte(msg)); err != nil {
		return "", err
	}
	b := make([]byte, len(msg))
	_, err := io.ReadFull(c, b)
	return string(b), err
}

func TestForwardsAndCounts(t *testing.T) {
	echo := newEcho(t, true)
	p := newProxy(t, echo.ln.Addr().String())
	c := dial(t, p.Addr())
	for i := 0; i < 10; i++ {
		if got, err := roundTrip(c, "hello", time.Second); err != nil || got != "hello" {
			t.Fatalf("round trip %d: %q %v", i, got, err)
		}
	}
	// The counters move just after each write; give them a moment.
	st := p.Stats()
	for i := 0; st.BytesDown < 50 && i < 100; i++ {
		time.Sleep(5 * time.Millisecond)
		st = p.Stats()
	}
	if st.Accepted != 1 || st.Active != 1 || st.BytesUp != 50 || st.BytesDown != 50 {
		t.Fatalf("stats %+v, want 1 accepted, 1 active, 50 bytes each way", st)
	}
}

func TestRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "10.1.2.3:0", "localhost"} {
		if p, err := New(Config{Listen: addr, Target: "127.0.0.1:1"}); err == nil {
			p.Close()
			t.Errorf("%q: listening was allowed", addr)
		}
	}
}

func TestCutResetsBothSides(t *testing.T) {
	echo := newEcho(t, true)
	p := newProxy(t, echo.ln.Addr().String())
	c := dial(t, p.Addr())
	if _, err := roundTrip(c, "x", time.Second); err != nil {
		t.Fatal(err)
	}
	if n := p.Cut(); n != 1 {
		t.Fatalf("Cut hit %d connections, want 1", n)
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err := c.Read(make([]byte, 1))
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read after cut: %v, want ECONNRESET", err)
	}
	// A new connection works.
	if got, err := roundTrip(dial(t, p.Addr()), "again", time.Second); err != nil || got != "again" {
		t.Fatalf("after cut: %q %v", got, err)
	}
}

func TestStallSilencesOpenConnectionsOnly(t *testing.T) {
	echo := newEcho(t, true)
	p := newProxy(t, echo.ln.Addr().String())
	c := dial(t, p.Addr())
	if _, err := roundTrip(c, "x", time.Second); err != nil {
		t.Fatal(err)
	}
	if n := p.Stall(); n != 1 {
		t.Fatalf("Stall hit %d connections, want 1", n)
	}
	if _, err := roundTrip(c, "y", 300*time.Millisecond); !errors.Is(err, syscall.ETIMEDOUT) && !isTimeout(err) {
		t.Fatalf("stalled round trip: %v, want a timeout", err)
	}
	if got, err := roundTrip(dial(t, p.Addr()), "new", time.Second); err != nil || got != "new" {
		t.Fatalf("a new connection during the stall: %q %v", got, err)
	}
	p.Unstall()
	// The stalled "y" arrives now, then the next round trip works.
	b := make([]byte, 1)
	c.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := io.ReadFull(c, b); err != nil || string(b) != "y" {
		t.Fatalf("after unstall: %q %v", b, err)
	}
	if got, err := roundTrip(c, "z", time.Second); err != nil || got != "z" {
		t.Fatalf("after unstall: %q %v", got, err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestDelayAddsLatency(t *testing.T) {
	echo := newEcho(t, true)
	p := newProxy(t, echo.ln.Addr().String())
	c := dial(t, p.Addr())
	p.SetDelay(100 * time.Millisecond)
	start := time.Now()
	if _, err := roundTrip(c, "x", 2*time.Second); err != nil {
		t.Fatal(err)
	}
	// Delayed both ways.
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Fatalf("round trip took %v with 100 ms each way", d)
	}
	p.SetDelay(0)
	start = time.Now()
	if _, err := roundTrip(c, "x", 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 150*time.Millisecond {
		t.Fatalf("round trip took %v after the delay was removed", d)
	}
}

func TestThrottleCapsTheRate(t *testing.T) {
	echo := newEcho(t, false)
	p := newProxy(t, echo.ln.Addr().String())
	c := dial(t, p.Addr())
	const rate = 256 << 10
	p.SetThrottle(rate, 0)
	data := bytes.Repeat([]byte{'a'}, rate/2) // half a second's worth
	start := time.Now()
	if _, err := c.Write(data); err != nil {
		t.Fatal(err)
	}
	for p.Stats().BytesUp < int64(len(data)) {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("only %d of %d bytes forwarded", p.Stats().BytesUp, len(data))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if d := time.Since(start); d < 400*time.Millisecond || d > 2*time.Second {
		t.Fatalf("%d bytes at %d B/s took %v, want about 500 ms", len(data), rate, d)
	}
}

func TestHalfCloseGivesTheClientEOF(t *testing.T) {
	echo := newEcho(t, true)
	p := newProxy(t, echo.ln.Addr().String())
	c := dial(t, p.Addr())
	if _, err := roundTrip(c, "a", time.Second); err != nil {
		t.Fatal(err)
	}
	if n := p.HalfClose(); n != 1 {
		t.Fatalf("HalfClose hit %d connections", n)
	}
	c.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read after half-close: %v, want EOF", err)
	}
	// The client's writes still reach the server.
	if _, err := c.Write([]byte("b")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Second)
	for echo.received(0) != "ab" {
		if time.Now().After(deadline) {
			t.Fatalf("server received %q, want \"ab\"", echo.received(0))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRefuseAndAcceptAgain(t *testing.T) {
	echo := newEcho(t, true)
	p := newProxy(t, echo.ln.Addr().String())
	p.Refuse()
	if c, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		c.Close()
		t.Fatal("connect succeeded while refusing")
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("connect while refusing: %v, want ECONNREFUSED", err)
	}
	if err := p.Accept(); err != nil {
		t.Fatal(err)
	}
	if got, err := roundTrip(dial(t, p.Addr()), "back", time.Second); err != nil || got != "back" {
		t.Fatalf("after Accept: %q %v", got, err)
	}
}

func TestTargetDownResetsTheClient(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	p := newProxy(t, ln.Addr().String())
	ln.Close() // closed after the proxy took its own port: nothing listens there now
	// On loopback the reset can arrive before connect returns.
	c, err := net.DialTimeout("tcp", p.Addr(), 2*time.Second)
	if err == nil {
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, err = c.Read(make([]byte, 1))
	}
	if err == nil || isTimeout(err) {
		t.Fatalf("a connection through a proxy to a dead target: %v, want a reset or EOF", err)
	}
	for i := 0; p.Stats().Refused != 1 && i < 100; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if p.Stats().Refused != 1 {
		t.Fatalf("stats %+v, want 1 refused", p.Stats())
	}
}

func TestLifetimeEndsTheProxyAndCloseLeavesNoGoroutines(t *testing.T) {
	echo := newEcho(t, true)
	before := runtime.NumGoroutine()
	p, err := New(Config{Listen: "127.0.0.1:0", Target: echo.ln.Addr().String(), Lifetime: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, p.Addr())
	if _, err := roundTrip(c, "x", time.Second); err != nil {
		t.Fatal(err)
	}
	p.Stall() // a stalled pump must not hold the proxy open
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("read after the proxy's lifetime: %v, want the connection closed", err)
	}
	if _, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		t.Fatal("the proxy still accepts after its lifetime")
	}
	p.Close()
	c.Close()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			n := runtime.Stack(buf, true)
			t.Fatalf("%d goroutines before, %d after Close:\n%s", before, runtime.NumGoroutine(), buf[:n])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestChaosIsRepeatableAndUndoesItself(t *testing.T) {
	echo := newEcho(t, true)
	kinds := func(seed uint64) []Kind {
		p := newProxy(t, echo.ln.Addr().String())
		ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
		defer cancel()
		var out []Kind
		for _, e := range Chaos(ctx, []*Proxy{p}, ChaosConfig{Seed: seed, Interval: 40 * time.Millisecond}) {
			out = append(out, e.Kind)
		}
		// Every timed fault is undone: the proxy forwards normally.
		if got, err := roundTrip(dial(t, p.Addr()), "ok", time.Second); err != nil || got != "ok" {
			t.Fatalf("after chaos: %q %v", got, err)
		}
		return out
	}
	a, b := kinds(7), kinds(7)
	if len(a) < 5 {
		t.Fatalf("only %d faults in 600 ms at 40 ms intervals", len(a))
	}
	n := min(len(a), len(b)) // timing decides how many fit
	if strings.Join(kindStrings(a[:n]), ",") != strings.Join(kindStrings(b[:n]), ",") {
		t.Fatalf("same seed, different schedules:\n%v\n%v", a, b)
	}
	seen := map[Kind]bool{}
	for _, k := range a {
		seen[k] = true
	}
	if len(seen) < 3 {
		t.Fatalf("chaos used only %v", seen)
	}
}

func kindStrings(ks []Kind) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = string(k)
	}
	return out
}
