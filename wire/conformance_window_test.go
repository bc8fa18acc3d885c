package wire_test

// A DEFLATE (RFC 1951) block walker that reports the largest back-reference distance in a
// compressed message, so the tests can prove a peer honours a negotiated
// server_max_window_bits / client_max_window_bits (RFC 7692 §7.1.2): a window of 2^N bytes
// means no distance above 2^N. Inflaters do not check this (zlib happily follows a
// distance beyond a small window when the bytes are there), so a peer that ignores the
// limit interoperates with lenient stacks and corrupts data with strict ones. The walker
// follows the algorithm of zlib's puff.c, written for this test.

import (
	"bytes"
	"errors"
	"testing"
)

type bitReader struct {
	b   []byte
	pos int // bit position
}

var errBitsExhausted = errors.New("deflate: input ended")

func (r *bitReader) bits(n int) (int, error) {
	if r.pos+n > len(r.b)*8 {
		return 0, errBitsExhausted
	}
	v := 0
	for i := range n {
		v |= int(r.b[r.pos>>3]>>(r.pos&7)&1) << i
		r.pos++
	}
	return v, nil
}

// huffman is a canonical Huffman code given by code lengths (puff.c's representation).
type huffman struct {
	count  [16]int
	symbol []int
}

func newHuffman(lengths []int) huffman {
	var h huffman
	for _, l := range lengths {
		h.count[l]++
	}
	h.count[0] = 0
	var offs [16]int
	for l := 1; l < 16; l++ {
		offs[l] = offs[l-1] + h.count[l-1]
	}
	h.symbol = make([]int, len(lengths))
	for sym, l := range lengths {
		if l != 0 {
			h.symbol[offs[l]] = sym
			offs[l]++
		}
	}
	return h
}

func (h *huffman) decode(r *bitReader) (int, error) {
	code, first, index := 0, 0, 0
	for l := 1; l < 16; l++ {
		b, err := r.bits(1)
		if err != nil {
			return 0, err
		}
		code |= b
		count := h.count[l]
		if code-count < first {
			return h.symbol[index+(code-first)], nil
		}
		index += count
		first += count
		first <<= 1
		code <<= 1
	}
	return 0, errors.New("deflate: bad code")
}

