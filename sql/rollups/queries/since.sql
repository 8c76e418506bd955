-- since: raw_op_events against the last refresh's state ($last = newest ingested_at it saw): rows it saw
-- (count, newest ingested_at) and the first UTC day of the rows that came after it. Collectors only append rows
-- with a later ingested_at; anything else makes the first two differ from the state and forces a full rebuild.
-- grain: one row. columns: old_rows, old_last, since.
SELECT count(*) FILTER (WHERE ingested_at <= $last), max(ingested_at) FILTER (WHERE ingested_at <= $last),
       CAST(CAST(min(ts) FILTER (WHERE ingested_at > $last) AS DATE) AS TIMESTAMP)
FROM raw_op_events
