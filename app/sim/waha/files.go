package waha

import (
	"net"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"

	"github.com/myaibud/aibud/app/sim"
)

// baseURL is the stand-in's own address for media URLs: the configured
// one, else the Host of the latest authorized /api request (the app's
// view of the stand-in), else the listening address.
type baseURL struct {
	fixed string

	mu      sync.Mutex
	learned string
	listen  string
}

// learn remembers the address an /api request reached.
func (b *baseURL) learn(r *http.Request) {
	if b.fixed != "" || r.Host == "" {
		return
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.learned = scheme + "://" + r.Host
}

// listening remembers the listening address, with a loopback host for an
// unspecified one (":3000", "[::]:3000").
func (b *baseURL) listening(addr string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.listen = "http://" + net.JoinHostPort(host, port)
}

func (b *baseURL) String() string {
	if b.fixed != "" {
		return b.fixed
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.learned != "":
		return b.learned
	case b.listen != "":
		return b.listen
	}
	return "http://waha.invalid"
}

// fileExts are the file extensions WAHA gives media of a type.
var fileExts = map[string]string{
	"audio/ogg": "oga", "audio/mpeg": "mp3", "audio/mp4": "m4a",
	"image/jpeg": "jpeg", "image/png": "png", "image/webp": "webp",
	"video/mp4": "mp4", "application/pdf": "pdf",
}

// fileName is the name a media message's file has under /api/files/
// {session}/: the message key and an extension (the original file's, else
// the type's).
func fileName(key string, m *Media) string {
	ext := strings.TrimPrefix(path.Ext(m.Filename), ".")
	if ext == "" {
		mt, _, _ := strings.Cut(m.Mimetype, ";")
		ext = fileExts[strings.TrimSpace(mt)]
	}
	if ext == "" {
		ext = "bin"
	}
	return key + "." + ext
}

// fileURL is WAHA's media.url of a message of the session.
func (s *Server) fileURL(session, key string, m *Media) string {
	return s.base.String() + "/api/files/" + session + "/" + fileName(key, m)
}

// showFile is GET /api/files/{session}/{file}: the bytes of a media
// message, as WAHA serves the files it downloaded.
func (s *Server) showFile(w http.ResponseWriter, r *http.Request, p sim.Params) {
	key, _, _ := strings.Cut(p["file"], ".")
	s.mu.Lock()
	var data []byte
	var mime string
	if ss, ok := s.sessions[p["session"]]; ok {
		if m := ss.byKey[key]; m != nil && m.media != nil && len(m.file) > 0 && fileName(key, m.media) == p["file"] {
			data, mime = m.file, m.media.Mimetype
		}
	}
	s.mu.Unlock()
	if data == nil {
		notFound(w, r)
		return
	}
	w.Header().Set("Content-Type", mime)
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data) // nothing to do when the caller is gone
}
