package tenancy

import (
	"time"

	"github.com/google/uuid"
)

// Flow run states, as Membrane's SDK knows them.
const (
	RunQueued    = "queued"
	RunRunning   = "running"
	RunCompleted = "completed"
	RunStopped   = "stopped"
	RunFailed    = "failed"
)

// FlowRun is one run of a flow on one connection: its steps run in order in the background.
type FlowRun struct {
	ID            uuid.UUID
	TenantID      uuid.UUID
	ConnectionID  uuid.UUID
	FlowID        uuid.UUID
	FlowKey       string
	State         string
	StartNodeKey  string
	Input         any
	Output        any
	Steps         []FlowStep
	Errors        []RunError
	LaunchedBy    string
	StopRequested bool
	Attempts      int
	CreatedAt     time.Time
	StartedAt     *time.Time
	EndedAt       *time.Time
}

// FlowStep is one step's progress.
type FlowStep struct {
	Key        string     `json:"key"`
	Action     string     `json:"action"`
	Input      any        `json:"input,omitempty"` // the step's input template, over the run's input and earlier steps
	State      string     `json:"state"`           // queued, running, completed, failed, stopped
	Output     any        `json:"output,omitempty"`
	Error      *RunError  `json:"error,omitempty"`
	RunID      string     `json:"actionRunId,omitempty"`
	StartedAt  *time.Time `json:"startedAt,omitempty"`
	EndedAt    *time.Time `json:"endedAt,omitempty"`
	DurationMS int        `json:"durationMs,omitempty"`
}

// RunError is an error of a run, in the SDK's ErrorData shape.
type RunError struct {
	Type    string         `json:"type"`
	Key     string         `json:"key,omitempty"`
	Message string         `json:"message"`
	Data    map[string]any `json:"data,omitempty"`
}

// Done reports whether the run has ended.
func (r *FlowRun) Done() bool {
	return r.State == RunCompleted || r.State == RunStopped || r.State == RunFailed
}
