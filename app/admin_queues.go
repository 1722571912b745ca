package app

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"

	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"

	"github.com/myaibud/aibud/views"
)

// backBar is put at the top of the queues console (asynqmon's own app),
// which has no way back to ours.
var backBar = []byte(`<a href="` + views.PathAdmin + `" data-testid="back-to-app" style="position:fixed;z-index:99999;` +
	`right:12px;bottom:12px;padding:8px 14px;border-radius:20px;background:#00785a;color:#fff;font:600 14px sans-serif;` +
	`text-decoration:none;box-shadow:0 2px 8px rgba(0,0,0,.3)">← Back to the console</a>`)

// hashedAsset matches asynqmon's built files whose names carry a hash of
// their content (static/js/main.5adda2da.chunk.js): a new build has new
// names, so a browser may keep them for good.
var hashedAsset = regexp.MustCompile(`^` + regexp.QuoteMeta(views.PathAdminQueues) + `/static/(js|css|media)/[^/]+\.[0-9a-f]{8}\.`)

// immutable sets a year-long, private (owners only) cache lifetime on a
// hashed asset as it is written, unless the file was missing and asynqmon
// answers with its index page instead.
type immutable struct {
	http.ResponseWriter
	wrote bool
}

func (w *immutable) WriteHeader(code int) {
	if w.wrote {
		return
	}
	w.wrote = true
	if code == http.StatusOK && !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
		w.Header().Set("Cache-Control", "private, max-age=31536000, immutable")
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *immutable) Write(b []byte) (int, error) {
	if !w.wrote {
		if w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", http.DetectContentType(b))
		}
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// queuesConsole serves asynqmon under /admin/queues, its pages carrying a
// link back to the app. Its 1.3 MB of JavaScript, hashed by name, is kept
// by the browser instead of downloaded on every visit.
func queuesConsole(opt asynq.RedisConnOpt) http.Handler {
	mon := asynqmon.New(asynqmon.Options{RootPath: views.PathAdminQueues, RedisConnOpt: opt})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && hashedAsset.MatchString(r.URL.Path) {
			mon.ServeHTTP(&immutable{ResponseWriter: w}, r)
			return
		}
		if r.Method != http.MethodGet || strings.HasPrefix(r.URL.Path, views.PathAdminQueues+"/api/") {
			mon.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		mon.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
			if i := bytes.LastIndex(body, []byte("</body>")); i >= 0 {
				body = append(body[:i:i], append(backBar, body[i:]...)...)
			}
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length") // the body grew
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
	})
}
