"""Outages: Prometheus down, slow, erroring or giving partial/odd data; Mem0's history DB missing or locked; a log
folder rotating under the collector. Each gives a clear message (naming what failed and what to do), leaves the
warehouse as it was, and the other collections keep working on the same warehouse.

Prometheus is a local fake (stdlib HTTP server on 127.0.0.1 answering /api/v1/query_range) whose failure mode each
test picks; the real-server path is covered by test_prometheus_e2e.py.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from fake_prometheus import free_port, serve_fake_prometheus
from reliability_support import dumps, iter_events, valid_event, write_events

from memlens.collectors.base import CollectorError
from memlens.collectors.history import collect_history
from memlens.collectors.oplog import collect_oplogs
from memlens.collectors.prometheus import collect_prometheus
from memlens.config import load_config
from memlens.instrumentation import OpLogWriter
from memlens.warehouse import connect

CLI = [sys.executable, "-m", "memlens.cli"]
# wall-clock limits beyond any load for answers that must succeed; the slow case sets its own 0.5 s
CFG = load_config(overrides={"prometheus": {"timeout_s": 3600, "retries": 0}})
SLOW_CFG = load_config(overrides={"prometheus": {"timeout_s": 0.5, "retries": 0}})


@pytest.fixture
def prom():
    with serve_fake_prometheus() as (server, url):
        yield server, url


def _prom_state(con) -> tuple[int, int]:
    return (con.execute("SELECT count(*) FROM raw_prom_samples").fetchone()[0],
            con.execute("SELECT count(*) FROM raw_prom_checkpoints").fetchone()[0])


def _oplog_still_works(con, tmp_path: Path) -> None:
    log = write_events(tmp_path / "after-outage.jsonl", 20, seed=61)
    result = collect_oplogs(con, [log], CFG)
    assert result.rows_loaded == 20


@pytest.mark.parametrize(("mode", "message"), [
    ("down", r"cannot reach Prometheus at http://127\.0\.0\.1:\d+ \(.*refused.*\); is it running"),
    ("slow", r"did not answer query \w+ within 0\.5 s \(prometheus\.timeout_s\)"),
    ("error500", r"Prometheus at .* (rejected query|gave an unusable answer).*500"),
    ("error400", r"rejected query \w+ \(HTTP Status Code 400: invalid parameter .*query.*: parse error\)"),
    ("garbage", r"Prometheus at .* gave an unusable answer to \w+"),
    ("partial", r"Prometheus at http:\S+ answered HTTP 503 to query \w+ \(also after prometheus.retries\)"),
])
def test_prometheus_fault_is_clear_and_changes_nothing(prom, tmp_path, mode, message):
    server, url = prom
    server.mode = mode
    server.slow_s = 600  # slow: an answer far past the 0.5 s limit, so the cut never depends on the machine's speed
    if mode == "down":
        url = f"http://127.0.0.1:{free_port()}"
    con = connect(":memory:")
    with pytest.raises(CollectorError, match=message):
        collect_prometheus(con, url, SLOW_CFG if mode == "slow" else CFG, step=60)
    assert _prom_state(con) == (0, 0), "a failed Prometheus collection left rows or checkpoints behind"
    _oplog_still_works(con, tmp_path)
    # The server comes back: the same collection now succeeds.
    if mode != "down":
        server.mode = "ok"
        result = collect_prometheus(con, url, CFG, step=60)
        assert result.rows_loaded > 0


def test_prometheus_odd_values_and_warnings_load_the_finite_points(prom):
    server, url = prom
    server.mode = "warnings"
    con = connect(":memory:")
    collect_prometheus(con, url, CFG, step=60)
    assert con.execute("SELECT count(*) FROM raw_prom_samples WHERE NOT isfinite(value)").fetchone()[0] == 0
    # NaN and +Inf (points 2 and 3 of every series) are skipped, the other points load.
    per_query = con.execute("SELECT count(*) FROM raw_prom_samples GROUP BY query_name").fetchall()
    points = int(load_config().prometheus.window.rstrip("h")) * 60 + 1
    assert {n for (n,) in per_query} == {points - 2}


def test_prometheus_down_via_cli_prints_one_clear_line(tmp_path):
    out = subprocess.run([*CLI, "collect", "prometheus", "--url", f"http://127.0.0.1:{free_port()}",
                          "--warehouse", str(tmp_path / "wh.duckdb")], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, MEMLENS_HOME=str(tmp_path)))
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    assert "cannot reach Prometheus" in out.stderr and "is it running" in out.stderr


def _history_db(path: Path, rows: int) -> Path:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE IF NOT EXISTS history (id TEXT PRIMARY KEY, memory_id TEXT, old_memory TEXT, "
               "new_memory TEXT, event TEXT, created_at DATETIME, updated_at DATETIME, is_deleted INTEGER, "
               "actor_id TEXT, role TEXT)")
    db.executemany("INSERT INTO history VALUES (?, ?, NULL, ?, 'ADD', ?, NULL, 0, NULL, 'user')",
                   [(f"h{i}", f"m{i}", "likes tea", f"2026-11-0{1 + i % 9}T10:00:00+00:00") for i in range(rows)])
    db.commit()
    db.close()
    return path


def test_history_db_missing_is_clear_and_changes_nothing(tmp_path):
    con = connect(":memory:")
    with pytest.raises(CollectorError, match=r"Mem0 history DB not found: .*nope\.db \(pass --db, or set MEM0_DIR\)"):
        collect_history(con, tmp_path / "nope.db")
    assert con.execute("SELECT count(*) FROM raw_memory_history").fetchone()[0] == 0
    _oplog_still_works(con, tmp_path)


def test_history_db_locked_by_mem0_is_clear_then_loads_when_released(tmp_path):
    """Mem0 (default rollback journal) mid-write holds an EXCLUSIVE lock: the reader waits
    collector.sqlite_timeout_seconds, then fails clearly; once released, the rows load."""
    path = _history_db(tmp_path / "history.db", 5)
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN EXCLUSIVE")
    writer.execute("INSERT INTO history VALUES ('late', 'm9', NULL, 'x', 'ADD', '2026-11-09T10:00:00+00:00', "
                   "NULL, 0, NULL, 'user')")
    cfg = load_config(overrides={"collector": {"sqlite_timeout_seconds": 0.3}})
    con = connect(":memory:")
    with pytest.raises(CollectorError, match=r"cannot read Mem0 history DB .*history\.db: database is locked"):
        collect_history(con, path, cfg)  # (had it waited for the writer, it would never return: the lock is held)
    assert con.execute("SELECT count(*) FROM raw_memory_history").fetchone()[0] == 0
    _oplog_still_works(con, tmp_path)
    writer.execute("COMMIT")
    writer.close()
    assert collect_history(con, path, cfg).rows_loaded == 6


def test_history_missing_via_cli_prints_one_clear_line(tmp_path):
    out = subprocess.run([*CLI, "collect", "history", "--db", str(tmp_path / "nope.db"), "--warehouse",
                          str(tmp_path / "wh.duckdb")], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, MEMLENS_HOME=str(tmp_path)))
    assert out.returncode != 0
    assert "Traceback" not in out.stderr, out.stderr[-1500:]
    assert "Mem0 history DB not found" in out.stderr


def test_missing_log_path_via_cli_prints_one_clear_line(tmp_path):
    out = subprocess.run([*CLI, "collect", "logs", "-q", str(tmp_path / "no-such-dir"), "--warehouse",
                          str(tmp_path / "wh.duckdb")], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, MEMLENS_HOME=str(tmp_path)))
    assert out.returncode != 0
    assert "Traceback" not in out.stderr, out.stderr[-1500:]
    assert "no-such-dir: no such file or folder" in out.stderr


def test_log_folder_rotating_under_the_collector_loses_and_doubles_nothing(tmp_path):
    """The real OpLogWriter rotates every ~8 KiB while 3 threads log 3,000 events; meanwhile the collector runs
    again and again on the folder (reading files being written, half-written last lines included). Finally:
    every event exactly once, nothing quarantined."""
    log_dir = tmp_path / "live"
    writer = OpLogWriter(log_dir, service="rot", rotate_bytes=8 * 1024, flush_every=25, flush_seconds=0.05)
    written: list[str] = []
    lock = threading.Lock()

    def produce(t: int) -> None:
        for i in range(1000):
            ev = valid_event(i, seed=7000 + t)
            writer.write(ev)
            with lock:
                written.append(ev["event_id"])
            if i % 100 == 0:
                time.sleep(0.01)

    threads = [threading.Thread(target=produce, args=(t,)) for t in range(3)]
    for th in threads:
        th.start()
    con = connect(":memory:")
    runs = 0
    while any(th.is_alive() for th in threads) or runs < 3:
        collect_oplogs(con, [log_dir], CFG)
        runs += 1
    for th in threads:
        th.join()
    writer.close()
    final = collect_oplogs(con, [log_dir], CFG)
    assert len(writer.files) > 20, "the writer should have rotated many times"
    ids = [r[0] for r in con.execute("SELECT event_id FROM raw_op_events").fetchall()]
    assert len(ids) == len(set(ids)) == len(written) == 3000
    assert set(ids) == set(written)
    assert con.execute("SELECT count(*) FROM raw_quarantine").fetchone()[0] == 0
    assert runs >= 3 and final.rows_quarantined == 0


def test_file_vanishing_mid_run_is_reported_and_the_rest_loads(tmp_path):
    """A file deleted (rotated away) between discovery and reading: skipped with a message, the others load."""
    for f in range(3):
        write_events(tmp_path / f"oplog-{f}.jsonl", 100, seed=300 + f)
    victim = tmp_path / "oplog-2.jsonl"

    def progress(done: int, total: int, current: str) -> None:
        if victim.exists():
            victim.unlink()

    con = connect(":memory:")
    result = collect_oplogs(con, [tmp_path], CFG, progress=progress)
    assert result.rows_loaded == 200
    assert any("oplog-2.jsonl" in m and "skipped" in m for m in result.messages), result.messages


def test_copytruncate_and_rename_rotation_between_runs(tmp_path):
    """copytruncate (same file truncated, then new lines) and rename+recreate (same name, new inode) between two
    runs: the new events load, the old ones are not loaded twice."""
    a = write_events(tmp_path / "a.jsonl", 100, seed=400)
    b = write_events(tmp_path / "b.jsonl", 100, seed=401)
    con = connect(":memory:")
    assert collect_oplogs(con, [tmp_path], CFG).rows_loaded == 200
    # a.jsonl: copytruncate — the copy keeps a name the collector ignores, the file restarts with new events.
    (tmp_path / "a.jsonl.1").write_bytes(a.read_bytes())
    inode = a.stat().st_ino
    with a.open("r+b") as fh:
        fh.truncate(0)
    with a.open("a", encoding="utf-8") as fh:
        fh.writelines(dumps(e) + "\n" for e in iter_events(30, seed=402))
    assert a.stat().st_ino == inode
    # b.jsonl: renamed away, a new b.jsonl (new inode) with the old lines' first 10 repeated plus 40 new.
    b.rename(tmp_path / "b.jsonl.1")
    old = (tmp_path / "b.jsonl.1").read_text().splitlines()[:10]
    new = [dumps(e) for e in iter_events(40, seed=403)]
    b.write_text("\n".join(old + new) + "\n")
    result = collect_oplogs(con, [tmp_path], CFG)
    assert (result.rows_loaded, result.rows_duplicate, result.rows_quarantined) == (70, 10, 0)
    assert con.execute("SELECT count(*), count(DISTINCT event_id) FROM raw_op_events").fetchone() == (270, 270)


READ_ONLY_NAMESPACE = """\
set -e
mount --bind "$DIR" "$DIR"
mount -o remount,bind,ro "$DIR"
if touch "$DIR/probe" 2>/dev/null; then echo "the bind mount is writable" >&2; exit 3; fi
set +e
"$PY" -m memlens.cli query latency --by day,op --csv --warehouse "$DIR/wh.duckdb" >"$OUT/query.out" 2>"$OUT/query.err"
echo $? >"$OUT/query.rc"
"$PY" -m memlens.cli collect logs -q "$LOGS" --warehouse "$DIR/wh.duckdb" >"$OUT/collect.out" 2>"$OUT/collect.err"
echo $? >"$OUT/collect.rc"
"""


def test_a_warehouse_on_read_only_storage_is_read_and_a_collection_says_why_it_cannot_write(tmp_path):
    """Issue 12 #15: the warehouse on a real read-only filesystem (a read-only bind mount in a private mount
    namespace; chmod would not stop root). `memlens query` reads it (before: it rewrote tables and views at open
    and failed); a collection into it says so in one line instead of a traceback; the file is untouched."""
    import hashlib
    import shutil

    if not shutil.which("unshare"):
        pytest.skip("util-linux unshare is not installed: no private mount namespace for a read-only mount")
    unshare = ["unshare", "-m"] if os.geteuid() == 0 else ["unshare", "-r", "-m"]
    probe = subprocess.run([*unshare, "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"no private mount namespace here ({probe.stderr.strip()})")
    data, logs, out = tmp_path / "ro", tmp_path / "logs", tmp_path / "out"
    for d in (data, logs, out):
        d.mkdir()
    write_events(logs / "a.jsonl", 50)
    env = dict(os.environ, MEM0_TELEMETRY="False")
    subprocess.run([*CLI, "collect", "logs", "-q", str(logs), "--warehouse", str(data / "wh.duckdb")], env=env,
                   check=True, capture_output=True, timeout=600)
    writable = subprocess.run([*CLI, "query", "latency", "--by", "day,op", "--csv", "--warehouse",
                               str(data / "wh.duckdb")], env=env, check=True, capture_output=True, text=True,
                              timeout=600).stdout
    write_events(logs / "b.jsonl", 10, start=50)  # something a collection would load
    digest = hashlib.sha256((data / "wh.duckdb").read_bytes()).hexdigest()
    run = subprocess.run([*unshare, "sh", "-c", READ_ONLY_NAMESPACE], capture_output=True, text=True, timeout=900,
                         env=dict(env, DIR=str(data), OUT=str(out), LOGS=str(logs), PY=sys.executable))
    assert run.returncode == 0, run.stderr[-3000:]
    assert (out / "query.rc").read_text().strip() == "0", (out / "query.err").read_text()
    assert (out / "query.out").read_text() == writable and writable.count("\n") > 1  # same rows as read-write
    err = (out / "collect.err").read_text()
    assert (out / "collect.rc").read_text().strip() == "2", err
    assert err == (f"memlens: cannot write to warehouse {data / 'wh.duckdb'}: Read-only file system ({data}); "
                   "reading commands (memlens query, the dashboard) still work there\n")
    assert hashlib.sha256((data / "wh.duckdb").read_bytes()).hexdigest() == digest
