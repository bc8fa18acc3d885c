// Package web holds the browser chat client that chatd serves at "/".
//
// The client is plain HTML, CSS and JavaScript modules with no build step and
// nothing loaded from elsewhere, so it runs under the server's
// Content-Security-Policy ("default-src 'self'") and needs nothing but the
// documented chat.v1 protocol: it connects to /ws on its own origin.
package web

import "embed"

// FS holds the client's files with index.html at its root, ready for
// http.FileServerFS. Test files beside them are not part of it.
//
//go:embed index.html style.css favicon.svg app.js protocol.js store.js typing.js ui.js
var FS embed.FS
