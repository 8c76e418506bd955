"""Targets vs measured values → green / amber / red checks, and the top problems to look at first.

The targets are the reference's "Performance Targets" and alert thresholds from the typed config. A check is
green when it meets its target, red past its red edge (the alert threshold when the config has a distinct one,
else the target worsened by `dashboard.amber_margin`), amber in between, unknown without data. The measured
values are the metric layer's figures (memlens/figures.py) and each check shows under its figure's label.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any, Literal

import duckdb

from memlens import figures, layer
from memlens.config import Config
from memlens.figures import FIGURES, Unit, format_value

Status = Literal["green", "amber", "red", "unknown"]
SEVERITY_ORDER = {"red": 0, "amber": 1, "green": 2, "unknown": 3}
__all__ = ["Check", "Measured", "Status", "Unit", "checks", "format_value", "grade", "measure", "top_problems"]


@dataclass(frozen=True)
class Measured:
    """Everything the health checks and the diagnosis trees judge, measured over the filtered data.

    Latency (avg_ms, p50/p95/p99_ms) is the reference's query latency: search calls (figures search_*); it is
    None when the selection has no searches, never silently another scope.
    """

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
    llm_share: float | None = None
    storage_growth_month: float | None = None
    storage_growth_is_estimate: bool = False  # less than 30 days of history: the 7-day rate x 30 / 7
    max_daily_cost_usd: float | None = None
    projected_month_usd: float | None = None
    # query shape and usage evidence for the diagnosis
    search_avg_top_k: float | None = None
    search_unscoped_share: float | None = None
    search_rerank_share: float | None = None
    add_avg_messages: float | None = None
    could_be_served: float | None = None  # share of cacheable searches a cache could serve at all
    could_be_served_through_cache: float | None = None  # the same among the searches a cache looked up
    # where search time went (searches with phase timings): phase -> share of their latency, and how many
    search_phase_share: dict[str, float] = field(default_factory=dict)
    search_phase_calls: int = 0
    # vector search P95 (median of daily P95s) and memories held, in the first and last quarter of the selection
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


def _label(key: str, cfg: Config) -> str:
    return FIGURES[key].label_for(cfg)


def checks(m: Measured, cfg: Config) -> list[Check]:
    t, th, margin = cfg.targets, cfg.thresholds, cfg.dashboard.amber_margin
    no_search = "No searches in the selection: the latency targets are for search (query) latency."
    out = [
        _check("latency_avg", _label("search_avg_ms", cfg), "ms", m.avg_ms, t.latency_avg_ms,
               _red_edge(t.latency_avg_ms, th.avg_ms, margin, False), tree="slow", hint=no_search),
        _check("latency_p95", _label("search_p95_ms", cfg), "ms", m.p95_ms, t.latency_p95_ms,
               _red_edge(t.latency_p95_ms, th.p95_ms, margin, False), tree="slow", hint=no_search),
        _check("latency_p99", _label("search_p99_ms", cfg), "ms", m.p99_ms, t.latency_p99_ms,
               _red_edge(t.latency_p99_ms, th.p99_ms, margin, False), tree="slow", hint=no_search),
        # Only an alert threshold exists for these two: red past it, amber within the margin below it.
        _check("error_rate", _label("error_rate", cfg), "ratio", m.error_rate, th.error_rate * (1 - margin),
               th.error_rate, alert_only=True),  # no decision tree covers errors: the Overview links to Latency
        _check("slow_share", _label("slow_share", cfg), "ratio", m.slow_share,
               th.slow_op_share * (1 - margin), th.slow_op_share, tree="slow", alert_only=True),
        _check("cache_hit_rate", _label("hit_rate", cfg), "ratio", m.hit_rate, t.cache_hit_rate,
               _red_edge(t.cache_hit_rate, th.cache_hit_rate_min, margin, True), higher=True, tree="cache",
               hint="No cache outcomes recorded: pass cache= to instrument() to measure a search cache."),
        _check("cache_miss_penalty", _label("miss_penalty", cfg), "x", m.miss_penalty, t.cache_miss_penalty,
               t.cache_miss_penalty * (1 + margin), tree="cache",
               hint="No baseline: needs successful cache misses and, in the same service, successful searches "
                    "with a user id that no cache answered (bypassed, or made while no cache was in front)."),
    ]
    platform_priced = any(cfg.prices.platform_per_call.values())
    for mode, value in sorted(m.cost_per_1k.items()):
        target = getattr(t.cost_per_1k_queries_usd, mode)
        unpriced = mode == "platform" and not platform_priced  # $0 because no price is set, not because it is cheap
        out.append(_check(f"cost_per_1k_{mode}", _label(f"cost_per_1k_{mode}", cfg), "usd",
                          None if unpriced else value, target, target * (1 + margin), tree="cost",
                          hint="Set prices.platform_per_call from your Mem0 plan to price Platform calls."))
    if not m.cost_per_1k:
        out.append(_check("cost_per_1k_oss", _label("cost_per_1k_oss", cfg), "usd", None,
                          t.cost_per_1k_queries_usd.oss, t.cost_per_1k_queries_usd.oss * (1 + margin), tree="cost",
                          hint="No searches in the selection."))
    growth_key = "storage_growth_month_estimate" if m.storage_growth_is_estimate else "storage_growth_month"
    out += [
        _check("embedding_share", _label("embedding_share", cfg), "ratio", m.embedding_share,
               t.embedding_cost_share, t.embedding_cost_share * (1 + margin), tree="cost",
               hint="No priced cost in the selection."),
        _check("storage_growth", _label(growth_key, cfg), "ratio", m.storage_growth_month,
               t.storage_growth_per_month, t.storage_growth_per_month * (1 + margin), tree="cost",
               hint="Needs 7 days of Mem0's history (30 for the measured rate): run `memlens collect history`."),
        _check("daily_cost", _label("max_daily_cost_usd", cfg), "usd", m.max_daily_cost_usd,
               th.daily_budget_usd * (1 - margin), th.daily_budget_usd, tree="cost", hint="No cost in the selection.",
               alert_only=True),
    ]
    return out


def top_problems(items: list[Check], n: int = 3) -> list[Check]:
    """Red before amber, then the furthest from target first."""
    bad = [c for c in items if c.status in ("red", "amber")]
    return sorted(bad, key=lambda c: (SEVERITY_ORDER[c.status], -c.severity))[:n]


# The figures a Measured is made of (memlens/figures.py keys).
MEASURED_FIGURES = ("ops", "searches", "search_avg_ms", "search_p50_ms", "search_p95_ms", "search_p99_ms",
                    "error_rate", "slow_share", "hit_rate", "miss_penalty", "cost_per_1k_oss", "cost_per_1k_platform",
                    "total_cost_usd", "embedding_share", "llm_share", "storage_growth_month",
                    "storage_growth_month_estimate", "max_daily_cost_usd", "could_be_served",
                    "could_be_served_through_cache")


def measure(con: duckdb.DuckDBPyConnection, filters: layer.Filters = layer.ALL, speed: layer.Speed = layer.EXACT,
            projected_month_usd: float | None = None, with_phases: bool = False) -> Measured:
    """The Measured of a selection: the layer's figures, plus the query-shape evidence of its searches, and with
    `with_phases` where its searches' time went (its percentiles scan the timed events)."""
    v = figures.values(con, MEASURED_FIGURES, filters, speed)
    shape = _search_shape(con, filters, speed)
    m = measured_from(v, shape, projected_month_usd)
    return replace(m, **search_phases(con, filters, speed)) if with_phases else m


