package runner

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Limits of one HTTP call to an external app.
const (
	DefaultTimeout   = 30 * time.Second
	MaxTimeout       = 60 * time.Second
	MaxResponseBytes = 30 << 20
	MaxRedirects     = 3
	errorBodyBytes   = 2 << 10
)

// Integration is what a run needs to know of the external app.
type Integration struct {
	Key          string
	BaseURL      string
	AuthType     string // none, api-key-header, bearer, basic
	APIKeyHeader string // for api-key-header; default X-API-Key
}

// Call is one http-request action to run.
type Call struct {
	Integration Integration
	Config      map[string]any // the action's effective config: method, path, query, headers, body, timeoutSeconds
	Data        Data           // what templates read: input, fields, credentials, connection, tenant, steps
	Credentials map[string]any // the connection's, decrypted, for authentication
}

// Result is a successful call.
type Result struct {
	Output   any    // the response body: decoded JSON, or text
	Status   int    // the external app's status
	Method   string // as sent
	URL      string // as sent, without credentials
	Duration time.Duration
}

// Error kinds a run reports, each with its own API status.
type (
	// ConfigError: the action's config or input cannot make a request (a 422 for the caller).
	ConfigError struct{ Message string }
	// RefusedError: the request would leave the integration's host (a 422).
	RefusedError struct{ Message string }
	// UpstreamError: the external app answered with an error status (a 502 carrying it).
	UpstreamError struct {
		Status int
		Body   string // trimmed
	}
	// UnreachableError: no answer, a timeout, or an answer too large (a 502/504).
	UnreachableError struct {
		Message string
		Timeout bool
	}
)

func (e *ConfigError) Error() string   { return e.Message }
func (e *RefusedError) Error() string  { return e.Message }
func (e *UpstreamError) Error() string { return fmt.Sprintf("the external app answered %d", e.Status) }
func (e *UnreachableError) Error() string {
	return e.Message
}

// Runner calls external apps.
type Runner struct {
	client *http.Client
}

// New returns a Runner with its own connection pool.
func New() *Runner {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 32
	tr.ResponseHeaderTimeout = MaxTimeout
	return &Runner{client: &http.Client{Transport: tr}}
}

