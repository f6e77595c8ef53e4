-- +goose Up
-- The foundation schema. Every table that holds workspace or tenant data has row-level security
-- ENABLEd and FORCEd, with policies for the app role that compare its columns with the
-- transaction-local settings tenantry.workspace_id and tenantry.tenant_id. The server never queries
-- these tables as anything but the app role (see internal/store/scope.go).
--
-- Scope settings (set by store.InScope, transaction-local):
--   tenantry.workspace_id  the workspace's uuid; unset or '' matches no row anywhere
--   tenantry.tenant_id     a tenant's uuid, or '*' for a workspace-wide scope (managers, workspace
--                          tokens); unset or '' matches no tenant row — forgetting the tenant never
--                          widens a request to the whole workspace.
-- Lookups before a scope exists (store/lookup.go) set one narrow setting instead:
--   tenantry.lookup_workspace_key, tenantry.lookup_manager_email, tenantry.manager_id

-- +goose StatementBegin
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tenantry_app') THEN
    CREATE ROLE tenantry_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT;
  END IF;
END
$$;
-- +goose StatementEnd

-- The connecting user must be able to SET ROLE tenantry_app. A superuser can anyway; granting
-- membership makes it work for an ordinary database owner too.
-- +goose StatementBegin
DO $$
BEGIN
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    EXECUTE format('GRANT tenantry_app TO %I', current_user);
  END IF;
END
$$;
-- +goose StatementEnd

CREATE SCHEMA app;
GRANT USAGE ON SCHEMA app TO tenantry_app;

-- Setting readers. '' and unset both become NULL, and NULL equals nothing, so a missing scope
-- matches no row. Written as inlinable SQL so the planner sees a stable expression and can use
-- indexes on workspace_id.
CREATE FUNCTION app.workspace_id() RETURNS uuid LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT nullif(current_setting('tenantry.workspace_id', true), '')::uuid $$;

-- The tenant a scope is limited to; NULL for a workspace-wide scope or none.
CREATE FUNCTION app.tenant_id() RETURNS uuid LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT CASE WHEN current_setting('tenantry.tenant_id', true) IN ('', '*') THEN NULL
                    ELSE current_setting('tenantry.tenant_id', true)::uuid END $$;

-- True only for an explicit workspace-wide scope ('*'), never for an unset one.
CREATE FUNCTION app.workspace_wide() RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT coalesce(current_setting('tenantry.tenant_id', true), '') = '*'
               AND app.workspace_id() IS NOT NULL $$;

-- Policies call these as (SELECT app.x()): a scalar subquery becomes an InitPlan that runs once
-- per query instead of once per row, and its result can still drive an index scan.

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA app TO tenantry_app;

-- Workspaces ---------------------------------------------------------------------------------------

CREATE TABLE workspaces (
  id                    uuid PRIMARY KEY,
  key                   text NOT NULL UNIQUE CHECK (key ~ '^[a-z0-9][a-z0-9_-]{1,62}$'),
  name                  text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  -- the HMAC secret tokens are signed with, AES-256-GCM ciphertext from internal/secrets
  secret_enc            bytea NOT NULL,
  -- the previous secret keeps verifying until prev_secret_expires_at (rotation overlap)
  prev_secret_enc       bytea,
  prev_secret_expires_at timestamptz,
  secret_rotated_at     timestamptz NOT NULL DEFAULT now(),
  settings              jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(settings) = 'object'),
  -- the tenant field schema: a JSON-Schema subset, {"type":"object","properties":{…},"required":[…]}
  tenant_field_schema   jsonb NOT NULL DEFAULT '{"type":"object","properties":{}}'
                          CHECK (jsonb_typeof(tenant_field_schema) = 'object'),
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE workspaces ENABLE ROW LEVEL SECURITY;
ALTER TABLE workspaces FORCE ROW LEVEL SECURITY;
CREATE POLICY workspaces_read ON workspaces FOR SELECT TO tenantry_app
  USING (id = (SELECT app.workspace_id())
         OR key = nullif(current_setting('tenantry.lookup_workspace_key', true), ''));

