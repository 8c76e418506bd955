"""Shared helpers for the reliability and security tests: valid schema-v1 events, log writers, warehouse fingerprints.

Valid events here are deliberately plain (no borderline values), so any event that fails to load is a collector bug
and any mutation in `corpus/make_corpus.py` or `oplog_strategies.py` is unambiguously bad.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

BASE_TS = datetime(2026, 6, 1, tzinfo=UTC)  # + at most 81 days of events: always in the past
OPS = ("add", "search", "get", "get_all", "update", "delete")
# Columns whose values the collector fills itself (differ between two loads of the same logs).
VOLATILE_COLUMNS = ("ingested_at",)


def event_id(seed: int, i: int) -> str:
    return hashlib.md5(f"{seed}:{i}".encode()).hexdigest()


def valid_event(i: int, seed: int = 0, rng: random.Random | None = None) -> dict:
    """A plausible, valid schema-v1 event; deterministic in (seed, i)."""
    rng = rng or random.Random(seed * 1_000_003 + i)
    op = OPS[i % len(OPS)]
    ev: dict = {
        "schema_version": 1,
        "event_id": event_id(seed, i),
        "ts": (BASE_TS + timedelta(seconds=(i % 1_000_000) * 7, microseconds=rng.randrange(1_000_000)))
        .strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "service": "svc-reliability",
        "mode": "oss",
        "call_mode": "sync" if i % 3 else "async",
        "op": op,
        "user_id": f"user-{rng.randrange(50)}",
        "agent_id": None,
        "run_id": None,
        "latency_ms": round(rng.lognormvariate(3.0, 0.8), 3),
        "status": "ok" if i % 17 else "error",
        "error_type": None if i % 17 else "TimeoutError",
        "embedding_model": "text-embedding-3-small",
        "embedding_calls": 1,
        "embedding_tokens": rng.randrange(3, 40),
        "tokens_estimated": False,
        "demo": False,
    }
    if op == "search":
        ev.update({"top_k": 20, "filter_keys": ["user_id"], "rerank": False, "threshold": 0.1,
                   "result_count": rng.randrange(0, 21), "query_hash": hashlib.sha256(str(i).encode()).hexdigest()[:32],
                   "cache": rng.choice(("hit", "miss"))})
    elif op == "add":
        ev.update({"message_count": 1, "infer": False, "memories_created": 1,
                   "result_ids": [event_id(seed + 1, i)]})
    return ev


def dumps(ev: dict) -> str:
    return json.dumps(ev, separators=(",", ":"), allow_nan=True)


def iter_events(n: int, seed: int = 0, start: int = 0) -> Iterator[dict]:
    for i in range(start, start + n):
        yield valid_event(i, seed)


def write_jsonl(path: Path, lines: Iterable[str | bytes], compress: bool = False) -> Path:
    """Write lines (str or raw bytes, newline added) to a .jsonl or .jsonl.gz file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if compress else open
    with opener(path, "wb") as fh:
        for line in lines:
            fh.write((line.encode() if isinstance(line, str) else line) + b"\n")
    return path


def write_events(path: Path, n: int, seed: int = 0, start: int = 0, compress: bool = False) -> Path:
    return write_jsonl(path, (dumps(e) for e in iter_events(n, seed, start)), compress)


def table_fingerprint(con: duckdb.DuckDBPyConnection, table: str = "raw_op_events") -> tuple[int, int, str]:
    """(rows, distinct rows, order-independent sha256 of every non-volatile column) of a warehouse table."""
    cols = [r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
        [table]).fetchall() if r[0] not in VOLATILE_COLUMNS]
    quoted = ", ".join(f'"{c}"' for c in cols)  # column names come from the catalog, table from the test
    rows = sorted(repr(r) for r in con.execute(f"SELECT {quoted} FROM {table}").fetchall())
    return len(rows), len(set(rows)), hashlib.sha256("\n".join(rows).encode()).hexdigest()


def quarantine_rows(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int, str]]:
    """(file name, line, reason) of every quarantined record, sorted."""
    rows = con.execute("SELECT source_file, source_line, reason FROM raw_quarantine").fetchall()
    return sorted((Path(f).name, int(line), reason) for f, line, reason in rows)
