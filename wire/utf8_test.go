package wire

import (
	"strconv"
	"testing"
	"unicode/utf8"
)

func itoaTest(n int) string { return strconv.Itoa(n) }

// validPrefix reports whether p can still become valid UTF-8 with more
// bytes: the reference for fail-fast behaviour.
func validPrefix(p []byte) bool {
	if utf8.Valid(p) {
		return true
	}
	// Try completing the last up-to-3 bytes with every continuation.
	for k := 1; k <= 3; k++ {
		for _, tail := range completions(k) {
			if utf8.Valid(append(append([]byte{}, p...), tail...)) {
				return true
			}
		}
	}
	return false
}

func completions(k int) [][]byte {
	if k == 0 {
		return [][]byte{nil}
	}
	var out [][]byte
	for _, rest := range completions(k - 1) {
		// Every range a continuation byte may be limited to (RFC 3629
		// §4) contains one of these, so trying them is exhaustive.
		for _, c := range []byte{0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF} {
			out = append(out, append([]byte{c}, rest...))
		}
	}
	return out
}

var utf8Cases = []struct {
	name string
	s    string
}{
	{"ascii", "hello"},
	{"greek", "κόσμε"},
	{"4-byte", "𝄞 music"},
	{"max code point", "\xf4\x8f\xbf\xbf"},
	{"above max", "\xf4\x90\x80\x80"},
	{"surrogate", "\xed\xa0\x80"},
	{"overlong slash", "\xc0\xaf"},
	{"overlong 3-byte", "\xe0\x80\xaf"},
	{"overlong 4-byte", "\xf0\x80\x80\xaf"},
	{"stray continuation", "a\x80b"},
	{"truncated 3-byte", "\xe2\x82"},
	{"truncated then ascii", "\xe2\x82a"},
	{"f5 lead", "\xf5\x80\x80\x80"},
	{"ff", "\xff"},
	{"valid after invalid prefix", "κ\xce"},
	{"noncharacter U+FFFF is valid", "\xef\xbf\xbf"},
}

func TestValidUTF8(t *testing.T) {
	for _, tc := range utf8Cases {
		if got, want := ValidUTF8([]byte(tc.s)), utf8.ValidString(tc.s); got != want {
			t.Errorf("%s: ValidUTF8 = %v, want %v", tc.name, got, want)
		}
	}
}

// TestUTF8ValidatorFailsFast feeds every case in pieces of every size and
// checks the validator fails exactly at the first byte after which no
// continuation can make the stream valid.
func TestUTF8ValidatorFailsFast(t *testing.T) {
	for _, tc := range utf8Cases {
		p := []byte(tc.s)
		for piece := 1; piece <= len(p); piece++ {
			var v UTF8Validator
			failedAt := -1
			for i := 0; i < len(p); i += piece {
				end := min(i+piece, len(p))
				if !v.Write(p[i:end]) {
					failedAt = end
					break
				}
			}
			// The first prefix length at which the stream is doomed.
			doomed := -1
			for n := 1; n <= len(p); n++ {
				if !validPrefix(p[:n]) {
					doomed = n
					break
				}
			}
			switch {
			case doomed < 0 && failedAt >= 0:
				t.Errorf("%s, pieces of %d: failed at %d on a valid prefix", tc.name, piece, failedAt)
			case doomed >= 0 && failedAt < 0:
				t.Errorf("%s, pieces of %d: never failed, doomed at %d", tc.name, piece, doomed)
			case doomed >= 0 && (failedAt < doomed || failedAt >= doomed+piece):
				t.Errorf("%s, pieces of %d: failed after %d bytes, doomed at %d", tc.name, piece, failedAt, doomed)
			}
			if failedAt < 0 && v.Done() != utf8.Valid(p) {
				t.Errorf("%s: Done() = %v, want %v", tc.name, v.Done(), utf8.Valid(p))
			}
		}
	}
}
