package api

import (
	"bytes"
	"strconv"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// A JSON scanner of our own, for two things encoding/json does not do: it
// refuses duplicate keys at any depth, and it hands back the top-level members
// with their JSON kinds so that each field can be checked on its own (a
// wrong type is a field error, not a failed decode).

// maxDepth bounds nesting the way encoding/json does, so that a hostile
// "[[[[…" cannot grow the stack; deeper input is invalid_json for both.
const maxDepth = 10000

// bigObject is the key count above which an object's duplicate check switches
// from a linear scan to a map.
const bigObject = 16

type jsonKind uint8

const (
	kindString jsonKind = iota + 1
	kindNumber
	kindBool
	kindNull
	kindObject
	kindArray
)

// member is one top-level key and its value.
type member struct {
	key  []byte // unescaped
	raw  []byte // the value as it appears in the message
	kind jsonKind
}

type scanner struct {
	b     []byte
	i     int
	depth int
	top   []member
	keys  [][]byte // keys of the objects being scanned, innermost last
	dup   []byte   // first duplicate key found (scanning goes on, for the ref)
	dupAt int
	err   string // first syntax error, "" when none
	errAt int
	// Backing arrays: a typical envelope needs no allocation for these.
	buf     [8]member
	keysBuf [16][]byte
}

// scanners are reused: a scanner with its backing arrays is about 1 KiB,
// and it escapes to the heap (s.top points into s.buf).
var scanners = sync.Pool{New: func() any { return new(scanner) }}

func getScanner() *scanner { return scanners.Get().(*scanner) }

// putScanner clears s, so that the pool holds no reference to a message,
// and returns it to the pool.
func putScanner(s *scanner) {
	*s = scanner{}
	scanners.Put(s)
}

// scan checks b and fills s.top. It returns false for anything that is not a
// JSON object; duplicate keys are reported separately in s.dup.
func (s *scanner) scan(b []byte) bool {
	s.b, s.i = b, 0
	s.top = s.buf[:0]
	s.keys = s.keysBuf[:0]
	if !utf8.Valid(b) {
		s.fail("the message is not valid UTF-8")
		return false
	}
	s.skipSpace()
	if s.i >= len(b) {
		s.fail("the message is empty")
		return false
	}
	if b[s.i] != '{' {
		if s.value() {
			s.skipSpace()
			if s.i == len(b) {
				s.err, s.errAt = "a message must be a JSON object", 0
			} else {
				s.fail("unexpected " + s.what() + " after the JSON value")
			}
		}
		return false
	}
	if !s.object(true) {
		return false
	}
	s.skipSpace()
	if s.i != len(b) {
		s.fail("unexpected " + s.what() + " after the JSON object")
		return false
	}
	return true
}

func (s *scanner) fail(msg string) {
	if s.err == "" {
		s.err, s.errAt = msg, s.i
	}
}

// what names the byte at s.i for an error message.
func (s *scanner) what() string {
	if s.i >= len(s.b) {
		return "end of message"
	}
	c := s.b[s.i]
	if c < 0x20 || c >= utf8.RuneSelf {
		return "byte 0x" + strconv.FormatUint(uint64(c), 16)
	}
	return strconv.QuoteRune(rune(c))
}

func (s *scanner) skipSpace() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) value() bool {
	if s.i >= len(s.b) {
		s.fail("the message ends too early")
		return false
	}
	switch c := s.b[s.i]; {
	case c == '{':
		return s.object(false)
	case c == '[':
		return s.array()
	case c == '"':
		_, ok := s.str(false)
		return ok
	case c == '-' || '0' <= c && c <= '9':
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	s.fail("unexpected " + s.what())
	return false
}

func (s *scanner) kindAt() jsonKind {
	switch c := s.b[s.i]; c {
	case '{':
		return kindObject
	case '[':
		return kindArray
	case '"':
		return kindString
	case 't', 'f':
		return kindBool
	case 'n':
		return kindNull
	}
	return kindNumber
}

func (s *scanner) literal(lit string) bool {
	if !bytes.HasPrefix(s.b[s.i:], []byte(lit)) {
		s.fail("unexpected " + s.what())
		return false
	}
	s.i += len(lit)
	return true
}

func (s *scanner) digits() bool {
	start := s.i
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		s.i++
	}
	if s.i == start {
		s.fail("a number needs a digit here, not " + s.what())
		return false
	}
	return true
}

func (s *scanner) number() bool {
	if s.b[s.i] == '-' {
		s.i++
	}
	if s.i < len(s.b) && s.b[s.i] == '0' {
		s.i++
	} else if !s.digits() {
		return false
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if !s.digits() {
			return false
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if !s.digits() {
			return false
		}
	}
	return true
}

func (s *scanner) enter() bool {
	s.depth++
	if s.depth > maxDepth {
		s.fail("the message is nested too deeply")
		return false
	}
	return true
}

func (s *scanner) array() bool {
	s.i++ // '['
	if !s.enter() {
		return false
	}
	s.skipSpace()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		s.depth--
		return true
	}
	for {
		s.skipSpace()
		if !s.value() {
			return false
		}
		s.skipSpace()
		if s.i >= len(s.b) {
			s.fail("the message ends inside an array")
			return false
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case ']':
			s.i++
			s.depth--
			return true
		default:
			s.fail("expected ',' or ']' in an array, not " + s.what())
			return false
		}
	}
}

