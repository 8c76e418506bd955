"""Reports and CLI errors without a Mem0: hand-built summaries, bad scenario files."""

from __future__ import annotations

import pandas as pd
import pytest

from memlens.cli import main
from memlens.loadtest.flows import FlowResult, ratios
from memlens.loadtest.logcheck import LogCheck
from memlens.loadtest.report import compare_report, loadtest_report


def _row(tag: str, users: int, thr: float, avg: float, variant=None, rnd=None, hits=0, misses=0) -> dict:
    return {"tag": tag, "scenario_name": "s", "users": users, "call_mode": "thread", "wall_s": 2.0,
            "throughput_ops_s": thr, "ops": int(thr * 2), "avg_ms": avg, "p50_ms": avg, "p95_ms": 2 * avg,
            "p99_ms": 3 * avg, "max_ms": 4 * avg, "search_avg_ms": avg, "search_p50_ms": avg,
            "search_p95_ms": 2 * avg, "search_p99_ms": 3 * avg, "searches": 10, "error_rate": 0.0, "errors": 0,
            "cost_per_1k_ops_usd": 0.001, "total_cost_usd": 0.0001, "embedding_tokens": 500, "priced": True,
            "cache_hits": hits, "cache_misses": misses,
            "cache_hit_rate": hits / (hits + misses) if hits + misses else float("nan"),
            "variant": variant, "round": rnd}


def test_loadtest_report_headline_and_ramp():
    s = pd.DataFrame([_row("r1", 1, 50.0, 10.0), _row("r2", 2, 90.0, 11.0), _row("r3", 4, 100.0, 20.0)])
    checks = {t: LogCheck(4, 4, 0, 0) for t in s["tag"]}
    from memlens.config import load_config

    text = loadtest_report(FlowResult("g", s, checks, []), load_config(overrides={"targets": {"latency_p99_ms": 50}}))
    assert "throughput      100.0 ops/s  (200 ops)" in text
    # avg 20 < 100, P95 40 < 200, P99 60 vs a 50 ms target, errors 0 % < 5 %
    assert "targets         avg < 100 ms ok, P95 < 200 ms ok, P99 < 50 ms MISSED, error rate < 5 % ok" in text
    assert "avg 20.0  P50 20.0  P95 40.0  P99 60.0  max 80.0" in text
    assert "cost / 1k ops   $0.001000" in text
    ramp = [line.split() for line in text.splitlines() if line.strip()[:1].isdigit()]
    assert [(r[0], r[1], r[2]) for r in ramp] == [("1", "50.0", "1.00"), ("2", "90.0", "1.80"), ("4", "100.0", "2.00")]
    assert text.count("each exactly once") == 3


def test_compare_report_ratios_and_verdicts():
    s = pd.DataFrame([
        _row("a1", 2, 100.0, 10.0, "A", 1), _row("b1", 2, 120.0, 8.0, "B", 1, hits=5, misses=5),
        _row("a2", 2, 100.0, 10.0, "A", 2), _row("b2", 2, 80.0, 9.0, "B", 2, hits=6, misses=4),
    ])
    checks = {t: LogCheck(4, 4, 0, 0) for t in s["tag"]}
    text = compare_report(FlowResult("g", s, checks, ["a note"]))
    by = {r.metric: r for r in ratios(s)}
    assert by["throughput_ops_s"].ratios == pytest.approx((1.2, 0.8))
    assert by["avg_ms"].ratios == pytest.approx((0.8, 0.9))
    assert "a note" in text
    assert next(ln for ln in text.splitlines() if ln.strip().startswith("throughput_ops_s")).split()[-3:] == \
        ["no", "clear", "change"]
    avg = next(ln for ln in text.splitlines() if ln.strip().startswith("avg_ms"))
    assert "0.850" in avg and "0.800–0.900" in avg and avg.endswith("B better")
    assert "cache_hit_rate" in text and "n/a" in text  # no cache on A: no ratio
    assert "all 16 ops of 4 runs logged exactly once" in text


def test_cli_bad_scenario_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nusers: 0\n", encoding="utf-8")
    assert main(["loadtest", "--config", str(bad), "--warehouse", str(tmp_path / "w.duckdb")]) == 2
    err = capsys.readouterr().err
    assert f"{bad} line 2: users: Input should be greater than 0" in err
    assert main(["compare", str(bad), str(tmp_path / "missing.yaml")]) == 2
    assert "line 2: users" in capsys.readouterr().err


def test_compare_applies_a_workload_to_b_but_keeps_b_config():
    from memlens.loadtest.flows import workload_of
    from memlens.loadtest.scenario import default_scenario

    a = default_scenario(name="a", seed=1, users=3, ops_per_user=5)
    b = default_scenario(name="b", seed=2, users=3, ops_per_user=5, mode="async", search={"top_k": 5},
                         mix={"search": 0.9})
    b2, notes = workload_of(a, b)
    assert (b2.seed, b2.users, b2.ops_per_user, b2.mix) == (1, 3, 5, a.mix)
    assert (b2.name, b2.mode, b2.search.top_k) == ("b", "async", 5)
    assert notes == ["B's seed (2) replaced by A's (1): same workload on both",
                     "B's mix replaced by A's: same workload on both"]
