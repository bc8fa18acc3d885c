package api

import (
	"crypto/rand"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

// Clock tells the time. IDSource and the tests take one so that time can be
// driven by hand; nil means the real clock.
type Clock interface{ Now() time.Time }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// IDSource hands out ULIDs that are unique and strictly increasing in the order
// Next is called, from any number of goroutines: within one millisecond the
// random part is incremented (ulid.Monotonic), and a clock that steps backwards
// never makes an id smaller than the last one (the last millisecond is kept).
type IDSource struct {
	mu      sync.Mutex
	clock   Clock
	entropy *ulid.MonotonicEntropy
	lastMS  uint64
	rand    [10]byte // the random part of the id being made
}

// NewIDSource returns an IDSource that reads time from c (nil: the real clock)
// and randomness from crypto/rand.
func NewIDSource(c Clock) *IDSource { return newIDSource(c, rand.Reader) }

func newIDSource(c Clock, r io.Reader) *IDSource {
	if c == nil {
		c = realClock{}
	}
	return &IDSource{clock: c, entropy: ulid.Monotonic(r, 0)}
}

// Next returns a new id as a 26-character upper-case ULID.
func (s *IDSource) Next() string {
	var buf [ulid.EncodedSize]byte
	id := s.NextULID()
	_ = id.MarshalTextTo(buf[:]) // cannot fail: buf has the encoded size
	return string(buf[:])
}

// NextULID is Next without the conversion to a string.
func (s *IDSource) NextULID() ulid.ULID {
	s.mu.Lock()
	defer s.mu.Unlock()
	ms := ulid.Timestamp(s.clock.Now())
	if ms < s.lastMS {
		ms = s.lastMS
	}
	for {
		// ulid.New would do the same, but its id escapes through the
		// entropy interface and costs an allocation per id; s.rand does not.
		err := s.entropy.MonotonicRead(ms, s.rand[:])
		if err == nil {
			var id ulid.ULID
			if err = id.SetTime(ms); err != nil {
				panic("api: ULID time out of range: " + err.Error())
			}
			copy(id[6:], s.rand[:])
			s.lastMS = ms
			return id
		}
		if !errors.Is(err, ulid.ErrMonotonicOverflow) {
			// crypto/rand does not fail on supported platforms; an id
			// source that cannot produce ids is a broken process.
			panic("api: ULID generation failed: " + err.Error())
		}
		// The 80 random bits ran out within one millisecond: borrow the
		// next millisecond, which keeps ids increasing.
		ms++
	}
}

// ValidULID reports whether s is a ULID as chat.v1 accepts it: 26 characters of
// Crockford base32 (0-9, A-Z without I, L, O, U; lower case accepted), the first
// one 0–7 so that the 48-bit time does not overflow.
func ValidULID(s string) bool {
	if len(s) != ulid.EncodedSize || s[0] < '0' || s[0] > '7' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !crockford(s[i]) {
			return false
		}
	}
	return true
}

// CanonicalULID returns s in upper case, the form the server sends and in which
// ids compare as strings. s must satisfy ValidULID.
func CanonicalULID(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'a' <= c && c <= 'z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; 'a' <= c && c <= 'z' {
					b[j] = c - ('a' - 'A')
				}
			}
			return string(b)
		}
	}
	return s
}

// ULIDTime returns the time encoded in a valid ULID.
func ULIDTime(s string) (time.Time, bool) {
	id, err := ulid.ParseStrict(s)
	if err != nil {
		return time.Time{}, false
	}
	return ulid.Time(id.Time()).UTC(), true
}

func crockford(c byte) bool {
	if 'a' <= c && c <= 'z' {
		c -= 'a' - 'A'
	}
	switch {
	case '0' <= c && c <= '9':
		return true
	case 'A' <= c && c <= 'Z':
		return c != 'I' && c != 'L' && c != 'O' && c != 'U'
	}
	return false
}
