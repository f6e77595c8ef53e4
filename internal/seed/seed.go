// Package seed creates the demo workspace a development start shows: managers to sign in with,
// tenants with fields, integrations and workspace elements of each kind. It is idempotent and
// never runs in production.
package seed

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"tenantry/internal/auth"
	"tenantry/internal/store"
	"tenantry/internal/tenancy"
)

// The demo's fixed names, printed by the start-up banner.
const (
	WorkspaceKey    = "demo"
	AdminEmail      = "admin@demo.test"
	SupportEmail    = "support@demo.test"
	DemoPassword    = "tenantry-demo"
	demoWorkspaceNm = "Demo Workspace"
)

// Result says what the seed found or made.
type Result struct {
	Workspace *tenancy.Workspace
	Created   bool // false when the demo workspace already existed
}

// Demo makes sure the demo workspace exists with its managers and data.
func Demo(ctx context.Context, db *store.DB) (*Result, error) {
	wa, err := db.LookupWorkspaceByKey(ctx, WorkspaceKey)
	if err == nil {
		if err := ensureManagers(ctx, db, wa.Workspace.ID); err != nil {
			return nil, err
		}
		return &Result{Workspace: &wa.Workspace}, nil
	}
	if !errors.Is(err, tenancy.ErrNotFound) {
		return nil, err
	}
	ws, _, err := db.CreateWorkspace(ctx, WorkspaceKey, demoWorkspaceNm)
	if errors.Is(err, tenancy.ErrConflict) { // another process seeded at the same moment
		return Demo(ctx, db)
	}
	if err != nil {
		return nil, fmt.Errorf("seed: workspace: %w", err)
	}
	if err := ensureManagers(ctx, db, ws.ID); err != nil {
		return nil, err
	}
	err = db.InScope(ctx, tenancy.SystemScope(ws.ID), func(tx *store.Tx) error {
		return seedData(ctx, tx)
	})
	if err != nil {
		return nil, fmt.Errorf("seed: data: %w", err)
	}
	return &Result{Workspace: ws, Created: true}, nil
}

func ensureManagers(ctx context.Context, db *store.DB, workspaceID uuid.UUID) error {
	for email, role := range map[string]tenancy.Role{AdminEmail: tenancy.RoleAdmin, SupportEmail: tenancy.RoleSupport} {
		if err := EnsureManager(ctx, db, workspaceID, email, DemoPassword, role); err != nil {
			return err
		}
	}
	return nil
}

// EnsureManager creates the manager if the email is new and gives them role in the workspace.
// An existing manager keeps their password.
func EnsureManager(ctx context.Context, db *store.DB, workspaceID uuid.UUID, email, password string, role tenancy.Role) error {
	m, _, err := db.LookupManagerByEmail(ctx, email)
	if errors.Is(err, tenancy.ErrNotFound) {
		hash, herr := auth.HashPassword(password)
		if herr != nil {
			return herr
		}
		m, err = db.CreateManager(ctx, email, "", hash)
	}
	if err != nil {
		return fmt.Errorf("manager %s: %w", email, err)
	}
	return db.InScope(ctx, tenancy.SystemScope(workspaceID), func(tx *store.Tx) error {
		return tx.SetMembership(ctx, m.ID, role)
	})
}

var demoTenants = []struct {
	id, name, plan, region string
	seats                  int
}{
	{"acme", "Acme Corp", "enterprise", "eu", 250},
	{"globex", "Globex", "pro", "us", 40},
	{"initech", "Initech", "pro", "us", 12},
	{"umbrella", "Umbrella", "enterprise", "eu", 900},
	{"hooli", "Hooli", "starter", "us", 5},
	{"stark", "Stark Industries", "enterprise", "us", 1200},
	{"wayne", "Wayne Enterprises", "enterprise", "us", 800},
	{"wonka", "Wonka Industries", "pro", "eu", 60},
	{"tyrell", "Tyrell Corp", "pro", "apac", 75},
	{"cyberdyne", "Cyberdyne Systems", "starter", "us", 8},
	{"soylent", "Soylent", "starter", "apac", 3},
	{"oscorp", "Oscorp", "pro", "us", 33},
}

