-- cache_reuse: how many searches a cache could serve at all ("could be served"), per group: of the searches a
-- memlens SearchCache would look up (a user id, scoped by nothing but user / agent / run ids, not bypassed), the
-- share that repeat an earlier successful search with the same key (service, user, agent, run, query, top_k,
-- threshold, rerank) made after that user's last write, or that a cache did serve. What a cache that never
-- expires and never fills serves: no TTL or size does better, and no real cache in front of these searches
-- measured more (sql/staged/080_stg_cache_lookups.sql states the rule once; the what-if replay reads it too).
-- reads: cache_lookups
-- grain: one row per group of the requested keys (/*keys*/); one row without keys.
-- columns:
--   cacheable_searches (BIGINT), could_be_served (BIGINT), could_be_served_share (DOUBLE could_be_served /
--   cacheable_searches; NULL without cacheable searches)
--   through_cache (BIGINT of the cacheable searches, those a cache looked up: logged hit or miss),
--   could_be_served_through_cache (BIGINT), could_be_served_share_through_cache (DOUBLE of those, the share that
--   could be served: the ceiling of their measured hit rate)
SELECT /*keys*/
    CAST(coalesce(sum(lookups), 0) AS BIGINT) AS cacheable_searches,
    CAST(coalesce(sum(could_be_served_lookups), 0) AS BIGINT) AS could_be_served,
    sum(could_be_served_lookups) / nullif(sum(lookups), 0) AS could_be_served_share,
    CAST(coalesce(sum(through_cache_lookups), 0) AS BIGINT) AS through_cache,
    CAST(coalesce(sum(could_be_served_through_cache_lookups), 0) AS BIGINT) AS could_be_served_through_cache,
    sum(could_be_served_through_cache_lookups) / nullif(sum(through_cache_lookups), 0)
        AS could_be_served_share_through_cache
FROM cache_lookups
GROUP BY ALL
