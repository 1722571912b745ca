package app

import (
	"bytes"
	"net/http"
	"net/http/httptest"
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

// queuesConsole serves asynqmon under /admin/queues, its pages carrying a
// link back to the app.
func queuesConsole(opt asynq.RedisConnOpt) http.Handler {
	mon := asynqmon.New(asynqmon.Options{RootPath: views.PathAdminQueues, RedisConnOpt: opt})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
