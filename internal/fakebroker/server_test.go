// The TCP server, driven by a raw client that writes frames and reads the
// replies: what the server adds to the state machine (accepting, timers
// for delayed receipts, hooks that reach every connection, shutdown).
package fakebroker

import (
	"bufio"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/pulsar-producer/pulsar-producer/internal/pb"
)

// rawClient speaks frames to a Server.
type rawClient struct {
	t  *testing.T
	nc net.Conn
	r  *bufio.Reader
}

// dialRaw connects and, unless the server emulates HTTP, completes the
// handshake and registers producer 1.
func dialRaw(t *testing.T, s *Server) *rawClient {
	t.Helper()
	nc, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	rc := &rawClient{t: t, nc: nc, r: bufio.NewReader(nc)}
	if s.opts.HTTP {
		return rc
	}
	rc.write(append(connectCmd(), producerCmd(1, 1)...))
	if c := rc.read(); c.GetConnected().GetProtocolVersion() != 21 {
		t.Fatalf("CONNECT answered with %v", c)
	}
	if c := rc.read(); c.GetProducerSuccess().GetRequestId() != 1 {
		t.Fatalf("PRODUCER answered with %v", c)
	}
	return rc
}

func (rc *rawClient) write(b []byte) {
	rc.t.Helper()
	if _, err := rc.nc.Write(b); err != nil {
		rc.t.Fatal(err)
	}
}

// next reads one frame, or returns the read error.
func (rc *rawClient) next(timeout time.Duration) (*pb.BaseCommand, error) {
	_ = rc.nc.SetReadDeadline(time.Now().Add(timeout))
	var buf []byte
	for {
		f, n, err := ReadFrame(buf)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			return f.Command, nil
		}
		b, err := rc.r.ReadByte()
		if err != nil {
			return nil, err
		}
		buf = append(buf, b)
	}
}

func (rc *rawClient) read() *pb.BaseCommand {
	rc.t.Helper()
	c, err := rc.next(5 * time.Second)
	if err != nil {
		rc.t.Fatal(err)
	}
	return c
}

// expectEOF checks that the server closed the connection.
func (rc *rawClient) expectEOF() {
	rc.t.Helper()
	if c, err := rc.next(5 * time.Second); !errors.Is(err, io.EOF) {
		rc.t.Fatalf("expected the connection to end, got %v, %v", c, err)
	}
}

func TestServerAnswers(t *testing.T) {
	s := Start(t, Options{LedgerID: 3})
	if s.URL() != "pulsar://"+s.Addr() {
		t.Fatalf("URL %s for address %s", s.URL(), s.Addr())
	}
	rc := dialRaw(t, s)
	rc.write(AppendCommand(nil, &pb.BaseCommand{Type: pb.BaseCommand_LOOKUP.Enum(),
		LookupTopic: &pb.CommandLookupTopic{Topic: proto.String("t"), RequestId: proto.Uint64(2)}}))
	if c := rc.read().GetLookupTopicResponse(); c.GetBrokerServiceUrl() != s.URL() {
		t.Fatalf("LOOKUP answered with %v", c)
	}
	// A frame written one byte at a time is answered once it is whole.
	for _, b := range sendCmd(1, 0, 1, false) {
		rc.write([]byte{b})
	}
	if c := rc.read().GetSendReceipt(); c.GetSequenceId() != 0 || c.GetMessageId().GetLedgerId() != 3 {
		t.Fatalf("SEND answered with %v", c)
	}
	if st := s.Stats(); st.Connections != 1 || st.OpenConnections != 1 || st.LiveProducers != 1 || st.Receipts != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestServerEndsConnectionOnMalformedInput(t *testing.T) {
	var logged []string
	s := Start(t, Options{Logf: func(f string, _ ...any) { logged = append(logged, f) }})
	rc := dialRaw(t, s)
	rc.write([]byte{0, 0, 0, 2, 0, 0})
	rc.expectEOF()
	s.Close() // waits for the connection's goroutine, so logged is complete
	if len(logged) == 0 {
		t.Fatal("nothing logged")
	}
}

// Receipts held by a delay come on a timer, in order, and a delay still
// pending holds up neither Close nor the goroutines it waits for.
func TestServerReceiptDelay(t *testing.T) {
	s := Start(t, Options{})
	rc := dialRaw(t, s)
	s.SetReceiptDelay(100 * time.Millisecond)
	start := time.Now()
	rc.write(append(sendCmd(1, 0, 1, false), sendCmd(1, 1, 1, false)...))
	for seq := range uint64(2) {
		if c := rc.read().GetSendReceipt(); c.GetSequenceId() != seq {
			t.Fatalf("receipt %d: %v", seq, c)
		}
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Fatalf("delayed receipts came after %v", d)
	}
	s.SetReceiptDelay(time.Hour)
	rc.write(sendCmd(1, 2, 1, false))
	for s.Stats().Receipts < 3 {
		time.Sleep(time.Millisecond)
	}
	start = time.Now()
	s.Close()
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Close took %v", d)
	}
	rc.expectEOF()
}

