package api

// The activity log through the API (issue 6): GET /activity-logs with the Console's filters, one
// entry by id, and GET /action-run-logs (SDK-CONTRACT §3.9), the same query limited to action
// runs in the SDK's ActionRunLogRecord shape. Reads run in the caller's scope, so row-level
// security decides what a token sees: a tenant token its own tenant's entries, a workspace token
// every entry of the workspace (workspace-level ones too).
//
// Filters that name something (tenantId, integrationId, connectionId) and name nothing visible to
// the caller — another tenant's, or none — give an empty list, as the other lists do: a tenant
// token cannot tell "not yours" from "does not exist". An entry id outside the scope is 404.

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"tenantry/internal/auth"
	"tenantry/internal/store"
	"tenantry/internal/tenancy"
)

// Provisioner exposes the token provisioner (for the tenant portal, which turns the same tokens
// into tenant scopes, and must agree with the API on archived tenants).
func (a *API) Provisioner() *auth.Provisioner { return a.provisioner }

// ActionRunType is the activity type of an action run.
const ActionRunType = "action.run"

func (a *API) activityRoutes() []Route {
	return []Route{
		{Method: "GET", Path: "/activity-logs", handle: a.listActivity},
		{Method: "GET", Path: "/activity-logs/{id}", handle: a.getActivity},
		{Method: "GET", Path: "/action-run-logs", handle: a.listActionRuns},
		{Method: "GET", Path: "/action-run-logs/{id}", handle: a.getActionRun},
	}
}

// ActivityLog is one activity-log entry as the API shows it. userId and tenantId are both the
// tenant's id (absent on workspace-level entries).
type ActivityLog struct {
	ID            string         `json:"id"`
	CreatedAt     time.Time      `json:"createdAt"`
	Type          string         `json:"type"`
	Status        string         `json:"status"`
	UserID        string         `json:"userId,omitempty"`
	TenantID      string         `json:"tenantId,omitempty"`
	Actor         ActivityActor  `json:"actor"`
	ConnectionID  string         `json:"connectionId,omitempty"`
	IntegrationID string         `json:"integrationId,omitempty"`
	ElementID     string         `json:"elementId,omitempty"`
	Message       string         `json:"message"`
	Details       map[string]any `json:"details"`
	DurationMS    *int           `json:"durationMs,omitempty"`
	RequestID     string         `json:"requestId,omitempty"`
}

// ActivityActor is who acted: manager (id = manager id), workspace-token, tenant-token (id = the
// tenant key) or system.
type ActivityActor struct {
	Type string `json:"type"`
	ID   string `json:"id,omitempty"`
}

func activityOf(e *tenancy.ActivityEntry) *ActivityLog {
	return &ActivityLog{ID: e.ID.String(), CreatedAt: e.CreatedAt, Type: e.Type, Status: e.Status,
		UserID: idString(e.TenantID), TenantID: idString(e.TenantID), Actor: ActivityActor{Type: string(e.ActorType), ID: e.ActorID},
		ConnectionID: idString(e.ConnectionID), IntegrationID: idString(e.IntegrationID), ElementID: idString(e.ElementID),
		Message: e.Message, Details: orEmptyMap(e.Details), DurationMS: e.DurationMS, RequestID: e.RequestID}
}

// ActionRunLog is an action run as Membrane's SDK reads it (ActionRunLogRecord): name is the
// entry's message, integrationActionId the action that ran; input, output and error come from the
// entry's details when the run recorded them.
type ActionRunLog struct {
	ID                  string    `json:"id"`
	UserID              string    `json:"userId"`
	TenantID            string    `json:"tenantId,omitempty"`
	Name                string    `json:"name"`
	IntegrationActionID string    `json:"integrationActionId"`
	IntegrationID       string    `json:"integrationId"`
	ConnectionID        string    `json:"connectionId"`
	Status              string    `json:"status"`
	CreatedAt           time.Time `json:"createdAt"`
	Input               any       `json:"input,omitempty"`
	Output              any       `json:"output,omitempty"`
	Error               any       `json:"error,omitempty"`
	Duration            *int      `json:"duration,omitempty"`
}

