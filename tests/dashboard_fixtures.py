"""Known warehouses for the dashboard tests: rows inserted straight into the raw tables."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from memlens.schema import FIELDS
from memlens.warehouse import connect

COLUMNS = [f.name for f in FIELDS] + ["source_file", "source_line", "ingested_at"]
INGESTED = datetime(2026, 11, 23, 12, 0, 0)
DAY0 = datetime(2026, 11, 9)  # a Monday; the fixture covers 2026-11-09 .. 2026-11-22 (14 days)


def event(i: int, **over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "schema_version": 1, "event_id": f"ev{i:06d}", "ts": DAY0, "service": "chat-api", "mode": "oss",
        "call_mode": "sync", "op": "search", "latency_ms": 50.0, "status": "ok",
        "source_file": "fixture.jsonl", "source_line": i + 1, "ingested_at": INGESTED,
    }
    base.update(over)
    return base


def insert_events(con, events: list[dict[str, Any]]) -> None:
    placeholders = ", ".join("?" for _ in COLUMNS)
    con.executemany(f"INSERT INTO raw_op_events VALUES ({placeholders})",
                    [[e.get(c) for c in COLUMNS] for e in events])


def known_events() -> list[dict[str, Any]]:
    """40 events with hand-countable answers (see tests/test_dashboard_*.py for the figures).

    Week 1 (Nov 9-15): 10 searches by alice, 40 ms, cache hit, embedding 1000 tokens text-embedding-3-small.
    Week 2 (Nov 16-22): 20 searches by bob, 300 ms (slow), cache miss, top_k 20, no scope, embedding 2000 tokens,
                        phases (schema v2) embedding 210 ms + vector search 60 ms (+ 30 ms unattributed);
                        10 adds by alice, 100 ms, llm gpt-4o-mini 1000 in / 100 out, 1 error among them, phases
                        LLM 80 + embedding 10 + vector write 5 + history 3 ms (+ 2 ms unattributed).
    """
    out: list[dict[str, Any]] = []
    for i in range(10):
        out.append(event(len(out), ts=DAY0 + timedelta(days=i % 7, hours=1), user_id="alice", latency_ms=40.0,
                         cache="hit", top_k=5, filter_keys=["user_id"], embedding_model="text-embedding-3-small",
                         embedding_tokens=1000, query_hash="q-common"))
    for i in range(20):
        out.append(event(len(out), ts=DAY0 + timedelta(days=7 + i % 7, hours=2), user_id=None, latency_ms=300.0,
                         cache="miss", top_k=20, embedding_model="text-embedding-3-small", embedding_tokens=2000,
                         query_hash=f"q{i % 4}", service="batch", schema_version=2, embedding_ms=210.0,
                         vector_search_ms=60.0))
    for i in range(10):
        out.append(event(len(out), ts=DAY0 + timedelta(days=7 + i % 7, hours=3), op="add", user_id="alice",
                         agent_id="helper", latency_ms=100.0, status="error" if i == 0 else "ok",
                         error_type="TimeoutError" if i == 0 else None, message_count=1, infer=True,
                         llm_model="gpt-4o-mini", llm_input_tokens=1000, llm_output_tokens=100, schema_version=2,
                         llm_ms=80.0, embedding_ms=10.0, vector_write_ms=5.0, history_ms=3.0))
    return out


def make_warehouse(path: Path, events: list[dict[str, Any]] | None = None, demo: bool = False) -> Path:
    con = connect(path)
    try:
        evs = known_events() if events is None else events
        if demo:
            evs = [{**e, "demo": True} for e in evs]
        insert_events(con, evs)
        con.execute("INSERT INTO raw_ingest_runs VALUES ('run1', 'oplog', 'fixture.jsonl', ?, ?, 1, ?, 0, 1, 'ok', '')",
                    [INGESTED, INGESTED, len(evs)])
        con.execute("INSERT INTO raw_quarantine (source_file, source_line, reason, excerpt, source, quarantined_at) "
                    "VALUES ('fixture.jsonl', 99, 'invalid JSON', ?, 'oplog', ?)",
                    ["<b>not json</b>", INGESTED])
    finally:
        con.close()
    return path


def select_days(at, first, last) -> None:
    """Set the sidebar's custom range to whole UTC days first..last (AppTest), as a user types it, and run."""
    at.sidebar.datetime_input(key="t_from").set_value(datetime.combine(first, datetime.min.time()))
    at.sidebar.datetime_input(key="t_to").set_value(datetime.combine(last + timedelta(days=1), datetime.min.time()))
    at.run()
