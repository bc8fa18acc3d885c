package api

// Code is the machine-readable code of an error envelope.
type Code string

// The error codes of chat.v1. Clients switch on these; the message text is for
// people and may change.
const (
	CodeInvalidJSON    Code = "invalid_json"    // not a JSON object (malformed, not an object, duplicate key)
	CodeInvalidMessage Code = "invalid_message" // a field breaks a rule; see Details
	CodeUnknownType    Code = "unknown_type"    // the type is not one of join, chat, pm, typing, who, leave
	CodeNotJoined      Code = "not_joined"      // anything but join before the first successful join
	CodeNameTaken      Code = "name_taken"      // another session already uses the name (ignoring case)
	CodeUnknownUser    Code = "unknown_user"    // pm or typing to a name that is not connected
	CodeNotMember      Code = "not_member"      // chat, who, typing or leave for a room the sender is not in
	CodeRateLimited    Code = "rate_limited"    // over the per-connection rate; the message was dropped
	CodeUnauthorized   Code = "unauthorized"    // authentication failed
	CodeInternal       Code = "internal"        // a fault on the server's side
)

// Codes lists every error code in the order PROTOCOL.md gives them.
func Codes() []Code {
	return []Code{CodeInvalidJSON, CodeInvalidMessage, CodeUnknownType, CodeNotJoined,
		CodeNameTaken, CodeUnknownUser, CodeNotMember, CodeRateLimited, CodeUnauthorized, CodeInternal}
}

// Known reports whether c is one of the codes of chat.v1.
func (c Code) Known() bool {
	for _, k := range Codes() {
		if c == k {
			return true
		}
	}
	return false
}

// Detail names one bad field of a client message and says, for people, what
// is wrong with it.
type Detail struct {
	Field   string `json:"field"`
	Problem string `json:"problem"`
}

// Error is the content of an error envelope: what DecodeClient returns for a
// message it refuses, and what the server sends back. Ref is the ref of the
// message that caused it, when that message had a readable, valid one.
type Error struct {
	Code    Code
	Message string
	Ref     string
	Details []Detail
}

// Error returns "code: message"; the message already names the bad fields.
func (e *Error) Error() string {
	if e.Message == "" {
		return string(e.Code)
	}
	return string(e.Code) + ": " + e.Message
}

// FieldError builds the invalid_message error for one bad field. The server
// uses it for the rules that need session state, which DecodeClient cannot
// check: a later join whose name is not the session's name, and a pm or typing
// addressed to the sender itself (see ProblemSelf and ProblemNameMismatch).
func FieldError(ref, field, problem string) *Error {
	return &Error{
		Code:    CodeInvalidMessage,
		Message: "the " + field + " field is invalid: " + problem,
		Ref:     ref,
		Details: []Detail{{Field: field, Problem: problem}},
	}
}

// Problems for the field rules that need session state (see FieldError).
const (
	ProblemSelf         = "is your own name; you cannot send this to yourself"
	ProblemNameMismatch = "must be the name this session joined with (or left out)"
)
