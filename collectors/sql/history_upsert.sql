-- Upsert one batch of Mem0 history rows (registered Arrow table `history_batch`, read from SQLite with sizes
-- computed there: texts never leave the history DB) into raw_memory_history, keyed (source_db, history_id).
-- Rows without a usable event time or with an unknown event are left to history_quarantine.sql.
-- Parameters: $source_db, $ingested_at.
INSERT OR REPLACE INTO raw_memory_history
SELECT $source_db, id, memory_id, upper(event), old_bytes, new_bytes, created, updated,
       coalesce(updated, created), is_deleted <> 0, actor_id, role, $ingested_at
FROM (
    SELECT *, TRY_CAST(TRY_CAST(created_at AS TIMESTAMPTZ) AS TIMESTAMP) AS created,
           TRY_CAST(TRY_CAST(updated_at AS TIMESTAMPTZ) AS TIMESTAMP) AS updated
    FROM history_batch
)
WHERE upper(event) IN ('ADD', 'UPDATE', 'DELETE') AND coalesce(updated, created) IS NOT NULL
  AND id IS NOT NULL AND memory_id IS NOT NULL;
