"""Every view and rollup file follows the house style, and every view answers on an empty warehouse."""

from __future__ import annotations

import re

import pytest

from memlens import rollups
from memlens.resources import MODELS, model_files, resource
from memlens.warehouse import view_names

SQL_FILES = model_files("staged") + model_files("metrics") + rollups.rollup_files()


@pytest.mark.parametrize("path", SQL_FILES, ids=lambda p: p.name)
def test_header_names_the_object_its_grain_and_columns(path):
    text = path.read_text(encoding="utf-8")
    name = path.name.removesuffix(".sql").split("_", 1)[1]
    assert text.startswith(f"-- {name}:"), f"{path.name}: first line must be '-- {name}: ...'"
    header = "\n".join(line for line in text.splitlines() if line.startswith("--"))
    assert "grain" in header and "columns" in header, path.name
    assert re.search(rf"CREATE OR REPLACE (VIEW|TABLE) {name} AS", text), f"{path.name} must create {name}"


def test_rollup_files_live_in_sql_rollups():
    folder = {p.name for p in resource(MODELS, "rollups").iterdir()}
    assert rollups.rollup_files() and all(p.name in folder for p in rollups.rollup_files())


@pytest.mark.parametrize("view", view_names())
def test_every_view_answers_on_an_empty_warehouse(con, view):
    con.table(view).limit(1).fetchall()


def test_rollups_refresh_on_an_empty_warehouse(con):
    result = rollups.refresh(con)
    assert set(result.rows) == {"agg_op_hourly", "agg_cost_daily", "agg_cost_user_daily", "agg_latency_hist_daily"}
    assert all(n == 0 for n in result.rows.values()) and rollups.is_fresh(con)
    assert rollups.latency_percentiles(con).empty
    s = rollups.summary(con)
    assert s["ops"] is None and s["p95_ms"] is None and s["memories"] is None
