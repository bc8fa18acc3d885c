package wire

import "unicode/utf8"

// ValidUTF8 reports whether p is entirely valid UTF-8 as RFC 3629 defines it
// (no surrogates, nothing above U+10FFFF, no overlong forms), which is what
// RFC 6455 §8.1 requires of text messages and close reasons.
func ValidUTF8(p []byte) bool { return utf8.Valid(p) }

// UTF8Validator checks a byte stream that arrives in pieces (a text message
// across fragments and reads) and fails as soon as the bytes seen so far
// cannot be the prefix of valid UTF-8, not only at the end. The zero value
// is ready to use.
type UTF8Validator struct {
	// need is how many continuation bytes the current sequence still
	// needs; lo and hi bound the next one (RFC 3629 §4 narrows the first
	// continuation byte after E0, ED, F0 and F4).
	need   uint8
	lo, hi byte
}

// Reset forgets any partial sequence, ready for a new stream.
func (v *UTF8Validator) Reset() { *v = UTF8Validator{} }

// Write feeds the next bytes of the stream and reports whether everything
// fed so far is still a valid UTF-8 prefix. Once it returns false the
// stream is invalid whatever follows.
func (v *UTF8Validator) Write(p []byte) (ok bool) {
	// Finish a sequence left open by the previous piece.
	for v.need > 0 {
		if len(p) == 0 {
			return true
		}
		if !v.step(p[0]) {
			return false
		}
		p = p[1:]
	}
	if len(p) == 0 {
		return true
	}
	// Split off a possibly incomplete sequence at the end: look back at
	// most three bytes for a leading byte.
	cut := len(p)
	for i := len(p) - 1; i >= 0 && i >= len(p)-3; i-- {
		c := p[i]
		if c < 0x80 {
			break
		}
		if c >= 0xC0 {
			if len(p)-i < seqLen(c) {
				cut = i
			}
			break
		}
	}
	if !utf8.Valid(p[:cut]) {
		return false
	}
	for _, c := range p[cut:] {
		if !v.step(c) {
			return false
		}
	}
	return true
}

// Done reports whether the stream fed so far ends on a character boundary,
// that is, whether it is complete valid UTF-8 (given every Write returned
// true).
func (v *UTF8Validator) Done() bool { return v.need == 0 }

// seqLen is the length of the sequence a leading byte announces, or 1 for
// bytes that cannot lead one (they fail in utf8.Valid or step).
func seqLen(c byte) int {
	switch {
	case c >= 0xF0:
		return 4
	case c >= 0xE0:
		return 3
	case c >= 0xC0:
		return 2
	}
	return 1
}

// step advances the state machine by one byte.
func (v *UTF8Validator) step(c byte) bool {
	if v.need > 0 {
		if c < v.lo || c > v.hi {
			return false
		}
		v.need--
		v.lo, v.hi = 0x80, 0xBF
		return true
	}
	switch {
	case c < 0x80:
		return true
	case c >= 0xC2 && c <= 0xDF:
		v.need, v.lo, v.hi = 1, 0x80, 0xBF
	case c == 0xE0:
		v.need, v.lo, v.hi = 2, 0xA0, 0xBF
	case c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF:
		v.need, v.lo, v.hi = 2, 0x80, 0xBF
	case c == 0xED:
		v.need, v.lo, v.hi = 2, 0x80, 0x9F
	case c == 0xF0:
		v.need, v.lo, v.hi = 3, 0x90, 0xBF
	case c >= 0xF1 && c <= 0xF3:
		v.need, v.lo, v.hi = 3, 0x80, 0xBF
	case c == 0xF4:
		v.need, v.lo, v.hi = 3, 0x80, 0x8F
	default: // 0x80–0xC1 (stray continuation, overlong lead), 0xF5–0xFF
		return false
	}
	return true
}
