package web

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"tenantry/internal/metrics"
	"tenantry/internal/tenancy"
)

// statusWriter remembers the status for the access log and the metrics, and the route pattern a
// route table tagged (metrics.Tag).
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
	route  string
	// stream is set when the handler flushes a text/event-stream response: a live stream, counted
	// as open in the metrics until the handler returns.
	stream  bool
	metrics *metrics.Metrics
}

// TagRoute records the route pattern serving the request (metrics.Tag).
func (w *statusWriter) TagRoute(pattern string) { w.route = pattern }

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

// Flush lets streaming responses (server-sent events, exports) through the wrapper.
func (w *statusWriter) Flush() {
	if !w.stream && strings.HasPrefix(w.Header().Get("Content-Type"), "text/event-stream") {
		w.stream = true
		w.metrics.StreamOpened()
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the real writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func newRequestID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// observe gives every request an id, recovers panics into a 500, writes one access-log line
// (never the query string: the tenant portal accepts a token there) and counts the request in m
// (nil: no metrics) under the route pattern that served it: the one a route table tagged, else
// the one the innermost ServeMux set on the request, else "unmatched".
func observe(log *slog.Logger, m *metrics.Metrics, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := newRequestID()
		w.Header().Set("X-Request-Id", id)
		r = r.WithContext(tenancy.WithRequestID(r.Context(), id))
		sw := &statusWriter{ResponseWriter: w, metrics: m}
		defer func() {
			status := sw.status
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					if status == 0 {
						status = 499 // the response was abandoned: the client got nothing
					}
					sw.done(r, start, status)
					panic(p)
				}
				log.Error("panic", "request_id", id, "panic", p, "stack", string(debug.Stack()))
				if sw.status == 0 {
					http.Error(sw, "internal error", http.StatusInternalServerError)
				}
				status = http.StatusInternalServerError
			}
			sw.done(r, start, status)
			level := slog.LevelInfo
			if sw.status >= 500 {
				level = slog.LevelError
			}
			log.Log(r.Context(), level, "request", "request_id", id, "method", r.Method, "path", r.URL.Path,
				"status", sw.status, "bytes", sw.bytes, "duration_ms", float64(time.Since(start).Microseconds())/1000)
		}()
		next.ServeHTTP(sw, r)
	})
}

// done counts the finished request in the metrics and closes its stream gauge.
func (w *statusWriter) done(r *http.Request, start time.Time, status int) {
	if w.metrics == nil {
		return
	}
	pattern := w.route
	if pattern == "" {
		pattern = r.Pattern
	}
	w.metrics.Request(pattern, r.Method, r.URL.Path, status, time.Since(start), w.stream)
	if w.stream {
		w.metrics.StreamClosed()
	}
}

// ContentSecurityPolicy allows no inline script or style and no framing; the tenant portal sets
// its own frame-ancestors.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// securityHeaders sets the headers every response carries.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}
