// The log queue's bound, tested without a broker: records beyond the bound
// are dropped, newest first, and a record saying how many follows.
package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestLogQueueIsBounded(t *testing.T) {
	cl := &client{fdR: -1, fdW: -1}
	h := &logHandler{cl: cl}
	for i := range maxLogs + 25 {
		r := slog.NewRecord(time.Now(), slog.LevelWarn, "record "+itoa(i), 0)
		r.AddAttrs(slog.String("topic", "t"), slog.Uint64("conn", 7))
		if err := h.Handle(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	first := cl.takeLogs(maxLogs)
	if len(first) != maxLogs || first[0].msg != "record 0" || first[0].topic != "t" || first[0].connID != 7 || first[0].level != 2 {
		t.Fatalf("first take: %d records, first %+v", len(first), first[0])
	}
	rest := cl.takeLogs(100)
	if len(rest) != 1 || !strings.HasPrefix(rest[0].msg, "25 log records were dropped") {
		t.Fatalf("after the bound: %+v", rest)
	}
	if len(cl.takeLogs(100)) != 0 {
		t.Fatal("records left")
	}
}
