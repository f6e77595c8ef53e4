package api

import (
	"encoding/json"
	"net/http"
	"time"

	"tenantry/internal/store"
	"tenantry/internal/tenancy"
)

// Integrations are workspace level only (SDK-CONTRACT §3.4): every token reads them, only a
// workspace token changes them. Under each, its templates of one kind:
// GET /integrations/{selector}/{actions|flows|data-sources|field-mappings}[/{key}].

func (a *API) integrationRoutes() []Route {
	rs := []Route{
		{Method: "GET", Path: "/integrations", handle: a.listIntegrations},
		{Method: "POST", Path: "/integrations", handle: a.createIntegration},
		{Method: "GET", Path: "/integrations/{selector}", handle: a.getIntegration},
		{Method: "PATCH", Path: "/integrations/{selector}", handle: a.changeIntegration(false)},
		{Method: "PUT", Path: "/integrations/{selector}", handle: a.changeIntegration(true)},
		{Method: "DELETE", Path: "/integrations/{selector}", handle: a.archiveIntegration(true)},
		{Method: "POST", Path: "/integrations/{selector}/restore", handle: a.archiveIntegration(false)},
		{Method: "GET", Path: "/integration", handle: a.getIntegration},
	}
	for _, k := range apiKinds {
		if !k.tenantLevel {
			continue
		}
		p := "/integrations/{selector}/" + k.plural
		rs = append(rs,
			Route{Method: "GET", Path: p, handle: a.listIntegrationElements(k)},
			Route{Method: "GET", Path: p + "/{key}", handle: a.getIntegrationElement(k)},
		)
	}
	return rs
}

// Integration is an integration as the API shows it. baseUri is the external app's API base
// URL (the Console calls it base URL; input accepts baseUrl as well).
type Integration struct {
	ID         string     `json:"id"`
	Key        string     `json:"key"`
	Name       string     `json:"name"`
	LogoURI    string     `json:"logoUri"`
	BaseURI    string     `json:"baseUri"`
	AuthType   string     `json:"authType"`
	CreatedAt  time.Time  `json:"createdAt"`
	UpdatedAt  time.Time  `json:"updatedAt"`
	ArchivedAt *time.Time `json:"archivedAt,omitempty"`
}

func integrationOut(in *tenancy.Integration) *Integration {
	return &Integration{ID: in.ID.String(), Key: in.Key, Name: in.Name, LogoURI: in.LogoURI, BaseURI: in.BaseURL,
		AuthType: in.AuthType, CreatedAt: in.CreatedAt, UpdatedAt: in.UpdatedAt, ArchivedAt: in.ArchivedAt}
}

// integrationInput is the body of POST, PATCH and PUT; read-only properties are ignored.
type integrationInput struct {
	Key      optional[string] `json:"key"`
	Name     optional[string] `json:"name"`
	LogoURI  optional[string] `json:"logoUri"`
	BaseURI  optional[string] `json:"baseUri"`
	BaseURL  optional[string] `json:"baseUrl"`
	AuthType optional[string] `json:"authType"`

	ID         json.RawMessage `json:"id"`
	CreatedAt  json.RawMessage `json:"createdAt"`
	UpdatedAt  json.RawMessage `json:"updatedAt"`
	ArchivedAt json.RawMessage `json:"archivedAt"`
}

func (in *integrationInput) check() error {
	verr := &tenancy.ValidationError{}
	for _, f := range []struct {
		name string
		o    optional[string]
	}{{"key", in.Key}, {"name", in.Name}, {"authType", in.AuthType}} {
		if f.o.Set && f.o.Value == nil {
			verr.Add(f.name, "must be a string")
		}
	}
	if in.BaseURI.Set && in.BaseURL.Set && deref(in.BaseURI.Value) != deref(in.BaseURL.Value) {
		verr.Add("baseUri", "and baseUrl differ: send one")
	}
	return verr.Err()
}

// apply writes the body's properties over dst (all of them with replace, absent ones cleared).
func (in *integrationInput) apply(dst *store.IntegrationInput, replace bool) {
	set := func(d *string, o optional[string]) {
		if o.Set || replace {
			*d = deref(o.Value)
		}
	}
	if in.Key.Value != nil {
		dst.Key = *in.Key.Value
	}
	set(&dst.Name, in.Name)
	set(&dst.LogoURI, in.LogoURI)
	set(&dst.AuthType, in.AuthType)
	if in.BaseURL.Set {
		set(&dst.BaseURL, in.BaseURL)
	} else {
		set(&dst.BaseURL, in.BaseURI)
	}
}

// renameBaseURL names the store's baseUrl problems after the property the client sent.
func (in *integrationInput) renameBaseURL(err error) error {
	if v, ok := tenancy.AsValidation(err); ok && !in.BaseURL.Set {
		for i := range v.Fields {
			if v.Fields[i].Path == "baseUrl" {
				v.Fields[i].Path = "baseUri"
			}
		}
	}
	return err
}

