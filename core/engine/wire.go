// Hand-written protobuf encoders and decoders for the hot path.
//
// Every message a producer publishes costs one SingleMessageMetadata (or
// MessageMetadata) encode and every entry one SEND encode and one
// SEND_RECEIPT decode. The generated code allocates a struct and a pointer
// per optional field for each of those, so these few are written by hand
// with protowire, straight into the batch buffer. wire_test.go proves that
// the generated code decodes their bytes to the same values.
//
// The reader has a sticky error, checked once after a message is parsed,
// so the field loops carry no error handling of their own.
package engine

import (
	"errors"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"
)

var errTruncated = errors.New("truncated protobuf field")

// reader walks protobuf fields; the first error sticks and ends the walk.
type reader struct {
	b   []byte
	err error
}

func (r *reader) more() bool { return r.err == nil && len(r.b) > 0 }

func (r *reader) fail(n int) {
	if r.err == nil {
		r.err = protowire.ParseError(n)
		if r.err == nil {
			r.err = errTruncated
		}
	}
	r.b = nil
}

func (r *reader) tag() (protowire.Number, protowire.Type) {
	num, typ, n := protowire.ConsumeTag(r.b)
	if n < 0 {
		r.fail(n)
		return 0, 0
	}
	r.b = r.b[n:]
	return num, typ
}

