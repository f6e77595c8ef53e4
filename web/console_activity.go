package web

// The Console's Activity area (issue 6): the activity log filtered by tenant (type-ahead), types,
// statuses, integration, connection, element, actor, time range and text, newest first, paged by
// "Load more"; an entry's detail panel; live mode (server-sent events of new matching entries);
// exports of the filtered set as CSV or NDJSON, streamed however large. A tenant's Activity tab is
// the same view with the tenant fixed.
//
// Every filter lives in the URL. A value the log cannot be filtered by is shown as a problem at
// its control, never a 500. Reads run in the manager's scope (support managers read it all).

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"tenantry/internal/store"
	"tenantry/internal/tenancy"
	"tenantry/views/activity"
	"tenantry/views/elements"
	"tenantry/views/tenants"
)

// maxActivityText bounds the text filter (the store's limit, in bytes).
const maxActivityText = 200

func activityPath(id uuid.UUID) string { return "/activity/" + id.String() }

// --- the filters ---------------------------------------------------------------------------------

// listParam reads a multi-valued parameter: repeated (type=a&type=b) or comma-separated, trimmed,
// without blanks or repeats.
func listParam(vals url.Values, name string) []string {
	var out []string
	for _, v := range vals[name] {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" && !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}

// cutBytes shortens s to at most n bytes without splitting a character.
func cutBytes(s string, n int) string {
	for len(s) > n {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}

// parseActivityQuery reads the view's state from the URL, and the problems with it by parameter.
// What names something (tenant, integration, connection) is checked against the data later.
func parseActivityQuery(vals url.Values) (activity.Query, map[string]string) {
	errs := map[string]string{}
	clean := func(name string) string { return strings.TrimSpace(strings.ReplaceAll(vals.Get(name), "\x00", "")) }
	q := activity.Query{Base: "/activity", Tenant: clean("tenant"), TenantQ: searchText(vals.Get("tenantq")),
		Integration: clean("integration"), Connection: clean("connection"), Element: clean("element"),
		ActorID: cutBytes(clean("actorId"), 200), Q: cutBytes(clean("q"), maxActivityText), Cursor: vals.Get("cursor"),
		Live: vals.Get("live") == "1"}
	for _, t := range listParam(vals, "type") {
		for _, x := range activity.ExpandType(t) {
			if !slices.Contains(q.Types, x) {
				q.Types = append(q.Types, x)
			}
		}
	}
	q.Statuses = listParam(vals, "status")
	for _, s := range q.Statuses {
		if !slices.Contains(activity.Statuses, s) {
			errs["status"] = fmt.Sprintf("%q is not a status: choose success, warning or error.", s)
		}
	}
	q.Actors = listParam(vals, "actor")
	for _, a := range q.Actors {
		if !slices.ContainsFunc(activity.Actors, func(o elements.Option) bool { return o.Value == a }) {
			errs["actor"] = fmt.Sprintf("%q is not an actor: choose manager, workspace-token, tenant-token or system.", a)
		}
	}
	if q.Connection != "" {
		if _, err := uuid.Parse(q.Connection); err != nil {
			errs["connection"] = "Must be a connection's ID (a UUID)."
		}
	}
	if q.Element != "" {
		if _, err := uuid.Parse(q.Element); err != nil {
			errs["element"] = "Must be an element's ID (a UUID)."
		}
	}
	q.Range = clean("range")
	from, to := clean("from"), clean("to")
	if q.Range == "" && (from != "" || to != "") {
		q.Range = activity.RangeCustom
	}
	if !slices.ContainsFunc(activity.Ranges, func(o elements.Option) bool { return o.Value == q.Range }) {
		errs["range"] = fmt.Sprintf("%q is not a time range.", q.Range)
	}
	if q.Range == activity.RangeCustom {
		q.From, q.To = cutBytes(from, 40), cutBytes(to, 40)
		f, errF := parseLocal(from)
		t, errT := parseLocal(to)
		if from != "" && errF != nil {
			errs["from"] = "Must be a date and time, e.g. 2026-01-31T09:30."
		}
		if to != "" && errT != nil {
			errs["to"] = "Must be a date and time, e.g. 2026-01-31T17:00."
		}
		if from != "" && to != "" && errF == nil && errT == nil && !f.Before(t) {
			errs["to"] = "Must be after From."
		}
		// A valid value is shown as the control writes it.
		if from != "" && errF == nil {
			q.From = f.Format(dateTimeLocal)
		}
		if to != "" && errT == nil {
			q.To = t.Format(dateTimeLocal)
		}
	}
	return q, errs
}

// activityFilter resolves v.Query (against the data, in tx) into the store's filter, recording
// problems in v.Errors and the chosen tenant in v.Picker. With pickTyped, text typed into the
// tenant box without choosing from the matches picks the one tenant it matches.
func activityFilter(ctx context.Context, tx *store.Tx, v *activity.ListView, fixed *tenancy.Tenant, pickTyped bool,
	integs []*tenancy.Integration, now time.Time) (store.ActivityFilter, error) {
	q := &v.Query
	var f store.ActivityFilter
	v.Picker = activity.Picker{}
	switch {
	case fixed != nil:
		f.TenantID = fixed.ID
	case q.Tenant != "":
		t, err := tx.Tenant(ctx, q.Tenant)
		if errors.Is(err, tenancy.ErrNotFound) {
			v.Errors["tenant"] = "No tenant has this ID or internal ID: choose one from the matches."
			q.TenantQ = cutBytes(q.Tenant, 200)
			break
		} else if err != nil {
			return f, err
		}
		f.TenantID, q.Tenant, q.TenantQ = t.ID, t.ID.String(), ""
		v.Picker.Chosen = &activity.TenantChoice{ID: t.ID.String(), Name: tenantName(t), Href: tenantPath(t.ID)}
	case q.TenantQ != "" && pickTyped:
		page, err := tx.ListTenants(ctx, store.TenantFilter{Search: q.TenantQ, IncludeArchived: true, Limit: 8})
		if err != nil {
			return f, err
		}
		switch len(page.Items) {
		case 0:
			v.Errors["tenant"] = "No tenant matches " + strconv.Quote(q.TenantQ) + "."
		case 1:
			t := page.Items[0]
			f.TenantID, q.Tenant, q.TenantQ = t.ID, t.ID.String(), ""
			v.Picker.Chosen = &activity.TenantChoice{ID: t.ID.String(), Name: tenantName(t), Href: tenantPath(t.ID)}
		default:
			v.Errors["tenant"] = "Several tenants match " + strconv.Quote(q.TenantQ) + ": choose one."
			v.Picker.Searched, v.Picker.Suggestions = true, suggestions(*q, page.Items)
		}
	}
	v.Picker.Query, v.Picker.Error = *q, v.Errors["tenant"]
	if q.Integration != "" {
		in := integrationByKey(integs, q.Integration)
		if id, err := uuid.Parse(q.Integration); err == nil && in == nil {
			in = integrationByID(integs, id)
		}
		if in == nil {
			v.Errors["integration"] = "No integration has this key."
		} else {
			f.IntegrationID, q.Integration = in.ID, in.Key
		}
	}
	f.ConnectionID, _ = uuid.Parse(q.Connection)
	f.ElementID, _ = uuid.Parse(q.Element)
	f.Types, f.Statuses, f.ActorTypes, f.ActorID, f.Text = q.Types, q.Statuses, q.Actors, q.ActorID, q.Q
	if start, ok := activity.RangeStart(q.Range, now); ok {
		f.From = &start
	} else if q.Range == activity.RangeCustom {
		if t, err := parseLocal(q.From); err == nil {
			f.From = &t
		}
		if t, err := parseLocal(q.To); err == nil {
			f.To = &t
		}
	}
	if verr, ok := tenancy.AsValidation(f.Validate()); ok {
		for _, fe := range verr.Fields {
			name := map[string]string{"search": "q", "limit": "q"}[fe.Path]
			if name == "" {
				name = fe.Path
			}
			if v.Errors[name] == "" {
				label := map[string]string{"type": "Each type", "status": "Each status", "actor": "Each actor", "q": "The text",
					"from": "From"}[name]
				v.Errors[name] = sentence(label, fe.Message) + "."
			}
		}
	}
	return f, nil
}

// tenantName names a tenant as the tenant pages do: its name, else its internalId.
func tenantName(t *tenancy.Tenant) string {
	return tenants.Identity{Name: t.Name, InternalID: t.InternalID}.DisplayName()
}

func suggestions(q activity.Query, ts []*tenancy.Tenant) []activity.Suggestion {
	out := make([]activity.Suggestion, len(ts))
	for i, t := range ts {
		out[i] = activity.Suggestion{Name: tenantName(t), InternalID: t.InternalID, Archived: t.Archived(), URL: q.WithTenant(t.ID.String())}
	}
	return out
}

// tenantNames finds the names of the tenants of some entries that names does not hold yet (it
// caches them across calls), in one query for the whole page, under row-level security.
func tenantNames(ctx context.Context, tx *store.Tx, entries []*tenancy.ActivityEntry, names map[uuid.UUID]string) error {
	var ids []uuid.UUID
	for _, e := range entries {
		if _, ok := names[e.TenantID]; !ok && e.TenantID != uuid.Nil {
			names[e.TenantID] = e.TenantID.String() // unless found below: deleted since, the entry stays
			ids = append(ids, e.TenantID)
		}
	}
	rows, err := tx.TenantIdentities(ctx, ids)
	if err != nil {
		return err
	}
	for _, r := range rows {
		names[r.ID] = tenants.Identity{Name: r.Name, InternalID: r.InternalID}.DisplayName()
	}
	return nil
}

func actorLabel(a tenancy.ActorType) string {
	for _, o := range activity.Actors {
		if o.Value == string(a) {
			return o.Label
		}
	}
	return string(a)
}

func activityRow(e *tenancy.ActivityEntry, names map[uuid.UUID]string) activity.Row {
	r := activity.Row{ID: e.ID.String(), Href: activityPath(e.ID), At: e.CreatedAt, Type: e.Type, Status: e.Status,
		Actor: actorLabel(e.ActorType), Message: e.Message}
	if e.TenantID != uuid.Nil {
		r.Tenant, r.TenantHref = names[e.TenantID], tenantPath(e.TenantID)
	}
	return r
}

// --- the list ------------------------------------------------------------------------------------

func (s *Server) activityList(w http.ResponseWriter, r *http.Request) error {
	return s.activityView(w, r, "")
}

// tenantActivity is a tenant's Activity tab: the log filtered to the tenant.
func (s *Server) tenantActivity(w http.ResponseWriter, r *http.Request) error {
	return s.activityView(w, r, r.PathValue("id"))
}

// activityView answers the list: the whole page, the results of a filter change (with the parts
// of the form that follow them, out of band) or the rows after "Load more". fixedTenant selects
// a tenant's tab.
func (s *Server) activityView(w http.ResponseWriter, r *http.Request, fixedTenant string) error {
	ctx := r.Context()
	now := time.Now()
	q, errs := parseActivityQuery(r.URL.Query())
	if fixedTenant != "" {
		q.Base, q.Tenant = "/tenants/"+url.PathEscape(fixedTenant)+"/activity", ""
	}
	// Text typed into the tenant box picks a tenant when the form was submitted (Enter, Apply, or
	// without JavaScript), not when another control changed.
	pickTyped := !isFragmentRequest(r) || r.Header.Get("HX-Trigger") == "activity-filters"
	v := activity.ListView{Query: q}
	var fixed *tenancy.Tenant
	err := s.listInScope(r, &v.Query.Cursor, &v.Notice, func(tx *store.Tx) error {
		cursor := v.Query.Cursor
		v.Query, v.Errors, v.Rows, v.NextURL = q, maps.Clone(errs), nil, ""
		v.Query.Cursor = cursor
		if fixedTenant != "" {
			t, err := tx.Tenant(ctx, fixedTenant)
			if err != nil {
				return err
			}
			fixed = t
			v.Query.Base, v.Query.Tenant = tenantPath(t.ID)+"/activity", t.ID.String() // the path names it; exports and live need it
			id := tenantIdentity(t)
			v.Tenant = &id
		}
		integs, err := allIntegrations(ctx, tx)
		if err != nil {
			return err
		}
		v.Integrations = integrationFilter(integs)
		f, err := activityFilter(ctx, tx, &v, fixed, pickTyped, integs, now)
		if err != nil || v.Invalid() {
			return err
		}
		f.Limit, f.Cursor = activity.PageSize, v.Query.Cursor
		page, err := tx.ListActivity(ctx, f)
		if err != nil {
			return err
		}
		names := map[uuid.UUID]string{}
		if err := tenantNames(ctx, tx, page.Items, names); err != nil {
			return err
		}
		v.Rows = make([]activity.Row, len(page.Items))
		for i, e := range page.Items {
			v.Rows[i] = activityRow(e, names)
		}
		if page.Cursor != "" {
			next := v.Query
			next.Cursor = page.Cursor
			v.NextURL = next.URL()
		}
		// Live mode streams what is newer than the newest entry shown: on the first page that is the
		// newest that matched when the page was read (so the database's clock decides); else now.
		v.LiveAfter = now.UTC().Format(time.RFC3339Nano)
		if len(page.Items) > 0 && v.Query.Cursor == "" {
			v.LiveAfter = page.Items[0].ID.String()
		}
		return nil
	})
	if verr, ok := tenancy.AsValidation(err); ok {
		// The store refused a value the checks above let through: show it, never a 500.
		v.Rows, v.NextURL = nil, ""
		for _, fe := range verr.Fields {
			v.Errors[fe.Path] = fe.Path + " " + fe.Message + "."
		}
		err = nil
	}
	if err != nil {
		return err
	}
	switch {
	case wantsResults(r, activity.More):
		if v.Invalid() {
			return s.write(w, r, http.StatusOK, activity.MoreRefused(v))
		}
		return s.write(w, r, http.StatusOK, activity.Rows(v))
	case wantsResults(r, activity.Results):
		first := v.Query
		first.Cursor = ""
		w.Header().Set("HX-Push-Url", first.URL())
		return s.write(w, r, http.StatusOK, activity.ResultsResponse(v))
	}
	status := http.StatusOK
	if v.Invalid() {
		status = problemStatus(r, http.StatusUnprocessableEntity)
	}
	if fixed != nil {
		return s.renderTenants(w, r, status, tenantTabTitle(fixed, "Activity"), activity.Page(v))
	}
	return s.render(w, r, status, s.page(r, "Activity", "/activity"), activity.Page(v))
}

// activityTenantSearch is the tenant type-ahead: the tenants matching what was typed, each a link
// to the log (with the other filters of the form) filtered to it.
func (s *Server) activityTenantSearch(w http.ResponseWriter, r *http.Request) error {
	q, _ := parseActivityQuery(r.URL.Query())
	p := activity.Picker{Query: q}
	if q.TenantQ != "" {
		p.Searched = true
		err := s.inScope(r, func(tx *store.Tx) error {
			page, err := tx.ListTenants(r.Context(), store.TenantFilter{Search: q.TenantQ, IncludeArchived: true, Limit: 8})
			if err != nil {
				return err
			}
			p.Suggestions = suggestions(q, page.Items)
			return nil
		})
		if err != nil {
			return err
		}
	}
	return s.write(w, r, http.StatusOK, activity.Suggestions(p))
}

// --- one entry -----------------------------------------------------------------------------------

// activityShow is an entry: the detail panel for htmx, a page of its own otherwise.
func (s *Server) activityShow(w http.ResponseWriter, r *http.Request) error {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return tenancy.ErrNotFound
	}
	var d activity.DetailView
	err = s.inScope(r, func(tx *store.Tx) error {
		e, err := tx.ActivityEntry(r.Context(), id)
		if err != nil {
			return err
		}
		d, err = activityDetail(r.Context(), tx, e)
		return err
	})
	if err != nil {
		return err
	}
	if isFragmentRequest(r) {
		return s.write(w, r, http.StatusOK, activity.DetailPanel(d))
	}
	return s.render(w, r, http.StatusOK, s.page(r, "Activity entry", "/activity"), activity.DetailPage(d))
}

// activityDetail is everything about an entry, with links to what it names (when still there)
// and to the log filtered to each.
func activityDetail(ctx context.Context, tx *store.Tx, e *tenancy.ActivityEntry) (activity.DetailView, error) {
	d := activity.DetailView{ID: e.ID.String(), Href: activityPath(e.ID), At: e.CreatedAt, Type: e.Type, Status: e.Status,
		ActorType: actorLabel(e.ActorType), ActorID: e.ActorID, Message: e.Message, DurationMS: e.DurationMS, RequestID: e.RequestID,
		Details: elements.Pretty(e.Details)}
	related := func(label string, vals url.Values) {
		d.Related = append(d.Related, activity.Link{Label: label, Href: "/activity?" + vals.Encode()})
	}
	found := func(err error) (bool, error) {
		if errors.Is(err, tenancy.ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	}
	if e.TenantID != uuid.Nil {
		d.TenantID = e.TenantID.String()
		t, err := tx.Tenant(ctx, d.TenantID)
		if ok, err := found(err); err != nil {
			return d, err
		} else if ok {
			d.Tenant = &activity.Link{Label: tenantName(t), Href: tenantPath(t.ID)}
		}
		related("This tenant's activity", url.Values{"tenant": {d.TenantID}})
	}
	if e.ConnectionID != uuid.Nil {
		d.ConnID = e.ConnectionID.String()
		c, err := tx.Connection(ctx, d.ConnID)
		if ok, err := found(err); err != nil {
			return d, err
		} else if ok {
			d.Connection = &activity.Link{Label: c.Name, Href: tenantPath(c.TenantID) + "/connections"}
		}
		related("This connection's activity", url.Values{"connection": {d.ConnID}})
	}
	if e.IntegrationID != uuid.Nil {
		d.IntegID = e.IntegrationID.String()
		in, err := tx.Integration(ctx, d.IntegID)
		if ok, err := found(err); err != nil {
			return d, err
		} else if ok {
			d.Integration = &activity.Link{Label: in.Name, Href: integrationPath(in.ID)}
			related("This integration's activity", url.Values{"integration": {in.Key}})
		}
	}
	if e.ElementID != uuid.Nil {
		d.ElementID = e.ElementID.String()
		link, err := elementLink(ctx, tx, e.ElementID)
		if err != nil {
			return d, err
		}
		d.Element = link
		related("This element's activity", url.Values{"element": {d.ElementID}})
	}
	if e.ActorType == tenancy.ActorManager && e.ActorID != "" {
		members, err := tx.ListMembers(ctx)
		if err != nil {
			return d, err
		}
		for _, m := range members {
			if m.ManagerID.String() == e.ActorID {
				d.ActorName = m.Email
			}
		}
	}
	if e.ActorID != "" {
		related("Everything by this actor", url.Values{"actor": {string(e.ActorType)}, "actorId": {e.ActorID}})
	}
	related("Everything of type "+e.Type, url.Values{"type": {e.Type}})
	return d, nil
}

// elementLink names an element and links to its page: a workspace element's, or the tenant's
// customization page of a tenant-level one; nil when it is gone.
func elementLink(ctx context.Context, tx *store.Tx, id uuid.UUID) (*activity.Link, error) {
	el, err := tx.ElementByID(ctx, id)
	if errors.Is(err, tenancy.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	link := &activity.Link{Label: el.Name + " (" + el.Kind.Title() + ")", Href: elementPath(el.Kind, el.ID)}
	if !el.IsTemplate() {
		link.Href = tenantElementPath(el.TenantID, el.Kind, el.Key)
	}
	return link, nil
}

// --- live mode -----------------------------------------------------------------------------------

// liveTiming paces a live stream.
type liveTiming struct {
	poll      time.Duration // how often the log is read for new entries
	heartbeat time.Duration // a comment this often keeps proxies from closing an idle stream
	maxAge    time.Duration // a stream ends after this; the browser reconnects (Last-Event-ID) and carries on
	recheck   time.Duration // how often the session is checked again (a removed manager stops seeing entries)
	lookback  time.Duration // how long after its time an entry may still appear (its transaction commits later)
}

var defaultLiveTiming = liveTiming{poll: time.Second, heartbeat: 15 * time.Second, maxAge: 30 * time.Minute,
	recheck: time.Minute, lookback: 15 * time.Second}

// liveBatch bounds how many new entries one poll sends: the live view shows the newest, the
// list and the exports have them all.
const liveBatch = 500

// activityLive streams new entries matching the filters as server-sent events, each event's data
// the rendered row, from the time in "after" (or the entry in Last-Event-ID, on a reconnect).
func (s *Server) activityLive(w http.ResponseWriter, r *http.Request) error {
	return s.streamActivity(w, r, defaultLiveTiming)
}

func (s *Server) streamActivity(w http.ResponseWriter, r *http.Request, timing liveTiming) error {
	ctx := r.Context()
	now := time.Now()
	q, errs := parseActivityQuery(r.URL.Query())
	v := activity.ListView{Query: q, Errors: errs}
	after := r.URL.Query().Get("after")
	floor := liveKey{at: now}
	if t, err := time.Parse(time.RFC3339Nano, after); err == nil {
		floor.at = t
	}
	var f store.ActivityFilter
	err := s.inScope(r, func(tx *store.Tx) error {
		integs, err := allIntegrations(ctx, tx)
		if err != nil {
			return err
		}
		if f, err = activityFilter(ctx, tx, &v, nil, false, integs, now); err != nil {
			return err
		}
		// A reconnect carries on after the last entry it received; a first connection after the
		// newest entry its page showed.
		for _, sel := range []string{r.Header.Get("Last-Event-ID"), after} {
			id, err := uuid.Parse(sel)
			if err != nil {
				continue
			}
			e, err := tx.ActivityEntry(ctx, id)
			if errors.Is(err, tenancy.ErrNotFound) {
				continue
			} else if err != nil {
				return err
			}
			floor = entryKey(e)
			break
		}
		return nil
	})
	if err != nil {
		return err
	}
	if v.Invalid() {
		return filtersRefused(v)
	}

	// Registered before the first byte goes out: a shutdown that begins once the client has seen
	// the stream start must find the hook (it was missed when this ran after the first flush).
	drain := shuttingDown(r)
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprintf(w, "retry: 3000\n: live\n\n"); err != nil {
		return nil
	}
	if err := rc.Flush(); err != nil {
		return nil
	}

	live := &liveStream{s: s, r: r, w: w, rc: rc, f: f, timing: timing, seen: map[uuid.UUID]time.Time{}, floor: floor,
		names: map[uuid.UUID]string{}, newest: floor.at}
	live.run(ctx, drain)
	return nil
}

// serverDrains holds, per http.Server, a channel closed when it begins to shut down.
var serverDrains sync.Map

// shuttingDown is closed when the http.Server serving r begins to shut down: a graceful shutdown
// waits for requests to finish, which a live stream never does by itself. (nil, which never
// closes, outside an http.Server.)
func shuttingDown(r *http.Request) <-chan struct{} {
	srv, ok := r.Context().Value(http.ServerContextKey).(*http.Server)
	if !ok {
		return nil
	}
	ch, loaded := serverDrains.LoadOrStore(srv, make(chan struct{}))
	if !loaded {
		srv.RegisterOnShutdown(func() { close(ch.(chan struct{})) })
	}
	return ch.(chan struct{})
}

// liveKey orders entries as the log does: by time, then id.
type liveKey struct {
	at time.Time
	id uuid.UUID
}

func entryKey(e *tenancy.ActivityEntry) liveKey { return liveKey{e.CreatedAt, e.ID} }

func (k liveKey) compare(o liveKey) int {
	if c := k.at.Compare(o.at); c != 0 {
		return c
	}
	return bytes.Compare(k.id[:], o.id[:])
}

func (k liveKey) after(o liveKey) bool { return k.compare(o) > 0 }

// liveStream is one client's stream.
type liveStream struct {
	s      *Server
	r      *http.Request
	w      http.ResponseWriter
	rc     *http.ResponseController
	f      store.ActivityFilter
	timing liveTiming
	floor  liveKey                 // nothing at or before this is sent
	newest time.Time               // the newest time seen
	seen   map[uuid.UUID]time.Time // ids sent (or skipped) within the lookback window
	names  map[uuid.UUID]string
}

func (l *liveStream) run(ctx context.Context, drain <-chan struct{}) {
	// A shutdown also cancels a poll in flight, so the stream ends at once, not after its query.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-drain:
			cancel()
		case <-ctx.Done():
		}
	}()
	poll := time.NewTicker(l.timing.poll)
	defer poll.Stop()
	beat := time.NewTicker(l.timing.heartbeat)
	defer beat.Stop()
	recheck := time.NewTicker(l.timing.recheck)
	defer recheck.Stop()
	end := time.NewTimer(l.timing.maxAge)
	defer end.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-drain:
			return
		case <-end.C:
			return
		case <-beat.C:
			if l.send(": heartbeat\n\n") != nil {
				return
			}
		case <-recheck.C:
			if !l.s.sessionValid(l.r) {
				return
			}
		case <-poll.C:
			if err := l.poll(ctx); err != nil {
				if ctx.Err() == nil {
					l.s.log.ErrorContext(ctx, "activity live stream", "request_id", tenancy.RequestID(ctx), "err", err)
				}
				return
			}
		}
	}
}

