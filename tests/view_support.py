"""Hand-built warehouse rows for the view tests: op-log events, history rows and snapshot rows.

Rows go in with parameterised INSERTs (fixed column lists), so each test states only the fields it is about.
"""

from __future__ import annotations

from datetime import datetime
from itertools import count
from typing import Any

from memlens.schema import FIELDS

EVENT_COLUMNS = [f.name for f in FIELDS] + ["source_file", "source_line", "ingested_at"]
INSERT_EVENT = (
    "INSERT INTO raw_op_events ("
    + ", ".join(f'"{c}"' for c in EVENT_COLUMNS)
    + ") VALUES (" + ", ".join("?" for _ in EVENT_COLUMNS) + ")"
)
INSERT_HISTORY = (
    "INSERT INTO raw_memory_history (source_db, history_id, memory_id, event, old_memory_bytes, new_memory_bytes, "
    "created_at, updated_at, event_ts, is_deleted, actor_id, role, ingested_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?)"
)
INSERT_SNAPSHOT = (
    "INSERT INTO raw_memory_snapshots (snapshot_id, taken_at, source, memory_id, user_id, agent_id, run_id, "
    "text_bytes, text_hash, memory_text, created_at, updated_at, categories, metadata_keys) "
    "VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?, NULL, ?, ?, NULL, NULL)"
)
LOADED_AT = datetime(2026, 12, 1)
_ids = count(1)


def event(ts: datetime, op: str = "search", latency_ms: float = 10.0, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {c: None for c in EVENT_COLUMNS}
    n = next(_ids)
    row.update(schema_version=1, event_id=f"ev-{n:06d}", ts=ts, service="svc", mode="oss", call_mode="sync",
               op=op, latency_ms=latency_ms, status="ok", source_file="test.jsonl", source_line=n,
               ingested_at=LOADED_AT)
    unknown = set(fields) - set(row)
    if unknown:
        raise KeyError(f"not op-log fields: {sorted(unknown)}")
    row.update(fields)
    return row


def insert_events(con, rows: list[dict[str, Any]]) -> None:
    con.executemany(INSERT_EVENT, [[r[c] for c in EVENT_COLUMNS] for r in rows])


def event_table(rows: list[dict[str, Any]]):
    """Event rows as an Arrow table typed like raw_op_events (for memlens.backend.insert on either engine)."""
    import pyarrow as pa

    from memlens.warehouse import layout

    arrow_types = {"VARCHAR": pa.string(), "BIGINT": pa.int64(), "INTEGER": pa.int32(), "DOUBLE": pa.float64(),
                   "BOOLEAN": pa.bool_(), "TIMESTAMP": pa.timestamp("us"), "VARCHAR[]": pa.list_(pa.string())}
    columns = layout()["raw_op_events"]
    return pa.table({c: pa.array([r.get(c) for r in rows], arrow_types[t]) for c, (t, _) in columns.items()})


def insert_history(con, rows: list[tuple[str, str, datetime, int | None, int | None]],
                   source_db: str = "test-history.db") -> None:
    """rows: (memory_id, event ADD|UPDATE|DELETE, event_ts, old_bytes, new_bytes)."""
    con.executemany(INSERT_HISTORY, [
        [source_db, f"h-{i}", mid, ev, old, new, ts, ts, ts, ev == "DELETE", LOADED_AT]
        for i, (mid, ev, ts, old, new) in enumerate(rows)
    ])


def insert_snapshot(con, snapshot_id: str, taken_at: datetime,
                    rows: list[tuple[str, str | None, str | None, int, str]], source: str = "oss") -> None:
    """rows: (memory_id, user_id, agent_id, text_bytes, text_hash); created_at = updated_at = taken_at."""
    con.executemany(INSERT_SNAPSHOT, [
        [snapshot_id, taken_at, source, mid, user, agent, nbytes, h, taken_at, taken_at]
        for mid, user, agent, nbytes, h in rows
    ])
