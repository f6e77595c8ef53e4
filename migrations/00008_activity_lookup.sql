-- +goose Up
-- Measured fixes to the activity log (issue 6):
-- * An entry opened by id looked through a window of the log around the id's time (19 ms); an
--   index on (workspace_id, id) finds it directly.
-- * Search split "cust-4217" into the words 'cust' and '4217', but the message parser indexes it as
--   'cust' followed by '-4217', so such a search found nothing and read the index entries of every
--   message holding 'cust' (49 ms at 1M). The messages' own tokens are words too now (migration
--   00005's message_tsv), and a search word is one prefix, never split by the parser.
-- * A word rarer than the planner believed made it read the log newest first to the end (1.1 s
--   for a search with no match at 10M entries). The search now decides itself: a common word is
--   answered from the newest entries, a rare one through the text index.

CREATE INDEX activity_log_id ON activity_log (workspace_id, id);

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION app_private.search_activity_page(q text, f jsonb, before_at timestamptz, before_id uuid,
    since timestamptz, lim integer)
RETURNS TABLE (created_at timestamptz, id uuid) LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = ''
ROWS 50 AS $$
DECLARE
  conds text := '';
  w text;
  part pg_catalog.tsquery;
  query pg_catalog.tsquery;
  base text;
  n bigint;
  parts pg_catalog.tsquery[] := '{}';
  counts bigint[];
  i integer;
  rare pg_catalog.tsquery;
  common pg_catalog.tsquery;
  seqscan text;
  indexscan text;
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
  -- Each word of q (split at anything but letters, digits and _ . @ / -, lowercased) is matched
  -- as a prefix of a word of the message: "invo" finds "invoice", "cust-421" finds "cust-4217".
  -- The word goes into the tsquery as one quoted lexeme (it holds no quote or backslash), so no
  -- tsquery syntax in a search means anything.
  FOR w IN SELECT x FROM pg_catalog.regexp_split_to_table(pg_catalog.lower(q), '[^[:alnum:]_.@/-]+') AS x LOOP
    CONTINUE WHEN w = '';
    part := ('''' || w || ''':*')::pg_catalog.tsquery;
    query := CASE WHEN query IS NULL THEN part ELSE query OPERATOR(pg_catalog.&&) part END;
    parts := parts || part;
  END LOOP;
  IF query IS NULL THEN
    RETURN;
  END IF;
  base := 'FROM public.activity_log a
      WHERE a.workspace_id = $3 AND ($4 OR a.tenant_id = $5)
        AND a.created_at >= $6
        AND ($7::timestamptz IS NULL OR (a.created_at <= $7 AND (a.created_at, a.id) < ($7, $8)))' || conds;
  -- One read of the newest 3,000 entries that pass the other filters (newest first through
  -- their index) tells how common the words are there: together, and each alone.
  EXECUTE 'WITH x AS MATERIALIZED (SELECT a.message_tsv ' || base || ' ORDER BY a.created_at DESC, a.id DESC LIMIT 3000)
      SELECT (SELECT count(*) FROM x WHERE x.message_tsv OPERATOR(pg_catalog.@@) $1),
             ARRAY(SELECT (SELECT count(*) FROM x WHERE x.message_tsv OPERATOR(pg_catalog.@@) u.p)
                   FROM unnest($10::pg_catalog.tsquery[]) WITH ORDINALITY u(p, o) ORDER BY u.o)'
    INTO n, counts USING query, f, app.workspace_id(), app.workspace_wide(), app.tenant_id(), since, before_at, before_id, lim, parts;
  -- Common together: those newest entries hold a page of matches, and that page is the answer.
  IF n >= lim THEN
    RETURN QUERY EXECUTE 'SELECT x.created_at, x.id FROM (SELECT a.created_at, a.id, a.message_tsv ' || base ||
        ' ORDER BY a.created_at DESC, a.id DESC LIMIT 3000) x WHERE x.message_tsv OPERATOR(pg_catalog.@@) $1
        ORDER BY x.created_at DESC, x.id DESC LIMIT $9'
      USING query, f, app.workspace_id(), app.workspace_wide(), app.tenant_id(), since, before_at, before_id, lim;
    RETURN;
  END IF;
  -- Rare together: every match comes from the text index (a bitmap) and is sorted. A scan newest
  -- first would read the whole window when the words are rarer than the planner believes (1.1 s
  -- for no match at 10M entries), so it is switched off for this one query. The index is read
  -- only for the words rare among those newest entries (under 1 %): a common word's index
  -- entries are many ('timeout':* at 1M entries: 40 ms to read), so it is checked on the rows.
  FOR i IN 1 .. pg_catalog.array_length(parts, 1) LOOP
    IF counts[i] < 30 THEN
      rare := CASE WHEN rare IS NULL THEN parts[i] ELSE rare OPERATOR(pg_catalog.&&) parts[i] END;
    ELSE
      common := CASE WHEN common IS NULL THEN parts[i] ELSE common OPERATOR(pg_catalog.&&) parts[i] END;
    END IF;
  END LOOP;
  IF rare IS NULL THEN
    rare := query;
    common := NULL;
  END IF;
  seqscan := pg_catalog.current_setting('enable_seqscan');
  indexscan := pg_catalog.current_setting('enable_indexscan');
  PERFORM pg_catalog.set_config('enable_seqscan', 'off', true), pg_catalog.set_config('enable_indexscan', 'off', true);
  -- (message_tsv || '') holds the same words but is no indexed expression: a filter on the rows.
  RETURN QUERY EXECUTE 'SELECT a.created_at, a.id ' || base || ' AND a.message_tsv OPERATOR(pg_catalog.@@) $1
      AND ($10::pg_catalog.tsquery IS NULL OR (a.message_tsv OPERATOR(pg_catalog.||) ''''::pg_catalog.tsvector) OPERATOR(pg_catalog.@@) $10)
      ORDER BY a.created_at DESC, a.id DESC LIMIT $9'
    USING rare, f, app.workspace_id(), app.workspace_wide(), app.tenant_id(), since, before_at, before_id, lim, common;
  PERFORM pg_catalog.set_config('enable_seqscan', seqscan, true), pg_catalog.set_config('enable_indexscan', indexscan, true);
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP INDEX activity_log_id;
