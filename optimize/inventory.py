"""What memories exist (latest snapshot of each) and how the op log used them: the input of dedup, pruning, archival."""

from __future__ import annotations

import duckdb
import pandas as pd

from memlens.config import Config

# Latest snapshot row of every memory, minus memories a later op-log delete removed.
_MEMORIES_SQL = """
WITH latest AS (
    SELECT memory_id, user_id, agent_id, run_id, text_bytes, text_hash, memory_text, created_at, updated_at,
           taken_at
    FROM raw_memory_snapshots
    QUALIFY row_number() OVER (PARTITION BY memory_id ORDER BY taken_at DESC, snapshot_id DESC) = 1
),
deleted AS (
    SELECT memory_id, max(ts) AS deleted_at FROM raw_op_events
    WHERE op = 'delete' AND status = 'ok' AND memory_id IS NOT NULL GROUP BY memory_id
)
SELECT l.memory_id, l.user_id, l.agent_id, l.run_id,
       coalesce(l.user_id, l.agent_id, l.run_id, '') AS owner,
       coalesce(l.text_bytes, 0) AS text_bytes, l.text_hash, l.memory_text, l.created_at, l.updated_at, l.taken_at
FROM latest AS l
LEFT JOIN deleted AS d USING (memory_id)
WHERE d.deleted_at IS NULL OR d.deleted_at < l.taken_at
ORDER BY owner, l.created_at, l.memory_id
"""

# How the op log touched each memory: returned by search / get_all, read or changed by id.
_ACCESS_SQL = """
WITH touched AS (
    SELECT unnest(result_ids) AS memory_id, ts, op, top_score FROM raw_op_events
    WHERE op IN ('search', 'get_all') AND status = 'ok' AND result_ids IS NOT NULL
    UNION ALL
    SELECT memory_id, ts, op, NULL AS top_score FROM raw_op_events
    WHERE op IN ('get', 'update', 'history') AND status = 'ok' AND memory_id IS NOT NULL
)
SELECT memory_id,
       count(*) FILTER (WHERE op = 'search') AS times_returned,
       max(top_score) FILTER (WHERE op = 'search') AS best_top_score,
       max(ts) AS last_access
FROM touched
GROUP BY memory_id
"""


def load_memories(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per memory held at its latest snapshot, with owner = user, else agent, else run."""
    return con.execute(_MEMORIES_SQL).df()


def access_stats(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """memory_id, times_returned (by searches), best_top_score (of those searches), last_access (any op)."""
    return con.execute(_ACCESS_SQL).df()


def embedding_dims(con: duckdb.DuckDBPyConnection, cfg: Config) -> tuple[str | None, int]:
    """The embedding model most adds used, and its vector dimensions from the config table."""
    row = con.execute(
        "SELECT embedding_model FROM raw_op_events WHERE op = 'add' AND embedding_model IS NOT NULL "
        "GROUP BY embedding_model ORDER BY count(*) DESC, embedding_model LIMIT 1"
    ).fetchone()
    model = row[0] if row else None
    dims = cfg.optimize.embedding.dims
    if model is None:
        return None, cfg.optimize.embedding.default_dims
    base = model.rsplit("/", 1)[-1]
    return model, dims.get(model, dims.get(base, cfg.optimize.embedding.default_dims))


def storage_bytes(text_bytes: pd.Series, dims: int) -> pd.Series:
    """Bytes a memory holds in the vector store: its text plus a float32 vector."""
    return text_bytes.astype("int64") + 4 * dims


def data_now(con: duckdb.DuckDBPyConnection) -> pd.Timestamp | None:
    """The latest moment the data knows about (newest op event or snapshot): "now" for age-based rules."""
    row = con.execute(
        "SELECT greatest((SELECT max(ts) FROM raw_op_events), (SELECT max(taken_at) FROM raw_memory_snapshots))"
    ).fetchone()
    return None if row is None or row[0] is None else pd.Timestamp(row[0])


def with_access(memories: pd.DataFrame, access: pd.DataFrame) -> pd.DataFrame:
    """Memories joined to their access stats; last_seen = latest of created, updated, last access."""
    m = memories.merge(access, on="memory_id", how="left")
    m["times_returned"] = m["times_returned"].fillna(0).astype("int64")
    m["last_seen"] = m[["created_at", "updated_at", "last_access"]].max(axis=1)
    return m
