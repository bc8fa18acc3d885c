package term

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/chatd/chatd/api"
	"github.com/chatd/chatd/client"
)

func TestExplain(t *testing.T) {
	refused := &client.ConnectError{URL: "ws://127.0.0.1:1/ws", Err: &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}
	tests := []struct {
		name string
		err  error
		want []string // substrings
	}{
		{"refused", refused, []string{"connection refused", "make run", "--url"}},
		{"name taken", &client.ServerError{Op: "join #lobby", Code: api.CodeNameTaken, Err: &api.Error{Code: api.CodeNameTaken, Message: "alice is taken"}},
			[]string{"already taken", "--name"}},
		{"unknown CA", &client.ConnectError{URL: "wss://x/ws", Err: fmt.Errorf("tls: %w", x509.UnknownAuthorityError{})},
			[]string{"not signed by a CA you trust", "--ca", "--insecure"}},
		{"http 404", &client.ConnectError{URL: "ws://x/nope", Status: 404}, []string{"HTTP 404", "/ws"}},
		{"policy close", &client.CloseError{Code: 1008, Reason: "rate_limited"}, []string{"flooding"}},
		{"server gone", &client.GaveUpError{Attempts: 12, Last: refused}, []string{"server is gone", "12 reconnect attempts", "connection refused"}},
		{"timeout", fmt.Errorf("connect: %w", context.DeadlineExceeded), []string{"timed out"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Explain(tc.err, "ws://127.0.0.1:1/ws")
			if strings.Contains(got, "\n") {
				t.Fatalf("more than one line: %q", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("%q does not mention %q", got, w)
				}
			}
		})
	}
}
