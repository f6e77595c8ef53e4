package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"

	"tenantry/internal/store"
	"tenantry/internal/tenancy"
)

// Service runs a tenant's actions and flows: it resolves the effective element and the
// connection in the caller's scope, charges AI credits atomically, calls the external app outside
// any transaction, and records every run — success or failure — in the activity log.
type Service struct {
	db   *store.DB
	http *Runner
	log  *slog.Logger
	poke chan struct{} // wakes the flow workers when a run is queued
	obs  Observer
}

// NewService returns a Service on db.
func NewService(db *store.DB, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{db: db, http: New(), log: log, poke: make(chan struct{}, 1), obs: noObserver{}}
}

// Observer hears what runs come to, for metrics (internal/metrics implements it). Its methods
// are called on the run's goroutine: they must be quick and safe for concurrent use.
type Observer interface {
	ActionRun(outcome string)    // "succeeded", "failed" or "refused"
	FlowRun(outcome string)      // "succeeded", "failed" or "stopped"
	FlowQueued()                 // a flow run was queued
	FlowClaimed()                // a worker claimed a flow run
	CreditsRefused(scope string) // an AI credit limit ("tenant" or "workspace") refused a run
}

// Run outcomes told to an Observer.
const (
	OutcomeSucceeded = "succeeded"
	OutcomeFailed    = "failed"
	OutcomeRefused   = "refused"
	OutcomeStopped   = "stopped"
)

type noObserver struct{}

func (noObserver) ActionRun(string)      {}
func (noObserver) FlowRun(string)        {}
func (noObserver) FlowQueued()           {}
func (noObserver) FlowClaimed()          {}
func (noObserver) CreditsRefused(string) {}

// SetObserver installs o (nil: none). Call it before the service runs anything.
func (s *Service) SetObserver(o Observer) {
	if o == nil {
		o = noObserver{}
	}
	s.obs = o
}

// ActionRun names the action to run and where.
type ActionRun struct {
	Key          string    // the action's key (template or tenant-own)
	ConnectionID uuid.UUID // the connection, or Nil: the tenant's only connection to the action's integration
	Connection   string    // a connection id or key (tenant scopes), when ConnectionID is Nil
	Integration  string    // an integration key or id the caller expects the action to belong to
	InstanceKey  string
	Input        any
	Settings     tenancy.Settings // the workspace's, for credit limits
	flowRunID    uuid.UUID        // set for a flow's step
	steps        map[string]any   // a flow's earlier steps, for {{steps.key.output}}
}

// ActionResult is a successful run.
type ActionResult struct {
	Output   any
	RunID    uuid.UUID
	Duration time.Duration
}

// Errors a run returns besides the runner's (ConfigError, RefusedError, UpstreamError,
// UnreachableError) and store.CreditsExceededError.
var (
	// ErrNoConnection: no connection was named and the tenant has none (or several) to the integration.
	ErrNoConnection = errors.New("no connection")
	// ErrDisconnected: the connection cannot be used (disconnected, deactivated or archived).
	ErrDisconnected = errors.New("connection is not connected")
)

// SelectionError explains why no single connection was chosen.
type SelectionError struct{ Message string }

func (e *SelectionError) Error() string { return e.Message }
func (e *SelectionError) Unwrap() error { return ErrNoConnection }

// prepared is what a run needs, read in one scoped transaction.
type prepared struct {
	action      *tenancy.Element
	conn        *tenancy.Connection
	integration *tenancy.Integration
	tenant      *tenancy.Tenant
	creds       map[string]any
	mapping     map[string]any
	credits     float64
	// apiKeyHeader is the header an api-key-header integration sends the key in: the
	// integration's connector element says (config.apiKeyHeader), else X-API-Key.
	apiKeyHeader string
}

