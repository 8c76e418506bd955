"""Concurrent use. DuckDB allows one writing process per file, so:

- two collections at once: the second stops at once with a clear message (no traceback) and the first one's
  result is complete and exact; in one process, the collection lock excludes a second collection too;
- a dashboard-style reader (read-only connection, retry while a writer holds the file) keeps answering while
  a collection writes, and never sees a half-loaded batch.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from reliability_support import write_events

from memlens.collectors.base import WarehouseLocked
from memlens.collectors.oplog import collect_oplogs
from memlens.config import load_config
from memlens.warehouse import connect

CLI = [sys.executable, "-m", "memlens.cli"]
FILES, LINES = 4, 40_000


@pytest.fixture(scope="module")
def big_logs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("concurrent-logs")
    for f in range(FILES):
        write_events(folder / f"oplog-{f}.jsonl", LINES, seed=900 + f)
    return folder


def _env(tmp: Path) -> dict:
    return dict(os.environ, MEMLENS_HOME=str(tmp / "home"))


def _collect_cmd(warehouse: Path, logs: Path, cfg: Path | None = None) -> list[str]:
    return [*CLI, "collect", "logs", "--warehouse", str(warehouse), "-q", str(logs),
            *(["--config", str(cfg)] if cfg else [])]


def _small_batches(tmp: Path) -> Path:
    cfg = tmp / "cfg.yaml"
    cfg.write_text("collector:\n  batch_lines: 5000\n", encoding="utf-8")
    return cfg


def test_second_collection_process_fails_fast_with_a_clear_message(big_logs, tmp_path):
    warehouse = tmp_path / "wh.duckdb"
    cfg = _small_batches(tmp_path)
    first = subprocess.Popen(_collect_cmd(warehouse, big_logs, cfg), env=_env(tmp_path),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lock = warehouse.with_name(warehouse.name + ".collect.lock")
    deadline = time.monotonic() + 60
    while not (lock.exists() and lock.read_text()) and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)  # the first collection holds the warehouse once its lock file names it
    assert first.poll() is None, "the first collection finished before the second could start: logs too small"
    t0 = time.monotonic()
    second = subprocess.run(_collect_cmd(warehouse, big_logs, cfg), env=_env(tmp_path), capture_output=True,
                            text=True, timeout=120)
    waited = time.monotonic() - t0
    _, err = first.communicate(timeout=600)
    assert first.returncode == 0, err
    assert second.returncode != 0
    assert "Traceback" not in second.stderr, second.stderr
    assert "memlens:" in second.stderr and str(warehouse) in second.stderr, second.stderr
    assert any(w in second.stderr.lower() for w in ("locked", "in use", "another")), second.stderr
    assert waited < 30, "the second collection should fail fast, not queue"
    con = connect(warehouse)
    try:
        assert con.execute("SELECT count(*), count(DISTINCT event_id) FROM raw_op_events").fetchone() \
            == (FILES * LINES, FILES * LINES)
        assert con.execute("SELECT count(*) FROM raw_ingest_runs WHERE status = 'ok'").fetchone()[0] == 1
    finally:
        con.close()


def test_second_collection_in_the_same_process_is_locked_out(big_logs, tmp_path):
    """Two threads of one process share DuckDB's file lock, so the collection lock is what keeps them apart."""
    warehouse = tmp_path / "wh.duckdb"
    cfg = load_config(overrides={"collector": {"batch_lines": 5000}})
    con_a, con_b = connect(warehouse, cfg), connect(warehouse, cfg)
    started, outcome = threading.Event(), {}

    def progress(done: int, total: int, current: str) -> None:
        started.set()

    def first() -> None:
        outcome["a"] = collect_oplogs(con_a, [big_logs], cfg, progress=progress)

    thread = threading.Thread(target=first)
    thread.start()
    assert started.wait(60)
    with pytest.raises(WarehouseLocked, match="locked by another collection") as err:
        collect_oplogs(con_b, [big_logs], cfg)
    assert f"pid {os.getpid()}" in str(err.value)
    thread.join(600)
    assert outcome["a"].rows_loaded == FILES * LINES
    # Once the first one is done, the next collection runs (and finds nothing new).
    again = collect_oplogs(con_b, [big_logs], cfg)
    assert (again.rows_loaded, again.rows_duplicate) == (0, 0)
    con_a.close()
    con_b.close()


APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")


def _ops_caption(at) -> str:
    return next((c.value for c in at.caption if "operations from" in c.value), "")


def test_dashboard_keeps_serving_while_a_collection_writes(big_logs, tmp_path, monkeypatch):
    """A dashboard in use (AppTest session rerunning 5 times a second) must not block `memlens collect logs` in
    another process; while that collection holds the file, every render still shows the data as of the last load
    (cached), never an error; afterwards the dashboard shows the new rows."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    cfg = tmp_path / "memlens.yaml"
    cfg.write_text("dashboard:\n  demo_when_empty: false\ncollector:\n  batch_lines: 5000\n", encoding="utf-8")
    monkeypatch.setenv("MEMLENS_CONFIG", str(cfg))
    warehouse = tmp_path / "wh.duckdb"
    monkeypatch.setenv("MEMLENS_WAREHOUSE", str(warehouse))
    first_log = write_events(tmp_path / "first" / "oplog-first.jsonl", 1000, seed=950)
    con = connect(warehouse)
    collect_oplogs(con, [first_log], load_config(cfg))
    con.close()
    st.cache_data.clear()
    st.cache_resource.clear()

    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert _ops_caption(at).startswith("1,000 operations"), _ops_caption(at)

    proc = subprocess.Popen(_collect_cmd(warehouse, big_logs, cfg), env=_env(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    before = _ops_caption(at)
    seen, notices = [], 0
    while proc.poll() is None:  # someone keeps using the dashboard (5 reruns a second) while the collection writes
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        assert not at.error, [e.value for e in at.error]
        seen.append(_ops_caption(at))
        notices += any("A collection is writing" in i.value for i in at.info)
        time.sleep(0.2)
    _, err = proc.communicate()
    assert proc.returncode == 0, f"the collection failed next to a running dashboard: {err[-800:]}"
    at.run()  # the same session sees the new rows (within the time range it kept) ...
    assert not at.exception
    after = _ops_caption(at)
    assert int(after.split(" operations")[0].replace(",", "")) > 1000, after
    # Every render while the collection ran showed data: the last load's, or (once it had committed and let go)
    # the final one — never an error, an empty page or a half-loaded state.
    assert len(seen) >= 3 and set(seen) <= {before, after}, (before, after, set(seen))
    assert notices >= 1, "no render happened while the collection held the file: the test proved nothing"
    fresh = AppTest.from_file(APP, default_timeout=60)  # ... and a new visitor sees all of them
    fresh.run()
    assert not fresh.exception
    assert _ops_caption(fresh).startswith(f"{1000 + FILES * LINES:,} operations"), _ops_caption(fresh)
