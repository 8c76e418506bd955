"""The metric layer's fast path is the same definition over pre-aggregated input: for randomised filter selections
(hypothesis) every metric read from the rollups equals the same metric read from the events, and percentiles read
from the rollup histograms stay within memlens.rollups.MAX_RELATIVE_ERROR of the exact ones."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from view_support import event, event_table, insert_history

from memlens import backend, layer, rollups
from memlens.warehouse import connect

T0 = datetime(2026, 11, 2)
DAYS = 6
FRESH = layer.Speed(rollups_fresh=True, histogram_percentiles=False)
HIST = layer.Speed(rollups_fresh=True, histogram_percentiles=True)
ROLLUP_METRICS = ("ops", "cache", "cache_reuse", "cost", "cost_by_model", "latency_histogram", "phases")


def _phases(op: str, latency_ms: float, timed: bool) -> dict:
    """Phase timings (schema v2) for most OSS calls: embedding and a vector phase, and the LLM for adds."""
    if not timed:
        return {}
    vector = {"search": "vector_search", "add": "vector_write"}.get(op, "vector_read")
    out = {"schema_version": 2, "embedding_ms": 0.3 * latency_ms, f"{vector}_ms": 0.4 * latency_ms}
    return out | ({"llm_ms": 0.2 * latency_ms} if op == "add" else {})


CLICKHOUSE_EXAMPLES = 12  # the same properties on ClickHouse (chdb), fewer examples: each query costs ~50 ms there


@pytest.fixture(scope="module", params=["duckdb", "clickhouse"])
def wh(request):
    con = connect({"duckdb": ":memory:", "clickhouse": "chdb://:memory:"}[request.param])
    rng = np.random.default_rng(5)
    n = 3000
    lat = np.exp(np.log(40) + 1.0 * rng.standard_normal(n))
    rows = []
    for i in range(n):
        op = ("search", "add", "get", "search", "update")[i % 5]
        mode = "platform" if i % 9 == 0 else "oss"
        rows.append(event(
            T0 + timedelta(minutes=int(rng.integers(0, DAYS * 24 * 60))), op, float(lat[i]),
            service=("chat", "batch", "api")[i % 3], mode=mode, user_id=(f"u{i % 5}", None)[i % 7 == 0],
            agent_id=("bot", "helper", None)[i % 3], status="error" if i % 23 == 0 else "ok",
            cache=("hit", "miss", "bypass", None)[int(rng.integers(0, 4))] if op == "search" else None,
            query_hash=f"q{int(rng.integers(0, 40))}" if op == "search" else None,
            top_k=(5, 10, 20)[i % 3] if op == "search" else None, rerank=bool(i % 2) if op == "search" else None,
            filter_keys=[] if i % 11 == 0 else None, result_count=int(rng.integers(0, 6)) if op == "search" else None,
            limit=3 if op == "search" and i % 8 == 0 else None,
            message_count=int(rng.integers(1, 4)) if op == "add" else None,
            embedding_model=("text-embedding-3-small", "text-embedding-3-large", "mystery", None)[i % 4],
            embedding_tokens=int(rng.integers(0, 3000)) if i % 4 != 3 else None,
            llm_model="gpt-4o-mini" if op == "add" else None, llm_input_tokens=800 if op == "add" else None,
            llm_output_tokens=int(rng.integers(0, 200)) if op == "add" else None, demo=i % 13 == 0,
            **_phases(op, float(lat[i]), timed=mode == "oss" and i % 4 != 0)))
    # one INSERT from Arrow: executemany of 3,000 wide rows takes ~20 s
    backend.insert(con, "raw_op_events", event_table(rows))
    insert_history(con, [(f"m{i}", ("ADD", "ADD", "UPDATE", "DELETE")[i % 4], T0 + timedelta(hours=7 * i),
                          100 + i if i % 4 in (2, 3) else None, 120 + i if i % 4 != 3 else None) for i in range(60)])
    rollups.refresh(con)
    yield con
    con.close()


days = st.one_of(st.none(), st.integers(min_value=-1, max_value=DAYS + 1))


@st.composite
def selections(draw: st.DrawFn) -> layer.Filters:
    a, b = draw(days), draw(days)
    start = T0 + timedelta(days=a) if a is not None else None
    end = T0 + timedelta(days=b) if b is not None else None
    hours = draw(st.sampled_from([0, 0, 0, 5]))  # mostly whole days; sometimes whole hours only
    if start is not None and hours:
        start += timedelta(hours=hours)
    return layer.Filters(
        start, end,
        service=draw(st.sampled_from([None, None, "chat", "batch", "nope"])),
        mode=draw(st.sampled_from([None, None, "oss", "platform"])),
        op=draw(st.sampled_from([None, None, "search", "add", "get"])),
        agent=draw(st.sampled_from([None, None, "bot", "helper"])),
        user=draw(st.sampled_from([None, None, None, "u1"])),
        model=draw(st.sampled_from([None, None, None, "gpt-4o-mini"])))


GROUPINGS = [((), None), (("op",), None), (("service",), None), (("mode",), None), (("agent_id",), None),
             (("bucket",), "day"), (("bucket",), "hour"), (("bucket", "op"), "day"), (("bucket",), "week"),
             (("user_id",), None), (("mode", "op"), None)]


def _normal(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in out.columns:
        if c == "bucket":
            out[c] = pd.to_datetime(out[c])
    return out.reset_index(drop=True)


def _answerable(name: str, f: layer.Filters, keys: tuple, grain: str | None) -> bool:
    try:
        layer.choose(layer.metric(name), f, keys, grain, layer.EXACT)
    except layer.LayerError:
        return False
    return True


def _examples(wh, n: int) -> bool:
    """Whether this example still runs: ClickHouse runs the first CLICKHOUSE_EXAMPLES of each property."""
    key = (id(wh), n)
    _RUN[key] = _RUN.get(key, 0) + 1
    return backend.dialect(wh) == "duckdb" or _RUN[key] <= CLICKHOUSE_EXAMPLES


_RUN: dict[tuple, int] = {}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(f=selections(), grouping=st.sampled_from(GROUPINGS), name=st.sampled_from(ROLLUP_METRICS))
def test_rollup_path_equals_exact_path(wh, f, grouping, name):
    keys, grain = grouping
    if not _examples(wh, 1):
        return
    if not _answerable(name, f, keys, grain):
        return
    exact = _normal(layer.query(wh, name, f, keys, grain, layer.EXACT))
    fast = _normal(layer.query(wh, name, f, keys, grain, FRESH))
    if name == "latency_histogram":  # rows in no particular order within a group: compare them sorted
        order = [*keys, "hist_bucket"]
        exact = exact.sort_values(order, na_position="last").reset_index(drop=True)
        fast = fast.sort_values(order, na_position="last").reset_index(drop=True)
    pd.testing.assert_frame_equal(fast, exact, check_dtype=False, check_exact=False, rtol=1e-9, atol=1e-12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(f=selections(), grouping=st.sampled_from(GROUPINGS[:9]))
def test_histogram_percentiles_within_the_bound(wh, f, grouping):
    keys, grain = grouping
    if not _examples(wh, 2):
        return
    if not _answerable("latency_percentiles", f, keys, grain):
        return
    exact = _normal(layer.percentiles(wh, f, keys, grain, layer.EXACT))
    approx = _normal(layer.percentiles(wh, f, keys, grain, HIST))
    assert list(approx.columns) == list(exact.columns)
    merged = exact.merge(approx, on=list(keys), suffixes=("", "_h"), how="outer") if keys else pd.concat(
        [exact, approx.add_suffix("_h")], axis=1)
    assert len(merged) == len(exact)
    for col in layer.PCT_COLUMNS:
        e, h = merged[col].astype(float), merged[f"{col}_h"].astype(float)
        assert (e.isna() == h.isna()).all(), col
        rel = (h - e).abs() / e
        assert (rel[e.notna()] < rollups.MAX_RELATIVE_ERROR).all(), (col, rel.max())


def test_the_fast_path_is_taken_where_it_can_answer():
    ops, cost, hist = layer.metric("ops"), layer.metric("cost"), layer.metric("latency_histogram")
    day = layer.Filters(T0, T0 + timedelta(days=1))
    assert layer.choose(ops, day, ("op",), None, FRESH).name == "op_hourly"
    assert layer.choose(ops, day.replace(start=T0 + timedelta(minutes=15)), (), None, FRESH).name == "op_events"
    assert layer.choose(ops, day, ("bucket",), "minute", FRESH).name == "op_events"
    assert layer.choose(ops, day.replace(user="u1"), (), None, FRESH).name == "op_events"
    assert layer.choose(ops, day, (), None, layer.EXACT).name == "op_events"  # rollups stale
    assert layer.choose(cost, day.replace(start=T0 + timedelta(hours=3)), (), None, FRESH).name == "cost_events"
    assert layer.choose(cost, day.replace(model="gpt-4o-mini"), (), None, FRESH).name == "cost_daily"
    assert layer.choose(cost, day.replace(user="u1"), ("mode",), None, FRESH).name == "cost_user_daily"
    assert layer.choose(cost, day.replace(user="u1", op="add"), (), None, FRESH).name == "cost_events"
    assert layer.choose(hist, day, ("op",), None, FRESH).name == "latency_hist_daily"
    assert layer.choose(layer.metric("latency_percentiles"), day, (), None, HIST).name == "op_events"
    reuse = layer.metric("cache_reuse")
    assert layer.choose(reuse, day, ("service",), None, FRESH).name == "cache_lookups_hourly"
    assert layer.choose(reuse, day.replace(user="u1"), (), None, FRESH).name == "cache_lookups"
    assert layer.choose(reuse, day.replace(start=T0 + timedelta(minutes=15)), (), None, FRESH).name == "cache_lookups"


@pytest.mark.parametrize("name", ["memory_growth", "storage_growth"])
def test_memory_metrics_equal_over_both_history_inputs(wh, name):
    m = layer.metric(name)
    history, attributed = (i for i in layer.inputs() if "memory_deltas" in i.provides)
    params = {**layer.Filters(end=T0 + timedelta(days=10)).params(), "grain": "day"}
    a = layer.run_sql(wh, layer.render(m, history, ()), params)
    b = layer.run_sql(wh, layer.render(m, attributed, ()), params)
    pd.testing.assert_frame_equal(a, b, check_dtype=False)
    assert len(a)


def test_stg_op_facts_buckets_match_the_rollup_constant(wh):
    text = layer.resource("memlens.sql", "staged", "015_stg_op_facts.sql").read_text(encoding="utf-8")
    assert f"* {rollups.HIST_PER_DECADE}) AS INTEGER) AS hist_bucket" in text
    assert wh.execute("SELECT per_decade FROM agg_refresh_state").fetchone()[0] == rollups.HIST_PER_DECADE
