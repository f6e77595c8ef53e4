package store

import (
	"context"
	"fmt"
	"regexp"

	"github.com/google/uuid"

	"tenantry/internal/tenancy"
)

// Event subscriptions are tenant only: a tenant's subscription to one of an integration's events
// on one of its connections. The foreign key names the connection with its tenant.

// eventTypePattern is the event_subscriptions.event_type check of migration 00004.
var eventTypePattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._:-]{0,99}$`)

const subscriptionColumns = `id, tenant_id, connection_id, event_type, webhook_uri, created_at`

// ListEventSubscriptions lists a connection's event subscriptions, oldest first.
func (tx *Tx) ListEventSubscriptions(ctx context.Context, connectionID uuid.UUID) ([]*tenancy.EventSubscription, error) {
	rows, err := tx.QueryxContext(ctx, `SELECT `+subscriptionColumns+` FROM event_subscriptions
		WHERE workspace_id = $1 AND connection_id = $2 ORDER BY created_at, id LIMIT 1000`, tx.Scope.WorkspaceID, connectionID)
	if err != nil {
		return nil, fmt.Errorf("list event subscriptions: %w", err)
	}
	defer rows.Close()
	out := []*tenancy.EventSubscription{}
	for rows.Next() {
		var s tenancy.EventSubscription
		if err := rows.Scan(&s.ID, &s.TenantID, &s.ConnectionID, &s.EventType, &s.WebhookURI, &s.CreatedAt); err != nil {
			return nil, err
		}
		out = append(out, &s)
	}
	return out, rows.Err()
}

// CreateEventSubscription subscribes a connection to an event type (once per type).
func (tx *Tx) CreateEventSubscription(ctx context.Context, connectionID uuid.UUID, eventType, webhookURI string) (*tenancy.EventSubscription, error) {
	c, err := tx.Connection(ctx, connectionID.String())
	if err != nil {
		return nil, err
	}
	verr := &tenancy.ValidationError{}
	if !eventTypePattern.MatchString(eventType) {
		verr.Add("eventType", "must be 1–100 letters, digits, '.', '_', ':' or '-', starting with a letter or digit")
	}
	checkURL(verr, "webhookUri", webhookURI)
	if err := verr.Err(); err != nil {
		return nil, err
	}
	var s tenancy.EventSubscription
	err = tx.QueryRowxContext(ctx, `INSERT INTO event_subscriptions (workspace_id, id, tenant_id, connection_id, event_type, webhook_uri)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+subscriptionColumns, tx.Scope.WorkspaceID, tenancy.NewID(), c.TenantID, c.ID,
		eventType, webhookURI).Scan(&s.ID, &s.TenantID, &s.ConnectionID, &s.EventType, &s.WebhookURI, &s.CreatedAt)
	if isUniqueViolation(err, "") {
		return nil, &tenancy.ValidationError{Conflict: true, Fields: []tenancy.FieldError{{Path: "eventType", Message: "the connection is already subscribed to " + eventType}}}
	}
	if err != nil {
		return nil, writeError("create event subscription", err)
	}
	return &s, tx.Record(ctx, Activity{Type: "event-subscription.created", TenantID: c.TenantID, ConnectionID: c.ID, IntegrationID: c.IntegrationID,
		Message: fmt.Sprintf("Subscribed connection %q to %s", c.Name, eventType)})
}

// DeleteEventSubscription removes one of a connection's event subscriptions.
func (tx *Tx) DeleteEventSubscription(ctx context.Context, connectionID, id uuid.UUID) error {
	c, err := tx.Connection(ctx, connectionID.String())
	if err != nil {
		return err
	}
	var eventType string
	err = tx.QueryRowxContext(ctx, `DELETE FROM event_subscriptions WHERE workspace_id = $1 AND connection_id = $2 AND id = $3
		RETURNING event_type`, tx.Scope.WorkspaceID, connectionID, id).Scan(&eventType)
	if notFound(err) {
		return tenancy.ErrNotFound
	}
	if err != nil {
		return writeError("delete event subscription", err)
	}
	return tx.Record(ctx, Activity{Type: "event-subscription.deleted", TenantID: c.TenantID, ConnectionID: c.ID, IntegrationID: c.IntegrationID,
		Message: fmt.Sprintf("Unsubscribed connection %q from %s", c.Name, eventType)})
}
