package web

import "net/http"

// Stubs, replaced by the Settings area.
func (s *Server) settingsGeneral(w http.ResponseWriter, r *http.Request) error { return notYet(w, r) }
func (s *Server) settingsSaveGeneral(w http.ResponseWriter, r *http.Request) error {
	return notYet(w, r)
}
func (s *Server) settingsRotateSecret(w http.ResponseWriter, r *http.Request) error {
	return notYet(w, r)
}
func (s *Server) settingsSaveSchema(w http.ResponseWriter, r *http.Request) error {
	return notYet(w, r)
}
func (s *Server) settingsPreviewSchema(w http.ResponseWriter, r *http.Request) error {
	return notYet(w, r)
}
func (s *Server) settingsSaveLimits(w http.ResponseWriter, r *http.Request) error {
	return notYet(w, r)
}
func (s *Server) settingsSaveOrigins(w http.ResponseWriter, r *http.Request) error {
	return notYet(w, r)
}
func (s *Server) membersList(w http.ResponseWriter, r *http.Request) error   { return notYet(w, r) }
func (s *Server) memberAdd(w http.ResponseWriter, r *http.Request) error     { return notYet(w, r) }
func (s *Server) memberSetRole(w http.ResponseWriter, r *http.Request) error { return notYet(w, r) }
func (s *Server) memberRemove(w http.ResponseWriter, r *http.Request) error  { return notYet(w, r) }