# Fewest timed searches a quarter of the selection, and a day of it, need for their vector-search P95 to count.
MIN_PHASE_CALLS = 20
MIN_PHASE_CALLS_PER_DAY = 10


def search_phases(con: duckdb.DuckDBPyConnection, filters: layer.Filters,
                  speed: layer.Speed = layer.EXACT) -> dict[str, Any]:
    """Measured's phase fields, from the layer's `phases` (searches only; additive, so the rollup serves it),
    `phase_p95_typical` (the events) and `storage_growth`: each phase's share of search time over the selection; the
    vector-search P95 in its first and last quarter (by the time of its first and last call: the median of the
    quarter's daily P95s, so one bad hour does not pass for growth) and the memories held at the end of each. Empty
    when no search has phase timings."""
    searches = figures.scoped(filters, figures.SEARCH)
    if searches is None:  # a selection of other operations has no searches
        return {}
    rows = layer.query(con, "phases", searches, speed=speed)
    if rows.empty:
        return {}
    out: dict[str, Any] = {
        "search_phase_calls": int(rows["timed_ops"].max()),
        "search_phase_share": {r.phase: float(r.share) for r in rows.itertuples() if r.phase != "other"},
    }
    span = layer.one(layer.query(con, "span", searches))
    first, last = span.get("first_ts"), span.get("last_ts")
    if first is None or last is None or last <= first:
        return out
    quarter = (last - first) / 4
    ends = {"first": (first, first + quarter), "last": (last - quarter, last + timedelta(microseconds=1))}
    for name, (start, end) in ends.items():
        typical = layer.query(con, "phase_p95_typical", searches.replace(start=start, end=end),
                              min_per_day=MIN_PHASE_CALLS_PER_DAY, min_calls=MIN_PHASE_CALLS)
        vector = typical[typical["phase"] == "vector_search"]["typical_p95_ms"]
        p95 = layer.plain(vector.iloc[0]) if len(vector) else None
        if p95 is not None:
            out[f"vector_search_p95_{name}_ms"] = float(p95)
        held = layer.one(layer.query(con, "storage_growth", filters.replace(start=None, end=end))).get("memories")
        out[f"memories_{name}"] = None if held is None else int(held)
    return out


