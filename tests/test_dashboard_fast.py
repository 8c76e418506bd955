"""The @fast query variants (rollups, history) give the exact queries' answers; percentiles from the rollup
histograms stay within memlens.rollups.MAX_RELATIVE_ERROR; a filter the rollups lack falls back to exact."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from dashboard_fixtures import make_warehouse

from memlens import rollups
from memlens.config import load_config
from memlens.dashboard import data
from memlens.warehouse import connect

FAST_EXACT = data.Speed(rollups_fresh=True, histogram_percentiles=False)
FAST_HIST = data.Speed(rollups_fresh=True, histogram_percentiles=True)
SELECTIONS = [
    data.ALL,
    data.Filters(first_day=date(2026, 11, 16), last_day=date(2026, 11, 22)),
    data.Filters(service="batch"),
    data.Filters(op="add", agent="helper"),
    data.Filters(model="gpt-4o-mini"),
]
COMPARED = ["summary", "cost_summary", "latency_by_op", "latency_over_time", "latency_histogram", "cache_over_time",
            "cost_daily", "cost_daily_by_op", "cost_by_op", "cost_by_agent", "cost_by_model", "cost_by_user",
            "memory_growth_daily", "filter_options", "data_span"]


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    path = make_warehouse(tmp_path_factory.mktemp("fast") / "w.duckdb")
    rw = connect(path)
    rw.execute("INSERT INTO raw_memory_history VALUES ('h.db', 'h1', 'm1', 'ADD', NULL, 120, '2026-11-10', NULL, "
               "'2026-11-10', false, NULL, NULL, '2026-11-23'), ('h.db', 'h2', 'm1', 'UPDATE', 120, 80, "
               "'2026-11-12', NULL, '2026-11-12', false, NULL, NULL, '2026-11-23')")
    rollups.refresh(rw)
    rw.close()
    c = data.open_readonly(path)
    yield c
    c.close()


def _normal(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for col in out.columns:
        if col in ("bucket", "first_ts", "last_ts"):
            out[col] = pd.to_datetime(out[col])
        elif col == "day":
            out[col] = pd.to_datetime(out[col]).dt.date
    return out.reset_index(drop=True)


@pytest.mark.parametrize("filters", SELECTIONS, ids=lambda f: ",".join(sorted(f.active())) or "time/all")
@pytest.mark.parametrize("name", COMPARED)
def test_fast_variant_equals_exact(con, name, filters):
    fast = data.choose(name, filters, FAST_EXACT, {"bucket": "1 day"})
    exact = _normal(data.query(con, name, filters, data.EXACT, limit=50, bucket="1 day"))
    got = _normal(data.query(con, name, filters, FAST_EXACT, limit=50, bucket="1 day"))
    if name == "summary":  # hour-grained span in the rollups; fields the rollups do not hold are None
        for col in ("first_ts", "last_ts", "search_avg_top_k", "add_avg_messages", "add_single_message_share"):
            exact, got = exact.drop(columns=col), got.drop(columns=col)
        exact_s, got_s = data.summary_from(exact), data.summary_from(got)
        assert exact_s.keys() == got_s.keys()
        for k in exact_s:
            assert got_s[k] == pytest.approx(exact_s[k], nan_ok=True), k
        return
    assert list(got.columns) == list(exact.columns)
    pd.testing.assert_frame_equal(got, exact, check_dtype=False, check_exact=False, rtol=1e-9)
    if fast.endswith(data.FAST):
        assert filters.active() <= data.FAST_VARIANTS[fast].dims


def test_filters_the_rollups_lack_fall_back_to_exact():
    assert data.choose("summary", data.Filters(user="alice"), FAST_EXACT, {}) == "summary"
    assert data.choose("summary", data.Filters(model="m"), FAST_EXACT, {}) == "summary"
    assert data.choose("cost_summary", data.Filters(model="m"), FAST_EXACT, {}) == "cost_summary@fast"
    assert data.choose("cost_by_user", data.Filters(user="alice"), FAST_EXACT, {}) == "cost_by_user@fast"
    assert data.choose("cost_by_user", data.Filters(op="add"), FAST_EXACT, {}) == "cost_by_user"
    assert data.choose("summary", data.ALL, data.EXACT, {}) == "summary"           # rollups stale
    assert data.choose("latency_over_time", data.ALL, FAST_EXACT, {"bucket": "1 hour"}) == "latency_over_time"
    assert data.choose("memory_growth_daily", data.Filters(user="a"), data.EXACT, {}) == "memory_growth_daily"
    assert data.choose("memory_growth_daily", data.Filters(op="add"), data.EXACT, {}) == "memory_growth_daily@fast"


def test_histogram_percentiles_within_bound(con):
    exact = data.query(con, "latency_by_op", data.ALL, data.EXACT).set_index("op")
    hist = data.query(con, "latency_by_op", data.ALL, FAST_HIST).set_index("op")
    assert list(hist.index) == list(exact.index)
    for col in data.PCT_COLUMNS:
        rel = np.abs(hist[col] - exact[col]) / exact[col]
        assert (rel < rollups.MAX_RELATIVE_ERROR).all(), (col, rel.to_dict())
    s = data.summary_from(data.query(con, "summary", data.ALL, FAST_HIST))
    assert s["search_p99_ms"] == pytest.approx(300.0, rel=rollups.MAX_RELATIVE_ERROR)


def test_speed_for_reads_freshness(con):
    cfg = load_config()
    assert data.speed_for(con, 40, cfg) == data.Speed(rollups_fresh=True, histogram_percentiles=False)
    big = cfg.dashboard.exact_percentile_max_events + 1
    assert data.speed_for(con, big, cfg).histogram_percentiles


def test_empty_selection_in_the_fast_variant(con):
    s = data.summary_from(data.query(con, "summary", data.Filters(service="nope"), FAST_HIST))
    assert not s["ops"] and s["hit_rate"] is None and s["p99_ms"] is None
