package api

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// The Append* functions write one envelope as compact JSON into dst and return
// the extended slice. Field order is fixed (the order of docs/PROTOCOL.md's
// examples), ref appears only when non-empty and replay only when true. With a
// dst of sufficient capacity they do not allocate, so a broadcast is encoded
// once into a reused buffer.

// AppendChat appends a chat event.
func AppendChat(dst []byte, e *ChatEvent) []byte {
	dst = append(dst, `{"type":"chat","id":`...)
	dst = appendString(dst, e.ID)
	dst = append(dst, `,"room":`...)
	dst = appendString(dst, e.Room)
	dst = append(dst, `,"from":`...)
	dst = appendString(dst, e.From)
	dst = append(dst, `,"text":`...)
	dst = appendString(dst, e.Text)
	dst = appendTSField(dst, e.TS)
	dst = appendRef(dst, e.Ref)
	if e.Replay {
		dst = append(dst, `,"replay":true`...)
	}
	return append(dst, '}')
}

// AppendPM appends a pm event.
func AppendPM(dst []byte, e *PMEvent) []byte {
	dst = append(dst, `{"type":"pm","id":`...)
	dst = appendString(dst, e.ID)
	dst = append(dst, `,"from":`...)
	dst = appendString(dst, e.From)
	dst = append(dst, `,"to":`...)
	dst = appendString(dst, e.To)
	dst = append(dst, `,"text":`...)
	dst = appendString(dst, e.Text)
	dst = appendTSField(dst, e.TS)
	dst = appendRef(dst, e.Ref)
	return append(dst, '}')
}

// AppendJoin appends a join event.
func AppendJoin(dst []byte, e *JoinEvent) []byte {
	dst = append(dst, `{"type":"join","id":`...)
	dst = appendString(dst, e.ID)
	dst = append(dst, `,"room":`...)
	dst = appendString(dst, e.Room)
	dst = append(dst, `,"from":`...)
	dst = appendString(dst, e.From)
	dst = appendTSField(dst, e.TS)
	dst = appendRef(dst, e.Ref)
	return append(dst, '}')
}

// AppendLeave appends a leave event.
func AppendLeave(dst []byte, e *LeaveEvent) []byte {
	dst = append(dst, `{"type":"leave","id":`...)
	dst = appendString(dst, e.ID)
	dst = append(dst, `,"room":`...)
	dst = appendString(dst, e.Room)
	dst = append(dst, `,"from":`...)
	dst = appendString(dst, e.From)
	dst = append(dst, `,"reason":`...)
	dst = appendString(dst, e.Reason)
	dst = appendTSField(dst, e.TS)
	dst = appendRef(dst, e.Ref)
	return append(dst, '}')
}

// AppendTyping appends a typing event: room when Room is set, otherwise to.
func AppendTyping(dst []byte, e *TypingEvent) []byte {
	dst = append(dst, `{"type":"typing","from":`...)
	dst = appendString(dst, e.From)
	if e.Room != "" {
		dst = append(dst, `,"room":`...)
		dst = appendString(dst, e.Room)
	} else {
		dst = append(dst, `,"to":`...)
		dst = appendString(dst, e.To)
	}
	if e.Active {
		dst = append(dst, `,"active":true`...)
	} else {
		dst = append(dst, `,"active":false`...)
	}
	dst = appendTSField(dst, e.TS)
	return append(dst, '}')
}

// AppendPresence appends a presence envelope; Users are written in the order
// given (the server sorts them by NameKey).
func AppendPresence(dst []byte, e *Presence) []byte {
	dst = append(dst, `{"type":"presence","room":`...)
	dst = appendString(dst, e.Room)
	dst = append(dst, `,"users":[`...)
	for i, u := range e.Users {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, u)
	}
	dst = append(dst, ']')
	dst = appendTSField(dst, e.TS)
	dst = appendRef(dst, e.Ref)
	return append(dst, '}')
}

// AppendWelcome appends a welcome envelope.
func AppendWelcome(dst []byte, e *Welcome) []byte {
	dst = append(dst, `{"type":"welcome","name":`...)
	dst = appendString(dst, e.Name)
	dst = append(dst, `,"session":`...)
	dst = appendString(dst, e.Session)
	dst = append(dst, `,"server":{"name":`...)
	dst = appendString(dst, e.Server.Name)
	dst = append(dst, `,"version":`...)
	dst = appendString(dst, e.Server.Version)
	dst = append(dst, `},"limits":{"max_message_bytes":`...)
	dst = strconv.AppendInt(dst, e.Limits.MaxMessageBytes, 10)
	dst = append(dst, `,"max_text_chars":`...)
	dst = strconv.AppendInt(dst, int64(e.Limits.MaxTextChars), 10)
	dst = append(dst, `,"rate_per_sec":`...)
	dst = appendFloat(dst, e.Limits.RatePerSec)
	dst = append(dst, `,"rate_burst":`...)
	dst = strconv.AppendInt(dst, int64(e.Limits.RateBurst), 10)
	dst = append(dst, '}')
	dst = appendTSField(dst, e.TS)
	return append(dst, '}')
}

// AppendError appends an error envelope; details appear only when there are
// some. A nil Err is written as an internal error.
func AppendError(dst []byte, e *ErrorEvent) []byte {
	err := e.Err
	if err == nil {
		err = &Error{Code: CodeInternal, Message: "internal error"}
	}
	dst = append(dst, `{"type":"error","code":`...)
	dst = appendString(dst, string(err.Code))
	dst = append(dst, `,"message":`...)
	dst = appendString(dst, err.Message)
	if len(err.Details) > 0 {
		dst = append(dst, `,"details":[`...)
		for i, d := range err.Details {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"field":`...)
			dst = appendString(dst, d.Field)
			dst = append(dst, `,"problem":`...)
			dst = appendString(dst, d.Problem)
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	dst = appendTSField(dst, e.TS)
	dst = appendRef(dst, err.Ref)
	return append(dst, '}')
}

func appendTSField(dst []byte, t time.Time) []byte {
	dst = append(dst, `,"ts":"`...)
	dst = AppendTS(dst, t)
	return append(dst, '"')
}

func appendRef(dst []byte, ref string) []byte {
	if ref == "" {
		return dst
	}
	dst = append(dst, `,"ref":`...)
	return appendString(dst, ref)
}

// appendFloat writes f as the shortest JSON number that reads back as f; JSON
// has no NaN or infinities, so those are written as 0.
func appendFloat(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, '0')
	}
	return strconv.AppendFloat(dst, f, 'f', -1, 64)
}

const hexDigits = "0123456789abcdef"

// safe[c] is true for the ASCII bytes that go into a JSON string unchanged.
var safe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendString appends s as a JSON string. Control characters, '"' and '\\'
// are escaped; so are U+2028 and U+2029, which JavaScript source (JSONP, old
// engines) treats as line ends; invalid UTF-8 becomes U+FFFD so the output is
// always valid UTF-8. '<', '>' and '&' are left alone: envelopes never go into
// HTML unescaped.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if safe[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
