package web

import "net/http"

// Stubs, replaced by the Tenants area.
func notYet(w http.ResponseWriter, r *http.Request) error {
	return errStatus(http.StatusNotImplemented, "This page is being built.")
}

func (s *Server) tenantsList(w http.ResponseWriter, r *http.Request) error       { return notYet(w, r) }
func (s *Server) tenantCreate(w http.ResponseWriter, r *http.Request) error      { return notYet(w, r) }
func (s *Server) tenantShow(w http.ResponseWriter, r *http.Request) error        { return notYet(w, r) }
func (s *Server) tenantSaveFields(w http.ResponseWriter, r *http.Request) error  { return notYet(w, r) }
func (s *Server) tenantRevealField(w http.ResponseWriter, r *http.Request) error { return notYet(w, r) }
func (s *Server) tenantSetCredential(w http.ResponseWriter, r *http.Request) error {
	return notYet(w, r)
}
func (s *Server) tenantClearCredential(w http.ResponseWriter, r *http.Request) error {
	return notYet(w, r)
}
func (s *Server) tenantSaveCreditLimit(w http.ResponseWriter, r *http.Request) error {
	return notYet(w, r)
}
func (s *Server) tenantArchive(w http.ResponseWriter, r *http.Request) error { return notYet(w, r) }
func (s *Server) tenantRestore(w http.ResponseWriter, r *http.Request) error { return notYet(w, r) }
