//go:build wasip1

// Credentials through the exports, inside the module: ppw_set_credentials
// puts them in CONNECT, an AUTH_CHALLENGE becomes an AuthChallenge record,
// and ppw_answer_challenge writes AUTH_RESPONSE while a message is pending;
// no record's text or fields ever hold them.
package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pulsar-producer/pulsar-producer/core/engine"
	"github.com/pulsar-producer/pulsar-producer/internal/fakebroker"
)

// putCredentials copies method and data into the payload block, past
// what other calls use, and returns their arguments.
func (h *fakeHost) putCredentials(method, data string) (uint32, uint32, uint32, uint32) {
	const at = 32 << 10
	copy(h.payload[at:], method)
	copy(h.payload[at+len(method):], data)
	p := ptr(h.payload) + at
	return p, uint32(len(method)), p + uint32(len(method)), uint32(len(data))
}

// records drains every waiting event record, failing on a credential in
// any of them, and returns them.
func (h *fakeHost) records(secrets ...string) [][]byte {
	var out [][]byte
	for status.Events > 0 {
		h.must(ppNextEvents(ptr(h.evs), uint32(len(h.evs))))
		for b := h.evs[:status.Result[1]]; len(b) > 0; {
			size := binary.LittleEndian.Uint32(b)
			for _, s := range secrets {
				if bytes.Contains(b[:size], []byte(s)) {
					h.tb.Fatalf("a %v record holds a credential: %q", engine.EventKind(b[4]), b[:size])
				}
			}
			out = append(out, append([]byte(nil), b[:size]...))
			b = b[size:]
		}
	}
	return out
}

func TestGuestCredentials(t *testing.T) {
	if eng != nil {
		ppClientFree()
	}
	if code := ppSetCredentials(0, 0, 0, 0); engine.Code(code) != engine.CodeInvalidHandle {
		t.Fatalf("ppw_set_credentials without a client: code %d", code)
	}
	const secret1, secret2 = "secret-one", "secret-two"
	h, id := newFakeHostWith(t, 0, `{"logLevel":"debug"}`, `{"disableBatching":true}`, func(h *fakeHost) {
		mp, ml, dp, _ := h.putCredentials("token", secret1)
		code := ppSetCredentials(mp, ml, dp, 1<<20) // data past its block
		if engine.Code(code) != engine.CodeInvalidArgument || !strings.Contains(lastErr, "authentication data") ||
			strings.Contains(lastErr, secret1) {
			t.Fatalf("data past its block: code %d, %q", code, lastErr)
		}
		h.must(ppSetCredentials(h.putCredentials("token", secret1)))
		h.putCredentials("token", "overwritten") // the module keeps its own copy
	})
	want := []fakebroker.Auth{{Conn: 1, Method: "token", Data: []byte(secret1)}}
	if got := h.fb.Auths(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("the broker saw %v, want %v", got, want)
	}

	// A message pending, its receipt held by the broker.
	h.fb.SetReceiptDelay(time.Hour)
	h.must(ppSend(id, ptr(h.payload), 10, 42, h.now))
	h.answerOutput()
	if st := h.fb.Stats(); st.Frames != 1 {
		t.Fatalf("%d SEND frames at the broker, want 1", st.Frames)
	}
	h.records(secret1)

	// The challenge becomes a record naming the connection.
	h.receive(h.broker.Challenge())
	var challenged bool
	for _, r := range h.records(secret1) {
		if engine.EventKind(r[4]) == engine.EventAuthChallenge {
			if conn := binary.LittleEndian.Uint64(r[16:]); conn != h.conn || len(r) != eventHeaderSize {
				t.Fatalf("AuthChallenge record for conn %d (want %d), %d bytes", conn, h.conn, len(r))
			}
			challenged = true
		}
	}
	if !challenged {
		t.Fatal("no AuthChallenge record")
	}
	mp, ml, dp, dl := h.putCredentials("token", secret2)
	h.must(ppAnswerChallenge(h.conn, mp, ml, dp, dl, h.now))
	h.answerOutput()
	want = append(want, fakebroker.Auth{Conn: 1, Response: true, Method: "token", Data: []byte(secret2)})
	if got := h.fb.Auths(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("the broker saw %v, want %v", got, want)
	}
	// The held receipt completes the message.
	h.now += int64(2 * time.Hour)
	h.receive(h.broker.Tick(time.Unix(0, h.now)))
	var tokens []uint64
	for _, r := range h.records(secret1, secret2) {
		if engine.EventKind(r[4]) == engine.EventReceipt {
			tokens = append(tokens, receiptTokens(t, r)...)
		}
	}
	if fmt.Sprint(tokens) != "[42]" {
		t.Fatalf("receipts for %v, want [42]", tokens)
	}
	// An answer for a connection that is gone writes nothing.
	h.must(ppAnswerChallenge(h.conn+100, mp, ml, dp, dl, h.now))
	if status.Output != 0 {
		t.Fatal("an answer to an unknown connection made output")
	}
}
