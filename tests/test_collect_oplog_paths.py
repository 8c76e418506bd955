"""One definition of a valid op-log line: the batch check (collectors/sql/oplog_check.sql, one parse per line, its
fast path) and the line-by-line diagnosis (oplog_reasons.sql, the definition) give every line the same verdict and
the same reason, and the fast path's typed values are the ones DuckDB's typed reader gives the same line."""

from __future__ import annotations

import json
import math
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from oplog_strategies import BAD_FIELD_VALUES, DROP
from reliability_support import valid_event

from memlens import schema
from memlens.collectors.base import IngestResult, read_sql
from memlens.collectors.oplog import OplogLoader, check_lines
from memlens.config import default_config

CORPUS = Path(__file__).resolve().parent / "corpus"


def _mutations() -> list[str]:
    """Each field mutation of the fuzzer on one valid event, plus the JSON types a typed reader would coerce."""
    lines = []
    for i, (_, key, value) in enumerate(BAD_FIELD_VALUES):
        ev = dict(valid_event(i, 91), top_k=20, cache="miss")
        if value is DROP:
            ev.pop(key)
        else:
            ev[key] = value
        lines.append(json.dumps(ev))  # NaN and Infinity as Python writes them (not JSON)
    good = _base()
    for extra in ('"top_k": "5"', '"top_k": 1.5', '"top_k": 1.0', '"top_k": 1e3', '"top_k": true', '"top_k": -0',
                  '"top_k": 2147483648', '"top_k": -3', '"top_k": [1]', '"threshold": "0.5"', '"threshold": true',
                  '"threshold": 5', '"threshold": 1e400', '"threshold": -0.0', '"threshold": 123456789012345678901',
                  '"rerank": 1', '"rerank": "true"', '"rerank": false', '"rerank": null', '"user_id": 5',
                  '"user_id": true', '"user_id": ["a"]', '"user_id": "a\\"b\\u00e9\\\\c"', '"user_id": "\\u003a"',
                  '"tag": "[x]"', '"tag": "{x}"', '"tag": "true"', '"tag": "1.5"', '"tag": ""',
                  '"result_ids": ["a", 1]', '"result_ids": ["a", null]', '"result_ids": []', '"result_ids": {}',
                  '"filter_keys": ["user_id"]', '"unknown": 1', '"op": "search"', '"op": null', '"service": ""',
                  '"user_id": null, "agent_id": "a"', '"ts": "2026-06-01T00:00:00+02:00"', '"ts": "2026-06-01"',
                  '"ts": "2026-06-01T00:00:00\\u005a"', '"embedding_ms": -1', '"embedding_ms": "1"',
                  '"llm_cached_input_tokens": -5', '"nested": {"op": "x"}'):
        lines.append(good + ", " + extra + "}")
    lines += [good + "}", "  " + good + "}", good + "}\r", "{}", "[]", "5", '"x"', "null", good + "} x",
              good.replace('"event_id": ', '"event_id" : '), good + ', "op": "add"}']
    return lines


def _base() -> str:
    """A valid event as JSON without its closing brace, none of the fields the mutations add given."""
    mutated = {"user_id", "agent_id", "run_id", "top_k", "threshold", "rerank", "tag", "result_ids", "filter_keys",
               "embedding_ms", "llm_cached_input_tokens"}
    return json.dumps({k: v for k, v in valid_event(99, 91).items() if k not in mutated})[:-1]


def _corpus() -> list[str]:
    lines = []
    for path in sorted(CORPUS.glob("*.jsonl")):
        lines += [ln for ln in path.read_bytes().decode("utf-8", "replace").splitlines() if ln.strip()]
    return lines


