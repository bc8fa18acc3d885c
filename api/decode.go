package api

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/go-playground/validator/v10"
)

// clientTypes lists the client message types in PROTOCOL.md's order.
var clientTypes = [...]string{"join", "chat", "pm", "typing", "who", "leave"}

// fieldSlots is implemented by the *Fields structs of validate.go.
type fieldSlots interface {
	slot(key []byte) (s **string, b **bool, ok bool)
}

// DecodeClient decodes one client message. It applies PROTOCOL.md §3a's checks
// in order and stops at the first that fails:
//
//  1. invalid_json: not UTF-8, malformed JSON, valid JSON that is not an
//     object, or an object with a duplicate key at any depth;
//  2. invalid_message: type missing or not a string (details: type);
//  3. unknown_type: type is not join, chat, pm, typing, who or leave;
//  4. not_joined: joined is false and type is not join;
//  5. invalid_message: field rules, one detail per bad field (unknown fields,
//     fields only the server sets, wrong JSON types, names, rooms, text, ref,
//     ULIDs; on the first join, name is required).
//
// Rules that need session state are the server's: a later join's name must be
// the session's name, and a pm or typing must not be addressed to the sender
// (FieldError builds those errors).
//
// The returned *Error carries the message's ref whenever the message is JSON
// with a valid top-level ref (including invalid_json for duplicate keys).
func DecodeClient(b []byte, joined bool) (ClientMessage, *Error) {
	s := getScanner()
	defer putScanner(s)
	if !s.scan(b) {
		return nil, &Error{Code: CodeInvalidJSON, Message: invalidJSONMessage(s)}
	}
	ref := s.ref()
	if s.dup != nil {
		return nil, &Error{Code: CodeInvalidJSON, Ref: ref,
			Message: "the key " + quoteShort(string(s.dup)) + " appears twice in one object (byte " + strconv.Itoa(s.dupAt) + ")"}
	}
	t, ok := s.lookup("type")
	if !ok {
		return nil, &Error{Code: CodeInvalidMessage, Ref: ref, Message: `the message has no "type": every message is an object like {"type":"chat","text":"hi"}`,
			Details: []Detail{{Field: "type", Problem: "is required"}}}
	}
	if t.kind != kindString {
		return nil, &Error{Code: CodeInvalidMessage, Ref: ref, Message: `"type" must be a string, such as "chat"`,
			Details: []Detail{{Field: "type", Problem: "must be a string"}}}
	}
	typ := clientType(t.raw)
	if typ == "" {
		typ = unquote(t.raw) // escaped ("\u0063hat" is chat) or unknown
	}
	if !slices.Contains(clientTypes[:], typ) {
		return nil, &Error{Code: CodeUnknownType, Ref: ref,
			Message: "unknown message type " + quoteShort(typ) + "; use join, chat, pm, typing, who or leave"}
	}
	if !joined && typ != "join" {
		return nil, &Error{Code: CodeNotJoined, Ref: ref, Message: `join first: send {"type":"join","name":"your-name"}`}
	}
	switch typ {
	case "join":
		f := joinFields{First: !joined}
		if e := fill(s, typ, &f, ref); e != nil {
			return nil, e
		}
		m := &Join{Name: deref(f.Name), Room: orDefault(f.Room), Token: deref(f.Token), Ref: deref(f.Ref)}
		if f.Since != nil {
			m.Since = CanonicalULID(*f.Since)
		}
		return m, nil
	case "chat":
		var f chatFields
		if e := fill(s, typ, &f, ref); e != nil {
			return nil, e
		}
		return &Chat{Room: orDefault(f.Room), Text: *f.Text, Ref: deref(f.Ref)}, nil
	case "pm":
		var f pmFields
		if e := fill(s, typ, &f, ref); e != nil {
			return nil, e
		}
		return &PM{To: *f.To, Text: *f.Text, Ref: deref(f.Ref)}, nil
	case "typing":
		var f typingFields
		if e := fill(s, typ, &f, ref); e != nil {
			return nil, e
		}
		m := &Typing{Active: *f.Active, Room: deref(f.Room), To: deref(f.To), Ref: deref(f.Ref)}
		if m.Room == "" && m.To == "" {
			m.Room = DefaultRoom
		}
		return m, nil
	case "who":
		var f roomFields
		if e := fill(s, typ, &f, ref); e != nil {
			return nil, e
		}
		return &Who{Room: orDefault(f.Room), Ref: deref(f.Ref)}, nil
	default: // "leave"
		var f roomFields
		if e := fill(s, typ, &f, ref); e != nil {
			return nil, e
		}
		return &Leave{Room: deref(f.Room), Ref: deref(f.Ref)}, nil
	}
}

// clientType returns the type named by a string member's raw value without
// allocating, "" when it is not one of clientTypes (or is escaped).
func clientType(raw []byte) string {
	for _, t := range clientTypes {
		if len(raw) == len(t)+2 && string(raw[1:len(raw)-1]) == t {
			return t
		}
	}
	return ""
}

// PeekRef returns the ref of a message when it is a JSON object with a valid
// top-level ref, "" otherwise. The server uses it to answer rate_limited
// without decoding the message.
func PeekRef(b []byte) string {
	s := getScanner()
	defer putScanner(s)
	if !s.scan(b) {
		return ""
	}
	return s.ref()
}

