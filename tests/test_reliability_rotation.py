"""Rotation and content identity (issue 12 #1, #21): logrotate's names (.1, .1.gz, -YYYYMMDD, epoch dateext) are
read, and a checkpoint follows the content, not the name: a rotated file continues what was read of it (nothing
lost, nothing read twice), a file replaced by other content with the same name, size and head is read again, and a
line is never quarantined twice, under whatever name it comes back.

The rotations are done by the real tools: `cp`, `:>`, `mv` and `gzip` exactly as the issue reproduces them, and the
real `logrotate` (Debian package, installed by scripts/test.sh) with copytruncate, numbered rotation with
compress + delaycompress, and create + dateext, under a writer appending between collections.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from reliability_support import dumps, iter_events, valid_event

from memlens.collectors.logfiles import log_kind
from memlens.collectors.oplog import collect_oplogs
from memlens.config import default_config
from memlens.warehouse import connect

CFG = default_config()


def _append(path: Path, start: int, n: int, seed: int = 1200) -> list[str]:
    events = list(iter_events(n, seed=seed, start=start))
    with path.open("a", encoding="utf-8") as fh:  # O_APPEND, as an application's log handler opens it
        fh.writelines(dumps(e) + "\n" for e in events)
    return [e["event_id"] for e in events]


def _sh(cmd: str, cwd: Path) -> None:
    subprocess.run(["sh", "-c", cmd], cwd=cwd, check=True)


def _ids(con) -> list[str]:
    return [r[0] for r in con.execute("SELECT event_id FROM raw_op_events").fetchall()]


@pytest.mark.parametrize("names", [
    ("oplog.jsonl.1", "oplog.jsonl.1.gz"),
    ("oplog.jsonl-20261101", "oplog.jsonl-20261101.gz"),
])
def test_copytruncate_then_gzip_of_the_copy_loses_and_doubles_nothing(tmp_path, names):
    """The issue's reproduction: 100 events, collect; 50 more; `cp oplog.jsonl <rotated>; : > oplog.jsonl`; 20 more;
    collect; later `gzip <rotated>`; collect. Expected 170 rows (it was 120: the 50 lived only in the copy)."""
    rotated, compressed = names
    log = tmp_path / "oplog.jsonl"
    written = _append(log, 0, 100)
    con = connect(":memory:")
    assert collect_oplogs(con, [tmp_path], CFG).rows_loaded == 100
    written += _append(log, 100, 50)
    _sh(f"cp oplog.jsonl {rotated}; : > oplog.jsonl", tmp_path)
    written += _append(log, 150, 20)
    r = collect_oplogs(con, [tmp_path], CFG)
    assert (r.rows_loaded, r.rows_duplicate, r.rows_quarantined) == (70, 0, 0)
    assert [m for m in r.messages if f"{rotated}: continues" in m and "read from line 101" in m], r.messages
    _sh(f"gzip {rotated}", tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {compressed, "oplog.jsonl"}
    r = collect_oplogs(con, [tmp_path], CFG)
    assert (r.rows_loaded, r.rows_duplicate, r.rows_quarantined) == (0, 0, 0)  # the copy, compressed: nothing new
    ids = _ids(con)
    assert len(ids) == len(set(ids)) == 170 and set(ids) == set(written)
    # The 50 that only the rotated copy holds carry its name and their line numbers in it.
    rows = con.execute("SELECT min(source_line), max(source_line), count(*) FROM raw_op_events WHERE source_file = ?",
                       [str((tmp_path / rotated).resolve())]).fetchall()
    assert rows == [(101, 150, 50)]


def test_rename_rotation_loses_and_doubles_nothing(tmp_path):
    """`mv oplog.jsonl oplog.jsonl.1` and a new oplog.jsonl: the 50 appended before the move load from the .1."""
    log = tmp_path / "oplog.jsonl"
    written = _append(log, 0, 100)
    con = connect(":memory:")
    collect_oplogs(con, [tmp_path], CFG)
    written += _append(log, 100, 50)
    _sh("mv oplog.jsonl oplog.jsonl.1", tmp_path)
    written += _append(log, 150, 20)
    r = collect_oplogs(con, [tmp_path], CFG)
    assert (r.rows_loaded, r.rows_duplicate, r.rows_quarantined) == (70, 0, 0)
    _sh("gzip oplog.jsonl.1", tmp_path)
    assert collect_oplogs(con, [tmp_path], CFG).rows_loaded == 0
    ids = _ids(con)
    assert len(ids) == len(set(ids)) == 170 and set(ids) == set(written)


def test_logrotate_names_are_logs_and_others_are_not():
    logs = ["oplog.jsonl", "oplog.jsonl.1", "oplog.jsonl.12.gz", "oplog.jsonl-20261101", "oplog.jsonl-2026110113.gz",
            "oplog.jsonl-2026-11-01", "oplog.jsonl-1793491200.gz", "app.log.3", "app-20261101.jsonl.gz", "x.parquet"]
    assert [log_kind(Path(n)) for n in logs] == ["plain", "plain", "gzip", "plain", "gzip", "plain", "gzip", "plain",
                                                 "gzip", "parquet"]
    others = ["oplog.jsonl.bak", "oplog.jsonl.1.tmp", "oplog.jsonl-old", "notes.txt", "oplog.jsonl.gz.1",
              "oplog.json", "oplog.jsonl.12345"]
    assert [log_kind(Path(n)) for n in others] == [None] * len(others)


LOGROTATE = shutil.which("logrotate") or "/usr/sbin/logrotate"


@pytest.mark.parametrize("style", ["copytruncate", "numbered-compress-delaycompress", "create-dateext"])
def test_real_logrotate_under_a_writer_loses_and_doubles_nothing(tmp_path, style):
    """The real logrotate (-f, its own state file) rotates a log four times while events are appended, and the
    collector runs at different points of the cycle (before and after rotations, over uncompressed and compressed
    copies, over numbered files renamed at each rotation). Finally every event is in the warehouse exactly once and
    nothing is quarantined."""
    if not Path(LOGROTATE).exists():
        pytest.fail("logrotate is not installed (scripts/test.sh installs the Debian package)")
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "oplog.jsonl"
    options = {
        "copytruncate": "copytruncate\n  rotate 10",
        "numbered-compress-delaycompress": "copytruncate\n  rotate 10\n  compress\n  delaycompress",
        "create-dateext": "create\n  rotate 10\n  dateext\n  dateformat -%s\n  compress",
    }[style]
    conf = tmp_path / "logrotate.conf"
    conf.write_text(f"{log} {{\n  {options}\n  missingok\n}}\n", encoding="utf-8")
    conf.chmod(0o644)
    state = tmp_path / "logrotate.state"

    def rotate() -> None:
        subprocess.run([LOGROTATE, "-f", "-s", str(state), str(conf)], check=True, capture_output=True, timeout=60)
        if style == "create-dateext":
            time.sleep(1.1)  # dateformat -%s: one rotation per second, or the names collide

    con = connect(":memory:")
    written: list[str] = []
    n = 0

    def write(k: int) -> None:
        nonlocal n
        written.extend(_append(log, n, k, seed=1300))
        n += k

    write(40)
    collect_oplogs(con, [logs], CFG)  # read the live file, then it rotates with more lines in it
    write(25)
    rotate()
    write(10)
    collect_oplogs(con, [logs], CFG)
    rotate()  # the .1 of the last rotation is renamed/compressed now
    write(30)
    rotate()
    collect_oplogs(con, [logs], CFG)
    write(5)
    rotate()
    write(7)
    r = collect_oplogs(con, [logs], CFG)
    assert r.rows_quarantined == 0
    names = sorted(p.name for p in logs.iterdir())
    assert len(names) >= 4, names  # the rotated files are there, under logrotate's names
    ids = _ids(con)
    assert len(ids) == len(set(ids)), "an event was loaded twice"
    assert set(ids) == set(written) and len(ids) == 117, f"{len(set(written) - set(ids))} events lost ({names})"
    assert con.execute("SELECT count(*) FROM raw_quarantine").fetchone()[0] == 0
    again = collect_oplogs(con, [logs], CFG)
    assert (again.rows_loaded, again.rows_duplicate, again.rows_quarantined, again.bytes_read) == (0, 0, 0, 0)


def test_file_replaced_in_place_with_the_same_size_head_and_mtime_is_read_again(tmp_path):
    """Issue 12 #21: another log written over the file in place (same inode), with the same size, the same first
    4 KiB and even the same mtime: its different events load (they were skipped: the identity was size + head)."""
    log = tmp_path / "oplog.jsonl"
    lines = [dumps(valid_event(i, 1400)) for i in range(50)]
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    con = connect(":memory:")
    assert collect_oplogs(con, [log], CFG).rows_loaded == 50
    st = log.stat()
    # The same lines up to well past 4 KiB, then events with other ids of the same length.
    head = len("\n".join(lines[:20])) + 1
    assert head > 4096
    other = lines[:20] + [line.replace(valid_event(i, 1400)["event_id"], valid_event(i, 1401)["event_id"])
                          for i, line in zip(range(20, 50), lines[20:], strict=True)]
    data = ("\n".join(other) + "\n").encode()
    assert len(data) == st.st_size and data[:4096] == log.read_bytes()[:4096]
    with log.open("r+b") as fh:  # in place: same inode
        fh.write(data)
    os.utime(log, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (log.stat().st_ino, log.stat().st_size, log.stat().st_mtime_ns) == (st.st_ino, st.st_size, st.st_mtime_ns)
    r = collect_oplogs(con, [log], CFG)
    assert (r.rows_loaded, r.rows_duplicate, r.rows_quarantined) == (30, 20, 0)
    assert [m for m in r.messages if "rotated or replaced" in m], r.messages
    assert con.execute("SELECT count(DISTINCT event_id) FROM raw_op_events").fetchone()[0] == 80


def test_rotated_gzip_copy_of_a_log_with_bad_lines_quarantines_each_line_once(tmp_path):
    """Issue 12 #21: a log with 3 bad lines, then its rotated .gz copy (it gave 6 quarantine rows): still 3. Even
    with every checkpoint lost, a line read again under any name is a duplicate, never a second quarantine row."""
    log = tmp_path / "oplog.jsonl"
    lines = [dumps(e) for e in iter_events(30, seed=1500)]
    for at in (5, 17, 29):
        lines[at] = lines[at][: len(lines[at]) // 2]  # cut in half: invalid JSON
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    con = connect(":memory:")
    first = collect_oplogs(con, [tmp_path], CFG)
    assert (first.rows_loaded, first.rows_quarantined) == (27, 3)
    _sh("cp oplog.jsonl oplog.jsonl.1 && gzip oplog.jsonl.1", tmp_path)
    r = collect_oplogs(con, [tmp_path], CFG)
    assert (r.rows_loaded, r.rows_duplicate, r.rows_quarantined) == (0, 0, 0)
    con.execute("DELETE FROM raw_ingest_checkpoints")  # oplog.jsonl is read again (30 duplicates, 3 of them lines
    r = collect_oplogs(con, [tmp_path], CFG)          # quarantined before); its copy continues that: nothing more
    assert (r.rows_loaded, r.rows_duplicate, r.rows_quarantined) == (0, 30, 0)
    con.execute("DELETE FROM raw_ingest_checkpoints")
    r = collect_oplogs(con, [tmp_path / "oplog.jsonl.1.gz"], CFG)  # the copy alone, first
    assert (r.rows_loaded, r.rows_duplicate, r.rows_quarantined) == (0, 30, 0)
    assert con.execute("SELECT source_line FROM raw_quarantine ORDER BY 1").fetchall() == [(6,), (18,), (30,)]
