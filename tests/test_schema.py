"""Schema v1 is defined once: the raw table, the docs and the CLI all follow memlens/schema.py."""

from __future__ import annotations

from pathlib import Path

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
    assert "unknown view" in capsys.readouterr().err
