// Host-owned memory: ppw_alloc, ppw_free, and checking (ptr, len) arguments.
//
// The host may only hand the module bytes that lie inside a block it got
// from ppw_alloc. Each block is a Go byte slice kept in a table (which also
// keeps it alive: Go's collector never moves heap objects, so the address
// stays valid until ppw_free). A (ptr, len) argument is accepted only if it
// falls entirely inside one live block, so a wrong pointer or an oversize
// length gets InvalidArgument instead of reading Go's own heap or trapping
// past the end of linear memory. The table is sorted by address; a host has
// a handful of blocks, so the binary search is a few comparisons.
package main

import (
	"sort"
	"unsafe"

	"github.com/pulsar-producer/pulsar-producer/core/engine"
)

// maxAlloc bounds one ppw_alloc: far above any Pulsar message, far below
// what would exhaust a 32-bit address space (Go aborts, untrappably, when
// it runs out of memory).
const maxAlloc = 256 << 20

// block is one live ppw_alloc allocation.
type block struct {
	base uint32
	buf  []byte
}

// blocks holds every live allocation, sorted by base; hit is the block
// hostBytes found last (nil once it is freed).
var (
	blocks []block
	hit    block
)

//go:wasmexport ppw_alloc
func ppAlloc(size uint32) (ptr uint32) {
	var code int32
	defer finish(&code)
	if size == 0 || size > maxAlloc {
		code = fail(engine.Errorf(engine.CodeInvalidArgument, "ppw_alloc: size %d is not between 1 and %d bytes", size, maxAlloc))
		return 0
	}
	buf := make([]byte, max(size, 16))[:size] // 16 bytes or more: 8-aligned
	base := uint32(uintptr(unsafe.Pointer(unsafe.SliceData(buf))))
	i := sort.Search(len(blocks), func(i int) bool { return blocks[i].base >= base })
	blocks = append(blocks, block{})
	copy(blocks[i+1:], blocks[i:])
	blocks[i] = block{base: base, buf: buf}
	status.Result[0] = uint64(base)
	return base
}

//go:wasmexport ppw_free
func ppFree(ptr uint32) (code int32) {
	defer finish(&code)
	i := sort.Search(len(blocks), func(i int) bool { return blocks[i].base >= ptr })
	if i == len(blocks) || blocks[i].base != ptr {
		return fail(engine.Errorf(engine.CodeInvalidArgument, "ppw_free: 0x%x is not the start of a block from ppw_alloc", ptr))
	}
	if hit.base == ptr {
		hit = block{}
	}
	blocks = append(blocks[:i], blocks[i+1:]...)
	blocks[len(blocks):cap(blocks)][0] = block{} // drop the reference
	return 0
}

// hostBytes returns the bytes [ptr, ptr+n) if they lie inside one block
// from ppw_alloc. what names the argument in the error. The common case is
// a range in the block found last.
func hostBytes(what string, ptr, n uint32) ([]byte, error) {
	if off := ptr - hit.base; ptr >= hit.base && n > 0 && uint64(off)+uint64(n) <= uint64(len(hit.buf)) {
		return hit.buf[off : off+n : off+n], nil
	}
	return findHostBytes(what, ptr, n)
}

// findHostBytes is hostBytes searching every block.
func findHostBytes(what string, ptr, n uint32) ([]byte, error) {
	if n == 0 {
		return nil, nil
	}
	i := sort.Search(len(blocks), func(i int) bool { return blocks[i].base > ptr }) - 1
	if i >= 0 {
		b := &blocks[i]
		off := uint64(ptr) - uint64(b.base)
		if off+uint64(n) <= uint64(len(b.buf)) {
			hit = *b
			return b.buf[off : off+uint64(n) : off+uint64(n)], nil
		}
		if off < uint64(len(b.buf)) {
			return nil, engine.Errorf(engine.CodeInvalidArgument,
				"%s: %d bytes at 0x%x run %d bytes past the end of its ppw_alloc block of %d bytes",
				what, n, ptr, off+uint64(n)-uint64(len(b.buf)), len(b.buf))
		}
	}
	return nil, engine.Errorf(engine.CodeInvalidArgument,
		"%s: %d bytes at 0x%x lie outside every block from ppw_alloc", what, n, ptr)
}

// hostString is hostBytes as a string (a copy).
func hostString(what string, ptr, n uint32) (string, error) {
	b, err := hostBytes(what, ptr, n)
	return string(b), err
}

func uintptrOf(s *statusBlock) uintptr { return uintptr(unsafe.Pointer(s)) }
