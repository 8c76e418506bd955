"""The figures memlens shows, each under one name: which column of which layer metric it is, in which scope.

A figure's definition is its metric's SQL (sql/layer); this registry gives it the one label it shows under on
every page, report and export, its unit, and its scope: a figure with two legitimate scopes exists twice under
two names (search latency vs all-operations latency; OSS vs Platform cost per 1,000 queries). `values()`
evaluates any set of figures for a selection through the layer, one query per metric and scope.

Adding a figure: a column in a sql/layer metric (or a new metric file) and one `Figure(...)` line below.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import duckdb
import pandas as pd

from memlens import layer
from memlens.config import Config

Unit = Literal["ms", "ratio", "x", "usd", "count", "bytes", "rate"]


@dataclass(frozen=True)
class Figure:
    key: str
    label: str  # the one name it shows under; may use {slow_op_ms} (thresholds) from the config
    unit: Unit
    metric: str  # layer metric (sql/layer/<metric>.sql, or the composite "latency")
    column: str
    scope: tuple[tuple[str, str], ...] = ()  # filters the figure fixes, e.g. (("op", "search"),)
    by: tuple[str, ...] = ()  # grouping evaluated before `reduce`
    grain: str | None = None
    reduce: Literal["max"] | None = None  # how the grouped rows become one value
    help: str = ""  # the definition in words (tooltips, `memlens query` listing)

    def label_for(self, cfg: Config) -> str:
        return self.label.format(slow_op_ms=cfg.thresholds.slow_op_ms)


SEARCH = (("op", "search"),)
# The phases of the layer metric `phases` in words (memlens.schema.PHASES, then the unattributed rest of a call).
PHASE_LABELS = {"embedding": "embedding", "vector_search": "vector search", "vector_read": "vector-store reads",
                "vector_write": "vector-store writes", "rerank": "reranking", "llm": "LLM", "history": "history DB",
                "graph": "graph memory", "other": "Mem0's own code"}
_ALL_OPS = "every call in the selection, ok and error, all operations"
_QUERY = "search calls only: the reference's query latency, which its targets are for"
_COULD_BE_SERVED = (
    "of the searches a memlens SearchCache would look up (a user id, scoped by nothing but user / agent / run ids), "
    "the share that repeat an earlier successful search with the same key (service, user, agent, run, query, "
    "top_k, threshold, rerank) made after that user's last write, or that a cache served: what a cache that "
    "never expires and never fills would serve, the most any TTL or size reaches")

FIGURES: dict[str, Figure] = {f.key: f for f in (
    Figure("ops", "Operations", "count", "ops", "ops", help="calls in the selection (ok and error)"),
    Figure("avg_ms", "Average latency (all operations)", "ms", "latency", "avg_ms", help=_ALL_OPS),
    Figure("p50_ms", "P50 latency (all operations)", "ms", "latency", "p50_ms", help=_ALL_OPS),
    Figure("p95_ms", "P95 latency (all operations)", "ms", "latency", "p95_ms", help=_ALL_OPS),
    Figure("p99_ms", "P99 latency (all operations)", "ms", "latency", "p99_ms", help=_ALL_OPS),
    Figure("search_avg_ms", "Search latency, average", "ms", "latency", "avg_ms", SEARCH, help=_QUERY),
    Figure("search_p50_ms", "Search latency P50", "ms", "latency", "p50_ms", SEARCH, help=_QUERY),
    Figure("search_p95_ms", "Search latency P95", "ms", "latency", "p95_ms", SEARCH, help=_QUERY),
    Figure("search_p99_ms", "Search latency P99", "ms", "latency", "p99_ms", SEARCH, help=_QUERY),
    Figure("searches", "Searches", "count", "ops", "searches", help="search calls in the selection"),
    Figure("error_rate", "Error rate (all operations)", "ratio", "ops", "error_rate",
           help="calls with status error / calls"),
    Figure("slow_share", "Slow operations (> {slow_op_ms:.0f} ms)", "ratio", "ops", "slow_share",
           help="calls slower than thresholds.slow_op_ms / calls, all operations"),
    Figure("hit_rate", "Cache hit rate", "ratio", "ops", "hit_rate",
           help="hits / (hits + misses) of calls with a cache outcome; bypasses are not lookups"),
    Figure("miss_penalty", "Cache miss penalty (vs uncached)", "x", "cache", "miss_penalty",
           help="how much longer a successful cache miss takes than a successful search no cache answered "
           "(bypassed, or made while no cache was in front; with a user id; in the miss's own service): the "
           "reference's 'miss penalty < 2x uncached time'. Not compared with hits"),
    Figure("miss_baseline_ms", "Uncached search latency", "ms", "cache", "baseline_ms",
           help="the miss penalty's baseline: mean latency of successful searches with a user id that no cache "
           "answered, of each miss's service, weighted by its misses"),
    Figure("could_be_served", "Could be served by a cache", "ratio", "cache_reuse", "could_be_served_share",
           help=_COULD_BE_SERVED),
    Figure("could_be_served_through_cache", "Could be served (cache lookups)", "ratio", "cache_reuse",
           "could_be_served_share_through_cache",
           help="the same share among the searches a cache did look up (logged hit or miss): the ceiling of "
           "their measured hit rate"),
    Figure("cache_requests", "Cache requests", "count", "ops", "cache_requests",
           help="calls with a cache outcome (hit, miss or bypass)"),
    Figure("avg_hit_ms", "Cache hit latency, average", "ms", "ops", "avg_hit_ms"),
    Figure("avg_miss_ms", "Cache miss latency, average", "ms", "ops", "avg_miss_ms"),
    Figure("total_cost_usd", "Cost in selection", "usd", "cost", "total_cost_usd",
           help="embedding + LLM + Platform cost of the calls in the selection, priced from the config"),
    Figure("cost_per_1k_oss", "Cost per 1,000 queries (OSS)", "usd", "cost", "cost_per_1k_searches_usd",
           (("mode", "oss"),), help="cost of the OSS calls / OSS searches x 1,000 (target < $0.02)"),
    Figure("cost_per_1k_platform", "Cost per 1,000 queries (Platform)", "usd", "cost", "cost_per_1k_searches_usd",
           (("mode", "platform"),), help="cost of the Platform calls / Platform searches x 1,000 (target < $0.10)"),
    Figure("embedding_share", "Embedding share of cost", "ratio", "cost", "embedding_share",
           help="embedding cost / all cost of the selection"),
    Figure("llm_share", "LLM share of cost", "ratio", "cost", "llm_share",
           help="LLM cost (add with infer=True) / all cost of the selection"),
    Figure("max_daily_cost_usd", "Highest daily cost", "usd", "cost", "total_cost_usd", by=("bucket",),
           grain="day", reduce="max", help="the costliest UTC day of the selection"),
    Figure("memories", "Memories held", "count", "storage_growth", "memories",
           help="Mem0's memories at the latest history event of the selection"),
    Figure("bytes", "Text bytes held", "bytes", "storage_growth", "bytes",
           help="UTF-8 bytes of the memories' texts at the latest history event"),
    Figure("storage_growth_month", "Storage growth per month", "ratio", "storage_growth", "storage_growth_month",
           help="(bytes held now - 30 days earlier) / bytes held 30 days earlier"),
    Figure("storage_growth_month_estimate", "Storage growth per month (estimate)", "ratio", "storage_growth",
           "storage_growth_month_estimate",
           help="less than 30 days of history: the 7-day growth x 30 / 7"),
    Figure("storage_growth_week", "Storage growth, last 7 days", "ratio", "storage_growth", "storage_growth_week",
           help="(bytes held now - 7 days earlier) / bytes held 7 days earlier"),
    Figure("memories_growth_month", "Memories growth per month", "ratio", "storage_growth", "memories_growth_month",
           help="(memories held now - 30 days earlier) / memories held 30 days earlier"),
    Figure("memories_growth_month_estimate", "Memories growth per month (estimate)", "ratio", "storage_growth",
           "memories_growth_month_estimate", help="less than 30 days of history: the 7-day growth x 30 / 7"),
    Figure("peak_ops_per_s", "Peak throughput (busiest minute)", "rate", "ops", "ops_per_s", by=("bucket",),
           grain="minute", reduce="max", help="calls per second in the busiest minute of the selection"),
)}


def figure(key: str) -> Figure:
    return FIGURES[key]


def scoped(filters: layer.Filters, scope: tuple[tuple[str, str], ...]) -> layer.Filters | None:
    """The selection narrowed to the figure's scope; None when the selection excludes the scope (op=add for a
    search figure): the figure has no data there."""
    for dim, value in scope:
        if getattr(filters, dim) not in (None, value):
            return None
    return filters.replace(**dict(scope))


def values(con: duckdb.DuckDBPyConnection, keys: Iterable[str], filters: layer.Filters = layer.ALL,
           speed: layer.Speed = layer.EXACT) -> dict[str, Any]:
    """The figures `keys` for this selection (None where there is no data), one layer query per metric and scope."""
    frames: dict[tuple, pd.DataFrame | None] = {}
    out: dict[str, Any] = {}
    for key in keys:
        f = FIGURES[key]
        metric = "latency" if f.metric == "ops" and any(FIGURES[k].metric == "latency" and FIGURES[k].scope == f.scope
                                                         for k in keys) else f.metric
        sel = scoped(filters, f.scope)
        cache_key = (metric, f.scope, f.by, f.grain)
        if cache_key not in frames:
            frames[cache_key] = None if sel is None else layer.query(con, metric, sel, f.by, f.grain, speed)
        df = frames[cache_key]
        if df is None or df.empty or f.column not in df:
            out[key] = None
        elif f.reduce == "max":
            out[key] = layer.plain(df[f.column].max())
        else:
            out[key] = layer.one(df)[f.column]
    return out


def format_value(value: float | None, unit: Unit) -> str:
    """How a figure reads on every page and report."""
    if value is None:
        return "n/a"
    if unit == "ms":
        return f"{value:,.0f} ms" if value >= 10 else f"{value:,.1f} ms"
    if unit == "ratio":
        return f"{value * 100:.1f} %"
    if unit == "x":
        return f"{value:.2f}×"
    if unit in ("count", "bytes"):
        return f"{int(value):,}"
    if unit == "rate":
        return f"{value:,.1f}/s"
    return f"${value:,.4f}" if abs(value) < 1 else f"${value:,.2f}"
