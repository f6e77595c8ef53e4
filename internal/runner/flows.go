package runner

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"tenantry/internal/store"
	"tenantry/internal/tenancy"
)

// Flows: a flow's effective config is {"steps": [{"key", "action", "input"}]}; a run executes the
// steps in order on one connection, each step's input a template over the run's input and the
// outputs before it ({{input.x}}, {{steps.list.output.results}}). Runs are queued in the database
// and executed by workers in any server process, one run at a time per connection.

// StaleAfter is how long a running run may go without a heartbeat before another worker takes it
// over (its process died); heartbeats come every HeartbeatEvery.
const (
	StaleAfter     = 60 * time.Second
	HeartbeatEvery = 10 * time.Second
)

// FlowStart names a flow to run.
type FlowStart struct {
	Key          string // the flow's key
	ConnectionID uuid.UUID
	InstanceKey  string
	StartNodeKey string // the step to start at ("" = the first)
	Input        any
}

// StartFlow queues a run of the flow on the connection and returns it (state queued).
func (s *Service) StartFlow(ctx context.Context, scope tenancy.Scope, f FlowStart) (*tenancy.FlowRun, error) {
	var run *tenancy.FlowRun
	err := s.db.InScope(ctx, scope, func(tx *store.Tx) error {
		if f.ConnectionID == uuid.Nil {
			return &SelectionError{Message: "name the connection to run the flow on"}
		}
		conn, err := tx.Connection(ctx, f.ConnectionID.String())
		if err != nil {
			return err
		}
		if !conn.Connected() {
			return fmt.Errorf("%w: %s is %s", ErrDisconnected, conn.Name, connState(conn))
		}
		flow, err := tx.EffectiveElement(ctx, store.TenantElementAt{TenantID: conn.TenantID, Kind: tenancy.KindFlow, Key: f.Key,
			ConnectionID: conn.ID, InstanceKey: f.InstanceKey})
		if err != nil {
			return err
		}
		if flow.IntegrationID != uuid.Nil && flow.IntegrationID != conn.IntegrationID {
			return &SelectionError{Message: fmt.Sprintf("flow %s belongs to another integration than connection %s (%s)", f.Key, conn.Name, conn.IntegrationKey)}
		}
		steps, err := flowSteps(flow)
		if err != nil {
			return err
		}
		if f.StartNodeKey != "" {
			i := -1
			for j, st := range steps {
				if st.Key == f.StartNodeKey {
					i = j
				}
			}
			if i < 0 {
				return tenancy.Invalid("nodeKey", "flow %s has no step %q", f.Key, f.StartNodeKey)
			}
			for j := 0; j < i; j++ {
				steps[j].State = "skipped"
			}
		}
		run, err = tx.CreateFlowRun(ctx, store.NewFlowRun{TenantID: conn.TenantID, ConnectionID: conn.ID, FlowID: flow.ID,
			FlowKey: flow.Key, StartNodeKey: f.StartNodeKey, Input: orEmptyInput(f.Input), Steps: steps})
		return err
	})
	if err != nil {
		return nil, err
	}
	s.obs.FlowQueued()
	select {
	case s.poke <- struct{}{}:
	default:
	}
	return run, nil
}

// flowSteps reads a flow's steps from its effective config.
func flowSteps(flow *tenancy.Element) ([]tenancy.FlowStep, error) {
	raw, _ := flow.Effective["steps"].([]any)
	if len(raw) == 0 {
		return nil, &ConfigError{Message: fmt.Sprintf("flow %s has no steps", flow.Key)}
	}
	steps := make([]tenancy.FlowStep, len(raw))
	seen := map[string]bool{}
	for i, r := range raw {
		m, _ := r.(map[string]any)
		action, _ := m["action"].(string)
		key, _ := m["key"].(string)
		if key == "" {
			key = fmt.Sprintf("step-%d", i+1)
		}
		if action == "" || seen[key] {
			return nil, &ConfigError{Message: fmt.Sprintf("flow %s: step %d needs an action and a unique key", flow.Key, i+1)}
		}
		seen[key] = true
		steps[i] = tenancy.FlowStep{Key: key, Action: action, Input: m["input"], State: tenancy.RunQueued}
	}
	return steps, nil
}

// Work runs flow runs until ctx ends, with n workers; each claims the oldest runnable queued run
// of any workspace (none of one connection at once, across processes), or sleeps until poked.
// The returned func waits for the workers to return once ctx has ended.
func (s *Service) Work(ctx context.Context, n int) (wait func()) {
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				ws, id, ok, err := s.db.ClaimFlowRun(ctx, StaleAfter)
				if err != nil && ctx.Err() == nil {
					s.log.Error("claim flow run", "err", err)
				}
				if !ok {
					select {
					case <-ctx.Done():
						return
					case <-s.poke:
					case <-time.After(time.Second):
					}
					continue
				}
				s.obs.FlowClaimed()
				s.execute(ctx, ws, id)
			}
		}()
	}
	return wg.Wait
}

