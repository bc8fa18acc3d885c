package server

import (
	"embed"
	"io/fs"
)

//go:embed index
var indexFiles embed.FS

// webFS is the browser client served at /.
var webFS = mustSub(indexFiles, "index")

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return sub
}
