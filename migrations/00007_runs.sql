-- +goose Up
-- Action and flow runs, AI credits and request rate limits (issue 7). Limits must hold across
-- several server processes on one database, so the database keeps the counts: credits are
-- checked and consumed under a transaction-level advisory lock per tenant and per workspace, and
-- request counts are per-minute rows incremented by an upsert.

-- The workspace-wide credit window sums every tenant's usage.
CREATE INDEX ai_credit_ledger_workspace_window ON ai_credit_ledger (workspace_id, created_at);

GRANT USAGE ON SCHEMA app TO tenantry_maint;

-- The workspace's credit usage over the window, and (when need more would pass lim) the time
-- by which enough of it has aged out: a tenant scope cannot read other tenants' ledger rows, but
-- the workspace-wide limit is shared, so this sum runs as tenantry_maint and returns numbers only.
GRANT SELECT (workspace_id, created_at, credits) ON ai_credit_ledger TO tenantry_maint;
-- +goose StatementBegin
CREATE FUNCTION app_private.workspace_credit_usage(since timestamptz, need numeric, lim numeric,
    OUT used numeric, OUT free_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  r record;
  freed numeric := 0;
BEGIN
  SELECT coalesce(sum(l.credits), 0) INTO used FROM public.ai_credit_ledger l
   WHERE l.workspace_id = app.workspace_id() AND l.created_at > since;
  IF lim IS NULL OR used + need <= lim THEN
    RETURN;
  END IF;
  FOR r IN SELECT l.created_at, l.credits FROM public.ai_credit_ledger l
            WHERE l.workspace_id = app.workspace_id() AND l.created_at > since ORDER BY l.created_at
  LOOP
    freed := freed + r.credits;
    IF used - freed + need <= lim THEN
      free_at := r.created_at + (now() - since);
      RETURN;
    END IF;
  END LOOP;
END
$$;
-- +goose StatementEnd
ALTER FUNCTION app_private.workspace_credit_usage(timestamptz, numeric, numeric) OWNER TO tenantry_maint;
REVOKE ALL ON FUNCTION app_private.workspace_credit_usage(timestamptz, numeric, numeric) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app_private.workspace_credit_usage(timestamptz, numeric, numeric) TO tenantry_app;

-- Requests per minute, per tenant (scope_key = the tenant's id) and per workspace ('*').
CREATE TABLE rate_limit_counters (
  workspace_id  uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  scope_key     text NOT NULL,
  window_start  timestamptz NOT NULL,
  count         integer NOT NULL DEFAULT 0,
  PRIMARY KEY (workspace_id, scope_key, window_start)
);
ALTER TABLE rate_limit_counters ENABLE ROW LEVEL SECURITY;
ALTER TABLE rate_limit_counters FORCE ROW LEVEL SECURITY;
-- A tenant scope counts its own requests only; the workspace's shared count ('*') is added to
-- through app_private.count_workspace_request, which can only add one — so no tenant can reset or
-- inflate the count the others share, whatever SQL runs in its scope.
CREATE POLICY rate_limit_scope ON rate_limit_counters FOR ALL TO tenantry_app
  USING (workspace_id = (SELECT app.workspace_id())
         AND ((SELECT app.workspace_wide()) OR scope_key = (SELECT app.tenant_id())::text))
  WITH CHECK (workspace_id = (SELECT app.workspace_id())
         AND ((SELECT app.workspace_wide()) OR scope_key = (SELECT app.tenant_id())::text));
GRANT SELECT, INSERT, UPDATE, DELETE ON rate_limit_counters TO tenantry_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON rate_limit_counters TO tenantry_maint;

-- +goose StatementBegin
CREATE FUNCTION app_private.count_workspace_request(win timestamptz) RETURNS integer
LANGUAGE sql SECURITY DEFINER SET search_path = '' AS $$
  INSERT INTO public.rate_limit_counters (workspace_id, scope_key, window_start, count)
  SELECT app.workspace_id(), '*', win, 1 WHERE app.workspace_id() IS NOT NULL
  ON CONFLICT (workspace_id, scope_key, window_start) DO UPDATE SET count = public.rate_limit_counters.count + 1
  RETURNING count
$$;
-- +goose StatementEnd
ALTER FUNCTION app_private.count_workspace_request(timestamptz) OWNER TO tenantry_maint;
REVOKE ALL ON FUNCTION app_private.count_workspace_request(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app_private.count_workspace_request(timestamptz) TO tenantry_app;

-- Deletes counters of windows that ended more than an hour ago (the maintenance job).
-- +goose StatementBegin
CREATE FUNCTION app_private.delete_old_rate_limit_counters() RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  n bigint;
BEGIN
  DELETE FROM public.rate_limit_counters WHERE window_start < now() - interval '1 hour';
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$$;
-- +goose StatementEnd
ALTER FUNCTION app_private.delete_old_rate_limit_counters() OWNER TO tenantry_maint;
REVOKE ALL ON FUNCTION app_private.delete_old_rate_limit_counters() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app_private.delete_old_rate_limit_counters() TO tenantry_app;

-- Flow runs: a flow's ordered action steps, run in the background, one run at a time per
-- connection (others wait queued). steps holds each step's state and output as it goes, so a run
-- interrupted by a restart resumes at its first unfinished step.
CREATE TABLE flow_runs (
  workspace_id    uuid NOT NULL,
  id              uuid NOT NULL,
  tenant_id       uuid NOT NULL,
  connection_id   uuid NOT NULL,
  flow_id         uuid NOT NULL,          -- the element whose effective config ran (template or tenant-level)
  flow_key        text NOT NULL,
  state           text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'completed', 'stopped', 'failed')),
  start_node_key  text NOT NULL DEFAULT '',
  input           jsonb NOT NULL DEFAULT '{}',
  output          jsonb,
  steps           jsonb NOT NULL DEFAULT '[]',
  errors          jsonb NOT NULL DEFAULT '[]',
  launched_by     text NOT NULL DEFAULT 'api-trigger',
  stop_requested  boolean NOT NULL DEFAULT false,
  attempts        integer NOT NULL DEFAULT 0,
  created_at      timestamptz NOT NULL DEFAULT now(),
  started_at      timestamptz,
  ended_at        timestamptz,
  heartbeat_at    timestamptz,
  PRIMARY KEY (workspace_id, id),
  FOREIGN KEY (workspace_id, tenant_id, connection_id) REFERENCES connections (workspace_id, tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX flow_runs_list ON flow_runs (workspace_id, created_at, id);
CREATE INDEX flow_runs_connection ON flow_runs (workspace_id, connection_id, created_at, id);
CREATE INDEX flow_runs_tenant ON flow_runs (workspace_id, tenant_id, created_at, id);
-- The worker's queue: unfinished runs only.
CREATE INDEX flow_runs_pending ON flow_runs (created_at) WHERE state IN ('queued', 'running');
ALTER TABLE flow_runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE flow_runs FORCE ROW LEVEL SECURITY;
CREATE POLICY flow_runs_scope ON flow_runs FOR ALL TO tenantry_app
  USING (workspace_id = (SELECT app.workspace_id()) AND ((SELECT app.workspace_wide()) OR tenant_id = (SELECT app.tenant_id())))
  WITH CHECK (workspace_id = (SELECT app.workspace_id()) AND ((SELECT app.workspace_wide()) OR tenant_id = (SELECT app.tenant_id())));
GRANT SELECT, INSERT, UPDATE, DELETE ON flow_runs TO tenantry_app;
GRANT SELECT (workspace_id, id, connection_id, state, created_at, heartbeat_at, started_at, attempts),
  UPDATE (state, heartbeat_at, started_at, attempts)
  ON flow_runs TO tenantry_maint;

-- The worker's claim: across every workspace (so it runs past RLS, as tenantry_maint), the oldest
-- queued run whose connection has no run in progress becomes running; a run whose heartbeat
-- stopped (its process died) first goes back to the queue. Returns the claimed run's workspace and
-- id, or nothing. A per-connection advisory lock keeps two workers from starting two runs of one
-- connection at once.
-- +goose StatementBegin
CREATE FUNCTION app_private.claim_flow_run(stale_after interval) RETURNS TABLE (workspace_id uuid, id uuid)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  r record;
BEGIN
  UPDATE public.flow_runs f SET state = 'queued'
   WHERE f.state = 'running' AND f.heartbeat_at < now() - stale_after;
  FOR r IN
    SELECT f.workspace_id, f.id, f.connection_id FROM public.flow_runs f
     WHERE f.state = 'queued' ORDER BY f.created_at LIMIT 20
  LOOP
    IF NOT pg_catalog.pg_try_advisory_xact_lock(pg_catalog.hashtextextended(r.connection_id::text, 7301)) THEN
      CONTINUE;
    END IF;
    IF EXISTS (SELECT 1 FROM public.flow_runs x WHERE x.workspace_id = r.workspace_id
                 AND x.connection_id = r.connection_id AND x.state = 'running') THEN
      CONTINUE;
    END IF;
    UPDATE public.flow_runs f SET state = 'running', heartbeat_at = now(), started_at = coalesce(f.started_at, now()),
           attempts = f.attempts + 1
     WHERE f.workspace_id = r.workspace_id AND f.id = r.id AND f.state = 'queued';
    IF FOUND THEN
      workspace_id := r.workspace_id;
      id := r.id;
      RETURN NEXT;
      RETURN;
    END IF;
  END LOOP;
END
$$;
-- +goose StatementEnd
ALTER FUNCTION app_private.claim_flow_run(interval) OWNER TO tenantry_maint;
REVOKE ALL ON FUNCTION app_private.claim_flow_run(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app_private.claim_flow_run(interval) TO tenantry_app;

-- +goose Down
REVOKE USAGE ON SCHEMA app FROM tenantry_maint;
DROP FUNCTION app_private.workspace_credit_usage(timestamptz, numeric, numeric);
REVOKE ALL ON ai_credit_ledger FROM tenantry_maint;
DROP FUNCTION app_private.claim_flow_run(interval);
DROP TABLE flow_runs;
DROP FUNCTION app_private.delete_old_rate_limit_counters();
DROP FUNCTION app_private.count_workspace_request(timestamptz);
DROP TABLE rate_limit_counters;
DROP INDEX ai_credit_ledger_workspace_window;
