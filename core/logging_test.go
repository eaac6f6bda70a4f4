// Without a Logger, a client logs to slog.Default(), warnings and errors
// only by default.
package core

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

func TestDefaultLoggerGetsWarnings(t *testing.T) {
	sink := &logSink{}
	old := slog.Default()
	slog.SetDefault(slog.New(sink))
	defer slog.SetDefault(old)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c, err := NewClient(ClientOptions{ServiceURL: "pulsar://" + addr, ConnectionTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.CreateProducer(context.Background(), ProducerOptions{Topic: "t"}); err == nil {
		t.Fatal("created a producer on a closed port")
	}
	text := sink.text()
	if !strings.Contains(text, "WARN connection to "+addr+" closed") {
		t.Fatalf("slog.Default() did not get the warning:\n%s", text)
	}
	if strings.Contains(text, "INFO") || strings.Contains(text, "DEBUG") {
		t.Fatalf("records below warn at the default level:\n%s", text)
	}
}
