package client

import (
	"errors"
	"fmt"

	"github.com/chatd/chatd/api"
)

var (
	// ErrClosed is returned by requests on a session that has ended.
	ErrClosed = errors.New("client: session closed")
	// ErrNotConnected is returned by requests while the session is reconnecting.
	ErrNotConnected = errors.New("client: not connected (reconnecting)")
	// ErrConnectionLost is returned by a request whose connection dropped before the
	// server answered: the server may or may not have accepted it.
	ErrConnectionLost = errors.New("client: connection lost before the server answered")
	// ErrSlowConsumer ends a session whose caller stopped reading Events.
	ErrSlowConsumer = errors.New("client: events not read; queue limit reached")
)

// ServerError is an error envelope the server sent in answer to a request.
// It wraps the *api.Error, so errors.As finds either:
//
//	var se *client.ServerError
//	if errors.As(err, &se) && se.Code == api.CodeUnknownUser { … }
type ServerError struct {
	Op   string   // the request: "join #lobby", "pm bob", …
	Code api.Code // the protocol's error code
	Err  *api.Error
}

func newServerError(op string, e *api.Error) *ServerError {
	return &ServerError{Op: op, Code: e.Code, Err: e}
}

// Error says which request the server refused and why.
func (e *ServerError) Error() string { return e.Op + ": " + e.Err.Error() }

// Unwrap returns the *api.Error.
func (e *ServerError) Unwrap() error { return e.Err }

// Code returns the protocol error code in err's chain, or "" if err did not come
// from the server.
func Code(err error) api.Code {
	var ae *api.Error
	if errors.As(err, &ae) {
		return ae.Code
	}
	return ""
}

// ConnectError is a failure to open the WebSocket connection: the network, TLS,
// or an HTTP refusal of the upgrade (Status and Body set then).
type ConnectError struct {
	URL    string
	Status int    // HTTP status when the server answered without upgrading, else 0
	Body   string // the start of that answer's body
	Err    error
}

// Error names the URL and the cause.
func (e *ConnectError) Error() string {
	if e.Status != 0 {
		msg := fmt.Sprintf("connect %s: HTTP %d", e.URL, e.Status)
		if e.Body != "" {
			msg += ": " + e.Body
		}
		return msg
	}
	return fmt.Sprintf("connect %s: %v", e.URL, e.Err)
}

// Unwrap returns the underlying network, TLS or handshake error.
func (e *ConnectError) Unwrap() error { return e.Err }

// CloseError reports that the server closed the connection with a code that a
// reconnect would not fix (1000 outside of Close, 1008 policy, protocol errors).
type CloseError struct {
	Code   int
	Reason string
}

// Error gives the close code and reason.
func (e *CloseError) Error() string {
	return fmt.Sprintf("server closed the connection: %d %s", e.Code, e.Reason)
}

// GaveUpError ends a session whose reconnect attempts all failed.
type GaveUpError struct {
	Attempts int
	Last     error
}

// Error says how many attempts failed and the last cause.
func (e *GaveUpError) Error() string {
	return fmt.Sprintf("gave up after %d reconnect attempts: %v", e.Attempts, e.Last)
}

// Unwrap returns the last attempt's error.
func (e *GaveUpError) Unwrap() error { return e.Last }
