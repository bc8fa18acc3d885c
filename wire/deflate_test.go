package wire

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/klauspost/compress/flate"
)

// inflateAll inflates a permessage-deflate payload (tail removed).
func inflateAll(t testing.TB, p []byte) []byte {
	t.Helper()
	r := flate.NewReader(io.MultiReader(bytes.NewReader(p), bytes.NewReader(deflateTail[:])))
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("inflating: %v", err)
	}
	return out
}

func TestParseExtensions(t *testing.T) {
	tests := []struct {
		in   string
		want string // name;param=value,… rendering, or "error"
	}{
		{"permessage-deflate", "permessage-deflate"},
		{"permessage-deflate; client_max_window_bits", "permessage-deflate;client_max_window_bits"},
		{`permessage-deflate; client_max_window_bits="10", x-foo`, "permessage-deflate;client_max_window_bits=10,x-foo"},
		{"a;b=1;c , d", "a;b=1;c,d"},
		{"permessage-deflate; =1", "error"},
		{"bad name; x", "error"},
		{`permessage-deflate; a="b c"`, "error"},
	}
	for _, tt := range tests {
		exts, err := parseExtensions([]string{tt.in})
		got := "error"
		if err == nil {
			var parts []string
			for _, e := range exts {
				s := e.name
				for _, p := range e.params {
					s += ";" + p.name
					if p.hasValue {
						s += "=" + p.value
					}
				}
				parts = append(parts, s)
			}
			got = strings.Join(parts, ",")
		}
		if got != tt.want {
			t.Errorf("parseExtensions(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNegotiateServer(t *testing.T) {
	tests := []struct {
		name      string
		opts      CompressionOptions
		offer     string
		want      string // response, "" = declined
		takeoverW bool
		takeoverR bool
	}{
		{"default offer, default options", CompressionOptions{}, "permessage-deflate",
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover", false, false},
		{"takeover allowed", CompressionOptions{ContextTakeover: true}, "permessage-deflate; client_max_window_bits",
			"permessage-deflate", true, true},
		{"takeover allowed, client asks none for the server", CompressionOptions{ContextTakeover: true}, "permessage-deflate; server_no_context_takeover",
			"permessage-deflate; server_no_context_takeover", false, true},
		{"takeover allowed, client resets its own", CompressionOptions{ContextTakeover: true}, "permessage-deflate; client_no_context_takeover",
			"permessage-deflate; client_no_context_takeover", true, false},
		{"server window honoured", CompressionOptions{}, "permessage-deflate; server_max_window_bits=10",
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10", false, false},
		{"unknown param declines", CompressionOptions{}, "permessage-deflate; foo", "", false, false},
		{"duplicate declines", CompressionOptions{}, "permessage-deflate; client_max_window_bits; client_max_window_bits", "", false, false},
		{"bad bits decline", CompressionOptions{}, "permessage-deflate; server_max_window_bits=08", "", false, false},
		{"value on no_context_takeover declines", CompressionOptions{}, "permessage-deflate; server_no_context_takeover=1", "", false, false},
		{"first acceptable offer wins", CompressionOptions{}, "permessage-deflate; x=1, permessage-deflate; server_max_window_bits=12, permessage-deflate",
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12", false, false},
		{"other extensions ignored", CompressionOptions{}, "x-webkit-deflate-frame", "", false, false},
	}
	for _, tt := range tests {
		offers, err := parseExtensions([]string{tt.offer})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		resp, st, ok := tt.opts.negotiateServer(offers)
		if !ok {
			resp = ""
		}
		if resp != tt.want || (ok && (st.writeTakeover != tt.takeoverW || st.readTakeover != tt.takeoverR)) {
			t.Errorf("%s: got %q (write takeover %v, read takeover %v), want %q (%v, %v)",
				tt.name, resp, st.writeTakeover, st.readTakeover, tt.want, tt.takeoverW, tt.takeoverR)
		}
	}
}

func TestNegotiateClient(t *testing.T) {
	tests := []struct {
		name    string
		opts    *CompressionOptions
		resp    string
		wantErr bool
		enabled bool
	}{
		{"not offered, not answered", nil, "", false, false},
		{"not offered but answered", nil, "permessage-deflate", true, false},
		{"declined", &CompressionOptions{}, "", false, false},
		{"accepted", &CompressionOptions{}, "permessage-deflate; server_no_context_takeover", false, true},
		{"server keeps context", &CompressionOptions{}, "permessage-deflate", false, true},
		{"client window limited", &CompressionOptions{}, "permessage-deflate; client_max_window_bits=9", false, true},
		{"unknown param", &CompressionOptions{}, "permessage-deflate; foo", true, false},
		{"duplicate param", &CompressionOptions{}, "permessage-deflate; server_no_context_takeover; server_no_context_takeover", true, false},
		{"two extensions", &CompressionOptions{}, "permessage-deflate, permessage-deflate", true, false},
		{"other extension", &CompressionOptions{}, "x-foo", true, false},
		{"bad window bits", &CompressionOptions{}, "permessage-deflate; server_max_window_bits=16", true, false},
	}
	for _, tt := range tests {
		var exts []extension
		if tt.resp != "" {
			exts, _ = parseExtensions([]string{tt.resp})
		}
		st, err := tt.opts.negotiateClient(exts)
		if (err != nil) != tt.wantErr || st.enabled != tt.enabled {
			t.Errorf("%s: enabled=%v err=%v, want enabled=%v error=%v", tt.name, st.enabled, err, tt.enabled, tt.wantErr)
		}
	}
}

// TestDeflateRoundTrip sends many messages both ways under every
// combination of context takeover and window size, so dictionaries and
// compressors must stay in step across messages.
func TestDeflateRoundTrip(t *testing.T) {
	msgs := []string{
		strings.Repeat("hello chat ", 20),
		strings.Repeat("hello chat ", 21), // back-references into the previous message with takeover
		"short",
		strings.Repeat("κόσμε ", 5000),
		strings.Repeat("hello chat ", 20),
	}
	for _, tc := range []struct {
		name         string
		server, clnt CompressionOptions
	}{
		{"no takeover", CompressionOptions{}, CompressionOptions{}},
		{"takeover both", CompressionOptions{ContextTakeover: true}, CompressionOptions{ContextTakeover: true}},
		{"takeover server only", CompressionOptions{ContextTakeover: true}, CompressionOptions{}},
		{"levels", CompressionOptions{Level: 9, Threshold: 1}, CompressionOptions{Level: -2, Threshold: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPair(t, &AcceptOptions{Compression: &tc.server}, &DialOptions{Compression: &tc.clnt})
			for round := 0; round < 2; round++ {
				for _, m := range msgs {
					for _, dir := range [][2]*Conn{{p.cli, p.srv}, {p.srv, p.cli}} {
						errc := make(chan error, 1)
						go func() { errc <- dir[0].WriteMessage(TextMessage, []byte(m)) }()
						_, got, err := dir[1].ReadMessage()
						if err != nil || string(got) != m {
							t.Fatalf("round %d: got %d bytes, %v; want %d bytes", round, len(got), err, len(m))
						}
						if err := <-errc; err != nil {
							t.Fatal(err)
						}
					}
				}
			}
		})
	}
}

func TestSmallServerWindowRoundTrip(t *testing.T) {
	// server_max_window_bits=9 makes the server compress with its own
	// 512-byte-window compressor instead of the shared stateless one.
	c, peer := rawPeer(t, false, pmdState{enabled: true, threshold: 1, writeBits: 9})
	msg := []byte(strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyz", 200))
	for i := 0; i < 2; i++ {
		go c.WriteMessage(BinaryMessage, msg)
		h, p := readFrame(t, peer)
		if h.rsv != rsv1 || len(p) >= len(msg) {
			t.Fatalf("message %d not compressed (rsv %#x, %d bytes)", i, h.rsv, len(p))
		}
		if got := inflateAll(t, p); !bytes.Equal(got, msg) {
			t.Fatalf("message %d: round trip differs", i)
		}
	}
	if c.pmd.fw == nil {
		t.Fatal("no per-connection window-limited compressor was used")
	}
}

func TestDeflateBombStopsAtLimit(t *testing.T) {
	c, peer := rawPeer(t, false, (&CompressionOptions{}).state())
	c.SetReadLimit(1 << 20)
	c.SetCloseTimeout(50 * 1e6)
	// 64 MiB of zeros compresses to about 64 KiB.
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.BestCompression)
	zeros := make([]byte, 1<<20)
	for i := 0; i < 64; i++ {
		fw.Write(zeros)
	}
	fw.Flush()
	payload := trimTail(buf.Bytes())
	go peer.Write(encodeFrame(true, rsv1, opBinary, true, payload))
	_, got, err := c.ReadMessage()
	if CloseStatus(err) != StatusMessageTooBig {
		t.Fatalf("read error %v, want 1009", err)
	}
	if cap(got) > 2<<20 {
		t.Fatalf("buffered %d bytes for a 1 MiB limit", cap(got))
	}
}

func TestCompressedRSV1OnlyOnFirstFrameAccepted(t *testing.T) {
	pmd := (&CompressionOptions{}).state()
	c, peer := rawPeer(t, false, pmd)
	c.SetCloseTimeout(50 * 1e6)
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, 5)
	fw.Write([]byte("hello hello hello hello"))
	fw.Flush()
	z := trimTail(buf.Bytes())
	peer.Write(encodeFrame(false, rsv1, opText, true, z[:3]))
	peer.Write(encodeFrame(true, 0, opContinuation, true, z[3:]))
	if _, got, err := c.ReadMessage(); err != nil || string(got) != "hello hello hello hello" {
		t.Fatalf("fragmented compressed message: %q %v", got, err)
	}
	peer.Write(encodeFrame(false, rsv1, opText, true, z[:3]))
	peer.Write(encodeFrame(true, rsv1, opContinuation, true, z[3:]))
	if _, _, err := c.ReadMessage(); CloseStatus(err) != StatusProtocolError {
		t.Fatalf("RSV1 on a continuation: %v, want 1002", err)
	}
}

// TestCompressedSteadyStateDoesNotAllocate: compressed messages are
// written and read with pooled (or per-connection, with takeover)
// compressors and inflaters, so the steady state allocates nothing.
func TestCompressedSteadyStateDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops objects under the race detector")
	}
	msg := bytes.Repeat([]byte("compressible chat message "), 40)
	for _, takeover := range []bool{false, true} {
		st := (&CompressionOptions{ContextTakeover: takeover}).state()
		st.writeTakeover, st.readTakeover = takeover, takeover
		srv, peer := rawPeer(t, false, st)
		cli := newConn(peer, true, nil, "", st, 0)
		const runs = 100
		go func() {
			for i := 0; i < runs+1; i++ {
				cli.WriteMessage(TextMessage, msg)
			}
		}()
		buf := make([]byte, 0, 4096)
		reads := testing.AllocsPerRun(runs, func() {
			var err error
			_, buf, err = srv.ReadMessageInto(buf[:0])
			if err != nil || !bytes.Equal(buf, msg) {
				t.Fatalf("read: %v", err)
			}
		})
		done := make(chan struct{})
		go func() {
			defer close(done)
			rbuf := make([]byte, 0, 4096)
			for {
				var err error
				if _, rbuf, err = cli.ReadMessageInto(rbuf[:0]); err != nil {
					return
				}
			}
		}()
		writes := testing.AllocsPerRun(runs, func() {
			if err := srv.WriteMessage(TextMessage, msg); err != nil {
				t.Fatal(err)
			}
		})
		srv.CloseNow()
		<-done
		if reads != 0 || writes != 0 {
			t.Errorf("takeover=%v: %.1f allocs per compressed read, %.1f per write; want 0", takeover, reads, writes)
		}
	}
}
