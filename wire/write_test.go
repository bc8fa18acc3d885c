package wire

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// drain reads and drops everything from nc until it fails, into one
// preallocated buffer (so it allocates nothing while a test counts).
func drain(nc net.Conn) chan struct{} {
	done := make(chan struct{})
	buf := make([]byte, 64<<10)
	go func() {
		defer close(done)
		for {
			if _, err := nc.Read(buf); err != nil {
				return
			}
		}
	}()
	return done
}

func TestSteadyStateWriteDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops objects under the race detector")
	}
	for _, client := range []bool{false, true} {
		for _, size := range []int{125, 1024, 64 << 10} {
			c, peer := rawPeer(t, client, pmdState{})
			done := drain(peer)
			payload := bytes.Repeat([]byte{'a'}, size)
			pm, _ := NewPreparedMessage(BinaryMessage, payload)
			batch := []*PreparedMessage{pm, pm, pm}
			for _, w := range []struct {
				name string
				f    func() error
			}{
				{"WriteMessage", func() error { return c.WriteMessage(BinaryMessage, payload) }},
				{"NextWriter", func() error {
					w, err := c.NextWriter(BinaryMessage)
					if err != nil {
						return err
					}
					w.Write(payload)
					return w.Close()
				}},
				{"WritePrepared", func() error { return c.WritePrepared(pm) }},
				{"WriteBatch", func() error { return c.WriteBatch(batch) }},
			} {
				allocs := testing.AllocsPerRun(50, func() {
					if err := w.f(); err != nil {
						t.Fatal(err)
					}
				})
				if allocs != 0 {
					t.Errorf("client=%v %s %d B: %.1f allocs per write, want 0", client, w.name, size, allocs)
				}
			}
			c.CloseNow()
			peer.Close()
			<-done
		}
	}
}

func TestWriteFrameFormat(t *testing.T) {
	for _, client := range []bool{false, true} {
		for _, size := range []int{0, 125, 126, 65535, 65536, 70000} {
			c, peer := rawPeer(t, client, pmdState{})
			payload := bytes.Repeat([]byte{0x5a}, size)
			go c.WriteMessage(BinaryMessage, payload)
			h, p := readFrame(t, peer)
			if !h.fin || h.op != opBinary || h.rsv != 0 || h.masked != client || !bytes.Equal(p, payload) {
				t.Fatalf("client=%v size %d: header %+v, %d payload bytes", client, size, h, len(p))
			}
		}
	}
}

func TestNextWriterFragments(t *testing.T) {
	for _, compress := range []bool{false, true} {
		pmd := pmdState{}
		if compress {
			pmd = (&CompressionOptions{}).state()
		}
		c, peer := rawPeer(t, false, pmd)
		msg := bytes.Repeat([]byte("fragmented message "), 5000) // ~95 KB
		go func() {
			w, _ := c.NextWriter(TextMessage)
			for i := 0; i < len(msg); i += 1000 {
				w.Write(msg[i:min(i+1000, len(msg))])
			}
			w.Close()
		}()
		var payload []byte
		for i := 0; ; i++ {
			h, p := readFrame(t, peer)
			wantOp, wantRSV := opContinuation, byte(0)
			if i == 0 {
				wantOp = opText
				if compress {
					wantRSV = rsv1
				}
			}
			if h.op != wantOp || h.rsv != wantRSV {
				t.Fatalf("compress=%v frame %d: op %d rsv %#x, want op %d rsv %#x", compress, i, h.op, h.rsv, wantOp, wantRSV)
			}
			payload = append(payload, p...)
			if h.fin {
				if i == 0 && !compress {
					t.Fatalf("a %d-byte message went out as one frame", len(msg))
				}
				break
			}
		}
		if compress {
			payload = inflateAll(t, payload)
		}
		if !bytes.Equal(payload, msg) {
			t.Fatalf("compress=%v: reassembled %d bytes differ from the %d written", compress, len(payload), len(msg))
		}
	}
}

func TestLatestPingWins(t *testing.T) {
	c, peer := rawPeer(t, false, pmdState{})
	// Hold the frame lock as a slow writer would, so the pongs queue up.
	c.wmu.Lock()
	peer.Write(encodeFrame(true, 0, opPing, true, []byte("first")))
	peer.Write(encodeFrame(true, 0, opPing, true, []byte("second")))
	peer.Write(encodeFrame(true, 0, opText, true, []byte("go")))
	if _, _, err := c.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	c.unlockWrite()
	h, p := readFrame(t, peer)
	if h.op != opPong || string(p) != "second" {
		t.Fatalf("got op %d %q, want pong \"second\"", h.op, p)
	}
	// And nothing else: the next frame is the close.
	go c.Close(StatusNormalClosure, "")
	if h, _ := readFrame(t, peer); h.op != opClose {
		t.Fatalf("after the pong: op %d, want close", h.op)
	}
	peer.Write(encodeFrame(true, 0, opClose, true, []byte{0x03, 0xe8}))
	expectEOF(t, peer)
}

func TestWriteAfterCloseFails(t *testing.T) {
	c, peer := rawPeer(t, false, pmdState{})
	c.SetCloseTimeout(50 * time.Millisecond)
	go io.Copy(io.Discard, peer)
	c.Close(StatusNormalClosure, "")
	if err := c.WriteMessage(TextMessage, []byte("late")); err == nil {
		t.Fatal("WriteMessage after Close succeeded")
	}
	if _, err := c.NextWriter(TextMessage); err == nil {
		t.Fatal("NextWriter after Close succeeded")
	}
}
