package api

import (
	"encoding/json"
	"net/http"
	"time"

	"tenantry/internal/store"
	"tenantry/internal/tenancy"
)

// Customer is a tenant as the API shows it (Membrane calls tenants customers).
type Customer struct {
	ID                         string         `json:"id"`
	Name                       string         `json:"name"`
	InternalID                 string         `json:"internalId"`
	Fields                     map[string]any `json:"fields"`
	Credentials                any            `json:"credentials,omitempty"`
	CredentialKeys             []string       `json:"credentialKeys"`
	AICreditsRolling30DayLimit *float64       `json:"aiCreditsRolling30DayLimit"`
	IsTest                     bool           `json:"isTest"`
	IsActive                   bool           `json:"isActive"`
	CreatedAt                  time.Time      `json:"createdAt"`
	UpdatedAt                  time.Time      `json:"updatedAt"`
	ArchivedAt                 *time.Time     `json:"archivedAt,omitempty"`
	LastActiveAt               *time.Time     `json:"lastActiveAt,omitempty"`
	WorkspaceKey               string         `json:"workspaceKey,omitempty"`
}

func customerOf(t *tenancy.Tenant) *Customer {
	keys := make([]string, 0, len(t.CredentialsMeta))
	for k := range t.CredentialsMeta {
		keys = append(keys, k)
	}
	fields := t.Fields
	if fields == nil {
		fields = map[string]any{}
	}
	return &Customer{ID: t.ID.String(), Name: t.Name, InternalID: t.InternalID, Fields: fields, CredentialKeys: keys,
		AICreditsRolling30DayLimit: t.AICreditsRolling30DayLimit, IsTest: t.IsTest, IsActive: !t.Archived(),
		CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt, ArchivedAt: t.ArchivedAt, LastActiveAt: t.LastActiveAt}
}

// customerInput is the body of POST, PATCH and PUT. Read-only properties the SDK may echo back
// from a GET (id, createdAt, …) are accepted and ignored, so get-modify-put round trips work.
type customerInput struct {
	Name                       optional[string]         `json:"name"`
	InternalID                 optional[string]         `json:"internalId"`
	Fields                     optional[map[string]any] `json:"fields"`
	Credentials                optional[any]            `json:"credentials"`
	AICreditsRolling30DayLimit optional[float64]        `json:"aiCreditsRolling30DayLimit"`
	IsTest                     optional[bool]           `json:"isTest"`

	ID             json.RawMessage `json:"id"`
	Meta           json.RawMessage `json:"meta"`
	IsActive       json.RawMessage `json:"isActive"`
	IsBillable     json.RawMessage `json:"isBillable"`
	CreatedAt      json.RawMessage `json:"createdAt"`
	UpdatedAt      json.RawMessage `json:"updatedAt"`
	ArchivedAt     json.RawMessage `json:"archivedAt"`
	LastActiveAt   json.RawMessage `json:"lastActiveAt"`
	CredentialKeys json.RawMessage `json:"credentialKeys"`
	WorkspaceKey   json.RawMessage `json:"workspaceKey"`
}

func (in *customerInput) check() error {
	verr := &tenancy.ValidationError{}
	if in.Name.Set && in.Name.Value == nil {
		verr.Add("name", "must be a string")
	}
	if in.InternalID.Set && in.InternalID.Value == nil {
		verr.Add("internalId", "must be a string")
	}
	if in.IsTest.Set && in.IsTest.Value == nil {
		verr.Add("isTest", "must be a boolean")
	}
	return verr.Err()
}

