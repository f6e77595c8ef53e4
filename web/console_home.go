package web

import (
	"net/http"

	"tenantry/internal/store"
	"tenantry/views/home"
)

func (s *Server) home(w http.ResponseWriter, r *http.Request) error {
	sess := sessionFrom(r.Context())
	o := home.Overview{WorkspaceName: sess.WorkspaceName, WorkspaceKey: sess.WorkspaceKey, Role: string(sess.Role)}
	err := s.db.InScope(r.Context(), sess.Scope(), func(tx *store.Tx) error {
		var err error
		o.Tenants, err = tx.CountTenants(r.Context())
		return err
	})
	if err != nil {
		return err
	}
	return s.render(w, r, http.StatusOK, s.page(r, "Home", "/"), home.Home(o))
}
