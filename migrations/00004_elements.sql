-- +goose Up
-- Elements on three levels, tenant customizations, connections and event subscriptions
-- (issue 5). The foundation created the tables; this adds what the API shapes need and the
-- keys that keep tenants apart where row-level security does not reach (foreign-key checks).

-- Universe: apps, connectors and actions shipped as data files (migrations/universe/*.json),
-- upserted by store.Migrate as the owner. The app role may only read them (foundation: no write
-- grant, no write policy). Connectors and actions name the app they belong to.
ALTER TABLE universe_elements ADD COLUMN app_key text NOT NULL DEFAULT '';
ALTER TABLE universe_elements ADD COLUMN type text NOT NULL DEFAULT '';
CREATE INDEX universe_elements_kind ON universe_elements (kind, key);

-- Workspace and tenant elements.
--   type          the action type (http-request, …); '' for kinds without types
--   instance_key  Membrane's instanceKey: several connection-level elements of one template
--   config        a template's or tenant-own element's whole config; a customization's override
--                 (an RFC 7386 merge patch over its parent's effective config)
--   name          '' on a customization = the template's name
ALTER TABLE elements ADD COLUMN type text NOT NULL DEFAULT '';
ALTER TABLE elements ADD COLUMN instance_key text NOT NULL DEFAULT '';
ALTER TABLE elements ADD CONSTRAINT elements_key_format CHECK (key ~ '^[a-zA-Z0-9][a-zA-Z0-9._-]{0,99}$');
ALTER TABLE elements ADD CONSTRAINT elements_name_length CHECK (length(name) <= 200);
ALTER TABLE elements ADD CONSTRAINT elements_config_object CHECK (jsonb_typeof(config) = 'object');
ALTER TABLE elements ADD CONSTRAINT elements_instance_key CHECK (length(instance_key) <= 100);
-- A customization names its template by key too (the key is the template's).
-- One tenant-level row per (tenant, kind, key, connection, instance key): the tenant-wide
-- customization or tenant-own element, and each connection's.
CREATE UNIQUE INDEX elements_tenant_key ON elements (workspace_id, tenant_id, kind, key,
  coalesce(connection_id, '00000000-0000-0000-0000-000000000000'::uuid), instance_key)
  WHERE tenant_id IS NOT NULL;
CREATE INDEX elements_parent ON elements (workspace_id, parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX elements_connection ON elements (workspace_id, connection_id) WHERE connection_id IS NOT NULL;
DROP INDEX elements_tenant;
CREATE INDEX elements_tenant ON elements (workspace_id, tenant_id, kind, created_at, id) WHERE tenant_id IS NOT NULL;
CREATE INDEX elements_workspace_list ON elements (workspace_id, kind, created_at, id) WHERE tenant_id IS NULL;

-- Connections.
ALTER TABLE connections ADD CONSTRAINT connections_name_length CHECK (length(name) BETWEEN 1 AND 200);
ALTER TABLE connections ADD CONSTRAINT connections_key_format CHECK (key IS NULL OR key ~ '^[a-zA-Z0-9][a-zA-Z0-9._-]{0,99}$');
ALTER TABLE connections ADD CONSTRAINT connections_state CHECK (state IN ('BUILDING', 'CLIENT_ACTION_REQUIRED',
  'CONFIGURATION_ERROR', 'SETUP_FAILED', 'READY', 'DISCONNECTED'));
-- which credential keys are set and when; never values (as tenants.credentials_meta)
ALTER TABLE connections ADD COLUMN credentials_meta jsonb NOT NULL DEFAULT '{}';
ALTER TABLE connections ADD COLUMN meta jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(meta) = 'object');
CREATE UNIQUE INDEX connections_key ON connections (workspace_id, tenant_id, key) WHERE key IS NOT NULL;
CREATE INDEX connections_list ON connections (workspace_id, created_at, id);
CREATE INDEX connections_integration ON connections (workspace_id, integration_id, created_at, id);

-- Integrations.
ALTER TABLE integrations ADD CONSTRAINT integrations_name_length CHECK (length(name) BETWEEN 1 AND 200);
ALTER TABLE integrations ADD CONSTRAINT integrations_urls CHECK (length(logo_uri) <= 2000 AND length(base_url) <= 2000);
CREATE INDEX integrations_list ON integrations (workspace_id, created_at, id);

-- Event subscriptions: a tenant's subscription to one of an integration's events, per
-- connection. The foreign key names the connection with its tenant, so a row can never tie one
-- tenant to another's connection (FK checks bypass row-level security).
CREATE TABLE event_subscriptions (
  workspace_id   uuid NOT NULL,
  id             uuid NOT NULL,
  tenant_id      uuid NOT NULL,
  connection_id  uuid NOT NULL,
  event_type     text NOT NULL CHECK (event_type ~ '^[a-zA-Z0-9][a-zA-Z0-9._:-]{0,99}$'),
  webhook_uri    text NOT NULL DEFAULT '' CHECK (length(webhook_uri) <= 2000),
  created_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, id),
  UNIQUE (workspace_id, connection_id, event_type),
  FOREIGN KEY (workspace_id, tenant_id, connection_id) REFERENCES connections (workspace_id, tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX event_subscriptions_tenant ON event_subscriptions (workspace_id, tenant_id);
ALTER TABLE event_subscriptions ENABLE ROW LEVEL SECURITY;
ALTER TABLE event_subscriptions FORCE ROW LEVEL SECURITY;
CREATE POLICY event_subscriptions_scope ON event_subscriptions FOR ALL TO tenantry_app
  USING (workspace_id = (SELECT app.workspace_id()) AND ((SELECT app.workspace_wide()) OR tenant_id = (SELECT app.tenant_id())))
  WITH CHECK (workspace_id = (SELECT app.workspace_id()) AND ((SELECT app.workspace_wide()) OR tenant_id = (SELECT app.tenant_id())));
GRANT SELECT, INSERT, UPDATE, DELETE ON event_subscriptions TO tenantry_app;

-- +goose Down
DROP TABLE event_subscriptions;
DROP INDEX integrations_list;
ALTER TABLE integrations DROP CONSTRAINT integrations_name_length, DROP CONSTRAINT integrations_urls;
DROP INDEX connections_key, connections_list, connections_integration;
ALTER TABLE connections DROP COLUMN credentials_meta, DROP COLUMN meta,
  DROP CONSTRAINT connections_name_length, DROP CONSTRAINT connections_key_format, DROP CONSTRAINT connections_state;
DROP INDEX elements_tenant_key, elements_parent, elements_connection, elements_tenant, elements_workspace_list;
CREATE INDEX elements_tenant ON elements (workspace_id, tenant_id, kind) WHERE tenant_id IS NOT NULL;
ALTER TABLE elements DROP COLUMN type, DROP COLUMN instance_key, DROP CONSTRAINT elements_key_format,
  DROP CONSTRAINT elements_name_length, DROP CONSTRAINT elements_config_object, DROP CONSTRAINT elements_instance_key;
DROP INDEX universe_elements_kind;
ALTER TABLE universe_elements DROP COLUMN app_key, DROP COLUMN type;