// serverOnly are the fields only the server sets; a client sending them is
// told so, rather than "unknown field" (nobody can speak as someone else).
func serverOnly(key string) bool {
	return key == "from" || key == "id" || key == "ts" || key == "replay"
}

// fieldStore holds the decoded values the *Fields pointers point at: one
// allocation per message rather than one per field. A message has at most
// five string fields and one boolean.
type fieldStore struct {
	s [5]string
	n int
	b bool
}

// maxDetails caps the details of one error: a message has at most six real
// fields, and a 64 KiB message of thousands of junk fields must not make the
// server write back a far larger error (the message says how many were left out).
const maxDetails = 32

// fill moves the top-level members into f, checking JSON types and unknown
// fields, then runs the validator; it returns invalid_message with one detail
// per bad field, in the order the fields appear in the message (fields that
// are missing come last). It is linear in the number of members.
func fill(s *scanner, typ string, f fieldSlots, ref string) *Error {
	type bad struct {
		Detail
		pos int
	}
	var found []bad
	total := 0
	var store *fieldStore
	add := func(pos int, field, problem string) {
		total++
		if len(found) < maxDetails {
			found = append(found, bad{Detail{Field: field, Problem: problem}, pos})
		}
	}
	for i, m := range s.top {
		if string(m.key) == "type" {
			continue
		}
		sp, bp, ok := f.slot(m.key)
		switch {
		case !ok && serverOnly(string(m.key)):
			add(i, string(m.key), "is set by the server; a client cannot send it")
		case !ok:
			add(i, string(m.key), "is not a field of a "+typ+" message")
		case sp != nil && m.kind != kindString:
			add(i, string(m.key), "must be a string, not "+kindName(m.kind))
		case bp != nil && m.kind != kindBool:
			add(i, string(m.key), "must be true or false, not "+kindName(m.kind))
		case sp != nil:
			// One backing array for every string field of the message
			// (at most five are known), instead of one box per field.
			if store == nil {
				store = new(fieldStore)
			}
			store.s[store.n] = unquote(m.raw)
			*sp = &store.s[store.n]
			store.n++
		default:
			if store == nil {
				store = new(fieldStore)
			}
			store.b = m.raw[0] == 't'
			*bp = &store.b
		}
	}
	if err := fieldRules().Struct(f); err != nil {
		var verrs validator.ValidationErrors
		if !errors.As(err, &verrs) {
			// Only programming errors (a nil or non-struct value) get here.
			panic("api: validating " + typ + ": " + err.Error())
		}
		for _, fe := range verrs {
			// A field whose JSON type was wrong was never filled in; the
			// validator then says "required", which is not news.
			if slices.ContainsFunc(found, func(b bad) bool { return b.Field == fe.Field() }) {
				continue
			}
			pos := len(s.top)
			for i, m := range s.top {
				if string(m.key) == fe.Field() {
					pos = i
					break
				}
			}
			add(pos, fe.Field(), problem(fe.Tag(), fe.Value()))
		}
	}
	if total == 0 {
		return nil
	}
	slices.SortStableFunc(found, func(a, b bad) int { return a.pos - b.pos })
	details := make([]Detail, len(found))
	var msg strings.Builder
	msg.WriteString("invalid " + typ + " message: ")
	for i, b := range found {
		details[i] = b.Detail
		if i > 0 {
			msg.WriteString("; ")
		}
		msg.WriteString(quoteShort(b.Field) + " " + b.Problem)
	}
	if total > len(found) {
		msg.WriteString("; and " + strconv.Itoa(total-len(found)) + " more bad fields")
	}
	return &Error{Code: CodeInvalidMessage, Message: msg.String(), Ref: ref, Details: details}
}

// ref returns the top-level ref when there is exactly one and it is valid.
func (s *scanner) ref() string {
	var m member
	n := 0
	for _, t := range s.top {
		if string(t.key) == "ref" {
			m, n = t, n+1
		}
	}
	// Two refs (a duplicate key) leave no way to tell which one was meant.
	if n != 1 || m.kind != kindString {
		return ""
	}
	r := unquote(m.raw)
	if !ValidRef(r) {
		return ""
	}
	return r
}

func invalidJSONMessage(s *scanner) string {
	if s.errAt == 0 && strings.HasPrefix(s.err, "a message must") {
		return s.err + `, such as {"type":"chat","text":"hi"}`
	}
	return "the message is not valid JSON: " + s.err + " (byte " + strconv.Itoa(s.errAt) + "); send one JSON object per message"
}

func kindName(k jsonKind) string {
	switch k {
	case kindString:
		return "a string"
	case kindNumber:
		return "a number"
	case kindBool:
		return "a boolean"
	case kindNull:
		return "null"
	case kindObject:
		return "an object"
	}
	return "an array"
}

// quoteShort quotes s for an error message, cut to 40 code points so that a
// hostile message does not come back at full length.
func quoteShort(s string) string {
	if utf8.RuneCountInString(s) > 40 {
		n := 0
		for i := range s {
			if n == 40 {
				s = s[:i] + "…"
				break
			}
			n++
		}
	}
	return strconv.Quote(s)
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func orDefault(p *string) string {
	if p == nil {
		return DefaultRoom
	}
	return *p
}
