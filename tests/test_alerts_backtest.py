"""The backtest: hand-computed firing intervals, and the same firing intervals as `promtool test rules` on a
generated history (the op-log rows for the backtest, the counters they would have produced for promtool)."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from backtest_support import EPOCH, calls, load, promtool_file, rules_without_annotations
from view_support import event, insert_events

from memlens.alerts import backtest
from memlens.config import load_config
from memlens.warehouse import connect

needs_promtool = pytest.mark.skipif(shutil.which("promtool") is None,
                                    reason="Debian prometheus (promtool) not installed; scripts/test.sh installs it")

# Thresholds off round numbers: a window that lands exactly on a threshold is compared exactly here and in floating
# point by Prometheus (see backtest.APPROXIMATIONS); these never tie on the generated history.
TEST_CONFIG = {
    "thresholds": {"error_rate": 0.053, "slow_op_share": 0.11, "cache_hit_rate_min": 0.31, "daily_budget_usd": 0.1},
    "alerts": {
        "scopes": {"add_infer": {"p99_ms": 4000, "avg_ms": 2100, "slow_op_ms": 2500, "slow_op_share": 0.21},
                   "add": {"p95_ms": 150}},
        "rules": {"p99_latency": {"for": "3m"}, "p95_latency": {"for": "5m"}, "avg_latency": {"for": "4m"},
                  "error_rate": {"for": "2m"}, "slow_share": {"for": "3m"}, "cache_hit_rate": {"for": "5m"},
                  "daily_cost": {"for": "10m"}},
        "slo": {"latency_threshold_ms": 300,
                "page_for": "2m", "ticket_for": "5m"},
    },
}


def _episodes(bt, key):
    return [(dict(e.labels), e.pending_at, e.fired_at, e.resolved_at) for e in bt.rule(key).episodes]


def _minute(m: float) -> datetime:
    return EPOCH + timedelta(minutes=m)


# ---- hand-computed ------------------------------------------------------------------------------------------
def test_episodes_pending_firing_resolved():
    ks = np.array([10, 11, 12, 13, 14, 20, 21, 30, 31, 32, 33])
    out = backtest.episodes(ks, np.arange(len(ks), dtype=float), (("service", "s"),), for_steps=3, end_k=33,
                            step_s=60)
    # 10..14 held: pending at 10, firing at 13 (10 + for), resolved at 15 (first evaluation not holding)
    assert (out[0].pending_at, out[0].fired_at, out[0].resolved_at) == (_minute(10), _minute(13), _minute(15))
    assert out[0].firing_seconds == 120 and out[0].peak == 4.0  # the worst value while firing
    assert out[1].fired_at is None and out[1].firing_seconds == 0  # 20..21: resolved before for: passed
    # 30..33 held up to the last evaluation: still firing, counted to it
    assert out[2].fired_at == _minute(33) and out[2].resolved_at is None and out[2].firing_seconds == 0


def test_search_latency_incident_fires_for_its_span_and_the_llm_add_does_not(tmp_path):
    """One search a minute at 40 ms, 20 minutes at 900 ms; adds with infer at 3 s throughout."""
    con = connect(":memory:")
    rows = []
    for m in range(60):
        slow = 20 <= m < 40
        rows.append(event(_minute(m + 0.5), op="search", latency_ms=900.0 if slow else 40.0, service="shop"))
        rows.append(event(_minute(m + 0.5), op="add", latency_ms=3000.0, service="shop", infer=True))
    insert_events(con, rows)
    cfg = load_config(None)
    bt = backtest.run(con, cfg, end=_minute(60))
    # the call at m + 0.5 counts from step m + 1; the 5 m window of step k holds steps k - 4 .. k: a 900 ms call
    # is in it from k = 21 (the call at 20.5) to k = 44 (the one at 39.5). P99 (the 750..1000 ms bucket) > 500 ms
    # from 21 on, fires 10 m later at 31, resolves at 45 (no slow call in 41..45)
    assert _episodes(bt, "p99_latency@search") == [
        ({"service": "shop", "op": "search"}, _minute(21), _minute(31), _minute(45))]
    assert bt.rule("p99_latency@search").firing_seconds == 14 * 60
    peak = bt.rule("p99_latency@search").fired[0].peak
    assert peak == pytest.approx(750 + 250 * (0.99 * 5 - 0) / 5)  # all 5 calls in (750, 1000]: 997.5 ms
    assert not any(r.key.startswith(("p99_latency@add", "p95_latency@add")) for r in bt.rules)
    # every call of the window is slower than 200 ms: slow share 100 % > 10 % (for: 10m)
    assert _episodes(bt, "slow_share@search")[0][2] == _minute(31)


def test_end_of_history_and_start_restrict_the_evaluations():
    con = connect(":memory:")
    insert_events(con, [event(_minute(m + 0.5), op="search", latency_ms=900.0, service="shop") for m in range(30)])
    cfg = load_config(None)
    still = backtest.run(con, cfg, end=_minute(20))
    assert _episodes(still, "p99_latency@search") == [({"service": "shop", "op": "search"}, _minute(1),
                                                        _minute(11), None)]
    late = backtest.run(con, cfg, end=_minute(40), start=_minute(25))
    assert _episodes(late, "p99_latency@search")[0][1] == _minute(26)


def test_empty_warehouse_has_no_backtest():
    assert backtest.run(connect(":memory:"), load_config(None)) is None


def test_selector_filters_the_calls_and_unknown_labels_are_noted():
    con = connect(":memory:")
    insert_events(con, [event(_minute(m + 0.5), op="search", latency_ms=900.0, service=s)
                        for m in range(30) for s in ("shop", "lab")])
    cfg = load_config(None, overrides={"alerts": {"selector": {"service": "=~sh.*", "environment": "prod"}}})
    bt = backtest.run(con, cfg, end=_minute(30))
    assert {dict(e.labels)["service"] for e in bt.rule("p99_latency@search").episodes} == {"shop"}
    assert any("environment" in n and "does not hold" in n for n in bt.notes)


# ---- the same firing intervals as promtool ------------------------------------------------------------------
@pytest.mark.prometheus
@needs_promtool
def test_backtest_agrees_with_promtool_on_a_generated_history(tmp_path):
    minutes = 480
    rows = calls(minutes, seed=11)
    con = connect(":memory:")
    load(con, rows)
    cfg = load_config(None, overrides=TEST_CONFIG)
    bt = backtest.run(con, cfg, end=_minute(minutes))
    fired = {r.key: r.times_fired for r in bt.rules}
    # the history exercises every kind of rule: the test would mean little if nothing fired
    for key in ("p99_latency@search", "p95_latency@search", "avg_latency@search", "error_rate@search",
                "error_rate@other", "slow_share@search", "cache_hit_rate", "daily_cost",
                "Mem0AvailabilitySLOBurnRateFast", "Mem0LatencySLOBurnRateFast"):
        assert fired[key] >= 1, key
    # The histogram at work: ~10 LLM adds per window, one of them in the (2.5 s, 5 s] bucket puts the interpolated
    # P99 near 4.75 s although the slowest took ~3 s. Prometheus sees the same, and so does the backtest.
    assert fired["p99_latency@add_infer"] >= 1
    (tmp_path / "rules.yaml").write_text(rules_without_annotations(cfg), encoding="utf-8")
    (tmp_path / "backtest.test.yaml").write_text(
        promtool_file(bt, cfg, rows, minutes, 60.0, "rules.yaml"), encoding="utf-8")
    res = subprocess.run(["promtool", "test", "rules", "backtest.test.yaml"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0 and "SUCCESS" in res.stdout, (res.stdout + res.stderr)[-4000:]


@pytest.mark.prometheus
@needs_promtool
def test_the_promtool_comparison_has_teeth(tmp_path):
    """An episode one minute off is caught: the comparison checks every evaluation, not a summary."""
    rows = [event(_minute(m + 0.5), op="search", latency_ms=900.0 if 20 <= m < 40 else 40.0, service="shop")
            for m in range(60)]
    con = connect(":memory:")
    load(con, rows)
    cfg = load_config(None)
    bt = backtest.run(con, cfg, end=_minute(60))
    p99 = bt.rule("p99_latency@search")
    (tmp_path / "rules.yaml").write_text(rules_without_annotations(cfg), encoding="utf-8")
    runs = {}
    for name, shift in (("right", 0), ("late", 1)):
        e = p99.episodes[0]
        p99.episodes = [dataclasses.replace(e, fired_at=e.fired_at + timedelta(minutes=shift))]
        (tmp_path / f"{name}.test.yaml").write_text(promtool_file(bt, cfg, rows, 60, 60.0, "rules.yaml"),
                                                    encoding="utf-8")
        runs[name] = subprocess.run(["promtool", "test", "rules", f"{name}.test.yaml"], cwd=tmp_path,
                                    capture_output=True, text=True, timeout=300)
    assert runs["right"].returncode == 0, runs["right"].stdout
    late = runs["late"].stdout + runs["late"].stderr
    assert runs["late"].returncode != 0 and "alertname: Mem0HighP99Latency, time: 31m" in late


@pytest.mark.prometheus
@needs_promtool
def test_backtest_agrees_with_promtool_on_storage_growth_over_weeks(tmp_path):
    """Weekly growth needs weeks: evaluated hourly (rate windows of 1 h, no SLOs: their 5 m windows need minutes)."""
    rng = np.random.default_rng(5)
    rows = []
    for h in range(24 * 21):
        per_hour = 30 if h < 24 * 7 else (8 if h < 24 * 14 else 1)  # fast first week, then slowing
        for _ in range(rng.poisson(per_hour)):
            ts = EPOCH + timedelta(hours=h, seconds=float(rng.uniform(1, 3599)))
            rows.append(event(ts, op="add", latency_ms=50.0, service="shop", infer=False, memories_created=1))
    con = connect(":memory:")
    load(con, rows)
    cfg = load_config(None, overrides={
        "thresholds": {"storage_growth_per_week": 0.27},
        "alerts": {"rate_window": "1h", "evaluation_interval": "1h", "rules": {"storage_growth": {"for": "3h"}},
                   "slo": {"availability_objective": None, "latency_objective": None}}})
    hours = 24 * 21
    bt = backtest.run(con, cfg, end=EPOCH + timedelta(hours=hours))
    growth = bt.rule("storage_growth")
    assert growth.times_fired == 1 and growth.fired[0].resolved_at is not None
    (tmp_path / "rules.yaml").write_text(rules_without_annotations(cfg), encoding="utf-8")
    (tmp_path / "growth.test.yaml").write_text(
        promtool_file(bt, cfg, rows, hours, 3600.0, "rules.yaml"), encoding="utf-8")
    res = subprocess.run(["promtool", "test", "rules", "growth.test.yaml"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0 and "SUCCESS" in res.stdout, (res.stdout + res.stderr)[-4000:]


def test_demo_search_incident_pages_and_its_llm_adds_do_not(tmp_path):
    """The demo's 6-hour vector-store incident (every uncached OSS call 3.5x slower) fires the default critical P99
    rule on search; its add(infer=True) calls (P99 of seconds) would have paged all the time with the old
    every-op rule, and page nowhere by default."""
    from memlens.workloads import demo

    days, end = 14, datetime(2026, 11, 20, 12)
    files = demo.generate_demo(tmp_path, 40_000, days, 40, 5, end=end.replace(tzinfo=UTC))
    con = connect(":memory:")
    demo.load_demo(con, files, load_config(None))
    start = end - timedelta(days=days)

    def in_incident(e) -> bool:  # the demo's incident: day index days - 6, hours 10-16 UTC
        t = e.fired_at
        while t <= (e.resolved_at or e.last_at):
            if (t - start).days == days - 6 and 10 <= t.hour < 16:
                return True
            t += timedelta(minutes=1)
        return False

    bt = backtest.run(con, load_config(None))
    p99 = bt.rule("p99_latency@search")
    assert p99.times_fired >= 1 and sum(in_incident(e) for e in p99.fired) >= 1
    assert not any(r.key.split("@")[-1].startswith("add") and r.key.split("@")[0] in
                   ("p99_latency", "p95_latency", "avg_latency", "slow_share") for r in bt.rules)
    old_style = backtest.run(con, load_config(None, overrides={"alerts": {"scopes": {"add_infer": {"p99_ms": 500}}}}))
    assert old_style.rule("p99_latency@add_infer").times_fired > 5 * p99.times_fired


def test_firing_in_total_counts_overlapping_series_once():
    """Two services firing 10:00-10:30 and 10:15-10:45, one again 11:00-11:10: 55 min in total (the overlap counts
    once), 70 min summed over the series, two series."""
    def fired(service, start, end):
        return backtest.Episode((("service", service),), _minute(start - 5), _minute(start), _minute(end),
                                _minute(end - 1), 1.0)

    rule = backtest.RuleResult("error_rate@x", "Mem0HighErrorRate", "t", None, 0.05, "5m", "warning", "error_rate",
                               [fired("a", 0, 30), fired("b", 15, 45), fired("a", 60, 70),
                                backtest.Episode((("service", "c"),), _minute(80), None, _minute(82), _minute(81), 1)])
    assert rule.firing_seconds == 55 * 60
    assert rule.series_firing_seconds == 70 * 60
    assert (rule.times_fired, rule.series_fired) == (3, 2)
    row = backtest.summary_table(backtest.Backtest(None, _minute(90), 60, [rule], [])).iloc[0]
    assert (row["firing"], row["series_firing"], row["firing_hours"]) == ("55 min", "1 h 10 min", 0.92)
