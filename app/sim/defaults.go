package sim

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"time"
)

// WithDefaults returns t with each of its time.Duration and int fields
// that is zero or negative set to that field of def: a stand-in's Timing
// with the gateway's values where none were given.
func WithDefaults[T any](t, def T) T {
	v, d := reflect.ValueOf(&t).Elem(), reflect.ValueOf(def)
	for i := range v.NumField() {
		f := v.Field(i)
		if f.Kind() == reflect.Int64 && f.Type() == reflect.TypeOf(time.Duration(0)) || f.Kind() == reflect.Int {
			if f.Int() <= 0 {
				f.SetInt(d.Field(i).Int())
			}
		}
	}
	return t
}

// Defaults returns log, or a logger that discards when it is nil, and
// client, or a client with the timeout when it is nil.
func Defaults(log *slog.Logger, client *http.Client, timeout time.Duration) (*slog.Logger, *http.Client) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if client == nil {
		client = &http.Client{Timeout: timeout}
	}
	return log, client
}

// PeekJSON decodes a request's JSON body (up to 1 MiB) into v and puts the
// body back for the handler, which reports bad bodies.
func PeekJSON(r *http.Request, v any) {
	if r.Body == nil {
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20+1))
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return
	}
	_ = json.Unmarshal(body, v) // the handler reports bad bodies
}
