// Connections: the sockets behind the engine's ConnIDs.
//
// Each connection has a dialer goroutine (which becomes the reader) and a
// writer goroutine. The reader feeds every read into the engine under the
// client mutex. The writer waits for output the pump queued, takes all of
// it at once and writes it with one vectored write, then hands the buffers
// back for the engine to reuse. Either side failing tells the engine,
// which closes the connection and reconnects what was on it.
package driver

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"time"

	"github.com/pulsar-producer/pulsar-producer/core/engine"
)

const readBufferSize = 64 << 10

type netConn struct {
	c    *Client
	id   engine.ConnID
	addr string
	wake chan struct{} // capacity 1: output is queued, or the conn shut

	// Guarded by c.mu.
	nc     net.Conn
	outq   [][]byte
	closed bool
}

// dial opens the socket (with TLS for a pulsar+ssl:// client), gets fresh
// credentials, and starts the reader and writer. The connection timeout
// bounds all of it; the engine's own handshake deadline, which started a
// little earlier, stands behind. This dial ends a tenth of the timeout
// before it, so that a slow step (an OAuth2 issuer that does not answer)
// is reported as itself, not as a broker that did not answer CONNECT.
func (n *netConn) dial(timeout time.Duration) {
	c := n.c
	ctx, cancel := context.WithTimeout(context.Background(), timeout-timeout/10)
	sock, err := dialer.DialContext(ctx, "tcp", n.addr)
	if err == nil && c.tls != nil {
		tc := tls.Client(sock, forHost(c.tls, n.addr))
		if herr := tc.HandshakeContext(ctx); herr != nil {
			sock.Close()
			err = tlsDialError(n.addr, herr)
		} else {
			sock = tc
		}
	}
	var method string
	var data []byte
	if creds := c.credentials(); err == nil && creds != nil {
		method = creds.method()
		if data, err = creds.get(ctx); err != nil {
			sock.Close()
		}
	}
	cancel()
	c.lock()
	if err != nil {
		c.eng.ConnFailed(n.id, err, c.now())
		c.unlock()
		return
	}
	if n.closed {
		c.unlock()
		sock.Close()
		return
	}
	n.nc = sock
	c.eng.SetCredentials(method, data)
	c.eng.ConnOpened(n.id, c.now())
	c.unlock()
	go n.writeLoop(sock)
	n.readLoop(sock)
}

func (n *netConn) readLoop(sock net.Conn) {
	buf := make([]byte, readBufferSize)
	c := n.c
	for {
		k, err := sock.Read(buf)
		c.lock()
		if k > 0 {
			c.eng.Receive(n.id, buf[:k], c.now())
		}
		if err != nil {
			if !n.closed {
				c.eng.ConnClosed(n.id, readError(err), c.now())
			}
			c.unlock()
			return
		}
		c.unlock()
	}
}

// readError turns an orderly EOF into nil, the engine's "closed by peer".
func readError(err error) error {
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

// enqueue queues output for the writer. Called with c.mu held.
func (n *netConn) enqueue(data []byte) {
	if n.closed {
		n.c.spare = append(n.c.spare, data[:0])
		return
	}
	n.outq = append(n.outq, data)
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

func (n *netConn) writeLoop(sock net.Conn) {
	c := n.c
	var bufs net.Buffers
	var batch [][]byte
	for range n.wake {
		c.lock()
		if n.closed {
			c.unlock()
			return
		}
		batch = append(batch[:0], n.outq...)
		clear(n.outq)
		n.outq = n.outq[:0]
		c.mu.Unlock()

		bufs = append(bufs[:0], batch...)
		_, err := bufs.WriteTo(sock)

		c.lock()
		for i, b := range batch {
			if len(c.spare) < 16 && cap(b) <= 4<<20 {
				c.spare = append(c.spare, b[:0])
			}
			batch[i] = nil
		}
		if err != nil && !n.closed {
			c.eng.ConnClosed(n.id, err, c.now())
			c.unlock()
			return
		}
		c.unlock()
	}
}

// shut closes the socket and stops both loops. Called with c.mu held.
func (n *netConn) shut() {
	if n.closed {
		return
	}
	n.closed = true
	n.outq = nil
	if n.nc != nil {
		n.nc.Close()
	}
	close(n.wake)
}
