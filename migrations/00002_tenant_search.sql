-- +goose Up
-- Finding a tenant among a hundred thousand in a keystroke. Substring search (ILIKE) is not
-- leakproof, so under row-level security PostgreSQL evaluates it only after the policy and never
-- through an index: a sequential scan. The search therefore runs in a SECURITY DEFINER function
-- owned by a NOLOGIN role that bypasses RLS, which filters by the scope's settings itself and
-- returns only ids; the rows are then read under RLS as usual. The function lives in a private
-- schema with an empty search_path, and only the app role may execute it.

CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;

-- +goose StatementBegin
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tenantry_search') THEN
    CREATE ROLE tenantry_search NOLOGIN NOSUPERUSER BYPASSRLS NOINHERIT;
  END IF;
END
$$;
-- +goose StatementEnd

CREATE SCHEMA app_private;
REVOKE ALL ON SCHEMA app_private FROM PUBLIC;
GRANT USAGE ON SCHEMA app_private TO tenantry_app, tenantry_search;
GRANT USAGE ON SCHEMA app TO tenantry_search;
GRANT SELECT (workspace_id, id, name, internal_id) ON tenants TO tenantry_search;

CREATE INDEX tenants_search ON tenants USING gin ((name || ' ' || internal_id) public.gin_trgm_ops);
CREATE INDEX tenants_name ON tenants (workspace_id, name, id);
CREATE INDEX tenants_last_active ON tenants (workspace_id, (coalesce(last_active_at, '-infinity')), id);
-- Archived tenants are few; the "archived" filter must not walk the active ones.
CREATE INDEX tenants_archived ON tenants (workspace_id, created_at, id) WHERE archived_at IS NOT NULL;

-- The ids of the scope's tenants whose name or internalId contains q (case-insensitive).
-- +goose StatementBegin
CREATE FUNCTION app_private.tenant_ids_matching(q text) RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT t.id FROM public.tenants t
  WHERE t.workspace_id = (SELECT app.workspace_id())
    AND ((SELECT app.workspace_wide()) OR t.id = (SELECT app.tenant_id()))
    AND (t.name || ' ' || t.internal_id) OPERATOR(pg_catalog.~~*)
        ('%' || replace(replace(replace(q, '\', '\\'), '%', '\%'), '_', '\_') || '%')
$$;
-- +goose StatementEnd
ALTER FUNCTION app_private.tenant_ids_matching(text) OWNER TO tenantry_search;
REVOKE ALL ON FUNCTION app_private.tenant_ids_matching(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app_private.tenant_ids_matching(text) TO tenantry_app;

-- +goose Down
DROP FUNCTION app_private.tenant_ids_matching(text);
DROP INDEX tenants_search, tenants_name, tenants_last_active, tenants_archived;
REVOKE ALL ON tenants FROM tenantry_search;
DROP SCHEMA app_private;
