package tenancy

import (
	"time"

	"github.com/google/uuid"
)

// ElementKind is what an integration element is. Connectors, actions, flows, data sources and
// field mappings exist on three levels: universe (public, read-only), workspace (templates) and
// tenant (a tenant's own, or its customization of a template). Apps exist only in the universe.
type ElementKind string

const (
	KindApp          ElementKind = "app" // universe only
	KindConnector    ElementKind = "connector"
	KindAction       ElementKind = "action"
	KindFlow         ElementKind = "flow"
	KindDataSource   ElementKind = "data-source"
	KindFieldMapping ElementKind = "field-mapping"
)

// ElementKinds are the kinds a workspace defines and a tenant customizes, in display order.
var ElementKinds = []ElementKind{KindConnector, KindAction, KindFlow, KindDataSource, KindFieldMapping}

// UniverseKinds are the kinds the universe catalog ships.
var UniverseKinds = []ElementKind{KindApp, KindConnector, KindAction}

// Plural is the kind's collection name in URLs: actions, data-sources, …
func (k ElementKind) Plural() string { return string(k) + "s" }

// Title is the kind's name for people.
func (k ElementKind) Title() string {
	switch k {
	case KindApp:
		return "App"
	case KindConnector:
		return "Connector"
	case KindAction:
		return "Action"
	case KindFlow:
		return "Flow"
	case KindDataSource:
		return "Data source"
	case KindFieldMapping:
		return "Field mapping"
	}
	return string(k)
}

// Valid reports whether k is a workspace/tenant element kind.
func (k ElementKind) Valid() bool {
	for _, x := range ElementKinds {
		if x == k {
			return true
		}
	}
	return false
}

// KindByPlural finds a kind by its collection name ("data-sources").
func KindByPlural(p string) (ElementKind, bool) {
	for _, k := range append(ElementKinds, KindApp) {
		if k.Plural() == p {
			return k, true
		}
	}
	return "", false
}

// ActionTypes are the action types Membrane's SDK knows. Only http-request runs here; the others
// can be stored (a workspace may define them ahead) and are refused when run.
var ActionTypes = []string{
	"http-request", "list-data-records", "find-data-record-by-id", "match-data-record", "create-data-record",
	"find-or-create-data-record", "update-data-record", "delete-data-record", "search-data-record",
	"connector-operation", "api-request-to-external-app", "api-request-to-your-app", "run-javascript", "api-request",
}

// Auth types of an integration: how a run authenticates to the external app.
var AuthTypes = []string{"none", "api-key-header", "bearer", "basic"}

// Integration is an external app the workspace supports.
type Integration struct {
	ID         uuid.UUID
	Key        string
	Name       string
	LogoURI    string
	BaseURL    string
	AuthType   string // none, api-key-header, bearer, basic
	CreatedAt  time.Time
	UpdatedAt  time.Time
	ArchivedAt *time.Time
}

// UniverseElement is a public element shipped with Tenantry: an app, a connector or an action.
type UniverseElement struct {
	ID          uuid.UUID
	Kind        ElementKind
	Key         string
	Name        string
	Description string
	AppKey      string // the app a connector or action belongs to
	Type        string // an action's type
	Config      map[string]any
}

// Element status on a tenant's level, as the Console shows each template for one tenant.
const (
	StatusInherited  = "inherited"   // the tenant uses the template as it is
	StatusCustomized = "customized"  // the tenant overrides part of it
	StatusTenantOnly = "tenant-only" // the tenant's own element, no template
)

// Element is a workspace element (a template: TenantID is Nil) or a tenant-level element (the
// tenant's own, or with ParentID a customization of a template; with ConnectionID tied to one
// of the tenant's connections).
type Element struct {
	ID                uuid.UUID
	Kind              ElementKind
	Key               string
	Name              string // the effective name (a customization without its own name shows the template's)
	Description       string
	Type              string
	IntegrationID     uuid.UUID
	IntegrationKey    string
	TenantID          uuid.UUID
	ConnectionID      uuid.UUID
	InstanceKey       string
	ParentID          uuid.UUID // the template a customization overrides
	UniversalParentID uuid.UUID
	// Config is this layer as stored: the whole config of a template or tenant-own element, the
	// override (a merge patch) of a customization.
	Config map[string]any
	// Effective is the config in force: the chain universe → workspace → tenant → connection,
	// each layer merged onto the one above.
	Effective map[string]any
	// ParentEffective is what the layers above this one give (for a customization: the
	// template's effective config, with the tenant-wide customization for a connection-level
	// one). Nil for a template or a tenant-own element.
	ParentEffective map[string]any
	OwnName         string // the name stored on this row ('' on a customization that keeps the template's)
	CreatedAt       time.Time
	UpdatedAt       time.Time
	ArchivedAt      *time.Time
}

// IsTemplate reports whether e is a workspace element.
func (e *Element) IsTemplate() bool { return e.TenantID == uuid.Nil }

// IsCustomized reports whether e is a customization that overrides anything.
func (e *Element) IsCustomized() bool {
	return e.ParentID != uuid.Nil && (len(e.Config) > 0 || e.OwnName != "")
}

// Status is the element's status on the tenant level.
func (e *Element) Status() string {
	switch {
	case e.ParentID == uuid.Nil:
		return StatusTenantOnly
	case e.IsCustomized():
		return StatusCustomized
	}
	return StatusInherited
}

// Connection is one tenant's authenticated link to one integration.
type Connection struct {
	ID              uuid.UUID
	TenantID        uuid.UUID
	TenantInternal  string
	TenantName      string
	IntegrationID   uuid.UUID
	IntegrationKey  string
	IntegrationName string
	Name            string
	Key             string
	State           string // READY, DISCONNECTED, …
	Disconnected    bool
	IsTest          bool
	CredentialKeys  []string
	Meta            map[string]any
	CreatedAt       time.Time
	UpdatedAt       time.Time
	LastActiveAt    *time.Time
	ArchivedAt      *time.Time
	DeactivatedAt   *time.Time
}

// Connection states.
const (
	StateReady        = "READY"
	StateDisconnected = "DISCONNECTED"
)

// Connected reports whether the connection can be used: not disconnected, deactivated or archived.
func (c *Connection) Connected() bool {
	return !c.Disconnected && c.DeactivatedAt == nil && c.ArchivedAt == nil
}

// EventSubscription is a tenant's subscription to an integration event on one connection.
type EventSubscription struct {
	ID           uuid.UUID
	TenantID     uuid.UUID
	ConnectionID uuid.UUID
	EventType    string
	WebhookURI   string
	CreatedAt    time.Time
}

// ActivityEntry is one entry of the activity log.
type ActivityEntry struct {
	ID            uuid.UUID
	CreatedAt     time.Time
	TenantID      uuid.UUID // Nil: a workspace-level entry (managers only)
	Type          string
	Status        string // success, warning, error
	ActorType     ActorType
	ActorID       string
	ConnectionID  uuid.UUID
	IntegrationID uuid.UUID
	ElementID     uuid.UUID
	Message       string
	Details       map[string]any
	DurationMS    *int
	RequestID     string
}
