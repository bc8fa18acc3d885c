package wire_test

// Autobahn testsuite sections 12 and 13 (permessage-deflate, RFC 7692) in the server role:
// each client offer of section 13 (no parameters, client_max_window_bits,
// no_context_takeover combinations, server_max_window_bits 8 and 15, several offers in
// one header) plus offers a server must decline, then section 12's traffic over the
// negotiated connection: compressed messages of 16 B … 128 KiB, whole and auto-fragmented
// to 256 and 4096 bytes, echoed and decompressed here with a window primed only as the
// negotiated context takeover allows.

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/chatd/chatd/wire"
)

// extension is one element of a Sec-WebSocket-Extensions list.
type extension struct {
	name   string
	params map[string]string // value "" for a parameter without value
	dups   []string          // parameters that appeared more than once
}

func parseExtensions(h http.Header) []extension {
	var out []extension
	for _, v := range h.Values("Sec-WebSocket-Extensions") {
		for _, item := range strings.Split(v, ",") {
			parts := strings.Split(item, ";")
			e := extension{name: strings.ToLower(strings.TrimSpace(parts[0])), params: map[string]string{}}
			if e.name == "" {
				continue
			}
			for _, p := range parts[1:] {
				k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
				k = strings.ToLower(strings.TrimSpace(k))
				val = strings.Trim(strings.TrimSpace(val), `"`)
				if _, ok := e.params[k]; ok {
					e.dups = append(e.dups, k)
				}
				e.params[k] = val
			}
			out = append(out, e)
		}
	}
	return out
}

// negotiated is what a permessage-deflate response allows each side to do.
type negotiated struct {
	serverNoTakeover bool
	clientNoTakeover bool
	clientWindow     int // 15 unless the server limited our window
	serverWindow     int // 15 unless the server announced a smaller window for itself
}

// checkDeflateResponse validates the server's answer against RFC 7692 §7.1 for a single
// offer (offer == nil for multi-offer headers, where only the generic rules apply).
func checkDeflateResponse(t *testing.T, exts []extension, offer map[string]string) negotiated {
	t.Helper()
	if len(exts) != 1 || exts[0].name != "permessage-deflate" {
		t.Fatalf("response extensions %+v, want exactly one permessage-deflate", exts)
	}
	e := exts[0]
	if len(e.dups) > 0 {
		t.Errorf("response repeats parameters %v", e.dups)
	}
	n := negotiated{clientWindow: 15, serverWindow: 15}
	for k, v := range e.params {
		switch k {
		case "server_no_context_takeover", "client_no_context_takeover":
			if v != "" {
				t.Errorf("%s with a value %q", k, v)
			}
		case "server_max_window_bits", "client_max_window_bits":
			b, err := strconv.Atoi(v)
			if err != nil || b < 8 || b > 15 {
				t.Errorf("%s=%q, want 8..15", k, v)
			}
			if k == "client_max_window_bits" {
				n.clientWindow = b
			} else if err == nil {
				n.serverWindow = b
			}
		default:
			t.Errorf("response has parameter %q that RFC 7692 does not define", k)
		}
	}
	_, n.serverNoTakeover = e.params["server_no_context_takeover"]
	_, n.clientNoTakeover = e.params["client_no_context_takeover"]
	if offer == nil {
		return n
	}
	if _, ok := offer["server_no_context_takeover"]; ok && !n.serverNoTakeover {
		t.Errorf("offer asked for server_no_context_takeover, response lacks it (RFC 7692 §7.1.1.1)")
	}
	if v, ok := e.params["client_max_window_bits"]; ok {
		ov, offered := offer["client_max_window_bits"]
		if !offered {
			t.Errorf("response has client_max_window_bits the client did not offer (RFC 7692 §7.1.2.2)")
		} else if ov != "" && atoi(v) > atoi(ov) {
			t.Errorf("client_max_window_bits=%s above the offered %s", v, ov)
		}
	}
	if ov, ok := offer["server_max_window_bits"]; ok {
		v, answered := e.params["server_max_window_bits"]
		if !answered {
			t.Errorf("offer had server_max_window_bits=%s, an accepting response must include it (RFC 7692 §7.1.2.1)", ov)
		} else if atoi(v) > atoi(ov) {
			t.Errorf("server_max_window_bits=%s above the offered %s", v, ov)
		}
	}
	return n
}

