// The byte formats that cross the module boundary, host side: option JSON
// out, message metadata out, event records in. ABI.md defines all three.
//
// Options go as the engine's camelCase JSON. The encoder walks
// engine.OptionTable and reads each option's Go field by name, so a new
// option needs no change here; zero fields are left out (zero means "the
// default" in the Go structs, as in JSON). Durations cross as whole
// milliseconds.
package wasm

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"reflect"
	"time"

	"github.com/pulsar-producer/pulsar-producer/core/engine"
)

// optionsJSON encodes the options of one scope ("client" or "producer")
// from opts, a *ClientOptions or *ProducerOptions.
func optionsJSON(opts any, scope string) ([]byte, error) {
	v := reflect.ValueOf(opts).Elem()
	obj := map[string]any{}
	for _, spec := range engine.OptionTable {
		if spec.Scope != scope {
			continue
		}
		f := v.FieldByName(spec.GoName)
		if !f.IsValid() {
			return nil, fmt.Errorf("wasm: option %s has no field %s", spec.Name, spec.GoName)
		}
		if f.IsZero() {
			continue
		}
		if f.Kind() == reflect.Pointer {
			f = f.Elem()
		}
		switch spec.Type {
		case engine.OptMilliseconds:
			ms, err := durationMillis(spec.Name, time.Duration(f.Int()))
			if err != nil {
				return nil, err
			}
			obj[spec.Name] = ms
		case engine.OptEnum:
			i := f.Int()
			if i < 0 || i >= int64(len(spec.Values)) {
				return nil, engine.Errorf(engine.CodeInvalidConfiguration, "option %s: unknown value %d", spec.Name, i)
			}
			obj[spec.Name] = spec.Values[i]
		default:
			obj[spec.Name] = f.Interface()
		}
	}
	if len(obj) == 0 {
		return nil, nil
	}
	return json.Marshal(obj)
}

// durationMillis converts an option's duration to whole milliseconds; the
// engine refuses non-zero durations under 1ms, and so does this.
func durationMillis(name string, d time.Duration) (int64, error) {
	if d > 0 && d < time.Millisecond {
		return 0, engine.Errorf(engine.CodeInvalidConfiguration, "option %s: must be at least 1ms, got %v", name, d)
	}
	if d < 0 && d > -time.Millisecond {
		return -1, nil // still negative: "disabled" or the engine's error
	}
	return d.Milliseconds(), nil
}

// Metadata field tags (ABI.md, "Message metadata").
const (
	tagKey                = 1
	tagOrderingKey        = 2
	tagProperty           = 3
	tagEventTime          = 4
	tagDeliverAt          = 5
	tagDeliverAfter       = 6
	tagSequenceID         = 7
	tagNullValue          = 8
	tagReplicationCluster = 9
	tagDisableReplication = 10
)

// hasMetadata reports whether m needs pp_send_msg.
func hasMetadata(m *engine.Message) bool {
	return m.Key != "" || m.OrderingKey != nil || len(m.Properties) > 0 || !m.EventTime.IsZero() ||
		!m.DeliverAt.IsZero() || m.DeliverAfter != 0 || m.SequenceID != nil || m.NullValue ||
		len(m.ReplicationClusters) > 0 || m.DisableReplication
}

func appendBytesField(b []byte, tag byte, v []byte) []byte {
	b = append(b, tag)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(v)))
	return append(b, v...)
}

func appendStringField(b []byte, tag byte, v string) []byte {
	b = append(b, tag)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(v)))
	return append(b, v...)
}

func appendInt64Field(b []byte, tag byte, v int64) []byte {
	return binary.LittleEndian.AppendUint64(append(b, tag), uint64(v))
}

// appendMetadata encodes everything of m but its payload.
func appendMetadata(b []byte, m *engine.Message) []byte {
	if m.Key != "" {
		b = appendStringField(b, tagKey, m.Key)
	}
	if m.OrderingKey != nil {
		b = appendBytesField(b, tagOrderingKey, m.OrderingKey)
	}
	for k, v := range m.Properties {
		b = appendStringField(b, tagProperty, k)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(v)))
		b = append(b, v...)
	}
	if !m.EventTime.IsZero() {
		b = appendInt64Field(b, tagEventTime, m.EventTime.UnixMilli())
	}
	if !m.DeliverAt.IsZero() {
		b = appendInt64Field(b, tagDeliverAt, m.DeliverAt.UnixMilli())
	}
	if d := m.DeliverAfter; d != 0 {
		// Whole milliseconds, rounded away from zero so that a positive
		// delay stays positive and a negative one stays an error.
		ms := d / time.Millisecond
		if d%time.Millisecond > 0 {
			ms++
		} else if d%time.Millisecond < 0 {
			ms--
		}
		b = appendInt64Field(b, tagDeliverAfter, int64(ms))
	}
	if m.SequenceID != nil {
		b = appendInt64Field(b, tagSequenceID, *m.SequenceID)
	}
	if m.NullValue {
		b = append(b, tagNullValue)
	}
	for _, c := range m.ReplicationClusters {
		b = appendStringField(b, tagReplicationCluster, c)
	}
	if m.DisableReplication {
		b = append(b, tagDisableReplication)
	}
	return b
}

// event is one decoded event record.
type event struct {
	engine.Event
	partitions int // EventProducerReady: the topic's partition count
}

// Event record layout (ABI.md, "Event records").
const eventHeaderSize = 72

// decodeEvents decodes count records from b, appending them to dst.
func decodeEvents(dst []event, b []byte, count int) ([]event, error) {
	le := binary.LittleEndian
	for i := 0; i < count; i++ {
		if len(b) < eventHeaderSize {
			return dst, engine.Errorf(engine.CodeProtocolError, "event record %d is cut short", i)
		}
		size := int(le.Uint32(b[0:]))
		textLen := int(le.Uint32(b[12:]))
		if size < eventHeaderSize+textLen || size > len(b) {
			return dst, engine.Errorf(engine.CodeProtocolError, "event record %d has a bad size %d", i, size)
		}
		ev := event{Event: engine.Event{
			Kind:     engine.EventKind(b[4]),
			Conn:     engine.ConnID(le.Uint64(b[16:])),
			Producer: engine.ProducerID(le.Uint64(b[24:])),
			Token:    le.Uint64(b[32:]),
		}}
		code := engine.Code(int32(le.Uint32(b[8:])))
		var text string
		if textLen > 0 {
			text = string(b[eventHeaderSize : eventHeaderSize+textLen])
		}
		switch ev.Kind {
		case engine.EventReceipt:
			ev.ID = engine.MessageID{
				LedgerID:   int64(le.Uint64(b[40:])),
				EntryID:    int64(le.Uint64(b[48:])),
				Partition:  int32(le.Uint32(b[56:])),
				BatchIndex: int32(le.Uint32(b[60:])),
				BatchSize:  int32(le.Uint32(b[64:])),
			}
		case engine.EventProducerReady:
			ev.partitions = int(int32(le.Uint32(b[68:])))
		}
		if code != engine.CodeOK {
			ev.Err = &engine.Error{Code: code, Msg: text}
		} else {
			ev.Text = text
		}
		dst = append(dst, ev)
		b = b[size:]
	}
	return dst, nil
}
