"""OpLogWriter: rotation under concurrent threads and asyncio tasks loses and duplicates nothing."""

from __future__ import annotations

import asyncio
import json
import re
import threading
from pathlib import Path

import pytest

from memlens.instrumentation.writer import OpLogWriter

NAME = re.compile(r"^oplog-svc-\d{8}T\d{6}-\d+-\d+\.jsonl$")


def _read_all(files: list[Path]) -> list[dict]:
    rows = []
    for f in files:
        with open(f, encoding="utf-8") as fh:
            for line in fh:
                assert line.endswith("\n")
                rows.append(json.loads(line))
    return rows


def test_rotation_under_threads_and_tasks_loses_nothing(tmp_path):
    writer = OpLogWriter(tmp_path, service="svc", rotate_bytes=4096, flush_every=7, flush_seconds=0.01)
    per_thread, per_task = 500, 40

    def thread_body(t: int) -> None:
        for i in range(per_thread):
            writer.write({"event_id": f"t{t}-{i}", "payload": "x" * (i % 50)})

    async def task_body(k: int) -> None:
        for i in range(per_task):
            writer.write({"event_id": f"a{k}-{i}", "payload": "é" * (i % 9)})  # non-ASCII: byte sizes differ
            await asyncio.sleep(0)

    async def all_tasks() -> None:
        await asyncio.gather(*(task_body(k) for k in range(50)))

    threads = [threading.Thread(target=thread_body, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    asyncio.run(all_tasks())
    for t in threads:
        t.join()
    writer.close()

    files = sorted(tmp_path.iterdir())
    assert files == sorted(writer.files)
    assert len(files) > 5, "4 KiB rotation must have produced several files"
    assert all(NAME.match(f.name) for f in files)
    for f in files[:-1]:  # a file is only closed when the next batch would overflow it
        assert f.stat().st_size <= 4096 or f.read_text().count("\n") <= 7
    ids = [r["event_id"] for r in _read_all(files)]
    expected = {f"t{t}-{i}" for t in range(8) for i in range(per_thread)} | {
        f"a{k}-{i}" for k in range(50) for i in range(per_task)}
    assert len(ids) == len(expected) == 8 * per_thread + 50 * per_task
    assert set(ids) == expected
    assert writer.events_written == len(expected)


def test_buffered_until_flush_then_close_flushes(tmp_path):
    writer = OpLogWriter(tmp_path, service="svc", flush_every=100, flush_seconds=60)
    for i in range(3):
        writer.write({"event_id": str(i)})
    assert writer.files == []  # buffered: nothing written yet
    writer.flush()
    assert [r["event_id"] for r in _read_all(writer.files)] == ["0", "1", "2"]
    writer.write({"event_id": "3"})
    writer.close()
    assert [r["event_id"] for r in _read_all(writer.files)] == ["0", "1", "2", "3"]
    with pytest.raises(ValueError, match="closed"):
        writer.write({"event_id": "4"})
    writer.close()  # idempotent


def test_timer_flushes_without_more_writes(tmp_path):
    import time

    with OpLogWriter(tmp_path, service="svc", flush_every=1000, flush_seconds=0.05) as writer:
        writer.write({"event_id": "only"})
        deadline = time.monotonic() + 5
        while not writer.files and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [r["event_id"] for r in _read_all(writer.files)] == ["only"]


def test_flushed_at_interpreter_exit(tmp_path):
    import subprocess
    import sys

    code = ("from instrumentation.writer import OpLogWriter\n"
            f"w = OpLogWriter({str(tmp_path)!r}, service='svc', flush_every=1000, flush_seconds=3600)\n"
            "for i in range(5): w.write({'event_id': str(i)})\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parent.parent)
    rows = _read_all(sorted(tmp_path.iterdir()))
    assert [r["event_id"] for r in rows] == ["0", "1", "2", "3", "4"]


def test_rejects_bad_settings(tmp_path):
    with pytest.raises(ValueError):
        OpLogWriter(tmp_path, rotate_bytes=0)


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork")
def test_forked_child_writes_its_own_events_once(tmp_path):
    # The child's daemon thread does not survive fork: the child starts its own (it writes at flush_every without
    # a flush() call) and leaves the parent's buffered events to the parent (no duplicates).
    import os
    import time

    writer = OpLogWriter(tmp_path, service="svc", flush_every=5, flush_seconds=3600)
    writer.write({"event_id": "parent-0"})
    pid = os.fork()
    if pid == 0:  # child: never returns into pytest
        try:
            for i in range(5):
                writer.write({"event_id": f"child-{i}"})
            deadline = time.monotonic() + 10
            while writer.events_written < 5 and time.monotonic() < deadline:
                time.sleep(0.01)
        finally:
            os._exit(0)  # no atexit, no flush: only what the child's thread wrote
    os.waitpid(pid, 0)
    writer.close()
    ids = sorted(r["event_id"] for r in _read_all(sorted(tmp_path.iterdir())))
    assert ids == ["child-0", "child-1", "child-2", "child-3", "child-4", "parent-0"]


class _Weird:
    def __str__(self) -> str:
        return "weird-object"


def test_lines_are_the_json_modules_compact_form(tmp_path):
    """orjson writes the lines; each must be what json.dumps(compact, non-ASCII kept) writes, and what orjson
    refuses (an int beyond 64 bits, a lone surrogate) must still become one valid line with the same value."""
    import numpy as np

    events = [
        {"event_id": "a", "ts": "2026-11-25T05:42:03.123456Z", "latency_ms": 12.3456, "top_k": 10, "rerank": False,
         "threshold": 0.1, "result_ids": ["m1", "m2"], "filter_keys": ["user_id"], "user_id": "Zoë 東京 \"q\"\n"},
        {"event_id": "b", "threshold": np.float64(0.25), "limit": _Weird(), "result_ids": ("t1", "t2"),
         "top_score": 1e-7, "latency_ms": 1234567.0},
        {"event_id": "c", "big": 2**70, "user_id": "ok"},
        {"event_id": "d", "query_text": "bad \ud800 surrogate"},
    ]
    writer = OpLogWriter(tmp_path, service="svc")
    for ev in events:
        writer.write(ev)
    writer.close()
    raw = writer.files[0].read_bytes().split(b"\n")
    assert raw[-1] == b"" and len(raw) == 5
    compact = dict(ensure_ascii=False, separators=(",", ":"), default=str)
    assert raw[0].decode("utf-8") == json.dumps(events[0], **compact)
    assert json.loads(raw[1]) == {"event_id": "b", "threshold": 0.25, "limit": "weird-object",
                                  "result_ids": ["t1", "t2"], "top_score": 1e-7, "latency_ms": 1234567.0}
    assert json.loads(raw[2]) == {"event_id": "c", "big": 2**70, "user_id": "ok"}
    assert json.loads(raw[3]) == {"event_id": "d", "query_text": "bad \ud800 surrogate"}
