package wire_test

// Autobahn testsuite section 6 (UTF-8 handling) in the server role, with the sequences of
// Markus Kuhn's UTF-8 decoder stress test that the testsuite uses. The fail-fast cases
// prove the close 1007 arrives while the message is still open: the frame that makes the
// bytes impossible to complete is followed by nothing, yet the close must come.

import (
	"bytes"
	"testing"
	"unicode/utf8"
)

// utf8Seq is one payload of the stress test; valid is what the test author expects, and
// the test checks it against unicode/utf8 so a typo in the table cannot hide.
type utf8Seq struct {
	name  string
	s     string
	valid bool
}

func utf8Sequences() []utf8Seq {
	kappa := "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5" // κόσμε
	seqs := []utf8Seq{
		{"6.5 valid dollar", "hello\x24world", true},
		{"6.5 valid cent", "hello\xc2\xa2world", true},
		{"6.5 valid euro", "hello\xe2\x82\xacworld", true},
		{"6.5 valid U+24B62", "hello\xf0\xa4\xad\xa2world", true},
		{"6.5 valid kosme", kappa, true},
		{"6.7 first 1-byte", "\x00", true},
		{"6.7 first 2-byte", "\xc2\x80", true},
		{"6.7 first 3-byte", "\xe0\xa0\x80", true},
		{"6.7 first 4-byte", "\xf0\x90\x80\x80", true},
		{"6.8 first 5-byte", "\xf8\x88\x80\x80\x80", false},
		{"6.8 first 6-byte", "\xfc\x84\x80\x80\x80\x80", false},
		{"6.9 last 1-byte", "\x7f", true},
		{"6.9 last 2-byte", "\xdf\xbf", true},
		{"6.9 last 3-byte", "\xef\xbf\xbf", true},
		{"6.9 last 4-byte U+10FFFF", "\xf4\x8f\xbf\xbf", true},
		{"6.10 last 4-byte form", "\xf7\xbf\xbf\xbf", false},
		{"6.10 last 5-byte form", "\xfb\xbf\xbf\xbf\xbf", false},
		{"6.10 last 6-byte form", "\xfd\xbf\xbf\xbf\xbf\xbf", false},
		{"6.11 U+D7FF", "\xed\x9f\xbf", true},
		{"6.11 U+E000", "\xee\x80\x80", true},
		{"6.11 U+FFFD", "\xef\xbf\xbd", true},
		{"6.11 U+110000", "\xf4\x90\x80\x80", false},
		{"6.12 lone continuation 80", "\x80", false},
		{"6.12 lone continuation bf", "\xbf", false},
		{"6.12 continuations 80bf80bf80bf", "\x80\xbf\x80\xbf\x80\xbf", false},
		{"6.13 lonely 2-byte starts", "\xc0 \xc1 \xc2 \xdf ", false},
		{"6.13 lonely 3-byte starts", "\xe0 \xe1 \xef ", false},
		{"6.13 lonely 4-byte starts", "\xf0 \xf4 \xf7 ", false},
		{"6.13 lonely 5/6-byte starts", "\xf8 \xfb \xfc \xfd ", false},
		{"6.14 2-byte missing last", "\xdf", false},
		{"6.14 3-byte missing last", "\xef\xbf", false},
		{"6.14 4-byte missing last", "\xf4\x8f\xbf", false},
		{"6.14 overlong 2-byte missing last", "\xc0", false},
		{"6.14 overlong 3-byte missing last", "\xe0\x80", false},
		{"6.15 concatenated incomplete", "\xc0\xe0\x80\xf0\x80\x80\xdf\xef\xbf\xf7\xbf\xbf", false},
		{"6.16 impossible fe", "\xfe", false},
		{"6.16 impossible ff", "\xff", false},
		{"6.16 impossible fefeffff", "\xfe\xfe\xff\xff", false},
		{"6.17 overlong slash 2", "\xc0\xaf", false},
		{"6.17 overlong slash 3", "\xe0\x80\xaf", false},
		{"6.17 overlong slash 4", "\xf0\x80\x80\xaf", false},
		{"6.17 overlong slash 5", "\xf8\x80\x80\x80\xaf", false},
		{"6.18 max overlong 2", "\xc1\xbf", false},
		{"6.18 max overlong 3", "\xe0\x9f\xbf", false},
		{"6.18 max overlong 4", "\xf0\x8f\xbf\xbf", false},
		{"6.19 overlong NUL 2", "\xc0\x80", false},
		{"6.19 overlong NUL 3", "\xe0\x80\x80", false},
		{"6.19 overlong NUL 4", "\xf0\x80\x80\x80", false},
		{"6.20 surrogate U+D800", "\xed\xa0\x80", false},
		{"6.20 surrogate U+DB7F", "\xed\xad\xbf", false},
		{"6.20 surrogate U+DFFF", "\xed\xbf\xbf", false},
		{"6.21 surrogate pair", "\xed\xa0\x80\xed\xb0\x80", false},
		{"6.21 surrogate pair 2", "\xed\xaf\xbf\xed\xbf\xbf", false},
		{"6.22 noncharacter U+FFFE", "\xef\xbf\xbe", true},
		{"6.22 noncharacter U+10FFFE", "\xf4\x8f\xbf\xbe", true},
		{"6.22 noncharacter U+1FFFF", "\xf0\x9f\xbf\xbf", true},
		{"6.23 specials U+FFF9", "\xef\xbf\xb9", true},
		{"6.23 replacement char", "\xef\xbf\xbd", true},
		{"invalid after valid text", kappa + "\xed\xa0\x80edited", false},
		{"truncated at message end", kappa + "\xce", false},
	}
	// 6.6: every prefix of κόσμε; the ones that end inside a code point are invalid.
	for i := 1; i <= len(kappa); i++ {
		seqs = append(seqs, utf8Seq{"6.6 prefix " + itoa(i), kappa[:i], utf8.ValidString(kappa[:i])})
	}
	return seqs
}

