"""Op-log collector: exact rows, incremental and idempotent loads, quarantine reasons, formats, rotation, lock."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import threading
import time
from contextlib import closing
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pytest

from memlens import backend
from memlens.collectors import logfiles, oplog
from memlens.collectors.base import WarehouseLocked, writer_lock
from memlens.collectors.logfiles import LineReader
from memlens.collectors.oplog import OplogLoader, collect_oplogs
from memlens.config import default_config, load_config
from memlens.warehouse import connect

CFG = default_config()


def ev(n: int, **over) -> dict:
    e = {"schema_version": 1, "event_id": f"ev-{n:04d}", "ts": "2026-11-20T10:00:00Z", "service": "svc",
         "mode": "oss", "call_mode": "sync", "op": "search", "latency_ms": 10.0 + n, "status": "ok"}
    e.update(over)
    return e


def write_lines(path: Path, lines: list[str | dict], tail: str = "") -> Path:
    text = "".join((json.dumps(x) if isinstance(x, dict) else x) + "\n" for x in lines) + tail
    path.write_text(text, encoding="utf-8")
    return path


def rows(con, sql: str, params=None) -> list[tuple]:
    return con.execute(sql, params or []).fetchall()


def snapshot(con) -> tuple:
    """Everything a collection writes, except run bookkeeping and wall-clock columns."""
    return (rows(con, "SELECT * EXCLUDE (ingested_at) FROM raw_op_events ORDER BY source_file, source_line"),
            rows(con, "SELECT * EXCLUDE (quarantined_at) FROM raw_quarantine ORDER BY source_file, source_line"),
            rows(con, "SELECT * EXCLUDE (updated_at) FROM raw_ingest_checkpoints ORDER BY source_file"))


@pytest.mark.both_engines
def test_hand_built_log_gives_exact_rows(con, tmp_path):
    log = write_lines(tmp_path / "a.jsonl", [
        ev(1, user_id="u1", limit=5, top_k=5, filter_keys=["user_id"], rerank=False, threshold=0.3, result_count=2,
           result_ids=["m1", "m2"], top_score=0.91, query_hash="ab" * 16, cache="miss",
           embedding_model="text-embedding-3-small", embedding_calls=1, embedding_tokens=7),
        ev(2, op="add", ts="2026-11-20T12:30:00.250+02:00", latency_ms=120, message_count=2, infer=True,
           memories_created=1, llm_model="gpt-4o-mini", llm_input_tokens=300, llm_output_tokens=40, demo=True),
        ev(3, op="get", status="error", error_type="NotFoundError", memory_id="m9", call_mode="async",
           mode="platform", unknown_future_field={"x": 1}),
    ])
    r = collect_oplogs(con, [tmp_path], CFG)
    assert (r.files_seen, r.rows_loaded, r.rows_duplicate, r.rows_quarantined) == (1, 3, 0, 0)
    assert r.bytes_read == log.stat().st_size
    got = rows(con, 'SELECT event_id, ts, op, mode, call_mode, user_id, latency_ms, status, error_type, memory_id, '
                    '"limit", top_k, filter_keys, rerank, threshold, result_count, result_ids, top_score, cache, '
                    'embedding_tokens, message_count, infer, memories_created, llm_model, llm_input_tokens, '
                    'llm_output_tokens, demo, source_file, source_line FROM raw_op_events ORDER BY source_line')
    src = str(log.resolve())
    if backend.dialect(con) == "clickhouse":  # ClickHouse has no NULL arrays: an absent list reads as []
        got = [tuple(None if v == [] else v for v in row) for row in got]
    assert got == [
        ("ev-0001", datetime(2026, 11, 20, 10, 0), "search", "oss", "sync", "u1", 11.0, "ok", None, None,
         5, 5, ["user_id"], False, 0.3, 2, ["m1", "m2"], 0.91, "miss", 7, None, None, None, None, None, None,
         None, src, 1),
        ("ev-0002", datetime(2026, 11, 20, 10, 30, 0, 250000), "add", "oss", "sync", None, 120.0, "ok", None, None,
         None, None, None, None, None, None, None, None, None, None, 2, True, 1, "gpt-4o-mini", 300, 40, True,
         src, 2),
        ("ev-0003", datetime(2026, 11, 20, 10, 0), "get", "platform", "async", None, 13.0, "error",
         "NotFoundError", "m9", None, None, None, None, None, None, None, None, None, None, None, None, None, None,
         None, None, None, src, 3),
    ]
    assert rows(con, "SELECT source, files_seen, rows_loaded, rows_duplicate, rows_quarantined, status "
                     "FROM raw_ingest_runs") == [("oplog", 1, 3, 0, 0, "ok")]
    assert rows(con, "SELECT byte_offset, line_no FROM raw_ingest_checkpoints") == [(log.stat().st_size, 3)]


@pytest.mark.both_engines
def test_same_files_twice_change_nothing(con, tmp_path):
    write_lines(tmp_path / "a.jsonl", [ev(1), ev(2), "{broken"])
    (tmp_path / "sub").mkdir()
    write_lines(tmp_path / "sub" / "b.jsonl", [ev(3)])
    first = collect_oplogs(con, [tmp_path], CFG)
    before = snapshot(con)
    second = collect_oplogs(con, [tmp_path], CFG)
    assert (first.rows_loaded, first.rows_quarantined) == (3, 1)
    assert (second.rows_loaded, second.rows_duplicate, second.rows_quarantined, second.bytes_read) == (0, 0, 0, 0)
    assert snapshot(con) == before
    # Forgetting every checkpoint and reading it all again still adds no event (idempotent by event_id) and
    # quarantines no line twice (by line_key): all four lines are duplicates.
    con.execute("DELETE FROM raw_ingest_checkpoints")
    third = collect_oplogs(con, [tmp_path], CFG)
    assert (third.rows_loaded, third.rows_duplicate, third.rows_quarantined) == (0, 4, 0)
    assert rows(con, "SELECT count(*), count(DISTINCT event_id) FROM raw_op_events") == [(3, 3)]
    assert rows(con, "SELECT count(*) FROM raw_quarantine") == [(1,)]


@pytest.mark.both_engines
def test_appended_lines_and_partial_last_line(con, tmp_path):
    log = write_lines(tmp_path / "a.jsonl", [ev(1), ev(2)], tail='{"schema_version": 1, "event_id": "ev-00')
    r1 = collect_oplogs(con, [log], CFG)
    assert (r1.rows_loaded, r1.rows_quarantined) == (2, 0)  # the half-written line waits
    consumed = rows(con, "SELECT byte_offset FROM raw_ingest_checkpoints")[0][0]
    assert consumed == log.stat().st_size - len('{"schema_version": 1, "event_id": "ev-00')
    # The writer finishes the line and appends two more.
    full = log.read_text()
    log.write_text(full[: consumed] + json.dumps(ev(3)) + "\n" + json.dumps(ev(4)) + "\n" + json.dumps(ev(5)) + "\n")
    r2 = collect_oplogs(con, [log], CFG)
    assert (r2.rows_loaded, r2.rows_duplicate, r2.rows_quarantined) == (3, 0, 0)
    assert r2.bytes_read == log.stat().st_size - consumed
    assert rows(con, "SELECT event_id, source_line FROM raw_op_events ORDER BY source_line") == [
        ("ev-0001", 1), ("ev-0002", 2), ("ev-0003", 3), ("ev-0004", 4), ("ev-0005", 5)]


CORRUPT = [
    (ev(1), None),
    ('{"schema_version": 1, "event_id": "ev-0099", "ts": "2026-11-2', "invalid JSON (truncated or malformed line)"),
    (ev(2, latency_ms="12"), "latency_ms: expected number, got varchar"),
    ({k: v for k, v in ev(3).items() if k != "op"}, "missing required field op"),
    ("\x00\x01\x02garbage\x7f{{", "invalid JSON (truncated or malformed line)"),
    (b'{"schema_version": 1, "event_id": "\xff\xfe"}', "invalid UTF-8 at byte 36 of the line"),
    ('{"schema_version": 1, "event_id": "ev-0004", "ts": "2026-11-20T10:00:00Z", "service": "svc", "mode": "oss", '
     '"call_mode": "sync", "op": "search", "latency_ms": NaN, "status": "ok"}', "latency_ms: not a finite number"),
    (ev(5, latency_ms=-3.5), "latency_ms: negative (-3.5)"),
    (ev(6, latency_ms=9e9), "latency_ms: 9000000000.0 is not below collector.max_latency_ms 3600000.0"),
    (ev(7, op="teleport"), 'op: unknown value "teleport" (expected one of add, search, get, get_all, update, '
                           'delete, delete_all, history)'),
    (ev(8, schema_version=4, new_v4_field=1), "schema_version 4 not supported (this collector reads 1..3)"),
    (ev(1, latency_ms=999.0), "duplicate event_id with different content (first seen at line 1)"),
    (ev(1), "DUP"),  # identical repeat: a duplicate, neither loaded twice nor quarantined
    (ev(9, ts="2999-01-01T00:00:00Z"), "ts: 2999-01-01T00:00:00 is in the future"),
    (ev(10, ts="yesterday"), 'ts: not an ISO 8601 timestamp ("yesterday")'),
    (ev(21, ts="1900-01-01T00:00:00Z"), "ts: 1900-01-01T00:00:00 is before collector.min_ts 2020-01-01"),
    (ev(11, user_id={"nested": 1}), "user_id: expected string, got object"),
    (ev(12, result_count=-1), "result_count: negative (-1)"),
    (ev(13, filter_keys="user_id"), "filter_keys: expected array of strings, got varchar"),
    (ev(14, rerank="yes"), "rerank: expected boolean, got varchar"),
    (ev(15, cache="maybe"), 'cache: unknown value "maybe" (expected one of hit, miss, bypass)'),
    ("[1, 2, 3]", "not a JSON object (got array)"),
    ("", None),  # blank lines are skipped, not records
    (ev(16, top_k=1.5), "top_k: expected integer, got double"),
    (ev(18, embedding_tokens=2**40), 'embedding_tokens: not readable as integer (ubigint "1099511627776")'),
    (ev(19, schema_version="1"), "schema_version: expected integer, got varchar"),
    (ev(22, extra_future_field=[1], user_id=None), None),  # unknown keys and explicit nulls are fine
    (ev(20, latency_ms=1e999), "latency_ms: not a finite number (inf)"),
    (ev(23, schema_version=2, embedding_ms=-0.5), "embedding_ms: negative (-0.5)"),
    (ev(24, schema_version=2, vector_search_ms="fast"), "vector_search_ms: expected number, got varchar"),
    (ev(25, schema_version=2, embedding_ms=6.25, vector_search_ms=2.5, history_ms=None), None),  # v2 phases load
    (ev(17), None),
]


@pytest.mark.both_engines
def test_corrupt_log_loads_good_lines_and_quarantines_each_bad_one(con, tmp_path):
    log = tmp_path / "corrupt.jsonl"
    with log.open("wb") as f:
        for item, _ in CORRUPT:
            raw = item if isinstance(item, bytes) else (json.dumps(item) if isinstance(item, dict) else item).encode()
            f.write(raw + b"\n")
    r = collect_oplogs(con, [log], CFG)
    good = [i + 1 for i, (_, why) in enumerate(CORRUPT) if why is None and CORRUPT[i][0] != ""]
    bad = {i + 1: why for i, (_, why) in enumerate(CORRUPT) if why not in (None, "DUP")}
    assert rows(con, "SELECT source_line FROM raw_op_events ORDER BY 1") == [(n,) for n in good]
    got = dict(rows(con, "SELECT source_line, reason FROM raw_quarantine"))
    assert set(got) == set(bad)
    for line, why in bad.items():
        assert got[line].startswith(why), (line, got[line], why)
    assert (r.rows_loaded, r.rows_duplicate, r.rows_quarantined) == (len(good), 1, len(bad))
    assert rows(con, "SELECT DISTINCT source, source_file FROM raw_quarantine") == [("oplog", str(log.resolve()))]
    assert max(len(e) for (e,) in rows(con, "SELECT excerpt FROM raw_quarantine")) <= 200


@pytest.mark.both_engines
def test_duplicate_with_different_content_across_runs(con, tmp_path):
    write_lines(tmp_path / "a.jsonl", [ev(1)])
    collect_oplogs(con, [tmp_path], CFG)
    b = write_lines(tmp_path / "b.jsonl", [ev(1, latency_ms=55.0), ev(1), ev(2)])
    r = collect_oplogs(con, [b], CFG)
    assert (r.rows_loaded, r.rows_duplicate, r.rows_quarantined) == (1, 1, 1)
    assert rows(con, "SELECT source_line, reason FROM raw_quarantine") == [
        (1, f"duplicate event_id with different content (already loaded from {(tmp_path / 'a.jsonl').resolve()} "
            "line 1)")]
    assert rows(con, "SELECT latency_ms FROM raw_op_events WHERE event_id = 'ev-0001'") == [(11.0,)]


@pytest.mark.both_engines
def test_secrets_are_redacted_from_excerpts(con, tmp_path):
    key = "sk-proj-" + "A1b2C3d4E5f6G7h8J9k0" * 2
    log = write_lines(tmp_path / "a.jsonl", [
        f'{{"event_id": "x", "note": "{key}", "auth": "Authorization: Bearer m0-SECRETSECRET123"',
        ev(1, op=key)])
    collect_oplogs(con, [log], CFG)
    stored = rows(con, "SELECT reason || excerpt FROM raw_quarantine")
    assert len(stored) == 2
    for (text,) in stored:
        assert "A1b2C3d4" not in text and "SECRETSECRET" not in text and "[REDACTED]" in text


def test_gzip_input_unchanged_rerun_and_truncated_stream(con, tmp_path):
    gz = tmp_path / "a.jsonl.gz"
    with gzip.open(gz, "wt", encoding="utf-8") as f:
        f.write("\n".join(json.dumps(ev(i)) for i in range(1, 5)) + "\n" + json.dumps(ev(5)))  # no final newline
    r = collect_oplogs(con, [gz], CFG)
    assert (r.rows_loaded, r.rows_quarantined) == (5, 0)
    assert collect_oplogs(con, [gz], CFG).bytes_read == 0  # unchanged size and mtime: not even opened

    # Corrupt compressed data (not a stream that merely ends early): the lines before it load, the rest is
    # quarantined once with the reason, and the same file is not re-reported.
    bad = tmp_path / "corrupt.jsonl.gz"
    blob = gzip.compress("".join(json.dumps(ev(100 + i)) + "\n" for i in range(400)).encode())
    bad.write_bytes(blob + gzip.compress(b"x" * 100)[:40] + b"this is not gzip data\n")  # a member, then damage
    r = collect_oplogs(con, [bad], CFG)
    loaded = rows(con, "SELECT count(*), max(source_line) FROM raw_op_events WHERE source_file = ?",
                  [str(bad.resolve())])[0]
    assert loaded == (400, 400)
    q = rows(con, "SELECT source_line, reason FROM raw_quarantine WHERE source_file = ?", [str(bad.resolve())])
    assert len(q) == 1 and q[0][0] == 401
    assert q[0][1].startswith("compressed data is corrupt (error: Error -3"), q
    assert r.rows_loaded == loaded[0] and r.rows_quarantined == 1
    assert collect_oplogs(con, [bad], CFG).rows_quarantined == 0  # the same broken file is not re-reported


def test_gzip_still_being_written_is_read_like_a_growing_plain_file(con, tmp_path):
    """Issue 12 #5: a .jsonl.gz collected when 60 % of it is written: the complete lines load, the cut line waits
    (no quarantine row, no "unreadable" message); when the file is complete every line loads once, with the right
    line numbers."""
    gz = tmp_path / "live.jsonl.gz"
    body = "".join(json.dumps(ev(100 + i)) + "\n" for i in range(400)).encode()
    blob = gzip.compress(body)
    gz.write_bytes(blob[: len(blob) * 6 // 10])
    r = collect_oplogs(con, [gz], CFG)
    first = r.rows_loaded
    assert 0 < first < 400 and (r.rows_quarantined, r.rows_duplicate) == (0, 0)
    assert [m for m in r.messages if "ends early" in m and "still being written" in m], r.messages
    assert rows(con, "SELECT count(*) FROM raw_quarantine") == [(0,)]
    gz.write_bytes(blob)  # the writer finishes (same file, same inode)
    r = collect_oplogs(con, [gz], CFG)
    assert (r.rows_loaded, r.rows_duplicate, r.rows_quarantined) == (400 - first, 0, 0)
    assert rows(con, "SELECT count(*), min(source_line), max(source_line), count(DISTINCT source_line) "
                     "FROM raw_op_events") == [(400, 1, 400, 400)]
    assert rows(con, "SELECT count(*) FROM raw_op_events WHERE event_id <> printf('ev-%04d', 99 + source_line)") == [
        (0,)]


def test_gzip_resumes_by_consumed_lines_when_rewritten_with_more(con, tmp_path):
    gz = tmp_path / "a.log.gz"
    gz.write_bytes(gzip.compress("".join(json.dumps(ev(i)) + "\n" for i in range(1, 4)).encode()))
    collect_oplogs(con, [gz], CFG)
    with gz.open("ab") as f:  # a second gzip member appended: the file grows, the first lines are not re-parsed
        f.write(gzip.compress((json.dumps(ev(4)) + "\n").encode()))
    r = collect_oplogs(con, [gz], CFG)
    assert (r.rows_loaded, r.rows_duplicate) == (1, 0)
    assert rows(con, "SELECT event_id, source_line FROM raw_op_events WHERE event_id = 'ev-0004'") == [("ev-0004", 4)]


def test_parquet_input_loaded_once_with_validation(con, tmp_path):
    pq = tmp_path / "events.parquet"
    con.execute("""COPY (SELECT * FROM (VALUES
        (1, 'p-1', TIMESTAMP '2026-11-21 08:00:00.5', 'svc', 'oss', 'sync', 'search', 42.5, 'ok', ['user_id']),
        (1, 'p-2', TIMESTAMP '2026-11-21 09:00:00', 'svc', 'oss', 'sync', 'nap', 1.0, 'ok', NULL),
        (1, 'p-3', TIMESTAMP '2026-11-21 10:00:00', 'svc', 'platform', 'async', 'add', 3.0, 'ok', [])
        ) t(schema_version, event_id, ts, service, mode, call_mode, op, latency_ms, status, filter_keys))
        TO '""" + str(pq).replace("'", "''") + "' (FORMAT parquet)")
    r = collect_oplogs(con, [pq], CFG)
    assert (r.rows_loaded, r.rows_quarantined) == (2, 1)
    assert rows(con, "SELECT event_id, ts, latency_ms, filter_keys, source_line FROM raw_op_events ORDER BY 1") == [
        ("p-1", datetime(2026, 11, 21, 8, 0, 0, 500000), 42.5, ["user_id"], 1),
        ("p-3", datetime(2026, 11, 21, 10, 0), 3.0, [], 3)]
    assert rows(con, "SELECT source_line, reason FROM raw_quarantine") == [
        (2, 'op: unknown value "nap" (expected one of add, search, get, get_all, update, delete, delete_all, '
            'history)')]
    assert collect_oplogs(con, [pq], CFG).files_seen == 1
    assert rows(con, "SELECT count(*) FROM raw_op_events") == [(2,)]

    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 this is not parquet")
    r = collect_oplogs(con, [broken], CFG)
    q = rows(con, "SELECT source_line, reason FROM raw_quarantine WHERE source_file = ?", [str(broken.resolve())])
    assert r.rows_quarantined == 1 and q[0][0] == 0 and q[0][1].startswith("unreadable Parquet file")


