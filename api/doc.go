// Package api is chat.v1 in Go: the envelope types a client sends and the
// server sends, DecodeClient with field-level errors, append-style encoders for
// the server's envelopes, ULID ids, timestamps and name keys.
//
// The wire contract is docs/PROTOCOL.md; the JSON Schemas in package schema
// describe the same envelopes, and the tests in this package prove that the
// schemas and DecodeClient give the same verdict on every corpus entry.
//
// The package holds no sockets and starts no goroutines.
package api
