"""Figures of a run and of an A/B comparison: percentiles, ramp levels, ratios with their spread.

Percentiles are numpy's default 'linear' interpolation, the same as DuckDB's quantile_cont used by
the warehouse views, so client-side and warehouse figures can be compared exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Metrics a comparison reports, and whether a higher value is better (for the verdict column).
COMPARED_METRICS: dict[str, bool] = {
    "throughput_ops_s": True,
    "avg_ms": False,
    "p50_ms": False,
    "p95_ms": False,
    "p99_ms": False,
    "search_p50_ms": False,  # query latency: what a cache or a smaller top_k changes first
    "search_p95_ms": False,
    "error_rate": False,
    "cost_per_1k_ops_usd": False,
    "cache_hit_rate": True,
}


@dataclass(frozen=True)
class LatencySummary:
    count: int
    avg_ms: float | None
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None


def latency_summary(latencies_ms: Sequence[float]) -> LatencySummary:
    if len(latencies_ms) == 0:
        return LatencySummary(0, None, None, None, None, None)
    a = np.asarray(latencies_ms, dtype=float)
    p50, p95, p99 = np.percentile(a, [50, 95, 99])
    return LatencySummary(len(a), float(a.mean()), float(p50), float(p95), float(p99), float(a.max()))


def ramp_levels(max_users: int) -> list[int]:
    """1, 2, 4, ... doubling up to max_users, which is always the last level."""
    if max_users < 1:
        raise ValueError("max_users must be >= 1")
    levels, n = [], 1
    while n < max_users:
        levels.append(n)
        n *= 2
    levels.append(max_users)
    return levels


@dataclass(frozen=True)
class RatioSpread:
    """B/A of one metric over paired rounds: median, min–max, and a bootstrap interval of the median."""

    metric: str
    ratios: tuple[float, ...]  # per round, B_r / A_r (rounds where A_r is 0 or missing are left out)
    median: float | None
    low: float | None
    high: float | None
    boot_low: float | None  # 2.5 % / 97.5 % of the bootstrap distribution of the median ratio
    boot_high: float | None


def ratio_spread(metric: str, a: Sequence[float | None], b: Sequence[float | None], seed: int = 0,
                 n_boot: int = 2000) -> RatioSpread:
    """Pair round r of A with round r of B (run back to back, so machine drift largely cancels)."""
    if len(a) != len(b):
        raise ValueError(f"{metric}: {len(a)} A rounds but {len(b)} B rounds")
    ratios = [float(y) / float(x) for x, y in zip(a, b, strict=True)
              if x is not None and y is not None and float(x) != 0.0]
    if not ratios:
        return RatioSpread(metric, (), None, None, None, None, None)
    r = np.asarray(ratios)
    rng = np.random.default_rng(seed)
    medians = np.median(rng.choice(r, size=(n_boot, len(r)), replace=True), axis=1)
    lo, hi = np.percentile(medians, [2.5, 97.5])
    return RatioSpread(metric, tuple(ratios), float(np.median(r)), float(r.min()), float(r.max()),
                       float(lo), float(hi))


MIN_ROUNDS_FOR_VERDICT = 2  # one paired round cannot tell a change from noise


def verdict(spread: RatioSpread, higher_is_better: bool) -> str:
    """'B better' / 'B worse' only when every round agrees (min–max excludes 1), else 'no clear change'."""
    if spread.low is None or spread.high is None:
        return "n/a"
    if len(spread.ratios) < MIN_ROUNDS_FOR_VERDICT:
        return f"too few rounds ({len(spread.ratios)})"
    if spread.low > 1.0:
        return "B better" if higher_is_better else "B worse"
    if spread.high < 1.0:
        return "B worse" if higher_is_better else "B better"
    return "no clear change"
