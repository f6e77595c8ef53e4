package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"tenantry/internal/runner"
	"tenantry/internal/store"
	"tenantry/internal/tenancy"
)

// Action and flow runs (SDK-CONTRACT §3.5–3.6). An action runs at once and answers {output,
// actionRunId}; a flow run is queued and executed by the flow workers (runner.Service.Work) in
// any server process, and read back through /flow-runs.
//
//	POST /actions/{selector}/run[?integrationKey=&connectionId=&connectionKey=]   {input, meta?}
//	POST /action/run?key=&integrationKey=&connectionKey=                          {input, meta?}
//	POST /connections/{selector}/actions/{key}/run[?instanceKey=]                 raw input
//	POST /action-instance/run?id= | ?parentKey=&connectionId=…                    raw input
//	POST /connections/{selector}/flows/{key}/run                                  {nodeKey?, input?, meta?}
//	POST /flow-runs                                                               {flowInstanceId, startNodeKey?, nodeKey?, input?, meta?}
//	GET  /flow-runs, GET /flow-runs/{id}, POST /flow-runs/{id}/stop, GET /flow-runs/{id}/output
//
// Errors: a failing external app is a 502 (504 for a timeout) carrying its status and a trimmed
// body, an AI credit limit a 429 with Retry-After; a bad config, input or selection is a 4xx,
// never a 500.

func (a *API) runRoutes() []Route {
	return []Route{
		{Method: "POST", Path: "/actions/{selector}/run", handle: a.runAction},
		{Method: "POST", Path: "/action/run", handle: a.runAction},
		{Method: "POST", Path: "/connections/{selector}/actions/{key}/run", handle: a.runConnectionAction},
		{Method: "POST", Path: "/action-instance/run", handle: a.runActionInstance},
		{Method: "POST", Path: "/connections/{selector}/flows/{key}/run", handle: a.runConnectionFlow},
		{Method: "POST", Path: "/flow-runs", handle: a.createFlowRun},
		{Method: "GET", Path: "/flow-runs", handle: a.listFlowRuns},
		{Method: "GET", Path: "/flow-runs/{id}", handle: a.getFlowRun},
		{Method: "POST", Path: "/flow-runs/{id}/stop", handle: a.stopFlowRun},
		{Method: "GET", Path: "/flow-runs/{id}/output", handle: a.getFlowRunOutput},
	}
}

// ActionRunResponse is what an action run answers (the SDK's ActionRunResponse).
type ActionRunResponse struct {
	Output      any    `json:"output"`
	ActionRunID string `json:"actionRunId"`
}

// runActionInput is the body of POST /actions/{selector}/run and POST /action/run.
type runActionInput struct {
	Input any            `json:"input"`
	Meta  map[string]any `json:"meta"`
}

// runAction: POST /actions/{selector}/run and POST /action/run?key=…: the action named by key (or
// id), on the connection named in the query, or the tenant's only connection to its integration.
func (a *API) runAction(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	sel := r.PathValue("selector")
	if sel == "" {
		sel = firstOf(q, "key", "id")
		if sel == "" {
			return apiError(http.StatusBadRequest, "invalid_selection", "name the action: key (with integrationKey or integrationId) or id")
		}
	}
	var in runActionInput
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	run := runner.ActionRun{Key: sel, Connection: firstOf(q, "connectionId", "connectionKey"),
		Integration: firstOf(q, "integrationKey", "integrationId"), InstanceKey: q.str("instanceKey"), Input: in.Input}
	// An id names a template (or, for a tenant, one of its own elements): run it by its key.
	if id, err := uuid.Parse(sel); err == nil {
		if err := a.inScope(r, func(tx *store.Tx) error {
			return resolveActionID(r.Context(), tx, id, &run)
		}); err != nil {
			return runFailure(w, err)
		}
	}
	return a.execAction(w, r, run)
}

// resolveActionID turns an action id into the key a run needs: a template's, or a tenant-level
// element's (which also names its connection and instance key).
func resolveActionID(ctx context.Context, tx *store.Tx, id uuid.UUID, run *runner.ActionRun) error {
	if t, err := tx.Element(ctx, tenancy.KindAction, id.String()); err == nil {
		run.Key = t.Key
		return nil
	} else if !errors.Is(err, tenancy.ErrNotFound) {
		return err
	}
	e, err := tx.TenantElement(ctx, tenancy.KindAction, id)
	if errors.Is(err, tenancy.ErrNotFound) {
		return nil // perhaps a key that looks like a UUID: the runner decides
	}
	if err != nil {
		return err
	}
	return runAt(ctx, tx, e, run)
}

