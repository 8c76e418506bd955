"""Rollups: refreshed whole or from the first new day, current or not; histogram percentiles within their bound.

That the metric layer reads the same figures from them as from the events: tests/test_layer_parity.py."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
from view_support import event, insert_events

from memlens import layer, rollups

T0 = datetime(2026, 11, 2)


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


def test_sidebar_choices_from_the_rollups_equal_those_from_the_events(con):
    from memlens.dashboard import data

    insert_events(con, [event(T0 + timedelta(hours=i), ("search", "add", "get")[i % 3], 10.0 + i,
                              user_id=(f"u{i % 4}" if i % 5 else None), agent_id=("a1" if i % 2 else None),
                              embedding_model="text-embedding-3-small", embedding_tokens=10,
                              llm_model=("gpt-4.1-nano" if i % 3 == 1 else None)) for i in range(30)])
    rollups.refresh(con)
    events = data.run(con, "filter_options")
    assert data.options_query(layer.speed_for(con, 30, 10_000_000)) == "filter_options_rollups"
    assert data.run(con, "filter_options_rollups").equals(events)
    users = events[events["kind"] == "user"]
    # 24 of the 30 calls have a user (i = 0, 5, ... 25 have none): 6 each of u0..u3 (i mod 4)
    assert dict(zip(users["value"], users["events"], strict=True)) == {"u1": 6, "u2": 6, "u3": 6, "u0": 6}
    assert dict(zip(*events[events["kind"] == "op"][["value", "events"]].T.values, strict=True)) == {
        "search": 10, "add": 10, "get": 10}