CREATE POLICY workspaces_insert ON workspaces FOR INSERT TO tenantry_app
  WITH CHECK (id = (SELECT app.workspace_id()) AND (SELECT app.workspace_wide()));
CREATE POLICY workspaces_update ON workspaces FOR UPDATE TO tenantry_app
  USING (id = (SELECT app.workspace_id()) AND (SELECT app.workspace_wide()))
  WITH CHECK (id = (SELECT app.workspace_id()) AND (SELECT app.workspace_wide()));
GRANT SELECT, INSERT, UPDATE ON workspaces TO tenantry_app;

-- Managers are people; they belong to workspaces through memberships. -----------------------------

CREATE TABLE managers (
  id             uuid PRIMARY KEY,
  email          text NOT NULL UNIQUE CHECK (email = lower(email) AND email LIKE '%_@_%'),
  name           text NOT NULL DEFAULT '',
  -- bumped to invalidate every session of this manager (sign-out everywhere, role removal)
  session_epoch  integer NOT NULL DEFAULT 0,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE memberships (
  workspace_id  uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  manager_id    uuid NOT NULL REFERENCES managers(id) ON DELETE CASCADE,
  role          text NOT NULL CHECK (role IN ('admin', 'support')),
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, manager_id)
);
CREATE INDEX memberships_manager ON memberships (manager_id);

ALTER TABLE managers ENABLE ROW LEVEL SECURITY;
ALTER TABLE managers FORCE ROW LEVEL SECURITY;
-- A manager row is visible to itself (sign-in lookup by email, session check by id) and to the
-- workspaces it belongs to.
CREATE POLICY managers_read ON managers FOR SELECT TO tenantry_app
  USING (email = nullif(current_setting('tenantry.lookup_manager_email', true), '')
         OR id = nullif(current_setting('tenantry.manager_id', true), '')::uuid
         OR ((SELECT app.workspace_wide()) AND EXISTS (SELECT 1 FROM memberships m
                    WHERE m.manager_id = managers.id AND m.workspace_id = (SELECT app.workspace_id()))));
CREATE POLICY managers_insert ON managers FOR INSERT TO tenantry_app
  WITH CHECK (email = nullif(current_setting('tenantry.lookup_manager_email', true), ''));
