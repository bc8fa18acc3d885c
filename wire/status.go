package wire

import (
	"errors"
	"strconv"
)

// StatusCode is a close status code of RFC 6455 §7.4.
type StatusCode uint16

// The status codes of RFC 6455 §7.4.1. Codes 1005, 1006 and 1015 are never
// sent on the wire; they only describe what happened locally.
const (
	StatusNormalClosure           StatusCode = 1000
	StatusGoingAway               StatusCode = 1001
	StatusProtocolError           StatusCode = 1002
	StatusUnsupportedData         StatusCode = 1003
	StatusNoStatusRcvd            StatusCode = 1005
	StatusAbnormalClosure         StatusCode = 1006
	StatusInvalidFramePayloadData StatusCode = 1007
	StatusPolicyViolation         StatusCode = 1008
	StatusMessageTooBig           StatusCode = 1009
	StatusMandatoryExtension      StatusCode = 1010
	StatusInternalError           StatusCode = 1011
	StatusTLSHandshake            StatusCode = 1015
)

// String names the code, e.g. "1000 normal closure".
func (s StatusCode) String() string {
	name := ""
	switch s {
	case StatusNormalClosure:
		name = "normal closure"
	case StatusGoingAway:
		name = "going away"
	case StatusProtocolError:
		name = "protocol error"
	case StatusUnsupportedData:
		name = "unsupported data"
	case StatusNoStatusRcvd:
		name = "no status received"
	case StatusAbnormalClosure:
		name = "abnormal closure"
	case StatusInvalidFramePayloadData:
		name = "invalid frame payload data"
	case StatusPolicyViolation:
		name = "policy violation"
	case StatusMessageTooBig:
		name = "message too big"
	case StatusMandatoryExtension:
		name = "mandatory extension"
	case StatusInternalError:
		name = "internal error"
	case StatusTLSHandshake:
		name = "TLS handshake"
	}
	if name == "" {
		return strconv.Itoa(int(s))
	}
	return strconv.Itoa(int(s)) + " " + name
}

// validWireCode reports whether a close frame may carry code: the codes
// RFC 6455 §7.4.1 defines for the wire (1000–1003, 1007–1011) and the
// ranges for libraries, frameworks and applications (3000–4999). Anything
// else received in a close frame is a protocol error (1002).
func validWireCode(code StatusCode) bool {
	switch {
	case code >= 1000 && code <= 1003:
		return true
	case code >= 1007 && code <= 1011:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// CloseError is what reads return once the connection is closed: the status
// code and reason that were sent or received.
type CloseError struct {
	Code   StatusCode
	Reason string

	err error // the I/O error behind a 1006, if any
}

// Error describes the closure.
func (e *CloseError) Error() string {
	s := "wire: connection closed: " + e.Code.String()
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	if e.err != nil {
		s += ": " + e.err.Error()
	}
	return s
}

// Unwrap returns the I/O error that ended the connection, if any.
func (e *CloseError) Unwrap() error { return e.err }

// CloseStatus returns the code of the first *CloseError in err's chain, or 0
// when there is none.
func CloseStatus(err error) StatusCode {
	var ce *CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return 0
}