def _both_paths(lines: list[str]) -> tuple[dict, dict, set, duckdb.DuckDBPyConnection]:
    """(reason per line by the batch check, reason per line by the line-by-line diagnosis of every line, the lines
    the fast path accepted, the connection holding oplog_checked)."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    loader = OplogLoader(con, default_config(), IngestResult("test", "oplog"))
    con.register("oplog_chunk", pa.table({"line_no": pa.array(range(1, len(lines) + 1), pa.int64()),
                                          "line": pa.array(lines, pa.string())}))
    check_lines(con, loader.fast_params, loader.reason_params)
    batch = dict(con.execute("SELECT line_no, reason FROM oplog_checked").fetchall())
    fast = {n for (n,) in con.execute("SELECT line_no FROM oplog_checked WHERE fast_ok").fetchall()}
    con.execute("CREATE TEMP TABLE batch_checked AS SELECT * FROM oplog_checked")
    con.execute("UPDATE oplog_checked SET fast_ok = false, reason = NULL")
    con.execute(read_sql("oplog_reasons.sql"), loader.reason_params)
    line_by_line = dict(con.execute("SELECT line_no, reason FROM oplog_checked").fetchall())
    return batch, line_by_line, fast, con


@pytest.mark.parametrize("source", ["mutations", "corpus"])
def test_batch_check_and_line_diagnosis_agree(source):
    lines = _mutations() if source == "mutations" else _corpus()
    batch, line_by_line, fast, _ = _both_paths(lines)
    assert batch == line_by_line
    assert fast and all(batch[n] is None for n in fast)  # the fast path accepts only lines the definition accepts
    bad = [n for n, r in batch.items() if r is not None]
    assert bad and len(bad) < len(batch)
    if source == "mutations":
        by_text = {lines[n - 1].removeprefix(_base()): r for n, r in batch.items()}
        # hand-checked verdicts of the values a typed reader would coerce silently
        assert by_text[', "top_k": "5"}'] == "top_k: expected integer, got varchar"
        assert by_text[', "top_k": 1.0}'] == "top_k: expected integer, got double"
        assert by_text[', "top_k": true}'] == "top_k: expected integer, got boolean"
        assert by_text[', "user_id": 5}'] == "user_id: expected string, got ubigint"
        assert by_text[', "rerank": 1}'] == "rerank: expected boolean, got ubigint"
        assert by_text[', "result_ids": {}}'] == "result_ids: expected array of strings, got object"
        assert by_text[', "op": "add"}'].startswith("duplicate key op")
        for fine in (', "top_k": -0}', ', "threshold": 5}', ', "unknown": 1}', ', "result_ids": ["a", 1]}',
                     ', "user_id": "a\\"b\\u00e9\\\\c"}', ', "user_id": null, "agent_id": "a"}', '}'):
            assert by_text[fine] is None, fine


def test_fast_path_values_are_the_typed_readers():
    """Every line the batch check loads holds, per field, what DuckDB's typed from_json reads from it."""
    lines = _mutations() + _corpus()
    _, _, _, con = _both_paths(lines)
    good = [n for (n,) in con.execute("SELECT line_no FROM batch_checked WHERE reason IS NULL").fetchall()]
    con.register("lines", pa.table({"line_no": pa.array(good, pa.int64()),
                                    "line": pa.array([lines[n - 1] for n in good], pa.string())}))
    typed = "'" + json.dumps({f.name: "VARCHAR" if f.json_type == "timestamp" else f.duckdb_type
                              for f in schema.FIELDS}) + "'"
    names = [f.name for f in schema.FIELDS if f.json_type != "timestamp"]
    ours = con.execute(f"SELECT line_no, {', '.join(f'b.{n!r}'.replace(chr(39), chr(34)) for n in names)} "
                       "FROM batch_checked b WHERE reason IS NULL ORDER BY line_no").fetchall()
    theirs = con.execute(f"SELECT line_no, {', '.join(f't.{n!r}'.replace(chr(39), chr(34)) for n in names)} "
                         f"FROM (SELECT line_no, from_json(line, {typed}) AS t FROM lines) "
                         "ORDER BY line_no").fetchall()
    assert len(ours) > 20

    def same(a: object, b: object) -> bool:
        return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))

    assert all(all(same(a, b) for a, b in zip(r1, r2, strict=True)) for r1, r2 in zip(ours, theirs, strict=True))