// RunAction runs an action for the scope's tenant (or, for a workspace scope, the connection's).
func (s *Service) RunAction(ctx context.Context, scope tenancy.Scope, run ActionRun) (*ActionResult, error) {
	runID := tenancy.NewID()
	var p prepared
	if err := s.db.InScope(ctx, scope, func(tx *store.Tx) error {
		var err error
		p, err = s.prepare(ctx, tx, scope, run)
		return err
	}); err != nil {
		return nil, err
	}
	if p.credits > 0 {
		err := s.db.InScope(ctx, scope, func(tx *store.Tx) error {
			return tx.ConsumeCredits(ctx, store.CreditCharge{TenantID: p.conn.TenantID, Credits: p.credits, ElementID: p.action.ID, RunID: runID}, run.Settings)
		})
		var ce *store.CreditsExceededError
		if errors.As(err, &ce) {
			s.obs.CreditsRefused(ce.Scope)
			s.obs.ActionRun(OutcomeRefused)
			details := ce.Data()
			details["action"] = run.Key
			if rerr := s.db.InScope(ctx, scope, func(tx *store.Tx) error {
				return tx.Record(ctx, store.Activity{Type: "limit.exceeded", Status: "warning", TenantID: p.conn.TenantID,
					ConnectionID: p.conn.ID, IntegrationID: p.conn.IntegrationID, ElementID: p.action.ID,
					Message: fmt.Sprintf("Action %s refused: the %s's AI credit limit would be passed", run.Key, ce.Scope), Details: details})
			}); rerr != nil {
				s.log.ErrorContext(ctx, "record limit.exceeded", "err", rerr)
			}
			return nil, ce
		}
		if err != nil {
			return nil, err
		}
	}
	data := Data{
		"input":       orEmptyInput(run.Input),
		"fields":      mapOrEmpty(p.tenant.Fields),
		"credentials": p.creds,
		"connection":  map[string]any{"id": p.conn.ID.String(), "key": p.conn.Key, "name": p.conn.Name},
		"tenant":      map[string]any{"id": p.tenant.ID.String(), "internalId": p.tenant.InternalID, "name": p.tenant.Name},
	}
	if run.steps != nil {
		data["steps"] = run.steps
	}
	start := time.Now()
	res, runErr := s.http.Do(ctx, Call{
		Integration: Integration{Key: p.integration.Key, BaseURL: p.integration.BaseURL, AuthType: p.integration.AuthType, APIKeyHeader: p.apiKeyHeader},
		Config:      p.action.Effective, Data: data, Credentials: p.creds,
	})
	dur := time.Since(start)
	var refused *RefusedError
	switch {
	case runErr == nil:
		s.obs.ActionRun(OutcomeSucceeded)
	case errors.As(runErr, &refused):
		s.obs.ActionRun(OutcomeRefused)
	default:
		s.obs.ActionRun(OutcomeFailed)
	}
	var output any
	if runErr == nil {
		output = ApplyMapping(p.mapping, res.Output)
	}
	// The record: input, output (trimmed), request, duration; secrets redacted by the recorder.
	ms := int(dur.Milliseconds())
	details := map[string]any{"input": run.Input, "action": run.Key}
	entry := store.Activity{ID: runID, Type: "action.run", TenantID: p.conn.TenantID, ConnectionID: p.conn.ID,
		IntegrationID: p.conn.IntegrationID, ElementID: p.action.ID, DurationMS: &ms, Details: details}
	if run.flowRunID != uuid.Nil {
		details["flowRunId"] = run.flowRunID
	}
	if runErr != nil {
		entry.Status = "error"
		entry.Message = fmt.Sprintf("Action %s failed: %s", run.Key, runErr)
		details["error"] = errorDetails(runErr)
	} else {
		entry.Status = "success"
		entry.Message = fmt.Sprintf("Action %s ran (%d)", run.Key, res.Status)
		details["output"] = trimOutput(output)
		details["request"] = map[string]any{"method": res.Method, "url": res.URL, "status": res.Status}
	}
	// The recorder redacts secret-looking keys; the connection's own secret values are scrubbed
	// here wherever they appear (an external app may echo a token back).
	entry.Details = scrubValues(details, p.creds).(map[string]any)
	entry.Message = scrubValues(entry.Message, p.creds).(string)
	// The call happened, so it is recorded even when the caller has gone (a cancelled request):
	// the record does not follow the caller's context, only a bound of its own.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.db.InScope(rctx, scope, func(tx *store.Tx) error {
		if err := tx.Record(rctx, entry); err != nil {
			return err
		}
		return tx.TouchConnection(rctx, p.conn.ID)
	}); err != nil {
		s.log.ErrorContext(ctx, "record action run", "err", err)
		if runErr == nil {
			return nil, err
		}
	}
	if runErr != nil {
		return nil, runErr
	}
	return &ActionResult{Output: output, RunID: runID, Duration: dur}, nil
}

