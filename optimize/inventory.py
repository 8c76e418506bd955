"""What memories exist (latest snapshot of each) and how the op log used them: the input of dedup, pruning, archival."""

from __future__ import annotations

import duckdb
import pandas as pd

from memlens.config import Config
from memlens.resources import read_sql

_MEMORIES_SQL = read_sql(__package__, "inventory_memories.sql")

_ACCESS_SQL = read_sql(__package__, "inventory_access.sql")
_EMBEDDING_MODEL_SQL = read_sql(__package__, "inventory_embedding_model.sql")


def load_memories(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per memory held at its latest snapshot, with owner = user, else agent, else run."""
    return con.execute(_MEMORIES_SQL).df()


def access_stats(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """memory_id, times_returned (by searches), best_top_score (of those searches), last_access (any op)."""
    return con.execute(_ACCESS_SQL).df()


def embedding_dims(con: duckdb.DuckDBPyConnection, cfg: Config) -> tuple[str | None, int]:
    """The embedding model most adds used, and its vector dimensions from the config table."""
    row = con.execute(_EMBEDDING_MODEL_SQL).fetchone()
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
    # access has one row per memory_id: a lookup of each memory in its index (a merge factorizes both sides)
    found = access.set_index("memory_id").reindex(memories["memory_id"]).reset_index(drop=True)
    m = pd.concat([memories.reset_index(drop=True), found], axis=1)
    m["times_returned"] = m["times_returned"].fillna(0).astype("int64")
    m["last_seen"] = m[["created_at", "updated_at", "last_access"]].max(axis=1)
    return m
