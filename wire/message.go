package wire

import "strconv"

// MessageType is the type of a data message; its values are the RFC 6455
// opcodes of the message's first frame.
type MessageType int

const (
	// TextMessage is a message of UTF-8 text (opcode 0x1).
	TextMessage MessageType = 1
	// BinaryMessage is a message of arbitrary bytes (opcode 0x2).
	BinaryMessage MessageType = 2
)

// String returns "text", "binary" or the number for other values.
func (t MessageType) String() string {
	switch t {
	case TextMessage:
		return "text"
	case BinaryMessage:
		return "binary"
	}
	return "MessageType(" + strconv.Itoa(int(t)) + ")"
}