func actionRunOf(e *tenancy.ActivityEntry) *ActionRunLog {
	out := &ActionRunLog{ID: e.ID.String(), UserID: idString(e.TenantID), TenantID: idString(e.TenantID), Name: e.Message,
		IntegrationActionID: idString(e.ElementID), IntegrationID: idString(e.IntegrationID), ConnectionID: idString(e.ConnectionID),
		Status: e.Status, CreatedAt: e.CreatedAt, Input: e.Details["input"], Output: e.Details["output"], Duration: e.DurationMS}
	switch v := e.Details["error"].(type) {
	case nil:
		if e.Status == "error" {
			out.Error = map[string]any{"message": e.Message}
		}
	case string:
		out.Error = map[string]any{"message": v}
	default:
		out.Error = v
	}
	return out
}

// activityQuery is the part of a request that becomes a store filter; the names are those of the
// endpoint (actionId for an action run's element, elementId for any entry's).
type activityQuery struct {
	tenant      []string // tenantId, userId: ids or internalIds
	integration []string // integrationId, integrationKey: ids or keys
	connection  string   // an id, or a tenant token's connection key
	elements    []string // element ids
	filter      store.ActivityFilter
}

// parseTime reads an ISO 8601 time: RFC 3339 with or without fractions, a date-time without a
// zone (UTC), or a date (midnight UTC).
func parseTime(q query, name string) (*time.Time, error) {
	s := q.str(name)
	if s == "" {
		return nil, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			t = t.UTC()
			return &t, nil
		}
	}
	return nil, badQuery(name, "must be an ISO 8601 time, e.g. 2026-01-31T09:30:00Z or 2026-01-31")
}

// readActivityQuery reads the filters both endpoints share; check validates them before anything
// is looked up.
func readActivityQuery(q query, elementParams ...string) (*activityQuery, error) {
	aq := &activityQuery{}
	for _, n := range []string{"tenantId", "userId"} {
		if v := q.str(n); v != "" {
			aq.tenant = append(aq.tenant, v)
		}
	}
	for _, n := range []string{"integrationId", "integrationKey"} {
		if v := q.str(n); v != "" {
			aq.integration = append(aq.integration, v)
		}
	}
	aq.connection = q.str("connectionId")
	for _, n := range elementParams {
		if v := q.str(n); v != "" {
			if _, err := uuid.Parse(v); err != nil {
				return nil, badQuery(n, "must be an element id (a UUID)")
			}
			aq.elements = append(aq.elements, v)
		}
	}
	limit, err := q.limit(50, 1000)
	if err != nil {
		return nil, err
	}
	f := store.ActivityFilter{Statuses: q.list("status"), Text: q.str("search"), Limit: limit, Cursor: q.str("cursor")}
	if f.From, err = parseTime(q, "from"); err != nil {
		return nil, err
	}
	if f.To, err = parseTime(q, "to"); err != nil {
		return nil, err
	}
	aq.filter = f
	return aq, nil
}

// check validates the filter and the cursor (a list that names nothing is still refused for a
// bad parameter).
func (aq *activityQuery) check() error {
	if err := aq.filter.Validate(); err != nil {
		return listError(err)
	}
	if _, err := store.ParseCursor(aq.filter.Cursor, &map[string]any{}); err != nil {
		return listError(err)
	}
	return nil
}

