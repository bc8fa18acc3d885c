// Package wire implements the WebSocket protocol (RFC 6455) and its
// permessage-deflate extension (RFC 7692) for both the server and the client
// side, written from the RFCs with three goals: strictness (every frame rule
// fails the connection with the close code the RFC names), no allocations on
// the steady-state read and write paths, and a small idle footprint (an idle
// connection holds no read buffer, no write buffer and, by default, no
// compressor or decompressor).
//
// # Opening a connection
//
// A server calls [Accept] from an http.Handler; a client calls [Dial]. Both
// return a [*Conn].
//
// # Concurrency
//
// A Conn supports one reader and one writer at the same time:
//
//   - Reading ([Conn.NextReader], [Conn.ReadMessage], [Conn.ReadMessageInto]
//     and reads from the io.Reader NextReader returns) must happen from one
//     goroutine at a time. Control frames (ping, pong, close) are handled
//     inside those calls, so a connection that expects pings or a close must
//     keep a reader running — or, for a reader driven by socket readiness
//     (an epoll loop watching [Conn.NetConn]), call [Conn.NextReaderReady]
//     each time the socket becomes readable: it handles what arrived and
//     returns [ErrNotReady] instead of waiting when no data message has
//     begun, so the connection needs no goroutine while it is idle.
//   - Data writes ([Conn.NextWriter], [Conn.WriteMessage]) must happen from
//     one goroutine at a time.
//   - [Conn.Close], [Conn.CloseNow], [Conn.Ping], [Conn.WritePrepared],
//     [Conn.WriteBatch] and the deadline and option setters are safe from
//     any goroutine: frames are serialized inside, and a message started with
//     NextWriter is never interleaved with another data frame.
//
// # Errors
//
// Once the connection is closed, reads return a [*CloseError] carrying the
// status code that was sent or received (1002 protocol error, 1007 invalid
// UTF-8, 1009 message too big, the peer's own code, or 1006 when the TCP
// connection ended without a close frame). Deadline errors wrap
// os.ErrDeadlineExceeded. A failed read leaves the connection unusable for
// further reads.
package wire
