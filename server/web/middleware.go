package web

import (
	"fmt"
	"net/http"
	"runtime/debug"

	"github.com/gorilla/mux"
)

// Body limits: a form with a token is tiny; nothing the plugin accepts today
// comes close to the general limit.
const (
	MaxFormBytes = 16 << 10
	MaxBodyBytes = 1 << 20
)

// NewRouter is a router with the middleware every route runs under, and
// JSON answers for a path or a method it does not know.
func NewRouter(log Logger) *mux.Router {
	// Paths are taken as they come: an OCSP GET carries base64, which may
	// hold "//", and a cleaned path (with its redirect) would break it.
	r := mux.NewRouter().SkipClean(true)
	r.Use(Recovery(log), SecurityHeaders)
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		WriteJSONError(w, http.StatusNotFound, "not found")
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		WriteJSONError(w, http.StatusMethodNotAllowed, "method not allowed")
	})
	return r
}

// Recovery turns a panic into a 500 and a log line with the stack, so a
// bug in one request neither kills the plugin nor goes unseen.
func Recovery(log Logger) mux.MiddlewareFunc {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if rec := recover(); rec != nil {
					log.LogError("Recovered from a panic", "url", r.URL.Path, "error", fmt.Sprint(rec), "stack", string(debug.Stack()))
					WriteJSONError(w, http.StatusInternalServerError, "internal error")
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// SecurityHeaders applies to every response: nothing is sniffed, framed,
// cached, or leaks a link token through the Referer header.
func SecurityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}