def test_rotated_file_restarts_from_zero(con, tmp_path):
    log = write_lines(tmp_path / "app.jsonl", [ev(1), ev(2), ev(3)])
    collect_oplogs(con, [log], CFG)
    old_inode = log.stat().st_ino
    log.rename(tmp_path / "app.jsonl.1")  # logrotate: move away, start a new file with the same name
    write_lines(tmp_path / "app.jsonl", [ev(4), ev(5)])
    assert log.stat().st_ino != old_inode
    r = collect_oplogs(con, [log], CFG)
    assert (r.rows_loaded, r.rows_duplicate, r.rows_quarantined) == (2, 0, 0)
    assert any("rotated or replaced" in m for m in r.messages)
    assert rows(con, "SELECT event_id, source_line FROM raw_op_events WHERE event_id IN ('ev-0004', 'ev-0005') "
                     "ORDER BY 1") == [("ev-0004", 1), ("ev-0005", 2)]


def test_truncated_in_place_restarts_from_zero(con, tmp_path):
    log = write_lines(tmp_path / "app.jsonl", [ev(1), ev(2), ev(3)])
    collect_oplogs(con, [log], CFG)
    with log.open("r+") as f:  # copytruncate rotation: same inode, emptied, then written again
        f.truncate(0)
    with log.open("a") as f:
        f.write(json.dumps(ev(6)) + "\n")
    r = collect_oplogs(con, [log], CFG)
    assert (r.rows_loaded, r.rows_duplicate) == (1, 0)


