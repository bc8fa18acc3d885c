package server

import "github.com/chatd/chatd/wire"

// closeReasonFor names the reason of the close frames wire sends when it
// fails a connection, as PROTOCOL.md §1's close code table does: 1007
// "invalid_utf8", 1009 "too_large"; a protocol violation (1002) keeps
// wire's short description of what was wrong.
func closeReasonFor(code wire.StatusCode, detail string) string {
	switch code {
	case wire.StatusInvalidFramePayloadData:
		return "invalid_utf8"
	case wire.StatusMessageTooBig:
		return "too_large"
	}
	return detail
}

// answerClientClose answers a client's own close with 1000 "bye", whatever
// code it sent (PROTOCOL.md §1: 1000 "bye" after the client's own close).
func answerClientClose(wire.StatusCode, string) (wire.StatusCode, string) {
	return wire.StatusNormalClosure, "bye"
}
