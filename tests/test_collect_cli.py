"""`memlens collect logs|history|snapshot` end to end through the CLI entry point."""

from __future__ import annotations

import json
import sqlite3
import threading

from memlens.cli import main
from memlens.collectors.base import writer_lock
from memlens.warehouse import connect


def _event(n: int) -> str:
    return json.dumps({"schema_version": 1, "event_id": f"cli-{n}", "ts": "2026-11-20T10:00:00Z", "service": "s",
                       "mode": "oss", "call_mode": "sync", "op": "search", "latency_ms": 5.0 + n, "status": "ok"})


def test_collect_logs_history_and_errors(tmp_path, capsys):
    wh = tmp_path / "wh.duckdb"
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.jsonl").write_text(_event(1) + "\n" + _event(2) + "\n{broken\n", encoding="utf-8")

    assert main(["collect", "logs", "--warehouse", str(wh), "-q", str(logs)]) == 0
    out = capsys.readouterr().out
    assert "oplog: 1 file(s), 2 loaded, 0 duplicate, 1 quarantined" in out
    assert main(["collect", "logs", "--warehouse", str(wh), "-q", str(logs)]) == 0
    assert "0 loaded, 0 duplicate, 0 quarantined" in capsys.readouterr().out

    db = tmp_path / "history.db"
    h = sqlite3.connect(db)
    h.execute("CREATE TABLE history (id TEXT PRIMARY KEY, memory_id TEXT, old_memory TEXT, new_memory TEXT, "
              "event TEXT, created_at DATETIME, updated_at DATETIME, is_deleted INTEGER, actor_id TEXT, role TEXT)")
    h.execute("INSERT INTO history VALUES ('h1', 'm1', NULL, 'hello', 'ADD', '2026-11-20T10:00:00+00:00', NULL, 0, "
              "NULL, NULL)")
    h.commit()
    h.close()
    assert main(["collect", "history", "--warehouse", str(wh), "--db", str(db)]) == 0
    assert "history: 1 file(s), 1 loaded" in capsys.readouterr().out

    assert main(["collect", "logs", "--warehouse", str(wh), "-q", str(tmp_path / "missing")]) == 2
    assert "memlens:" in capsys.readouterr().err
    assert main(["collect", "history", "--warehouse", str(wh), "--db", str(tmp_path / "none.db")]) == 2
    assert "Mem0 history DB not found" in capsys.readouterr().err
    assert main(["collect", "snapshot", "--warehouse", str(wh)]) == 2
    assert "--mem0-config" in capsys.readouterr().err

    con = connect(wh)
    try:
        assert con.execute("SELECT count(*) FROM raw_op_events").fetchall() == [(2,)]
        assert con.execute("SELECT source, status FROM raw_ingest_runs ORDER BY started_at").fetchall() == [
            ("oplog", "ok"), ("oplog", "ok"), ("history", "ok")]
    finally:
        con.close()


def test_collect_while_locked_fails_fast_with_the_holder(tmp_path, capsys):
    wh = tmp_path / "wh.duckdb"
    (tmp_path / "a.jsonl").write_text(_event(1) + "\n", encoding="utf-8")
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with writer_lock(wh, "another collection"):
            held.set()
            release.wait(30)

    t = threading.Thread(target=hold)
    t.start()
    try:
        assert held.wait(10)
        assert main(["collect", "logs", "--warehouse", str(wh), "-q", str(tmp_path / "a.jsonl")]) == 2
    finally:
        release.set()
        t.join()
    err = capsys.readouterr().err
    assert err.startswith(f"memlens: warehouse {wh} is locked by another collection (pid ")
    assert "another collection, since" in err
    assert main(["collect", "logs", "--warehouse", str(wh), "-q", str(tmp_path / "a.jsonl")]) == 0
