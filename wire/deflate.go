package wire

// permessage-deflate (RFC 7692).
//
// The DEFLATE implementation is github.com/klauspost/compress/flate rather
// than the standard library's compress/flate: it is a drop-in with the same
// stream format, measurably faster on both compression and inflation, and
// offers StatelessDeflate, which compresses one message with no state kept
// between calls. That is exactly what no-context-takeover needs: a server
// that answers server_no_context_takeover compresses each message
// independently, so it keeps no compressor per connection (an idle
// connection holds none) and one compressed frame can be shared by every
// recipient of a broadcast (PreparedMessage).

import (
	"bufio"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/klauspost/compress/flate"
)

const (
	extPMD = "permessage-deflate"
	// maxWindow is the LZ77 window of RFC 1951 (window bits 15). Inflating
	// with it handles any window the peer negotiated.
	maxWindow = 1 << 15
	// defaultThreshold: messages shorter than this are sent uncompressed;
	// DEFLATE's block overhead makes smaller ones grow, not shrink.
	defaultThreshold = 128
)

// CompressionOptions configures permessage-deflate for Accept and Dial.
type CompressionOptions struct {
	// Level is the flate level (1–9, or -2 for Huffman only); 0 means a
	// sensible default (klauspost's stateless fast compressor when no
	// context is kept).
	Level int
	// Threshold: messages shorter than this many bytes are sent
	// uncompressed (default 128).
	Threshold int
	// ContextTakeover keeps compression context between messages when the
	// peer allows it. It compresses chat-like traffic better but costs a
	// compressor (and a 32 KiB dictionary for the peer's context) per
	// connection, held while idle. Off by default: the server answers
	// server_no_context_takeover and client_no_context_takeover, so prepared
	// frames are shareable and an idle connection holds no compressor.
	ContextTakeover bool
}

// pmdState is what a connection negotiated.
type pmdState struct {
	enabled       bool
	level         int
	threshold     int
	writeTakeover bool // our compressor keeps its context between messages
	readTakeover  bool // the peer's does: keep the last 32 KiB as a dictionary
	writeBits     int  // our compressor's window bits (8–15)

	fw    *flate.Writer // per-connection compressor (takeover or small window)
	rdict []byte        // inflation dictionary when readTakeover
	cw    appender      // compressed output of the message being written
}

// appender is an io.Writer that appends to a slice.
type appender struct{ b []byte }

func (a *appender) Write(p []byte) (int, error) {
	a.b = append(a.b, p...)
	return len(p), nil
}

// extension is one element of a Sec-WebSocket-Extensions list.
type extension struct {
	name   string
	params []extParam
}

type extParam struct {
	name, value string
	hasValue    bool
}

// parseExtensions parses Sec-WebSocket-Extensions header values (RFC 6455
// §9.1): a comma list of token *( ";" token [ "=" (token / quoted-string) ] ).
func parseExtensions(values []string) ([]extension, error) {
	var out []extension
	for _, v := range values {
		for _, item := range splitOutsideQuotes(v, ',') {
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			parts := splitOutsideQuotes(item, ';')
			e := extension{name: strings.TrimSpace(parts[0])}
			if !isToken(e.name) {
				return nil, errors.New("invalid extension name")
			}
			for _, p := range parts[1:] {
				p = strings.TrimSpace(p)
				var ep extParam
				name, value, has := strings.Cut(p, "=")
				ep.name = strings.TrimSpace(name)
				if !isToken(ep.name) {
					return nil, errors.New("invalid extension parameter")
				}
				if has {
					value = strings.TrimSpace(value)
					if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
						uq, err := strconv.Unquote(value)
						if err != nil {
							return nil, errors.New("invalid quoted extension parameter")
						}
						value = uq
					}
					if !isToken(value) {
						return nil, errors.New("invalid extension parameter value")
					}
					ep.value, ep.hasValue = value, true
				}
				e.params = append(e.params, ep)
			}
			out = append(out, e)
		}
	}
	return out, nil
}

