"""Targets vs measured values → green / amber / red checks, and the top problems to look at first.

The targets are the reference's "Performance Targets" and alert thresholds from the typed config. A check is
green when it meets its target, red past its red edge (the alert threshold when the config has a distinct one,
else the target worsened by `dashboard.amber_margin`), amber in between, unknown without data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from memlens.config import Config

Status = Literal["green", "amber", "red", "unknown"]
Unit = Literal["ms", "ratio", "x", "usd"]
SEVERITY_ORDER = {"red": 0, "amber": 1, "green": 2, "unknown": 3}


@dataclass(frozen=True)
class Measured:
    """Everything the health checks and the diagnosis trees judge, measured over the filtered data."""

    ops: int = 0
    searches: int = 0
    avg_ms: float | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    error_rate: float | None = None
    slow_share: float | None = None
    hit_rate: float | None = None
    miss_penalty: float | None = None
    cost_per_1k: dict[str, float] = field(default_factory=dict)  # mode → USD per 1,000 searches
    total_cost_usd: float | None = None
    embedding_share: float | None = None
    storage_growth_month: float | None = None
    max_daily_cost_usd: float | None = None
    projected_month_usd: float | None = None
    # query shape and usage evidence for the diagnosis
    search_avg_top_k: float | None = None
    search_unscoped_share: float | None = None
    search_rerank_share: float | None = None
    add_avg_messages: float | None = None
    repeat_share: float | None = None
    # where search time went (searches with phase timings): phase -> share of their latency, and how many
    search_phase_share: dict[str, float] = field(default_factory=dict)
    search_phase_calls: int = 0
    # vector search P95 and memories held, in the first and the last quarter of the selection's span
    vector_search_p95_first_ms: float | None = None
    vector_search_p95_last_ms: float | None = None
    memories_first: int | None = None
    memories_last: int | None = None

    @property
    def variance_ratio(self) -> float | None:
        if self.p99_ms is None or not self.p50_ms:
            return None
        return self.p99_ms / self.p50_ms


@dataclass(frozen=True)
class Check:
    key: str
    label: str
    unit: Unit
    measured: float | None
    target: float
    red_at: float
    higher_is_better: bool
    status: Status
    target_text: str
    hint: str = ""
    tree: str | None = None  # diagnosis tree that explains a miss: "slow" | "cost" | "cache"

    @property
    def severity(self) -> float:
        """How far past the target (1 = on target); ranks the problems."""
        if self.measured is None:
            return 0.0
        if self.higher_is_better:
            return self.target / self.measured if self.measured else float("inf")
        return self.measured / self.target if self.target else float("inf")


def grade(value: float | None, target: float, red_at: float, higher_is_better: bool) -> Status:
    if value is None:
        return "unknown"
    if higher_is_better:
        return "green" if value > target else ("red" if value < red_at else "amber")
    return "green" if value < target else ("red" if value > red_at else "amber")


def format_value(value: float | None, unit: Unit) -> str:
    if value is None:
        return "n/a"
    if unit == "ms":
        return f"{value:,.0f} ms" if value >= 10 else f"{value:,.1f} ms"
    if unit == "ratio":
        return f"{value * 100:.1f} %"
    if unit == "x":
        return f"{value:.2f}×"
    return f"${value:,.4f}" if abs(value) < 1 else f"${value:,.2f}"


def _check(key: str, label: str, unit: Unit, measured: float | None, target: float, red_at: float, *,
           higher: bool = False, hint: str = "", tree: str | None = None, alert_only: bool = False) -> Check:
    """`alert_only`: the config has only an alert threshold (red_at) for this figure; say that, not the
    derived amber edge."""
    text = (f"alert {'<' if higher else '>'} {format_value(red_at, unit)}" if alert_only
            else f"target {'>' if higher else '<'} {format_value(target, unit)}")
    return Check(key, label, unit, measured, target, red_at, higher, grade(measured, target, red_at, higher),
                 text, hint if measured is None else "", tree)


def _red_edge(target: float, alert: float, margin: float, higher: bool) -> float:
    """The alert threshold when it is distinct from the target, else the target worsened by the margin."""
    if higher:
        return alert if alert < target else target * (1 - margin)
    return alert if alert > target else target * (1 + margin)


def checks(m: Measured, cfg: Config) -> list[Check]:
    t, th, margin = cfg.targets, cfg.thresholds, cfg.dashboard.amber_margin
    out = [
        _check("latency_avg", "Average latency", "ms", m.avg_ms, t.latency_avg_ms,
               _red_edge(t.latency_avg_ms, th.avg_ms, margin, False), tree="slow"),
        _check("latency_p95", "P95 latency", "ms", m.p95_ms, t.latency_p95_ms,
               _red_edge(t.latency_p95_ms, th.p95_ms, margin, False), tree="slow"),
        _check("latency_p99", "P99 latency", "ms", m.p99_ms, t.latency_p99_ms,
               _red_edge(t.latency_p99_ms, th.p99_ms, margin, False), tree="slow"),
        # Only an alert threshold exists for these two: red past it, amber within the margin below it.
        _check("error_rate", "Error rate", "ratio", m.error_rate, th.error_rate * (1 - margin), th.error_rate,
               alert_only=True),  # no decision tree covers errors: the Overview links to the Latency page
        _check("slow_share", f"Slow operations (> {th.slow_op_ms:.0f} ms)", "ratio", m.slow_share,
               th.slow_op_share * (1 - margin), th.slow_op_share, tree="slow", alert_only=True),
        _check("cache_hit_rate", "Cache hit rate", "ratio", m.hit_rate, t.cache_hit_rate,
               _red_edge(t.cache_hit_rate, th.cache_hit_rate_min, margin, True), higher=True, tree="cache",
               hint="No cache outcomes recorded: pass cache= to instrument() to measure a search cache."),
        _check("cache_miss_penalty", "Cache miss penalty", "x", m.miss_penalty, t.cache_miss_penalty,
               t.cache_miss_penalty * (1 + margin), tree="cache",
               hint="Needs both cache hits and misses."),
    ]
    platform_priced = any(cfg.prices.platform_per_call.values())
    for mode, value in sorted(m.cost_per_1k.items()):
        target = getattr(t.cost_per_1k_queries_usd, mode)
        unpriced = mode == "platform" and not platform_priced  # $0 because no price is set, not because it is cheap
        out.append(_check(f"cost_per_1k_{mode}", f"Cost per 1,000 queries ({mode})", "usd",
                          None if unpriced else value, target, target * (1 + margin), tree="cost",
                          hint="Set prices.platform_per_call from your Mem0 plan to price Platform calls."))
    if not m.cost_per_1k:
        out.append(_check("cost_per_1k", "Cost per 1,000 queries", "usd", None, t.cost_per_1k_queries_usd.oss,
                          t.cost_per_1k_queries_usd.oss * (1 + margin), tree="cost",
                          hint="No searches in the selection."))
    out += [
        _check("embedding_share", "Embedding share of cost", "ratio", m.embedding_share, t.embedding_cost_share,
               t.embedding_cost_share * (1 + margin), tree="cost", hint="No priced cost in the selection."),
        _check("storage_growth", "Storage growth per month", "ratio", m.storage_growth_month,
               t.storage_growth_per_month, t.storage_growth_per_month * (1 + margin), tree="cost",
               hint="Needs 30 days of Mem0's history: run `memlens collect history`."),
        _check("daily_cost", "Highest daily cost", "usd", m.max_daily_cost_usd, th.daily_budget_usd * (1 - margin),
               th.daily_budget_usd, tree="cost", hint="No cost in the selection.", alert_only=True),
    ]
    return out


def top_problems(items: list[Check], n: int = 3) -> list[Check]:
    """Red before amber, then the furthest from target first."""
    bad = [c for c in items if c.status in ("red", "amber")]
    return sorted(bad, key=lambda c: (SEVERITY_ORDER[c.status], -c.severity))[:n]


def growth_over(days: int, dates: list, totals: list[float]) -> float | None:
    """Relative growth of a running total over the last `days` days of a daily series (dates ascending).

    The base is the total on the last day at or before (last date − days); None when the series does not
    reach back that far or the base is not positive.
    """
    if not dates:
        return None
    cutoff = dates[-1].toordinal() - days
    base = None
    for d, v in zip(dates, totals, strict=True):
        if d.toordinal() <= cutoff:
            base = v
    if base is None or base <= 0:
        return None
    return (totals[-1] - base) / base
