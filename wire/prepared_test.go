package wire

import (
	"bytes"
	"strings"
	"testing"
)

func TestPreparedMessageBytes(t *testing.T) {
	payload := []byte(strings.Repeat("broadcast ", 100))
	pm, err := NewPreparedMessage(TextMessage, payload)
	if err != nil {
		t.Fatal(err)
	}
	if pm.Len() != 4+len(payload) {
		t.Fatalf("Len() = %d, want %d", pm.Len(), 4+len(payload))
	}
	payload[0] = 'X' // the message owns a copy
	for _, tc := range []struct {
		name     string
		client   bool
		pmd      pmdState
		wantRSV1 bool
	}{
		{"server plain", false, pmdState{}, false},
		{"server compressed", false, (&CompressionOptions{}).state(), true},
		{"server with takeover gets plain", false, func() pmdState {
			s := (&CompressionOptions{}).state()
			s.writeTakeover = true
			return s
		}(), false},
		{"client masks per write", true, pmdState{}, false},
		{"client compressed", true, (&CompressionOptions{}).state(), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, peer := rawPeer(t, tc.client, tc.pmd)
			go func() {
				c.WritePrepared(pm)
				c.WriteBatch([]*PreparedMessage{pm, pm})
			}()
			for i := 0; i < 3; i++ {
				h, p := readFrame(t, peer)
				if h.masked != tc.client || (h.rsv == rsv1) != tc.wantRSV1 || h.op != opText || !h.fin {
					t.Fatalf("frame %d: header %+v", i, h)
				}
				if tc.wantRSV1 {
					p = inflateAll(t, p)
				}
				if want := strings.Repeat("broadcast ", 100); string(p) != want {
					t.Fatalf("frame %d: payload differs", i)
				}
			}
		})
	}
}

func TestPreparedCompressedFrameIsShared(t *testing.T) {
	pm, _ := NewPreparedMessage(BinaryMessage, bytes.Repeat([]byte("abc"), 1000))
	a := pm.compressedFrame()
	b := pm.compressedFrame()
	if a == nil || &a[0] != &b[0] {
		t.Fatal("the compressed variant is not built once and shared")
	}
	small, _ := NewPreparedMessage(BinaryMessage, []byte{1, 2, 3})
	c, _ := rawPeer(t, false, (&CompressionOptions{}).state())
	if _, _, rsv := small.frameFor(c); rsv != 0 {
		t.Fatal("a message under the threshold was compressed")
	}
}

func TestClientBatchMixesSmallAndLarge(t *testing.T) {
	small, _ := NewPreparedMessage(TextMessage, []byte("small"))
	large, _ := NewPreparedMessage(BinaryMessage, bytes.Repeat([]byte{1, 2, 3}, 20000)) // 60 KB: its own write
	c, peer := rawPeer(t, true, pmdState{})
	go c.WriteBatch([]*PreparedMessage{small, large, small, small})
	for i, want := range []*PreparedMessage{small, large, small, small} {
		h, p := readFrame(t, peer)
		if !h.masked || h.op != opcode(want.t) || !bytes.Equal(p, want.payload) {
			t.Fatalf("frame %d: header %+v, %d bytes", i, h, len(p))
		}
	}
}
