package web

// Settings > General (name, key, secret, tenant field schema, limits, allowed origins) and
// Settings > Members. Every form works three ways: htmx swaps its section (problems come back
// with status 200, because htmx swaps no 4xx, plus an error toast); a boosted or plain POST
// redirects back on success and re-renders the whole page with the problems (422) otherwise.
// Responses that reveal a secret or a password render at once, never behind a redirect, and are
// the only time it is shown.

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/google/uuid"

	"tenantry/internal/auth"
	"tenantry/internal/store"
	"tenantry/internal/tenancy"
	"tenantry/views/settings"
)

const generalPath = "/settings/general"

// generalView reads the workspace into Settings > General's view model.
func (s *Server) generalView(r *http.Request) (*settings.General, error) {
	sess := sessionFrom(r.Context())
	var ws *tenancy.Workspace
	err := s.db.InScope(r.Context(), sess.Scope(), func(tx *store.Tx) error {
		var err error
		ws, err = tx.Workspace(r.Context())
		return err
	})
	if err != nil {
		return nil, err
	}
	return &settings.General{
		Admin:               sess.Role == tenancy.RoleAdmin,
		Now:                 time.Now(),
		Name:                ws.Name,
		Key:                 ws.Key,
		SecretRotatedAt:     ws.SecretRotatedAt,
		PrevSecretExpiresAt: ws.PrevSecretExpiresAt,
		Overlap:             s.cfg.SecretRotationOverlap,
		Schema:              settings.Schema{Fields: tenancy.DraftsOf(ws.TenantFieldSchema)},
		Limits:              limitsView(ws.Settings),
		Origins:             settings.Origins{List: ws.Settings.AllowedOrigins, Text: strings.Join(ws.Settings.AllowedOrigins, "\n")},
	}, nil
}

func (s *Server) renderGeneral(w http.ResponseWriter, r *http.Request, status int, g *settings.General) error {
	return s.render(w, r, status, s.page(r, "Settings", generalPath), settings.GeneralPage(*g))
}

func (s *Server) settingsGeneral(w http.ResponseWriter, r *http.Request) error {
	g, err := s.generalView(r)
	if err != nil {
		return err
	}
	return s.renderGeneral(w, r, http.StatusOK, g)
}

// problemStatus is the status of a response that shows problems with what was typed: htmx
// (boosted too) swaps only 2xx responses, so it gets 200; a browser without JavaScript 422.
func problemStatus(r *http.Request, status int) int {
	if r.Header.Get("HX-Request") == "true" {
		return http.StatusOK
	}
	return status
}

// answer finishes a settings form. An htmx request gets section (the fragment its form
// targets) and a toast; otherwise success redirects to back (303) and a failure re-renders the
// whole page with status, problems inline.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, ok bool, message string, section templ.Component, back string, status int, page templ.Component, title, active string) error {
	level := "success"
	if !ok {
		level = "error"
	}
	if isFragmentRequest(r) {
		toast(w, level, message)
		return s.write(w, r, http.StatusOK, section)
	}
	if ok {
		http.Redirect(w, r, back, http.StatusSeeOther)
		return nil
	}
	toast(w, level, message) // a boosted request shows it
	return s.render(w, r, problemStatus(r, status), s.page(r, title, active), page)
}

func (s *Server) answerGeneral(w http.ResponseWriter, r *http.Request, ok bool, message string, section templ.Component, anchor string, g *settings.General) error {
	return s.answer(w, r, ok, message, section, generalPath+"#"+anchor, http.StatusUnprocessableEntity,
		settings.GeneralPage(*g), "Settings", generalPath)
}

// problemMessage is the toast for a refused form: the first problem, said plainly.
func problemMessage(prefix string, v *tenancy.ValidationError) string {
	if v == nil || len(v.Fields) == 0 {
		return prefix + "."
	}
	if len(v.Fields) > 1 {
		return fmt.Sprintf("%s: %d problems, marked on the page.", prefix, len(v.Fields))
	}
	f := v.Fields[0]
	return prefix + ": " + strings.TrimSpace(inputLabel(f.Path)+" "+f.Message) + "."
}

