-- +goose Up
-- The activity log at scale (issue 6): daily partitions instead of the foundation's single
-- default partition, an index for every Console filter, a trigram index for text in the message
-- (used through a SECURITY DEFINER function, since ILIKE is not leakproof and so cannot use an
-- index under row-level security), and maintenance functions that create partitions ahead and
-- expire old ones.
--
-- Why daily partitions and no default partition: retention is counted in days, so a day is the
-- unit a drop removes; and without a default partition PostgreSQL can scan partitions in order
-- (an ordered Append) and stop after one page, newest first. Partitions are created 14 days
-- ahead at every start (store.Migrate) and every hour (the server's maintenance job).

ALTER TABLE activity_log RENAME TO activity_log_v1;
ALTER TABLE activity_log_default RENAME TO activity_log_v1_default;
ALTER INDEX activity_log_tenant RENAME TO activity_log_v1_tenant;
ALTER TABLE activity_log_v1 RENAME CONSTRAINT activity_log_pkey TO activity_log_v1_pkey;

CREATE TABLE activity_log (
  workspace_id    uuid NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  id              uuid NOT NULL,
  tenant_id       uuid,
  type            text NOT NULL CHECK (length(type) <= 100),
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

-- One index per filter, each ending in (created_at, id) so a filtered page is read newest first
-- and stops after a page. Partial where most rows have no value.
CREATE INDEX activity_log_tenant ON activity_log (workspace_id, tenant_id, created_at, id);
CREATE INDEX activity_log_type ON activity_log (workspace_id, type, created_at, id);
CREATE INDEX activity_log_status ON activity_log (workspace_id, status, created_at, id) WHERE status <> 'success';
CREATE INDEX activity_log_integration ON activity_log (workspace_id, integration_id, created_at, id) WHERE integration_id IS NOT NULL;
CREATE INDEX activity_log_connection ON activity_log (workspace_id, connection_id, created_at, id) WHERE connection_id IS NOT NULL;
CREATE INDEX activity_log_element ON activity_log (workspace_id, element_id, created_at, id) WHERE element_id IS NOT NULL;
CREATE INDEX activity_log_actor ON activity_log (workspace_id, actor_type, actor_id, created_at, id);
CREATE INDEX activity_log_message ON activity_log USING gin (message public.gin_trgm_ops);

ALTER TABLE activity_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE activity_log FORCE ROW LEVEL SECURITY;
-- Workspace-level entries (tenant_id NULL) are for managers (workspace-wide scopes) only.
CREATE POLICY activity_read ON activity_log FOR SELECT TO tenantry_app
  USING (workspace_id = (SELECT app.workspace_id())
         AND ((SELECT app.workspace_wide()) OR tenant_id = (SELECT app.tenant_id())));
-- Entries are appended, never changed: no UPDATE or DELETE grant.
CREATE POLICY activity_insert ON activity_log FOR INSERT TO tenantry_app
  WITH CHECK (workspace_id = (SELECT app.workspace_id())
              AND ((SELECT app.workspace_wide()) OR tenant_id = (SELECT app.tenant_id())));
GRANT SELECT, INSERT ON activity_log TO tenantry_app;

-- Creates the daily partitions for [from_day, to_day] that do not exist yet. Partitions force RLS
-- too and grant nothing, so only the parent (with its policies) is readable.
-- +goose StatementBegin
CREATE FUNCTION app_private.ensure_activity_partitions(from_day date, to_day date) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  d date := from_day;
  made integer := 0;
  name text;
BEGIN
  IF from_day IS NULL OR to_day IS NULL OR to_day - from_day > 4000 THEN
    RAISE EXCEPTION 'partition range out of bounds' USING ERRCODE = '22023';
  END IF;
  WHILE d <= to_day LOOP
    name := 'activity_log_p' || to_char(d, 'YYYYMMDD');
    IF to_regclass('public.' || name) IS NULL THEN
      EXECUTE format('CREATE TABLE public.%I PARTITION OF public.activity_log FOR VALUES FROM (%L) TO (%L)',
        name, (d::text || ' 00:00:00+00')::timestamptz, ((d + 1)::text || ' 00:00:00+00')::timestamptz);
      EXECUTE format('ALTER TABLE public.%I ENABLE ROW LEVEL SECURITY', name);
      EXECUTE format('ALTER TABLE public.%I FORCE ROW LEVEL SECURITY', name);
      made := made + 1;
    END IF;
    d := d + 1;
  END LOOP;
  RETURN made;
END
$$;
-- +goose StatementEnd
REVOKE ALL ON FUNCTION app_private.ensure_activity_partitions(date, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app_private.ensure_activity_partitions(date, date) TO tenantry_app;

-- Retention. Reading every workspace's setting and deleting entries must see past row-level
-- security, which binds even the tables' owner (FORCE) unless it is a superuser; so those two
-- steps run as tenantry_maint, a NOLOGIN role with BYPASSRLS and only the grants they need.
-- +goose StatementBegin
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tenantry_maint') THEN
    CREATE ROLE tenantry_maint NOLOGIN NOSUPERUSER BYPASSRLS NOINHERIT;
  END IF;
END
$$;
-- +goose StatementEnd
GRANT USAGE ON SCHEMA app_private TO tenantry_maint;
GRANT SELECT (id, settings) ON workspaces TO tenantry_maint;
GRANT SELECT, DELETE ON activity_log TO tenantry_maint;

-- The longest retention any workspace has, in days (default 30).
-- +goose StatementBegin
CREATE FUNCTION app_private.longest_activity_retention() RETURNS integer
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT coalesce(max(coalesce((w.settings->>'activityRetentionDays')::integer, 30)), 30) FROM public.workspaces w
$$;
-- +goose StatementEnd
ALTER FUNCTION app_private.longest_activity_retention() OWNER TO tenantry_maint;
REVOKE ALL ON FUNCTION app_private.longest_activity_retention() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app_private.longest_activity_retention() TO tenantry_app;

-- Drops every daily partition whose day ended longer ago than the longest retention.
-- +goose StatementBegin
CREATE FUNCTION app_private.drop_expired_activity_partitions() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  longest integer := app_private.longest_activity_retention();
  p record;
  dropped integer := 0;
BEGIN
  FOR p IN
    SELECT c.relname FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'public.activity_log'::regclass AND c.relname ~ '^activity_log_p[0-9]{8}$'
  LOOP
    -- activity_log_pYYYYMMDD holds that UTC day.
    IF to_date(substr(p.relname, 15), 'YYYYMMDD') + 1 <= (now() AT TIME ZONE 'UTC')::date - longest THEN
      EXECUTE format('DROP TABLE public.%I', p.relname);
      dropped := dropped + 1;
    END IF;
  END LOOP;
  RETURN dropped;
END
$$;
-- +goose StatementEnd
REVOKE ALL ON FUNCTION app_private.drop_expired_activity_partitions() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app_private.drop_expired_activity_partitions() TO tenantry_app;

-- Deletes, up to batch rows per workspace, the entries of workspaces whose retention is shorter
-- than the longest (their days are still in partitions other workspaces keep).
-- +goose StatementBegin
CREATE FUNCTION app_private.delete_expired_activity(batch integer) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  w record;
  n bigint;
  deleted bigint := 0;
BEGIN
  FOR w IN
    SELECT x.id, coalesce((x.settings->>'activityRetentionDays')::integer, 30) AS days FROM public.workspaces x
  LOOP
    DELETE FROM public.activity_log a
     WHERE a.workspace_id = w.id AND (a.created_at, a.id) IN (
       SELECT y.created_at, y.id FROM public.activity_log y
        WHERE y.workspace_id = w.id AND y.created_at < now() - make_interval(days => w.days)
        LIMIT batch);
    GET DIAGNOSTICS n = ROW_COUNT;
    deleted := deleted + n;
  END LOOP;
  RETURN deleted;
END
$$;
-- +goose StatementEnd
ALTER FUNCTION app_private.delete_expired_activity(integer) OWNER TO tenantry_maint;
REVOKE ALL ON FUNCTION app_private.delete_expired_activity(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app_private.delete_expired_activity(integer) TO tenantry_app;

-- The foundation's entries move into the new partitions. The owner reads them past RLS only
-- once FORCE is off (a superuser would anyway).
ALTER TABLE activity_log_v1 NO FORCE ROW LEVEL SECURITY;
ALTER TABLE activity_log_v1_default NO FORCE ROW LEVEL SECURITY;
ALTER TABLE activity_log NO FORCE ROW LEVEL SECURITY;
-- +goose StatementBegin
DO $$
DECLARE
  first date;
BEGIN
  SELECT coalesce(min(created_at)::date, current_date) INTO first FROM activity_log_v1;
  PERFORM app_private.ensure_activity_partitions(least(first, current_date - 1), current_date + 14);
END
$$;
-- +goose StatementEnd
INSERT INTO activity_log SELECT workspace_id, created_at, id, tenant_id, type, status, actor_type, actor_id,
  connection_id, integration_id, element_id, message, details, duration_ms, request_id FROM activity_log_v1;
DROP TABLE activity_log_v1;
ALTER TABLE activity_log FORCE ROW LEVEL SECURITY;

-- Text in the message, under the scope: the keys (created_at, id) of one page of matching
-- entries, newest first, with every other filter applied too, so the planner can choose between
-- the trigram index (a rare term) and a filter index read newest first (a common one). Same
-- containment as the tenant search: owned by the NOLOGIN tenantry_search role (BYPASSRLS), empty
-- search_path, the scope read from the settings themselves, EXECUTE for the app role only, keys
-- out; the rows are then read under RLS.
GRANT SELECT (workspace_id, created_at, id, tenant_id, type, status, actor_type, actor_id, integration_id,
  connection_id, element_id, message) ON activity_log TO tenantry_search;
-- +goose StatementBegin
CREATE FUNCTION app_private.search_activity_page(q text, f jsonb, before_at timestamptz, before_id uuid,
    since timestamptz, lim integer)
RETURNS TABLE (created_at timestamptz, id uuid) LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  conds text := '';
BEGIN
  IF lim IS NULL OR lim < 1 OR lim > 1001 THEN
    RAISE EXCEPTION 'lim out of range' USING ERRCODE = '22023';
  END IF;
  -- Each filter is a fixed condition on a fixed column; the values travel as parameters.
  IF f ? 'tenant' THEN conds := conds || ' AND a.tenant_id = ($2->>''tenant'')::uuid'; END IF;
  IF f ? 'types' THEN conds := conds || ' AND a.type = ANY (ARRAY(SELECT jsonb_array_elements_text($2->''types'')))'; END IF;
  IF f ? 'statuses' THEN conds := conds || ' AND a.status = ANY (ARRAY(SELECT jsonb_array_elements_text($2->''statuses'')))'; END IF;
  IF f ? 'integration' THEN conds := conds || ' AND a.integration_id = ($2->>''integration'')::uuid'; END IF;
  IF f ? 'connection' THEN conds := conds || ' AND a.connection_id = ($2->>''connection'')::uuid'; END IF;
  IF f ? 'element' THEN conds := conds || ' AND a.element_id = ($2->>''element'')::uuid'; END IF;
  IF f ? 'actors' THEN conds := conds || ' AND a.actor_type = ANY (ARRAY(SELECT jsonb_array_elements_text($2->''actors'')))'; END IF;
  IF f ? 'actorId' THEN conds := conds || ' AND a.actor_id = ($2->>''actorId'')'; END IF;
  IF f ? 'until' THEN conds := conds || ' AND a.created_at < ($2->>''until'')::timestamptz'; END IF;
  RETURN QUERY EXECUTE
    'SELECT a.created_at, a.id FROM public.activity_log a
      WHERE a.workspace_id = $3 AND ($4 OR a.tenant_id = $5)
        AND a.message OPERATOR(pg_catalog.~~*) $1
        AND a.created_at >= $6
        AND ($7::timestamptz IS NULL OR (a.created_at <= $7 AND (a.created_at, a.id) < ($7, $8)))' || conds || '
      ORDER BY a.created_at DESC, a.id DESC LIMIT $9'
  USING '%' || replace(replace(replace(q, '\', '\\'), '%', '\%'), '_', '\_') || '%', f,
        app.workspace_id(), app.workspace_wide(), app.tenant_id(), since, before_at, before_id, lim;
END
$$;
-- +goose StatementEnd
ALTER FUNCTION app_private.search_activity_page(text, jsonb, timestamptz, uuid, timestamptz, integer) OWNER TO tenantry_search;
REVOKE ALL ON FUNCTION app_private.search_activity_page(text, jsonb, timestamptz, uuid, timestamptz, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app_private.search_activity_page(text, jsonb, timestamptz, uuid, timestamptz, integer) TO tenantry_app;

-- +goose Down
DROP FUNCTION app_private.search_activity_page(text, jsonb, timestamptz, uuid, timestamptz, integer);
REVOKE ALL ON activity_log FROM tenantry_search;
DROP FUNCTION app_private.delete_expired_activity(integer);
DROP FUNCTION app_private.drop_expired_activity_partitions();
DROP FUNCTION app_private.longest_activity_retention();
REVOKE ALL ON activity_log FROM tenantry_maint;
REVOKE ALL ON workspaces FROM tenantry_maint;
DROP FUNCTION app_private.ensure_activity_partitions(date, date);
ALTER TABLE activity_log RENAME TO activity_log_v2;
CREATE TABLE activity_log (LIKE activity_log_v2 INCLUDING ALL) PARTITION BY RANGE (created_at);
CREATE TABLE activity_log_default PARTITION OF activity_log DEFAULT;
INSERT INTO activity_log SELECT * FROM activity_log_v2;
DROP TABLE activity_log_v2;
ALTER TABLE activity_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE activity_log FORCE ROW LEVEL SECURITY;
ALTER TABLE activity_log_default ENABLE ROW LEVEL SECURITY;
ALTER TABLE activity_log_default FORCE ROW LEVEL SECURITY;
CREATE POLICY activity_read ON activity_log FOR SELECT TO tenantry_app
  USING (workspace_id = (SELECT app.workspace_id()) AND ((SELECT app.workspace_wide()) OR tenant_id = (SELECT app.tenant_id())));
CREATE POLICY activity_insert ON activity_log FOR INSERT TO tenantry_app
  WITH CHECK (workspace_id = (SELECT app.workspace_id()) AND ((SELECT app.workspace_wide()) OR tenant_id = (SELECT app.tenant_id())));
GRANT SELECT, INSERT ON activity_log TO tenantry_app;