def test_line_size_limit_and_small_batches(tmp_path):
    cfg = load_config(overrides={"collector": {"max_line_bytes": 300, "read_bytes": 1000, "batch_lines": 2}})
    con = connect(":memory:", cfg)
    huge = json.dumps(ev(50, tag="x" * 5000))
    log = write_lines(tmp_path / "a.jsonl", [ev(1), ev(2), huge, ev(3), json.dumps(ev(51, tag="y" * 400)), ev(4)])
    r = collect_oplogs(con, [log], cfg)
    assert (r.rows_loaded, r.rows_quarantined) == (4, 2)
    q = rows(con, "SELECT source_line, reason FROM raw_quarantine ORDER BY 1")
    assert q == [(3, f"line is {len(huge):,} bytes, over collector.max_line_bytes 300"),
                 (5, f"line is {len(json.dumps(ev(51, tag='y' * 400))):,} bytes, over collector.max_line_bytes 300")]
    assert rows(con, "SELECT event_id, source_line FROM raw_op_events ORDER BY 2") == [
        ("ev-0001", 1), ("ev-0002", 2), ("ev-0003", 4), ("ev-0004", 6)]
    assert rows(con, "SELECT byte_offset, line_no FROM raw_ingest_checkpoints") == [(log.stat().st_size, 6)]