// inputLabels name the settings inputs for people, in toasts.
var inputLabels = map[string]string{
	"name": "Name", "email": "Email", "role": "Role", settings.InputOrigins: "Origin",
	settings.InputAICredits: "Workspace AI credits", settings.InputDefaultTenantCredits: "Default tenant AI credits",
	settings.InputPerTenantRPM: "Requests per minute per tenant", settings.InputPerWorkspaceRPM: "Requests per minute per workspace",
}

// inputLabel names an input for people: "fields[2].key" is "Field 3 key".
func inputLabel(path string) string {
	if m := fieldInputRE.FindStringSubmatch(path); m != nil {
		i, _ := strconv.Atoi(m[1])
		return fmt.Sprintf("Field %d %s", i+1, m[2])
	}
	if l, ok := inputLabels[path]; ok {
		return l
	}
	return path
}

func (s *Server) inScope(r *http.Request, fn func(tx *store.Tx) error) error {
	return s.db.InScope(r.Context(), sessionFrom(r.Context()).Scope(), fn)
}

// --- Name and secret ---------------------------------------------------------------------------

func (s *Server) settingsSaveGeneral(w http.ResponseWriter, r *http.Request) error {
	name := r.PostFormValue("name")
	err := s.inScope(r, func(tx *store.Tx) error { return tx.RenameWorkspace(r.Context(), name) })
	v, invalid := tenancy.AsValidation(err)
	if err != nil && !invalid {
		return err
	}
	g, gerr := s.generalView(r)
	if gerr != nil {
		return gerr
	}
	if invalid {
		g.Name = name
		g.NameErrors = settings.ErrorsOf(v, func(p string) bool { return p == "name" }, "name")
		return s.answerGeneral(w, r, false, problemMessage("The name was not saved", v), settings.WorkspaceSection(*g, false), "workspace", g)
	}
	g.Focus = settings.FocusSaveName
	return s.answerGeneral(w, r, true, "Workspace name saved.", settings.WorkspaceSection(*g, true), "workspace", g)
}

func (s *Server) settingsRotateSecret(w http.ResponseWriter, r *http.Request) error {
	var rot *store.SecretRotation
	err := s.inScope(r, func(tx *store.Tx) error {
		var err error
		rot, err = tx.RotateSecret(r.Context(), s.cfg.SecretRotationOverlap)
		return err
	})
	if err != nil {
		return err
	}
	// This process's token verifier caches secrets: make it read the new ones now.
	s.api.Verifier().Forget(sessionFrom(r.Context()).WorkspaceKey)
	g, err := s.generalView(r)
	if err != nil {
		return err
	}
	g.NewSecret, g.Focus = rot.Secret, settings.FocusSecretCopy
	w.Header().Set("Cache-Control", "no-store")
	if isFragmentRequest(r) {
		toast(w, "success", "Secret rotated. Copy the new secret now: it is shown only once.")
		return s.write(w, r, http.StatusOK, settings.SecretSection(*g))
	}
	// No redirect: the new secret exists in clear only in this response.
	return s.renderGeneral(w, r, http.StatusOK, g)
}

// --- Tenant field schema -----------------------------------------------------------------------

var fieldInputRE = regexp.MustCompile(`^fields\[(\d{1,4})\]\.([a-zA-Z]+)$`)

// editorRow is one row of the posted schema editor.
type editorRow struct {
	posted int // its index in the form
	order  int // its "order" input
	draft  tenancy.FieldDraft
}

