// User code around a send, against internal/fakebroker: a custom router
// runs outside the library's locks and its mistakes fail only its message;
// interceptors add properties, refuse messages and hear every outcome; Go
// values are marshaled for JSON schemas.
package core

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/pulsar-producer/pulsar-producer/internal/fakebroker"
)

func TestRouterRunsOutsideTheLock(t *testing.T) {
	fb := fakebroker.Start(t, fakebroker.Options{Partitions: 3})
	var p *Producer
	var mu sync.Mutex
	calls := 0
	router := func(m *Message, n int) int {
		// Calling back into the producer would deadlock under its lock.
		if p.NumPartitions() != n {
			t.Errorf("router saw %d partitions, the producer %d", n, p.NumPartitions())
		}
		mu.Lock()
		calls++
		mu.Unlock()
		return len(m.Payload) % n
	}
	_, p = newProducer(t, fb, ClientOptions{}, ProducerOptions{Router: router, DisableBatching: true})
	ctx := testContext(t)
	for i := range 6 {
		id, err := p.Send(ctx, &Message{Payload: make([]byte, i), Key: "ignored by a custom router"})
		if err != nil {
			t.Fatal(err)
		}
		if id.Partition != int32(i%3) {
			t.Errorf("message of %d bytes went to partition %d", i, id.Partition)
		}
	}
	if calls != 6 {
		t.Fatalf("router called %d times", calls)
	}
}

func TestRouterMistakesFailTheirMessage(t *testing.T) {
	fb := fakebroker.Start(t, fakebroker.Options{Partitions: 3})
	_, p := newProducer(t, fb, ClientOptions{}, ProducerOptions{Router: func(m *Message, n int) int {
		switch string(m.Payload) {
		case "out":
			return n
		case "panic":
			panic("no partition for you")
		}
		return 1
	}})
	ctx := testContext(t)
	_, err := p.Send(ctx, &Message{Payload: []byte("out")})
	expectCode(t, err, CodeInvalidArgument, "the router returned partition 3 for a topic of 3 partitions")
	var r results
	p.SendAsync(ctx, &Message{Payload: []byte("panic")}, r.cb)
	p.SendAsync(ctx, &Message{Payload: []byte("fine")}, r.cb)
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	ids, errs := r.snapshot()
	if len(errs) != 2 || errs[0] == nil || !strings.Contains(errs[0].Error(), "the router panicked: no partition for you") || errs[1] != nil || ids[1].Partition != 1 {
		t.Fatalf("ids %v errors %v", ids, errs)
	}
}

type traceInterceptor struct {
	mu   sync.Mutex
	acks []string
}

var errRefused = errors.New("no secrets on this topic")

func (ti *traceInterceptor) BeforeSend(m *Message) error {
	switch string(m.Payload) {
	case "secret":
		return errRefused
	case "boom":
		panic("interceptor bug")
	}
	if m.Properties == nil {
		m.Properties = map[string]string{}
	}
	m.Properties["trace-id"] = "t-" + string(m.Payload)
	m.Key = "traced"
	return nil
}

func (ti *traceInterceptor) OnAck(m *Message, id MessageID, err error) {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	ti.acks = append(ti.acks, m.Properties["trace-id"]+"@"+id.String())
}

func TestInterceptors(t *testing.T) {
	fb := fakebroker.Start(t, fakebroker.Options{Record: true})
	ti := &traceInterceptor{}
	_, p := newProducer(t, fb, ClientOptions{}, ProducerOptions{Interceptors: []ProducerInterceptor{ti}, DisableBatching: true})
	ctx := testContext(t)
	props := map[string]string{"mine": "1"}
	id, err := p.Send(ctx, &Message{Payload: []byte("a"), Properties: props})
	if err != nil {
		t.Fatal(err)
	}
	if len(props) != 1 {
		t.Fatalf("the interceptor changed the caller's map: %v", props)
	}
	_, err = p.Send(ctx, &Message{Payload: []byte("secret")})
	if !errors.Is(err, errRefused) || !strings.Contains(err.Error(), "refused the message") {
		t.Fatalf("refused message: %v", err)
	}
	var r results
	p.SendAsync(ctx, &Message{Payload: []byte("boom")}, r.cb)
	p.SendAsync(ctx, &Message{Payload: []byte("b")}, r.cb)
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	_, errs := r.snapshot()
	if len(errs) != 2 || errs[0] == nil || !strings.Contains(errs[0].Error(), "panicked in BeforeSend: interceptor bug") || errs[1] != nil {
		t.Fatalf("errors %v", errs)
	}
	entries := fb.Entries()
	if len(entries) != 2 {
		t.Fatalf("%d entries stored", len(entries))
	}
	for i, want := range []string{"t-a", "t-b"} {
		md := entries[i].Metadata
		got := map[string]string{}
		for _, kv := range md.GetProperties() {
			got[kv.GetKey()] = kv.GetValue()
		}
		if got["trace-id"] != want || md.GetPartitionKey() != "traced" || (i == 0 && got["mine"] != "1") {
			t.Errorf("entry %d: properties %v key %q", i, got, md.GetPartitionKey())
		}
	}
	ti.mu.Lock()
	defer ti.mu.Unlock()
	if len(ti.acks) != 2 || ti.acks[0] != "t-a@"+id.String() || !strings.HasPrefix(ti.acks[1], "t-b@") {
		t.Fatalf("OnAck heard %v", ti.acks)
	}
}

type user struct {
	Name string `json:"name"`
	Age  int    `json:"age"`
}

func TestGoValuesForSchemas(t *testing.T) {
	fb := fakebroker.Start(t, fakebroker.Options{Record: true})
	def := `{"type":"record","name":"User","fields":[{"name":"name","type":"string"},{"name":"age","type":"int"}]}`
	_, p := newProducer(t, fb, ClientOptions{}, ProducerOptions{DisableBatching: true, Schema: &Schema{Type: SchemaKeyValue, KeyValueEncoding: KeyValueSeparated,
		Key: &Schema{Type: SchemaInt64}, Value: &Schema{Type: SchemaJSON, Definition: def}}})
	ctx := testContext(t)
	if _, err := p.Send(ctx, &Message{Value: KeyValue{Key: int64(7), Value: user{"ann", 30}}}); err != nil {
		t.Fatal(err)
	}
	_, err := p.Send(ctx, &Message{Value: KeyValue{Key: int64(7), Value: func() {}}})
	expectCode(t, err, CodeInvalidMessage, "the value cannot be encoded as JSON")
	e := fb.Entries()[0]
	var got user
	if err := json.Unmarshal(e.Payload, &got); err != nil || got != (user{"ann", 30}) {
		t.Fatalf("payload %q: %v", e.Payload, err)
	}
	if k, _ := base64.StdEncoding.DecodeString(e.Metadata.GetPartitionKey()); string(k) != "\x00\x00\x00\x00\x00\x00\x00\x07" || !e.Metadata.GetPartitionKeyB64Encoded() {
		t.Fatalf("key %q", e.Metadata.GetPartitionKey())
	}
}