// runAt points run at a tenant-level element: its key, instance key and connection (for a
// tenant-wide element, the connection named, else the tenant's only one to the integration).
func runAt(ctx context.Context, tx *store.Tx, e *tenancy.Element, run *runner.ActionRun) error {
	run.Key, run.InstanceKey = e.Key, e.InstanceKey
	if e.ConnectionID != uuid.Nil {
		if run.Connection != "" || run.ConnectionID != uuid.Nil {
			c, err := namedConnection(ctx, tx, run.ConnectionID, run.Connection)
			if err != nil {
				return err
			}
			if c.ID != e.ConnectionID {
				return tenancy.ErrNotFound // the element is another connection's
			}
		}
		run.ConnectionID, run.Connection = e.ConnectionID, ""
		return nil
	}
	if run.Connection != "" || run.ConnectionID != uuid.Nil {
		return nil
	}
	c, err := runner.OnlyConnection(ctx, tx, e.TenantID, e.IntegrationID)
	if err != nil {
		return err
	}
	run.ConnectionID = c.ID
	return nil
}

func namedConnection(ctx context.Context, tx *store.Tx, id uuid.UUID, sel string) (*tenancy.Connection, error) {
	if id != uuid.Nil {
		return tx.Connection(ctx, id.String())
	}
	return tx.Connection(ctx, sel)
}

// runConnectionAction: POST /connections/{selector}/actions/{key}/run: the body is the input
// itself. {key} is the template's key or id, or the connection's element's id.
func (a *API) runConnectionAction(w http.ResponseWriter, r *http.Request) error {
	input, err := readRawInput(w, r)
	if err != nil {
		return err
	}
	run := runner.ActionRun{Key: r.PathValue("key"), Connection: r.PathValue("selector"), InstanceKey: newQuery(r).str("instanceKey"), Input: input}
	if err := a.inScope(r, func(tx *store.Tx) error {
		ctx := r.Context()
		c, err := tx.Connection(ctx, run.Connection)
		if err != nil {
			return err
		}
		run.ConnectionID, run.Connection = c.ID, ""
		if id, err := uuid.Parse(run.Key); err == nil {
			return resolveActionID(ctx, tx, id, &run)
		}
		return nil
	}); err != nil {
		return runFailure(w, err)
	}
	return a.execAction(w, r, run)
}

// runActionInstance: POST /action-instance/run?<selector>: the body is the input itself. An id
// names a tenant-level action (its key and connection); otherwise the template (parentKey,
// parentId, key) with connectionId/connectionKey, or the tenant (userId) and its only connection.
func (a *API) runActionInstance(w http.ResponseWriter, r *http.Request) error {
	k := kindOf(tenancy.KindAction)
	sel, err := selectInstance(r, k)
	if err != nil {
		return err
	}
	input, err := readRawInput(w, r)
	if err != nil {
		return err
	}
	run := runner.ActionRun{Input: input}
	if err := a.inScope(r, func(tx *store.Tx) error {
		ctx := r.Context()
		if sel.id != "" {
			id, err := uuid.Parse(sel.id)
			if err != nil {
				return tenancy.ErrNotFound
			}
			e, err := tx.TenantElement(ctx, tenancy.KindAction, id)
			if err != nil {
				return err
			}
			run.Connection = sel.connection
			return runAt(ctx, tx, e, &run)
		}
		at, e, err := sel.at(ctx, tx, k)
		if err != nil {
			return err
		}
		if e != nil {
			run.Connection = sel.connection
			return runAt(ctx, tx, e, &run)
		}
		run.Key, run.InstanceKey, run.ConnectionID = at.Key, at.InstanceKey, at.ConnectionID
		if run.ConnectionID == uuid.Nil && tx.Scope.WorkspaceWide() {
			// A workspace token named the tenant: its only connection to the action's integration.
			t, err := tx.Element(ctx, tenancy.KindAction, at.Key)
			if err != nil {
				return err
			}
			c, err := runner.OnlyConnection(ctx, tx, at.TenantID, t.IntegrationID)
			if err != nil {
				return err
			}
			run.ConnectionID = c.ID
		}
		return nil
	}); err != nil {
		return runFailure(w, err)
	}
	return a.execAction(w, r, run)
}