func (l *liveStream) send(text string) error {
	if _, err := l.w.Write([]byte(text)); err != nil {
		return err
	}
	return l.rc.Flush()
}

// poll reads the entries of the lookback window and sends those not sent yet, oldest first.
func (l *liveStream) poll(ctx context.Context) error {
	f := l.f
	from := l.newest.Add(-l.timing.lookback)
	if f.From == nil || f.From.Before(from) {
		f.From = &from
	}
	f.Limit = 200
	var fresh []*tenancy.ActivityEntry
	err := l.s.inScope(l.r, func(tx *store.Tx) error {
		fresh = nil
		for n := 0; n < liveBatch; {
			page, err := tx.ListActivity(ctx, f)
			if err != nil {
				return err
			}
			for _, e := range page.Items {
				if _, ok := l.seen[e.ID]; ok {
					continue
				}
				if !entryKey(e).after(l.floor) {
					l.seen[e.ID] = e.CreatedAt
					continue
				}
				fresh = append(fresh, e)
			}
			n += len(page.Items)
			if page.Cursor == "" {
				break
			}
			f.Cursor = page.Cursor
		}
		return tenantNames(ctx, tx, fresh, l.names)
	})
	if err != nil {
		return err
	}
	// Oldest first, so that each one put at the top leaves the newest there.
	slices.SortFunc(fresh, func(a, b *tenancy.ActivityEntry) int { return entryKey(a).compare(entryKey(b)) })
	var buf bytes.Buffer
	for _, e := range fresh {
		buf.Reset()
		if err := activity.RowView(activityRow(e, l.names)).Render(ctx, &buf); err != nil {
			return err
		}
		var ev strings.Builder
		ev.WriteString("id: " + e.ID.String() + "\nevent: activity\n")
		for _, line := range strings.Split(buf.String(), "\n") {
			ev.WriteString("data: " + strings.TrimSuffix(line, "\r") + "\n")
		}
		ev.WriteString("\n")
		if err := l.send(ev.String()); err != nil {
			return nil // the client went away
		}
		l.seen[e.ID] = e.CreatedAt
		if e.CreatedAt.After(l.newest) {
			l.newest = e.CreatedAt
		}
	}
	for id, at := range l.seen {
		if at.Before(l.newest.Add(-l.timing.lookback)) {
			delete(l.seen, id)
		}
	}
	return nil
}

