package bench

import (
	"strconv"
	"time"
)

// envelope holds the few top-level fields of a server envelope that the
// driver looks at, as sub-slices of the frame (no copies, no allocations).
// The load generator shares two cores with the server it measures, so it
// must not spend them decoding JSON it does not need.
type envelope struct {
	typ, from, text, code []byte
	replay                bool
}

// scanEnvelope fills e from one JSON object. It understands exactly as much
// JSON as it must to find top-level string fields and skip everything else
// (nested objects, arrays, numbers, literals). It returns false for input
// that is not an object it can walk.
func scanEnvelope(b []byte, e *envelope) bool {
	*e = envelope{}
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i++
	for {
		i = skipSpace(b, i)
		if i >= len(b) {
			return false
		}
		if b[i] == '}' {
			return true
		}
		if b[i] == ',' {
			i++
			continue
		}
		if b[i] != '"' {
			return false
		}
		key, next, ok := scanString(b, i)
		if !ok {
			return false
		}
		i = skipSpace(b, next)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		i = skipSpace(b, i+1)
		if i >= len(b) {
			return false
		}
		if b[i] == '"' {
			val, next, ok := scanString(b, i)
			if !ok {
				return false
			}
			switch string(key) {
			case "type":
				e.typ = val
			case "from":
				e.from = val
			case "text":
				e.text = val
			case "code":
				e.code = val
			}
			i = next
			continue
		}
		if string(key) == "replay" && len(b)-i >= 4 && string(b[i:i+4]) == "true" {
			e.replay = true
		}
		next, ok = skipValue(b, i)
		if !ok {
			return false
		}
		i = next
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// scanString returns the raw contents of the string starting at b[i] == '"'
// (escapes left as they are) and the index after its closing quote.
func scanString(b []byte, i int) (val []byte, next int, ok bool) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return b[i+1 : j], j + 1, true
		}
	}
	return nil, 0, false
}

// skipValue steps over one non-string JSON value starting at b[i].
func skipValue(b []byte, i int) (int, bool) {
	depth := 0
	for i < len(b) {
		switch c := b[i]; c {
		case '"':
			_, next, ok := scanString(b, i)
			if !ok {
				return 0, false
			}
			i = next
			if depth == 0 {
				return i, true
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i, true // the enclosing object's end: let the caller see it
			}
			depth--
			if depth == 0 {
				return i + 1, true
			}
		case ',':
			if depth == 0 {
				return i, true
			}
		}
		i++
	}
	return 0, false
}

// The text of every message chatbench sends is
//
//	cb<sent>.<sender>.<seq>.xxxx…
//
// with <sent> the send time in nanoseconds since the run's epoch (monotonic
// clock: sender and receiver are the same process), <sender> the sending
// connection's index and <seq> its message number, padded with 'x' to the
// requested size. Receivers recover all three without a lookup table.
const textPrefix = "cb"

// appendText appends a message text of at least textLen bytes.
func appendText(dst []byte, sent time.Duration, sender int, seq int64, textLen int) []byte {
	start := len(dst)
	dst = append(dst, textPrefix...)
	dst = strconv.AppendInt(dst, int64(sent), 10)
	return appendTextTail(dst, start, sender, seq, textLen)
}

// appendTextTail appends what follows the send time in a text begun at
// dst[start]: ".<sender>.<seq>." and the padding.
func appendTextTail(dst []byte, start, sender int, seq int64, textLen int) []byte {
	dst = append(dst, '.')
	dst = strconv.AppendInt(dst, int64(sender), 10)
	dst = append(dst, '.')
	dst = strconv.AppendInt(dst, seq, 10)
	dst = append(dst, '.')
	for len(dst)-start < textLen {
		dst = append(dst, 'x')
	}
	return dst
}

// parseText reverses appendText. ok is false for any other text (history
// from an earlier run, another client's messages).
func parseText(t []byte) (sent time.Duration, sender int, seq int64, ok bool) {
	if len(t) < len(textPrefix) || string(t[:len(textPrefix)]) != textPrefix {
		return 0, 0, 0, false
	}
	var fields [3]int64
	i := len(textPrefix)
	for f := range fields {
		start := i
		var v int64
		for i < len(t) && t[i] >= '0' && t[i] <= '9' {
			v = v*10 + int64(t[i]-'0')
			i++
		}
		if i == start || i >= len(t) || t[i] != '.' || i-start > 18 {
			return 0, 0, 0, false
		}
		fields[f] = v
		i++
	}
	return time.Duration(fields[0]), int(fields[1]), fields[2], true
}

// appendChat appends a chat.v1 chat envelope. Room names and texts made by
// chatbench never need JSON escaping.
func appendChat(dst []byte, room string, text []byte) []byte {
	dst = append(dst, `{"type":"chat","room":"`...)
	dst = append(dst, room...)
	dst = append(dst, `","text":"`...)
	dst = append(dst, text...)
	return append(dst, `"}`...)
}

// appendPM appends a chat.v1 pm envelope.
func appendPM(dst []byte, to string, text []byte) []byte {
	dst = append(dst, `{"type":"pm","to":"`...)
	dst = append(dst, to...)
	dst = append(dst, `","text":"`...)
	dst = append(dst, text...)
	return append(dst, `"}`...)
}

// appendJoin appends a chat.v1 join envelope.
func appendJoin(dst []byte, name, room string) []byte {
	dst = append(dst, `{"type":"join","name":"`...)
	dst = append(dst, name...)
	dst = append(dst, `","room":"`...)
	dst = append(dst, room...)
	return append(dst, `"}`...)
}

// chatOverhead is the size of a chat envelope around its text for a room
// name of n bytes; --size counts the whole envelope, so the text is what is
// left of it.
func chatOverhead(n int) int { return len(appendChat(nil, "", nil)) + n }

// textLenFor returns the text length that makes a chat envelope for room
// exactly size bytes, or the shortest text that still carries the header.
func textLenFor(size int, room string) int {
	n := size - chatOverhead(len(room))
	if n < 1 {
		n = 1
	}
	return n
}
