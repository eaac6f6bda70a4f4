// Compression of entries.
//
// Pulsar compresses a whole entry (a lone message, or a batch with its
// per-message metadata) and records the codec and the uncompressed size in
// the entry's metadata. LZ4 and Snappy use their raw block formats, ZLIB the
// zlib stream format and ZSTD a zstd frame, as the Java client does. When a
// codec does not make an entry smaller, the entry goes out uncompressed with
// compression NONE, which every consumer reads.
package engine

import (
	"bytes"

	"github.com/golang/snappy"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// codecs holds the compressors of one engine, created on first use.
type codecs struct {
	lz4  lz4.Compressor
	zlib *zlib.Writer
	zbuf bytes.Buffer
	zstd *zstd.Encoder
}

// compress appends the compressed form of src to dst. ok is false when the
// result would not be smaller than src; dst is then returned unchanged.
func (c *codecs) compress(t CompressionType, dst, src []byte) ([]byte, bool) {
	base := len(dst)
	switch t {
	case CompressionLZ4:
		bound := lz4.CompressBlockBound(len(src))
		dst = growTo(dst, base+bound)
		n, err := c.lz4.CompressBlock(src, dst[base:base+bound])
		if err != nil || n == 0 || n >= len(src) {
			return dst[:base], false
		}
		dst = dst[:base+n]
	case CompressionZLib:
		c.zbuf.Reset()
		if c.zlib == nil {
			c.zlib = zlib.NewWriter(&c.zbuf)
		} else {
			c.zlib.Reset(&c.zbuf)
		}
		if _, err := c.zlib.Write(src); err != nil {
			return dst, false
		}
		if err := c.zlib.Close(); err != nil {
			return dst, false
		}
		dst = append(dst, c.zbuf.Bytes()...)
	case CompressionZSTD:
		if c.zstd == nil {
			enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderCRC(false))
			if err != nil {
				return dst, false
			}
			c.zstd = enc
		}
		dst = c.zstd.EncodeAll(src, dst)
	case CompressionSnappy:
		bound := snappy.MaxEncodedLen(len(src))
		dst = growTo(dst, base+bound)
		out := snappy.Encode(dst[base:base+bound], src)
		dst = dst[:base+len(out)]
	default:
		return dst, false
	}
	if len(dst)-base >= len(src) {
		return dst[:base], false
	}
	return dst, true
}

// growTo returns b with length n, keeping its contents.
func growTo(b []byte, n int) []byte {
	if cap(b) >= n {
		return b[:n]
	}
	nb := make([]byte, n, n+n/4)
	copy(nb, b)
	return nb
}