func TestServerDropAfterSends(t *testing.T) {
	s := Start(t, Options{})
	rc := dialRaw(t, s)
	s.DropAfterSends(1)
	rc.write(append(sendCmd(1, 0, 1, false), sendCmd(1, 1, 1, false)...))
	if c := rc.read().GetSendReceipt(); c.GetSequenceId() != 0 {
		t.Fatalf("SEND answered with %v", c)
	}
	rc.expectEOF()
	for s.Stats().OpenConnections != 0 {
		time.Sleep(time.Millisecond)
	}
}

func TestServerHTTP(t *testing.T) {
	s := Start(t, Options{HTTP: true})
	rc := dialRaw(t, s)
	rc.write(connectCmd())
	resp, err := io.ReadAll(rc.r)
	if err != nil || string(resp) != string(httpResponse) {
		t.Fatalf("answered %q, %v", resp, err)
	}
}

func TestServerUnloadAndCloseConnections(t *testing.T) {
	s := Start(t, Options{})
	a, b := dialRaw(t, s), dialRaw(t, s)
	if n := s.UnloadProducers(); n != 2 {
		t.Fatalf("unloaded %d producers", n)
	}
	for _, rc := range []*rawClient{a, b} {
		if c := rc.read().GetCloseProducer(); c.GetProducerId() != 1 {
			t.Fatalf("unload sent %v", c)
		}
	}
	if st := s.Stats(); st.LiveProducers != 0 {
		t.Fatalf("stats %+v", st)
	}
	if n := s.CloseConnections(); n != 2 {
		t.Fatalf("closed %d connections", n)
	}
	a.expectEOF()
	b.expectEOF()
	if n := s.CloseConnections(); n != 0 {
		t.Fatalf("closed %d connections twice", n)
	}
	// The server still accepts.
	c := dialRaw(t, s)
	c.write(sendCmd(1, 0, 1, false))
	c.read()
}

func TestServerClose(t *testing.T) {
	s, err := Listen(Options{})
	if err != nil {
		t.Fatal(err)
	}
	rc := dialRaw(t, s)
	s.Close()
	s.Close() // twice is fine
	rc.expectEOF()
	if st := s.Stats(); st.OpenConnections != 0 {
		t.Fatalf("stats after Close %+v", st)
	}
	if nc, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
		nc.Close()
		t.Fatal("the server still accepts connections after Close")
	}
	if _, err := Listen(Options{Partitions: -1}); err == nil {
		t.Fatal("Listen accepted a negative partition count")
	}
}

// Challenge reaches every open connection; the AUTH_RESPONSEs show in Auths.
func TestServerChallenge(t *testing.T) {
	s := Start(t, Options{})
	a, b := dialRaw(t, s), dialRaw(t, s)
	if n := s.Challenge(); n != 2 {
		t.Fatalf("challenged %d connections", n)
	}
	for _, rc := range []*rawClient{a, b} {
		if c := rc.read().GetAuthChallenge(); string(c.GetChallenge().GetAuthData()) != RefreshChallenge {
			t.Fatalf("challenge %v", c)
		}
		rc.write(authResponse("token", []byte("fresh")))
	}
	a.write(sendCmd(1, 0, 1, false)) // answered after the AUTH_RESPONSE: it arrived
	a.read()
	b.write(sendCmd(1, 0, 1, false))
	b.read()
	var responses int
	for _, au := range s.Auths() {
		if au.Response && au.Method == "token" && string(au.Data) == "fresh" {
			responses++
		}
	}
	if responses != 2 {
		t.Fatalf("Auths %v", s.Auths())
	}
	s.CloseConnections()
	if n := s.Challenge(); n != 0 {
		t.Fatalf("challenged %d closed connections", n)
	}
}
