package wire

import "encoding/binary"

// Mask XORs b in place with the 4-byte masking key of RFC 6455 §5.3, starting
// at byte pos of the key (0–3), and returns the key position for the byte
// after b. Because the position is carried in and out, a payload can be
// unmasked in chunks of any size: pass the returned position to the next
// call. Masking twice with the same key restores the input.
//
// The bulk of b is processed eight bytes at a time with the key widened to a
// 64-bit word, which is several times faster than a byte loop.
func Mask(key [4]byte, pos int, b []byte) int {
	pos &= 3
	// Align the key so that byte i of b meets key[(pos+i)%4].
	var k [4]byte
	for i := range k {
		k[i] = key[(pos+i)&3]
	}
	if len(b) >= 16 {
		k32 := binary.LittleEndian.Uint32(k[:])
		k64 := uint64(k32) | uint64(k32)<<32
		for len(b) >= 32 {
			binary.LittleEndian.PutUint64(b[0:8], binary.LittleEndian.Uint64(b[0:8])^k64)
			binary.LittleEndian.PutUint64(b[8:16], binary.LittleEndian.Uint64(b[8:16])^k64)
			binary.LittleEndian.PutUint64(b[16:24], binary.LittleEndian.Uint64(b[16:24])^k64)
			binary.LittleEndian.PutUint64(b[24:32], binary.LittleEndian.Uint64(b[24:32])^k64)
			b = b[32:]
		}
		for len(b) >= 8 {
			binary.LittleEndian.PutUint64(b[0:8], binary.LittleEndian.Uint64(b[0:8])^k64)
			b = b[8:]
		}
	}
	// Whole words keep the key aligned (8 is a multiple of 4), so the tail
	// starts at k[0] again.
	for i := range b {
		b[i] ^= k[i&3]
	}
	return (pos + len(b)) & 3
}
