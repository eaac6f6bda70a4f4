// Bad input on the Go API that needs no broker: each gets a clear error
// that names the problem. Tests that need a broker (publishing, faults,
// calls after close) are in faults_test.go and producer_test.go, against
// internal/fakebroker; the tests module runs against a real one.
package core

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pulsar-producer/pulsar-producer/core/engine"
)

func expectCode(t *testing.T, err error, code engine.Code, text string) {
	t.Helper()
	if engine.CodeOf(err) != code || !strings.Contains(err.Error(), text) {
		t.Fatalf("got %v, want %v containing %q", err, code, text)
	}
}

func TestMalformedServiceURL(t *testing.T) {
	for _, u := range []string{"", "localhost:6650", "pulsar://", "pulsar://host:notaport", "http://host:8080"} {
		_, err := NewClient(ClientOptions{ServiceURL: u})
		expectCode(t, err, engine.CodeInvalidURL, "service URL")
	}
}

func TestInvalidTopicAndOptions(t *testing.T) {
	c, err := NewClient(ClientOptions{ServiceURL: "pulsar://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	_, err = c.CreateProducer(ctx, ProducerOptions{Topic: "tenant/only-two"})
	expectCode(t, err, engine.CodeInvalidTopicName, "tenant/only-two")
	_, err = c.CreateProducer(ctx, ProducerOptions{Topic: "t", BatchingMaxMessages: -5})
	expectCode(t, err, engine.CodeInvalidConfiguration, "batchingMaxMessages")
	_, err = NewClient(ClientOptions{ServiceURL: "pulsar://h", OperationTimeout: -time.Second})
	expectCode(t, err, engine.CodeInvalidConfiguration, "operationTimeout")
}

func TestRefusedConnection(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	c, err := NewClient(ClientOptions{ServiceURL: "pulsar://" + addr, ConnectionTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.CreateProducer(context.Background(), ProducerOptions{Topic: "t"})
	expectCode(t, err, engine.CodeConnectError, addr)
}

// A listener that never answers: TCP connects (the kernel accepts into the
// backlog) but the handshake never completes, so only the connect timeout
// can end the wait.
func TestSilentBrokerFailsWithinConnectTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	const timeout = 500 * time.Millisecond
	c, err := NewClient(ClientOptions{ServiceURL: "pulsar://" + l.Addr().String(), ConnectionTimeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	_, err = c.CreateProducer(context.Background(), ProducerOptions{Topic: "t"})
	elapsed := time.Since(start)
	expectCode(t, err, engine.CodeConnectError, "no handshake within")
	if elapsed > timeout+2*time.Second {
		t.Fatalf("failed after %v, connect timeout is %v", elapsed, timeout)
	}
}

func TestCreateProducerHonoursContext(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := NewClient(ClientOptions{ServiceURL: "pulsar://" + l.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = c.CreateProducer(ctx, ProducerOptions{Topic: "t"})
	expectCode(t, err, engine.CodeTimeout, "creating producer")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	err = c.Close()
	expectCode(t, err, engine.CodeAlreadyClosed, "already closed")
	_, err = c.CreateProducer(context.Background(), ProducerOptions{Topic: "t"})
	if !errors.Is(err, engine.ErrAlreadyClosed) {
		t.Fatalf("create on a closed client: %v", err)
	}
}
