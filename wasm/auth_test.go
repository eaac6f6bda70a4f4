// Credentials across the ABI, from the host's side: SetCredentials reaches
// the CONNECT the module writes, an AUTH_CHALLENGE from the broker becomes
// an EventAuthChallenge from AppendEvents, and AnswerChallenge makes the
// module write AUTH_RESPONSE, and later CONNECTs, with the new credentials,
// while a pending message still completes. One test drives the Engine by
// hand against connections of the fake broker played in memory, so that
// every step is observed in order; another runs a whole client, whose
// runtime gets the credentials, against the fake broker on a local port.
package wasm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulsar-producer/pulsar-producer/core"
	"github.com/pulsar-producer/pulsar-producer/core/engine"
	"github.com/pulsar-producer/pulsar-producer/internal/fakebroker"
)

// handDriven plays the runtime for an Engine and the sockets for a fake
// broker: every Connect gets a new connection of the broker.
type handDriven struct {
	t      *testing.T
	e      *Engine
	b      *fakebroker.Broker
	conns  map[engine.ConnID]*fakebroker.Conn
	conn   engine.ConnID // the last opened
	now    time.Time
	events []engine.Event // every event taken, tokens copied
}

// pump delivers events and output until there are none.
func (h *handDriven) pump() {
	h.t.Helper()
	for range 100 {
		evs := h.e.AppendEvents(nil)
		for _, ev := range evs {
			ev.Tokens = append([]uint64(nil), ev.Tokens...)
			h.events = append(h.events, ev)
			switch ev.Kind {
			case engine.EventConnect:
				h.conns[ev.Conn], h.conn = h.b.NewConn(), ev.Conn
				h.e.ConnOpened(ev.Conn, h.now)
			case engine.EventEngineFailed:
				h.t.Fatalf("the module failed: %v", ev.Err)
			}
		}
		id, data, ok := h.e.TakeOutput(nil)
		if !ok {
			if len(evs) == 0 {
				return
			}
			continue
		}
		if err := engine.FillChecksums(data); err != nil {
			h.t.Fatal(err)
		}
		reply, err := h.conns[id].Answer(data, h.now)
		if err != nil {
			h.t.Fatal(err)
		}
		h.e.Receive(id, reply, h.now)
	}
	h.t.Fatal("the engine never went quiet")
}

// took returns the events of kind taken so far.
func (h *handDriven) took(kind engine.EventKind) []engine.Event {
	var out []engine.Event
	for _, ev := range h.events {
		if ev.Kind == kind {
			out = append(out, ev)
		}
	}
	return out
}

func TestCredentialsAndChallenges(t *testing.T) {
	secret1, secret2 := []byte("secret-one"), []byte("secret-two")
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	e, err := testModule(t).NewEngine(ClientOptions{ServiceURL: "pulsar://broker:6650", LogLevel: core.LogDebug})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := fakebroker.New(fakebroker.Options{})
	h := &handDriven{t: t, e: e, b: b, conns: map[engine.ConnID]*fakebroker.Conn{}, now: now}
	defer func() {
		e.Close(h.now)
		h.e.AppendEvents(nil)
	}()

	e.SetCredentials("token", secret1)
	secret1[0] = 'X' // the module keeps its own copy
	id, err := e.CreateProducer(ProducerOptions{Topic: "auth", DisableBatching: true}, now)
	if err != nil {
		t.Fatal(err)
	}
	h.pump()
	if len(h.took(engine.EventProducerReady)) != 1 {
		t.Fatalf("the producer is not ready: %+v", h.events)
	}
	want := []fakebroker.Auth{{Conn: 1, Method: "token", Data: []byte("secret-one")}}
	if got := b.Auths(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("the broker saw %v, want %v", got, want)
	}

	// A message pending: the broker holds its receipt.
	b.SetReceiptDelay(time.Hour)
	if err := e.Send(id, &engine.Message{Payload: []byte("pending")}, 42, h.now); err != nil {
		t.Fatal(err)
	}
	h.pump()
	if st := b.Stats(); st.Frames != 1 || len(h.took(engine.EventReceipt)) != 0 {
		t.Fatalf("the message is not pending: %+v", st)
	}

	// The challenge comes out of AppendEvents, for its connection.
	conn := h.conn
	h.e.Receive(conn, h.conns[conn].Challenge(), h.now)
	h.pump()
	if evs := h.took(engine.EventAuthChallenge); len(evs) != 1 || evs[0].Conn != conn || evs[0].Err != nil {
		t.Fatalf("AuthChallenge events %+v, want one for conn %d", evs, conn)
	}
	e.AnswerChallenge(conn, "token", secret2, h.now)
	h.pump()
	want = append(want, fakebroker.Auth{Conn: 1, Response: true, Method: "token", Data: secret2})
	if got := b.Auths(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("the broker saw %v, want %v", got, want)
	}

	// The connection carries on: the held receipt completes the message.
	h.now = h.now.Add(2 * time.Hour)
	h.e.Receive(conn, h.conns[conn].Tick(h.now), h.now)
	h.pump()
	if evs := h.took(engine.EventReceipt); len(evs) != 1 || fmt.Sprint(evs[0].Tokens) != "[42]" || evs[0].Producer != id {
		t.Fatalf("receipts %+v, want one for token 42", evs)
	}

	// The next connection's CONNECT carries the answered credentials.
	b.SetReceiptDelay(0)
	h.conns[conn].Close()
	e.ConnClosed(conn, errors.New("cut"), h.now)
	for i := 0; i < 100 && h.conn == conn; i++ {
		if d, ok := e.Deadline(); ok && d.After(h.now) {
			h.now = d
		}
		e.Tick(h.now)
		h.pump()
	}
	if h.conn == conn {
		t.Fatal("no reconnect")
	}
	want = append(want, fakebroker.Auth{Conn: 2, Method: "token", Data: secret2})
	if got := b.Auths(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("the broker saw %v, want %v", got, want)
	}

	// Nothing the module reported holds a credential; the debug log did
	// report the challenge.
	var logged bool
	for _, ev := range h.events {
		var texts []string
		if ev.Err != nil {
			texts = append(texts, ev.Err.Error())
		}
		texts = append(texts, ev.Text)
		if ev.Log != nil {
			texts = append(texts, ev.Log.Msg, ev.Log.Topic, ev.Log.ProducerName, ev.Log.Addr)
			logged = logged || strings.Contains(ev.Log.Msg, "fresh credentials")
		}
		for _, s := range texts {
			if strings.Contains(s, "secret") {
				t.Fatalf("a %v event holds a credential: %q", ev.Kind, s)
			}
		}
	}
	if !logged {
		t.Fatal("no debug record of the challenge")
	}
}

