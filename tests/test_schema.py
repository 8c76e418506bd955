"""Schema v1 is defined once: the raw table, the docs and the CLI all follow memlens/schema.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from memlens import schema
from memlens.cli import main

ROOT = Path(__file__).resolve().parent.parent


def test_raw_table_columns_follow_the_schema(con):
    cols = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name = 'raw_op_events' ORDER BY ordinal_position"
    ).fetchall()
    assert cols[: len(schema.FIELDS)] == [(f.name, f.duckdb_type) for f in schema.FIELDS]
    assert [c for c, _ in cols[len(schema.FIELDS):]] == ["source_file", "source_line", "ingested_at"]


def test_required_fields_are_not_null_in_the_raw_table(con):
    nullable = dict(con.execute(
        "SELECT column_name, is_nullable FROM information_schema.columns WHERE table_name = 'raw_op_events'"
    ).fetchall())
    for f in schema.FIELDS:
        assert (nullable[f.name] == "NO") == f.required, f.name


def test_schema_doc_is_current():
    assert schema.markdown_table() in (ROOT / "docs" / "schema.md").read_text()


def test_cli_schema_prints_the_table(capsys):
    assert main(["schema"]) == 0
    out = capsys.readouterr().out
    assert "| `event_id` | string | yes |" in out
    assert out.count("\n| `") == len(schema.FIELDS)


def test_query_unknown_view_lists_views(capsys, tmp_path):
    assert main(["query", "no_such_view", "--warehouse", str(tmp_path / "w.duckdb")]) == 2
    assert "unknown metric or view" in capsys.readouterr().err


@pytest.fixture
def extra_field(monkeypatch):
    """memlens/schema.py with one more optional field, as a later additive schema version would add it."""
    from memlens import warehouse
    from memlens.collectors import base

    field = schema.Field("phase_probe_ms", "number", "DOUBLE", False, "A field added by a test.")
    monkeypatch.setattr(schema, "FIELDS", (*schema.FIELDS, field))
    caches = (schema.sql_snippets, base.read_sql, warehouse.layout)
    for c in caches:
        c.cache_clear()
    yield field
    monkeypatch.undo()
    for c in caches:
        c.cache_clear()


def _event(**extra) -> str:
    return json.dumps({"schema_version": 1, "event_id": extra.pop("event_id", "e1"), "ts": "2026-11-20T10:00:00Z",
                       "service": "s", "mode": "oss", "call_mode": "sync", "op": "search", "latency_ms": 5.0,
                       "status": "ok", **extra})


def test_a_field_added_to_the_schema_reaches_the_table_and_the_validation(extra_field, tmp_path):
    """The raw DDL and the collector's field lists are generated from FIELDS: one edit there is enough."""
    from memlens.collectors.oplog import collect_oplogs
    from memlens.config import default_config
    from memlens.warehouse import connect

    log = tmp_path / "a.jsonl"
    log.write_text(_event(phase_probe_ms=3.25) + "\n" + _event(event_id="e2", phase_probe_ms="slow") + "\n"
                   + _event(event_id="e3", phase_probe_ms=float("nan")).replace("NaN", "1e999") + "\n")
    con = connect(":memory:")
    result = collect_oplogs(con, [log], default_config())
    assert (result.rows_loaded, result.rows_quarantined) == (1, 2)
    assert con.execute("SELECT event_id, phase_probe_ms FROM raw_op_events").fetchall() == [("e1", 3.25)]
    assert [r for (r,) in con.execute("SELECT reason FROM raw_quarantine ORDER BY source_line").fetchall()] == [
        "phase_probe_ms: expected number, got varchar", "phase_probe_ms: not a finite number (inf)"]
    con.close()


def test_the_field_lists_are_not_written_out_by_hand():
    """The SQL that holds op events (the raw table, the collector's validation) lists no field itself: the lists
    come from {{ op_event_* }} slots."""
    from memlens.resources import read_sql, read_text

    optional = [f.name for f in schema.FIELDS if not f.required]
    texts = {"sql/raw/010_raw_op_events.sql": read_text("memlens.sql", "raw", "010_raw_op_events.sql"),
             **{name: read_sql("memlens.collectors", name) for name in ("oplog_check.sql", "oplog_fast_ok.sql",
                                                                      "oplog_reasons.sql")}}
    for name, text in texts.items():
        assert "{{ op_event_" in text, name
        code = "\n".join(line.split("--")[0] for line in text.splitlines())
        listed = [n for n in optional if re.search(rf'\b"?{n}"?\b', code)]
        assert listed == [], f"{name} names schema fields by hand: {listed}"
