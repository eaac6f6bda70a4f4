// Package faultproxy is a TCP proxy on the loopback interface that injects
// network faults between a client and one server, under a test's control.
//
// How this works: New listens on a 127.0.0.1 address and forwards every
// accepted connection to one target address. Each connection is a pair of
// sockets with two pumps (client->server "up", server->client "down"). A pump
// reads a chunk, stamps it, and hands it to a writer that waits for the
// chunk's delay to pass and for the direction's throttle to allow it before
// writing; a stalled pair holds its chunks (and so stops reading, and TCP's
// windows fill up, as with a hung peer). The faults:
//
//   - Cut: reset every open connection (SO_LINGER 0, then close both sides:
//     each peer sees ECONNRESET).
//   - Stall / Unstall: freeze the connections open at the time; new ones are
//     not affected, so a client that gives up on a stalled connection can
//     reconnect.
//   - SetDelay: add latency to every chunk, in both directions.
//   - SetThrottle: cap the bytes per second of each direction.
//   - HalfClose: send FIN to the clients (they read EOF) and drop what the
//     server sends them, while what they still write reaches the server.
//   - Refuse / Accept: close the listening socket, so connects are refused
//     (RST to the SYN), and open it again on the same port.
//   - Chaos: a seeded random schedule of all of the above.
//
// The proxy is bounded in time: it closes itself after Config.Lifetime even
// if a test forgets to, and Close waits for every goroutine it started.
// Counters (connections accepted, bytes each way, faults) let a test prove
// that traffic crossed it.
package faultproxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a proxy.
type Config struct {
	// Listen is the address to listen on; it must be a loopback address.
	// Port 0 picks a free port.
	Listen string
	// Target is the server's address.
	Target string
	// Lifetime bounds how long the proxy runs (default 1 hour).
	Lifetime time.Duration
	// DialTimeout bounds the connect to the target (default 5 s).
	DialTimeout time.Duration
}

// Stats are the proxy's counters since it started.
type Stats struct {
	Accepted  int64 // client connections accepted
	Active    int64 // connections open now
	Refused   int64 // connections closed because the target did not answer
	BytesUp   int64 // client -> server bytes forwarded
	BytesDown int64 // server -> client bytes forwarded
	Cuts      int64 // connections reset by Cut
	Stalls    int64 // connections stalled by Stall
	HalfClose int64 // connections half-closed by HalfClose
}

// Proxy is a fault-injecting TCP proxy. Its methods are safe for
// concurrent use.
type Proxy struct {
	cfg    Config
	addr   string
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	ln       net.Listener // nil while refusing
	conns    map[*pair]struct{}
	closed   bool
	delay    time.Duration
	rate     [2]int64 // bytes per second, per direction (0: unlimited)
	buckets  [2]*bucket
	stallGen int64

	accepted, refused, bytesUp, bytesDown, cuts, stalls, halfCloses atomic.Int64
}

const (
	up   = 0
	down = 1
)

// New starts a proxy.
func New(cfg Config) (*Proxy, error) {
	host, _, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen address %q: %w", cfg.Listen, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("faultproxy: listen address %q is not a loopback address", cfg.Listen)
	}
	if cfg.Lifetime <= 0 {
		cfg.Lifetime = time.Hour
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Lifetime)
	p := &Proxy{cfg: cfg, addr: ln.Addr().String(), ctx: ctx, cancel: cancel, ln: ln, conns: map[*pair]struct{}{}}
	p.buckets[up], p.buckets[down] = &bucket{}, &bucket{}
	p.wg.Add(2)
	go p.acceptLoop(ln)
	go func() {
		// The lifetime bound: whatever the test does, the proxy ends.
		defer p.wg.Done()
		<-ctx.Done()
		p.shutdown()
	}()
	return p, nil
}

// Addr is the address the proxy listens on (host:port).
func (p *Proxy) Addr() string { return p.addr }

// Target is the address the proxy forwards to.
func (p *Proxy) Target() string { return p.cfg.Target }

// Stats returns the counters.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	active := int64(len(p.conns))
	p.mu.Unlock()
	return Stats{
		Accepted: p.accepted.Load(), Active: active, Refused: p.refused.Load(),
		BytesUp: p.bytesUp.Load(), BytesDown: p.bytesDown.Load(),
		Cuts: p.cuts.Load(), Stalls: p.stalls.Load(), HalfClose: p.halfCloses.Load(),
	}
}

