package client

import "testing"

func TestStateString(t *testing.T) {
	for s, want := range map[State]string{StateConnecting: "connecting", StateConnected: "connected",
		StateReconnecting: "reconnecting", StateClosed: "closed", State(9): "State(9)"} {
		if s.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(s), s.String(), want)
		}
	}
}
