package wire

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// maskNaive is the byte loop of RFC 6455 §5.3, the reference for Mask.
func maskNaive(key [4]byte, pos int, b []byte) int {
	for i := range b {
		b[i] ^= key[(pos+i)&3]
	}
	return (pos + len(b)) & 3
}

func TestMaskMatchesByteLoop(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	for n := 0; n < 300; n++ {
		for pos := 0; pos < 4; pos++ {
			src := make([]byte, n)
			for i := range src {
				src[i] = byte(rng.Uint32())
			}
			want := bytes.Clone(src)
			wantPos := maskNaive(key, pos, want)
			got := bytes.Clone(src)
			gotPos := Mask(key, pos, got)
			if !bytes.Equal(got, want) || gotPos != wantPos {
				t.Fatalf("n=%d pos=%d: Mask differs from the byte loop (pos %d vs %d)", n, pos, gotPos, wantPos)
			}
		}
	}
}

func TestMaskInChunksEqualsWhole(t *testing.T) {
	key := [4]byte{1, 2, 3, 4}
	src := bytes.Repeat([]byte("payload!"), 100)
	whole := bytes.Clone(src)
	Mask(key, 0, whole)
	for _, chunk := range []int{1, 3, 5, 7, 8, 13, 64, 799} {
		got := bytes.Clone(src)
		pos := 0
		for i := 0; i < len(got); i += chunk {
			pos = Mask(key, pos, got[i:min(i+chunk, len(got))])
		}
		if !bytes.Equal(got, whole) {
			t.Fatalf("chunks of %d unmask differently from one call", chunk)
		}
	}
	// Masking twice restores the input.
	Mask(key, 0, whole)
	if !bytes.Equal(whole, src) {
		t.Fatal("masking twice did not restore the input")
	}
}

func BenchmarkMaskVsByteLoop(b *testing.B) {
	for _, n := range []int{125, 1024, 64 << 10} {
		buf := make([]byte, n)
		dst := make([]byte, n)
		b.Run("Mask/"+itoaTest(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				Mask([4]byte{1, 2, 3, 4}, 1, buf)
			}
		})
		b.Run("naive/"+itoaTest(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				maskNaive([4]byte{1, 2, 3, 4}, 1, buf)
			}
		})
		b.Run("copy/"+itoaTest(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				copy(dst, buf)
			}
		})
	}
}