// schemaRows reads the editor's indexed inputs (fields[0].key, …) and puts the rows in the
// order their "order" inputs ask for. A row given a new position comes before (moved up) or
// after (moved down) the row that held it.
func schemaRows(form url.Values) []editorRow {
	byIndex := map[int]*editorRow{}
	for name, vals := range form {
		m := fieldInputRE.FindStringSubmatch(name)
		if m == nil || len(vals) == 0 {
			continue
		}
		i, _ := strconv.Atoi(m[1])
		row := byIndex[i]
		if row == nil {
			row = &editorRow{posted: i, order: i + 1}
			byIndex[i] = row
		}
		v := vals[0]
		d := &row.draft
		switch m[2] {
		case "key":
			d.Key = v
		case "title":
			d.Title = v
		case "type":
			d.Type = v
		case "format":
			d.Format = v
		case "description":
			d.Description = v
		case "default":
			d.Default = v
		case "enum":
			d.Options = v
		case "minimum":
			d.Minimum = v
		case "maximum":
			d.Maximum = v
		case "minLength":
			d.MinLength = v
		case "maxLength":
			d.MaxLength = v
		case "required":
			d.Required = v != ""
		case "sensitive":
			d.Sensitive = v != ""
		case "choices":
			d.Choices = v != ""
		case "order":
			if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
				row.order = n
			}
		}
	}
	rows := make([]editorRow, 0, len(byIndex))
	for _, row := range byIndex {
		rows = append(rows, *row)
	}
	tie := func(r editorRow) int {
		switch {
		case r.order < r.posted+1:
			return 0
		case r.order > r.posted+1:
			return 2
		}
		return 1
	}
	slices.SortFunc(rows, func(a, b editorRow) int {
		if a.order != b.order {
			return a.order - b.order
		}
		if tie(a) != tie(b) {
			return tie(a) - tie(b)
		}
		return a.posted - b.posted
	})
	return rows
}

func drafts(rows []editorRow) []tenancy.FieldDraft {
	out := make([]tenancy.FieldDraft, len(rows))
	for i, r := range rows {
		out[i] = r.draft
	}
	return out
}

// applySchemaOp applies an editor button (add, up:i, down:i, remove:i, where i is the row's
// index in the form) and returns the rows and the input to focus afterwards.
func applySchemaOp(rows []editorRow, op string) ([]editorRow, string) {
	if op == "add" {
		rows = append(rows, editorRow{posted: -1, draft: tenancy.FieldDraft{Type: "string"}})
		return rows, settings.FieldInput(len(rows)-1, "key")
	}
	verb, arg, _ := strings.Cut(op, ":")
	posted, err := strconv.Atoi(arg)
	if err != nil {
		return rows, ""
	}
	at := slices.IndexFunc(rows, func(r editorRow) bool { return r.posted == posted })
	if at < 0 {
		return rows, ""
	}
	n := len(rows)
	switch verb {
	case "up":
		if at > 0 {
			rows[at-1], rows[at] = rows[at], rows[at-1]
			at--
		}
		if at == 0 {
			return rows, fmt.Sprintf("down:%d", at)
		}
		return rows, fmt.Sprintf("up:%d", at)
	case "down":
		if at < n-1 {
			rows[at+1], rows[at] = rows[at], rows[at+1]
			at++
		}
		if at == n-1 {
			return rows, fmt.Sprintf("up:%d", at)
		}
		return rows, fmt.Sprintf("down:%d", at)
	case "remove":
		rows = slices.Delete(rows, at, at+1)
		if at < len(rows) {
			return rows, settings.FieldInput(at, "key")
		}
		return rows, "add"
	}
	return rows, ""
}

func (s *Server) settingsPreviewSchema(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return errStatus(http.StatusBadRequest, "The form could not be read.")
	}
	op := r.PostForm.Get("op")
	rows, focus := applySchemaOp(schemaRows(r.PostForm), op)
	editor := settings.Schema{Fields: drafts(rows), Focus: focus}
	if isFragmentRequest(r) {
		if op == "" {
			return s.write(w, r, http.StatusOK, settings.SchemaPreview(settings.PreviewFields(editor.Fields), false))
		}
		return s.write(w, r, http.StatusOK, settings.SchemaEditor(editor))
	}
	// Without JavaScript the editor's buttons post here: the page comes back with the draft.
	g, err := s.generalView(r)
	if err != nil {
		return err
	}
	g.Schema = editor
	return s.renderGeneral(w, r, http.StatusOK, g)
}

func (s *Server) settingsSaveSchema(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return errStatus(http.StatusBadRequest, "The form could not be read.")
	}
	fields := drafts(schemaRows(r.PostForm))
	schema, err := tenancy.BuildFieldSchema(fields)
	if err == nil {
		err = s.inScope(r, func(tx *store.Tx) error { return tx.SaveTenantFieldSchema(r.Context(), schema) })
	}
	v, invalid := tenancy.AsValidation(err)
	if err != nil && !invalid {
		return err
	}
	g, gerr := s.generalView(r)
	if gerr != nil {
		return gerr
	}
	if invalid {
		g.Schema = settings.Schema{Fields: fields, Errors: settings.ErrorsOf(v, settings.IsSchemaInput(len(fields)), "")}
		return s.answerGeneral(w, r, false, problemMessage("The schema was not saved", v), settings.SchemaEditor(g.Schema), "schema", g)
	}
	g.Schema.Focus = settings.FocusSaveSchema
	return s.answerGeneral(w, r, true, "Tenant field schema saved.", settings.SchemaEditor(g.Schema), "schema", g)
}

