package web

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"tenantry/internal/auth"
	"tenantry/internal/store"
	"tenantry/internal/tenancy"
	viewauth "tenantry/views/auth"
	"tenantry/views/layout"
)

const sessionCookie = "tenantry_session"

// loadSession resolves the session cookie into the request context, if there is a valid one.
func (s *Server) loadSession(r *http.Request) (*http.Request, error) {
	cs, err := s.cookies.Get(r, sessionCookie)
	if err != nil {
		return r, nil // a cookie signed with an old key or tampered with: treat as signed out
	}
	token, _ := cs.Values["t"].(string)
	if token == "" {
		return r, nil
	}
	sess, err := s.db.LookupSession(r.Context(), store.HashSessionToken(token))
	if errors.Is(err, tenancy.ErrNotFound) {
		return r, nil
	}
	if err != nil {
		return r, fmt.Errorf("session: %w", err)
	}
	return r.WithContext(withSession(r.Context(), sess)), nil
}

// safeNext keeps redirects after sign-in on this site.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || strings.ContainsAny(next, "\t\r\n") {
		return "/"
	}
	return next
}

func (s *Server) signInPage(w http.ResponseWriter, r *http.Request) error {
	if sessionFrom(r.Context()) != nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return nil
	}
	return s.renderSignIn(w, r, http.StatusOK, viewauth.SignInForm{Next: safeNext(r.URL.Query().Get("next"))})
}

func (s *Server) renderSignIn(w http.ResponseWriter, r *http.Request, status int, f viewauth.SignInForm) error {
	return s.write(w, r, status, layout.Bare(layout.Page{Title: "Sign in", Assets: s.layoutAssets()}, viewauth.SignIn(f)))
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (s *Server) signIn(w http.ResponseWriter, r *http.Request) error {
	email := strings.ToLower(strings.TrimSpace(r.PostFormValue("email")))
	password := r.PostFormValue("password")
	form := viewauth.SignInForm{Email: email, Next: safeNext(r.PostFormValue("next"))}
	addr := clientAddr(r)
	ok, wait, err := s.throttle.Allowed(r.Context(), email, addr)
	if err != nil {
		return err
	}
	if !ok {
		form.Error = fmt.Sprintf("Too many failed sign-ins. Try again in %d minutes.", int(wait.Minutes())+1)
		return s.renderSignIn(w, r, http.StatusTooManyRequests, form)
	}
	m, memberships, err := s.db.LookupManagerByEmail(r.Context(), email)
	hash := ""
	if err == nil {
		hash = m.PasswordHash
	} else if !errors.Is(err, tenancy.ErrNotFound) {
		return err
	}
	if !auth.CheckPassword(hash, password) || len(memberships) == 0 {
		if err := s.throttle.Fail(r.Context(), email, addr); err != nil {
			return err
		}
		form.Error = "That email and password do not match an account."
		return s.renderSignIn(w, r, http.StatusUnauthorized, form)
	}
	if err := s.throttle.Succeed(r.Context(), email); err != nil {
		return err
	}
	// Signing in again ends the session the browser had, so no older cookie outlives this one.
	if old := sessionFrom(r.Context()); old != nil {
		if err := s.db.DeleteSession(r.Context(), old); err != nil {
			return err
		}
	}
	// A manager in several workspaces starts in the first; a switcher can come with more areas.
	ws := memberships[0]
	token := randomToken()
	if err := s.db.CreateSession(r.Context(), m.ID, ws.WorkspaceID, token); err != nil {
		return err
	}
	// A fresh cookie every sign-in: whatever session value the browser had before is replaced.
	cs, _ := s.cookies.New(r, sessionCookie)
	cs.Values["t"] = token
	if err := cs.Save(r, w); err != nil {
		return err
	}
	http.Redirect(w, r, form.Next, http.StatusSeeOther)
	return nil
}

func (s *Server) signOut(w http.ResponseWriter, r *http.Request) error {
	if sess := sessionFrom(r.Context()); sess != nil {
		if err := s.db.DeleteSession(r.Context(), sess); err != nil {
			return err
		}
	}
	cs, _ := s.cookies.New(r, sessionCookie)
	cs.Options.MaxAge = -1
	if err := cs.Save(r, w); err != nil {
		return err
	}
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
	return nil
}

// requireSignIn sends visitors without a session to the sign-in page, back here afterwards.
func requireSignIn(w http.ResponseWriter, r *http.Request) {
	// After signing in, come back here; a form post cannot be replayed, so its page is "/".
	next := "/"
	if r.Method == http.MethodGet {
		next = r.URL.RequestURI()
	}
	target := "/signin?next=" + url.QueryEscape(next)
	if r.Header.Get("HX-Request") == "true" {
		w.Header().Set("HX-Redirect", target)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
