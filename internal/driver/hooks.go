// User code a producer runs around a send: the custom router, the
// interceptors, and the marshaling of Go values for JSON schemas.
//
// How this works: all of it runs on the sending goroutine before the
// client lock is taken (callbacks never run under a library lock), on a
// copy of the caller's message. The router's choice travels to the engine
// as Message.Routed/Partition. An interceptor's OnAck wraps the send's
// callback, so it runs on the callback goroutine, before it.
package driver

import (
	"encoding/json"
	"fmt"

	"github.com/pulsar-producer/pulsar-producer/core/engine"
)

// RouterFunc picks the partition of msg among n.
type RouterFunc = func(msg *Message, n int) int

// hooks is what a producer runs of the user's around a send, from its
// options; set when the producer is opened, never changed.
type hooks struct {
	router       RouterFunc
	interceptors []engine.ProducerInterceptor
	schema       *engine.Schema
}

// routeLocked runs the router for msg, which the caller owns, with c.mu
// held: it releases the lock around the call.
func (p *Producer) routeLocked(msg *Message) error {
	f := p.hooks.router
	if f == nil || msg.Routed {
		return nil
	}
	c := p.c
	n := c.eng.NumPartitions(p.id)
	if n == 0 {
		return nil
	}
	c.mu.Unlock()
	i, err := callRouter(f, msg, n)
	c.mu.Lock()
	if err != nil {
		return err
	}
	msg.Routed, msg.Partition = true, int32(i)
	return nil
}

func callRouter(f RouterFunc, msg *Message, n int) (i int, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = engine.Errorf(engine.CodeInvalidArgument, "the router panicked: %v", r)
		}
	}()
	i = f(msg, n)
	if i < 0 || i >= n {
		return 0, engine.Errorf(engine.CodeInvalidArgument, "the router returned partition %d for a topic of %d partitions", i, n)
	}
	return i, nil
}

// needsCopy reports whether a send must work on a copy of the message:
// when user code may change it, or a Go value needs marshaling.
func (p *Producer) needsCopy(msg *Message, intercept bool) bool {
	return intercept && len(p.hooks.interceptors) > 0 || p.hooks.router != nil || msg.Value != nil && p.hooks.schema != nil
}

// prepare makes the copy of msg a send works on: Go values marshaled, the
// interceptors' BeforeSend run, the partition routed. The caller holds no
// lock.
func (p *Producer) prepare(msg *Message, intercept bool) (*Message, error) {
	m := *msg
	if m.Value != nil {
		v, err := marshalValue(p.hooks.schema, m.Value)
		if err != nil {
			return nil, err
		}
		m.Value = v
	}
	if intercept {
		if m.Properties != nil {
			props := make(map[string]string, len(m.Properties))
			for k, v := range m.Properties {
				props[k] = v
			}
			m.Properties = props
		}
		for _, ic := range p.hooks.interceptors {
			if err := beforeSend(ic, &m); err != nil {
				return nil, err
			}
		}
	}
	if f := p.hooks.router; f != nil && !m.Routed {
		if n := p.NumPartitions(); n > 0 {
			i, err := callRouter(f, &m, n)
			if err != nil {
				return nil, err
			}
			m.Routed, m.Partition = true, int32(i)
		}
	}
	return &m, nil
}

func beforeSend(ic engine.ProducerInterceptor, m *Message) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = engine.Errorf(engine.CodeInvalidMessage, "interceptor %T panicked in BeforeSend: %v", ic, r)
		}
	}()
	if err := ic.BeforeSend(m); err != nil {
		return fmt.Errorf("interceptor %T refused the message: %w", ic, err)
	}
	return nil
}

// withOnAck wraps cb so that the interceptors hear the outcome of m first.
func (p *Producer) withOnAck(m *Message, cb func(MessageID, error)) func(MessageID, error) {
	if len(p.hooks.interceptors) == 0 {
		return cb
	}
	// The callback runs after the send returned: keep a copy of the
	// payload, which the caller may reuse by then.
	kept := *m
	kept.Payload = append([]byte(nil), m.Payload...)
	return func(id MessageID, err error) {
		for _, ic := range p.hooks.interceptors {
			p.onAck(ic, &kept, id, err)
		}
		cb(id, err)
	}
}

func (p *Producer) onAck(ic engine.ProducerInterceptor, m *Message, id MessageID, err error) {
	defer func() {
		if r := recover(); r != nil {
			p.c.log.Error(fmt.Sprintf("interceptor %T panicked in OnAck: %v", ic, r), "topic", p.topic)
		}
	}()
	ic.OnAck(m, id, err)
}

// marshalValue turns Go values of a JSON schema (or a JSON half of a
// KEY_VALUE schema) into JSON text; everything else the engine encodes.
func marshalValue(s *engine.Schema, v any) (any, error) {
	switch {
	case s == nil:
		return v, nil
	case s.Type == engine.SchemaKeyValue:
		kv, ok := v.(engine.KeyValue)
		if p, isPtr := v.(*engine.KeyValue); isPtr && p != nil {
			kv, ok = *p, true
		}
		if !ok || kv.Key == nil || kv.Value == nil {
			return v, nil // the engine names the problem
		}
		var err error
		if kv.Key, err = marshalJSON(s.Key, kv.Key, "the key"); err != nil {
			return nil, err
		}
		if kv.Value, err = marshalJSON(s.Value, kv.Value, "the value"); err != nil {
			return nil, err
		}
		return kv, nil
	}
	return marshalJSON(s, v, "the value")
}

// marshalJSON marshals v, named by what in errors, when s is a JSON schema
// and v is not JSON text already.
func marshalJSON(s *engine.Schema, v any, what string) (any, error) {
	if s.Type != engine.SchemaJSON {
		return v, nil
	}
	switch v.(type) {
	case engine.ValueJSON, []byte:
		return v, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, engine.Errorf(engine.CodeInvalidMessage, "%s cannot be encoded as JSON: %v", what, err)
	}
	return engine.ValueJSON(b), nil
}
