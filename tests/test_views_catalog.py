"""Every view and rollup file follows the house style, and every view answers on an empty warehouse."""

from __future__ import annotations

import re

import pytest

from memlens import layer, rollups
from memlens.resources import MODELS, model_files, resource
from memlens.warehouse import connect, view_names

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
    con.execute(f"SELECT * FROM {view} LIMIT 1").fetchall()  # names from the package


def test_every_view_and_rollup_answers_on_an_empty_clickhouse_warehouse():
    """The same views, translated (memlens.chsql), on ClickHouse (chdb): each answers."""
    with connect("chdb://:memory:") as ch:
        for view in view_names():
            ch.execute(f"SELECT * FROM {view} LIMIT 1").fetchall()  # names from the package
        result = rollups.refresh(ch)
        assert all(n == 0 for n in result.rows.values()) and rollups.is_fresh(ch)


def test_rollups_refresh_on_an_empty_warehouse(con):
    result = rollups.refresh(con)
    assert set(result.rows) == {"agg_op_hourly", "agg_cost_daily", "agg_cost_user_daily", "agg_latency_hist_daily",
                                "agg_cache_lookups_hourly"}
    assert all(n == 0 for n in result.rows.values()) and rollups.is_fresh(con)
    fast = layer.Speed(rollups_fresh=True, histogram_percentiles=True)
    for name, m in layer.metrics().items():
        grain = "day" if name == "memory_growth" else None
        for speed in (layer.EXACT, fast):
            layer.query(con, name, grain=grain, speed=speed, **dict.fromkeys(m.params, 10))
    row = layer.one(layer.latency(con, speed=fast))
    assert row["ops"] == 0 and row["p95_ms"] is None and row["hit_rate"] is None
    assert layer.one(layer.query(con, "storage_growth"))["memories"] is None


@pytest.mark.parametrize("path", [p for p in resource(MODELS, "layer").iterdir() if p.name.endswith(".sql")]
                         + [p for p in resource(MODELS, "layer", "inputs").iterdir() if p.name.endswith(".sql")],
                         ids=lambda p: p.name)
def test_layer_files_name_themselves_and_say_what_they_read(path):
    text = path.read_text(encoding="utf-8")
    stem = path.name.removesuffix(".sql")
    name = stem.split("_", 1)[1] if stem[:2].isdigit() else stem
    assert text.startswith(f"-- {name}:"), f"{path.name}: first line must be '-- {name}: ...'"
    header = "\n".join(line for line in text.splitlines() if line.startswith("--"))
    assert ("-- reads:" in header or "-- provides:" in header) and "columns" in header, path.name
    body = "\n".join(line for line in text.splitlines() if not line.startswith("--"))
    assert body.lstrip().upper().startswith(("SELECT", "WITH")) and "CREATE " not in body.upper(), path.name
