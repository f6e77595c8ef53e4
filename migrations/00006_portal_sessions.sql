-- +goose Up
-- Tenant portal sessions (issue 6): a tenant opens /portal/activity once with a tenant token; the
-- server exchanges it for a short-lived session whose random token travels in a cookie. Only the
-- token's SHA-256 is stored, as for Console sessions (manager_sessions). A session belongs to one
-- tenant of one workspace: it is created in that tenant's scope, found by its token before a
-- scope exists, and ended by its token or by the workspace.
CREATE TABLE portal_sessions (
  workspace_id  uuid NOT NULL,
  token_hash    bytea NOT NULL,
  tenant_id     uuid NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL,
  PRIMARY KEY (workspace_id, token_hash),
  UNIQUE (token_hash),
  FOREIGN KEY (workspace_id, tenant_id) REFERENCES tenants (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX portal_sessions_tenant ON portal_sessions (workspace_id, tenant_id, expires_at);
ALTER TABLE portal_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE portal_sessions FORCE ROW LEVEL SECURITY;
-- Found, and ended, by its token before a scope exists (tenantry.portal_session_hash, hex).
CREATE POLICY portal_sessions_lookup ON portal_sessions FOR SELECT TO tenantry_app
  USING (token_hash = decode(nullif(current_setting('tenantry.portal_session_hash', true), ''), 'hex'));
CREATE POLICY portal_sessions_end ON portal_sessions FOR DELETE TO tenantry_app
  USING (token_hash = decode(nullif(current_setting('tenantry.portal_session_hash', true), ''), 'hex'));
-- Created (and its expired ones cleared) by the tenant's own scope only: a workspace-wide scope
-- never creates one, so no manager or workspace token can open a tenant's portal.
CREATE POLICY portal_sessions_tenant ON portal_sessions FOR ALL TO tenantry_app
  USING (workspace_id = (SELECT app.workspace_id()) AND tenant_id = (SELECT app.tenant_id()))
  WITH CHECK (workspace_id = (SELECT app.workspace_id()) AND tenant_id = (SELECT app.tenant_id()));
-- A workspace may see and end its tenants' sessions.
CREATE POLICY portal_sessions_workspace_read ON portal_sessions FOR SELECT TO tenantry_app
  USING (workspace_id = (SELECT app.workspace_id()) AND (SELECT app.workspace_wide()));
CREATE POLICY portal_sessions_workspace_end ON portal_sessions FOR DELETE TO tenantry_app
  USING (workspace_id = (SELECT app.workspace_id()) AND (SELECT app.workspace_wide()));
GRANT SELECT, INSERT, DELETE ON portal_sessions TO tenantry_app;

-- +goose Down
DROP TABLE portal_sessions;