func kindOf(kind tenancy.ElementKind) apiKind {
	for _, k := range apiKinds {
		if k.kind == kind {
			return k
		}
	}
	panic("api: no kind " + string(kind))
}

// execAction runs the action and writes {output, actionRunId}.
func (a *API) execAction(w http.ResponseWriter, r *http.Request, run runner.ActionRun) error {
	c := callerFrom(r.Context())
	run.Settings = c.workspace.Workspace.Settings
	res, err := a.runs.RunAction(r.Context(), c.scope, run)
	if err != nil {
		return runFailure(w, err)
	}
	writeJSON(w, http.StatusOK, ActionRunResponse{Output: res.Output, ActionRunID: res.RunID.String()})
	return nil
}

// runFailure maps a run's error to the API's: what the external app said (502, 504 for a
// timeout), the AI credit limit (429 with Retry-After when waiting helps), and the caller's
// mistakes (400, 404, 409, 422). Anything else falls through to toError.
func runFailure(w http.ResponseWriter, err error) error {
	var (
		credits  *store.CreditsExceededError
		upstream *runner.UpstreamError
		unreach  *runner.UnreachableError
		config   *runner.ConfigError
		refused  *runner.RefusedError
		sel      *runner.SelectionError
		missing  *runner.MissingError
	)
	switch {
	case errors.As(err, &credits):
		data, msg := credits.Data(), credits.Error()
		if credits.FreeAt != nil {
			secs := retryAfter(*credits.FreeAt)
			data["freeAt"] = credits.FreeAt.UTC().Format(time.RFC3339) // whole seconds, as Retry-After
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			msg += fmt.Sprintf("; enough credits free up at %s", credits.FreeAt.UTC().Format(time.RFC3339))
		} else {
			msg += "; the run alone needs more than the limit"
		}
		return &Error{Status: http.StatusTooManyRequests, Type: "bad_request", Key: "ai_credits_exceeded", Message: msg, Data: data}
	case errors.As(err, &upstream):
		return &Error{Status: http.StatusBadGateway, Type: "action_run", Key: "external_app_error",
			Message: fmt.Sprintf("the external app answered %d: %s", upstream.Status, oneLine(upstream.Body, 300)),
			Data:    map[string]any{"status": upstream.Status, "body": upstream.Body}}
	case errors.As(err, &unreach):
		if unreach.Timeout {
			return &Error{Status: http.StatusGatewayTimeout, Type: "action_run", Key: "external_app_timeout", Message: unreach.Message}
		}
		return &Error{Status: http.StatusBadGateway, Type: "action_run", Key: "external_app_unreachable", Message: unreach.Message}
	case errors.As(err, &refused):
		return apiError(http.StatusUnprocessableEntity, "request_refused", refused.Message)
	case errors.As(err, &config):
		return apiError(http.StatusUnprocessableEntity, "invalid_config", config.Message)
	case errors.As(err, &missing):
		return apiError(http.StatusUnprocessableEntity, "invalid_input", err.Error())
	case errors.As(err, &sel):
		return apiError(http.StatusBadRequest, "invalid_selection", sel.Message)
	case errors.Is(err, runner.ErrDisconnected):
		return apiError(http.StatusConflict, "connection_not_ready", err.Error()+": reconnect it (or restore its tenant) first")
	case errors.Is(err, runner.ErrNoConnection):
		return apiError(http.StatusBadRequest, "invalid_selection", err.Error())
	case errors.Is(err, tenancy.ErrNotFound):
		return apiError(http.StatusNotFound, "not_found", "no such action, flow or connection for this token")
	}
	return err
}

// retryAfter is the whole seconds from now until t, at least 1.
func retryAfter(t time.Time) int {
	return max(int(math.Ceil(time.Until(t).Seconds())), 1)
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		i := n
		for i > 0 && !utf8.RuneStart(s[i]) {
			i--
		}
		s = s[:i] + "…"
	}
	return s
}