var (
	lenBase   = [...]int{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lenExtra  = [...]int{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase  = [...]int{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra = [...]int{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
	clOrder   = [...]int{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}
)

// maxDistance walks a permessage-deflate payload (tail removed, as on the wire) and
// returns the largest back-reference distance it contains.
func maxDistance(payload []byte) (int, error) {
	d, _, err := walkDeflate(payload)
	return d, err
}

// walkDeflate decodes payload, returning the largest distance and the decoded bytes
// (which the walker's own test compares with the input, proving the walk is right).
// Distances reaching before the payload's first byte (context takeover) are counted
// but not resolved.
func walkDeflate(payload []byte) (int, []byte, error) {
	r := &bitReader{b: append(append([]byte{}, payload...), 0, 0, 0xff, 0xff)}
	maxd := 0
	var out []byte
	for {
		final, err := r.bits(1)
		if err != nil {
			return maxd, out, nil // the stream ends at a block boundary: done
		}
		typ, err := r.bits(2)
		if err != nil {
			return maxd, out, nil
		}
		switch typ {
		case 0:
			r.pos = (r.pos + 7) &^ 7
			n, err := r.bits(16)
			if err != nil {
				return maxd, out, err
			}
			if _, err := r.bits(16); err != nil {
				return maxd, out, err
			}
			if r.pos+8*n > len(r.b)*8 {
				return maxd, out, errBitsExhausted
			}
			out = append(out, r.b[r.pos/8:r.pos/8+n]...)
			r.pos += 8 * n
		case 1, 2:
			var lit, dist huffman
			if typ == 1 {
				lengths := make([]int, 288)
				for i := range lengths {
					switch {
					case i < 144:
						lengths[i] = 8
					case i < 256:
						lengths[i] = 9
					case i < 280:
						lengths[i] = 7
					default:
						lengths[i] = 8
					}
				}
				lit = newHuffman(lengths)
				d := make([]int, 30)
				for i := range d {
					d[i] = 5
				}
				dist = newHuffman(d)
			} else if lit, dist, err = dynamicCodes(r); err != nil {
				return maxd, out, err
			}
			for {
				sym, err := lit.decode(r)
				if err != nil {
					return maxd, out, err
				}
				if sym < 256 {
					out = append(out, byte(sym))
					continue
				}
				if sym == 256 {
					break
				}
				sym -= 257
				if sym >= len(lenBase) {
					return maxd, out, errors.New("deflate: bad length symbol")
				}
				le, err := r.bits(lenExtra[sym])
				if err != nil {
					return maxd, out, err
				}
				length := lenBase[sym] + le
				ds, err := dist.decode(r)
				if err != nil {
					return maxd, out, err
				}
				if ds >= len(distBase) {
					return maxd, out, errors.New("deflate: bad distance symbol")
				}
				extra, err := r.bits(distExtra[ds])
				if err != nil {
					return maxd, out, err
				}
				d := distBase[ds] + extra
				maxd = max(maxd, d)
				for range length {
					if d > len(out) {
						out = append(out, 0) // history from before this message
						continue
					}
					out = append(out, out[len(out)-d])
				}
			}
		default:
			return maxd, out, errors.New("deflate: reserved block type")
		}
		if final == 1 {
			return maxd, out, nil
		}
	}
}

func dynamicCodes(r *bitReader) (huffman, huffman, error) {
	hlit, err := r.bits(5)
	if err != nil {
		return huffman{}, huffman{}, err
	}
	hdist, err := r.bits(5)
	if err != nil {
		return huffman{}, huffman{}, err
	}
	hclen, err := r.bits(4)
	if err != nil {
		return huffman{}, huffman{}, err
	}
	nlen, ndist := hlit+257, hdist+1
	cl := make([]int, 19)
	for i := range hclen + 4 {
		if cl[clOrder[i]], err = r.bits(3); err != nil {
			return huffman{}, huffman{}, err
		}
	}
	clh := newHuffman(cl)
	lengths := make([]int, 0, nlen+ndist)
	for len(lengths) < nlen+ndist {
		sym, err := clh.decode(r)
		if err != nil {
			return huffman{}, huffman{}, err
		}
		switch {
		case sym < 16:
			lengths = append(lengths, sym)
		case sym == 16:
			if len(lengths) == 0 {
				return huffman{}, huffman{}, errors.New("deflate: repeat with no previous length")
			}
			n, err := r.bits(2)
			if err != nil {
				return huffman{}, huffman{}, err
			}
			for range 3 + n {
				lengths = append(lengths, lengths[len(lengths)-1])
			}
		default:
			bitsN, base := 3, 3
			if sym == 18 {
				bitsN, base = 7, 11
			}
			n, err := r.bits(bitsN)
			if err != nil {
				return huffman{}, huffman{}, err
			}
			for range base + n {
				lengths = append(lengths, 0)
			}
		}
	}
	if len(lengths) > nlen+ndist {
		return huffman{}, huffman{}, errors.New("deflate: too many lengths")
	}
	return newHuffman(lengths[:nlen]), newHuffman(lengths[nlen:]), nil
}

// TestMaxDistanceWalker pins the walker to known streams, so a window test that passes
// does so because the distances are small, not because the walker saw none.
func TestMaxDistanceWalker(t *testing.T) {
	block := randomBytes(600, 3)
	far := append(append([]byte{}, block...), block...) // second copy is 600 bytes back
	for _, tc := range []struct {
		name        string
		p           []byte
		huffmanOnly bool
		min, max    int
	}{
		{"repeat at distance 600", far, false, 600, 600},
		{"short repeats", bytes.Repeat([]byte("abcdefgh"), 100), false, 8, 800},
		{"no back-references", far, true, 0, 0},
		{"long compressible text", compressible(100000, 4), false, 1, 32768},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := (&deflater{huffmanOnly: tc.huffmanOnly}).compress(tc.p)
			got, out, err := walkDeflate(c)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, tc.p) {
				t.Fatalf("walker decoded %d bytes that differ from the %d compressed", len(out), len(tc.p))
			}
			if got < tc.min || got > tc.max {
				t.Fatalf("max distance %d, want %d..%d", got, tc.min, tc.max)
			}
		})
	}
}