func (in *customerInput) patch() store.TenantPatch {
	p := store.TenantPatch{Name: in.Name.Value, InternalID: in.InternalID.Value, IsTest: in.IsTest.Value,
		SetLimit: in.AICreditsRolling30DayLimit.Set, AICreditsRolling30DayLimit: in.AICreditsRolling30DayLimit.Value}
	if in.Fields.Value != nil {
		p.Fields = *in.Fields.Value
	}
	return p
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// resolveTenant finds the tenant a selector names, within the caller's scope.
func resolveTenant(r *http.Request, tx *store.Tx, selector string) (*tenancy.Tenant, error) {
	if selector == "" {
		return nil, apiError(http.StatusBadRequest, "invalid_selection", "name the tenant by id or internalId")
	}
	return tx.Tenant(r.Context(), selector)
}

// writable refuses changes by tenant tokens to anything but /self, and by nobody else.
func writable(r *http.Request) error {
	if !callerFrom(r.Context()).scope.WorkspaceWide() {
		return apiError(http.StatusForbidden, "access_denied", "a tenant token may change only its own tenant, through /self")
	}
	return nil
}

// selectorOf reads the tenant selector from the path (/customers/{selector}) or, for the
// singular object-selector routes (/customer?id=…), from the query.
func selectorOf(r *http.Request) string {
	if s := r.PathValue("selector"); s != "" {
		return s
	}
	q := newQuery(r)
	for _, k := range []string{"id", "internalId", "key"} {
		if v := q.str(k); v != "" {
			return v
		}
	}
	return ""
}

func (a *API) getSelf(w http.ResponseWriter, r *http.Request) error {
	c := callerFrom(r.Context())
	if c.scope.WorkspaceWide() {
		return apiError(http.StatusBadRequest, "not_a_tenant", "/self needs a tenant token; this is a workspace token")
	}
	var out *Customer
	var err error
	if includeSecrets(r) {
		err = a.inScope(r, func(tx *store.Tx) error {
			t, err := tx.Tenant(r.Context(), c.scope.TenantID.String())
			if err != nil {
				return err
			}
			out = customerOf(t)
			out.Credentials, err = tx.TenantCredentials(r.Context(), t.ID)
			return err
		})
	} else {
		var t *tenancy.Tenant
		if t, err = a.db.TenantOfScope(r.Context(), c.scope); err == nil {
			out = customerOf(t)
		}
	}
	if err != nil {
		return err
	}
	out.WorkspaceKey = c.workspace.Workspace.Key
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) patchSelf(w http.ResponseWriter, r *http.Request) error {
	c := callerFrom(r.Context())
	if c.scope.WorkspaceWide() {
		return apiError(http.StatusBadRequest, "not_a_tenant", "/self needs a tenant token; this is a workspace token")
	}
	return a.update(w, r, c.scope.TenantID.String(), false, true)
}

func (a *API) listCustomers(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	limit, err := q.limit(100, 1000)
	if err != nil {
		return err
	}
	f := store.TenantFilter{Search: q.str("search"), Limit: limit, Cursor: q.str("cursor")}
	if f.IsTest, err = q.boolean("isTest"); err != nil {
		return err
	}
	inclArchived, err := q.boolean("includeArchived")
	if err != nil {
		return err
	}
	active, err := q.boolean("isActive")
	if err != nil {
		return err
	}
	f.IncludeArchived = deref(inclArchived)
	if active != nil { // isActive wins over includeArchived: it names exactly one side
		f.IncludeArchived = false
		f.OnlyArchived = !*active
	}
	var page *store.TenantPage
	if err := a.inScope(r, func(tx *store.Tx) error {
		page, err = tx.ListTenants(r.Context(), f)
		return err
	}); err != nil {
		return listError(err)
	}
	writeJSON(w, http.StatusOK, listOf(page.Items, page.Cursor, customerOf))
	return nil
}

// listOf is a store page in the API's list shape: each item converted, never a null items array.
func listOf[T, U any](items []T, cursor string, conv func(T) U) listResponse[U] {
	out := listResponse[U]{Items: make([]U, len(items)), Cursor: cursor}
	for i, it := range items {
		out.Items[i] = conv(it)
	}
	return out
}

// listError turns a list's validation errors (a bad cursor, a bad state) into 400 invalid_query.
func listError(err error) error {
	if v, ok := tenancy.AsValidation(err); ok {
		e := apiError(http.StatusBadRequest, "invalid_query", v.Error())
		e.Fields = v.Fields
		return e
	}
	return err
}

// listResponse is every list's shape; cursor is absent on the last page (the SDK's findAll
// loops until it is falsy).
type listResponse[T any] struct {
	Items  []T    `json:"items"`
	Cursor string `json:"cursor,omitempty"`
}

func (a *API) createCustomer(w http.ResponseWriter, r *http.Request) error {
	if err := writable(r); err != nil {
		return err
	}
	var in customerInput
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	if err := in.check(); err != nil {
		return err
	}
	nt := store.NewTenant{InternalID: deref(in.InternalID.Value), Name: deref(in.Name.Value),
		AICreditsRolling30DayLimit: in.AICreditsRolling30DayLimit.Value, IsTest: deref(in.IsTest.Value)}
	if in.Fields.Value != nil {
		nt.Fields = *in.Fields.Value
	}
	if nt.Name == "" {
		nt.Name = nt.InternalID
	}
	var out *Customer
	err := a.inScope(r, func(tx *store.Tx) error {
		if err := tx.ValidateNewTenant(r.Context(), nt); err != nil {
			return err
		}
		t, err := tx.CreateTenant(r.Context(), nt)
		if err != nil {
			return err
		}
		if in.Credentials.Set && in.Credentials.Value != nil {
			if t, err = tx.SetTenantCredentials(r.Context(), t.ID, *in.Credentials.Value); err != nil {
				return err
			}
		}
		out = customerOf(t)
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (a *API) getCustomer(w http.ResponseWriter, r *http.Request) error {
	var out *Customer
	err := a.inScope(r, func(tx *store.Tx) error {
		t, err := resolveTenant(r, tx, selectorOf(r))
		if err != nil {
			return err
		}
		out = customerOf(t)
		if includeSecrets(r) {
			if out.Credentials, err = tx.TenantCredentials(r.Context(), t.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) patchCustomer(w http.ResponseWriter, r *http.Request) error {
	return a.update(w, r, selectorOf(r), false, false)
}

func (a *API) putCustomer(w http.ResponseWriter, r *http.Request) error {
	return a.update(w, r, selectorOf(r), true, false)
}

// update applies a PATCH (merge) or PUT (replace) to the tenant selector names. Tenant tokens
// may change only themselves, through /self; elsewhere other tenants are 404 and their own 403.
func (a *API) update(w http.ResponseWriter, r *http.Request, selector string, replace, self bool) error {
	var in customerInput
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	if err := in.check(); err != nil {
		return err
	}
	c := callerFrom(r.Context())
	var out *Customer
	err := a.inScope(r, func(tx *store.Tx) error {
		t, err := resolveTenant(r, tx, selector)
		if err != nil {
			return err
		}
		if !self {
			if err := writable(r); err != nil {
				return err
			}
		}
		if replace {
			rep := store.TenantReplacement{Name: deref(in.Name.Value), InternalID: deref(in.InternalID.Value),
				AICreditsRolling30DayLimit: in.AICreditsRolling30DayLimit.Value, IsTest: deref(in.IsTest.Value)}
			if in.Fields.Value != nil {
				rep.Fields = *in.Fields.Value
			}
			if rep.InternalID == "" {
				rep.InternalID = t.InternalID
			}
			if rep.Name == "" {
				rep.Name = rep.InternalID
			}
			t, err = tx.ReplaceTenant(r.Context(), t.ID, rep)
		} else {
			if !c.scope.WorkspaceWide() && (in.InternalID.Set || in.AICreditsRolling30DayLimit.Set || in.IsTest.Set) {
				return apiError(http.StatusForbidden, "access_denied", "a tenant token may change only its name, fields and credentials")
			}
			t, err = tx.PatchTenant(r.Context(), t.ID, in.patch())
		}
		if err != nil {
			return err
		}
		if in.Credentials.Set {
			var v any
			if in.Credentials.Value != nil {
				v = *in.Credentials.Value
			}
			if t, err = tx.SetTenantCredentials(r.Context(), t.ID, v); err != nil {
				return err
			}
		}
		out = customerOf(t)
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) archiveCustomer(w http.ResponseWriter, r *http.Request) error {
	return a.setArchived(w, r, true)
}

func (a *API) restoreCustomer(w http.ResponseWriter, r *http.Request) error {
	return a.setArchived(w, r, false)
}

func (a *API) setArchived(w http.ResponseWriter, r *http.Request, archive bool) error {
	var out *Customer
	err := a.inScope(r, func(tx *store.Tx) error {
		t, err := resolveTenant(r, tx, selectorOf(r))
		if err != nil {
			return err
		}
		if err := writable(r); err != nil {
			return err
		}
		if archive {
			t, err = tx.ArchiveTenant(r.Context(), t.ID)
		} else {
			t, err = tx.RestoreTenant(r.Context(), t.ID)
		}
		if err != nil {
			return err
		}
		out = customerOf(t)
		return nil
	})
	if err != nil {
		return err
	}
	a.provisioner.Forget(callerFrom(r.Context()).scope.WorkspaceID, out.InternalID)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// includeSecrets reads includeSecrets=true|1 (false, 0 or absent: no secrets).
func includeSecrets(r *http.Request) bool {
	b, _ := newQuery(r).boolean("includeSecrets")
	return b != nil && *b
}
