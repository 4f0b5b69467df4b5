package server

import "io/fs"

// Option adds an optional part to a daemon built by New.
type Option func(*options)

type options struct {
	web fs.FS
}

// WithWeb serves the browser app whose files are in fsys (index.html at its
// root; cmd/vcd passes the embedded web/ folder) at / for browsers, its
// deep links and /app/*. Without it, / answers browsers a landing page.
func WithWeb(fsys fs.FS) Option { return func(o *options) { o.web = fsys } }