// Do runs call: it builds the request from the config templates, authenticates, sends it to the
// integration's host only, and decodes the answer.
func (r *Runner) Do(ctx context.Context, call Call) (*Result, error) {
	req, timeout, err := build(call)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req = req.WithContext(ctx)
	base, _ := url.Parse(call.Integration.BaseURL)
	client := *r.client
	redirects := 0
	client.CheckRedirect = func(next *http.Request, via []*http.Request) error {
		redirects++
		if redirects > MaxRedirects {
			return &RefusedError{Message: fmt.Sprintf("more than %d redirects", MaxRedirects)}
		}
		if !sameHost(next.URL, base) {
			return &RefusedError{Message: "redirect to " + next.URL.Host + " refused: only " + base.Host + " is reachable"}
		}
		// Credentials were set for this host; keep them only on it (checked above).
		return nil
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		var re *RefusedError
		if errors.As(err, &re) {
			return nil, re
		}
		if ctx.Err() == context.DeadlineExceeded || isTimeout(err) {
			return nil, &UnreachableError{Message: fmt.Sprintf("no answer from %s within %s", base.Host, timeout), Timeout: true}
		}
		return nil, &UnreachableError{Message: "cannot reach " + base.Host + ": " + trimErr(err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded || isTimeout(err) {
			return nil, &UnreachableError{Message: fmt.Sprintf("the answer from %s did not finish within %s", base.Host, timeout), Timeout: true}
		}
		return nil, &UnreachableError{Message: "reading the answer from " + base.Host + ": " + trimErr(err)}
	}
	if len(body) > MaxResponseBytes {
		return nil, &UnreachableError{Message: fmt.Sprintf("the answer from %s is larger than %d MiB", base.Host, MaxResponseBytes>>20)}
	}
	if resp.StatusCode >= 400 {
		b := string(body)
		if len(b) > errorBodyBytes {
			b = b[:errorBodyBytes] + "…"
		}
		return nil, &UpstreamError{Status: resp.StatusCode, Body: b}
	}
	return &Result{Output: decode(resp.Header.Get("Content-Type"), body), Status: resp.StatusCode, Method: req.Method,
		URL: redactURL(req.URL), Duration: time.Since(start)}, nil
}

// build makes the request of call, and its timeout.
func build(call Call) (*http.Request, time.Duration, error) {
	cfg := call.Config
	base, err := url.Parse(call.Integration.BaseURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, 0, &ConfigError{Message: fmt.Sprintf("integration %s has no usable base URL (%q)", call.Integration.Key, call.Integration.BaseURL)}
	}
	method, _ := cfg["method"].(string)
	if method == "" {
		method = http.MethodGet
	}
	method = strings.ToUpper(method)
	rawPath, _ := cfg["path"].(string)
	// Values are escaped into the path as whole segments' text: '/', '?', '#' and also '.' (so a
	// value can never be a dot segment), percent-encoded. The template's own text is then made a
	// valid escaped path (a space, non-ASCII), keeping what it escaped itself, so the values'
	// escapes survive parsing.
	path, err := call.Data.RenderString(rawPath, escapePathValue)
	if err != nil {
		return nil, 0, &ConfigError{Message: "path: " + err.Error()}
	}
	if strings.Contains(path, "://") || strings.HasPrefix(path, "//") {
		return nil, 0, &RefusedError{Message: "the path may not name another host"}
	}
	path, _, _ = strings.Cut(escapePathText(path), "#")
	ref, err := url.Parse(strings.TrimSuffix(base.EscapedPath(), "/") + "/" + strings.TrimPrefix(path, "/"))
	if err != nil || ref.Scheme != "" || ref.Host != "" {
		return nil, 0, &RefusedError{Message: "the path is not a path on " + base.Host}
	}
	// Dot segments of the template's own text are resolved (and cannot climb above the host);
	// the host must stay the base's.
	resolved := base.ResolveReference(ref)
	if !sameHost(resolved, base) {
		return nil, 0, &RefusedError{Message: "the request would leave " + base.Host}
	}
	q := resolved.Query()
	if qm, ok := cfg["query"].(map[string]any); ok {
		for k, v := range qm {
			s, err := call.Data.Render(v, nil)
			if err != nil {
				return nil, 0, &ConfigError{Message: "query." + k + ": " + err.Error()}
			}
			if s == nil {
				continue
			}
			q.Set(k, text(s))
		}
	}
	resolved.RawQuery = q.Encode()
	var body io.Reader
	contentType := ""
	if b, ok := cfg["body"]; ok && b != nil && method != http.MethodGet && method != http.MethodHead {
		v, err := call.Data.Render(b, nil)
		if err != nil {
			return nil, 0, &ConfigError{Message: "body: " + err.Error()}
		}
		enc, err := json.Marshal(v)
		if err != nil {
			return nil, 0, &ConfigError{Message: "body: not representable as JSON"}
		}
		body, contentType = bytes.NewReader(enc), "application/json"
	}
	req, err := http.NewRequest(method, resolved.String(), body)
	if err != nil {
		return nil, 0, &ConfigError{Message: "cannot build the request: " + err.Error()}
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "Tenantry")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if hm, ok := cfg["headers"].(map[string]any); ok {
		for k, v := range hm {
			s, err := call.Data.Render(v, nil)
			if err != nil {
				return nil, 0, &ConfigError{Message: "headers." + k + ": " + err.Error()}
			}
			if strings.ContainsAny(text(s), "\r\n") {
				return nil, 0, &ConfigError{Message: "headers." + k + ": a header value may not contain a line break"}
			}
			req.Header.Set(k, text(s))
		}
	}
	if err := authenticate(req, call.Integration, call.Credentials); err != nil {
		return nil, 0, err
	}
	timeout := DefaultTimeout
	if t, ok := cfg["timeoutSeconds"].(float64); ok && t > 0 {
		timeout = time.Duration(min(t, MaxTimeout.Seconds()) * float64(time.Second)) // clamp first: a huge float overflows Duration
	}
	if timeout > MaxTimeout {
		timeout = MaxTimeout
	}
	return req, timeout, nil
}

// authenticate adds the integration's authentication from the connection's credentials.
func authenticate(req *http.Request, in Integration, creds map[string]any) error {
	str := func(keys ...string) string {
		for _, k := range keys {
			if s, ok := creds[k].(string); ok && s != "" {
				return s
			}
		}
		return ""
	}
	switch in.AuthType {
	case "", "none":
		return nil
	case "bearer":
		tok := str("accessToken", "access_token", "token", "apiKey")
		if tok == "" {
			return &ConfigError{Message: "the connection has no accessToken for bearer authentication"}
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	case "api-key-header":
		key := str("apiKey", "api_key", "key", "token")
		if key == "" {
			return &ConfigError{Message: "the connection has no apiKey"}
		}
		h := in.APIKeyHeader
		if h == "" {
			h = "X-API-Key"
		}
		req.Header.Set(h, key)
	case "basic":
		user, pass := str("username", "user"), str("password")
		if user == "" {
			return &ConfigError{Message: "the connection has no username for basic authentication"}
		}
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
	default:
		return &ConfigError{Message: "unknown auth type " + in.AuthType}
	}
	return nil
}

func sameHost(u, base *url.URL) bool {
	return strings.EqualFold(u.Scheme, base.Scheme) && strings.EqualFold(u.Host, base.Host)
}

func decode(contentType string, body []byte) any {
	mt, _, _ := mime.ParseMediaType(contentType)
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if mt == "application/json" || strings.HasSuffix(mt, "+json") || (mt == "" && json.Valid(body)) {
		var v any
		if err := json.Unmarshal(body, &v); err == nil {
			return v
		}
	}
	return string(body)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// trimErr drops the method and URL a url.Error repeats (the URL may carry secrets in its query).
func trimErr(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// redactURL drops userinfo and query values that look secret from a URL for the log.
func redactURL(u *url.URL) string {
	c := *u
	c.User = nil
	q := c.Query()
	for k := range q {
		lk := strings.ToLower(k)
		if strings.Contains(lk, "key") || strings.Contains(lk, "token") || strings.Contains(lk, "secret") || strings.Contains(lk, "password") {
			q.Set(k, "[redacted]")
		}
	}
	c.RawQuery = q.Encode()
	return c.String()
}

// escapePathValue escapes a value inserted into a path: everything url.PathEscape escapes, and
// '.', so that no value is a "." or ".." segment.
func escapePathValue(v string) string {
	return strings.ReplaceAll(url.PathEscape(v), ".", "%2E")
}

// escapePathText makes p a valid escaped path and query: bytes a URL may hold as they are stay,
// valid %XX escapes stay, everything else is percent-encoded.
func escapePathText(p string) string {
	const ok = "-._~!$&'()*+,;=:@/?#"
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.IndexByte(ok, c) >= 0:
			b.WriteByte(c)
		case c == '%' && i+2 < len(p) && isHex(p[i+1]) && isHex(p[i+2]):
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
