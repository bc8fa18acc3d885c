package wire

import (
	"fmt"
	"io"
	"testing"
)

func TestValidWireCode(t *testing.T) {
	valid := map[StatusCode]bool{}
	for _, c := range []StatusCode{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999} {
		valid[c] = true
	}
	for _, c := range []StatusCode{0, 999, 1004, 1005, 1006, 1012, 1013, 1014, 1015, 1016, 1100, 2000, 2999, 5000, 65535} {
		valid[c] = false
	}
	for c, want := range valid {
		if got := validWireCode(c); got != want {
			t.Errorf("validWireCode(%d) = %v, want %v", c, got, want)
		}
	}
}

func TestCloseStatus(t *testing.T) {
	ce := &CloseError{Code: StatusGoingAway, Reason: "shutdown", err: io.EOF}
	if got := CloseStatus(fmt.Errorf("wrapped: %w", ce)); got != StatusGoingAway {
		t.Fatalf("CloseStatus = %d", got)
	}
	if CloseStatus(io.EOF) != 0 || CloseStatus(nil) != 0 {
		t.Fatal("CloseStatus of a non-close error is not 0")
	}
	if want := "wire: connection closed: 1001 going away: shutdown: EOF"; ce.Error() != want {
		t.Fatalf("Error() = %q, want %q", ce.Error(), want)
	}
}