def _parquet(path: Path, bad_row: bool) -> Path:
    """Events as Parquet with the column types a writer may choose (BIGINT for an INTEGER field and for a number,
    TIMESTAMP WITH TIME ZONE, a list, an unknown column), an exact duplicate and a conflicting one; `bad_row`
    adds a row with a negative latency."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    bad = ", (1, 'p-bad', TIMESTAMPTZ '2026-06-02 09:00:00+00', 'svc', 'oss', 'sync', 'add', -2, 'ok', NULL, " \
          "NULL, NULL, 'x')" if bad_row else ""
    con.execute("""COPY (SELECT schema_version::BIGINT AS schema_version, event_id, ts, service, mode, call_mode, op,
            latency_ms::BIGINT AS latency_ms, status, filter_keys, top_k::BIGINT AS top_k, rerank, extra
        FROM (VALUES
        (1, 'p-1', TIMESTAMPTZ '2026-06-01 08:00:00.5+02', 'svc', 'oss', 'sync', 'search', 42, 'ok', ['user_id'],
         10, true, 'x'),
        (1, 'p-2', TIMESTAMPTZ '2026-06-01 09:00:00+00', 'svc', 'oss', 'sync', 'add', 7, 'ok', NULL, NULL, NULL, 'y'),
        (1, 'p-1', TIMESTAMPTZ '2026-06-01 08:00:00.5+02', 'svc', 'oss', 'sync', 'search', 42, 'ok', ['user_id'],
         10, true, 'x'),
        (1, 'p-2', TIMESTAMPTZ '2026-06-01 09:00:00+00', 'svc', 'oss', 'sync', 'add', 8, 'ok', NULL, NULL, NULL, 'z'),
        (2, 'p-3', TIMESTAMPTZ '2026-06-01 10:00:00+00', 'svc', 'platform', 'async', 'get', 3, 'error', [], 0,
         false, NULL)""" + bad + """
        ) t(schema_version, event_id, ts, service, mode, call_mode, op, latency_ms, status, filter_keys, top_k,
            rerank, extra)) TO '""" + str(path).replace("'", "''") + "' (FORMAT parquet)")
    con.close()
    return path


@pytest.mark.parametrize("bad_row", [False, True], ids=["all rows pass", "a row fails"])
def test_parquet_typed_rows_load_as_their_json_lines(tmp_path, monkeypatch, bad_row):
    """A Parquet file loaded through the typed check gives the same rows, quarantine and counts as its rows turned
    into JSON lines (the path every row took before); a part with a row that misses the typed check goes that way."""
    from memlens.collectors import oplog
    from memlens.warehouse import connect

    pq = _parquet(tmp_path / "events.parquet", bad_row)
    real_check, typed_ok = oplog.check_rows, []

    def spying(*args, **kwargs):
        typed_ok.append(real_check(*args, **kwargs))
        return typed_ok[-1]

    def load(typed: bool) -> tuple:
        monkeypatch.setattr(oplog, "check_rows", spying)
        if not typed:
            monkeypatch.setattr(oplog, "typed_columns", lambda con, path: None)
        con = connect(":memory:")
        r = oplog.collect_oplogs(con, [pq], default_config())
        events = con.execute("SELECT * EXCLUDE (ingested_at) FROM raw_op_events ORDER BY source_line").fetchall()
        quarantine = con.execute("SELECT * EXCLUDE (quarantined_at) FROM raw_quarantine "
                                 "ORDER BY source_line").fetchall()
        con.close()
        monkeypatch.undo()
        return (r.rows_loaded, r.rows_duplicate, r.rows_quarantined), events, quarantine

    typed = load(True)
    assert typed_ok == [not bad_row]
    assert typed == load(False)
    assert typed[0] == ((3, 1, 2) if bad_row else (3, 1, 1))
    assert [e[1] for e in typed[1]] == ["p-1", "p-2", "p-3"]
    assert typed[2][0][2].startswith("duplicate event_id with different content (first seen at line 2)")