// sessionValid reports whether the request's session still exists (a live stream outlives the
// check made when it started).
func (s *Server) sessionValid(r *http.Request) bool {
	cs, err := s.cookies.Get(r, sessionCookie)
	if err != nil {
		return false
	}
	token, _ := cs.Values["t"].(string)
	if token == "" {
		return false
	}
	_, err = s.db.LookupSession(r.Context(), store.HashSessionToken(token))
	return err == nil
}

// --- exports -------------------------------------------------------------------------------------

// activityExportRecord is an entry in an NDJSON export: the API's field names.
type activityExportRecord struct {
	ID            string         `json:"id"`
	CreatedAt     time.Time      `json:"createdAt"`
	Type          string         `json:"type"`
	Status        string         `json:"status"`
	TenantID      string         `json:"tenantId,omitempty"`
	ActorType     string         `json:"actorType"`
	ActorID       string         `json:"actorId,omitempty"`
	ConnectionID  string         `json:"connectionId,omitempty"`
	IntegrationID string         `json:"integrationId,omitempty"`
	ElementID     string         `json:"elementId,omitempty"`
	Message       string         `json:"message"`
	Details       map[string]any `json:"details"`
	DurationMS    *int           `json:"durationMs,omitempty"`
	RequestID     string         `json:"requestId,omitempty"`
}