// execute runs a claimed run's unfinished steps.
func (s *Service) execute(ctx context.Context, workspaceID, runID uuid.UUID) {
	sys := tenancy.Scope{WorkspaceID: workspaceID, Actor: tenancy.Actor{Type: tenancy.ActorSystem}}
	var run *tenancy.FlowRun
	var settings tenancy.Settings
	if err := s.db.InScope(ctx, sys, func(tx *store.Tx) error {
		var err error
		if run, err = tx.FlowRun(ctx, runID); err != nil {
			return err
		}
		ws, err := tx.Workspace(ctx)
		if err == nil {
			settings = ws.Settings
		}
		return err
	}); err != nil {
		s.log.Error("load flow run", "run", runID, "err", err)
		return
	}
	// The run acts for its tenant: entries carry it, RLS limits it to the tenant's rows.
	scope := tenancy.Scope{WorkspaceID: workspaceID, TenantID: run.TenantID, Actor: tenancy.Actor{Type: tenancy.ActorSystem}}
	beat, stopBeat := context.WithCancel(ctx)
	defer stopBeat()
	go func() {
		t := time.NewTicker(HeartbeatEvery)
		defer t.Stop()
		for {
			select {
			case <-beat.Done():
				return
			case <-t.C:
				_ = s.db.InScope(beat, scope, func(tx *store.Tx) error { return tx.BeatFlowRun(beat, runID) })
			}
		}
	}()
	outputs := map[string]any{}
	var last any
	for i := range run.Steps {
		st := &run.Steps[i]
		switch st.State {
		case tenancy.RunCompleted:
			outputs[st.Key] = map[string]any{"output": st.Output}
			last = st.Output
			continue
		case "skipped":
			continue
		}
		now := time.Now()
		st.State, st.StartedAt, st.Error = tenancy.RunRunning, &now, nil
		stop, err := s.saveSteps(ctx, scope, run)
		if err != nil {
			s.log.Error("flow run progress", "run", runID, "err", err)
			return // the heartbeat stops; another worker resumes it
		}
		if stop {
			st.State = tenancy.RunStopped
			s.finish(ctx, scope, run, tenancy.RunStopped, last, nil)
			return
		}
		input, err := Data{"input": orEmptyInput(run.Input), "steps": outputs}.Render(st.Input, nil)
		var res *ActionResult
		if err == nil {
			res, err = s.RunAction(ctx, scope, ActionRun{Key: st.Action, ConnectionID: run.ConnectionID, Input: input,
				Settings: settings, flowRunID: run.ID, steps: outputs})
		}
		end := time.Now()
		st.EndedAt, st.DurationMS = &end, int(end.Sub(now).Milliseconds())
		if err != nil {
			if ctx.Err() != nil {
				return // shutting down: the run stays running and is resumed by the next claim
			}
			st.State = tenancy.RunFailed
			re := runError(err)
			st.Error = &re
			s.finish(ctx, scope, run, tenancy.RunFailed, nil, []tenancy.RunError{{Type: re.Type, Key: re.Key,
				Message: fmt.Sprintf("step %s (%s): %s", st.Key, st.Action, re.Message), Data: re.Data}})
			return
		}
		st.State, st.Output, st.RunID = tenancy.RunCompleted, res.Output, res.RunID.String()
		outputs[st.Key] = map[string]any{"output": res.Output}
		last = res.Output
	}
	s.finish(ctx, scope, run, tenancy.RunCompleted, last, nil)
}

func (s *Service) saveSteps(ctx context.Context, scope tenancy.Scope, run *tenancy.FlowRun) (stop bool, err error) {
	err = s.db.InScope(ctx, scope, func(tx *store.Tx) error {
		stop, err = tx.SaveFlowRunSteps(ctx, run.ID, run.Steps)
		return err
	})
	return stop, err
}

func (s *Service) finish(ctx context.Context, scope tenancy.Scope, run *tenancy.FlowRun, state string, output any, errs []tenancy.RunError) {
	fctx := context.WithoutCancel(ctx)
	if err := s.db.InScope(fctx, scope, func(tx *store.Tx) error {
		return tx.FinishFlowRun(fctx, run, state, output, errs)
	}); err != nil {
		s.log.Error("finish flow run", "run", run.ID, "err", err)
		return
	}
	switch state {
	case tenancy.RunCompleted:
		s.obs.FlowRun(OutcomeSucceeded)
	case tenancy.RunStopped:
		s.obs.FlowRun(OutcomeStopped)
	default:
		s.obs.FlowRun(OutcomeFailed)
	}
}

// runError describes err in the SDK's ErrorData shape.
func runError(err error) tenancy.RunError {
	var ue *UpstreamError
	var ce *store.CreditsExceededError
	switch {
	case errors.As(err, &ue):
		return tenancy.RunError{Type: "action_run", Key: "external_app_error", Message: err.Error(),
			Data: map[string]any{"status": ue.Status, "body": ue.Body}}
	case errors.As(err, &ce):
		return tenancy.RunError{Type: "bad_request", Key: "ai_credits_exceeded", Message: err.Error(), Data: ce.Data()}
	}
	return tenancy.RunError{Type: "bad_request", Key: "run_failed", Message: err.Error()}
}
