// Gathering payload-only messages for one call into the module.
//
// A call into the module costs about as much as the engine's own work for a
// message, so messages that carry nothing but a payload are gathered on the
// host side and handed over many at a time with ppw_send_payloads, which
// runs the engine's SendPayloads. Gathering must not change what a send
// means, so a message is gathered only when the engine is sure to accept it:
// the module reports, in its status block, how many more messages and bytes
// the producer of the last send can take (its queue and memory limits), and
// the host gathers only within that room. Anything else (no room left, a
// different producer, a message with metadata) first hands over what was
// gathered, then goes the direct way, so a full queue blocks or fails the
// send itself, as natively. Gathered messages go over when there are 1000 of
// them or 128 KiB, before any call that depends on their order (a flush, a
// close, another kind of send), and at the latest after the producer's
// batching delay (1 ms at most), through the runtime's timer.
package wasm

import (
	"encoding/binary"
	"time"

	"github.com/pulsar-producer/pulsar-producer/core/engine"
)

const (
	stageMaxMessages = 1000
	stageMaxBytes    = 128 << 10
	stageMaxPayload  = 16 << 10 // larger messages go on their own
	stageMaxHold     = time.Millisecond
)

// stage is the messages gathered for one producer.
type stage struct {
	producer engine.ProducerID
	data     []byte // payloads, back to back
	lens     []uint32
	tokens   []uint64
	since    time.Time // when the first was gathered
	now      time.Time // when the last was
	hold     time.Duration
	block    []byte // scratch for the call: payloads, tokens, lengths
}

// canStage reports whether a payload of n bytes for producer id may be
// gathered: batching is on, and the module says the producer has room for
// it and everything gathered before it.
func (e *Engine) canStage(id engine.ProducerID, n int) bool {
	if n > stageMaxPayload || e.roomFor != id {
		return false
	}
	p := e.lastPart
	if p == nil || e.lastPartID != id {
		if p = e.parts[id]; p == nil {
			return false
		}
		e.lastPart, e.lastPartID = p, id
	}
	if p.failed || p.hold <= 0 {
		return false
	}
	s := &e.stage
	if s.producer != id && len(s.lens) > 0 {
		return false
	}
	msgs, bytes := e.in.st.room[0], e.in.st.room[1] // all ones: no limit
	return uint64(len(s.lens))+1 <= msgs && uint64(len(s.data)+n) <= bytes
}

// gather adds a message to the stage, handing the stage over when full.
func (e *Engine) gather(id engine.ProducerID, payload []byte, token uint64, now time.Time) error {
	s := &e.stage
	if len(s.lens) == 0 {
		s.producer, s.since, s.hold = id, now, e.lastPart.hold // canStage cached the producer
	}
	s.data = append(s.data, payload...)
	s.lens = append(s.lens, uint32(len(payload)))
	s.tokens = append(s.tokens, token)
	s.now = now
	if len(s.lens) >= stageMaxMessages || len(s.data) >= stageMaxBytes {
		return e.handOver()
	}
	return nil
}

// stageDeadline is when the gathered messages must go over at the latest.
func (e *Engine) stageDeadline() (time.Time, bool) {
	if len(e.stage.lens) == 0 {
		return time.Time{}, false
	}
	return e.stage.since.Add(e.stage.hold), true
}

// handOver hands every gathered message to the module. One the engine
// refuses after all (the producer failed meanwhile) fails on its own, as
// its send would have; the rest are handed over again. Only a failure of
// the module itself is returned.
func (e *Engine) handOver() error {
	s := &e.stage
	for len(s.lens) > 0 {
		if !e.usable() {
			s.reset()
			return e.callErr()
		}
		n, err := e.sendPayloads()
		if err == nil {
			break
		}
		if _, trapped := err.(*trapError); trapped {
			s.reset()
			return e.check(err)
		}
		e.refused = append(e.refused, engine.Event{Kind: engine.EventSendFailed, Producer: s.producer, Tokens: []uint64{s.tokens[n]}, Err: err})
		var skip int
		for _, l := range s.lens[:n+1] {
			skip += int(l)
		}
		s.data = s.data[:copy(s.data, s.data[skip:])]
		s.lens = s.lens[:copy(s.lens, s.lens[n+1:])]
		s.tokens = s.tokens[:copy(s.tokens, s.tokens[n+1:])]
	}
	s.reset()
	return nil
}

func (s *stage) reset() {
	s.data, s.lens, s.tokens = s.data[:0], s.lens[:0], s.tokens[:0]
}

// sendPayloads writes the stage into the module (payloads, then the tokens
// 8-aligned, then the lengths) and calls ppw_send_payloads. It returns how
// many messages the engine accepted and the error of the next one.
func (e *Engine) sendPayloads() (int, error) {
	s := &e.stage
	in := e.in
	pad := (8 - len(s.data)%8) % 8
	b := append(s.block[:0], s.data...)
	b = append(b, make([]byte, pad)...)
	for _, t := range s.tokens {
		b = binary.LittleEndian.AppendUint64(b, t)
	}
	for _, l := range s.lens {
		b = binary.LittleEndian.AppendUint32(b, l)
	}
	s.block = b
	if err := in.reserve(&in.send, uint64(len(b))); err != nil {
		return 0, err
	}
	in.mem.Write(in.send.ptr, b)
	tokensAt := in.send.ptr + uint32(len(s.data)+pad)
	lensAt := tokensAt + uint32(8*len(s.tokens))
	e.roomFor = s.producer
	err := in.do(fnSendPayloads, uint64(s.producer), uint64(in.send.ptr), uint64(len(s.data)),
		uint64(lensAt), uint64(tokensAt), uint64(len(s.lens)), nowNs(s.now))
	return int(in.st.result[0]), err
}