func (s *Service) prepare(ctx context.Context, tx *store.Tx, scope tenancy.Scope, run ActionRun) (prepared, error) {
	var p prepared
	if !tenancy.ValidKey(run.Key) {
		return p, tenancy.ErrNotFound
	}
	var expect uuid.UUID // the integration the caller named, if any
	if run.Integration != "" {
		in, err := tx.Integration(ctx, run.Integration)
		if err != nil {
			return p, tenancy.ErrNotFound
		}
		expect = in.ID
	}
	// The connection: named (one query reads it with its integration, tenant fields and
	// credentials), or the tenant's only usable one to the action's integration.
	sel := run.Connection
	if run.ConnectionID != uuid.Nil {
		sel = run.ConnectionID.String()
	}
	if sel == "" {
		if scope.WorkspaceWide() {
			return p, &SelectionError{Message: "a workspace token must name the connection to run on (connectionId)"}
		}
		integrationID := expect
		if integrationID == uuid.Nil {
			// The action's template (or, without one, the tenant's own element) tells its integration.
			template, err := tx.Element(ctx, tenancy.KindAction, run.Key)
			switch {
			case err == nil:
				integrationID = template.IntegrationID
			case errors.Is(err, tenancy.ErrNotFound):
				own, err2 := tx.TenantLevelElement(ctx, store.TenantElementAt{TenantID: scope.TenantID, Kind: tenancy.KindAction, Key: run.Key})
				if err2 != nil {
					return p, err2
				}
				integrationID = own.IntegrationID
			default:
				return p, err
			}
		}
		c, err := OnlyConnection(ctx, tx, scope.TenantID, integrationID)
		if err != nil {
			return p, err
		}
		sel = c.ID.String()
	}
	rc, err := tx.ConnectionForRun(ctx, sel)
	if err != nil {
		return p, err
	}
	p.conn = rc.Connection
	if !p.conn.Connected() {
		return p, fmt.Errorf("%w: %s is %s", ErrDisconnected, p.conn.Name, connState(p.conn))
	}
	if expect != uuid.Nil && p.conn.IntegrationID != expect {
		return p, &SelectionError{Message: fmt.Sprintf("connection %s is to %s, not to the integration named", p.conn.Name, p.conn.IntegrationKey)}
	}
	p.action, err = tx.EffectiveElement(ctx, store.TenantElementAt{TenantID: p.conn.TenantID, Kind: tenancy.KindAction, Key: run.Key,
		ConnectionID: p.conn.ID, InstanceKey: run.InstanceKey})
	if err != nil {
		return p, err
	}
	if p.action.IntegrationID != uuid.Nil && p.action.IntegrationID != p.conn.IntegrationID {
		return p, &SelectionError{Message: fmt.Sprintf("connection %s is to %s, not to the action's integration", p.conn.Name, p.conn.IntegrationKey)}
	}
	if p.action.Type != "http-request" {
		return p, &ConfigError{Message: fmt.Sprintf("action %s is of type %q, which Tenantry cannot run (only http-request)", run.Key, p.action.Type)}
	}
	if c, ok := p.action.Effective["credits"].(float64); ok {
		p.credits = c
	}
	p.integration = &tenancy.Integration{ID: p.conn.IntegrationID, Key: p.conn.IntegrationKey, Name: p.conn.IntegrationName,
		BaseURL: rc.BaseURL, AuthType: rc.AuthType}
	if p.integration.AuthType == "api-key-header" {
		connectors, err := tx.ListElements(ctx, store.ElementFilter{Kind: tenancy.KindConnector, IntegrationID: p.integration.ID, Limit: 1})
		if err != nil {
			return p, err
		}
		if len(connectors.Items) > 0 {
			p.apiKeyHeader, _ = connectors.Items[0].Effective["apiKeyHeader"].(string)
		}
	}
	p.tenant = &tenancy.Tenant{ID: p.conn.TenantID, InternalID: p.conn.TenantInternal, Name: p.conn.TenantName, Fields: rc.TenantFields}
	p.creds, _ = rc.Credentials.(map[string]any)
	if p.creds == nil {
		p.creds = map[string]any{}
	}
	if key, ok := p.action.Effective["outputMapping"].(string); ok && key != "" {
		fm, err := tx.EffectiveElement(ctx, store.TenantElementAt{TenantID: p.conn.TenantID, Kind: tenancy.KindFieldMapping, Key: key, ConnectionID: p.conn.ID})
		if err != nil {
			return p, &ConfigError{Message: fmt.Sprintf("the action's output mapping %q: %v", key, err)}
		}
		p.mapping, _ = fm.Effective["importValue"].(map[string]any)
	}
	return p, nil
}

