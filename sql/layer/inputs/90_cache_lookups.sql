-- cache_lookups: the searches a memlens SearchCache would look up, with could_be_served (stg_cache_lookups), in
-- the selection: the exact input of the cache-reuse figures (whether an earlier search could serve one depends on
-- the whole history before it, so it is decided over every event and only then filtered).
-- provides: cache_lookups
-- filters: service mode op status user agent model tag
-- keys: bucket day service mode status user_id agent_id tag
-- columns: every column of stg_cache_lookups, bucket (TIMESTAMP UTC start of the $grain bucket), and the counts of
--   agg_cache_lookups_hourly for one search (lookups = 1; could_be_served_lookups, through_cache_lookups,
--   could_be_served_through_cache_lookups 0 or 1), so the figures sum the same columns over either input
SELECT *, date_trunc($grain, ts) AS bucket,
       1 AS lookups,
       CAST(could_be_served AS INTEGER) AS could_be_served_lookups,
       CAST(through_cache AS INTEGER) AS through_cache_lookups,
       CAST(through_cache AND could_be_served AS INTEGER) AS could_be_served_through_cache_lookups
FROM stg_cache_lookups
WHERE ($start IS NULL OR ts >= $start) AND ($end IS NULL OR ts < $end)
  AND ($service IS NULL OR service = $service) AND ($mode IS NULL OR mode = $mode)
  AND ($op IS NULL OR $op = 'search') AND ($status IS NULL OR status = $status)
  AND ($user IS NULL OR user_id = $user) AND ($agent IS NULL OR agent_id = $agent)
  AND ($model IS NULL OR embedding_model = $model OR llm_model = $model) AND ($tag IS NULL OR tag = $tag)