// resolve turns the named things into ids within the caller's scope. ok is false when one of them
// names nothing the caller can see: the answer is then an empty list.
func (aq *activityQuery) resolve(ctx context.Context, tx *store.Tx) (store.ActivityFilter, bool, error) {
	f := aq.filter
	for _, sel := range aq.tenant {
		t, err := tx.Tenant(ctx, sel)
		if err == tenancy.ErrNotFound {
			return f, false, nil
		}
		if err != nil {
			return f, false, err
		}
		if f.TenantID != uuid.Nil && f.TenantID != t.ID {
			return f, false, nil // tenantId and userId name different tenants
		}
		f.TenantID = t.ID
	}
	for _, sel := range aq.integration {
		id, err := uuid.Parse(sel)
		if err != nil {
			in, err := tx.Integration(ctx, sel)
			if err == tenancy.ErrNotFound {
				return f, false, nil
			}
			if err != nil {
				return f, false, err
			}
			id = in.ID
		}
		if f.IntegrationID != uuid.Nil && f.IntegrationID != id {
			return f, false, nil
		}
		f.IntegrationID = id
	}
	if aq.connection != "" {
		id, err := uuid.Parse(aq.connection)
		if err != nil { // a key: only a tenant token's own connections have one it can name
			c, err := tx.Connection(ctx, aq.connection)
			if err == tenancy.ErrNotFound {
				return f, false, nil
			}
			if err != nil {
				return f, false, err
			}
			id = c.ID
		}
		f.ConnectionID = id
	}
	for _, sel := range aq.elements {
		id := uuid.MustParse(sel) // checked by readActivityQuery
		if f.ElementID != uuid.Nil && f.ElementID != id {
			return f, false, nil
		}
		f.ElementID = id
	}
	return f, true, nil
}

// listActivityPage runs the filter in scope and writes {items, cursor} with each entry shaped by out.
func listActivityPage[T any](a *API, w http.ResponseWriter, r *http.Request, aq *activityQuery, out func(*tenancy.ActivityEntry) T) error {
	resp := listResponse[T]{Items: []T{}}
	err := a.inScope(r, func(tx *store.Tx) error {
		f, ok, err := aq.resolve(r.Context(), tx)
		if err != nil || !ok {
			return err
		}
		page, err := tx.ListActivity(r.Context(), f)
		if err != nil {
			return err
		}
		resp = listOf(page.Items, page.Cursor, out)
		return nil
	})
	if err != nil {
		return listError(err)
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (a *API) listActivity(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	aq, err := readActivityQuery(q, "elementId")
	if err != nil {
		return err
	}
	aq.filter.Types = q.list("type")
	aq.filter.ActorTypes = q.list("actor")
	aq.filter.ActorID = q.str("actorId")
	if err := aq.check(); err != nil {
		return err
	}
	return listActivityPage(a, w, r, aq, activityOf)
}

func (a *API) listActionRuns(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	for _, n := range []string{"universalActionId", "externalAppId"} {
		if q.str(n) != "" {
			return badQuery(n, "is not supported: filter by actionId, integrationId or connectionId")
		}
	}
	for _, s := range q.list("status") {
		if s != "success" && s != "error" {
			return badQuery("status", "must be success or error")
		}
	}
	aq, err := readActivityQuery(q, "actionId", "integrationActionId", "connectionActionId")
	if err != nil {
		return err
	}
	aq.filter.Types = []string{ActionRunType}
	if err := aq.check(); err != nil {
		return err
	}
	return listActivityPage(a, w, r, aq, actionRunOf)
}

// activityEntry finds the entry the path names in the caller's scope; an id that is not a UUID
// names nothing.
func (a *API) activityEntry(r *http.Request) (*tenancy.ActivityEntry, error) {
	id, err := uuid.Parse(strings.TrimSpace(r.PathValue("id")))
	if err != nil {
		return nil, tenancy.ErrNotFound
	}
	var e *tenancy.ActivityEntry
	err = a.inScope(r, func(tx *store.Tx) error {
		e, err = tx.ActivityEntry(r.Context(), id)
		return err
	})
	return e, err
}

func (a *API) getActivity(w http.ResponseWriter, r *http.Request) error {
	e, err := a.activityEntry(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, activityOf(e))
	return nil
}

func (a *API) getActionRun(w http.ResponseWriter, r *http.Request) error {
	e, err := a.activityEntry(r)
	if err != nil {
		return err
	}
	if e.Type != ActionRunType {
		return tenancy.ErrNotFound
	}
	writeJSON(w, http.StatusOK, actionRunOf(e))
	return nil
}
