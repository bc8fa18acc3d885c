package wire

import "encoding/binary"

// opcode is the 4-bit frame type of RFC 6455 §5.2.
type opcode byte

const (
	opContinuation opcode = 0x0
	opText         opcode = 0x1
	opBinary       opcode = 0x2
	opClose        opcode = 0x8
	opPing         opcode = 0x9
	opPong         opcode = 0xA
)

// isControl reports whether op is a control opcode (the high bit set,
// RFC 6455 §5.5).
func (op opcode) isControl() bool { return op&0x8 != 0 }

const (
	// maxHeaderLen is the largest frame header: 2 bytes, an 8-byte
	// length and a 4-byte masking key.
	maxHeaderLen = 14
	// maxControlPayload is the control frame payload limit (§5.5).
	maxControlPayload = 125
)

// header is the frame header of RFC 6455 §5.2:
//
//	 0                   1                   2                   3
//	+-+-+-+-+-------+-+-------------+-------------------------------+
//	|F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//	|I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//	|N|V|V|V|       |S|             |   (if payload len==126/127)   |
//	| |1|2|3|       |K|             |                               |
//	+-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//	|     Extended payload length continued, if payload len == 127  |
//	+ - - - - - - - - - - - - - - - +-------------------------------+
//	|                               |Masking-key, if MASK set to 1  |
//	+-------------------------------+-------------------------------+
type header struct {
	fin    bool
	rsv    byte // the three RSV bits as in the first byte (0x40, 0x20, 0x10)
	op     opcode
	masked bool
	length int64
	key    [4]byte
}

const (
	rsv1 = 0x40
	rsv2 = 0x20
	rsv3 = 0x10
)

// headerLen returns the total header length announced by the first two
// header bytes.
func headerLen(b0, b1 byte) int {
	n := 2
	switch b1 & 0x7F {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b1&0x80 != 0 {
		n += 4
	}
	return n
}

// lengthProblem describes why a header's length field is invalid, or is ""
// when it is fine.
type lengthProblem string

// parseHeader decodes a complete header from b (len(b) == headerLen(b[0],
// b[1])). It checks only what the bytes themselves can break: the 64-bit
// length's high bit and the minimal length encoding RFC 6455 §5.2 requires.
func parseHeader(b []byte) (h header, problem lengthProblem) {
	h.fin = b[0]&0x80 != 0
	h.rsv = b[0] & 0x70
	h.op = opcode(b[0] & 0x0F)
	h.masked = b[1]&0x80 != 0
	n := 2
	switch l := b[1] & 0x7F; l {
	case 126:
		h.length = int64(binary.BigEndian.Uint16(b[2:4]))
		n = 4
		if h.length < 126 {
			problem = "length not minimally encoded"
		}
	case 127:
		u := binary.BigEndian.Uint64(b[2:10])
		n = 10
		if u>>63 != 0 {
			problem = "64-bit length with the most significant bit set"
		} else if u <= 0xFFFF {
			problem = "length not minimally encoded"
		}
		h.length = int64(u & (1<<63 - 1))
	default:
		h.length = int64(l)
	}
	if h.masked {
		copy(h.key[:], b[n:n+4])
	}
	return h, problem
}

// putHeader encodes h into b (at least maxHeaderLen bytes) and returns the
// number of bytes written.
func putHeader(b []byte, h header) int {
	b0 := byte(h.op) | h.rsv
	if h.fin {
		b0 |= 0x80
	}
	b[0] = b0
	var b1 byte
	if h.masked {
		b1 = 0x80
	}
	n := 2
	switch {
	case h.length <= 125:
		b[1] = b1 | byte(h.length)
	case h.length <= 0xFFFF:
		b[1] = b1 | 126
		binary.BigEndian.PutUint16(b[2:4], uint16(h.length))
		n = 4
	default:
		b[1] = b1 | 127
		binary.BigEndian.PutUint64(b[2:10], uint64(h.length))
		n = 10
	}
	if h.masked {
		copy(b[n:n+4], h.key[:])
		n += 4
	}
	return n
}
