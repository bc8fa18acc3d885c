package client

import (
	"errors"
	"fmt"
	"testing"

	"github.com/chatd/chatd/api"
)

func TestServerErrorUnwraps(t *testing.T) {
	err := fmt.Errorf("sending: %w", newServerError("pm carol", &api.Error{Code: api.CodeUnknownUser, Message: "carol is not connected"}))
	var se *ServerError
	if !errors.As(err, &se) || se.Code != api.CodeUnknownUser || se.Op != "pm carol" {
		t.Fatalf("errors.As ServerError: %#v", se)
	}
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code != api.CodeUnknownUser {
		t.Fatalf("errors.As api.Error: %#v", ae)
	}
	if Code(err) != api.CodeUnknownUser || Code(errors.New("x")) != "" {
		t.Fatal("Code")
	}
	if want := "pm carol: unknown_user: carol is not connected"; err.Error() != "sending: "+want {
		t.Fatalf("Error() = %q", err.Error())
	}
}

func TestGaveUpErrorUnwraps(t *testing.T) {
	last := &ConnectError{URL: "ws://x/ws", Err: errors.New("refused")}
	err := &GaveUpError{Attempts: 3, Last: last}
	var ce *ConnectError
	if !errors.As(err, &ce) || ce != last {
		t.Fatal("GaveUpError does not unwrap to the last error")
	}
}
