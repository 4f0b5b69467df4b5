// Package web is the browser app of Virtual Company: plain ES modules, HTML
// and CSS in this folder, written here, with no build step. cmd/vcd hands
// FS to the daemon (server.WithWeb), which serves it at / and /app/.
package web

import (
	"embed"
	"io/fs"
)

//go:embed app
var files embed.FS

// FS returns the app's files; index.html is at its root.
func FS() fs.FS {
	sub, err := fs.Sub(files, "app")
	if err != nil {
		panic(err) // "app" is embedded above; this cannot fail
	}
	return sub
}
