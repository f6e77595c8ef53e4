// Package tenancy owns Tenantry's domain: workspaces, managers, tenants, the scope every request
// runs in, the errors the rest of the code speaks, and pure rules (validation of tenant fields,
// merging). It knows nothing of SQL or HTTP.
package tenancy

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// ActorType says who is acting, as recorded in the activity log.
type ActorType string

const (
	ActorManager        ActorType = "manager"
	ActorWorkspaceToken ActorType = "workspace-token"
	ActorTenantToken    ActorType = "tenant-token"
	ActorSystem         ActorType = "system"
)

// Role is a manager's role in one workspace.
type Role string

const (
	RoleAdmin   Role = "admin"   // may change everything in the workspace
	RoleSupport Role = "support" // sees everything, changes nothing
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleAdmin || r == RoleSupport }

// Actor is who performs a request.
type Actor struct {
	Type ActorType
	ID   string // manager id, tenant id, or "" for workspace tokens and the system
	Role Role   // managers only
}

// CanWrite reports whether the actor may change workspace data. Support managers may not.
func (a Actor) CanWrite() bool { return a.Type != ActorManager || a.Role == RoleAdmin }

// Scope is what a request may see: one workspace, and within it either one tenant or, when
// TenantID is uuid.Nil, the whole workspace. It is resolved by middleware from a session or a
// token, never from request input, and travels to PostgreSQL as transaction-local settings that
// the row-level security policies compare against.
type Scope struct {
	WorkspaceID uuid.UUID
	TenantID    uuid.UUID
	Actor       Actor
}

// WorkspaceWide reports whether the scope covers every tenant of its workspace.
func (s Scope) WorkspaceWide() bool { return s.TenantID == uuid.Nil }

// WorkspaceScope returns a workspace-wide scope for actor.
func WorkspaceScope(workspaceID uuid.UUID, actor Actor) Scope {
	return Scope{WorkspaceID: workspaceID, Actor: actor}
}

// TenantScope returns a scope limited to one tenant.
func TenantScope(workspaceID, tenantID uuid.UUID) Scope {
	return Scope{WorkspaceID: workspaceID, TenantID: tenantID,
		Actor: Actor{Type: ActorTenantToken, ID: tenantID.String()}}
}

// SystemScope is a workspace-wide scope for work the system does on its own (seeding, jobs).
func SystemScope(workspaceID uuid.UUID) Scope {
	return Scope{WorkspaceID: workspaceID, Actor: Actor{Type: ActorSystem}}
}

// NewID returns a time-ordered UUID (v7), so that ids sort by creation and index pages stay warm.
func NewID() uuid.UUID { return uuid.Must(uuid.NewV7()) }

// Workspace is a company's space: its tenants, integrations, elements and settings.
type Workspace struct {
	ID                  uuid.UUID
	Key                 string
	Name                string
	Settings            Settings
	TenantFieldSchema   FieldSchema
	SecretRotatedAt     time.Time
	PrevSecretExpiresAt *time.Time
	CreatedAt           time.Time
	UpdatedAt           time.Time
}

// Settings are a workspace's adjustable limits and options. Pointer fields are unset = no limit.
type Settings struct {
	AICreditsRolling30DayLimit       *float64 `json:"aiCreditsRolling30DayLimit,omitempty"`
	DefaultTenantAICreditsLimit      *float64 `json:"defaultTenantAiCreditsLimit,omitempty"`
	APIRequestsPerMinutePerTenant    *int     `json:"apiRequestsPerMinutePerTenant,omitempty"`
	APIRequestsPerMinutePerWorkspace *int     `json:"apiRequestsPerMinutePerWorkspace,omitempty"`
	AllowedOrigins                   []string `json:"allowedOrigins,omitempty"`
	ActivityRetentionDays            *int     `json:"activityRetentionDays,omitempty"`
}

// Manager is a person who signs in to the Console.
type Manager struct {
	ID           uuid.UUID
	Email        string
	Name         string
	PasswordHash string
	CreatedAt    time.Time
}

// Membership is a manager's role in one workspace.
type Membership struct {
	WorkspaceID   uuid.UUID
	WorkspaceKey  string
	WorkspaceName string
	ManagerID     uuid.UUID
	Role          Role
}

// Tenant is one of the company's customers: a person, team, app or agent using integrations.
type Tenant struct {
	ID                         uuid.UUID
	WorkspaceID                uuid.UUID
	InternalID                 string
	Name                       string
	Fields                     map[string]any
	CredentialsMeta            map[string]time.Time // which credential keys are set, and when
	AICreditsRolling30DayLimit *float64
	IsTest                     bool
	CreatedAt                  time.Time
	UpdatedAt                  time.Time
	ArchivedAt                 *time.Time
	LastActiveAt               *time.Time
}

// Archived reports whether the tenant is archived.
func (t *Tenant) Archived() bool { return t.ArchivedAt != nil }

type requestIDKey struct{}

// WithRequestID returns ctx carrying the request id, so activity entries and logs can name it.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id in ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
