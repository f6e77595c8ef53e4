package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"tenantry/internal/store"
	"tenantry/internal/tenancy"
)

// Connections are tenant only (SDK-CONTRACT §3.3, §4 Connection): a tenant token sees and changes
// its own, a workspace token every tenant's. Event subscriptions hang off a connection.

func (a *API) connectionRoutes() []Route {
	return []Route{
		{Method: "GET", Path: "/connections", handle: a.listConnections},
		{Method: "POST", Path: "/connections", handle: a.createConnection},
		{Method: "GET", Path: "/connections/{selector}", handle: a.getConnection},
		{Method: "PATCH", Path: "/connections/{selector}", handle: a.changeConnection(false)},
		{Method: "PUT", Path: "/connections/{selector}", handle: a.changeConnection(true)},
		{Method: "DELETE", Path: "/connections/{selector}", handle: a.archiveConnection},
		{Method: "GET", Path: "/connections/{selector}/event-subscriptions", handle: a.listEventSubscriptions},
		{Method: "POST", Path: "/connections/{selector}/event-subscriptions", handle: a.createEventSubscription},
		{Method: "DELETE", Path: "/connections/{selector}/event-subscriptions/{id}", handle: a.deleteEventSubscription},
	}
}

// Connection is a connection as the API shows it. userId and tenantId are both the tenant's id
// (Membrane calls tenants users); credentials appear only with includeSecrets=true.
type Connection struct {
	ID               string         `json:"id"`
	Name             string         `json:"name"`
	UserID           string         `json:"userId"`
	TenantID         string         `json:"tenantId"`
	TenantInternalID string         `json:"tenantInternalId"`
	Key              string         `json:"key,omitempty"`
	IsTest           bool           `json:"isTest"`
	Connected        bool           `json:"connected"`
	Disconnected     bool           `json:"disconnected"`
	State            string         `json:"state"`
	IntegrationID    string         `json:"integrationId"`
	IntegrationKey   string         `json:"integrationKey"`
	CreatedAt        time.Time      `json:"createdAt"`
	UpdatedAt        time.Time      `json:"updatedAt"`
	LastActiveAt     *time.Time     `json:"lastActiveAt,omitempty"`
	ArchivedAt       *time.Time     `json:"archivedAt,omitempty"`
	IsDeactivated    bool           `json:"isDeactivated"`
	CredentialKeys   []string       `json:"credentialKeys"`
	Meta             map[string]any `json:"meta"`
	Credentials      any            `json:"credentials,omitempty"`
}

func connectionOf(c *tenancy.Connection) *Connection {
	keys := c.CredentialKeys
	if keys == nil {
		keys = []string{}
	}
	return &Connection{ID: c.ID.String(), Name: c.Name, UserID: c.TenantID.String(), TenantID: c.TenantID.String(),
		TenantInternalID: c.TenantInternal, Key: c.Key, IsTest: c.IsTest, Connected: c.Connected(), Disconnected: c.Disconnected,
		State: c.State, IntegrationID: c.IntegrationID.String(), IntegrationKey: c.IntegrationKey, CreatedAt: c.CreatedAt,
		UpdatedAt: c.UpdatedAt, LastActiveAt: c.LastActiveAt, ArchivedAt: c.ArchivedAt, IsDeactivated: c.DeactivatedAt != nil,
		CredentialKeys: keys, Meta: orEmptyMap(c.Meta)}
}

