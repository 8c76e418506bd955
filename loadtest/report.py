"""Plain-text reports of load tests, benchmarks and comparisons (figures: memlens.loadtest.run_figures)."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from memlens.config import Config
from memlens.loadtest.flows import FlowResult, ratios
from memlens.loadtest.stats import COMPARED_METRICS, verdict


def _f(value: Any, fmt: str = "{:.1f}", none: str = "-") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return none
    return fmt.format(value)


def _usd(value: Any) -> str:
    return _f(value, "${:.6f}")


def run_lines(row: pd.Series) -> list[str]:
    """The headline figures of one run."""
    lines = [
        f"run {row['tag']}  ({row['scenario_name']}, {int(row['users'])} users, {row['call_mode']}, "
        f"{_f(row['wall_s'], '{:.1f}')} s)",
        f"  throughput      {_f(row['throughput_ops_s'])} ops/s  ({int(row['ops'])} ops)",
        f"  latency (ms)    avg {_f(row['avg_ms'])}  P50 {_f(row['p50_ms'])}  P95 {_f(row['p95_ms'])}  "
        f"P99 {_f(row['p99_ms'])}  max {_f(row['max_ms'])}",
        f"  search (ms)     avg {_f(row['search_avg_ms'])}  P50 {_f(row['search_p50_ms'])}  "
        f"P95 {_f(row['search_p95_ms'])}  P99 {_f(row['search_p99_ms'])}  ({int(row['searches'])} searches)",
        f"  error rate      {_f(row['error_rate'] * 100, '{:.2f}')} %  ({int(row['errors'])} errors)",
        f"  cost / 1k ops   {_usd(row['cost_per_1k_ops_usd'])}  (total {_usd(row['total_cost_usd'])}, "
        f"{int(row['embedding_tokens'] or 0)} embedding tokens"
        + ("" if row["priced"] else "; some models have no price: a lower bound") + ")",
    ]
    if row["cache_hits"] + row["cache_misses"] > 0:
        lines.append(f"  cache hit rate  {_f(row['cache_hit_rate'] * 100)} %  "
                     f"({int(row['cache_hits'])} hits, {int(row['cache_misses'])} misses)")
    return lines


def target_line(row: pd.Series, cfg: Config) -> str:
    """The run against the config's targets (reference "Performance Targets") and alert error rate."""
    t = cfg.targets
    checks = [("avg", row["avg_ms"], t.latency_avg_ms, " ms"), ("P95", row["p95_ms"], t.latency_p95_ms, " ms"),
              ("P99", row["p99_ms"], t.latency_p99_ms, " ms"),
              ("error rate", row["error_rate"] * 100, cfg.thresholds.error_rate * 100, " %")]
    parts = [f"{name} < {limit:g}{unit} {'ok' if value < limit else 'MISSED'}" for name, value, limit, unit in checks]
    return "  targets         " + ", ".join(parts)


def ramp_table(summary: pd.DataFrame) -> list[str]:
    """How throughput and latency change with the number of concurrent users."""
    base = summary.iloc[0]
    lines = ["concurrency ramp:",
             f"  {'users':>5}  {'ops/s':>8}  {'x 1 user':>8}  {'avg ms':>8}  {'P50 ms':>8}  {'P95 ms':>8}  "
             f"{'P99 ms':>8}  {'errors':>6}"]
    for _, r in summary.iterrows():
        speedup = r["throughput_ops_s"] / base["throughput_ops_s"] if base["throughput_ops_s"] else float("nan")
        lines.append(f"  {int(r['users']):>5}  {_f(r['throughput_ops_s']):>8}  {_f(speedup, '{:.2f}'):>8}  "
                     f"{_f(r['avg_ms']):>8}  {_f(r['p50_ms']):>8}  {_f(r['p95_ms']):>8}  {_f(r['p99_ms']):>8}  "
                     f"{int(r['errors']):>6}")
    return lines


def loadtest_report(result: FlowResult, cfg: Config | None = None) -> str:
    s = result.summary
    lines = run_lines(s.iloc[-1])
    if cfg is not None:
        lines.append(target_line(s.iloc[-1], cfg))
    if len(s) > 1:
        lines += ["", *ramp_table(s)]
    lines += ["", *(c.summary() for c in result.checks.values()), f"stored as group {result.group_id}"]
    return "\n".join(lines)


def compare_report(result: FlowResult, title: str = "comparison") -> str:
    s = result.summary
    names = {v: s.loc[s["variant"] == v, "scenario_name"].iloc[0] for v in ("A", "B")}
    lines = [f"{title}: A = {names['A']}, B = {names['B']}, {int(s['round'].max())} rounds "
             f"(A B alternately, {int(s['users'].iloc[0])} users)", *result.notes, "",
             f"  {'round':>5} {'var':>3}  {'ops/s':>8}  {'avg ms':>8}  {'P50 ms':>8}  {'P95 ms':>8}  {'P99 ms':>8}  "
             f"{'err %':>6}  {'hit %':>6}  {'$/1k ops':>10}"]
    for _, r in s.iterrows():
        lines.append(f"  {int(r['round']):>5} {r['variant']:>3}  {_f(r['throughput_ops_s']):>8}  {_f(r['avg_ms']):>8}  "
                     f"{_f(r['p50_ms']):>8}  {_f(r['p95_ms']):>8}  {_f(r['p99_ms']):>8}  "
                     f"{_f(r['error_rate'] * 100, '{:.2f}'):>6}  {_f(r['cache_hit_rate'] * 100):>6}  "
                     f"{_f(r['cost_per_1k_ops_usd'], '{:.6f}'):>10}")
    lines += ["", "ratio B/A per metric (paired by round): median [min–max] (bootstrap 95 % of the median)",
              f"  {'metric':<20} {'median':>7}  {'min–max':>15}  {'bootstrap':>15}  verdict"]
    for rs in ratios(s):
        if rs.median is None:
            lines.append(f"  {rs.metric:<20} {'n/a':>7}  (A is 0 or missing in every round)")
            continue
        lines.append(f"  {rs.metric:<20} {rs.median:>7.3f}  {f'{rs.low:.3f}–{rs.high:.3f}':>15}  "
                     f"{f'{rs.boot_low:.3f}–{rs.boot_high:.3f}':>15}  {verdict(rs, COMPARED_METRICS[rs.metric])}")
    bad = [c.summary() for c in result.checks.values() if not c.exact]
    total = sum(c.issued for c in result.checks.values())
    lines += ["", *(bad or [f"log check: all {total} ops of {len(result.checks)} runs logged exactly once"]),
              f"stored as group {result.group_id}"]
    return "\n".join(lines)
