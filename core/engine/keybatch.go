// Key-based batching: one open batch per key.
//
// With batcherType keyBased, a partition keeps an open batch for each key
// (the ordering key if the message has one, else its partition key; the
// keyless messages share one), and every entry carries its batch's key in
// its metadata, so that the broker gives a Key_Shared subscription each
// key's messages on one consumer, in order. The batch being filled is the
// partition's ordinary open batch; the others wait, parked, each with its
// own publish deadline. Order is kept per key, not across keys, as in the
// Java client. Anything that must keep order with every earlier message (a
// message sent alone, a flush, a close) sends every open batch first.
package engine

import (
	"encoding/base64"
	"time"
)

// BatcherType selects how messages are grouped into batches.
type BatcherType int32

const (
	// DefaultBatcher keeps one open batch per partition.
	DefaultBatcher BatcherType = 0
	// KeyBasedBatcher keeps one open batch per key.
	KeyBasedBatcher BatcherType = 1
)

var batcherNames = []string{"default", "keyBased"}

func (b BatcherType) String() string { return enumName(batcherNames, int(b)) }

// batchKeyOf is the key a message is batched under.
func batchKeyOf(m *Message) string {
	switch {
	case len(m.OrderingKey) > 0:
		return "o:" + base64.StdEncoding.EncodeToString(m.OrderingKey)
	case m.KeyBase64:
		return "b:" + m.Key
	case m.Key != "" || m.HasKey:
		return "k:" + m.Key
	}
	return ""
}

// useBatchFor makes the open batch of key the partition's batch, parking
// the one there. m, when given, supplies the key fields of a new batch.
func (pt *partition) useBatchFor(key string, m *Message) {
	b := &pt.batch
	if b.keyID == key && (b.count > 0 || pt.parked[key] == nil) {
		if b.count == 0 {
			setBatchKey(b, key, m)
		}
		return
	}
	if b.count > 0 {
		if pt.parked == nil {
			pt.parked = make(map[string]*openBatch)
		}
		parked := *b
		pt.parked[b.keyID] = &parked
		pt.parkedKeys = append(pt.parkedKeys, b.keyID)
		*b = openBatch{} // the parked batch owns the slices now
	}
	if parked, ok := pt.parked[key]; ok {
		delete(pt.parked, key)
		for i, k := range pt.parkedKeys {
			if k == key {
				pt.parkedKeys = append(pt.parkedKeys[:i], pt.parkedKeys[i+1:]...)
				break
			}
		}
		*b = *parked
		return
	}
	setBatchKey(b, key, m)
}

// setBatchKey names an empty batch's key.
func setBatchKey(b *openBatch, key string, m *Message) {
	b.keyID = key
	b.key, b.hasKey, b.keyBase64, b.orderingKey = "", false, false, nil
	if m != nil {
		b.key, b.hasKey, b.keyBase64 = m.Key, m.Key != "" || m.HasKey, m.KeyBase64
		if len(m.OrderingKey) > 0 {
			b.orderingKey = append([]byte(nil), m.OrderingKey...)
		}
	}
}

// flushAll sends every open batch: the partition's and the parked ones,
// oldest key first.
func (pt *partition) flushAll(now time.Time) {
	pt.flushBatch(now)
	pt.flushParked(now, true)
}

// flushParked sends the parked batches that are due (or all of them).
func (pt *partition) flushParked(now time.Time, all bool) {
	if len(pt.parkedKeys) == 0 {
		return
	}
	active := pt.batch.keyID
	for _, k := range append([]string(nil), pt.parkedKeys...) {
		if b := pt.parked[k]; b != nil && (all || !now.Before(b.deadline)) {
			pt.useBatchFor(k, nil)
			pt.flushBatch(now)
		}
	}
	if pt.batch.count == 0 && pt.parked[active] != nil {
		pt.useBatchFor(active, nil)
	}
}
