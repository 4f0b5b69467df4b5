// Package webui serves the browser app (the files of the top-level web/
// folder, handed in as an fs.FS by cmd/vcd) with the headers a public web
// app needs: every asset is compressed once at start (brotli and gzip),
// served under a content-hashed prefix with Cache-Control: immutable, and
// every page carries a strict Content-Security-Policy.
//
// The daemon never imports web/: it only knows this package and an fs.FS.
package webui

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"path"
	"sort"
	"strings"

	"github.com/andybalholm/brotli"
	"github.com/gofiber/fiber/v2"
)

// IndexFile is the page served for / and for deep links.
const IndexFile = "index.html"

// Prefix is the URL prefix of the assets.
const Prefix = "/app/"

// CSP is the Content-Security-Policy of the app: only this origin, no
// inline script or style, no eval, never framed. connect-src 'self'
// also allows ws:// and wss:// to the same origin (CSP Level 3).
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; " +
	"form-action 'self'; frame-ancestors 'none'"

// asset is one file prepared for serving.
type asset struct {
	ctype    string
	etag     string
	identity []byte
	gzip     []byte // nil when it would not be smaller
	brotli   []byte // nil when it would not be smaller
}

// Handler serves the app. It is immutable after New and safe for
// concurrent use.
type Handler struct {
	version string            // content hash of all assets
	assets  map[string]*asset // by path relative to the fs root
	index   *asset
}

// New reads every file of fsys, compresses it and rewrites the index page
// to reference the assets under /app/<version>/. fsys must hold index.html.
func New(fsys fs.FS) (*Handler, error) {
	if fsys == nil {
		return nil, errors.New("webui: no files")
	}
	files := map[string][]byte{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
		files[p] = b
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("webui: %w", err)
	}
	page, ok := files[IndexFile]
	if !ok {
		return nil, fmt.Errorf("webui: no %s", IndexFile)
	}
	names := make([]string, 0, len(files))
	for p := range files {
		names = append(names, p)
	}
	sort.Strings(names)
	sum := sha256.New()
	for _, p := range names {
		fmt.Fprintf(sum, "%s\x00%d\x00", p, len(files[p]))
		sum.Write(files[p])
	}
	h := &Handler{version: hex.EncodeToString(sum.Sum(nil))[:12], assets: map[string]*asset{}}
	var preload strings.Builder
	for _, p := range names {
		if p == IndexFile {
			continue
		}
		a, err := prepare(p, files[p])
		if err != nil {
			return nil, err
		}
		h.assets[p] = a
		if strings.HasSuffix(p, ".js") && !strings.HasSuffix(p, "_test.js") && !strings.HasPrefix(path.Base(p), "test") {
			// Preloading every module turns the import waterfall into one
			// round of parallel requests.
			fmt.Fprintf(&preload, "<link rel=\"modulepreload\" href=\"%s\">\n", h.AssetPath(p))
		}
	}
	page = bytes.ReplaceAll(page, []byte(`"`+Prefix), []byte(`"`+Prefix+h.version+"/"))
	page = bytes.Replace(page, []byte("<!--preload-->"), []byte(preload.String()), 1)
	h.index, err = prepare(IndexFile, page)
	if err != nil {
		return nil, err
	}
	return h, nil
}

// Version is the content hash the asset URLs carry.
func (h *Handler) Version() string { return h.version }

// AssetPath is the immutable URL of the file p (relative to the fs root).
func (h *Handler) AssetPath(p string) string { return Prefix + h.version + "/" + p }

