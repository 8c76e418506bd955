"""All analyses in one pass, recommendations ranked by projected savings (used by `memlens advise` and the page)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

from memlens import layer
from memlens.config import Config
from memlens.optimize import savings as sv
from memlens.optimize.archival import ArchivalReport, archival_projection
from memlens.optimize.cache_sim import CacheWhatIf, load_kernels_in_background, load_trace, simulate
from memlens.optimize.dedup import DedupReport, dedup_report
from memlens.optimize.forecast import Forecast, forecast
from memlens.optimize.inventory import access_stats, data_now, embedding_dims, load_memories, with_access
from memlens.optimize.pruning import PruningReport, pruning_candidates
from memlens.optimize.vector_store import StoreAdvice, advise_store


@dataclass(frozen=True)
class Advice:
    savings: list[sv.Saving]  # ranked by impact (see `rank`)
    cache: CacheWhatIf
    dedup: DedupReport
    pruning: PruningReport
    archival: ArchivalReport
    forecast: Forecast
    store: StoreAdvice
    period_days: float
    usd_month_total: float  # calls + storage, per 30 days: the bill the savings are a share of
    latency_s_month_total: float  # summed caller wait per 30 days
    cost: CostAdvice  # the cost levers alone (the Cost page's tab), the same Savings as in `savings`

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([{
            "rank": i + 1, "recommendation": s.title, "usd_per_month": s.usd_month,
            "bill_share": _share(s.usd_month, self.usd_month_total),
            "latency_saved_s_per_month": s.latency_saved_s_month,
            "wait_share": _share(s.latency_saved_s_month, self.latency_s_month_total),
            "calls_or_memories": s.calls_affected, "formula": s.formula, "note": s.note,
        } for i, s in enumerate(self.savings)])


def _share(part: float, total: float) -> float:
    return part / total if total > 0 else 0.0


def rank(savings: list[sv.Saving], usd_month_total: float, latency_s_month_total: float) -> list[sv.Saving]:
    """Largest impact first: the bigger of the share of the bill and the share of total wait it removes.

    Dollars and milliseconds are not comparable; shares of what the user spends on each are.
    """
    def impact(s: sv.Saving) -> float:
        return max(_share(s.usd_month, usd_month_total), _share(s.latency_saved_s_month, latency_s_month_total))

    return sorted(savings, key=lambda s: (-impact(s), -s.usd_month, s.key))


def cost_levers(con: duckdb.DuckDBPyConnection, cfg: Config, days: float | None = None) -> list[sv.Saving]:
    """The savings on what the calls cost (tokens and Platform calls), largest in dollars first: the LLM side of
    Mem0 (a cheaper extraction model, infer=False for adds that were already facts, skipping adds that stored
    nothing, batching), then the embedding side. SQL only: cheap enough for the Cost page. Projections overlap (an
    add skipped saves nothing by a cheaper model too): each is against today's log, not after the others."""
    days = sv.period_days(con) if days is None else days
    items = [sv.switch_llm_model(con, cfg, days), sv.infer_off_for_facts(con, days), sv.skip_noop_adds(con, days),
             sv.batch_adds(con, cfg, days), sv.switch_embedding_model(con, cfg, days), sv.reembedding(con, days)]
    return sorted(items, key=lambda s: (-s.usd_month, s.key))


@dataclass(frozen=True)
class CostAdvice:
    levers: list[sv.Saving]  # largest in dollars first
    usd_month_calls: float  # what the calls cost per 30 days (the layer's cost): the levers' shares are of it
    period_days: float

    def table(self) -> pd.DataFrame:
        """One row per lever: dollars per month, share of the calls' monthly cost, formula and note."""
        return pd.DataFrame([{
            "rank": i + 1, "recommendation": s.title, "usd_per_month": s.usd_month,
            "share_of_call_cost": _share(s.usd_month, self.usd_month_calls), "calls_or_adds": s.calls_affected,
            "formula": s.formula, "note": s.note,
        } for i, s in enumerate(self.levers)], columns=["rank", "recommendation", "usd_per_month",
                                                        "share_of_call_cost", "calls_or_adds", "formula", "note"])


def build_cost_advice(con: duckdb.DuckDBPyConnection, cfg: Config, days: float | None = None) -> CostAdvice:
    days = sv.period_days(con) if days is None else days
    return CostAdvice(cost_levers(con, cfg, days), _calls_usd(con) * sv.DAYS_PER_MONTH / days, days)


def _calls_usd(con: duckdb.DuckDBPyConnection) -> float:
    """All the calls cost in the warehouse: the layer's cost figure."""
    return float(layer.one(layer.query(con, "cost"))["total_cost_usd"] or 0.0)


def build_advice(con: duckdb.DuckDBPyConnection, cfg: Config, vectors: dict[str, np.ndarray] | None = None,
                 vectors_source: str = "none", has_postgres: bool = False,
                 progress: Callable[[str], None] | None = None) -> Advice:
    """`progress`, when given, is told each step before it starts (the whole takes tens of seconds on a large
    warehouse)."""
    step = progress or (lambda text: None)
    started = time.perf_counter()
    days = sv.period_days(con)
    step("reading the search log")
    load_kernels_in_background()  # after the first line: numba's import holds the GIL for a while
    trace = load_trace(con)
    step(f"replaying {len(trace):,} searches through the what-if cache (every TTL, every LRU size)")
    cache = simulate(trace, cfg)
    _, dims = embedding_dims(con, cfg)
    step("reading the memories and how searches used them")
    memories = load_memories(con)
    access = access_stats(con)
    now = data_now(con) or pd.Timestamp.now("UTC").tz_localize(None)
    mem = with_access(memories, access)
    step(f"looking for duplicates among {len(memories):,} memories")
    dedup = dedup_report(memories, cfg, dims, vectors, vectors_source, access)
    step("pruning candidates, archival tiers, forecast and the vector store")
    pruning = pruning_candidates(mem, cfg, now, dims, set(dedup.merge_ids["merge_id"]))
    archival = archival_projection(mem, cfg, now, dims)
    cost = build_cost_advice(con, cfg, days)
    items = [
        sv.caching(cache, days),
        sv.lower_limit(con, cfg, days),
        sv.scope_searches(con, days),
        sv.rerank_off(con, cfg, days),
        *cost.levers,
        sv.dedup_saving(dedup, days),
        sv.pruning_saving(pruning, days),
        sv.archival_saving(archival, days),
    ]
    # The bill and the wait the savings are shares of: the layer's cost and summed latency of the whole log.
    wait_ms = layer.one(layer.query(con, "ops"))["total_ms"]
    usd_month = cost.usd_month_calls + archival.usd_month_now
    wait_s_month = (wait_ms or 0.0) / 1000.0 * sv.DAYS_PER_MONTH / days
    advice = Advice(rank(items, usd_month, wait_s_month), cache, dedup, pruning, archival, forecast(con, cfg),
                    advise_store(con, cfg, dims, has_postgres), days, usd_month, wait_s_month, cost)
    step(f"done in {time.perf_counter() - started:.1f} s")
    return advice