// connectionInput is the body of POST, PATCH and PUT /connections. The integration and the
// tenant are chosen on creation; afterwards they may be echoed back unchanged, like the other
// read-only properties.
type connectionInput struct {
	Name           optional[string]         `json:"name"`
	Key            optional[string]         `json:"key"`
	Credentials    optional[any]            `json:"credentials"`
	IsTest         optional[bool]           `json:"isTest"`
	Meta           optional[map[string]any] `json:"meta"`
	Disconnected   optional[bool]           `json:"disconnected"`
	IntegrationID  optional[string]         `json:"integrationId"`
	IntegrationKey optional[string]         `json:"integrationKey"`
	TenantID       optional[string]         `json:"tenantId"`
	UserID         optional[string]         `json:"userId"`

	ID               json.RawMessage `json:"id"`
	TenantInternalID json.RawMessage `json:"tenantInternalId"`
	Connected        json.RawMessage `json:"connected"`
	State            json.RawMessage `json:"state"`
	CreatedAt        json.RawMessage `json:"createdAt"`
	UpdatedAt        json.RawMessage `json:"updatedAt"`
	LastActiveAt     json.RawMessage `json:"lastActiveAt"`
	ArchivedAt       json.RawMessage `json:"archivedAt"`
	IsDeactivated    json.RawMessage `json:"isDeactivated"`
	CredentialKeys   json.RawMessage `json:"credentialKeys"`
}

func (in *connectionInput) check() error {
	verr := &tenancy.ValidationError{}
	if in.Name.Set && in.Name.Value == nil {
		verr.Add("name", "must be a string")
	}
	if in.IsTest.Set && in.IsTest.Value == nil {
		verr.Add("isTest", "must be a boolean")
	}
	if in.Disconnected.Set && in.Disconnected.Value == nil {
		verr.Add("disconnected", "must be a boolean")
	}
	return verr.Err()
}

// tenantSelector is the tenant a body or query names (userId or tenantId: id or internalId).
func tenantSelector(user, tenant optional[string]) (string, string) {
	if tenant.Set && deref(tenant.Value) != "" {
		return *tenant.Value, "tenantId"
	}
	return deref(user.Value), "userId"
}