func prepare(p string, b []byte) (*asset, error) {
	ctype := mime.TypeByExtension(path.Ext(p))
	switch path.Ext(p) {
	case ".js", ".mjs":
		ctype = "text/javascript; charset=utf-8"
	case ".css":
		ctype = "text/css; charset=utf-8"
	case ".html":
		ctype = "text/html; charset=utf-8"
	case ".svg":
		ctype = "image/svg+xml"
	case ".webmanifest":
		ctype = "application/manifest+json"
	}
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	sum := sha256.Sum256(b)
	a := &asset{ctype: ctype, etag: `"` + hex.EncodeToString(sum[:8]) + `"`, identity: b}
	if compressible(ctype) {
		var gz bytes.Buffer
		zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		if err != nil {
			return nil, err
		}
		if _, err := zw.Write(b); err != nil {
			return nil, fmt.Errorf("gzip %s: %w", p, err)
		}
		if err := zw.Close(); err != nil {
			return nil, fmt.Errorf("gzip %s: %w", p, err)
		}
		if gz.Len() < len(b) {
			a.gzip = gz.Bytes()
		}
		var br bytes.Buffer
		bw := brotli.NewWriterLevel(&br, brotli.BestCompression)
		if _, err := bw.Write(b); err != nil {
			return nil, fmt.Errorf("brotli %s: %w", p, err)
		}
		if err := bw.Close(); err != nil {
			return nil, fmt.Errorf("brotli %s: %w", p, err)
		}
		if br.Len() < len(b) {
			a.brotli = br.Bytes()
		}
	}
	return a, nil
}

func compressible(ctype string) bool {
	return strings.HasPrefix(ctype, "text/") || strings.Contains(ctype, "json") ||
		strings.Contains(ctype, "javascript") || strings.HasPrefix(ctype, "image/svg")
}

// setPageHeaders sets the security headers of everything the app serves.
func setPageHeaders(c *fiber.Ctx) {
	c.Set(fiber.HeaderContentSecurityPolicy, CSP)
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderReferrerPolicy, "no-referrer")
	c.Set(fiber.HeaderXFrameOptions, "DENY")
}

// Page serves the app's page (for /, /rooms/ID and the app's other deep
// links). It is revalidated on every load (ETag), so a new daemon version
// is picked up at once while a warm reload costs one 304.
func (h *Handler) Page(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-cache")
	return h.send(c, h.index)
}

// Asset serves GET /app/*: /app/<version>/<path> is immutable; /app/<path>
// (no version, or an old one) is served with its ETag and revalidated.
func (h *Handler) Asset(c *fiber.Ctx) error {
	p := strings.TrimPrefix(c.Params("*"), "/")
	immutable := false
	if v, rest, ok := strings.Cut(p, "/"); ok && v == h.version {
		p, immutable = rest, true
	}
	a, ok := h.assets[p]
	if !ok {
		if v, rest, cut := strings.Cut(p, "/"); cut && len(v) == len(h.version) {
			// An asset of another version (a tab opened before a restart
			// with new files): serve today's file, revalidated.
			a, ok = h.assets[rest]
		}
		if !ok {
			setPageHeaders(c)
			return fiber.NewError(fiber.StatusNotFound, "no such file")
		}
	}
	if immutable {
		c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
	} else {
		c.Set(fiber.HeaderCacheControl, "no-cache")
	}
	return h.send(c, a)
}

func (h *Handler) send(c *fiber.Ctx, a *asset) error {
	setPageHeaders(c)
	c.Set(fiber.HeaderETag, a.etag)
	c.Set(fiber.HeaderVary, fiber.HeaderAcceptEncoding)
	if match := c.Get(fiber.HeaderIfNoneMatch); match != "" && etagMatch(match, a.etag) {
		return c.SendStatus(fiber.StatusNotModified)
	}
	c.Set(fiber.HeaderContentType, a.ctype)
	body := a.identity
	switch enc := c.Get(fiber.HeaderAcceptEncoding); {
	case a.brotli != nil && acceptsEncoding(enc, "br"):
		c.Set(fiber.HeaderContentEncoding, "br")
		body = a.brotli
	case a.gzip != nil && acceptsEncoding(enc, "gzip"):
		c.Set(fiber.HeaderContentEncoding, "gzip")
		body = a.gzip
	}
	if c.Method() == fiber.MethodHead {
		c.Response().Header.SetContentLength(len(body))
		return nil
	}
	return c.Send(body)
}

// etagMatch reports whether an If-None-Match header names etag (weak
// comparison, as RFC 9110 asks for If-None-Match).
func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

// acceptsEncoding reports whether an Accept-Encoding header allows enc
// (a q=0 refuses it).
func acceptsEncoding(header, enc string) bool {
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), enc) {
			continue
		}
		params = strings.ReplaceAll(params, " ", "")
		return !(strings.HasPrefix(params, "q=0") && strings.Trim(strings.TrimPrefix(params, "q="), "0.") == "")
	}
	return false
}