// offerParams parses a single offer for checkDeflateResponse.
func offerParams(offer string) map[string]string {
	h := http.Header{"Sec-Websocket-Extensions": {offer}}
	exts := parseExtensions(h)
	if len(exts) != 1 {
		return nil
	}
	return exts[0].params
}

// deflateTraffic runs section 12's traffic over a negotiated connection.
func deflateTraffic(t *testing.T, r *rawConn, n negotiated) {
	t.Helper()
	def := &deflater{takeover: !n.clientNoTakeover, huffmanOnly: n.clientWindow < 15}
	inf := &inflater{}
	seed := uint64(1)
	frags, repeat := []int{0, 256, 4096}, 2
	if raceEnabled {
		frags, repeat = []int{0, 256}, 1
	}
	for _, frag := range frags {
		for _, size := range []int{16, 64, 256, 1024, 4096, 16384, 65536, 131072} {
			if frag > 0 && size <= frag {
				continue
			}
			for range repeat {
				seed++
				p := compressible(size, seed)
				c := def.compress(p)
				fs := []frame{{fin: true, rsv: rsv1, op: opText, payload: c}}
				if frag > 0 {
					fs = fragmentFrames(opText, c, frag)
					fs[0].rsv = rsv1
				}
				r.send(fs...)
				e, err := r.next(true)
				if err != nil {
					t.Fatalf("echo of %d bytes (fragments %d): %v", size, frag, err)
				}
				got := e.payload
				if e.rsv1 {
					checkWindow(t, e.payload, n.serverWindow, "server")
					if n.serverNoTakeover {
						// Announced no context takeover: each message must inflate alone.
						inf.hist = nil
					}
					if got, err = inf.inflate(e.payload); err != nil {
						t.Fatalf("server's compressed echo of %d bytes does not inflate: %v", size, err)
					}
				} else if size >= 1024 {
					t.Errorf("server sent a compressible %d-byte message uncompressed", size)
				}
				if e.op != opText || !bytes.Equal(got, p) {
					t.Fatalf("echo of %d bytes (fragments %d) differs: op %#x, %d bytes", size, frag, e.op, len(got))
				}
			}
		}
	}
	// Incompressible binary and an uncompressed message on the compressed connection.
	for _, p := range [][]byte{randomBytes(4096, 99), []byte("sent without RSV1")} {
		r.send(binaryFrame(p))
		e, err := r.next(true)
		if err != nil {
			t.Fatal(err)
		}
		got := e.payload
		if e.rsv1 {
			if n.serverNoTakeover {
				inf.hist = nil
			}
			if got, err = inf.inflate(e.payload); err != nil {
				t.Fatal(err)
			}
		}
		if e.op != opBinary || !bytes.Equal(got, p) {
			t.Fatalf("binary echo differs (%d bytes)", len(got))
		}
	}
	r.closeNormally()
}

// offerCase is one Sec-WebSocket-Extensions offer and what the server may answer.
type offerCase struct {
	name  string
	offer string
	// accept: the server must accept; decline: it must not; neither: either is
	// conformant (server_max_window_bits below what its compressor can promise).
	accept, decline bool
}