@pytest.mark.parametrize(("read_bytes", "sizes"), [(1000, [3, 3, 3, 1]), (35, [3, 1, 3, 1, 2])])
def test_batches_hold_whole_batch_lines_across_reads(monkeypatch, read_bytes, sizes):
    """Reads of 25 bytes deliver 2-3 lines each; batches still hold batch_lines (3) lines, the rest waiting for
    the next read, unless the lines held reach read_bytes (then all of them go) or the stream ends. Offsets and
    line numbers stay exact; the partial last line is left."""

    monkeypatch.setattr(logfiles, "READ_CHUNK_BYTES", 25)
    data = b"".join(b'{"n":%05d}\n' % i for i in range(1, 11)) + b'{"n":'  # ten 12-byte lines + a partial one
    reader = LineReader(io.BytesIO(data), 0, 0, read_bytes, 20, 3, tail_is_line=False)
    batches = list(reader.batches())
    assert [b.end_line - b.first_line + 1 for b in batches] == sizes
    assert b"".join(b.data for b in batches) == data[:120]
    assert all(b.end_offset == 12 * b.end_line for b in batches)
    assert [b.first_line for b in batches[1:]] == [b.end_line + 1 for b in batches[:-1]]
    assert (reader.offset, reader.line_no, reader.tail) == (120, 10, b'{"n":')