func seedData(ctx context.Context, tx *store.Tx) error {
	for _, t := range demoTenants {
		if _, err := tx.CreateTenant(ctx, store.NewTenant{InternalID: t.id, Name: t.name,
			Fields: map[string]any{"plan": t.plan, "region": t.region, "seats": t.seats}}); err != nil {
			return err
		}
	}
	integrations := []store.IntegrationInput{
		{Key: "hubspot", Name: "HubSpot", BaseURL: "https://api.hubapi.com", AuthType: "bearer"},
		{Key: "salesforce", Name: "Salesforce", BaseURL: "https://example.my.salesforce.com", AuthType: "bearer"},
		{Key: "pipedrive", Name: "Pipedrive", BaseURL: "https://api.pipedrive.com", AuthType: "api-key-header"},
	}
	ids := map[string]uuid.UUID{}
	for _, in := range integrations {
		out, err := tx.CreateIntegration(ctx, in)
		if err != nil {
			return err
		}
		ids[in.Key] = out.ID
	}
	elements := []store.ElementInput{
		{Kind: tenancy.KindConnector, Key: "hubspot-connector", Name: "HubSpot connector", IntegrationID: ids["hubspot"],
			Config: map[string]any{"baseUrl": "https://api.hubapi.com", "authType": "bearer"}},
		{Kind: tenancy.KindAction, Key: "list-deals", Name: "List deals", IntegrationID: ids["hubspot"], Type: "http-request",
			Config: map[string]any{"method": "GET", "path": "/crm/v3/objects/deals", "query": map[string]any{"limit": "100"}, "credits": 1}},
		{Kind: tenancy.KindAction, Key: "create-contact", Name: "Create contact", IntegrationID: ids["hubspot"], Type: "http-request",
			Config: map[string]any{"method": "POST", "path": "/crm/v3/objects/contacts",
				"body": map[string]any{"properties": map[string]any{"email": "{{input.email}}"}}}},
		{Kind: tenancy.KindFlow, Key: "sync-deals", Name: "Sync deals", IntegrationID: ids["hubspot"],
			Config: map[string]any{"steps": []any{map[string]any{"key": "list", "action": "list-deals"}}}},
		{Kind: tenancy.KindDataSource, Key: "contacts", Name: "Contacts", IntegrationID: ids["hubspot"],
			Config: map[string]any{"collectionKey": "contacts"}},
		{Kind: tenancy.KindFieldMapping, Key: "contact-fields", Name: "Contact fields", IntegrationID: ids["hubspot"],
			Config: map[string]any{"direction": "import", "importValue": map[string]any{"email": "{{properties.email}}"}}},
	}
	for _, e := range elements {
		if _, err := tx.CreateElement(ctx, e); err != nil {
			return err
		}
	}
	// Connections for a few tenants, and one customization, so every Console area shows something.
	for _, c := range []struct{ tenant, integration, name string }{
		{"acme", "hubspot", "Acme HubSpot"}, {"acme", "salesforce", "Acme Salesforce"},
		{"globex", "hubspot", "Globex HubSpot"}, {"initech", "pipedrive", "Initech Pipedrive"},
	} {
		t, err := tx.Tenant(ctx, c.tenant)
		if err != nil {
			return err
		}
		if _, err := tx.CreateConnection(ctx, store.NewConnection{TenantID: t.ID, IntegrationID: ids[c.integration], Name: c.name,
			Credentials: map[string]any{"accessToken": "demo-" + c.tenant + "-token"}}); err != nil {
			return err
		}
	}
	acme, err := tx.Tenant(ctx, "acme")
	if err != nil {
		return err
	}
	if _, err := tx.Customize(ctx, store.TenantElementAt{TenantID: acme.ID, Kind: tenancy.KindAction, Key: "list-deals"},
		store.ElementChange{Mode: store.ConfigMerge, Config: map[string]any{"query": map[string]any{"limit": "25", "archived": "false"}}}); err != nil {
		return err
	}
	return nil
}
