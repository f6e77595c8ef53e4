-- +goose Up
-- The activity log at scale (issue 6): weekly partitions instead of the foundation's single
-- default partition, an index for every Console filter, a trigram index for text in the message
-- (used through a SECURITY DEFINER function, since ILIKE is not leakproof and so cannot use an
-- index under row-level security), and maintenance functions that create partitions ahead and
-- expire old ones.
--
-- Why weekly partitions and no default partition: without a default partition PostgreSQL can
-- scan partitions in order (an ordered Append) and stop after one page, newest first; and every
-- partition costs planning time on every query (measured: 44 daily partitions with nine indexes
-- each made planning dominate a 0.2 ms page), so a 30-day retention spans five or six weekly
-- partitions. Retention itself is exact to the day: reads stop at the workspace's retention and
-- the job deletes what a dropped partition does not take. Partitions (Monday to Monday, UTC) are
-- created two weeks ahead at every start (store.Migrate) and every hour (the maintenance job).

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
  -- the message's words, for search (see activity_log_message): the text parser's words
  -- ("create-invoice" gives create-invoice, create, invoice) and the message's own tokens
  -- (split at anything but letters, digits and _ . @ / -), lowercased, so that "cust-4217" and
  -- "user@x.com" are words too
  message_tsv     tsvector GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, message) ||
                    array_to_tsvector(array_remove(regexp_split_to_array(lower(message), '[^[:alnum:]_.@/-]+'), ''))) STORED,
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
-- Words in the message: full-text search with the 'simple' configuration (no stemming, no stop
-- words), matched by prefix. A trigram index would also find arbitrary substrings, but it is
-- several times larger and slower to maintain, on the one table that grows without bound; the
-- Console's search box wants words ("timeout", "list-deals", "cust-42"). The vector is stored:
-- computing it per row made a common word's newest-first scan look so costly to the planner that
-- it sorted every match instead (700 ms at 100k entries); stored, the scan stops after a page.
CREATE INDEX activity_log_message ON activity_log USING gin (message_tsv);

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

-- Creates the weekly partitions covering [from_day, to_day] that do not exist yet. Partitions force RLS
-- too and grant nothing, so only the parent (with its policies) is readable.
-- +goose StatementBegin
CREATE FUNCTION app_private.ensure_activity_partitions(from_day date, to_day date) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  d date := date_trunc('week', from_day)::date;
  made integer := 0;
  name text;
BEGIN
  IF from_day IS NULL OR to_day IS NULL OR to_day - from_day > 4000 THEN
    RAISE EXCEPTION 'partition range out of bounds' USING ERRCODE = '22023';
  END IF;
  WHILE d <= to_day LOOP
    name := 'activity_log_w' || to_char(d, 'YYYYMMDD');
    IF to_regclass('public.' || name) IS NULL THEN
      EXECUTE format('CREATE TABLE public.%I PARTITION OF public.activity_log FOR VALUES FROM (%L) TO (%L)',
        name, (d::text || ' 00:00:00+00')::timestamptz, ((d + 7)::text || ' 00:00:00+00')::timestamptz);
      EXECUTE format('ALTER TABLE public.%I ENABLE ROW LEVEL SECURITY', name);
      EXECUTE format('ALTER TABLE public.%I FORCE ROW LEVEL SECURITY', name);
      made := made + 1;
    END IF;
    d := d + 7;
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

-- Drops every weekly partition whose week ended longer ago than the longest retention.
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
     WHERE i.inhparent = 'public.activity_log'::regclass AND c.relname ~ '^activity_log_w[0-9]{8}$'
  LOOP
    -- activity_log_wYYYYMMDD holds the UTC week that starts that Monday.
    IF to_date(substr(p.relname, 15), 'YYYYMMDD') + 7 <= (now() AT TIME ZONE 'UTC')::date - longest THEN
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

-- Deletes, up to batch rows per workspace, entries past their workspace's retention that no
-- dropped partition took (a partition goes only when its whole week is past the longest one).
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

-- Words in the message, under the scope: the keys (created_at, id) of one page of matching
-- entries, newest first, with every other filter applied too, so the planner can choose between
-- the text index (a rare word) and a filter index read newest first (a common one). Each word of
-- q is matched as a prefix; all must match. Non-word characters separate words and never reach
-- the tsquery syntax. Same
-- containment as the tenant search: owned by the NOLOGIN tenantry_search role (BYPASSRLS), empty
-- search_path, the scope read from the settings themselves, EXECUTE for the app role only, keys
-- out; the rows are then read under RLS.
GRANT SELECT (workspace_id, created_at, id, tenant_id, type, status, actor_type, actor_id, integration_id,
  connection_id, element_id, message_tsv) ON activity_log TO tenantry_search;
-- +goose StatementBegin
CREATE FUNCTION app_private.search_activity_page(q text, f jsonb, before_at timestamptz, before_id uuid,
    since timestamptz, lim integer)
RETURNS TABLE (created_at timestamptz, id uuid) LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = ''
-- a page, not the default estimate of 1000 rows: the caller's join then looks each key up by
-- primary key instead of hashing the whole log (150 ms at 100k entries)
ROWS 50 AS $$
DECLARE
  conds text := '';
  words text;
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
  SELECT string_agg(pg_catalog.quote_literal(w) || ':*', ' & ') INTO words
    FROM pg_catalog.regexp_split_to_table(pg_catalog.lower(q), '[^[:alnum:]_]+') AS w WHERE w <> '';
  IF words IS NULL THEN
    RETURN;
  END IF;
  RETURN QUERY EXECUTE
    'SELECT a.created_at, a.id FROM public.activity_log a
      WHERE a.workspace_id = $3 AND ($4 OR a.tenant_id = $5)
        AND a.message_tsv OPERATOR(pg_catalog.@@) $1::pg_catalog.tsquery
        AND a.created_at >= $6
        AND ($7::timestamptz IS NULL OR (a.created_at <= $7 AND (a.created_at, a.id) < ($7, $8)))' || conds || '
      ORDER BY a.created_at DESC, a.id DESC LIMIT $9'
  USING pg_catalog.to_tsquery('simple'::regconfig, words), f,
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
