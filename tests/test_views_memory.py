"""Known answers for the remaining views: snapshot summary and ingest status (figures: tests/test_layer_*.py)."""

from __future__ import annotations

from datetime import datetime

import pytest
from view_support import LOADED_AT, event, insert_events, insert_snapshot


def rows(con, sql, params=()):
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def test_snapshot_summary_latest_per_user_and_duplicates(con):
    insert_snapshot(con, "s1", datetime(2026, 11, 1), [
        ("m1", "u1", None, 999, "old"), ("m3", "u2", "bot", 200, "h3"), ("m4", "u2", None, 150, "h4")])
    insert_snapshot(con, "s2", datetime(2026, 11, 10), [
        ("m1", "u1", "bot", 120, "h1"), ("m5", "u1", "bot", 120, "h1"), ("m6", "u1", None, 30, "h2")])
    s = {r["user_id"]: r for r in rows(con, "SELECT * FROM metric_memory_snapshot_summary")}
    u1 = s["u1"]
    assert u1["snapshot_id"] == "s2" and u1["memories"] == 3 and u1["total_bytes"] == 270
    assert u1["avg_bytes"] == pytest.approx(90.0) and u1["max_bytes"] == 120 and u1["agents"] == 1
    assert (u1["distinct_texts"], u1["duplicate_memories"], u1["duplicate_bytes"]) == (2, 1, 120)
    u2 = s["u2"]
    assert u2["snapshot_id"] == "s1" and (u2["memories"], u2["total_bytes"], u2["duplicate_memories"]) == (2, 350, 0)


def test_ingest_status(con):
    con.executemany(
        "INSERT INTO raw_ingest_runs VALUES (?, ?, 'x', ?, ?, ?, ?, ?, ?, ?, ?)",
        [["r1", "oplog", datetime(2026, 11, 1), datetime(2026, 11, 1, 0, 1), 2, 100, 5, 2, "ok", "fine"],
         ["r2", "oplog", datetime(2026, 11, 2), datetime(2026, 11, 2, 0, 1), 1, 0, 0, 0, "error", "disk full"],
         ["r3", "history", datetime(2026, 11, 1), datetime(2026, 11, 1, 0, 1), 1, 7, 0, 0, "ok", None]])
    con.executemany("INSERT INTO raw_quarantine (source_file, source_line, reason, excerpt, source, quarantined_at) "
                    "VALUES (?, ?, ?, NULL, ?, ?)",
                    [["a.jsonl", 3, "invalid JSON", "oplog", LOADED_AT],
                     ["a.jsonl", 9, "missing ts", "oplog", LOADED_AT],
                     ["snap", 1, "bad row", "snapshot", LOADED_AT]])
    insert_events(con, [event(datetime(2026, 11, 1), "get")])
    s = {r["source"]: r for r in rows(con, "SELECT * FROM metric_ingest_status")}
    op = s["oplog"]
    assert (op["runs"], op["failed_runs"], op["last_status"], op["last_message"]) == (2, 1, "error", "disk full")
    assert (op["rows_loaded"], op["rows_duplicate"], op["rows_quarantined"], op["files_seen"]) == (100, 5, 2, 3)
    assert (op["quarantined_lines"], op["quarantine_files"], op["rows_in_table"]) == (2, 1, 1)
    assert s["history"]["rows_in_table"] == 0 and s["history"]["quarantined_lines"] == 0
    assert s["snapshot"]["runs"] == 0 and s["snapshot"]["quarantined_lines"] == 1