func offerCases() []offerCase {
	return []offerCase{
		{"13.1 default offer", "permessage-deflate", true, false},
		{"13.1 client_max_window_bits without value", "permessage-deflate; client_max_window_bits", true, false},
		{"13.2 client_no_context_takeover", "permessage-deflate; client_no_context_takeover; client_max_window_bits", true, false},
		{"13.2 server_no_context_takeover", "permessage-deflate; server_no_context_takeover", true, false},
		{"13.2 both no_context_takeover", "permessage-deflate; client_no_context_takeover; server_no_context_takeover", true, false},
		{"13.3 server_max_window_bits=8", "permessage-deflate; client_max_window_bits; server_max_window_bits=8", false, false},
		{"13.4 server_max_window_bits=15", "permessage-deflate; client_max_window_bits; server_max_window_bits=15", true, false},
		{"13.5 server_no_context_takeover; server_max_window_bits=8", "permessage-deflate; client_max_window_bits; server_no_context_takeover; server_max_window_bits=8", false, false},
		{"13.6 server_no_context_takeover; server_max_window_bits=15", "permessage-deflate; client_max_window_bits; server_no_context_takeover; server_max_window_bits=15", true, false},
		{"client_max_window_bits=9", "permessage-deflate; client_max_window_bits=9", true, false},
		{"server_max_window_bits=9", "permessage-deflate; server_max_window_bits=9", false, false},
		{"server_max_window_bits=10 with no context takeover", "permessage-deflate; server_no_context_takeover; server_max_window_bits=10", false, false},
		{"server_max_window_bits=12", "permessage-deflate; server_max_window_bits=12", false, false},
		{"quoted parameter value", `permessage-deflate; client_max_window_bits="10"`, false, false},
		{"case-insensitive extension name", "PerMessage-Deflate", false, false},
		{"declined: unknown parameter", "permessage-deflate; foo=1", false, true},
		{"declined: server_max_window_bits without value", "permessage-deflate; server_max_window_bits", false, true},
		{"declined: server_max_window_bits=16", "permessage-deflate; server_max_window_bits=16", false, true},
		{"declined: server_max_window_bits=7", "permessage-deflate; server_max_window_bits=7", false, true},
		{"declined: client_max_window_bits=7", "permessage-deflate; client_max_window_bits=7", false, true},
		{"declined: client_max_window_bits=abc", "permessage-deflate; client_max_window_bits=abc", false, true},
		{"declined: repeated parameter", "permessage-deflate; server_no_context_takeover; server_no_context_takeover", false, true},
		{"declined: value on client_no_context_takeover", "permessage-deflate; client_no_context_takeover=1", false, true},
		{"declined: unknown extension only", "x-webkit-deflate-frame", false, true},
	}
}

// runOfferCases negotiates each offer with the server at addr and, when it accepts,
// runs section 12's traffic; when it declines, checks RSV1 is refused.
func runOfferCases(t *testing.T, addr string) {
	for _, tc := range offerCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, resp := dialRaw(t, addr, "Sec-WebSocket-Extensions: "+tc.offer)
			exts := parseExtensions(resp.Header)
			accepted := len(exts) > 0
			switch {
			case tc.accept && !accepted:
				t.Fatalf("server declined offer %q", tc.offer)
			case tc.decline && accepted:
				t.Fatalf("server accepted offer %q with %q", tc.offer, resp.Header.Get("Sec-WebSocket-Extensions"))
			}
			if !accepted {
				declinedChecks(t, r)
				return
			}
			n := checkDeflateResponse(t, exts, offerParams(tc.offer))
			deflateTraffic(t, r, n)
		})
	}
}

func TestConformanceDeflateNegotiation(t *testing.T) {
	es := startEcho(t, &wire.AcceptOptions{Compression: &wire.CompressionOptions{}}, echoWhole)
	runOfferCases(t, es.Addr)

	t.Run("13.7 several offers: the first acceptable one is taken", func(t *testing.T) {
		t.Parallel()
		r, resp := dialRaw(t, es.Addr,
			"Sec-WebSocket-Extensions: permessage-deflate; foo, permessage-deflate; server_no_context_takeover; client_max_window_bits=12",
			"Sec-WebSocket-Extensions: permessage-deflate")
		exts := parseExtensions(resp.Header)
		n := checkDeflateResponse(t, exts, offerParams("permessage-deflate; server_no_context_takeover; client_max_window_bits=12"))
		deflateTraffic(t, r, n)
	})
	t.Run("13.7 several offers with server_max_window_bits=8 first", func(t *testing.T) {
		t.Parallel()
		r, resp := dialRaw(t, es.Addr,
			"Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; server_max_window_bits=8, permessage-deflate; server_no_context_takeover, permessage-deflate")
		exts := parseExtensions(resp.Header)
		n := checkDeflateResponse(t, exts, nil)
		if !n.serverNoTakeover {
			t.Errorf("every acceptable offer asked for server_no_context_takeover; response %+v", exts)
		}
		deflateTraffic(t, r, n)
	})
}