// failPoint is the length of the shortest prefix of p that no suffix can make valid.
func failPoint(p []byte) int {
	for k := 1; k <= len(p); k++ {
		if !completable(p[:k]) {
			return k
		}
	}
	return -1 // only the end of the message makes it invalid (a truncated code point)
}

// completable reports whether some suffix of at most three bytes makes p valid UTF-8.
func completable(p []byte) bool {
	conts := []byte{0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf}
	if utf8.Valid(p) {
		return true
	}
	for _, a := range conts {
		if utf8.Valid(append(bytes.Clone(p), a)) {
			return true
		}
		for _, b := range conts {
			if utf8.Valid(append(bytes.Clone(p), a, b)) {
				return true
			}
			for _, c := range conts {
				if utf8.Valid(append(bytes.Clone(p), a, b, c)) {
					return true
				}
			}
		}
	}
	return false
}

func utf8Cases(t *testing.T) []serverCase {
	var cases []serverCase
	for _, sq := range utf8Sequences() {
		p := []byte(sq.s)
		if utf8.Valid(p) != sq.valid {
			t.Fatalf("table error: %s valid=%v but utf8.Valid says %v", sq.name, sq.valid, utf8.Valid(p))
		}
		if sq.valid {
			cases = append(cases,
				serverCase{sq.name + " one frame", func(t *testing.T, r *rawConn) {
					r.send(textPart(true, p))
					r.expect(opText, p)
					r.closeNormally()
				}},
				serverCase{sq.name + " one frame per byte", func(t *testing.T, r *rawConn) {
					r.send(perByte(p)...)
					r.expect(opText, p)
					r.closeNormally()
				}})
			continue
		}
		cases = append(cases,
			serverCase{sq.name + " one frame", func(t *testing.T, r *rawConn) {
				r.sendTolerant(textPart(true, p))
				r.failed(1007)
			}},
			serverCase{sq.name + " one frame per byte", func(t *testing.T, r *rawConn) {
				r.sendTolerant(perByte(p)...)
				r.failed(1007)
			}})
		if k := failPoint(p); k > 0 {
			// Fail fast: everything before the fatal byte is accepted (the sync ping is
			// answered), the fatal byte alone in an unfinished message draws the 1007.
			cases = append(cases, serverCase{sq.name + " fail fast", func(t *testing.T, r *rawConn) {
				r.send(textPart(false, p[:k-1]))
				r.sync("still open")
				r.sendTolerant(cont(false, p[k-1:k]))
				r.failed(1007)
			}})
		}
	}
	cases = append(cases,
		serverCase{"6.1.1 empty text", func(t *testing.T, r *rawConn) {
			r.send(text(""))
			r.expect(opText, nil)
			r.closeNormally()
		}},
		serverCase{"6.1.2 empty text in three empty fragments", func(t *testing.T, r *rawConn) {
			r.send(textPart(false, nil), cont(false, nil), cont(true, nil))
			r.expect(opText, nil)
			r.closeNormally()
		}},
		serverCase{"6.1.3 text with empty first and last fragment", func(t *testing.T, r *rawConn) {
			r.send(textPart(false, nil), cont(false, []byte("middle frame payload")), cont(true, nil))
			r.expect(opText, []byte("middle frame payload"))
			r.closeNormally()
		}},
		serverCase{"6.4.1 code point U+110000 in the second of three fragments", func(t *testing.T, r *rawConn) {
			r.send(textPart(false, []byte("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5")))
			r.sync("after part 1")
			r.sendTolerant(cont(false, []byte("\xf4\x90\x80\x80")))
			r.failed(1007) // part 3 ("edited") is never sent
		}},
		serverCase{"6.4.2 split code point made invalid by the second fragment", func(t *testing.T, r *rawConn) {
			r.send(textPart(false, []byte("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4")))
			r.sync("after part 1")
			r.sendTolerant(cont(false, []byte("\x90")))
			r.failed(1007) // part 3 ("\x80\x80edited") is never sent
		}},
		serverCase{"6.4.3 invalid bytes inside an unfinished frame", func(t *testing.T, r *rawConn) {
			// The frame announces 21 bytes; only the first 15 (through the invalid
			// \xf4\x90) are sent. The RFC's fail-fast rule lets the server close before
			// the frame ends.
			full := []byte("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80\x65\x64\x69\x74\x65\x64")
			b := textPart(true, full).encode(true, r.key)
			r.mustWrite(b[:len(b)-len(full)+13])
			r.failed(1007)
		}},
		serverCase{"binary messages are not UTF-8 checked", func(t *testing.T, r *rawConn) {
			p := []byte("\xff\xfe\xed\xa0\x80")
			r.send(binaryFrame(p))
			r.expect(opBinary, p)
			r.closeNormally()
		}},
		serverCase{"valid text split inside every code point", func(t *testing.T, r *rawConn) {
			p := []byte("a\xc2\xa2b\xe2\x82\xacc\xf0\xa4\xad\xa2d")
			for i := 1; i < len(p); i++ {
				r.send(textPart(false, p[:i]), cont(true, p[i:]))
				r.expect(opText, p)
			}
			r.closeNormally()
		}},
	)
	return cases
}

func TestConformanceUTF8(t *testing.T) { runServerCases(t, utf8Cases(t)) }

// perByte splits p into a text message of one frame per byte (a single empty frame for "").
func perByte(p []byte) []frame {
	if len(p) == 0 {
		return []frame{text("")}
	}
	fs := []frame{textPart(len(p) == 1, p[:1])}
	for i := 1; i < len(p); i++ {
		fs = append(fs, cont(i == len(p)-1, p[i:i+1]))
	}
	return fs
}
