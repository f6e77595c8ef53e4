-- +goose Up
-- Sign-in throttling shared by every server process (issue 8: limits hold across processes).
-- Failed sign-ins were counted in each process's memory, so N processes allowed N times the limit
-- (and a restart forgot it). Each failure is now a row, keyed by the SHA-256 of "e:<email>" or
-- "a:<client address>" (no address or email in clear). It is read and written before any scope
-- exists, so the app role has no grant on the table: only these three SECURITY DEFINER functions,
-- owned by tenantry_maint, touch it. It has no workspace_id: a local table (docs/SCALING.md).
CREATE TABLE signin_failures (
  key_hash  bytea NOT NULL CHECK (octet_length(key_hash) = 32),
  failed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX signin_failures_key ON signin_failures (key_hash, failed_at);
CREATE INDEX signin_failures_at ON signin_failures (failed_at);
ALTER TABLE signin_failures ENABLE ROW LEVEL SECURITY;
ALTER TABLE signin_failures FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, DELETE ON signin_failures TO tenantry_maint;

-- How long until a sign-in with these keys may be tried: for each key, its limit-th newest
-- failure within the window decides (zero when every key is under its limit).
-- +goose StatementBegin
CREATE FUNCTION app_private.signin_wait(keys bytea[], limits integer[], win interval) RETURNS interval
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT coalesce(max(t.failed_at + win - now()), interval '0')
  FROM unnest(keys, limits) AS k(h, lim),
  LATERAL (SELECT f.failed_at FROM public.signin_failures f
           WHERE f.key_hash = k.h AND f.failed_at > now() - win
           ORDER BY f.failed_at DESC OFFSET k.lim - 1 LIMIT 1) t
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION app_private.signin_failed(keys bytea[]) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = '' AS $$
  INSERT INTO public.signin_failures (key_hash) SELECT unnest(keys)
$$;
-- +goose StatementEnd

-- A successful sign-in forgets its account's failures (not its address's).
-- +goose StatementBegin
CREATE FUNCTION app_private.signin_succeeded(key bytea) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = '' AS $$
  DELETE FROM public.signin_failures WHERE key_hash = key
$$;
-- +goose StatementEnd

-- The hourly maintenance forgets failures older than a day (the window is far shorter).
-- +goose StatementBegin
CREATE FUNCTION app_private.delete_old_signin_failures() RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  n bigint;
BEGIN
  DELETE FROM public.signin_failures WHERE failed_at < now() - interval '1 day';
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$$;
-- +goose StatementEnd

ALTER FUNCTION app_private.signin_wait(bytea[], integer[], interval) OWNER TO tenantry_maint;
ALTER FUNCTION app_private.signin_failed(bytea[]) OWNER TO tenantry_maint;
ALTER FUNCTION app_private.signin_succeeded(bytea) OWNER TO tenantry_maint;
ALTER FUNCTION app_private.delete_old_signin_failures() OWNER TO tenantry_maint;
REVOKE ALL ON FUNCTION app_private.signin_wait(bytea[], integer[], interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION app_private.signin_failed(bytea[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION app_private.signin_succeeded(bytea) FROM PUBLIC;
REVOKE ALL ON FUNCTION app_private.delete_old_signin_failures() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app_private.signin_wait(bytea[], integer[], interval) TO tenantry_app;
GRANT EXECUTE ON FUNCTION app_private.signin_failed(bytea[]) TO tenantry_app;
GRANT EXECUTE ON FUNCTION app_private.signin_succeeded(bytea) TO tenantry_app;
GRANT EXECUTE ON FUNCTION app_private.delete_old_signin_failures() TO tenantry_app;

-- +goose Down
DROP FUNCTION app_private.delete_old_signin_failures();
DROP FUNCTION app_private.signin_succeeded(bytea);
DROP FUNCTION app_private.signin_failed(bytea[]);
DROP FUNCTION app_private.signin_wait(bytea[], integer[], interval);
DROP TABLE signin_failures;
