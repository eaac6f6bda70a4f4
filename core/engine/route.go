// Routing: which partition of a partitioned topic a message goes to.
//
// A keyed message always goes to hash(key) mod partitions, with the hash the
// Java client uses (String.hashCode by default, or Murmur3 32-bit), so keys
// land on the same partitions whichever client publishes them. A keyless
// message follows the routing mode: round robin (time-sliced while batching,
// so that batches fill), or one partition chosen at start.
package engine

import (
	"encoding/binary"
	"math/bits"
	"time"
	"unicode/utf16"
)

// javaStringHash is Java's String.hashCode over the UTF-16 code units of s,
// masked to a non-negative int as the Java client does.
func javaStringHash(s string) uint32 {
	var h int32
	for _, r := range s {
		if r >= 0x10000 {
			hi, lo := utf16.EncodeRune(r)
			h = 31*h + int32(hi)
			h = 31*h + int32(lo)
			continue
		}
		h = 31*h + int32(r)
	}
	return uint32(h) & 0x7fffffff
}

// murmur3Hash is Murmur3 x86 32-bit with seed 0 over the UTF-8 bytes of s,
// masked to a non-negative int as the Java client does.
func murmur3Hash(s string) uint32 {
	const c1, c2 = 0xcc9e2d51, 0x1b873593
	var h uint32
	b := []byte(s)
	n := len(b)
	for len(b) >= 4 {
		k := binary.LittleEndian.Uint32(b)
		k *= c1
		k = bits.RotateLeft32(k, 15)
		k *= c2
		h ^= k
		h = bits.RotateLeft32(h, 13)
		h = h*5 + 0xe6546b64
		b = b[4:]
	}
	var k uint32
	switch len(b) {
	case 3:
		k ^= uint32(b[2]) << 16
		fallthrough
	case 2:
		k ^= uint32(b[1]) << 8
		fallthrough
	case 1:
		k ^= uint32(b[0])
		k *= c1
		k = bits.RotateLeft32(k, 15)
		k *= c2
		h ^= k
	}
	h ^= uint32(n)
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return h & 0x7fffffff
}

// callRouter hands the user's router a copy of the message: passing the
// caller's pointer to a function value would make every sent message
// escape to the heap, routed by a custom router or not.
//
//go:noinline
func callRouter(f func(*Message, int) int, m Message, n int) int { return f(&m, n) }

// router holds the routing state of one producer.
type router struct {
	mode     RoutingMode
	hashing  HashingScheme
	custom   func(*Message, int) int
	batching bool
	switchMs int64 // round robin: how long to stay on one partition
	start    int   // round robin: the first partition; single: the partition
	counter  int   // round robin without batching
}

func newRouter(o *ProducerOptions, r *rng, partitions int) router {
	rt := router{
		mode:     o.RoutingMode,
		hashing:  o.HashingScheme,
		custom:   o.Router,
		batching: !o.DisableBatching,
		switchMs: max(1, o.BatchingMaxPublishDelay.Milliseconds()),
	}
	if partitions > 0 {
		rt.start = r.intn(partitions)
	}
	return rt
}

// pick returns the partition index of m among n partitions.
func (rt *router) pick(m *Message, n int, now time.Time) (int, error) {
	if rt.custom != nil {
		i := callRouter(rt.custom, *m, n)
		if i < 0 || i >= n {
			return 0, Errorf(CodeInvalidArgument, "router returned partition %d for a topic of %d partitions", i, n)
		}
		return i, nil
	}
	if m.Key != "" || m.HasKey {
		h := javaStringHash(m.Key)
		if rt.hashing == Murmur3Hash {
			h = murmur3Hash(m.Key)
		}
		return int(h % uint32(n)), nil
	}
	if rt.mode == SinglePartition {
		return rt.start % n, nil
	}
	if rt.batching {
		return int((now.UnixMilli()/rt.switchMs + int64(rt.start)) % int64(n)), nil
	}
	rt.counter++
	return (rt.start + rt.counter) % n, nil
}