def test_read_ahead_keeps_order_makes_one_item_ahead_and_passes_errors_on():
    made, seen = [], []

    def items():
        for i in range(5):
            made.append(i)
            yield i
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        for x in oplog.read_ahead(items()):
            time.sleep(0.02)  # the worker runs ahead as far as it may
            assert len(made) <= len(seen) + 2  # the item in hand and the next one, no more
            seen.append(x)
    assert seen == [0, 1, 2, 3, 4]


def test_read_ahead_worker_stops_with_the_caller():
    made = []

    def items():
        for i in range(100):
            made.append(i)
            yield i

    with closing(oplog.read_ahead(items())) as ready:
        for x in ready:
            if x == 2:
                break
    assert made in ([0, 1, 2], [0, 1, 2, 3])  # the one in hand and at most the next
    assert not any(t.name == "oplog-read-ahead" for t in threading.enumerate())

def test_failed_batch_rolls_back_and_rerun_matches_clean_run(tmp_path, monkeypatch):
    cfg = load_config(overrides={"collector": {"batch_lines": 3}})
    write_lines(tmp_path / "a.jsonl", [ev(i) for i in range(1, 11)] + ["{bad"])
    clean = connect(":memory:", cfg)
    collect_oplogs(clean, [tmp_path], cfg)

    con = connect(":memory:", cfg)
    real_commit, calls = OplogLoader.commit, []

    def crash_on_third(self, *a, **kw):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt("simulated kill")
        return real_commit(self, *a, **kw)

    monkeypatch.setattr(OplogLoader, "commit", crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        collect_oplogs(con, [tmp_path], cfg)
    assert rows(con, "SELECT count(*) FROM raw_op_events") == [(6,)]  # two committed batches, checkpoint with them
    assert rows(con, "SELECT line_no FROM raw_ingest_checkpoints") == [(6,)]
    assert rows(con, "SELECT status, rows_loaded FROM raw_ingest_runs") == [("interrupted", 6)]
    monkeypatch.setattr(OplogLoader, "commit", real_commit)
    collect_oplogs(con, [tmp_path], cfg)
    assert snapshot(con) == snapshot(clean)


def test_progress_callable_reaches_total(con, tmp_path):
    write_lines(tmp_path / "a.jsonl", [ev(1), ev(2)])
    gz = tmp_path / "b.jsonl.gz"
    gz.write_bytes(gzip.compress((json.dumps(ev(3)) + "\n").encode()))
    seen: list[tuple[int, int, str]] = []
    collect_oplogs(con, [tmp_path], CFG, progress=lambda d, t, f: seen.append((d, t, f)))
    total = (tmp_path / "a.jsonl").stat().st_size + gz.stat().st_size
    assert seen[-1][0] == seen[-1][1] == total
    assert {f for _, _, f in seen} == {str((tmp_path / "a.jsonl").resolve()), str(gz.resolve())}


def test_second_collection_fails_fast_naming_the_lock_holder(tmp_path):
    db = tmp_path / "wh.duckdb"
    log = write_lines(tmp_path / "a.jsonl", [ev(1)])
    con = connect(db)
    # Held by another thread of this process (the same thread re-enters its own lock, by design).
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with writer_lock(db, "test holder"):
            held.set()
            release.wait(30)

    holder_thread = threading.Thread(target=hold)
    holder_thread.start()
    try:
        assert held.wait(10)
        with pytest.raises(WarehouseLocked, match=rf"locked by another collection \(pid {os.getpid()}, test holder"):
            collect_oplogs(con, [log], CFG)
    finally:
        release.set()
        holder_thread.join()
    assert rows(con, "SELECT count(*) FROM raw_op_events") == [(0,)]
    # Held by another process.
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; from collectors.base import writer_lock\n"
         f"with writer_lock(Path({str(db)!r}), 'other process'):\n print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parent.parent)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(WarehouseLocked, match=rf"pid {holder.pid}, other process"):
            collect_oplogs(con, [log], CFG)
    finally:
        holder.kill()
        holder.wait()
    assert collect_oplogs(con, [log], CFG).rows_loaded == 1  # lock released with its holder
    con.close()


def test_missing_path_is_a_clear_error(con, tmp_path):
    from memlens.collectors.base import CollectorError

    with pytest.raises(CollectorError, match=r"nope\.jsonl: no such file or folder"):
        collect_oplogs(con, [tmp_path / "nope.jsonl"], CFG)


def test_small_files_share_transactions(tmp_path, monkeypatch):
    """Issue 12 #12: 2,000 files of 3 lines were 2,000 commits (~100 ms each, holding the writer lock); they now
    share transactions of up to collector.batch_lines lines: here 2 (batch_lines 5,000: 1,666 files, then the
    other 334), each with its files' checkpoints. A failure in the second rolls back only that one; the rerun
    completes, equal to a clean run."""
    cfg = load_config(overrides={"collector": {"batch_lines": 5000}})
    (tmp_path / "logs").mkdir()
    for f in range(2000):
        write_lines(tmp_path / "logs" / f"oplog-{f:04d}.jsonl", [ev(3 * f + k) for k in range(3)])
    clean = connect(":memory:", cfg)
    assert collect_oplogs(clean, [tmp_path / "logs"], cfg).rows_loaded == 6000
    real_commit, calls = OplogLoader.commit, []

    def counting(self, parts):
        calls.append(len({p.key for p in parts}))
        if len(calls) == 2 and fail:
            raise KeyboardInterrupt("simulated kill")
        return real_commit(self, parts)

    monkeypatch.setattr(OplogLoader, "commit", counting)
    fail = True
    con = connect(":memory:", cfg)
    with pytest.raises(KeyboardInterrupt):
        collect_oplogs(con, [tmp_path / "logs"], cfg)
    assert calls == [1666, 334] and rows(con, "SELECT count(*) FROM raw_op_events") == [(4998,)]
    assert rows(con, "SELECT count(*), sum(line_no) FROM raw_ingest_checkpoints") == [(1666, 4998)]
    fail, calls[:] = False, []
    r = collect_oplogs(con, [tmp_path / "logs"], cfg)
    assert r.rows_loaded == 1002 and calls == [334]
    assert snapshot(con) == snapshot(clean)


def test_parquet_is_read_in_parts_within_read_bytes(tmp_path, monkeypatch):
    """Issue 12 #11: a Parquet file of one 60,000-row row group is validated and committed in parts of at most
    batch_lines rows / read_bytes bytes (it was read whole: 150k rows took 610 MB). Parts follow the row order, so
    a run stopped between parts resumes at the next row: equal to a clean run."""
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist([dict(ev(i), user_id=f"u{i % 50}", ts="2026-11-20T10:00:00Z") for i in range(60_000)])
    pq.write_table(table, tmp_path / "events.parquet", row_group_size=60_000)
    cfg = load_config(overrides={"collector": {"batch_lines": 20_000, "read_bytes": 4 << 20}})
    clean = connect(":memory:", cfg)
    assert collect_oplogs(clean, [tmp_path / "events.parquet"], cfg).rows_loaded == 60_000
    real_commit, sizes = OplogLoader.commit, []

    def recording(self, parts):
        sizes.append(sum(p.table.num_rows for p in parts))
        if len(sizes) == 3 and fail:
            raise KeyboardInterrupt("simulated kill")
        return real_commit(self, parts)

    monkeypatch.setattr(OplogLoader, "commit", recording)
    fail = True
    con = connect(":memory:", cfg)
    with pytest.raises(KeyboardInterrupt):
        collect_oplogs(con, [tmp_path / "events.parquet"], cfg)
    assert len(sizes) == 3 and all(0 < n <= 20_000 for n in sizes)
    committed = sizes[0] + sizes[1]
    assert rows(con, "SELECT count(*), max(source_line) FROM raw_op_events") == [(committed, committed)]
    assert rows(con, "SELECT line_no FROM raw_ingest_checkpoints") == [(committed,)]
    fail = False
    assert collect_oplogs(con, [tmp_path / "events.parquet"], cfg).rows_loaded == 60_000 - committed
    assert snapshot(con) == snapshot(clean)
    assert collect_oplogs(con, [tmp_path / "events.parquet"], cfg).files_seen == 1  # unchanged: not read again
    assert snapshot(con) == snapshot(clean)
