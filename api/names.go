package api

import (
	"unicode"
	"unicode/utf8"
)

// Limits of the field rules. The schema in package schema states the same
// numbers; the corpus test fails if the two drift apart.
const (
	DefaultRoom   = "lobby" // the room of join, chat, who and typing when they name none
	MaxNameChars  = 32      // names: 1–32 ASCII characters
	MaxRoomChars  = 64      // rooms: 1–64 ASCII characters
	MaxTextChars  = 4000    // text: 1–4000 code points
	MaxRefChars   = 64      // ref: 1–64 code points
	MaxTokenChars = 4096    // token: 1–4096 code points
)

// ValidName reports whether s is a valid user name: 1–32 ASCII letters, digits,
// '_', '-' or '.', beginning with a letter or digit.
func ValidName(s string) bool {
	if len(s) == 0 || len(s) > MaxNameChars || !alnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !alnum(c) && c != '_' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// ValidRoom reports whether s is a valid room name: 1–64 lower-case ASCII
// letters, digits, '_' or '-', beginning with a letter or digit.
func ValidRoom(s string) bool {
	if len(s) == 0 || len(s) > MaxRoomChars || !lowerAlnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !lowerAlnum(c) && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// ValidRef reports whether s is a valid ref: 1–64 code points, any.
func ValidRef(s string) bool {
	n := utf8.RuneCountInString(s)
	return n >= 1 && n <= MaxRefChars
}

// ValidText reports whether s is a valid chat or pm text: 1–4000 code points,
// at least one of which is not white space (unicode.IsSpace).
func ValidText(s string) bool { return textProblem(s) == "" }

// textProblem says, for people, what is wrong with a text ("" when nothing).
func textProblem(s string) string {
	if s == "" {
		return "must not be empty"
	}
	n, blank := 0, true
	for _, r := range s {
		n++
		if blank && !unicode.IsSpace(r) {
			blank = false
		}
	}
	if n > MaxTextChars {
		return "is too long: at most 4000 characters"
	}
	if blank {
		return "must contain something besides white space"
	}
	return ""
}

// NameKey returns the key under which a name is compared: names are equal when
// their keys are equal (ASCII case is ignored). It does not allocate when name
// has no upper-case letters.
func NameKey(name string) string {
	i := 0
	for ; i < len(name); i++ {
		if c := name[i]; 'A' <= c && c <= 'Z' {
			break
		}
	}
	if i == len(name) {
		return name
	}
	b := []byte(name)
	for ; i < len(b); i++ {
		if c := b[i]; 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}

// SameName reports whether a and b are the same name ignoring ASCII case.
func SameName(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func alnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func lowerAlnum(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }
