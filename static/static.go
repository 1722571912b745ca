// Package static embeds the CSS, JavaScript and images of aibud and serves
// them with cache-busting: Path adds a hash of the file's content to its URL,
// so responses can be cached for a year and a new build is fetched at once.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"strings"
	"sync"
)

//go:embed css js img
var files embed.FS

// Prefix is the URL path the files are served under.
const Prefix = "/static/"

// hashes maps each file to the first 12 hex digits of its SHA-256. The files
// are compiled in, so this is computed once and never changes.
var hashes = sync.OnceValue(func() map[string]string {
	out := make(map[string]string)
	_ = fs.WalkDir(files, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(path)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		out[path] = hex.EncodeToString(sum[:])[:12]
		return nil
	})
	return out
})

// Path returns the cache-busting URL of an embedded file, e.g.
// Path("js/app.js") = "/static/js/app.js?v=3f2a…". It panics on a name that
// is not embedded, which the view tests catch.
func Path(name string) string {
	h, ok := hashes()[name]
	if !ok {
		panic("static: no embedded file " + name)
	}
	return Prefix + name + "?v=" + h
}

// Handler serves the embedded files under Prefix. A request carrying the
// current hash is cached for a year as immutable; others for five minutes.
func Handler() http.Handler {
	fileServer := http.StripPrefix(Prefix, http.FileServerFS(files))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, Prefix)
		h, ok := hashes()[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if r.URL.Query().Get("v") == h {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "public, max-age=300")
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		fileServer.ServeHTTP(w, r)
	})
}
