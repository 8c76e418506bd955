"""`memlens query` prints the metric layer's figures for a selection: the same numbers the pages show."""

from __future__ import annotations

import io

import pandas as pd
from dashboard_fixtures import make_warehouse

from memlens.cli import main


def test_query_lists_the_metrics_without_a_name(capsys, tmp_path):
    assert main(["query", "--warehouse", str(tmp_path / "w.duckdb")]) == 0
    out = capsys.readouterr().out
    for name in ("ops", "cost", "latency", "storage_growth", "cost_by_model"):
        assert f"\n  {name} " in out, name


def test_query_metric_with_filters_and_grouping(capsys, tmp_path):
    path = make_warehouse(tmp_path / "w.duckdb")
    assert main(["query", "cost", "--by", "mode", "--csv", "--warehouse", str(path)]) == 0
    cost = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert list(cost["mode"]) == ["oss"] and round(cost["cost_per_1k_searches_usd"].iloc[0], 4) == 0.1033
    # the second week only, per op: 20 searches by nobody at 300 ms, 10 adds at 100 ms
    assert main(["query", "latency", "--by", "op", "--from", "2026-11-16", "--to", "2026-11-22", "--csv",
                 "--warehouse", str(path)]) == 0
    lat = pd.read_csv(io.StringIO(capsys.readouterr().out)).set_index("op")
    assert (lat.loc["search", "ops"], lat.loc["search", "p95_ms"], lat.loc["add", "ops"]) == (20, 300.0, 10)
    assert main(["query", "ops", "--user", "alice", "--csv", "--warehouse", str(path)]) == 0
    assert pd.read_csv(io.StringIO(capsys.readouterr().out))["ops"].iloc[0] == 20


def test_query_rejects_a_key_the_metric_cannot_group_by(capsys, tmp_path):
    path = make_warehouse(tmp_path / "w.duckdb")
    assert main(["query", "storage_growth", "--by", "op", "--warehouse", str(path)]) == 2
    assert "cannot be grouped by ['op']" in capsys.readouterr().err