// --- Limits and origins ------------------------------------------------------------------------

func limitsView(st tenancy.Settings) settings.Limits {
	f := func(v *float64) string {
		if v == nil {
			return ""
		}
		return tenancy.FormatFieldValue(*v)
	}
	i := func(v *int) string {
		if v == nil {
			return ""
		}
		return strconv.Itoa(*v)
	}
	return settings.Limits{AICredits: f(st.AICreditsRolling30DayLimit), DefaultTenantCredits: f(st.DefaultTenantAICreditsLimit),
		PerTenantRPM: i(st.APIRequestsPerMinutePerTenant), PerWorkspaceRPM: i(st.APIRequestsPerMinutePerWorkspace)}
}

// parseNumber reads a limit: blank is no limit (nil).
func parseNumber(text, input string, verr *tenancy.ValidationError) *float64 {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		verr.Add(input, "must be a number (leave it blank for no limit)")
		return nil
	}
	return &f
}

// parseWhole reads a whole-number limit: blank is no limit (nil).
func parseWhole(text, input string, verr *tenancy.ValidationError) *int {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil
	}
	n, err := strconv.Atoi(text)
	if err != nil {
		verr.Add(input, "must be a whole number (leave it blank for no limit)")
		return nil
	}
	return &n
}

func (s *Server) settingsSaveLimits(w http.ResponseWriter, r *http.Request) error {
	typed := settings.Limits{
		AICredits:            r.PostFormValue(settings.InputAICredits),
		DefaultTenantCredits: r.PostFormValue(settings.InputDefaultTenantCredits),
		PerTenantRPM:         r.PostFormValue(settings.InputPerTenantRPM),
		PerWorkspaceRPM:      r.PostFormValue(settings.InputPerWorkspaceRPM),
	}
	verr := &tenancy.ValidationError{}
	credits := parseNumber(typed.AICredits, settings.InputAICredits, verr)
	tenantCredits := parseNumber(typed.DefaultTenantCredits, settings.InputDefaultTenantCredits, verr)
	perTenant := parseWhole(typed.PerTenantRPM, settings.InputPerTenantRPM, verr)
	perWorkspace := parseWhole(typed.PerWorkspaceRPM, settings.InputPerWorkspaceRPM, verr)
	err := verr.Err()
	if err == nil {
		err = s.inScope(r, func(tx *store.Tx) error {
			return tx.UpdateWorkspaceSettings(r.Context(), func(st *tenancy.Settings) error {
				st.AICreditsRolling30DayLimit, st.DefaultTenantAICreditsLimit = credits, tenantCredits
				st.APIRequestsPerMinutePerTenant, st.APIRequestsPerMinutePerWorkspace = perTenant, perWorkspace
				return nil
			})
		})
	}
	v, invalid := tenancy.AsValidation(err)
	if err != nil && !invalid {
		return err
	}
	g, gerr := s.generalView(r)
	if gerr != nil {
		return gerr
	}
	if invalid {
		typed.Errors = settings.ErrorsOf(v, func(p string) bool { return slices.Contains(settings.LimitInputs, p) }, settings.InputAICredits)
		g.Limits = typed
		return s.answerGeneral(w, r, false, problemMessage("The limits were not saved", v), settings.LimitsSection(*g), "limits", g)
	}
	g.Focus = settings.FocusSaveLimits
	return s.answerGeneral(w, r, true, "Limits saved.", settings.LimitsSection(*g), "limits", g)
}