func (a *API) listConnections(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	limit, err := q.limit(100, 1000)
	if err != nil {
		return err
	}
	f := store.ConnectionFilter{Search: q.str("search"), State: strings.ToUpper(q.str("state")), Limit: limit, Cursor: q.str("cursor")}
	archived, err := q.boolean("includeArchived")
	if err != nil {
		return err
	}
	f.IncludeArchived = deref(archived)
	if f.IsTest, err = q.boolean("isTest"); err != nil {
		return err
	}
	if f.Connected, err = q.boolean("connected"); err != nil {
		return err
	}
	disconnected, err := q.boolean("disconnected")
	if err != nil {
		return err
	}
	if disconnected != nil {
		connected := !*disconnected
		if f.Connected != nil && *f.Connected != connected {
			return badQuery("disconnected", "contradicts connected")
		}
		f.Connected = &connected
	}
	out := listResponse[*Connection]{Items: []*Connection{}}
	err = a.inScope(r, func(tx *store.Tx) error {
		ctx := r.Context()
		if id := q.str("integrationId"); id != "" {
			in, err := tx.Integration(ctx, id)
			if err == tenancy.ErrNotFound {
				return nil
			}
			if err != nil {
				return err
			}
			f.IntegrationID = in.ID
		}
		f.IntegrationKey = q.str("integrationKey")
		if t := firstOf(q, "userId", "tenantId"); t != "" {
			tenant, err := tx.Tenant(ctx, t)
			if err == tenancy.ErrNotFound {
				return nil // another tenant's, or none: nothing to see
			}
			if err != nil {
				return err
			}
			f.TenantID = tenant.ID
		}
		page, err := tx.ListConnections(ctx, f)
		if err != nil {
			return err
		}
		out = listOf(page.Items, page.Cursor, connectionOf)
		return nil
	})
	if err != nil {
		return listError(err)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) createConnection(w http.ResponseWriter, r *http.Request) error {
	var in connectionInput
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	if err := in.check(); err != nil {
		return err
	}
	var out *Connection
	err := a.inScope(r, func(tx *store.Tx) error {
		ctx := r.Context()
		nc := store.NewConnection{Name: deref(in.Name.Value), Key: deref(in.Key.Value), IsTest: deref(in.IsTest.Value)}
		if in.Meta.Value != nil {
			nc.Meta = *in.Meta.Value
		}
		if in.Credentials.Value != nil {
			nc.Credentials = *in.Credentials.Value
		}
		path := "integrationKey"
		if in.IntegrationID.Set && !in.IntegrationKey.Set {
			path = "integrationId"
		}
		integ, named, err := integrationOf(ctx, tx, deref(in.IntegrationID.Value), deref(in.IntegrationKey.Value), path)
		if err != nil {
			return err
		}
		if !named {
			return tenancy.Invalid("integrationKey", "is required: name the integration by integrationKey or integrationId")
		}
		nc.IntegrationID = integ.ID
		if nc.TenantID, err = connectionTenant(ctx, tx, &in); err != nil {
			return err
		}
		c, err := tx.CreateConnection(ctx, nc)
		if err != nil {
			return err
		}
		if deref(in.Disconnected.Value) {
			t := true
			if c, err = tx.UpdateConnection(ctx, c.ID, store.ConnectionPatch{Disconnected: &t}); err != nil {
				return err
			}
		}
		out = connectionOf(c)
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// connectionTenant is the tenant a new connection is for: a tenant token's own (naming another
// is an error), or the tenant a workspace token names, which it must.
func connectionTenant(ctx context.Context, tx *store.Tx, in *connectionInput) (uuid.UUID, error) {
	sel, path := tenantSelector(in.UserID, in.TenantID)
	if sel == "" {
		if tx.Scope.WorkspaceWide() {
			return uuid.Nil, tenancy.Invalid("tenantId", "is required with a workspace token: the tenant's id or internalId")
		}
		return tx.Scope.TenantID, nil
	}
	t, err := tx.Tenant(ctx, sel)
	if err == tenancy.ErrNotFound {
		return uuid.Nil, tenancy.Invalid(path, "no tenant with this id or internalId")
	}
	if err != nil {
		return uuid.Nil, err
	}
	return t.ID, nil
}

func (a *API) getConnection(w http.ResponseWriter, r *http.Request) error {
	var out *Connection
	err := a.inScope(r, func(tx *store.Tx) error {
		c, err := tx.Connection(r.Context(), r.PathValue("selector"))
		if err != nil {
			return err
		}
		out = connectionOf(c)
		if includeSecrets(r) {
			out.Credentials, err = tx.ConnectionCredentials(r.Context(), c.ID)
		}
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// changeConnection applies a PATCH (what is given changes) or a PUT (name, key, meta, isTest and
// disconnected replaced; an absent name is kept, and absent credentials too: they are write-only,
// so a get-modify-put round trip must not wipe them).
func (a *API) changeConnection(replace bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var in connectionInput
		if err := decodeBody(w, r, &in); err != nil {
			return err
		}
		if err := in.check(); err != nil {
			return err
		}
		var out *Connection
		err := a.inScope(r, func(tx *store.Tx) error {
			ctx := r.Context()
			cur, err := tx.Connection(ctx, r.PathValue("selector"))
			if err != nil {
				return err
			}
			verr := &tenancy.ValidationError{}
			unchanged := func(path string, o optional[string], want ...string) {
				if o.Set {
					for _, w := range want {
						if deref(o.Value) == w {
							return
						}
					}
					verr.Add(path, "cannot be changed: it is chosen when the connection is created")
				}
			}
			unchanged("integrationId", in.IntegrationID, cur.IntegrationID.String(), cur.IntegrationKey)
			unchanged("integrationKey", in.IntegrationKey, cur.IntegrationKey, cur.IntegrationID.String())
			unchanged("tenantId", in.TenantID, cur.TenantID.String(), cur.TenantInternal)
			unchanged("userId", in.UserID, cur.TenantID.String(), cur.TenantInternal)
			if err := verr.Err(); err != nil {
				return err
			}
			p := store.ConnectionPatch{Name: in.Name.Value, IsTest: in.IsTest.Value, Disconnected: in.Disconnected.Value,
				SetCredentials: in.Credentials.Set}
			if in.Credentials.Value != nil {
				p.Credentials = *in.Credentials.Value
			}
			if in.Key.Set {
				p.Key = new(deref(in.Key.Value))
			}
			if in.Meta.Set {
				p.Meta = orEmptyMap(deref(in.Meta.Value))
			}
			if replace {
				if p.Key == nil {
					p.Key = new("")
				}
				if p.Meta == nil {
					p.Meta = map[string]any{}
				}
				if p.IsTest == nil {
					p.IsTest = new(false)
				}
				if p.Disconnected == nil {
					p.Disconnected = new(false)
				}
			}
			c, err := tx.UpdateConnection(ctx, cur.ID, p)
			if err != nil {
				return err
			}
			out = connectionOf(c)
			return nil
		})
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
}

// archiveConnection archives the connection and returns it.
func (a *API) archiveConnection(w http.ResponseWriter, r *http.Request) error {
	var out *Connection
	err := a.inScope(r, func(tx *store.Tx) error {
		cur, err := tx.Connection(r.Context(), r.PathValue("selector"))
		if err != nil {
			return err
		}
		c, err := tx.ArchiveConnection(r.Context(), cur.ID)
		if err != nil {
			return err
		}
		out = connectionOf(c)
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// EventSubscription is a connection's subscription to one of its integration's events.
type EventSubscription struct {
	ID           string    `json:"id"`
	ConnectionID string    `json:"connectionId"`
	UserID       string    `json:"userId"`
	TenantID     string    `json:"tenantId"`
	EventType    string    `json:"eventType"`
	WebhookURI   string    `json:"webhookUri"`
	CreatedAt    time.Time `json:"createdAt"`
}

func subscriptionOf(s *tenancy.EventSubscription) *EventSubscription {
	return &EventSubscription{ID: s.ID.String(), ConnectionID: s.ConnectionID.String(), UserID: s.TenantID.String(),
		TenantID: s.TenantID.String(), EventType: s.EventType, WebhookURI: s.WebhookURI, CreatedAt: s.CreatedAt}
}

func (a *API) listEventSubscriptions(w http.ResponseWriter, r *http.Request) error {
	out := listResponse[*EventSubscription]{Items: []*EventSubscription{}}
	err := a.inScope(r, func(tx *store.Tx) error {
		c, err := tx.Connection(r.Context(), r.PathValue("selector"))
		if err != nil {
			return err
		}
		subs, err := tx.ListEventSubscriptions(r.Context(), c.ID)
		for _, s := range subs {
			out.Items = append(out.Items, subscriptionOf(s))
		}
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

type subscriptionInput struct {
	EventType  optional[string] `json:"eventType"`
	WebhookURI optional[string] `json:"webhookUri"`

	ID           json.RawMessage `json:"id"`
	ConnectionID json.RawMessage `json:"connectionId"`
	UserID       json.RawMessage `json:"userId"`
	TenantID     json.RawMessage `json:"tenantId"`
	CreatedAt    json.RawMessage `json:"createdAt"`
}

func (a *API) createEventSubscription(w http.ResponseWriter, r *http.Request) error {
	var in subscriptionInput
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	if in.EventType.Value == nil {
		return tenancy.Invalid("eventType", "is required")
	}
	var out *EventSubscription
	err := a.inScope(r, func(tx *store.Tx) error {
		c, err := tx.Connection(r.Context(), r.PathValue("selector"))
		if err != nil {
			return err
		}
		s, err := tx.CreateEventSubscription(r.Context(), c.ID, *in.EventType.Value, deref(in.WebhookURI.Value))
		if err != nil {
			return err
		}
		out = subscriptionOf(s)
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// deleteEventSubscription removes a subscription and returns it as it was.
func (a *API) deleteEventSubscription(w http.ResponseWriter, r *http.Request) error {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return tenancy.ErrNotFound
	}
	var out *EventSubscription
	err = a.inScope(r, func(tx *store.Tx) error {
		c, err := tx.Connection(r.Context(), r.PathValue("selector"))
		if err != nil {
			return err
		}
		subs, err := tx.ListEventSubscriptions(r.Context(), c.ID)
		if err != nil {
			return err
		}
		for _, s := range subs {
			if s.ID == id {
				out = subscriptionOf(s)
			}
		}
		if out == nil {
			return tenancy.ErrNotFound
		}
		return tx.DeleteEventSubscription(r.Context(), c.ID, id)
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