func (a *API) listIntegrations(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	limit, err := q.limit(100, 1000)
	if err != nil {
		return err
	}
	archived, err := q.boolean("includeArchived")
	if err != nil {
		return err
	}
	out := listResponse[*Integration]{Items: []*Integration{}}
	err = a.inScope(r, func(tx *store.Tx) error {
		page, err := tx.ListIntegrations(r.Context(), store.IntegrationFilter{Search: q.str("search"),
			IncludeArchived: deref(archived), Limit: limit, Cursor: q.str("cursor")})
		if err != nil {
			return err
		}
		out = listOf(page.Items, page.Cursor, integrationOut)
		return nil
	})
	if err != nil {
		return listError(err)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// integrationSelector reads the integration from the path or, on /integration, from id or key.
func integrationSelector(r *http.Request) (string, error) {
	if s := r.PathValue("selector"); s != "" {
		return s, nil
	}
	if s := firstOf(newQuery(r), "id", "key"); s != "" {
		return s, nil
	}
	return "", apiError(http.StatusBadRequest, "invalid_selection", "name the integration by id or key")
}

func findIntegration(r *http.Request, tx *store.Tx) (*tenancy.Integration, error) {
	sel, err := integrationSelector(r)
	if err != nil {
		return nil, err
	}
	return tx.Integration(r.Context(), sel)
}

func (a *API) getIntegration(w http.ResponseWriter, r *http.Request) error {
	var out *Integration
	err := a.inScope(r, func(tx *store.Tx) error {
		in, err := findIntegration(r, tx)
		if err != nil {
			return err
		}
		out = integrationOut(in)
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) createIntegration(w http.ResponseWriter, r *http.Request) error {
	if err := workspaceWrite(r); err != nil {
		return err
	}
	var in integrationInput
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	if err := in.check(); err != nil {
		return err
	}
	var ii store.IntegrationInput
	in.apply(&ii, true)
	var out *Integration
	err := a.inScope(r, func(tx *store.Tx) error {
		created, err := tx.CreateIntegration(r.Context(), ii)
		if err != nil {
			return in.renameBaseURL(err)
		}
		out = integrationOut(created)
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// changeIntegration applies a PATCH (given properties change) or a PUT (every property
// replaced; an absent key keeps the current one).
func (a *API) changeIntegration(replace bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := workspaceWrite(r); err != nil {
			return err
		}
		var in integrationInput
		if err := decodeBody(w, r, &in); err != nil {
			return err
		}
		if err := in.check(); err != nil {
			return err
		}
		var out *Integration
		err := a.inScope(r, func(tx *store.Tx) error {
			cur, err := findIntegration(r, tx)
			if err != nil {
				return err
			}
			ii := store.IntegrationInput{Key: cur.Key, Name: cur.Name, LogoURI: cur.LogoURI, BaseURL: cur.BaseURL, AuthType: cur.AuthType}
			in.apply(&ii, replace)
			changed, err := tx.UpdateIntegration(r.Context(), cur.ID, ii)
			if err != nil {
				return in.renameBaseURL(err)
			}
			out = integrationOut(changed)
			return nil
		})
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
}

// archiveIntegration archives (DELETE) or restores an integration and returns it.
func (a *API) archiveIntegration(archive bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := workspaceWrite(r); err != nil {
			return err
		}
		var out *Integration
		err := a.inScope(r, func(tx *store.Tx) error {
			cur, err := findIntegration(r, tx)
			if err != nil {
				return err
			}
			changed, err := tx.SetIntegrationArchived(r.Context(), cur.ID, archive)
			if err != nil {
				return err
			}
			out = integrationOut(changed)
			return nil
		})
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
}

// listIntegrationElements lists an integration's templates of one kind (404 for an unknown integration).
func (a *API) listIntegrationElements(k apiKind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		q := newQuery(r)
		limit, err := q.limit(100, 1000)
		if err != nil {
			return err
		}
		archived, err := q.boolean("includeArchived")
		if err != nil {
			return err
		}
		out := listResponse[*Element]{}
		err = a.inScope(r, func(tx *store.Tx) error {
			in, err := findIntegration(r, tx)
			if err != nil {
				return err
			}
			page, err := tx.ListElements(r.Context(), store.ElementFilter{Kind: k.kind, IntegrationID: in.ID, Search: q.str("search"),
				IncludeArchived: deref(archived), Limit: limit, Cursor: q.str("cursor")})
			if err != nil {
				return err
			}
			out.Cursor = page.Cursor
			out.Items, err = newElementView(r.Context(), tx).list(page.Items)
			return err
		})
		if err != nil {
			return listError(err)
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
}

// getIntegrationElement finds one of an integration's templates by id or key.
func (a *API) getIntegrationElement(k apiKind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var out *Element
		err := a.inScope(r, func(tx *store.Tx) error {
			in, err := findIntegration(r, tx)
			if err != nil {
				return err
			}
			e, err := tx.Element(r.Context(), k.kind, r.PathValue("key"))
			if err != nil {
				return err
			}
			if e.IntegrationID != in.ID {
				return tenancy.ErrNotFound
			}
			out, err = newElementView(r.Context(), tx).of(e)
			return err
		})
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
}