// parseOrigins reads the origins text: one per line (commas and spaces separate too, since an
// origin has neither), normalised and without repeats.
func parseOrigins(text string) ([]string, error) {
	entries := strings.FieldsFunc(text, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
	var out, problems []string
	for _, e := range entries {
		o, err := tenancy.NormalizeOrigin(e)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%q %s", e, err.Error()))
			continue
		}
		if !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	if len(problems) > 0 {
		return nil, tenancy.Invalid(settings.InputOrigins, "%s", strings.Join(problems, "; "))
	}
	return out, nil
}

func (s *Server) settingsSaveOrigins(w http.ResponseWriter, r *http.Request) error {
	text := r.PostFormValue(settings.InputOrigins)
	origins, err := parseOrigins(text)
	if err == nil {
		err = s.inScope(r, func(tx *store.Tx) error {
			return tx.UpdateWorkspaceSettings(r.Context(), func(st *tenancy.Settings) error {
				st.AllowedOrigins = origins
				return nil
			})
		})
	}
	v, invalid := tenancy.AsValidation(err)
	if err != nil && !invalid {
		return err
	}
	g, gerr := s.generalView(r)
	if gerr != nil {
		return gerr
	}
	if invalid {
		g.Origins.Text = text
		g.Origins.Errors = settings.ErrorsOf(v, func(string) bool { return false }, settings.InputOrigins)
		return s.answerGeneral(w, r, false, problemMessage("The origins were not saved", v), settings.OriginsSection(*g), "origins", g)
	}
	g.Focus = settings.FocusSaveOrigins
	return s.answerGeneral(w, r, true, "Allowed origins saved.", settings.OriginsSection(*g), "origins", g)
}

// --- Members -----------------------------------------------------------------------------------

const membersPath = "/settings/members"

func (s *Server) membersView(r *http.Request) (*settings.Members, error) {
	sess := sessionFrom(r.Context())
	var list []store.Member
	err := s.inScope(r, func(tx *store.Tx) error {
		var err error
		list, err = tx.ListMembers(r.Context())
		return err
	})
	if err != nil {
		return nil, err
	}
	m := &settings.Members{AddRole: string(tenancy.RoleSupport)}
	for _, x := range list {
		m.Rows = append(m.Rows, settings.Member{ID: x.ManagerID.String(), Email: x.Email, Name: x.Name, Role: string(x.Role),
			Since: x.Since, Self: x.ManagerID == sess.ManagerID})
	}
	return m, nil
}

func (s *Server) answerMembers(w http.ResponseWriter, r *http.Request, ok bool, message string, m *settings.Members, status int) error {
	return s.answer(w, r, ok, message, settings.MembersSection(*m), membersPath, status, settings.MembersPage(*m), "Members", membersPath)
}

func (s *Server) membersList(w http.ResponseWriter, r *http.Request) error {
	m, err := s.membersView(r)
	if err != nil {
		return err
	}
	return s.render(w, r, http.StatusOK, s.page(r, "Members", membersPath), settings.MembersPage(*m))
}

// newPassword makes a password for a manager an admin adds, as `tenantry manager add` does.
func newPassword() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *Server) memberAdd(w http.ResponseWriter, r *http.Request) error {
	in := store.NewMember{Email: r.PostFormValue("email"), Name: r.PostFormValue("name"), Role: tenancy.Role(r.PostFormValue("role"))}
	password := ""
	email, err := store.NormalizeEmail(in.Email)
	if err == nil && !in.Role.Valid() {
		err = tenancy.Invalid("role", "must be admin or support")
	}
	if err == nil {
		// Hash (slow, on purpose) only for an email nobody has, and outside the transaction.
		_, _, lerr := s.db.LookupManagerByEmail(r.Context(), email)
		switch {
		case errors.Is(lerr, tenancy.ErrNotFound):
			password = newPassword()
			if in.PasswordHash, err = auth.HashPassword(password); err != nil {
				return err
			}
		case lerr != nil:
			return lerr
		}
		var created bool
		err = s.inScope(r, func(tx *store.Tx) error {
			var err error
			_, created, err = tx.AddMember(r.Context(), in)
			return err
		})
		if errors.Is(err, tenancy.ErrConflict) { // created by someone else at this very moment
			err = tenancy.Invalid("email", "was just taken by another request: try again")
		}
		if !created {
			password = ""
		}
	}
	v, invalid := tenancy.AsValidation(err)
	if err != nil && !invalid {
		return err
	}
	m, merr := s.membersView(r)
	if merr != nil {
		return merr
	}
	if invalid {
		m.AddEmail, m.AddName, m.AddRole = in.Email, in.Name, string(in.Role)
		m.AddErrors = settings.ErrorsOf(v, func(p string) bool { return slices.Contains(settings.AddInputs, p) }, "email")
		return s.answerMembers(w, r, false, problemMessage("The member was not added", v), m, StatusOf(err))
	}
	message := fmt.Sprintf("%s added as %s.", email, in.Role)
	m.Focus = settings.FocusAddEmail // ready to add the next
	if password == "" {
		return s.answerMembers(w, r, true, message, m, http.StatusOK)
	}
	// The password exists in clear only in this response: render it, never redirect.
	m.NewManager, m.NewPassword, m.Focus = email, password, settings.FocusPasswordCopy
	w.Header().Set("Cache-Control", "no-store")
	if isFragmentRequest(r) {
		toast(w, "success", message+" Copy the password now: it is shown only once.")
		return s.write(w, r, http.StatusOK, settings.MembersSection(*m))
	}
	return s.render(w, r, http.StatusOK, s.page(r, "Members", membersPath), settings.MembersPage(*m))
}