// activityCSVHeader is an export's CSV header row; each row holds the same fields as the NDJSON.
var activityCSVHeader = []string{"id", "createdAt", "type", "status", "tenantId", "actorType", "actorId", "connectionId",
	"integrationId", "elementId", "message", "details", "durationMs", "requestId"}

func idText(id uuid.UUID) string {
	if id == uuid.Nil {
		return ""
	}
	return id.String()
}

func exportRecord(e *tenancy.ActivityEntry) activityExportRecord {
	details := e.Details
	if details == nil {
		details = map[string]any{}
	}
	return activityExportRecord{ID: e.ID.String(), CreatedAt: e.CreatedAt.UTC(), Type: e.Type, Status: e.Status,
		TenantID: idText(e.TenantID), ActorType: string(e.ActorType), ActorID: e.ActorID, ConnectionID: idText(e.ConnectionID),
		IntegrationID: idText(e.IntegrationID), ElementID: idText(e.ElementID), Message: e.Message, Details: details,
		DurationMS: e.DurationMS, RequestID: e.RequestID}
}

func (rec activityExportRecord) csvRow() ([]string, error) {
	details, err := json.Marshal(rec.Details)
	if err != nil {
		return nil, err
	}
	dur := ""
	if rec.DurationMS != nil {
		dur = strconv.Itoa(*rec.DurationMS)
	}
	return []string{rec.ID, rec.CreatedAt.Format(time.RFC3339Nano), rec.Type, rec.Status, rec.TenantID, rec.ActorType, rec.ActorID,
		rec.ConnectionID, rec.IntegrationID, rec.ElementID, rec.Message, string(details), dur, rec.RequestID}, nil
}