// Close stops the proxy: the listener and every connection are closed, and
// Close returns once every goroutine of the proxy has ended.
func (p *Proxy) Close() error {
	p.cancel()
	p.wg.Wait()
	return nil
}

func (p *Proxy) shutdown() {
	p.mu.Lock()
	p.closed = true
	ln := p.ln
	p.ln = nil
	conns := p.snapshot()
	p.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	for _, c := range conns {
		c.close(true)
	}
}

// snapshot lists the open pairs; p.mu must be held.
func (p *Proxy) snapshot() []*pair {
	out := make([]*pair, 0, len(p.conns))
	for c := range p.conns {
		out = append(out, c)
	}
	return out
}

func (p *Proxy) acceptLoop(ln net.Listener) {
	defer p.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return // closed by Refuse or shutdown
		}
		p.accepted.Add(1)
		p.wg.Add(1)
		go p.serve(c.(*net.TCPConn))
	}
}

func (p *Proxy) serve(client *net.TCPConn) {
	defer p.wg.Done()
	d := net.Dialer{Timeout: p.cfg.DialTimeout}
	sc, err := d.DialContext(p.ctx, "tcp", p.cfg.Target)
	if err != nil {
		// The server is down: reset the client so it fails at once, as it
		// would connecting to the server itself.
		p.refused.Add(1)
		client.SetLinger(0)
		client.Close()
		return
	}
	server := sc.(*net.TCPConn)
	pr := &pair{p: p, sides: [2]*net.TCPConn{client, server}, done: make(chan struct{})}
	pr.cond = sync.NewCond(&pr.mu)
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		client.Close()
		server.Close()
		return
	}
	p.conns[pr] = struct{}{}
	p.mu.Unlock()

	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); pr.pump(up, client, server) }()
	go func() { defer wg.Done(); pr.pump(down, server, client) }()
	wg.Wait()
	pr.close(false)
	p.mu.Lock()
	delete(p.conns, pr)
	p.mu.Unlock()
}

// Cut resets every open connection and returns how many there were.
func (p *Proxy) Cut() int {
	p.mu.Lock()
	conns := p.snapshot()
	p.mu.Unlock()
	for _, c := range conns {
		c.close(true)
	}
	p.cuts.Add(int64(len(conns)))
	return len(conns)
}

// Stall freezes every open connection: nothing more is forwarded on them,
// in either direction, until Unstall, a Cut, or one side closes. It returns
// how many connections were stalled. Connections opened later flow.
func (p *Proxy) Stall() int {
	p.mu.Lock()
	p.stallGen++
	conns := p.snapshot()
	p.mu.Unlock()
	for _, c := range conns {
		c.setStalled(true)
	}
	p.stalls.Add(int64(len(conns)))
	return len(conns)
}

// Unstall lets every stalled connection flow again.
func (p *Proxy) Unstall() {
	p.mu.Lock()
	conns := p.snapshot()
	p.mu.Unlock()
	for _, c := range conns {
		c.setStalled(false)
	}
}

// HalfClose sends FIN to every connected client (it reads EOF) and drops
// whatever the server sends it from now on; the client's writes still reach
// the server until the client closes. It returns how many connections were
// half-closed.
func (p *Proxy) HalfClose() int {
	p.mu.Lock()
	conns := p.snapshot()
	p.mu.Unlock()
	for _, c := range conns {
		c.halfClose()
	}
	p.halfCloses.Add(int64(len(conns)))
	return len(conns)
}

// SetDelay delays every chunk forwarded from now on by d (0: none).
func (p *Proxy) SetDelay(d time.Duration) {
	p.mu.Lock()
	p.delay = max(d, 0)
	p.mu.Unlock()
}

// SetThrottle caps the client->server and server->client rates in bytes per
// second (0: unlimited).
func (p *Proxy) SetThrottle(upBytesPerSec, downBytesPerSec int64) {
	p.mu.Lock()
	p.rate[up], p.rate[down] = max(upBytesPerSec, 0), max(downBytesPerSec, 0)
	p.mu.Unlock()
}

// Refuse closes the listening socket: new connections are refused until
// Accept. Open connections are not touched.
func (p *Proxy) Refuse() {
	p.mu.Lock()
	ln := p.ln
	p.ln = nil
	p.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
}

