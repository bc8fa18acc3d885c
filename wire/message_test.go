package wire

import "testing"

func TestMessageTypeString(t *testing.T) {
	for typ, want := range map[MessageType]string{TextMessage: "text", BinaryMessage: "binary", 9: "MessageType(9)"} {
		if got := typ.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(typ), got, want)
		}
	}
}