// memberID reads the {id} of a members URL; a malformed id is a page that does not exist.
func memberID(r *http.Request) (uuid.UUID, error) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return uuid.Nil, tenancy.ErrNotFound
	}
	return id, nil
}

// answerMemberProblem re-renders the members list with the refusal on the member's row.
func (s *Server) answerMemberProblem(w http.ResponseWriter, r *http.Request, id uuid.UUID, err error) error {
	msg := ""
	switch v, invalid := tenancy.AsValidation(err); {
	case errors.Is(err, tenancy.ErrLastAdmin):
		msg = "This is the workspace's last admin: make another member an admin first."
	case invalid:
		msg = problemMessage("Not changed", v)
	default:
		return err
	}
	m, merr := s.membersView(r)
	if merr != nil {
		return merr
	}
	for i := range m.Rows {
		if m.Rows[i].ID == id.String() {
			m.Rows[i].Error = msg
		}
	}
	return s.answerMembers(w, r, false, msg, m, StatusOf(err))
}

// leaveAfterSelfChange sends a manager who just took away their own admin role (or
// membership) somewhere they may still go: the members page is no longer theirs.
func leaveAfterSelfChange(w http.ResponseWriter, r *http.Request, to string) {
	if r.Header.Get("HX-Request") == "true" {
		w.Header().Set("HX-Redirect", to)
		w.WriteHeader(http.StatusOK)
		return
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func (s *Server) memberSetRole(w http.ResponseWriter, r *http.Request) error {
	id, err := memberID(r)
	if err != nil {
		return err
	}
	role := tenancy.Role(r.PostFormValue("role"))
	var member *store.Member
	err = s.inScope(r, func(tx *store.Tx) error {
		var err error
		member, err = tx.ChangeMemberRole(r.Context(), id, role)
		return err
	})
	if err != nil {
		return s.answerMemberProblem(w, r, id, err)
	}
	if id == sessionFrom(r.Context()).ManagerID && role != tenancy.RoleAdmin {
		leaveAfterSelfChange(w, r, generalPath)
		return nil
	}
	m, err := s.membersView(r)
	if err != nil {
		return err
	}
	m.Focus = settings.RoleInput(id.String())
	return s.answerMembers(w, r, true, fmt.Sprintf("%s is now %s.", member.Email, member.Role), m, http.StatusOK)
}

func (s *Server) memberRemove(w http.ResponseWriter, r *http.Request) error {
	id, err := memberID(r)
	if err != nil {
		return err
	}
	var member *store.Member
	err = s.inScope(r, func(tx *store.Tx) error {
		var err error
		member, err = tx.RemoveMember(r.Context(), id)
		return err
	})
	if err != nil {
		return s.answerMemberProblem(w, r, id, err)
	}
	if id == sessionFrom(r.Context()).ManagerID {
		leaveAfterSelfChange(w, r, "/signin") // removing yourself ends your session
		return nil
	}
	m, err := s.membersView(r)
	if err != nil {
		return err
	}
	return s.answerMembers(w, r, true, fmt.Sprintf("%s removed. Their sessions have ended.", member.Email), m, http.StatusOK)
}