func (s *Server) activityExportCSV(w http.ResponseWriter, r *http.Request) error {
	return s.activityExport(w, r, "csv")
}

func (s *Server) activityExportNDJSON(w http.ResponseWriter, r *http.Request) error {
	return s.activityExport(w, r, "ndjson")
}

// exportFlushEvery is how many entries an export writes between flushes.
const exportFlushEvery = 200

// filtersRefused is the answer to a stream or an export whose filters were refused: a 400 that
// names each problem.
func filtersRefused(v activity.ListView) error {
	var problems []string
	for _, e := range v.ErrorList() {
		problems = append(problems, e.Label+": "+e.Message)
	}
	return errStatus(http.StatusBadRequest, "These filters cannot be applied. "+strings.Join(problems, " "))
}

// activityExport streams every entry the filters select, newest first, as a download: read a page
// at a time inside one scoped transaction and written as it is read, so any size fits in memory.
// A failure once the file has started aborts the connection, so that a truncated file is never
// taken for a whole one.
func (s *Server) activityExport(w http.ResponseWriter, r *http.Request, format string) error {
	ctx := r.Context()
	now := time.Now()
	q, errs := parseActivityQuery(r.URL.Query())
	v := activity.ListView{Query: q, Errors: errs}
	rc := http.NewResponseController(w)
	started := false
	err := s.inScope(r, func(tx *store.Tx) error {
		integs, err := allIntegrations(ctx, tx)
		if err != nil {
			return err
		}
		f, err := activityFilter(ctx, tx, &v, nil, false, integs, now)
		if err != nil {
			return err
		}
		if v.Invalid() {
			return filtersRefused(v)
		}
		// write writes one entry; flush sends what the format's writer holds on to.
		var write func(e *tenancy.ActivityEntry) error
		flush := func() error { return nil }
		h := w.Header()
		h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="activity-%s.%s"`, now.UTC().Format("20060102-150405"), format))
		h.Set("Cache-Control", "no-store")
		if format == "csv" {
			h.Set("Content-Type", "text/csv; charset=utf-8")
			cw := csv.NewWriter(w)
			cw.UseCRLF = true // RFC 4180
			// Buffered: the header goes out with the first flush, after the status.
			if err := cw.Write(activityCSVHeader); err != nil {
				return err
			}
			write = func(e *tenancy.ActivityEntry) error {
				row, err := exportRecord(e).csvRow()
				if err != nil {
					return err
				}
				return cw.Write(row)
			}
			flush = func() error { cw.Flush(); return cw.Error() }
		} else {
			h.Set("Content-Type", "application/x-ndjson")
			enc := json.NewEncoder(w)
			enc.SetEscapeHTML(false)
			write = func(e *tenancy.ActivityEntry) error { return enc.Encode(exportRecord(e)) }
		}
		w.WriteHeader(http.StatusOK)
		started = true
		n := 0
		err = tx.EachActivity(ctx, f, func(e *tenancy.ActivityEntry) error {
			if err := write(e); err != nil {
				return err
			}
			if n++; n%exportFlushEvery == 0 {
				if err := flush(); err != nil {
					return err
				}
				return rc.Flush()
			}
			return nil
		})
		if err != nil {
			return err
		}
		return flush()
	})
	if err != nil && started {
		if ctx.Err() == nil {
			s.log.ErrorContext(ctx, "activity export failed", "request_id", tenancy.RequestID(ctx), "err", err)
		}
		panic(http.ErrAbortHandler)
	}
	if err == nil {
		_ = rc.Flush()
	}
	return err
}
