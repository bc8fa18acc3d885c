package api

import (
	"reflect"
	"sync"
	"unicode/utf8"

	"github.com/go-playground/validator/v10"
)

// The field rules of client messages, as validator/v10 struct tags on the
// structs DecodeClient fills. Pointers tell "not sent" (nil) from "sent empty"
// (""): omitempty skips only what was not sent, so "room":"" is still checked.

type joinFields struct {
	First bool    // the session has not joined yet: name is required
	Name  *string `json:"name" validate:"required_if=First true,omitempty,name"`
	Room  *string `json:"room" validate:"omitempty,room"`
	Since *string `json:"since" validate:"omitempty,ulid"`
	Token *string `json:"token" validate:"omitempty,token"`
	Ref   *string `json:"ref" validate:"omitempty,ref"`
}

type chatFields struct {
	Room *string `json:"room" validate:"omitempty,room"`
	Text *string `json:"text" validate:"required,text"`
	Ref  *string `json:"ref" validate:"omitempty,ref"`
}

type pmFields struct {
	To   *string `json:"to" validate:"required,name"`
	Text *string `json:"text" validate:"required,text"`
	Ref  *string `json:"ref" validate:"omitempty,ref"`
}

type typingFields struct {
	Active *bool   `json:"active" validate:"required"`
	Room   *string `json:"room" validate:"omitempty,room"`
	To     *string `json:"to" validate:"excluded_with=Room,omitempty,name"`
	Ref    *string `json:"ref" validate:"omitempty,ref"`
}

type roomFields struct { // who and leave
	Room *string `json:"room" validate:"omitempty,room"`
	Ref  *string `json:"ref" validate:"omitempty,ref"`
}

// slot returns where the value of a field goes, and whether it is a string
// (false: a boolean); ok is false for a field the message does not have.
func (f *joinFields) slot(key []byte) (s **string, b **bool, ok bool) {
	switch string(key) {
	case "name":
		return &f.Name, nil, true
	case "room":
		return &f.Room, nil, true
	case "since":
		return &f.Since, nil, true
	case "token":
		return &f.Token, nil, true
	case "ref":
		return &f.Ref, nil, true
	}
	return nil, nil, false
}

func (f *chatFields) slot(key []byte) (s **string, b **bool, ok bool) {
	switch string(key) {
	case "room":
		return &f.Room, nil, true
	case "text":
		return &f.Text, nil, true
	case "ref":
		return &f.Ref, nil, true
	}
	return nil, nil, false
}

func (f *pmFields) slot(key []byte) (s **string, b **bool, ok bool) {
	switch string(key) {
	case "to":
		return &f.To, nil, true
	case "text":
		return &f.Text, nil, true
	case "ref":
		return &f.Ref, nil, true
	}
	return nil, nil, false
}

func (f *typingFields) slot(key []byte) (s **string, b **bool, ok bool) {
	switch string(key) {
	case "active":
		return nil, &f.Active, true
	case "room":
		return &f.Room, nil, true
	case "to":
		return &f.To, nil, true
	case "ref":
		return &f.Ref, nil, true
	}
	return nil, nil, false
}

func (f *roomFields) slot(key []byte) (s **string, b **bool, ok bool) {
	switch string(key) {
	case "room":
		return &f.Room, nil, true
	case "ref":
		return &f.Ref, nil, true
	}
	return nil, nil, false
}

// fieldRules is built once: validator caches struct metadata and is safe for
// concurrent use, and registering the custom tags is not.
var fieldRules = sync.OnceValue(func() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string { return f.Tag.Get("json") })
	str := func(ok func(string) bool) validator.Func {
		return func(fl validator.FieldLevel) bool { return ok(fl.Field().String()) }
	}
	for tag, fn := range map[string]validator.Func{
		"name":  str(ValidName),
		"room":  str(ValidRoom),
		"text":  str(ValidText),
		"ref":   str(ValidRef),
		"ulid":  str(ValidULID),
		"token": str(validToken),
	} {
		if err := v.RegisterValidation(tag, fn); err != nil {
			panic("api: registering validation " + tag + ": " + err.Error())
		}
	}
	return v
})

func validToken(s string) bool {
	n := utf8.RuneCountInString(s)
	return n >= 1 && n <= MaxTokenChars
}

// problem words a failed validator tag for people.
func problem(tag string, value any) string {
	switch tag {
	case "required":
		return "is required"
	case "required_if":
		return "is required on the first join"
	case "excluded_with":
		return "cannot be given together with room: a typing goes to a room or to one user"
	case "name":
		return "must be 1–32 characters (ASCII letters, digits, '_', '-', '.') starting with a letter or digit"
	case "room":
		return "must be 1–64 characters (lower-case ASCII letters, digits, '_', '-') starting with a letter or digit"
	case "text":
		if s, ok := value.(string); ok {
			if p := textProblem(s); p != "" {
				return p
			}
		}
		return "must be 1–4000 characters, not only white space"
	case "ref":
		return "must be 1–64 characters"
	case "ulid":
		return "must be a message id: a ULID of 26 characters (0-9, A-Z without I, L, O, U), the first one 0–7"
	case "token":
		return "must be 1–4096 characters"
	}
	return "is invalid (" + tag + ")"
}