// readRawInput reads a body that is the input itself: any JSON value, or nothing (no input).
// The SDK sends a string input as it is (form-encoded by axios), so a body that is not JSON and
// not declared JSON is a string input.
func readRawInput(w http.ResponseWriter, r *http.Request) (any, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, apiError(http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("request body is larger than %d bytes", MaxBodyBytes))
		}
		return nil, apiError(http.StatusBadRequest, "bad_body", "could not read the request body")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	if !utf8.Valid(body) {
		return nil, apiError(http.StatusBadRequest, "malformed_json", "request body is not valid UTF-8")
	}
	isJSON := true
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, _ := mime.ParseMediaType(ct)
		isJSON = mt == "application/json" || strings.HasSuffix(mt, "+json")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	err = dec.Decode(&v)
	if err == nil && dec.More() {
		err = errors.New("data after the JSON value")
	}
	if err != nil {
		if !isJSON {
			return string(body), nil
		}
		return nil, jsonProblem(err)
	}
	return v, nil
}

// Flow runs.

// FlowRun is a flow run as the SDK reads it (FlowRun in SDK-CONTRACT §4), with our steps.
type FlowRun struct {
	ID               string                 `json:"id"`
	Name             string                 `json:"name"`
	FlowKey          string                 `json:"flowKey"`
	ConnectionFlowID string                 `json:"connectionFlowId"`
	FlowInstanceID   string                 `json:"flowInstanceId"`
	StartNodeKey     string                 `json:"startNodeKey"`
	State            string                 `json:"state"`
	StartTime        time.Time              `json:"startTime"`
	EndTime          *time.Time             `json:"endTime,omitempty"`
	CreatedAt        time.Time              `json:"createdAt"`
	StartedAt        *time.Time             `json:"startedAt,omitempty"`
	Input            any                    `json:"input"`
	Output           any                    `json:"output"`
	Errors           []tenancy.RunError     `json:"errors"`
	Nodes            map[string]FlowRunNode `json:"nodes"`
	Steps            []tenancy.FlowStep     `json:"steps"`
	UserID           string                 `json:"userId"`
	TenantID         string                 `json:"tenantId"`
	ConnectionID     string                 `json:"connectionId"`
	LaunchedBy       FlowRunLaunchedBy      `json:"launchedBy"`
	StopRequested    bool                   `json:"stopRequested"`
}

// FlowRunNode is one step as the SDK's FlowRunNode has it: counts, not values (each step's output
// is in steps).
type FlowRunNode struct {
	State       string `json:"state"`
	Runs        int    `json:"runs"`
	ErroredRuns int    `json:"erroredRuns"`
	Outputs     int    `json:"outputs"`
}

// FlowRunLaunchedBy says what started a run.
type FlowRunLaunchedBy struct {
	Type string `json:"type"`
}

var launchTypes = map[string]bool{"api-trigger": true, "schedule-trigger": true, "app-event-trigger": true,
	"data-source-trigger": true, "external-event": true}

func flowRunOut(r *tenancy.FlowRun) *FlowRun {
	out := &FlowRun{ID: r.ID.String(), Name: r.FlowKey, FlowKey: r.FlowKey, ConnectionFlowID: r.FlowID.String(),
		FlowInstanceID: r.FlowID.String(), StartNodeKey: r.StartNodeKey, State: r.State, StartTime: r.CreatedAt,
		EndTime: r.EndedAt, CreatedAt: r.CreatedAt, StartedAt: r.StartedAt, Input: r.Input, Output: r.Output,
		Errors: r.Errors, Steps: r.Steps, Nodes: map[string]FlowRunNode{}, UserID: r.TenantID.String(),
		TenantID: r.TenantID.String(), ConnectionID: r.ConnectionID.String(), LaunchedBy: FlowRunLaunchedBy{Type: "api-trigger"},
		StopRequested: r.StopRequested}
	if launchTypes[r.LaunchedBy] {
		out.LaunchedBy.Type = r.LaunchedBy
	}
	if out.Errors == nil {
		out.Errors = []tenancy.RunError{}
	}
	if out.Steps == nil {
		out.Steps = []tenancy.FlowStep{}
	}
	if out.StartNodeKey == "" && len(r.Steps) > 0 {
		out.StartNodeKey = r.Steps[0].Key
	}
	for _, st := range r.Steps {
		n := FlowRunNode{State: st.State}
		switch st.State {
		case tenancy.RunCompleted:
			n.Runs, n.Outputs = 1, 1
		case tenancy.RunFailed:
			n.Runs, n.ErroredRuns = 1, 1
		case tenancy.RunRunning, tenancy.RunStopped:
			n.Runs = 1
		default:
			continue // queued or skipped: not run (the SDK's node states are the four above)
		}
		out.Nodes[st.Key] = n
	}
	return out
}

