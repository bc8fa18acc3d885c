package wire

import "testing"

func TestHeaderRoundTrip(t *testing.T) {
	for _, h := range []header{
		{fin: true, op: opText, length: 0},
		{fin: false, op: opBinary, rsv: rsv1, length: 125},
		{fin: true, op: opContinuation, length: 126},
		{fin: true, op: opPing, masked: true, key: [4]byte{9, 8, 7, 6}, length: 65535},
		{fin: true, op: opBinary, masked: true, key: [4]byte{1, 2, 3, 4}, length: 65536},
		{fin: true, op: opBinary, length: 1<<63 - 1},
	} {
		var b [maxHeaderLen]byte
		n := putHeader(b[:], h)
		if n != headerLen(b[0], b[1]) {
			t.Fatalf("%+v: putHeader wrote %d bytes, headerLen says %d", h, n, headerLen(b[0], b[1]))
		}
		got, problem := parseHeader(b[:n])
		if got != h || problem != "" {
			t.Fatalf("round trip of %+v gave %+v (%q)", h, got, problem)
		}
	}
}

func TestParseHeaderLengthProblems(t *testing.T) {
	tests := []struct {
		name  string
		b     []byte
		valid bool
	}{
		{"7-bit", []byte{0x82, 0x05}, true},
		{"16-bit minimal", []byte{0x82, 0x7E, 0x00, 0x7E}, true},
		{"16-bit for 125", []byte{0x82, 0x7E, 0x00, 0x7D}, false},
		{"64-bit minimal", []byte{0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0}, true},
		{"64-bit for 65535", []byte{0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF}, false},
		{"64-bit high bit", []byte{0x82, 0x7F, 0x80, 0, 0, 0, 0, 1, 0, 0}, false},
	}
	for _, tt := range tests {
		_, problem := parseHeader(tt.b)
		if (problem == "") != tt.valid {
			t.Errorf("%s: problem %q, want valid=%v", tt.name, problem, tt.valid)
		}
	}
}