-- Only managers change their own row (password): a workspace, which a manager of other
-- workspaces may also belong to, never does.
CREATE POLICY managers_update ON managers FOR UPDATE TO tenantry_app
  USING (id = nullif(current_setting('tenantry.manager_id', true), '')::uuid)
  WITH CHECK (id = nullif(current_setting('tenantry.manager_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE ON managers TO tenantry_app;

-- Password hashes sit apart from managers, readable only by the manager's own lookups (sign-in
-- by email, password change by id): a workspace that can list its members never sees them.
CREATE TABLE manager_passwords (
  manager_id     uuid PRIMARY KEY REFERENCES managers(id) ON DELETE CASCADE,
  password_hash  text NOT NULL,
  updated_at     timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE manager_passwords ENABLE ROW LEVEL SECURITY;
ALTER TABLE manager_passwords FORCE ROW LEVEL SECURITY;
CREATE POLICY manager_passwords_own ON manager_passwords FOR ALL TO tenantry_app
  USING (manager_id = nullif(current_setting('tenantry.manager_id', true), '')::uuid
         OR manager_id IN (SELECT id FROM managers
                           WHERE email = nullif(current_setting('tenantry.lookup_manager_email', true), '')))
  WITH CHECK (manager_id = nullif(current_setting('tenantry.manager_id', true), '')::uuid
         OR manager_id IN (SELECT id FROM managers
                           WHERE email = nullif(current_setting('tenantry.lookup_manager_email', true), '')));
GRANT SELECT, INSERT, UPDATE ON manager_passwords TO tenantry_app;

ALTER TABLE memberships ENABLE ROW LEVEL SECURITY;
ALTER TABLE memberships FORCE ROW LEVEL SECURITY;
CREATE POLICY memberships_read ON memberships FOR SELECT TO tenantry_app
  USING ((workspace_id = (SELECT app.workspace_id()) AND (SELECT app.workspace_wide()))
         OR manager_id = nullif(current_setting('tenantry.manager_id', true), '')::uuid);
CREATE POLICY memberships_write ON memberships FOR ALL TO tenantry_app
  USING (workspace_id = (SELECT app.workspace_id()) AND (SELECT app.workspace_wide()))
  WITH CHECK (workspace_id = (SELECT app.workspace_id()) AND (SELECT app.workspace_wide()));
GRANT SELECT, INSERT, UPDATE, DELETE ON memberships TO tenantry_app;

-- A manager signing in sees the workspaces they belong to (and only those).
CREATE POLICY workspaces_of_manager ON workspaces FOR SELECT TO tenantry_app
  USING (EXISTS (SELECT 1 FROM memberships m WHERE m.workspace_id = workspaces.id
                 AND m.manager_id = nullif(current_setting('tenantry.manager_id', true), '')::uuid));

-- Console sessions live in the database so that sign-out and role removal end them at once and
-- any server process can serve any session. The cookie carries a random token; only its SHA-256
-- is stored.
CREATE TABLE manager_sessions (
  workspace_id  uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  token_hash    bytea NOT NULL,
  manager_id    uuid NOT NULL REFERENCES managers(id) ON DELETE CASCADE,
  created_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL,
  PRIMARY KEY (workspace_id, token_hash),
  UNIQUE (token_hash)
);
CREATE INDEX manager_sessions_manager ON manager_sessions (workspace_id, manager_id);
ALTER TABLE manager_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE manager_sessions FORCE ROW LEVEL SECURITY;
-- Found by its token before a scope exists; created and ended by its own manager; ended by the
-- workspace (role removal).
CREATE POLICY manager_sessions_lookup ON manager_sessions FOR SELECT TO tenantry_app
  USING (token_hash = decode(nullif(current_setting('tenantry.session_hash', true), ''), 'hex'));
CREATE POLICY manager_sessions_own ON manager_sessions FOR ALL TO tenantry_app
  USING (manager_id = nullif(current_setting('tenantry.manager_id', true), '')::uuid)
  WITH CHECK (manager_id = nullif(current_setting('tenantry.manager_id', true), '')::uuid);
-- A workspace may see and end its sessions (role removal), never create one.
CREATE POLICY manager_sessions_workspace_read ON manager_sessions FOR SELECT TO tenantry_app
  USING (workspace_id = (SELECT app.workspace_id()) AND (SELECT app.workspace_wide()));
CREATE POLICY manager_sessions_workspace ON manager_sessions FOR DELETE TO tenantry_app
  USING (workspace_id = (SELECT app.workspace_id()) AND (SELECT app.workspace_wide()));
GRANT SELECT, INSERT, DELETE ON manager_sessions TO tenantry_app;

-- Tenants ------------------------------------------------------------------------------------------

CREATE TABLE tenants (
  workspace_id      uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  id                uuid NOT NULL,
  internal_id       text NOT NULL CHECK (length(internal_id) BETWEEN 1 AND 255),
  name              text NOT NULL CHECK (length(name) <= 500),
  fields            jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(fields) = 'object'),
  -- secret JSON, AES-256-GCM ciphertext; NULL = none set
  credentials_enc   bytea,
  -- which credential keys are set and when: {"apiKey": "2026-11-23T10:00:00Z"}; never values
  credentials_meta  jsonb NOT NULL DEFAULT '{}',
  ai_credits_rolling_30_day_limit numeric CHECK (ai_credits_rolling_30_day_limit >= 0),
  is_test           boolean NOT NULL DEFAULT false,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  archived_at       timestamptz,
  last_active_at    timestamptz,
  PRIMARY KEY (workspace_id, id),
  UNIQUE (workspace_id, internal_id)
);
CREATE INDEX tenants_created ON tenants (workspace_id, created_at, id);
ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenants_scope ON tenants FOR ALL TO tenantry_app
  USING (workspace_id = (SELECT app.workspace_id()) AND ((SELECT app.workspace_wide()) OR id = (SELECT app.tenant_id())))
  WITH CHECK (workspace_id = (SELECT app.workspace_id()) AND ((SELECT app.workspace_wide()) OR id = (SELECT app.tenant_id())));
GRANT SELECT, INSERT, UPDATE, DELETE ON tenants TO tenantry_app;

-- Integrations: workspace level only. Tenants read them; only a workspace-wide scope writes. -----

CREATE TABLE integrations (
  workspace_id  uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  id            uuid NOT NULL,
  key           text NOT NULL CHECK (key ~ '^[a-zA-Z0-9][a-zA-Z0-9._-]{0,99}$'),
  name          text NOT NULL,
  logo_uri      text NOT NULL DEFAULT '',
  base_url      text NOT NULL DEFAULT '',
  auth_type     text NOT NULL DEFAULT 'none'
                  CHECK (auth_type IN ('none', 'api-key-header', 'bearer', 'basic')),
  config        jsonb NOT NULL DEFAULT '{}',
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  archived_at   timestamptz,
  PRIMARY KEY (workspace_id, id),
  UNIQUE (workspace_id, key)
);
ALTER TABLE integrations ENABLE ROW LEVEL SECURITY;
ALTER TABLE integrations FORCE ROW LEVEL SECURITY;
CREATE POLICY integrations_read ON integrations FOR SELECT TO tenantry_app
  USING (workspace_id = (SELECT app.workspace_id())
         AND ((SELECT app.workspace_wide()) OR (SELECT app.tenant_id()) IS NOT NULL));
CREATE POLICY integrations_write ON integrations FOR ALL TO tenantry_app
  USING (workspace_id = (SELECT app.workspace_id()) AND (SELECT app.workspace_wide()))
  WITH CHECK (workspace_id = (SELECT app.workspace_id()) AND (SELECT app.workspace_wide()));
GRANT SELECT, INSERT, UPDATE, DELETE ON integrations TO tenantry_app;

-- Connections: tenant only. ----------------------------------------------------------------------

CREATE TABLE connections (
  workspace_id     uuid NOT NULL,
  id               uuid NOT NULL,
  tenant_id        uuid NOT NULL,
  integration_id   uuid NOT NULL,
  name             text NOT NULL,
  key              text,
  credentials_enc  bytea,
  state            text NOT NULL DEFAULT 'READY',
  disconnected     boolean NOT NULL DEFAULT false,
  is_test          boolean NOT NULL DEFAULT false,
  -- set when the tenant's archiving deactivated it, so restoring reactivates exactly those
  deactivated_at   timestamptz,
  deactivated_by_tenant_archive boolean NOT NULL DEFAULT false,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  last_active_at   timestamptz,
  archived_at      timestamptz,
  PRIMARY KEY (workspace_id, id),
  -- lets rows of other tables name a connection together with its tenant (see elements)
  UNIQUE (workspace_id, tenant_id, id),
  FOREIGN KEY (workspace_id, tenant_id) REFERENCES tenants (workspace_id, id) ON DELETE CASCADE,
  FOREIGN KEY (workspace_id, integration_id) REFERENCES integrations (workspace_id, id)
);
CREATE INDEX connections_tenant ON connections (workspace_id, tenant_id, created_at);
ALTER TABLE connections ENABLE ROW LEVEL SECURITY;
ALTER TABLE connections FORCE ROW LEVEL SECURITY;
CREATE POLICY connections_scope ON connections FOR ALL TO tenantry_app
  USING (workspace_id = (SELECT app.workspace_id()) AND ((SELECT app.workspace_wide()) OR tenant_id = (SELECT app.tenant_id())))
  WITH CHECK (workspace_id = (SELECT app.workspace_id()) AND ((SELECT app.workspace_wide()) OR tenant_id = (SELECT app.tenant_id())));
GRANT SELECT, INSERT, UPDATE, DELETE ON connections TO tenantry_app;

-- Elements ---------------------------------------------------------------------------------------
-- Universe elements are public and shipped with Tenantry: readable by every scope that has at
-- least a workspace, writable by nobody through the app role (no grant, no write policy). They
-- carry no workspace_id: on a distributed PostgreSQL this is a reference table.

CREATE TABLE universe_elements (
  id          uuid PRIMARY KEY,
  kind        text NOT NULL CHECK (kind IN ('app', 'connector', 'action', 'flow', 'data-source', 'field-mapping')),
  key         text NOT NULL,
  name        text NOT NULL,
  description text NOT NULL DEFAULT '',
  config      jsonb NOT NULL DEFAULT '{}',
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (kind, key)
);
ALTER TABLE universe_elements ENABLE ROW LEVEL SECURITY;
ALTER TABLE universe_elements FORCE ROW LEVEL SECURITY;
CREATE POLICY universe_read ON universe_elements FOR SELECT TO tenantry_app
  USING ((SELECT app.workspace_id()) IS NOT NULL);
GRANT SELECT ON universe_elements TO tenantry_app;

-- Workspace elements (tenant_id NULL: templates) and tenant elements (tenant_id set: the tenant's
-- own, or with parent_id a customization of a workspace element; with connection_id tied to one
-- of the tenant's connections).
CREATE TABLE elements (
  workspace_id        uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  id                  uuid NOT NULL,
  tenant_id           uuid,
  connection_id       uuid,
  kind                text NOT NULL CHECK (kind IN ('connector', 'action', 'flow', 'data-source', 'field-mapping')),
  key                 text NOT NULL,
  name                text NOT NULL,
  description         text NOT NULL DEFAULT '',
  integration_id      uuid,
  parent_id           uuid,
  universal_parent_id uuid REFERENCES universe_elements(id),
  config              jsonb NOT NULL DEFAULT '{}',
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  archived_at         timestamptz,
  -- Foreign-key checks and cascades bypass row-level security, so the keys themselves must keep
  -- tenants apart: a connection is named with its tenant, and a parent must be a template.
  is_template         boolean GENERATED ALWAYS AS (tenant_id IS NULL) STORED,
  parent_is_template  boolean GENERATED ALWAYS AS (CASE WHEN parent_id IS NOT NULL THEN true END) STORED,
  PRIMARY KEY (workspace_id, id),
  UNIQUE (workspace_id, id, is_template),
  FOREIGN KEY (workspace_id, tenant_id) REFERENCES tenants (workspace_id, id) ON DELETE CASCADE,
  FOREIGN KEY (workspace_id, tenant_id, connection_id) REFERENCES connections (workspace_id, tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (workspace_id, integration_id) REFERENCES integrations (workspace_id, id),
  FOREIGN KEY (workspace_id, parent_id, parent_is_template) REFERENCES elements (workspace_id, id, is_template) ON DELETE CASCADE,
  CHECK (connection_id IS NULL OR tenant_id IS NOT NULL),
  CHECK (parent_id IS NULL OR tenant_id IS NOT NULL)
);
CREATE UNIQUE INDEX elements_workspace_key ON elements (workspace_id, kind, key)
  WHERE tenant_id IS NULL;
CREATE INDEX elements_tenant ON elements (workspace_id, tenant_id, kind) WHERE tenant_id IS NOT NULL;
ALTER TABLE elements ENABLE ROW LEVEL SECURITY;
ALTER TABLE elements FORCE ROW LEVEL SECURITY;
-- Templates are readable by every tenant of the workspace; tenant rows only by their tenant.
CREATE POLICY elements_read ON elements FOR SELECT TO tenantry_app
  USING (workspace_id = (SELECT app.workspace_id())
         AND (((SELECT app.workspace_wide()) OR tenant_id = (SELECT app.tenant_id())) OR (tenant_id IS NULL AND (SELECT app.tenant_id()) IS NOT NULL)));
-- Templates are written only workspace-wide; tenant rows by their tenant (or workspace-wide).
CREATE POLICY elements_write ON elements FOR ALL TO tenantry_app
  USING (workspace_id = (SELECT app.workspace_id())
         AND ((SELECT app.workspace_wide()) OR (tenant_id IS NOT NULL AND tenant_id = (SELECT app.tenant_id()))))
  WITH CHECK (workspace_id = (SELECT app.workspace_id())
         AND ((SELECT app.workspace_wide()) OR (tenant_id IS NOT NULL AND tenant_id = (SELECT app.tenant_id()))));
GRANT SELECT, INSERT, UPDATE, DELETE ON elements TO tenantry_app;

-- Activity log -----------------------------------------------------------------------------------
-- Grows without bound: keyset pagination on (created_at, id); partitioned by time from the start
-- (the activity issue adds monthly partitions and retention; until then the default partition).

CREATE TABLE activity_log (
  workspace_id    uuid NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  id              uuid NOT NULL,
  tenant_id       uuid,
  type            text NOT NULL,
  status          text NOT NULL DEFAULT 'success' CHECK (status IN ('success', 'warning', 'error')),
  actor_type      text NOT NULL CHECK (actor_type IN ('manager', 'workspace-token', 'tenant-token', 'system')),
  actor_id        text NOT NULL DEFAULT '',
  connection_id   uuid,
  integration_id  uuid,
  element_id      uuid,
  message         text NOT NULL DEFAULT '',
  details         jsonb NOT NULL DEFAULT '{}',
  duration_ms     integer,
  request_id      text NOT NULL DEFAULT '',
  PRIMARY KEY (workspace_id, created_at, id)
) PARTITION BY RANGE (created_at);
CREATE TABLE activity_log_default PARTITION OF activity_log DEFAULT;
CREATE INDEX activity_log_tenant ON activity_log (workspace_id, tenant_id, created_at, id);
-- Policies live on the parent; the app role has no grant on partitions, and they force RLS too
-- so a direct read finds nothing.
ALTER TABLE activity_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE activity_log FORCE ROW LEVEL SECURITY;
ALTER TABLE activity_log_default ENABLE ROW LEVEL SECURITY;
ALTER TABLE activity_log_default FORCE ROW LEVEL SECURITY;
-- Workspace-level entries (tenant_id NULL) are for managers only.
CREATE POLICY activity_read ON activity_log FOR SELECT TO tenantry_app
  USING (workspace_id = (SELECT app.workspace_id()) AND ((SELECT app.workspace_wide()) OR tenant_id = (SELECT app.tenant_id()))
         OR (workspace_id = (SELECT app.workspace_id()) AND tenant_id IS NULL AND (SELECT app.workspace_wide())));
-- Entries are appended, never changed: no UPDATE or DELETE grant.
CREATE POLICY activity_insert ON activity_log FOR INSERT TO tenantry_app
  WITH CHECK (workspace_id = (SELECT app.workspace_id())
              AND ((SELECT app.workspace_wide()) OR tenant_id = (SELECT app.tenant_id())));
GRANT SELECT, INSERT ON activity_log TO tenantry_app;

-- AI credit ledger -------------------------------------------------------------------------------

CREATE TABLE ai_credit_ledger (
  workspace_id   uuid NOT NULL,
  id             uuid NOT NULL,
  tenant_id      uuid NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  credits        numeric NOT NULL CHECK (credits >= 0),
  element_id     uuid,
  action_run_id  uuid,
  PRIMARY KEY (workspace_id, id),
  FOREIGN KEY (workspace_id, tenant_id) REFERENCES tenants (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX ai_credit_ledger_window ON ai_credit_ledger (workspace_id, tenant_id, created_at);
ALTER TABLE ai_credit_ledger ENABLE ROW LEVEL SECURITY;
ALTER TABLE ai_credit_ledger FORCE ROW LEVEL SECURITY;
CREATE POLICY ai_credit_ledger_scope ON ai_credit_ledger FOR ALL TO tenantry_app
  USING (workspace_id = (SELECT app.workspace_id()) AND ((SELECT app.workspace_wide()) OR tenant_id = (SELECT app.tenant_id())))
  WITH CHECK (workspace_id = (SELECT app.workspace_id()) AND ((SELECT app.workspace_wide()) OR tenant_id = (SELECT app.tenant_id())));
GRANT SELECT, INSERT ON ai_credit_ledger TO tenantry_app;

-- +goose Down
DROP TABLE ai_credit_ledger, activity_log, elements, universe_elements, connections, integrations,
  tenants, manager_sessions, memberships, manager_passwords, managers, workspaces;
DROP SCHEMA app CASCADE;