// flowRunInput is the body of POST /connections/{selector}/flows/{key}/run.
type flowRunInput struct {
	NodeKey string         `json:"nodeKey"`
	Input   any            `json:"input"`
	Meta    map[string]any `json:"meta"`
}

// runConnectionFlow: POST /connections/{selector}/flows/{key}/run: queue a run of the flow on
// the connection. {key} is the template's key or id, or the connection's flow element's id.
func (a *API) runConnectionFlow(w http.ResponseWriter, r *http.Request) error {
	var in flowRunInput
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	start := runner.FlowStart{Key: r.PathValue("key"), InstanceKey: newQuery(r).str("instanceKey"), StartNodeKey: in.NodeKey, Input: in.Input}
	if err := a.inScope(r, func(tx *store.Tx) error {
		ctx := r.Context()
		c, err := tx.Connection(ctx, r.PathValue("selector"))
		if err != nil {
			return err
		}
		start.ConnectionID = c.ID
		id, err := uuid.Parse(start.Key)
		if err != nil {
			return nil
		}
		if t, err := tx.Element(ctx, tenancy.KindFlow, id.String()); err == nil {
			start.Key = t.Key
			return nil
		}
		e, err := tx.TenantElement(ctx, tenancy.KindFlow, id)
		if errors.Is(err, tenancy.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if e.ConnectionID != uuid.Nil && e.ConnectionID != c.ID {
			return tenancy.ErrNotFound
		}
		start.Key, start.InstanceKey = e.Key, e.InstanceKey
		return nil
	}); err != nil {
		return runFailure(w, err)
	}
	return a.startFlow(w, r, start)
}

// createFlowRunInput is the body of POST /flow-runs. connectionId is ours: it names the
// connection when flowInstanceId is a template's or a tenant-wide element's id.
type createFlowRunInput struct {
	FlowInstanceID string         `json:"flowInstanceId"`
	ConnectionID   string         `json:"connectionId"`
	StartNodeKey   string         `json:"startNodeKey"`
	NodeKey        string         `json:"nodeKey"`
	Input          any            `json:"input"`
	Meta           map[string]any `json:"meta"`
}

// createFlowRun: POST /flow-runs: flowInstanceId is a connection-level flow element's id (as GET
// /flow-instance returns, and as a run's connectionFlowId is); a template's or tenant-wide
// element's id runs on connectionId, or the tenant's only connection to the flow's integration.
func (a *API) createFlowRun(w http.ResponseWriter, r *http.Request) error {
	var in createFlowRunInput
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	if in.FlowInstanceID == "" {
		e := apiError(http.StatusUnprocessableEntity, "validation_error", "flowInstanceId: is required")
		e.Fields = []tenancy.FieldError{{Path: "flowInstanceId", Message: "is required"}}
		return e
	}
	start := runner.FlowStart{StartNodeKey: in.StartNodeKey, Input: in.Input}
	if start.StartNodeKey == "" {
		start.StartNodeKey = in.NodeKey
	}
	id, err := uuid.Parse(in.FlowInstanceID)
	if err != nil {
		return apiError(http.StatusNotFound, "not_found", "no flow instance "+in.FlowInstanceID)
	}
	if err := a.inScope(r, func(tx *store.Tx) error {
		ctx := r.Context()
		var named *tenancy.Connection
		if in.ConnectionID != "" {
			c, err := tx.Connection(ctx, in.ConnectionID)
			if err != nil {
				return err
			}
			named = c
		}
		tenantID, integrationID := tx.Scope.TenantID, uuid.Nil
		e, err := tx.TenantElement(ctx, tenancy.KindFlow, id)
		switch {
		case err == nil:
			start.Key, start.InstanceKey, tenantID, integrationID = e.Key, e.InstanceKey, e.TenantID, e.IntegrationID
			if e.ConnectionID != uuid.Nil {
				if named != nil && named.ID != e.ConnectionID {
					return tenancy.ErrNotFound
				}
				start.ConnectionID = e.ConnectionID
				return nil
			}
		case errors.Is(err, tenancy.ErrNotFound):
			t, err := tx.Element(ctx, tenancy.KindFlow, id.String())
			if err != nil {
				return err
			}
			start.Key, integrationID = t.Key, t.IntegrationID
		default:
			return err
		}
		if named != nil {
			if tenantID != uuid.Nil && named.TenantID != tenantID {
				return tenancy.ErrNotFound
			}
			start.ConnectionID = named.ID
			return nil
		}
		if tenantID == uuid.Nil {
			return apiError(http.StatusBadRequest, "invalid_selection",
				"flowInstanceId names the flow itself: a workspace token must also name the connection (connectionId), or use a connection's flow instance id")
		}
		c, err := runner.OnlyConnection(ctx, tx, tenantID, integrationID)
		if err != nil {
			return err
		}
		start.ConnectionID = c.ID
		return nil
	}); err != nil {
		return runFailure(w, err)
	}
	return a.startFlow(w, r, start)
}

func (a *API) startFlow(w http.ResponseWriter, r *http.Request, start runner.FlowStart) error {
	run, err := a.runs.StartFlow(r.Context(), callerFrom(r.Context()).scope, start)
	if err != nil {
		return runFailure(w, err)
	}
	writeJSON(w, http.StatusCreated, flowRunOut(run))
	return nil
}

// listFlowRuns: GET /flow-runs?state=&connectionId=&flowId=&tenantId=&from=&to=&limit=&cursor=,
// newest first. A filter naming something that does not exist (or is another tenant's) selects
// nothing.
func (a *API) listFlowRuns(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	limit, err := q.limit(100, 1000)
	if err != nil {
		return err
	}
	f := store.FlowRunFilter{State: q.str("state"), Limit: limit, Cursor: q.str("cursor")}
	if f.From, err = parseTime(q, "from"); err != nil {
		return err
	}
	if f.To, err = parseTime(q, "to"); err != nil {
		return err
	}
	out := listResponse[*FlowRun]{Items: []*FlowRun{}}
	err = a.inScope(r, func(tx *store.Tx) error {
		ctx := r.Context()
		if c := firstOf(q, "connectionId", "connectionKey"); c != "" {
			conn, err := tx.Connection(ctx, c)
			if errors.Is(err, tenancy.ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			f.ConnectionID = conn.ID
		}
		if fl := firstOf(q, "flowId", "connectionFlowId", "flowInstanceId", "integrationFlowId"); fl != "" {
			id, err := uuid.Parse(fl)
			if err != nil {
				return nil
			}
			f.FlowID = id
		}
		if t := firstOf(q, "tenantId", "userId"); t != "" {
			tenant, err := tx.Tenant(ctx, t)
			if errors.Is(err, tenancy.ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			f.TenantID = tenant.ID
		}
		page, err := tx.ListFlowRuns(ctx, f)
		if err != nil {
			return err
		}
		out = listOf(page.Items, page.Cursor, flowRunOut)
		return nil
	})
	if err != nil {
		return listError(err)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// withFlowRun reads the run named in the path (404 when it is not the caller's) through fn.
func (a *API) withFlowRun(r *http.Request, fn func(tx *store.Tx, id uuid.UUID) (*tenancy.FlowRun, error)) (*tenancy.FlowRun, error) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return nil, tenancy.ErrNotFound
	}
	var run *tenancy.FlowRun
	err = a.inScope(r, func(tx *store.Tx) error {
		run, err = fn(tx, id)
		return err
	})
	return run, err
}

func (a *API) getFlowRun(w http.ResponseWriter, r *http.Request) error {
	run, err := a.withFlowRun(r, func(tx *store.Tx, id uuid.UUID) (*tenancy.FlowRun, error) { return tx.FlowRun(r.Context(), id) })
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, flowRunOut(run))
	return nil
}

// stopFlowRun: a queued run stops at once, a running one before its next step; an ended run is
// returned as it is.
func (a *API) stopFlowRun(w http.ResponseWriter, r *http.Request) error {
	run, err := a.withFlowRun(r, func(tx *store.Tx, id uuid.UUID) (*tenancy.FlowRun, error) { return tx.StopFlowRun(r.Context(), id) })
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, flowRunOut(run))
	return nil
}

// getFlowRunOutput is the run's output: its last step's (null until it completes).
func (a *API) getFlowRunOutput(w http.ResponseWriter, r *http.Request) error {
	run, err := a.withFlowRun(r, func(tx *store.Tx, id uuid.UUID) (*tenancy.FlowRun, error) { return tx.FlowRun(r.Context(), id) })
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, run.Output)
	return nil
}
