// Package schema holds the published contract of chat.v1: client.json and
// server.json (JSON Schema 2020-12) and asyncapi.yaml (AsyncAPI 3.0), embedded
// so that the server can serve them at /schema/ and the tests of package api
// can check the Go decoder against them.
package schema

import (
	"embed"
	"io/fs"
)

//go:embed client.json server.json asyncapi.yaml
var files embed.FS

// FS holds client.json, server.json and asyncapi.yaml at its root, as served
// under /schema/ (their $id values are /schema/client.json and
// /schema/server.json, so relative references between them resolve there).
var FS fs.FS = files