// declinedChecks proves a connection without the extension treats RSV1 as an error.
func declinedChecks(t *testing.T, r *rawConn) {
	t.Helper()
	r.send(text("plain"))
	r.expect(opText, []byte("plain"))
	r.sendTolerant(frame{fin: true, rsv: rsv1, op: opText, payload: (&deflater{}).compress([]byte("compressed"))})
	r.failed(1002)
}

func TestConformanceDeflateServerOptions(t *testing.T) {
	t.Run("compression disabled: offer ignored, RSV1 is an error", func(t *testing.T) {
		es := startEcho(t, nil, echoWhole)
		r, resp := dialRaw(t, es.Addr, "Sec-WebSocket-Extensions: permessage-deflate")
		if v := resp.Header.Get("Sec-WebSocket-Extensions"); v != "" {
			t.Fatalf("server without Compression answered extensions %q", v)
		}
		declinedChecks(t, r)
	})
	t.Run("default options answer server_no_context_takeover", func(t *testing.T) {
		es := startEcho(t, &wire.AcceptOptions{Compression: &wire.CompressionOptions{}}, echoWhole)
		r, resp := dialRaw(t, es.Addr, "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits")
		n := checkDeflateResponse(t, parseExtensions(resp.Header), offerParams("permessage-deflate; client_max_window_bits"))
		if !n.serverNoTakeover {
			t.Errorf("CompressionOptions.ContextTakeover is off by default, response lacks server_no_context_takeover")
		}
		deflateTraffic(t, r, n)
	})
	t.Run("context takeover on", func(t *testing.T) {
		es := startEcho(t, &wire.AcceptOptions{Compression: &wire.CompressionOptions{ContextTakeover: true, Level: 6}}, echoWhole)
		r, resp := dialRaw(t, es.Addr, "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits")
		n := checkDeflateResponse(t, parseExtensions(resp.Header), offerParams("permessage-deflate; client_max_window_bits"))
		deflateTraffic(t, r, n)
	})
	t.Run("threshold: short messages go out uncompressed", func(t *testing.T) {
		es := startEcho(t, &wire.AcceptOptions{Compression: &wire.CompressionOptions{Threshold: 512}}, echoWhole)
		r, _ := dialRaw(t, es.Addr, "Sec-WebSocket-Extensions: permessage-deflate")
		p := compressible(511, 5)
		r.send(frame{fin: true, rsv: rsv1, op: opText, payload: (&deflater{}).compress(p)})
		e, err := r.next(true)
		if err != nil {
			t.Fatal(err)
		}
		if e.rsv1 || !bytes.Equal(e.payload, p) {
			t.Fatalf("511-byte echo below Threshold 512: rsv1=%v, %d bytes", e.rsv1, len(e.payload))
		}
		r.closeNormally()
	})
}