// TestClientAuthenticates: a whole WASI-hosted client (the core runtime
// driving the module) with a token supplier, against the fake broker on a
// local port. Its CONNECT carries the token; a challenge while a message
// is pending is answered with a fresh token, and the message completes;
// the logger never sees a token.
func TestClientAuthenticates(t *testing.T) {
	var mu sync.Mutex
	tokens := 0
	supplier := func() (string, error) {
		mu.Lock()
		defer mu.Unlock()
		tokens++
		return fmt.Sprintf("secret-%d", tokens), nil
	}
	h := &recordHandler{}
	c, srv := fakeClient(t, fakebroker.Options{}, ClientOptions{TokenSupplier: supplier, LogLevel: core.LogDebug, Logger: slog.New(h)}, nil)
	p := createProducer(t, c, ProducerOptions{Topic: "auth", DisableBatching: true})
	if a := srv.Auths(); len(a) != 1 || a[0].Method != "token" || string(a[0].Data) != "secret-1" {
		t.Fatalf("the broker saw %v, want one CONNECT with token secret-1", a)
	}
	srv.SetReceiptDelay(500 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	p.SendAsync(ctx, &core.Message{Payload: []byte("pending")}, func(_ core.MessageID, err error) { done <- err })
	for srv.Stats().Frames == 0 {
		if ctx.Err() != nil {
			t.Fatal("the message never reached the broker")
		}
		time.Sleep(time.Millisecond)
	}
	if n := srv.Challenge(); n != 1 {
		t.Fatalf("challenged %d connections, want 1", n)
	}
	for len(srv.Auths()) < 2 {
		if ctx.Err() != nil {
			t.Fatal("the challenge was never answered")
		}
		time.Sleep(time.Millisecond)
	}
	if a := srv.Auths()[1]; !a.Response || a.Conn != 1 || a.Method != "token" || string(a.Data) != "secret-2" {
		t.Fatalf("the answer to the challenge: %+v, want token secret-2 on connection 1", a)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the pending message failed: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("the pending message never completed")
	}
	if st := srv.Stats(); st.Connections != 1 {
		t.Fatalf("%d connections; the challenge should not have cost one", st.Connections)
	}
	if err := closeClient(c); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := h.find("fresh credentials"); !ok {
		t.Fatal("no debug record of the challenge")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.records {
		line := r.Message
		r.Attrs(func(a slog.Attr) bool { line += " " + a.String(); return true })
		if strings.Contains(line, "secret") {
			t.Fatalf("a log record holds a credential: %s", line)
		}
	}
}

// TestCredentialsAfterFailure: once the module has failed, the credential
// calls do nothing and fail nothing.
func TestCredentialsAfterFailure(t *testing.T) {
	e, err := testModule(t).NewEngine(ClientOptions{ServiceURL: "pulsar://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	_ = e.in.mod.Close(e.in.ctx)
	e.SetCredentials("token", []byte("secret"))
	if e.broken == nil || strings.Contains(e.broken.Error(), "secret") {
		t.Fatalf("after a trap in ppw_set_credentials: %v", e.broken)
	}
	e.AnswerChallenge(1, "token", []byte("secret"), time.Now())
	if evs := e.AppendEvents(nil); len(evs) != 1 || evs[0].Kind != engine.EventEngineFailed {
		t.Fatalf("events %+v, want one EngineFailed", evs)
	}
}
