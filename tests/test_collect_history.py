"""Mem0 history collector: a hand-built history DB with known answers, and a real offline mem0.Memory's DB."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from memlens.collectors.base import CollectorError
from memlens.collectors.history import collect_history, default_history_db

# mem0 2.2.1's history table, as mem0/memory/storage.py creates it.
CREATE = """CREATE TABLE history (id TEXT PRIMARY KEY, memory_id TEXT, old_memory TEXT, new_memory TEXT,
            event TEXT, created_at DATETIME, updated_at DATETIME, is_deleted INTEGER, actor_id TEXT, role TEXT)"""


def make_db(path: Path, rows: list[tuple]) -> Path:
    db = sqlite3.connect(path)
    db.execute(CREATE)
    db.executemany("INSERT INTO history VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    db.commit()
    db.close()
    return path


ROWS = [
    ("h1", "m1", None, "likes tea", "ADD", "2026-11-01T08:00:00.000000+00:00", None, 0, None, None),
    ("h2", "m1", "likes tea", "likes green tea ☕", "UPDATE", "2026-11-01T08:00:00+00:00",
     "2026-11-03T09:30:00+00:00", 0, "u1", "user"),
    ("h3", "m2", None, "x" * 1000, "ADD", "2026-11-02T10:00:00+02:00", None, 0, None, None),
    ("h4", "m2", "x" * 1000, None, "DELETE", "2026-11-02T08:00:00+00:00", "2026-11-04T00:00:00+00:00", 1, None, None),
    ("h5", "m3", None, "no time", "ADD", None, "garbage", 0, None, None),
    ("h6", "m3", None, "odd", "MERGE", "2026-11-05T00:00:00+00:00", None, 0, None, None),
]


@pytest.mark.both_engines
def test_hand_built_history_db(con, tmp_path):
    db = make_db(tmp_path / "history.db", ROWS)
    r = collect_history(con, db)
    assert (r.rows_loaded, r.rows_duplicate, r.rows_quarantined) == (4, 0, 2)
    got = con.execute("SELECT history_id, memory_id, event, old_memory_bytes, new_memory_bytes, created_at, "
                      "updated_at, event_ts, is_deleted, actor_id, role, source_db FROM raw_memory_history "
                      "ORDER BY history_id").fetchall()
    src = str(db.resolve())
    assert got == [
        ("h1", "m1", "ADD", None, 9, datetime(2026, 11, 1, 8), None, datetime(2026, 11, 1, 8), False, None, None, src),
        ("h2", "m1", "UPDATE", 9, len("likes green tea ☕".encode()), datetime(2026, 11, 1, 8),
         datetime(2026, 11, 3, 9, 30), datetime(2026, 11, 3, 9, 30), False, "u1", "user", src),
        ("h3", "m2", "ADD", None, 1000, datetime(2026, 11, 2, 8), None, datetime(2026, 11, 2, 8), False, None, None,
         src),
        ("h4", "m2", "DELETE", 1000, None, datetime(2026, 11, 2, 8), datetime(2026, 11, 4), datetime(2026, 11, 4),
         True, None, None, src),
    ]
    assert len("likes green tea ☕".encode()) == 19  # multi-byte: bytes, not characters
    q = con.execute("SELECT source_line, reason, source FROM raw_quarantine ORDER BY 1").fetchall()
    assert q == [(5, 'no usable event time: updated_at "garbage", created_at "NULL"', "history"),
                 (6, 'event: unknown value "MERGE" (expected ADD, UPDATE, DELETE)', "history")]
    # Texts never reach the warehouse.
    dump = str(con.execute("SELECT * FROM raw_memory_history").fetchall()) + str(
        con.execute("SELECT * FROM raw_quarantine").fetchall())
    assert "tea" not in dump and "xxx" not in dump and "no time" not in dump


@pytest.mark.both_engines
def test_history_is_incremental_and_idempotent(con, tmp_path):
    db = make_db(tmp_path / "history.db", ROWS[:2])
    assert collect_history(con, db).rows_loaded == 2
    again = collect_history(con, db)
    assert (again.rows_loaded, again.rows_duplicate, again.rows_quarantined) == (0, 0, 0)
    w = sqlite3.connect(db)
    w.execute("INSERT INTO history VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", ROWS[2])
    w.commit()
    w.close()
    r = collect_history(con, db)
    assert (r.rows_loaded, r.rows_duplicate) == (1, 0)
    assert con.execute("SELECT count(*) FROM raw_memory_history").fetchall() == [(3,)]
    # Checkpoint lost: everything is read again and upserted, nothing doubles.
    con.execute("DELETE FROM raw_ingest_checkpoints")
    r = collect_history(con, db)
    assert (r.rows_loaded, r.rows_duplicate) == (0, 3)
    assert con.execute("SELECT count(*) FROM raw_memory_history").fetchall() == [(3,)]


def test_missing_locked_or_foreign_db_leave_the_warehouse_unchanged(con, tmp_path):
    from memlens.config import load_config

    with pytest.raises(CollectorError, match="Mem0 history DB not found"):
        collect_history(con, tmp_path / "nope.db")
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(CollectorError, match="no `history` table"):
        collect_history(con, other)
    db = make_db(tmp_path / "history.db", ROWS[:2])
    locker = sqlite3.connect(db)
    locker.execute("BEGIN EXCLUSIVE")  # a writer holding the DB
    try:
        fast = load_config(overrides={"collector": {"sqlite_timeout_seconds": 0.2}})
        with pytest.raises(CollectorError, match="database is locked"):
            collect_history(con, db, fast)
    finally:
        locker.rollback()
        locker.close()
    assert con.execute("SELECT count(*) FROM raw_memory_history").fetchall() == [(0,)]
    assert con.execute("SELECT status FROM raw_ingest_runs").fetchall() in ([], [("error",)])
    assert sqlite3.connect(db).execute("SELECT count(*) FROM history").fetchall() == [(2,)]


def test_default_history_db_follows_mem0_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("MEM0_DIR", str(tmp_path))
    assert default_history_db() == tmp_path / "history.db"
    monkeypatch.delenv("MEM0_DIR")
    assert default_history_db() == Path.home() / ".mem0" / "history.db"


@pytest.mark.mem0
def test_history_of_a_real_offline_memory(con, tmp_path):
    from memlens.workloads.offline_mem0 import offline_memory

    memory = offline_memory(tmp_path / "m")
    added = memory.add("I like green tea", user_id="alice", infer=False)["results"]
    mid = added[0]["id"]
    memory.add("I live in Lisbon", user_id="alice", infer=False)
    memory.update(mid, "I like jasmine tea")
    memory.delete(mid)
    db = tmp_path / "m" / "history.db"
    r = collect_history(con, db)
    assert (r.rows_loaded, r.rows_quarantined) == (4, 0)
    got = con.execute("SELECT memory_id = ?, event, old_memory_bytes, new_memory_bytes FROM raw_memory_history "
                      "ORDER BY event_ts, event", [mid]).fetchall()
    assert sorted(got) == sorted([
        (True, "ADD", None, len("I like green tea")),
        (False, "ADD", None, len("I live in Lisbon")),
        (True, "UPDATE", len("I like green tea"), len("I like jasmine tea")),
        (True, "DELETE", len("I like jasmine tea"), None),
    ])
    times = con.execute("SELECT event, event_ts FROM raw_memory_history WHERE memory_id = ? ORDER BY event_ts",
                        [mid]).fetchall()
    assert [e for e, _ in times] == ["ADD", "UPDATE", "DELETE"]
    assert all(abs((ts - datetime.now(UTC).replace(tzinfo=None)).total_seconds()) < 600 for _, ts in times)
    assert collect_history(con, db).rows_loaded == 0


def _adds(n: int, start: int, tag: str) -> list[tuple]:
    return [(f"{tag}-{i}", f"m-{tag}-{i}", None, "x", "ADD", f"2026-11-0{1 + i % 9}T10:00:00+00:00", None, 0, None,
             "user") for i in range(start, start + n)]


def test_history_table_recreated_in_the_same_file_is_read_again(con, tmp_path):
    """Issue 12 #2 (as Memory.reset() does it): the table is dropped and re-created in the same file (same inode,
    rowids from 1 again, already past the checkpoint): 100 rows, reset, 150 new rows → all 250 are loaded."""
    db = make_db(tmp_path / "history.db", _adds(100, 0, "before"))
    inode = db.stat().st_ino
    assert collect_history(con, db).rows_loaded == 100
    w = sqlite3.connect(db)
    w.execute("DROP TABLE history")
    w.execute(CREATE)
    w.executemany("INSERT INTO history VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", _adds(150, 0, "after"))
    w.commit()
    w.close()
    assert db.stat().st_ino == inode
    r = collect_history(con, db)
    assert (r.rows_loaded, r.rows_duplicate, r.rows_quarantined) == (150, 0, 0)
    assert any("reset" in m for m in r.messages), r.messages
    assert con.execute("SELECT count(*), count(DISTINCT history_id) FROM raw_memory_history").fetchone() == (250, 250)
    # Rewritten in place, same length: every row deleted and others inserted (the rowids repeat).
    w = sqlite3.connect(db)
    w.execute("DELETE FROM history")
    w.executemany("INSERT INTO history VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", _adds(150, 0, "rewritten"))
    w.commit()
    w.close()
    assert collect_history(con, db).rows_loaded == 150
    # Grown, not re-created: only the new rows are read.
    w = sqlite3.connect(db)
    w.executemany("INSERT INTO history VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", _adds(5, 150, "rewritten"))
    w.commit()
    w.close()
    r = collect_history(con, db)
    assert (r.rows_loaded, r.rows_duplicate, r.messages) == (5, 0, [])


@pytest.mark.mem0
def test_history_after_a_real_memory_reset_loses_nothing(con, tmp_path):
    """Issue 12 #2 with a real offline mem0.Memory: 20 adds, collect, Memory.reset(), 30 adds, collect (the issue's
    100 / 150 rows have the same shape: more new rows than the checkpoint's rowid; the hand-built test above runs
    those sizes)."""
    from memlens.workloads.offline_mem0 import offline_memory

    memory = offline_memory(tmp_path / "m")
    for i in range(20):
        memory.add(f"fact number {i}", user_id="alice", infer=False)
    db = tmp_path / "m" / "history.db"
    inode = db.stat().st_ino
    assert collect_history(con, db).rows_loaded == 20
    memory.reset()
    ids = [memory.add(f"new fact {i}", user_id="bob", infer=False)["results"][0]["id"] for i in range(30)]
    assert db.stat().st_ino == inode  # the same file: only the table was re-created
    r = collect_history(con, db)
    assert (r.rows_loaded, r.rows_duplicate, r.rows_quarantined) == (30, 0, 0)
    loaded = {m for (m,) in con.execute("SELECT memory_id FROM raw_memory_history").fetchall()}
    assert set(ids) <= loaded and len(loaded) == 50


def test_bad_history_rows_are_quarantined_and_the_rest_loads(con, tmp_path):
    """Issue 12 #7: is_deleted='maybe', an id and a role that are not UTF-8: each row quarantined with the column
    named; the good rows around them load."""
    db = make_db(tmp_path / "history.db", _adds(3, 0, "ok"))
    w = sqlite3.connect(db)
    w.execute("INSERT INTO history VALUES ('h-maybe', 'm9', NULL, 'x', 'ADD', '2026-11-01T10:00:00+00:00', NULL, "
              "'maybe', NULL, 'user')")
    w.execute("INSERT INTO history VALUES (CAST(X'68FF6964' AS TEXT), 'm10', NULL, 'x', 'ADD', "
              "'2026-11-01T10:00:00+00:00', NULL, 0, NULL, 'user')")
    w.execute("INSERT INTO history VALUES ('h-role', 'm11', NULL, 'x', 'ADD', '2026-11-01T10:00:00+00:00', NULL, 0, "
              "NULL, CAST(X'C328' AS TEXT))")
    w.executemany("INSERT INTO history VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", _adds(2, 3, "ok"))
    w.commit()
    w.close()
    r = collect_history(con, db)
    assert (r.rows_loaded, r.rows_quarantined) == (5, 3)
    q = con.execute("SELECT source_line, reason, excerpt FROM raw_quarantine ORDER BY 1").fetchall()
    assert q == [(4, "is_deleted: expected 0 or 1, got 'maybe'", "id=h-maybe memory_id=m9 event=ADD"),
                 (5, "id: invalid UTF-8 at byte 2", "id=h\\xffid memory_id=m10 event=ADD"),
                 (6, "role: invalid UTF-8 at byte 1", "id=h-role memory_id=m11 event=ADD")]
    assert collect_history(con, db).rows_loaded == 0  # checkpointed past them: not quarantined twice
    assert con.execute("SELECT count(*) FROM raw_quarantine").fetchone()[0] == 3


def test_a_history_table_that_is_not_mem0s_is_refused_in_one_line(con, tmp_path):
    """Issue 12 #7: another program's `history` table: one line naming the missing columns, nothing written; the
    CLI prints it without a traceback."""
    import os
    import subprocess
    import sys

    other = tmp_path / "browser-history.db"
    w = sqlite3.connect(other)
    w.execute("CREATE TABLE history (id INTEGER PRIMARY KEY, url TEXT, visited_at TEXT)")
    w.execute("INSERT INTO history (url, visited_at) VALUES ('https://example.com', '2026-11-01')")
    w.commit()
    w.close()
    missing = "memory_id, old_memory, new_memory, event, created_at, updated_at, is_deleted, actor_id, role"
    with pytest.raises(CollectorError, match=rf"its `history` table is not Mem0's \(no column {missing}\)"):
        collect_history(con, other)
    assert con.execute("SELECT count(*) FROM raw_ingest_runs").fetchone()[0] == 0
    out = subprocess.run([sys.executable, "-m", "memlens.cli", "collect", "history", "--db", str(other),
                          "--warehouse", str(tmp_path / "wh.duckdb")], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, MEMLENS_HOME=str(tmp_path)))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "is not Mem0's" in out.stderr
