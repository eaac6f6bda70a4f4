// Nothing of a client outlives Client.Close: after a client has published
// through reconnects, unloads and broker challenges, on a plain and a
// partitioned topic, with producers closed and producers left open, every
// goroutine it started ends.
package core

import (
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pulsar-producer/pulsar-producer/internal/fakebroker"
)

var goroutineHeader = regexp.MustCompile(`^goroutine (\d+) `)

// libraryGoroutines maps the IDs of live goroutines running library code
// to their stacks.
func libraryGoroutines() map[string]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := map[string]string{}
	for _, g := range strings.Split(string(buf), "\n\n") {
		m := goroutineHeader.FindStringSubmatch(g)
		if m == nil || !strings.Contains(g, "pulsar-producer/internal/driver.") {
			continue
		}
		out[m[1]] = g
	}
	return out
}

func TestNoGoroutineOutlivesClose(t *testing.T) {
	before := libraryGoroutines() // other tests' clients, still closing
	fb := fakebroker.Start(t, fakebroker.Options{Partitions: 3})
	client, err := NewClient(ClientOptions{ServiceURL: fb.URL(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	var ps []*Producer
	for _, topic := range []string{"leak-a", "leak-b"} {
		p, err := client.CreateProducer(ctx, ProducerOptions{Topic: topic})
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	var r results
	for round := range 3 {
		for i := range 200 {
			for _, p := range ps {
				p.SendAsync(ctx, &Message{Payload: []byte("x"), Key: string(rune('a' + i%7))}, r.cb)
			}
		}
		switch round {
		case 0:
			fb.CloseConnections()
		case 1:
			fb.UnloadProducers()
		case 2:
			fb.Challenge()
		}
		for _, p := range ps {
			if err := p.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if ok, errs := r.counts(); ok+len(errs) != 1200 {
		t.Fatalf("%d outcomes of 1200", ok+len(errs))
	}
	if err := ps[0].Close(ctx); err != nil { // one closed, one left to the client
		t.Fatal(err)
	}
	if len(libraryGoroutines()) == len(before) {
		t.Fatal("the client runs no goroutine of its own: this test would prove nothing")
	}
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		var left []string
		for id, stack := range libraryGoroutines() {
			if _, old := before[id]; !old {
				left = append(left, stack)
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines of the closed client still run:\n%s", len(left), strings.Join(left, "\n\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