func (s *scanner) object(top bool) bool {
	s.i++ // '{'
	if !s.enter() {
		return false
	}
	first := len(s.keys)
	var set map[string]struct{}
	s.skipSpace()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		s.depth--
		return true
	}
	for {
		s.skipSpace()
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			s.fail("expected a key in double quotes, not " + s.what())
			return false
		}
		keyAt := s.i
		key, ok := s.str(true)
		if !ok {
			return false
		}
		if s.dup == nil {
			dup := false
			if set != nil {
				_, dup = set[string(key)]
				set[string(key)] = struct{}{}
			} else {
				for _, k := range s.keys[first:] {
					if bytes.Equal(k, key) {
						dup = true
						break
					}
				}
				s.keys = append(s.keys, key)
				if len(s.keys)-first > bigObject {
					set = make(map[string]struct{}, 2*bigObject)
					for _, k := range s.keys[first:] {
						set[string(k)] = struct{}{}
					}
				}
			}
			if dup {
				s.dup, s.dupAt = key, keyAt
			}
		}
		s.skipSpace()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			s.fail("expected ':' after a key, not " + s.what())
			return false
		}
		s.i++
		s.skipSpace()
		if s.i >= len(s.b) {
			s.fail("the message ends inside an object")
			return false
		}
		start, kind := s.i, s.kindAt()
		if !s.value() {
			return false
		}
		if top {
			s.top = append(s.top, member{key: key, raw: s.b[start:s.i], kind: kind})
		}
		s.skipSpace()
		if s.i >= len(s.b) {
			s.fail("the message ends inside an object")
			return false
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case '}':
			s.i++
			s.depth--
			s.keys = s.keys[:first]
			return true
		default:
			s.fail("expected ',' or '}' in an object, not " + s.what())
			return false
		}
	}
}

// str scans a string at s.i. With want set it returns the unescaped content
// (a sub-slice of the input when there are no escapes).
func (s *scanner) str(want bool) ([]byte, bool) {
	s.i++ // '"'
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], true
		case c == '\\':
			return s.strEscaped(start, want)
		case c < 0x20:
			s.fail("a control character must be escaped inside a string")
			return nil, false
		}
		s.i++
	}
	s.fail("the message ends inside a string")
	return nil, false
}

func (s *scanner) strEscaped(start int, want bool) ([]byte, bool) {
	var out []byte
	if want {
		out = append(make([]byte, 0, s.i-start+16), s.b[start:s.i]...)
	}
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return out, true
		case c < 0x20:
			s.fail("a control character must be escaped inside a string")
			return nil, false
		case c != '\\':
			if want {
				out = append(out, c)
			}
			s.i++
			continue
		}
		if s.i+1 >= len(s.b) {
			break
		}
		e := s.b[s.i+1]
		s.i += 2
		var r rune
		switch e {
		case '"', '\\', '/':
			r = rune(e)
		case 'b':
			r = '\b'
		case 'f':
			r = '\f'
		case 'n':
			r = '\n'
		case 'r':
			r = '\r'
		case 't':
			r = '\t'
		case 'u':
			r = s.hex4()
			if r < 0 {
				return nil, false
			}
			if utf16.IsSurrogate(r) {
				// A pair makes one code point; a lone half cannot be
				// UTF-8 and becomes U+FFFD, as encoding/json does.
				r2 := rune(-1)
				if s.i+1 < len(s.b) && s.b[s.i] == '\\' && s.b[s.i+1] == 'u' {
					save := s.i
					s.i += 2
					r2 = s.hex4()
					if r2 < 0 {
						return nil, false
					}
					if utf16.DecodeRune(r, r2) == utf8.RuneError {
						s.i = save
						r2 = -1
					}
				}
				if r2 < 0 {
					r = utf8.RuneError
				} else {
					r = utf16.DecodeRune(r, r2)
				}
			}
		default:
			s.i -= 2
			s.fail(`unknown escape \` + string(rune(e)) + ` in a string`)
			return nil, false
		}
		if want {
			out = utf8.AppendRune(out, r)
		}
	}
	s.fail("the message ends inside a string")
	return nil, false
}

func (s *scanner) hex4() rune {
	if s.i+4 > len(s.b) {
		s.fail(`\u needs four hex digits`)
		return -1
	}
	var r rune
	for _, c := range s.b[s.i : s.i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			s.fail(`\u needs four hex digits`)
			return -1
		}
		r = r<<4 | rune(c)
	}
	s.i += 4
	return r
}

// unquote returns the content of a string member's raw value.
func unquote(raw []byte) string {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw[1 : len(raw)-1])
	}
	var s scanner
	s.b = raw
	v, _ := s.str(true)
	return string(v)
}

// lookup returns the top-level member named key, if present.
func (s *scanner) lookup(key string) (member, bool) {
	for _, m := range s.top {
		if string(m.key) == key {
			return m, true
		}
	}
	return member{}, false
}
