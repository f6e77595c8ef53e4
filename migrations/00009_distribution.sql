-- +goose Up
-- Keep the schema distributable by workspace_id (issue 8; docs/SCALING.md, checked by
-- internal/store/distribution_test.go): on a sharded PostgreSQL (Citus) a unique key can only be
-- enforced when it includes the distribution column, and the schema's rule is that workspace_id
-- leads every primary key, unique constraint and unique index of a workspace table.
--
-- Console and portal sessions had UNIQUE (token_hash) besides their primary key
-- (workspace_id, token_hash). The uniqueness across workspaces bought nothing: the hash is the
-- SHA-256 of 32 random bytes (web: randomToken), so two sessions never share one, and within a
-- workspace the primary key still refuses a duplicate. What the constraint's index did do is serve
-- the lookup by hash alone that happens before a scope exists (store.LookupSession,
-- LookupPortalSession, EndPortalSession, DeleteSession); a plain index keeps that lookup an index
-- scan. On Citus that lookup is a fan-out to every shard (one index probe each) until the cookie
-- carries the workspace id as well — see docs/SCALING.md.

ALTER TABLE manager_sessions DROP CONSTRAINT manager_sessions_token_hash_key;
CREATE INDEX manager_sessions_token ON manager_sessions (token_hash);

ALTER TABLE portal_sessions DROP CONSTRAINT portal_sessions_token_hash_key;
CREATE INDEX portal_sessions_token ON portal_sessions (token_hash);

-- +goose Down
DROP INDEX portal_sessions_token;
ALTER TABLE portal_sessions ADD CONSTRAINT portal_sessions_token_hash_key UNIQUE (token_hash);

DROP INDEX manager_sessions_token;
ALTER TABLE manager_sessions ADD CONSTRAINT manager_sessions_token_hash_key UNIQUE (token_hash);
