"""Rollups equal the exact views on the same data; histogram percentiles stay within their error bound."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from view_support import event, insert_events

from memlens import rollups

T0 = datetime(2026, 11, 2)


@pytest.fixture(scope="module")
def filled():
    from memlens.warehouse import connect

    con = connect(":memory:")
    rng = np.random.default_rng(3)
    n = 2000
    lat = np.exp(np.log(30) + 0.8 * rng.standard_normal(n))
    ev = []
    for i in range(n):
        op = ("search", "add", "get")[i % 3]
        ev.append(event(
            T0 + timedelta(minutes=7 * i), op, float(lat[i]), service=("a", "b")[i % 2],
            mode="platform" if i % 10 == 0 else "oss", user_id=f"u{i % 7}", agent_id=("x", None)[i % 2],
            status="error" if i % 29 == 0 else "ok",
            cache=("hit", "miss", "bypass")[(i // 3) % 3] if op == "search" and i % 4 else None,
            embedding_model="text-embedding-3-small", embedding_tokens=1000 + i,
            llm_model="gpt-4o-mini" if op == "add" else None, llm_input_tokens=500 if op == "add" else None,
            llm_output_tokens=50 if op == "add" else None, top_k=5 if op == "search" else None,
            **({"limit": 3} if op == "search" and i % 5 == 0 else {})))
    insert_events(con, ev)
    rollups.refresh(con)
    yield con
    con.close()


def frame(con, sql):
    return con.execute(sql).df()


def same(a, b):
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True), check_dtype=False,
                                  check_exact=False, rtol=1e-9)


def test_refresh_state_and_freshness(con):
    insert_events(con, [event(T0, "search", embedding_model="text-embedding-3-small", embedding_tokens=10)])
    result = rollups.refresh(con)
    assert result.rows["agg_op_hourly"] == 1 and "agg_op_hourly 1" in result.summary()
    assert rollups.is_fresh(con)
    insert_events(con, [event(T0, "get")])
    assert not rollups.is_fresh(con)  # new events
    rollups.refresh(con)
    assert rollups.is_fresh(con)
    con.execute("UPDATE cfg_prices SET usd_per_1m_input = 1 WHERE model = 'text-embedding-3-small'")
    assert not rollups.is_fresh(con)  # prices changed: costs in agg_cost_daily are stale



def rollup_tables(con) -> dict[str, list[tuple]]:
    return {t: sorted(con.table(t).fetchall(), key=repr) for t in
            ("agg_op_hourly", "agg_cost_daily", "agg_cost_user_daily", "agg_latency_hist_daily")}


def test_refresh_after_appended_rows_rebuilds_only_their_days_and_equals_a_full_rebuild(con):
    def day_events(day: int, n: int, loaded: datetime) -> list[dict]:
        return [event(T0 + timedelta(days=day, hours=i), ("search", "add")[i % 2], 10.0 + 7 * i + day,
                      user_id=f"u{i % 3}", embedding_model="text-embedding-3-small", embedding_tokens=100 + i,
                      ingested_at=loaded) for i in range(n)]

    first, second = datetime(2026, 12, 1), datetime(2026, 12, 2)
    insert_events(con, day_events(0, 5, first) + day_events(1, 5, first) + day_events(2, 5, first))
    assert rollups.refresh(con).since is None  # first refresh: whole
    day0 = con.execute("SELECT * FROM agg_op_hourly WHERE day = ?", [T0.date()]).fetchall()
    # a later collection brings more of day 2 and a new day 3: days 2 and 3 are rebuilt, days 0 and 1 kept
    insert_events(con, day_events(2, 4, second) + day_events(3, 6, second))
    result = rollups.refresh(con)
    assert result.since == T0 + timedelta(days=2) and "from 2026-11-04 on" in result.summary()
    assert rollups.is_fresh(con)
    assert con.execute("SELECT * FROM agg_op_hourly WHERE day = ?", [T0.date()]).fetchall() == day0
    assert con.execute("SELECT sum(ops) FROM agg_op_hourly").fetchone()[0] == 25
    assert con.execute("SELECT day, sum(ops) FROM agg_cost_user_daily GROUP BY day ORDER BY day").fetchall() == [
        ((T0 + timedelta(days=d)).date(), n) for d, n in ((0, 5), (1, 5), (2, 9), (3, 6))]
    incremental = rollup_tables(con)
    assert rollups.refresh(con, full=True).since is None
    assert rollup_tables(con) == incremental
    # rows removed (or back-dated) since the last refresh: the state no longer matches, rebuilt whole
    con.execute("DELETE FROM raw_op_events WHERE ts < ?", [T0 + timedelta(days=1)])
    assert rollups.refresh(con).since is None
    assert con.execute("SELECT sum(ops) FROM agg_op_hourly").fetchone()[0] == 20
    insert_events(con, day_events(1, 2, first))  # an older ingested_at than the last refresh saw
    assert rollups.refresh(con).since is None
    assert con.execute("SELECT sum(ops) FROM agg_op_hourly").fetchone()[0] == 22
    # a rollup table missing, or not shaped as its file builds it: rebuilt whole, not patched
    third = datetime(2026, 12, 3)
    con.execute("DROP TABLE agg_latency_hist_daily")
    insert_events(con, day_events(3, 1, third))
    assert rollups.refresh(con).since is None
    con.execute("ALTER TABLE agg_cost_user_daily ADD COLUMN stale INTEGER")
    insert_events(con, day_events(3, 1, datetime(2026, 12, 4)))
    result = rollups.refresh(con)
    assert result.since is None and rollups.is_fresh(con)
    assert "stale" not in con.table("agg_cost_user_daily").columns
    assert con.execute("SELECT sum(n) FROM agg_latency_hist_daily").fetchone()[0] == 24

def test_is_fresh_false_before_first_refresh(con):
    assert rollups.is_fresh(con) is False


def test_error_and_cache_daily_equal_views(filled):
    view = frame(filled, "SELECT day, op, ops, errors, error_rate FROM metric_error_rate_daily ORDER BY day, op")
    agg = frame(filled, """SELECT day, coalesce(op, 'all') AS op, sum(ops) AS ops, sum(errors) AS errors,
                                  sum(errors) / sum(ops) AS error_rate
                           FROM agg_op_hourly GROUP BY GROUPING SETS ((day, op), (day)) ORDER BY day, op""")
    same(view, agg)
    view = frame(filled, "SELECT day, hits, misses, bypasses, hit_rate, miss_penalty FROM metric_cache_daily "
                         "ORDER BY day")
    agg = frame(filled, """SELECT day, sum(hits) AS hits, sum(misses) AS misses, sum(bypasses) AS bypasses,
                                  sum(hits) / (sum(hits) + sum(misses)) AS hit_rate,
                                  (sum(miss_sum_ms) / sum(misses)) / (sum(hit_sum_ms) / sum(hits)) AS miss_penalty
                           FROM agg_op_hourly WHERE cache_requests > 0 GROUP BY day ORDER BY day""")
    assert view["miss_penalty"].notna().all()
    same(view, agg)


def test_latency_avg_slow_and_shape_equal_views(filled):
    view = frame(filled, "SELECT day, op, ops, avg_ms, max_ms FROM metric_latency_daily WHERE op <> 'all' "
                         "ORDER BY day, op")
    agg = frame(filled, "SELECT day, op, sum(ops) AS ops, sum(sum_ms) / sum(ops) AS avg_ms, max(max_ms) AS max_ms "
                        "FROM agg_op_hourly GROUP BY day, op ORDER BY day, op")
    same(view, agg)
    slow = frame(filled, "SELECT day, slow_ops FROM metric_slow_share_daily WHERE op = 'all' ORDER BY day")
    agg_slow = frame(filled, "SELECT day, sum(slow_ops) AS slow_ops FROM agg_op_hourly GROUP BY day ORDER BY day")
    assert slow["slow_ops"].tolist() == agg_slow["slow_ops"].tolist()
    ignored = filled.execute("SELECT sum(limit_ignored_calls) FROM metric_query_shape_limit").fetchone()[0]
    assert filled.execute("SELECT sum(limit_ignored) FROM agg_op_hourly").fetchone()[0] == ignored > 0


def test_costs_equal_views(filled):
    view = frame(filled, "SELECT day, total_cost_usd, embedding_cost_usd, llm_cost_usd FROM metric_cost_daily "
                         "ORDER BY day")
    for table in ("agg_cost_daily", "agg_cost_user_daily"):
        agg = frame(filled, f"""SELECT day, sum(total_cost_usd) AS total_cost_usd,
                                       sum(embedding_cost_usd) AS embedding_cost_usd, sum(llm_cost_usd) AS llm_cost_usd
                                FROM {table} GROUP BY day ORDER BY day""")  # table: a test constant
        same(view, agg)
    users = frame(filled, "SELECT user_id, total_cost_usd FROM metric_cost_by_user ORDER BY user_id")
    agg = frame(filled, "SELECT user_id, sum(total_cost_usd) AS total_cost_usd FROM agg_cost_user_daily "
                        "GROUP BY user_id ORDER BY user_id")
    same(users, agg)
    model = filled.execute("SELECT cost_usd FROM metric_cost_by_model WHERE kind = 'llm'").fetchone()[0]
    assert filled.execute("SELECT sum(llm_cost_usd) FROM agg_cost_daily").fetchone()[0] == pytest.approx(model)


def test_histogram_percentiles_within_bound(filled):
    got = rollups.latency_percentiles(filled, by=("op",))
    exact = {op: q for op, q in filled.execute(
        "SELECT op, quantile_cont(latency_ms, [0.5, 0.95, 0.99]) FROM stg_op_events GROUP BY op").fetchall()}
    assert sorted(got["op"]) == sorted(exact)
    for _, row in got.iterrows():
        approx = [row["p50_ms"], row["p95_ms"], row["p99_ms"]]
        assert approx == pytest.approx(exact[row["op"]], rel=rollups.MAX_RELATIVE_ERROR)
    ops = filled.execute("SELECT op, count(*), avg(latency_ms) FROM stg_op_events GROUP BY op").fetchall()
    by_op = got.set_index("op")
    for op, n, avg in ops:
        assert by_op.loc[op, "ops"] == n and by_op.loc[op, "avg_ms"] == pytest.approx(avg)


def test_histogram_percentiles_filtered_by_day_and_service(filled):
    got = rollups.latency_percentiles(filled, by=("day",), service="a", op="search",
                                      start=T0 + timedelta(days=2), end=T0 + timedelta(days=4))
    exact = filled.execute(
        "SELECT day, count(*), quantile_cont(latency_ms, [0.5, 0.95, 0.99]) FROM stg_op_events "
        "WHERE service = 'a' AND op = 'search' AND day >= ? AND day < ? GROUP BY day ORDER BY day",
        [(T0 + timedelta(days=2)).date(), (T0 + timedelta(days=4)).date()]).fetchall()
    assert len(got) == len(exact) == 2
    for (_, row), (_, n, q) in zip(got.iterrows(), exact, strict=True):
        assert row["ops"] == n
        assert [row["p50_ms"], row["p95_ms"], row["p99_ms"]] == pytest.approx(q, rel=rollups.MAX_RELATIVE_ERROR)


def test_percentiles_from_histogram_matches_numpy():
    rng = np.random.default_rng(11)
    values = np.exp(rng.normal(3.0, 1.2, 20_000))
    buckets = np.floor(np.log10(values) * rollups.HIST_PER_DECADE).astype(int)
    b, n = np.unique(buckets, return_counts=True)
    qs = (0.5, 0.9, 0.95, 0.99, 0.999)
    got = rollups.percentiles_from_histogram(b, n, qs)
    want = np.percentile(values, [q * 100 for q in qs])
    assert np.all(np.abs(got / want - 1) < rollups.MAX_RELATIVE_ERROR)
    assert np.isnan(rollups.percentiles_from_histogram([], [], (0.5,))).all()


def test_latency_percentiles_rejects_unknown_grouping(filled):
    with pytest.raises(ValueError, match="by must be among"):
        rollups.latency_percentiles(filled, by=("user",))


def test_summary_matches_health_view(filled):
    (view,) = frame(filled, "SELECT * FROM metric_health_summary").to_dict("records")
    fast = rollups.summary(filled)
    for key in ("ops", "searches", "errors", "error_rate", "slow_ops", "slow_share", "cache_requests", "hits",
                "hit_rate", "miss_penalty", "avg_ms", "search_avg_ms", "total_cost_usd", "embedding_share",
                "cost_per_1k_searches_usd", "oss_cost_per_1k_searches_usd", "platform_cost_per_1k_searches_usd",
                "priced"):
        assert fast[key] == pytest.approx(view[key]), key
    for key in ("p50_ms", "p95_ms", "p99_ms", "search_p50_ms", "search_p95_ms", "search_p99_ms"):
        assert fast[key] == pytest.approx(view[key], rel=rollups.MAX_RELATIVE_ERROR), key
    day = rollups.summary(filled, start=T0 + timedelta(days=1), end=T0 + timedelta(days=2), service="a")
    exact = filled.execute("SELECT count(*), count(*) FILTER (WHERE is_error) FROM stg_op_events "
                           "WHERE service = 'a' AND day = ?", [(T0 + timedelta(days=1)).date()]).fetchone()
    assert (day["ops"], day["errors"]) == exact
