// What the module reports about itself on request: a producer's room and
// partition count, its counters, and the client's.
//
// How this works: ppw_room and ppw_partitions answer in the status block;
// ppw_producer_stats and ppw_client_stats copy a fixed little-endian record
// (ABI.md, "Stats records"; the layout is package abi's, shared with the
// host) into a host buffer. They are rare calls, so they are plain exports
// with the usual recover, not part of the per-send status block.
package main

import (
	"github.com/pulsar-producer/pulsar-producer/core/engine"
	"github.com/pulsar-producer/pulsar-producer/wasm/internal/abi"
)

// ppw_room reports how many more messages (result0) and payload bytes
// (result1) the producer takes before a send fails with ProducerQueueIsFull
// or MemoryBufferIsFull; all ones means no limit, and a producer that is not
// ready (or not open) has 0 and 0. It does not change which producer's room
// the status block's room fields describe.
//
//go:wasmexport ppw_room
func ppRoom(producer uint64) (code int32) {
	defer finish(&code)
	status.Result = [3]uint64{}
	if eng == nil {
		return noClient()
	}
	m, b := eng.Room(engine.ProducerID(producer))
	status.Result[0], status.Result[1] = uint64(int64(m)), uint64(b) // -1 is all ones
	return 0
}

// ppw_partitions reports the producer's partition count now (result0): 0
// for a plain topic, a producer not ready yet, or one the module does not
// know. It grows when partitionsAutoDiscoveryInterval finds partitions an
// admin added, which no event announces, so a host that routes messages
// itself asks again before routing.
//
//go:wasmexport ppw_partitions
func ppPartitions(producer uint64) (code int32) {
	defer finish(&code)
	status.Result = [3]uint64{}
	if eng == nil {
		return noClient()
	}
	status.Result[0] = uint64(eng.NumPartitions(engine.ProducerID(producer)))
	return 0
}

// ppw_producer_stats copies the producer's stats record into the buffer;
// result1 is its size. InvalidHandle for a producer that is closed or was
// never created.
//
//go:wasmexport ppw_producer_stats
func ppProducerStats(producer uint64, bufPtr, bufCap uint32) (code int32) {
	defer finish(&code)
	status.Result = [3]uint64{}
	if eng == nil {
		return noClient()
	}
	s, ok := eng.ProducerStats(engine.ProducerID(producer))
	if !ok {
		return fail(engine.Errorf(engine.CodeInvalidHandle, "ppw_producer_stats: no open producer %d", producer))
	}
	buf, err := statsBuffer("ppw_producer_stats", bufPtr, bufCap, abi.ProducerStatsSize)
	if err != nil {
		return fail(err)
	}
	abi.PutProducerStats(buf, &s)
	return 0
}

// ppw_client_stats copies the client's stats record into the buffer;
// result1 is its size.
//
//go:wasmexport ppw_client_stats
func ppClientStats(bufPtr, bufCap uint32) (code int32) {
	defer finish(&code)
	status.Result = [3]uint64{}
	if eng == nil {
		return noClient()
	}
	s := eng.ClientStats()
	buf, err := statsBuffer("ppw_client_stats", bufPtr, bufCap, abi.ClientStatsSize)
	if err != nil {
		return fail(err)
	}
	abi.PutClientStats(buf, &s)
	return 0
}

// statsBuffer checks a host buffer for a record of size bytes and sets
// result1 to the size, needed or written.
func statsBuffer(export string, ptr, capacity uint32, size int) ([]byte, error) {
	status.Result[1] = uint64(size)
	if capacity < uint32(size) {
		return nil, engine.Errorf(engine.CodeBufferTooSmall, "%s: the record needs %d bytes; the buffer holds %d", export, size, capacity)
	}
	return hostBytes(export+" buffer", ptr, uint32(size))
}