func splitOutsideQuotes(s string, sep byte) []string {
	var out []string
	inQuote, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			inQuote = !inQuote
		case '\\':
			if inQuote {
				i++
			}
		case sep:
			if !inQuote {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// isToken reports whether s is an RFC 7230 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7F || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return true
}

// parseWindowBits parses a max_window_bits value: a decimal 8–15 without
// leading zeros (RFC 7692 §7.1.2).
func parseWindowBits(v string) (int, bool) {
	if len(v) == 0 || len(v) > 2 || v[0] == '0' {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 8 || n > 15 {
		return 0, false
	}
	return n, true
}

// negotiateServer picks the first permessage-deflate offer the server can
// honour (RFC 7692 §5, §7.1) and returns the response element and the
// resulting state. Offers with unknown or duplicated parameters, or invalid
// values, are declined and the next one is tried.
func (o *CompressionOptions) negotiateServer(offers []extension) (string, pmdState, bool) {
	for _, off := range offers {
		if off.name != extPMD {
			continue
		}
		var seen [4]bool
		var serverNoCtx, clientNoCtx, ok = false, false, true
		serverBits := 0
		for _, p := range off.params {
			idx := -1
			switch p.name {
			case "server_no_context_takeover":
				idx = 0
				serverNoCtx = true
				ok = ok && !p.hasValue
			case "client_no_context_takeover":
				idx = 1
				clientNoCtx = true
				ok = ok && !p.hasValue
			case "server_max_window_bits":
				idx = 2
				n, valid := parseWindowBits(p.value)
				ok = ok && p.hasValue && valid
				serverBits = n
			case "client_max_window_bits":
				// The client can limit its window: we need not, our
				// inflater handles any window.
				idx = 3
				if p.hasValue {
					_, valid := parseWindowBits(p.value)
					ok = ok && valid
				}
			}
			if idx < 0 || seen[idx] {
				ok = false
				break
			}
			seen[idx] = true
		}
		if !ok {
			continue
		}
		st := o.state()
		st.writeTakeover = o.ContextTakeover && !serverNoCtx
		st.readTakeover = o.ContextTakeover && !clientNoCtx
		resp := extPMD
		if !st.writeTakeover {
			resp += "; server_no_context_takeover"
		}
		if !st.readTakeover {
			// RFC 7692 §7.1.1.2 lets the server ask this even when the
			// client did not offer it; it spares us a dictionary.
			resp += "; client_no_context_takeover"
		}
		if serverBits != 0 {
			st.writeBits = serverBits
			resp += "; server_max_window_bits=" + strconv.Itoa(serverBits)
		}
		return resp, st, true
	}
	return "", pmdState{}, false
}

func (o *CompressionOptions) state() pmdState {
	st := pmdState{enabled: true, level: o.Level, threshold: o.Threshold, writeBits: 15}
	if st.threshold <= 0 {
		st.threshold = defaultThreshold
	}
	return st
}

// clientOffer is the Sec-WebSocket-Extensions value a client sends.
func (o *CompressionOptions) clientOffer() string {
	if o.ContextTakeover {
		return extPMD + "; client_max_window_bits"
	}
	// We reset our own compressor per message anyway; saying so lets the
	// server drop its dictionary for us. Whether the server keeps its
	// context is its choice: we keep a dictionary only if it does.
	return extPMD + "; client_no_context_takeover; client_max_window_bits"
}

// negotiateClient checks the server's answer against our offer and returns
// the resulting state. An answer we did not offer or cannot honour fails
// the handshake (RFC 7692 §5).
func (o *CompressionOptions) negotiateClient(resp []extension) (pmdState, error) {
	if len(resp) == 0 {
		return pmdState{}, nil
	}
	if o == nil {
		return pmdState{}, errors.New("server selected an extension that was not offered")
	}
	if len(resp) > 1 || resp[0].name != extPMD {
		return pmdState{}, errors.New("server selected an extension that was not offered")
	}
	st := o.state()
	var seen [4]bool
	serverNoCtx, clientNoCtx := false, false
	for _, p := range resp[0].params {
		idx := -1
		bad := false
		switch p.name {
		case "server_no_context_takeover":
			idx, serverNoCtx, bad = 0, true, p.hasValue
		case "client_no_context_takeover":
			idx, clientNoCtx, bad = 1, true, p.hasValue
		case "server_max_window_bits":
			idx = 2
			_, valid := parseWindowBits(p.value)
			bad = !p.hasValue || !valid
		case "client_max_window_bits":
			idx = 3
			n, valid := parseWindowBits(p.value)
			bad = !p.hasValue || !valid
			st.writeBits = n
		}
		if idx < 0 {
			return pmdState{}, errors.New("server answered permessage-deflate with unknown parameter " + p.name)
		}
		if bad || seen[idx] {
			return pmdState{}, errors.New("server answered permessage-deflate with an invalid " + p.name)
		}
		seen[idx] = true
	}
	st.readTakeover = !serverNoCtx
	st.writeTakeover = o.ContextTakeover && !clientNoCtx
	return st, nil
}

// deflateTail is appended to a compressed message before inflating: the
// 0x00 0x00 0xff 0xff the sender removed (RFC 7692 §7.2.2), then an empty
// final stored block so the inflater ends with io.EOF instead of waiting
// for more input.
var deflateTail = [...]byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// inflater is a pooled decompressor with the buffered reader klauspost's
// flate takes its fast path on.
type inflater struct {
	fr  io.ReadCloser // implements flate.Resetter
	br  *bufio.Reader
	src frameSource
}

var inflaterPool = sync.Pool{New: func() any {
	f := &inflater{br: bufio.NewReaderSize(nil, 4096)}
	f.fr = flate.NewReader(f.br)
	return f
}}

// frameSource feeds the raw frames of a compressed message, then the tail.
type frameSource struct {
	c          *Conn
	framesDone bool
	tail       int
}

func (s *frameSource) Read(p []byte) (int, error) {
	if !s.framesDone {
		n, err := s.c.readRaw(p)
		if err != io.EOF {
			return n, err
		}
		s.framesDone = true
		if n > 0 {
			return n, nil
		}
	}
	if s.tail == len(deflateTail) {
		return 0, io.EOF
	}
	n := copy(p, deflateTail[s.tail:])
	s.tail += n
	return n, nil
}

func (c *Conn) startInflate() {
	f := inflaterPool.Get().(*inflater)
	f.src = frameSource{c: c}
	f.br.Reset(&f.src)
	f.fr.(flate.Resetter).Reset(f.br, c.pmd.rdict)
	c.infl = f
}

// inflate reads inflated bytes of the current message. It returns io.EOF
// once the message's data and tail are consumed.
func (c *Conn) inflate(p []byte) (int, error) {
	f := c.infl
	n, err := f.fr.Read(p)
	if c.pmd.readTakeover && n > 0 {
		c.pmd.rdict = appendWindow(c.pmd.rdict, p[:n])
	}
	if err == io.EOF && !f.src.framesDone {
		// The sender ended the DEFLATE stream with a final block
		// before the end of the message (RFC 7692 §7.2.3.5 allows a
		// BFINAL block); anything after it but our tail is garbage.
		if c.readErr != nil {
			return n, c.readErr
		}
		var rest [64]byte
		for {
			m, rerr := f.src.Read(rest[:])
			if m > 0 && !f.src.framesDone {
				return n, errors.New("data after the final deflate block")
			}
			if rerr == io.EOF {
				break
			}
			if rerr != nil {
				return n, rerr
			}
		}
	}
	return n, err
}

// appendWindow appends p to the dictionary, keeping its last 32 KiB.
func appendWindow(dict, p []byte) []byte {
	if len(p) >= maxWindow {
		if cap(dict) < maxWindow {
			dict = make([]byte, 0, maxWindow)
		}
		return append(dict[:0], p[len(p)-maxWindow:]...)
	}
	if len(dict)+len(p) > maxWindow {
		drop := len(dict) + len(p) - maxWindow
		dict = dict[:copy(dict, dict[drop:])]
	}
	if cap(dict) < maxWindow {
		nd := make([]byte, len(dict), maxWindow)
		copy(nd, dict)
		dict = nd
	}
	return append(dict, p...)
}

func (c *Conn) endInflate() {
	f := c.infl
	c.infl = nil
	f.src = frameSource{}
	f.br.Reset(nil)
	inflaterPool.Put(f)
}

// writerPools hold flate.Writers per level (-2 … 9) for connections that
// compress each message on its own at a chosen level.
var writerPools [12]sync.Pool

// compress appends the compressed form of p (without the final
// 0x00 0x00 0xff 0xff) to dst.
func (c *Conn) compress(dst, p []byte) ([]byte, error) {
	st := &c.pmd
	st.cw.b = dst
	var err error
	switch {
	case st.writeTakeover || st.writeBits < 15:
		if st.fw == nil {
			if st.writeBits < 15 {
				st.fw, err = flate.NewWriterWindow(&st.cw, 1<<st.writeBits)
			} else {
				st.fw, err = flate.NewWriter(&st.cw, flateLevel(st.level))
			}
			if err != nil {
				return dst, err
			}
		} else if !st.writeTakeover {
			st.fw.Reset(&st.cw)
		}
		if _, err = st.fw.Write(p); err == nil {
			err = st.fw.Flush()
		}
	case st.level == 0:
		err = flate.StatelessDeflate(&st.cw, p, false, nil)
	default:
		lvl := flateLevel(st.level)
		pool := &writerPools[lvl+2]
		fw, _ := pool.Get().(*flate.Writer)
		if fw == nil {
			if fw, err = flate.NewWriter(&st.cw, lvl); err != nil {
				return dst, err
			}
		} else {
			fw.Reset(&st.cw)
		}
		if _, err = fw.Write(p); err == nil {
			err = fw.Flush()
		}
		fw.Reset(nil)
		pool.Put(fw)
	}
	out := st.cw.b
	st.cw.b = nil
	if err != nil {
		return dst, err
	}
	return trimTail(out), nil
}

// trimTail removes the 0x00 0x00 0xff 0xff a sync flush ends with
// (RFC 7692 §7.2.1).
func trimTail(b []byte) []byte {
	if n := len(b); n >= 4 && b[n-4] == 0 && b[n-3] == 0 && b[n-2] == 0xff && b[n-1] == 0xff {
		return b[:n-4]
	}
	return b
}

func flateLevel(l int) int {
	switch {
	case l == 0:
		return flate.BestSpeed
	case l < flate.HuffmanOnly:
		return flate.HuffmanOnly
	case l > flate.BestCompression:
		return flate.BestCompression
	}
	return l
}

// statelessCompress compresses p on its own into a, ending with a sync
// flush.
func statelessCompress(a *appender, p []byte) error {
	return flate.StatelessDeflate(a, p, false, nil)
}
