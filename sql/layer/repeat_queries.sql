-- repeat_queries: searches whose normalised query (query_hash) was already asked in the selection: the most any
-- cache keyed on the query could serve.
-- reads: op_facts
-- needs: query_hash
-- grain: exactly one row.
-- columns: searches (BIGINT searches recording a query_hash), repeats (BIGINT of those, not the first of their
--   query_hash), repeat_share (DOUBLE repeats / searches; NULL without searches)
SELECT CAST(sum(n) AS BIGINT) AS searches, CAST(sum(n - 1) AS BIGINT) AS repeats,
       sum(n - 1) / nullif(sum(n), 0) AS repeat_share
FROM (
    SELECT count(*) AS n FROM op_facts
    WHERE op = 'search' AND query_hash IS NOT NULL
    GROUP BY query_hash
)
