-- Insert one snapshot (registered Arrow table `snapshot_batch`: one row per memory, sizes and hashes computed
-- in Python, memory_text NULL unless text storage was asked for) into raw_memory_snapshots.
-- Mem0's created_at/updated_at are ISO strings, usually with an offset: converted to UTC.
-- Parameters: $snapshot_id, $taken_at, $source.
INSERT INTO raw_memory_snapshots
SELECT $snapshot_id, $taken_at, $source, memory_id, user_id, agent_id, run_id, text_bytes, text_hash,
       memory_text, TRY_CAST(TRY_CAST(created_at AS TIMESTAMPTZ) AS TIMESTAMP),
       TRY_CAST(TRY_CAST(updated_at AS TIMESTAMPTZ) AS TIMESTAMP), categories, metadata_keys
FROM snapshot_batch;