// OnlyConnection is a tenant's only usable connection to an integration (any integration when
// integrationID is Nil): none or several is a *SelectionError that says what to name.
func OnlyConnection(ctx context.Context, tx *store.Tx, tenantID, integrationID uuid.UUID) (*tenancy.Connection, error) {
	yes := true
	page, err := tx.ListConnections(ctx, store.ConnectionFilter{TenantID: tenantID, IntegrationID: integrationID, Connected: &yes, Limit: 10})
	if err != nil {
		return nil, err
	}
	switch len(page.Items) {
	case 1:
		return page.Items[0], nil
	case 0:
		return nil, &SelectionError{Message: "the tenant has no usable connection to this element's integration: create one, or name one with connectionId"}
	}
	names := make([]string, len(page.Items))
	for i, c := range page.Items {
		names[i] = c.ID.String() + " (" + c.Name + ")"
	}
	return nil, &SelectionError{Message: "the tenant has several connections to this element's integration; name one with connectionId: " + strings.Join(names, ", ")}
}

func connState(c *tenancy.Connection) string {
	switch {
	case c.ArchivedAt != nil:
		return "archived"
	case c.DeactivatedAt != nil:
		return "deactivated (its tenant is archived)"
	}
	return "disconnected"
}

func errorDetails(err error) map[string]any {
	var ue *UpstreamError
	if errors.As(err, &ue) {
		return map[string]any{"status": ue.Status, "body": ue.Body, "message": err.Error()}
	}
	return map[string]any{"message": err.Error()}
}

func trimOutput(v any) any {
	return store.TrimForLog(v)
}

func orEmptyInput(v any) any {
	if v == nil {
		return map[string]any{}
	}
	return v
}

func mapOrEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// scrubValues replaces, in every string of v, each secret string value of creds (4 characters or
// longer) with [redacted], and drops NUL characters (PostgreSQL cannot store them, and a run that
// happened must be recorded whatever its input or the external app's answer held).
func scrubValues(v any, creds map[string]any) any {
	var secrets []string
	for _, c := range creds {
		if s, ok := c.(string); ok && len(s) >= 4 {
			secrets = append(secrets, s)
		}
	}
	var walk func(any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case string:
			x = strings.ReplaceAll(x, "\x00", "")
			for _, s := range secrets {
				x = strings.ReplaceAll(x, s, tenancy.Redacted)
			}
			return x
		case map[string]any:
			out := make(map[string]any, len(x))
			for k, val := range x {
				out[strings.ReplaceAll(k, "\x00", "")] = walk(val)
			}
			return out
		case []any:
			out := make([]any, len(x))
			for i, val := range x {
				out[i] = walk(val)
			}
			return out
		}
		// Other values (typed maps, structs) go through JSON so nothing escapes the scrub.
		if b, err := json.Marshal(v); err == nil {
			var generic any
			if json.Unmarshal(b, &generic) == nil {
				if _, isMap := generic.(map[string]any); isMap {
					return walk(generic)
				}
				if _, isArr := generic.([]any); isArr {
					return walk(generic)
				}
			}
		}
		return v
	}
	return walk(v)
}