// Accept listens again on the same address after Refuse.
func (p *Proxy) Accept() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errors.New("faultproxy: closed")
	}
	if p.ln != nil {
		return nil
	}
	var err error
	// The port was ours a moment ago; on loopback it is free again at once
	// (Go sets SO_REUSEADDR), but retry briefly in case the kernel lags.
	for i := 0; i < 50; i++ {
		var ln net.Listener
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			p.ln = ln
			p.wg.Add(1)
			go p.acceptLoop(ln)
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("faultproxy: listening again on %s: %w", p.addr, err)
}

// settings returns what a writer of direction dir must apply now.
func (p *Proxy) settings(dir int) (time.Duration, int64, *bucket) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.delay, p.rate[dir], p.buckets[dir]
}

// pair is one proxied connection.
type pair struct {
	p     *Proxy
	sides [2]*net.TCPConn // client, server

	mu      sync.Mutex
	cond    *sync.Cond
	stalled bool
	half    bool
	closing bool
	once    sync.Once
	done    chan struct{}
}

func (c *pair) setStalled(v bool) {
	c.mu.Lock()
	c.stalled = v
	c.mu.Unlock()
	c.cond.Broadcast()
}

func (c *pair) halfClose() {
	c.mu.Lock()
	c.half = true
	c.mu.Unlock()
	c.sides[0].CloseWrite()
}

// close closes both sides; with reset, each peer gets an RST.
func (c *pair) close(reset bool) {
	c.once.Do(func() {
		c.mu.Lock()
		c.closing = true
		c.mu.Unlock()
		c.cond.Broadcast()
		close(c.done)
		for _, s := range c.sides {
			if reset {
				s.SetLinger(0)
			}
			s.Close()
		}
	})
}

// gate blocks while the pair is stalled; false means the pair is closing.
func (c *pair) gate() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.stalled && !c.closing {
		c.cond.Wait()
	}
	return !c.closing
}

type chunk struct {
	b  []byte
	at time.Time
}

// pump forwards one direction: a reader stamps chunks, this goroutine
// writes them after their delay and within the throttle.
func (c *pair) pump(dir int, from, to *net.TCPConn) {
	ch := make(chan chunk, 64)
	go func() {
		defer close(ch)
		for {
			buf := make([]byte, 32<<10)
			n, err := from.Read(buf)
			if n > 0 {
				select {
				case ch <- chunk{buf[:n], time.Now()}:
				case <-c.done:
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	defer func() {
		// Whatever ended this direction ends the connection: a peer that
		// closed or reset, or the proxy closing it.
		c.close(false)
		for range ch {
		}
	}()
	for k := range ch {
		if !c.gate() {
			return
		}
		delay, rate, bkt := c.p.settings(dir)
		if wait := time.Until(k.at.Add(delay)); wait > 0 {
			select {
			case <-time.After(wait):
			case <-c.done:
				return
			}
		}
		if dir == down {
			c.mu.Lock()
			half := c.half
			c.mu.Unlock()
			if half {
				continue // the client was sent FIN: drop what it would read
			}
		}
		b := k.b
		for len(b) > 0 {
			n := len(b)
			if rate > 0 {
				// Write in slices of at most 1/20 s worth, each after the
				// bucket allows it, so the rate is smooth.
				n = min(n, int(max(rate/20, 512)))
				if !bkt.take(rate, int64(n), c.done) {
					return
				}
			}
			if _, err := to.Write(b[:n]); err != nil {
				return
			}
			if dir == up {
				c.p.bytesUp.Add(int64(n))
			} else {
				c.p.bytesDown.Add(int64(n))
			}
			b = b[n:]
			if !c.gate() {
				return
			}
		}
	}
}

// bucket paces one direction over all connections of a proxy.
type bucket struct {
	mu   sync.Mutex
	next time.Time // when the next byte may go
}

// take waits until n bytes may be sent at rate bytes per second.
func (b *bucket) take(rate, n int64, done <-chan struct{}) bool {
	b.mu.Lock()
	now := time.Now()
	if b.next.Before(now) {
		b.next = now
	}
	at := b.next
	b.next = b.next.Add(time.Duration(n * int64(time.Second) / rate))
	b.mu.Unlock()
	if wait := time.Until(at); wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-done:
			return false
		}
	}
	return true
}
