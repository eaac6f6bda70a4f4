// Message IDs: where the broker stored a message.
//
// A message ID names a ledger and an entry in it; a partitioned topic adds
// the partition, and a batched message adds its index within the batch's
// entry and the batch's size. Serialize writes the protocol's MessageIdData
// bytes, the form the official clients' MessageId.deserialize reads.
package engine

import (
	"fmt"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"
)

// MessageID identifies a stored message.
//
// A message written again after a reconnect, which the broker's
// deduplication recognises as already stored, completes with LedgerID and
// EntryID -1: the broker says it has the message but not where (the Java
// client reports the same). The engine avoids this where it can by taking
// late receipts from the connection a broker closed the producer on.
type MessageID struct {
	LedgerID int64
	EntryID  int64
	// Partition is the partition index, or -1 for a non-partitioned topic.
	Partition int32
	// BatchIndex is the message's index within its batch, or -1 when the
	// message was sent on its own.
	BatchIndex int32
	// BatchSize is the number of messages in the batch, or 0 when the
	// message was sent on its own.
	BatchSize int32
	// Chunked says the message was sent in chunks (chunkingEnabled):
	// LedgerID and EntryID are where its last chunk is stored, and
	// FirstChunkLedgerID and FirstChunkEntryID where its first is, as in
	// the Java client's chunk message ID.
	Chunked            bool
	FirstChunkLedgerID int64
	FirstChunkEntryID  int64
}

// String formats the ID as the Java client does:
// ledger:entry:partition, plus :batchIndex for a batched message; for a
// chunked message, the first chunk's ID, a semicolon, and the last's.
func (id MessageID) String() string {
	s := strconv.FormatInt(id.LedgerID, 10) + ":" + strconv.FormatInt(id.EntryID, 10) + ":" +
		strconv.FormatInt(int64(id.Partition), 10)
	if id.BatchIndex >= 0 {
		s += ":" + strconv.FormatInt(int64(id.BatchIndex), 10)
	}
	if id.Chunked {
		s = strconv.FormatInt(id.FirstChunkLedgerID, 10) + ":" + strconv.FormatInt(id.FirstChunkEntryID, 10) + ":" +
			strconv.FormatInt(int64(id.Partition), 10) + ";" + s
	}
	return s
}

// Serialize returns the ID as MessageIdData protocol bytes. Fields at their
// "absent" values (partition -1, batch index -1, batch size 0) are omitted,
// as the Java client does.
func (id MessageID) Serialize() []byte {
	return id.AppendSerialized(make([]byte, 0, 32))
}

// AppendSerialized appends the Serialize form to b.
func (id MessageID) AppendSerialized(b []byte) []byte {
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(id.LedgerID))
	b = protowire.AppendTag(b, 2, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(id.EntryID))
	if id.Partition >= 0 {
		b = protowire.AppendTag(b, 3, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(int64(id.Partition)))
	}
	if id.BatchIndex != -1 {
		b = protowire.AppendTag(b, 4, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(int64(id.BatchIndex)))
	}
	if id.BatchSize > 0 {
		b = protowire.AppendTag(b, 6, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(int64(id.BatchSize)))
	}
	if id.Chunked {
		first := MessageID{LedgerID: id.FirstChunkLedgerID, EntryID: id.FirstChunkEntryID, Partition: id.Partition, BatchIndex: -1}
		inner := first.AppendSerialized(nil)
		b = protowire.AppendTag(b, 7, protowire.BytesType)
		b = protowire.AppendBytes(b, inner)
	}
	return b
}

// DeserializeMessageID parses MessageIdData bytes, as written by Serialize
// or by an official client.
func DeserializeMessageID(b []byte) (MessageID, error) {
	id := MessageID{Partition: -1, BatchIndex: -1}
	var haveLedger, haveEntry bool
	r := reader{b: b}
	for r.more() {
		num, typ := r.tag()
		switch {
		case num == 1 && typ == protowire.VarintType:
			id.LedgerID = int64(r.varint())
			haveLedger = true
		case num == 2 && typ == protowire.VarintType:
			id.EntryID = int64(r.varint())
			haveEntry = true
		case num == 3 && typ == protowire.VarintType:
			id.Partition = int32(r.varint())
		case num == 4 && typ == protowire.VarintType:
			id.BatchIndex = int32(r.varint())
		case num == 6 && typ == protowire.VarintType:
			id.BatchSize = int32(r.varint())
		case num == 7 && typ == protowire.BytesType:
			first, err := DeserializeMessageID(r.bytes())
			if err != nil {
				return MessageID{}, Errorf(CodeInvalidArgument, "message ID bytes have a malformed first chunk ID: %v", err)
			}
			id.Chunked, id.FirstChunkLedgerID, id.FirstChunkEntryID = true, first.LedgerID, first.EntryID
		default:
			r.skip(num, typ)
		}
	}
	if r.err != nil {
		return MessageID{}, Errorf(CodeInvalidArgument, "message ID bytes are malformed: %v", r.err)
	}
	if !haveLedger || !haveEntry {
		return MessageID{}, Errorf(CodeInvalidArgument, "message ID bytes lack the ledger or entry ID")
	}
	return id, nil
}

// GoString helps test failure messages.
func (id MessageID) GoString() string {
	return fmt.Sprintf("MessageID{%d:%d p%d b%d/%d}", id.LedgerID, id.EntryID, id.Partition, id.BatchIndex, id.BatchSize)
}

// IsDuplicate reports whether this is the ID of a message that the
// broker's deduplication recognised as already stored when it was written
// again after a reconnect: the broker then says it has the message but not
// where, and the ID is -1:-1 (the Java client reports the same). The
// message is stored exactly once, under an ID the original receipt would
// have carried.
func (id MessageID) IsDuplicate() bool { return id.LedgerID == -1 && id.EntryID == -1 }