func TestConformanceDeflateErrors(t *testing.T) {
	zeros := make([]byte, 1<<20)
	cases := []serverCase{
		{"RSV1 on a continuation frame", func(t *testing.T, r *rawConn) {
			c := (&deflater{}).compress(compressible(300, 1))
			r.sendTolerant(frame{rsv: rsv1, op: opText, payload: c[:10]}, frame{fin: true, rsv: rsv1, op: opCont, payload: c[10:]})
			r.failed(1002)
		}},
		{"RSV1 on a ping", func(t *testing.T, r *rawConn) {
			r.sendTolerant(frame{fin: true, rsv: rsv1, op: opPing, payload: []byte("x")})
			r.failed(1002)
		}},
		{"compressed data that does not inflate", func(t *testing.T, r *rawConn) {
			r.sendTolerant(frame{fin: true, rsv: rsv1, op: opBinary, payload: []byte{0xff, 0xff, 0xff, 0xff, 0x00}})
			r.failed(1002, 1007)
		}},
		{"compressed text that inflates to invalid UTF-8", func(t *testing.T, r *rawConn) {
			r.sendTolerant(frame{fin: true, rsv: rsv1, op: opText, payload: (&deflater{}).compress([]byte("abc\xed\xa0\x80def"))})
			r.failed(1007)
		}},
		{"decompression bomb: 1 MiB of zeros in about 1 KiB crosses the 64 KiB limit", func(t *testing.T, r *rawConn) {
			c := (&deflater{}).compress(zeros)
			if len(c) > 4096 {
				t.Fatalf("bomb is %d bytes", len(c))
			}
			r.sendTolerant(frame{fin: true, rsv: rsv1, op: opBinary, payload: c})
			r.failed(1009)
		}},
		{"compressed message exactly at the 64 KiB limit", func(t *testing.T, r *rawConn) {
			p := zeros[:64<<10]
			r.send(frame{fin: true, rsv: rsv1, op: opBinary, payload: (&deflater{}).compress(p)})
			e, err := r.next(true)
			if err != nil {
				t.Fatal(err)
			}
			got := e.payload
			if e.rsv1 {
				got, err = (&inflater{}).inflate(got)
				if err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(got, p) {
				t.Fatalf("echo of %d bytes differs", len(p))
			}
			r.closeNormally()
		}},
		{"empty compressed message", func(t *testing.T, r *rawConn) {
			r.send(frame{fin: true, rsv: rsv1, op: opText, payload: (&deflater{}).compress(nil)})
			e, err := r.next(true)
			if err != nil {
				t.Fatal(err)
			}
			got := e.payload
			if e.rsv1 {
				if got, err = (&inflater{}).inflate(got); err != nil {
					t.Fatal(err)
				}
			}
			if e.op != opText || len(got) != 0 {
				t.Fatalf("got %v, want an empty text", e)
			}
			r.closeNormally()
		}},
		{"compressed message in one-byte fragments with a ping inside", func(t *testing.T, r *rawConn) {
			p := compressible(2000, 9)
			fs := fragmentFrames(opText, (&deflater{}).compress(p), 1)
			fs[0].rsv = rsv1
			fs = append(fs[:3], append([]frame{ping("inside")}, fs[3:]...)...)
			r.send(fs...)
			r.expect(opPong, []byte("inside"))
			e, err := r.next(true)
			if err != nil {
				t.Fatal(err)
			}
			got := e.payload
			if e.rsv1 {
				if got, err = (&inflater{}).inflate(got); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(got, p) {
				t.Fatal("fragmented compressed echo differs")
			}
			r.closeNormally()
		}},
	}
	es := startEcho(t, &wire.AcceptOptions{ReadLimit: 64 << 10, Compression: &wire.CompressionOptions{}}, echoWhole)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, resp := dialRaw(t, es.Addr, "Sec-WebSocket-Extensions: permessage-deflate")
			if len(parseExtensions(resp.Header)) != 1 {
				t.Fatalf("permessage-deflate not negotiated: %v", resp.Header)
			}
			tc.run(t, r)
		})
	}
}

// checkWindow fails the test when a compressed message refers further back than the
// negotiated window of 2^bits bytes (RFC 7692 §7.1.2).
func checkWindow(t *testing.T, payload []byte, bits int, who string) {
	t.Helper()
	d, err := maxDistance(payload)
	if err != nil {
		t.Fatalf("%s's compressed message does not parse as DEFLATE: %v", who, err)
	}
	if d > 1<<bits {
		t.Fatalf("%s's compressed message refers %d bytes back; the negotiated window is %d (max_window_bits=%d)", who, d, 1<<bits, bits)
	}
}
