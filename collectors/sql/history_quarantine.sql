-- The history rows that cannot be loaded, with the reason, into raw_quarantine (source_line = the SQLite rowid):
-- rows of `history_batch` with an unknown event, no id or no usable time, and the rows `history_rejected` holds
-- (rejected in Python before this batch was built: invalid UTF-8, is_deleted not an integer). Texts are never
-- copied: the excerpt names only ids and the event. Parameters: $source_db, $quarantined_at.
INSERT INTO raw_quarantine (source_file, source_line, reason, excerpt, source, quarantined_at)
SELECT $source_db, rid, reason, left('id=' || coalesce(id, 'NULL') || ' memory_id=' || coalesce(memory_id, 'NULL')
       || ' event=' || coalesce(event, 'NULL'), 200), 'history', $quarantined_at
FROM (
    SELECT rid, id, memory_id, event,
        CASE WHEN id IS NULL THEN 'missing id'
             WHEN memory_id IS NULL THEN 'missing memory_id'
             WHEN coalesce(upper(event), '') NOT IN ('ADD', 'UPDATE', 'DELETE')
             THEN 'event: unknown value "' || left(coalesce(event, 'NULL'), 40) || '" (expected ADD, UPDATE, DELETE)'
             WHEN TRY_CAST(updated_at AS TIMESTAMPTZ) IS NULL AND TRY_CAST(created_at AS TIMESTAMPTZ) IS NULL
             THEN 'no usable event time: updated_at "' || left(coalesce(updated_at, 'NULL'), 40)
                  || '", created_at "' || left(coalesce(created_at, 'NULL'), 40) || '"'
        END AS reason
    FROM history_batch
)
WHERE reason IS NOT NULL
UNION ALL
SELECT $source_db, rid, reason, excerpt, 'history', $quarantined_at FROM history_rejected;