func (r *reader) varint() uint64 {
	v, n := protowire.ConsumeVarint(r.b)
	if n < 0 {
		r.fail(n)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes() []byte {
	v, n := protowire.ConsumeBytes(r.b)
	if n < 0 {
		r.fail(n)
		return nil
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) skip(num protowire.Number, typ protowire.Type) {
	n := protowire.ConsumeFieldValue(num, typ, r.b)
	if n < 0 {
		r.fail(n)
		return
	}
	r.b = r.b[n:]
}

// appendVarint is protowire.AppendVarint in a form the compiler inlines:
// most values on the hot path (sizes, small sequence IDs) take one or two
// bytes.
func appendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// Field-level append helpers. Tags for field numbers below 16 fit one byte.
func appendVarintField(b []byte, num protowire.Number, v uint64) []byte {
	if num < 16 {
		b = append(b, byte(num)<<3|byte(protowire.VarintType))
	} else {
		b = protowire.AppendTag(b, num, protowire.VarintType)
	}
	return appendVarint(b, v)
}

func appendBytesField(b []byte, num protowire.Number, v []byte) []byte {
	b = appendBytesTag(b, num, len(v))
	return append(b, v...)
}

func appendStringField(b []byte, num protowire.Number, v string) []byte {
	b = appendBytesTag(b, num, len(v))
	return append(b, v...)
}

// appendBytesTag appends the tag and length of a length-delimited field.
func appendBytesTag(b []byte, num protowire.Number, n int) []byte {
	if num < 16 {
		b = append(b, byte(num)<<3|byte(protowire.BytesType))
	} else {
		b = protowire.AppendTag(b, num, protowire.BytesType)
	}
	return appendVarint(b, uint64(n))
}

func appendBoolField(b []byte, num protowire.Number) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return append(b, 1)
}

// appendProperties appends a repeated KeyValue field, keys in sorted order
// so that the same message always encodes to the same bytes.
func appendProperties(b []byte, num protowire.Number, props map[string]string) []byte {
	if len(props) == 0 {
		return b
	}
	var small [8]string
	keys := small[:0]
	for k := range props {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := props[k]
		size := 1 + protowire.SizeBytes(len(k)) + 1 + protowire.SizeBytes(len(v))
		b = protowire.AppendTag(b, num, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(size))
		b = appendStringField(b, 1, k)
		b = appendStringField(b, 2, v)
	}
	return b
}

// appendSingleMeta appends the SingleMessageMetadata of one batched message.
func appendSingleMeta(b []byte, m *Message, payloadSize int, seq int64) []byte {
	if m.Key == "" && !m.HasKey && len(m.Properties) == 0 && len(m.OrderingKey) == 0 && m.EventTime.IsZero() && !m.NullValue {
		// The common case: payload size and sequence ID only.
		b = append(b, 3<<3|byte(protowire.VarintType))
		b = appendVarint(b, uint64(payloadSize))
		b = append(b, 8<<3|byte(protowire.VarintType))
		return appendVarint(b, uint64(seq))
	}
	b = appendProperties(b, 1, m.Properties)
	if m.Key != "" || m.HasKey {
		b = appendStringField(b, 2, m.Key)
	}
	if m.KeyBase64 {
		b = appendBoolField(b, 6)
	}
	b = appendVarintField(b, 3, uint64(payloadSize))
	if ms := unixMillis(m.EventTime); ms > 0 {
		b = appendVarintField(b, 5, uint64(ms))
	}
	if len(m.OrderingKey) > 0 {
		b = appendBytesField(b, 7, m.OrderingKey)
	}
	b = appendVarintField(b, 8, uint64(seq))
	if m.NullValue {
		b = appendBoolField(b, 9)
	}
	return b
}

// entryMeta is what an entry's MessageMetadata says: the batch-level
// fields for a batch, or the message's own for a lone message.
type entryMeta struct {
	producerName     string
	schemaVersion    []byte
	seq              int64
	publishTime      int64  // ms since the epoch
	single           []byte // a lone message's SingleMessageMetadata
	replicateTo      []string
	compression      CompressionType
	uncompressedSize int
	batchSize        int // messages in the batch; 0 for a lone message
	highestSeq       int64
	deliverAt        int64 // ms since the epoch; 0 for none
	compressed       bool  // the payload is compressed already (a chunk)

	// keyBased batching: the key every message of a batch has.
	batchKey         string
	batchHasKey      bool
	batchKeyBase64   bool
	batchOrderingKey []byte

	// A chunk of a message sent in chunks; numChunks is 0 otherwise.
	uuid           string
	numChunks      int
	totalChunkSize int
	chunkID        int
}

// appendEntryMeta appends an entry's MessageMetadata.
func appendEntryMeta(b []byte, em *entryMeta) []byte {
	b = appendStringField(b, 1, em.producerName)
	b = appendVarintField(b, 2, uint64(em.seq))
	b = appendVarintField(b, 3, uint64(em.publishTime))
	if em.single != nil {
		b = transcodeSingle(b, em.single)
	} else if em.batchSize > 0 {
		if em.batchHasKey {
			b = appendStringField(b, 6, em.batchKey)
		}
		if em.batchKeyBase64 {
			b = appendBoolField(b, 17)
		}
		if len(em.batchOrderingKey) > 0 {
			b = appendBytesField(b, 18, em.batchOrderingKey)
		}
	}
	for _, c := range em.replicateTo {
		b = appendStringField(b, 7, c)
	}
	if em.compression != CompressionNone {
		b = appendVarintField(b, 8, uint64(em.compression))
	}
	if em.compression != CompressionNone || em.numChunks > 0 {
		// Chunks say it even uncompressed: consumers size the whole
		// message by it.
		b = appendVarintField(b, 9, uint64(em.uncompressedSize))
	}
	if em.batchSize > 0 {
		b = appendVarintField(b, 11, uint64(em.batchSize))
	}
	if len(em.schemaVersion) > 0 {
		b = appendBytesField(b, 16, em.schemaVersion)
	}
	if em.deliverAt > 0 {
		b = appendVarintField(b, 19, uint64(em.deliverAt))
	}
	if em.batchSize > 0 {
		b = appendVarintField(b, 24, uint64(em.highestSeq))
	}
	if em.numChunks > 0 {
		b = appendStringField(b, 26, em.uuid)
		b = appendVarintField(b, 27, uint64(em.numChunks))
		b = appendVarintField(b, 28, uint64(em.totalChunkSize))
		b = appendVarintField(b, 29, uint64(em.chunkID))
	}
	return b
}

// appendSendCommand appends a BaseCommand{type: SEND, send: ...}.
func appendSendCommand(b []byte, producerID uint64, seq int64, numMessages int, highestSeq int64, isChunk bool) []byte {
	var inner [48]byte
	in := appendVarintField(inner[:0], 1, producerID)
	in = appendVarintField(in, 2, uint64(seq))
	if numMessages > 1 {
		in = appendVarintField(in, 3, uint64(numMessages))
		in = appendVarintField(in, 6, uint64(highestSeq))
	}
	if isChunk {
		in = appendBoolField(in, 7)
	}
	b = appendVarintField(b, 1, uint64(cmdSend))
	return appendBytesField(b, 6, in)
}

// receipt is a decoded SEND_RECEIPT.
type receipt struct {
	producerID uint64
	seq        int64
	highestSeq int64
	ledgerID   int64
	entryID    int64
	hasID      bool
}

// decodeReceipt decodes the body of a CommandSendReceipt.
func decodeReceipt(b []byte) (receipt, error) {
	var rc receipt
	var haveProducer, haveSeq bool
	r := reader{b: b}
	for r.more() {
		num, typ := r.tag()
		switch {
		case num == 1 && typ == protowire.VarintType:
			rc.producerID = r.varint()
			haveProducer = true
		case num == 2 && typ == protowire.VarintType:
			rc.seq = int64(r.varint())
			haveSeq = true
		case num == 3 && typ == protowire.BytesType:
			id := reader{b: r.bytes()}
			for id.more() {
				n, t := id.tag()
				switch {
				case n == 1 && t == protowire.VarintType:
					rc.ledgerID = int64(id.varint())
					rc.hasID = true
				case n == 2 && t == protowire.VarintType:
					rc.entryID = int64(id.varint())
				default:
					id.skip(n, t)
				}
			}
			if id.err != nil {
				r.err = id.err
			}
		case num == 4 && typ == protowire.VarintType:
			rc.highestSeq = int64(r.varint())
		default:
			r.skip(num, typ)
		}
	}
	if r.err != nil {
		return rc, r.err
	}
	if !haveProducer || !haveSeq {
		return rc, errors.New("send receipt lacks producer_id or sequence_id")
	}
	return rc, nil
}

// peekCommandType finds the type field of a BaseCommand without decoding
// the rest; the SEND_RECEIPT fast path uses it.
func peekCommandType(b []byte) (cmdType, []byte, bool) {
	r := reader{b: b}
	var typ cmdType
	var body []byte
	for r.more() {
		num, wt := r.tag()
		switch {
		case num == 1 && wt == protowire.VarintType:
			typ = cmdType(r.varint())
		case num == protowire.Number(cmdSendReceipt) && wt == protowire.BytesType:
			body = r.bytes()
		default:
			r.skip(num, wt)
		}
	}
	return typ, body, r.err == nil && typ != 0
}