def _search_shape(con: duckdb.DuckDBPyConnection, filters: layer.Filters, speed: layer.Speed) -> dict[str, Any]:
    row = layer.one(layer.query(con, "ops", filters, speed=speed))
    return {k: row.get(k) for k in ("search_avg_top_k", "search_unscoped_share", "search_rerank_share",
                                    "add_avg_messages")}


def measured_from(v: dict[str, Any], shape: dict[str, Any], projected_month_usd: float | None = None) -> Measured:
    per_1k = {mode: v[f"cost_per_1k_{mode}"] for mode in ("oss", "platform")
              if v.get(f"cost_per_1k_{mode}") is not None}
    estimate = v.get("storage_growth_month") is None and v.get("storage_growth_month_estimate") is not None
    return Measured(
        ops=int(v.get("ops") or 0), searches=int(v.get("searches") or 0),
        avg_ms=v.get("search_avg_ms"), p50_ms=v.get("search_p50_ms"), p95_ms=v.get("search_p95_ms"),
        p99_ms=v.get("search_p99_ms"), error_rate=v.get("error_rate"), slow_share=v.get("slow_share"),
        hit_rate=v.get("hit_rate"), miss_penalty=v.get("miss_penalty"), cost_per_1k=per_1k,
        total_cost_usd=v.get("total_cost_usd"), embedding_share=v.get("embedding_share"),
        llm_share=v.get("llm_share"),
        storage_growth_month=v.get("storage_growth_month_estimate") if estimate else v.get("storage_growth_month"),
        storage_growth_is_estimate=estimate, max_daily_cost_usd=v.get("max_daily_cost_usd"),
        projected_month_usd=projected_month_usd, search_avg_top_k=shape.get("search_avg_top_k"),
        search_unscoped_share=shape.get("search_unscoped_share"),
        search_rerank_share=shape.get("search_rerank_share"), add_avg_messages=shape.get("add_avg_messages"),
        could_be_served=v.get("could_be_served"),
        could_be_served_through_cache=v.get("could_be_served_through_cache"),
    )
